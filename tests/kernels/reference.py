"""Plain numpy/scipy references of the numba kernels, written from the spec.

Used only by the kernel tests and ``benchmarks/kernels.py``; ``REFERENCES`` maps every public
kernel function to its reference (same signature, same results).
"""

import numbers

import numpy as np
import scipy.ndimage as ndi
from scipy.stats import scoreatpercentile

from netregions import kernels

# docs/algorithms.md §4.1: the error text of the ratio strategy (prefix; the values follow).
RATIO_ERROR = (
    "threshold given as ratio to the number of voxels must be Real number and should be "
    "positive and between 0 and total number of maps i.e. n_maps="
)


def _sigma(fwhm, affine):
    """sigma_i = fwhm_i / (sqrt(8 ln 2) * column norm i of affine[:3, :3]) (algorithms §2.3)."""
    fwhm = np.ravel(np.asarray(fwhm, dtype=np.float64))
    fwhm = np.broadcast_to(fwhm, (3,)) if fwhm.size == 1 else fwhm
    voxel_size = np.sqrt(np.sum(np.asarray(affine, dtype=np.float64)[:3, :3] ** 2, axis=0))
    return fwhm / (np.sqrt(8 * np.log(2)) * voxel_size)


def smooth_reference(data, affine, fwhm):
    """C-ordered float copy, non-finite → 0, scipy gaussian_filter1d along axis 0, 1, 2."""
    if fwhm is None or np.all(np.asarray(fwhm, dtype=float) == 0):
        return data
    dtype = np.float64 if data.dtype.kind == "f" and data.dtype.itemsize == 8 else np.float32
    out = np.array(data, dtype=dtype, order="C", copy=True)
    out[~np.isfinite(out)] = 0
    for axis, sigma in enumerate(_sigma(fwhm, affine)):
        if sigma > 0:
            ndi.gaussian_filter1d(out, sigma, axis=axis, output=out)
    return out


def smooth_in_mask_reference(data, affine, fwhm, mask):
    """smooth_reference of the whole array, then the mask's voxels as (n_volumes, n_voxels)."""
    values = smooth_reference(data, affine, fwhm)[np.asarray(mask, dtype=bool)]
    return np.ascontiguousarray(values.T)


def label_reference(mask, connectivity=26):
    """scipy.ndimage.label with generate_binary_structure(3, 1 | 2 | 3)."""
    rank = {6: 1, 18: 2, 26: 3}[connectivity]
    labels, n_labels = ndi.label(mask, structure=ndi.generate_binary_structure(3, rank))
    return labels, n_labels


def label_with_sizes_reference(mask, connectivity=26):
    """label_reference plus np.bincount of the labels (background dropped)."""
    labels, n_labels = label_reference(mask, connectivity)
    sizes = np.bincount(labels.ravel(), minlength=n_labels + 1)[1:]
    return labels, n_labels, sizes


def largest_component_reference(mask, connectivity=6):
    """Labels == argmax of the sizes + 1 (first maximum); all False for an empty mask."""
    labels, n_labels, sizes = label_with_sizes_reference(mask, connectivity)
    if n_labels == 0:
        return np.zeros(np.shape(mask), dtype=bool)
    return labels == np.argmax(sizes) + 1


def _finite_float_copy(maps):
    """Float copy of the maps (float64 kept, others float32), non-finite → 0."""
    maps = np.asarray(maps)
    dtype = np.float64 if maps.dtype.kind == "f" and maps.dtype.itemsize == 8 else np.float32
    data = np.array(maps, dtype=dtype, copy=True)
    data[~np.isfinite(data)] = 0
    return data


def threshold_ratio_n_voxels_reference(maps, ratio):
    """ratio_n_voxels: |x| < scoreatpercentile(|all|, 100 - 100/n_maps*ratio) → 0 (§4.1)."""
    data = _finite_float_copy(maps)
    n_maps = data.shape[3] if data.ndim == 4 else 1
    valid = isinstance(ratio, numbers.Real) and not isinstance(ratio, bool)
    if not valid or not 0 < ratio <= n_maps:
        raise ValueError(f"{RATIO_ERROR}{n_maps}. You provided {ratio}")
    cut = scoreatpercentile(np.abs(data), 100.0 - (100.0 / n_maps) * ratio, axis=None)
    data[np.abs(data) < cut] = 0
    return data


def _apply_threshold_img(data, cut, two_sided):
    """docs/algorithms.md §4.1 application rules of threshold_img."""
    if two_sided:
        data[(-cut < data) & (data < cut)] = 0
    elif cut >= 0:
        data[data < cut] = 0
    else:
        data[data > cut] = 0
    return data


def _masked(data, mask):
    """Zero the voxels outside the mask; return the data and the in-mask values."""
    if mask is None:
        return data, data.ravel()
    inside = np.asarray(mask) != 0
    data[~inside] = 0
    return data, data[inside].ravel()


def threshold_percentile_reference(maps, percentile, two_sided=False, mask=None):
    """docs/algorithms.md §4.1 threshold_img with "p%": cut = scoreatpercentile(D, p) + 1e-5."""
    data, values = _masked(_finite_float_copy(maps), mask)
    sample = np.abs(values) if two_sided else values[values >= 0]
    cut = scoreatpercentile(sample, percentile) + 1e-5
    return _apply_threshold_img(data, cut, two_sided)


def threshold_value_reference(maps, value, two_sided=False, mask=None):
    """docs/algorithms.md §4.1 threshold_img with a number: the value is the cut."""
    if two_sided and value < 0:
        raise ValueError("negative value with two_sided")
    data, _ = _masked(_finite_float_copy(maps), mask)
    return _apply_threshold_img(data, value, two_sided)


def peak_local_max_reference(image, min_distance=10, threshold_rel=0.1, threshold_abs=0.0):
    """docs/algorithms.md §4.2 step 2 with scipy's maximum_filter (constant mode, cval 0)."""
    image = np.asarray(image)
    if image.dtype not in (np.float32, np.float64):
        image = image.astype(np.float64)
    if np.all(image == image.flat[0]):
        return np.zeros(image.shape, dtype=bool)
    size = 2 * min_distance + 1
    box_max = ndi.maximum_filter(image, size=size, mode="constant", cval=0)
    peak_values = image * (image == box_max)
    return peak_values > max(peak_values.max() * threshold_rel, threshold_abs)


REFERENCES = {
    kernels.smooth: smooth_reference,
    kernels.smooth_in_mask: smooth_in_mask_reference,
    kernels.label: label_reference,
    kernels.label_with_sizes: label_with_sizes_reference,
    kernels.largest_component: largest_component_reference,
    kernels.peak_local_max: peak_local_max_reference,
}


# Not in REFERENCES: lasso_codes is not exported from netregions.kernels, and an iterative
# solver agrees with it to its stopping tolerance only, not to the same results.
def lasso_reference(voxels, dictionary, alpha, *, max_iter=1000, tol=1e-8):
    """Cyclic coordinate descent on 1/2 ||x - D^T w||^2 + alpha ||w||_1, every voxel at once.

    From w = 0, each sweep sets w_j = soft(d_j . r_j, alpha) / ||d_j||^2 for j = 0, 1, ...
    (r_j: the residual without atom j), for every voxel whose duality gap is still above
    ``tol * ||x||^2``; the gap is checked before every sweep. The residuals are carried
    explicitly (no Gram matrix) and the gap is computed from them: primal
    1/2 ||r||^2 + alpha ||w||_1, dual 1/2 ||x||^2 - 1/2 ||x - theta||^2 at the feasible
    theta = r * min(1, alpha / max_j |d_j . r|). float64 throughout; no screening.
    """
    x = np.asarray(voxels, dtype=np.float64)
    atoms = np.asarray(dictionary, dtype=np.float64)
    codes = np.zeros((x.shape[0], atoms.shape[0]))
    residuals = x.copy()
    atom_sq_norms = np.einsum("jf,jf->j", atoms, atoms)
    running = np.ones(x.shape[0], dtype=bool)
    for _ in range(max_iter):
        running &= _lasso_gap(x, atoms, codes, residuals, alpha) > tol * np.sum(x * x, axis=1)
        if not running.any():
            break
        for j in np.flatnonzero(atom_sq_norms > 0):
            r, old = residuals[running], codes[running, j]
            z = (r + np.outer(old, atoms[j])) @ atoms[j]
            new = np.sign(z) * np.maximum(np.abs(z) - alpha, 0.0) / atom_sq_norms[j]
            residuals[running] = r - np.outer(new - old, atoms[j])
            codes[running, j] = new
    return codes


def _lasso_gap(x, atoms, codes, residuals, alpha):
    """Duality gap of every voxel's Lasso (||D r||^2 for alpha = 0: least squares)."""
    correlations = residuals @ atoms.T
    if alpha == 0:
        return np.sum(correlations**2, axis=1)
    primal = 0.5 * np.sum(residuals**2, axis=1) + alpha * np.sum(np.abs(codes), axis=1)
    largest = np.abs(correlations).max(axis=1)
    scale = np.minimum(1.0, alpha / np.maximum(largest, np.finfo(float).tiny))
    theta = residuals * scale[:, np.newaxis]
    dual = 0.5 * np.sum(x * x, axis=1) - 0.5 * np.sum((x - theta) ** 2, axis=1)
    return primal - dual
