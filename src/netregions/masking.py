"""Brain masks: per-subject EPI masks, their group intersection, masking and unmasking.

Follows the reference pipeline's "epi" strategy: a histogram-gap threshold of the smoothed
mean image, then opening-like clean-up and the largest connected component.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

__all__ = [
    "apply_mask",
    "binary_dilation",
    "binary_erosion",
    "compute_epi_mask",
    "epi_threshold",
    "intersect_masks",
    "majority_mask",
    "unmask",
]


class MaskWarning(UserWarning):
    """A computed mask is empty or suspicious."""


def _neighbour_views(shape: tuple[int, ...], axis: int, step: int):
    """Index tuples (here, neighbour, outside) for the neighbour ``step`` away along ``axis``.

    ``x[here]`` pairs with ``x[neighbour]``; ``x[outside]`` are the voxels whose neighbour
    lies outside the array.
    """
    here, there, outside = ([slice(None)] * len(shape) for _ in range(3))
    if step > 0:
        here[axis], there[axis], outside[axis] = (
            slice(None, -step),
            slice(step, None),
            slice(-step, None),
        )
    else:
        here[axis], there[axis], outside[axis] = (
            slice(-step, None),
            slice(None, step),
            slice(None, -step),
        )
    return tuple(here), tuple(there), tuple(outside)


def _morphology(mask: np.ndarray, iterations: int, erode: bool) -> np.ndarray:
    """Erosion (AND over the 6 neighbours, outside = 0) or dilation (OR over them)."""
    out = np.asarray(mask, dtype=bool).copy()
    for _ in range(iterations):
        current = out.copy()
        for axis in range(out.ndim):
            for step in (1, -1):
                here, there, outside = _neighbour_views(out.shape, axis, step)
                if erode:
                    out[here] &= current[there]
                    out[outside] = False
                else:
                    out[here] |= current[there]
    return out


def binary_erosion(mask: np.ndarray, iterations: int = 1) -> np.ndarray:
    """Erode with the 6-neighbour cross, border value 0 (as ``scipy.ndimage.binary_erosion``).

    Parameters
    ----------
    mask : ndarray of bool
    iterations : int, default=1

    Returns
    -------
    ndarray of bool
    """
    return _morphology(mask, iterations, erode=True)


def binary_dilation(mask: np.ndarray, iterations: int = 1) -> np.ndarray:
    """Dilate with the 6-neighbour cross (as ``scipy.ndimage.binary_dilation``)."""
    return _morphology(mask, iterations, erode=False)


def epi_threshold(values: np.ndarray, lower_cutoff: float, upper_cutoff: float) -> float:
    """Histogram-gap threshold: middle of the largest gap between sorted values in a range.

    Parameters
    ----------
    values : ndarray
        Every voxel value of the (smoothed) mean image, zeros included.
    lower_cutoff, upper_cutoff : float
        Fractions of the sorted values between which the gap is searched.

    Returns
    -------
    float
        In the dtype of ``values``.
    """
    s = np.sort(values.ravel())
    n = s.size
    lo = int(np.floor(lower_cutoff * n))
    hi = min(int(np.floor(upper_cutoff * n)), n - 1)
    if hi <= lo:
        return s[lo]
    gaps = s[lo + 1 : hi + 1] - s[lo:hi]
    i = int(np.argmax(gaps))
    return (s[lo + i] + s[lo + i + 1]) / s.dtype.type(2)


def compute_epi_mask(
    mean: np.ndarray,
    *,
    lower_cutoff: float = 0.2,
    upper_cutoff: float = 0.85,
    opening: int = 2,
    connected: bool = True,
) -> np.ndarray:
    """Brain mask of one run from its mean image (the reference's "epi" strategy).

    Parameters
    ----------
    mean : ndarray, shape (x, y, z)
        Mean over time of the run.
    lower_cutoff, upper_cutoff : float, default=0.2, 0.85
        Range (fractions of sorted voxel values) searched for the histogram gap.
    opening : int, default=2
        Erosion iterations before keeping the largest component, then dilation by twice
        as many and erosion again; 0 disables the clean-up and the smoothing.
    connected : bool, default=True
        Keep only the largest 6-connected component.

    Returns
    -------
    ndarray of bool, shape (x, y, z)

    Notes
    -----
    With ``opening`` the mean is first smoothed by a Gaussian of FWHM one voxel (whatever the
    voxel size, as the reference). Values that were NaN become 0 after smoothing.
    """
    from netregions.kernels import largest_component, smooth

    mean = np.asarray(mean)
    if opening:
        smoothed = smooth(mean, np.eye(4), 1.0)
        smoothed[np.isnan(mean)] = 0
    else:
        smoothed = np.where(np.isfinite(mean), mean, 0).astype(mean.dtype)
    mask = smoothed >= epi_threshold(smoothed, lower_cutoff, upper_cutoff)
    if opening:
        mask = binary_erosion(mask, iterations=opening)
    if not mask.any():
        warnings.warn(
            "Computed an empty mask: the run has no clear brain/background contrast",
            MaskWarning,
            stacklevel=2,
        )
    elif connected:
        mask = largest_component(mask, connectivity=6)
    if opening:
        mask = binary_erosion(binary_dilation(mask, iterations=2 * opening), iterations=opening)
    return mask


def intersect_masks(
    masks: Sequence[np.ndarray], threshold: float = 0.5, connected: bool = True
) -> np.ndarray:
    """Voxels present in more than ``threshold`` of the masks, largest component kept.

    Parameters
    ----------
    masks : sequence of ndarray of bool, all the same shape
    threshold : float, default=0.5
        In (0, 1): a voxel is kept when ``count > threshold * len(masks)`` (strict).
    connected : bool, default=True
        Keep only the largest 6-connected component.

    Returns
    -------
    ndarray of bool
    """
    if len(masks) == 0:
        raise ValueError("No mask provided for intersection")
    count = np.zeros(masks[0].shape, dtype=np.int32)
    for mask in masks:
        count += np.asarray(mask, dtype=bool)
    return majority_mask(count, len(masks), threshold, connected)


def majority_mask(
    count: np.ndarray, n_masks: int, threshold: float = 0.5, connected: bool = True
) -> np.ndarray:
    """Voxels counted in more than ``threshold * n_masks`` masks, largest component kept.

    The counting half of :func:`intersect_masks`, for callers that accumulate the counts
    themselves (one mask at a time).
    """
    if not 0 < threshold < 1:
        raise ValueError(f"The threshold should be in (0, 1), got {threshold}")
    group = count > threshold * n_masks
    if connected and group.any():
        from netregions.kernels import largest_component

        group = largest_component(group, connectivity=6)
    return group


def apply_mask(data: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """In-mask time series of a 4D array, shape (n_volumes, n_voxels), C-contiguous.

    Voxels are ordered like ``data[mask]`` (C order of the (x, y, z) index), whatever the
    memory layout of ``data``; a Fortran-ordered array (as decoded from NIfTI) is gathered
    volume by volume without a transposed copy.

    Parameters
    ----------
    data : ndarray, shape (x, y, z, n_volumes)
    mask : ndarray of bool, shape (x, y, z)

    Returns
    -------
    ndarray, shape (n_volumes, n_voxels), dtype of ``data``
    """
    mask = np.asarray(mask, dtype=bool)
    if data.shape[:3] != mask.shape:
        raise ValueError(f"data grid {data.shape[:3]} differs from mask grid {mask.shape}")
    if data.flags.f_contiguous:
        flat_f = np.ravel_multi_index(np.nonzero(mask), mask.shape, order="F")
        volumes = data.T.reshape(data.shape[3], -1)  # (t, voxels in F order), a view
        out = np.empty((data.shape[3], flat_f.size), dtype=data.dtype)
        return np.take(volumes, flat_f, axis=1, out=out)
    return np.ascontiguousarray(data[mask].T)


def unmask(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Put (n, n_voxels) values back on the grid: (x, y, z, n), zeros outside the mask."""
    mask = np.asarray(mask, dtype=bool)
    values = np.atleast_2d(values)
    out = np.zeros((*mask.shape, values.shape[0]), dtype=values.dtype)
    out[mask] = values.T
    return out
