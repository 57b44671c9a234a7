"""Local maxima of a 3D image, as the reference's ``peak_local_max``.

See docs/algorithms.md §4.2, step 2.

A voxel is a peak when it equals the maximum of the (2 * min_distance + 1)^3 box around it
(voxels outside the image count as 0) and exceeds max(threshold_rel * max(p),
threshold_abs), p being the image with non-peak voxels set to 0. Plateaus give several
adjacent peak voxels; a constant image has no peaks.

The box maximum is separable: a running maximum along each axis in turn (max is exact, so
the order of the passes does not matter). Lines are processed side by side in slabs with
the van Herk / Gil-Werman scheme: block-wise prefix and suffix maxima give any window
maximum with two lookups, whatever the window size.
"""

import numpy as np
from numba import njit

__all__ = ["peak_local_max"]


# Values per slab buffer: columns are grouped until a padded slab holds about this many.
_BUFFER_TARGET = 4096


# --------------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _larger_rows(a, b, out):
    """Write the element-wise max(a, b) of 1D rows into ``out`` (a select: a vector max)."""
    for c in range(out.size):
        out[c] = a[c] if a[c] > b[c] else b[c]


@njit(cache=True, nogil=True)
def _copy_row(source, target):
    """target[:] = source[:] for 1D rows (a loop: numba's slice assignment compiles slowly)."""
    for c in range(target.size):
        target[c] = source[c]


@njit(cache=True, nogil=True)
def _window_max_slab(data, n, inner, o, c0, c1, radius, padded, prefix, suffix):
    """Running maximum over 2*radius + 1 samples along lines of a slab, in place.

    The lines are (o, :, c), ``c0 <= c < c1``, of the flat C-ordered ``data`` seen as
    (outer, n, inner); values outside the lines count as 0.
    van Herk / Gil-Werman: the zero-padded lines are cut into blocks of one window; with the
    running maximum from each block start (prefix) and to each block end (suffix), the
    window starting at p is max(suffix[p], prefix[p + window - 1]). The lines sit side by
    side, row p of a buffer at [p * width, (p + 1) * width), so every loop runs over c.
    ``padded``, ``prefix`` and ``suffix`` hold at least length * (c1 - c0) values, with
    length = n + 2*radius rounded up to a multiple of the window.
    """
    width = c1 - c0
    window = 2 * radius + 1
    length = ((n + 2 * radius + window - 1) // window) * window
    for p in range(length):
        row = padded[p * width : (p + 1) * width]
        if radius <= p < radius + n:
            start = (o * n + p - radius) * inner + c0
            _copy_row(data[start : start + width], row)
        else:
            for c in range(width):
                row[c] = 0
    for block_start in range(0, length, window):
        last = block_start + window - 1
        first_row = padded[block_start * width : (block_start + 1) * width]
        _copy_row(first_row, prefix[block_start * width : (block_start + 1) * width])
        for p in range(block_start + 1, last + 1):
            _larger_rows(
                prefix[(p - 1) * width : p * width],
                padded[p * width : (p + 1) * width],
                prefix[p * width : (p + 1) * width],
            )
        _copy_row(
            padded[last * width : (last + 1) * width], suffix[last * width : (last + 1) * width]
        )
        for p in range(last - 1, block_start - 1, -1):
            _larger_rows(
                suffix[(p + 1) * width : (p + 2) * width],
                padded[p * width : (p + 1) * width],
                suffix[p * width : (p + 1) * width],
            )
    for i in range(n):
        start = (o * n + i) * inner + c0
        q = i + window - 1
        _larger_rows(
            suffix[i * width : (i + 1) * width],
            prefix[q * width : (q + 1) * width],
            data[start : start + width],
        )


@njit(cache=True, nogil=True)
def _box_max(data, outer, n, inner, radius, width, padded, prefix, suffix):
    """Running maximum along the middle axis of ``data``, in place.

    ``data`` is flat, seen as (outer, n, inner); the work items are slabs of ``width``
    neighbouring lines.
    """
    n_slabs = (inner + width - 1) // width
    for item in range(outer * n_slabs):
        o = item // n_slabs
        c0 = (item % n_slabs) * width
        c1 = min(c0 + width, inner)
        _window_max_slab(data, n, inner, o, c0, c1, radius, padded, prefix, suffix)


# --------------------------------------------------------------------------------------------
# Wrappers
# --------------------------------------------------------------------------------------------


def _max_along_first_axes(volume: np.ndarray, radius: int, n_axes: int) -> None:
    """Running maximum along axes 0..n_axes-1 of a C-contiguous 3D array, in place.

    Those axes are never the fastest-varying one, so each pass works on slabs of contiguous
    lines.
    """
    window = 2 * radius + 1
    length = -(-(max(volume.shape) + 2 * radius) // window) * window
    data = volume.reshape(-1)  # flat view
    for axis in range(n_axes):
        shape = volume.shape
        inner = int(np.prod(shape[axis + 1 :]))
        width = max(1, min(inner, _BUFFER_TARGET // length))
        padded, prefix, suffix = (np.empty(length * width, dtype=volume.dtype) for _ in range(3))
        blocks = (int(np.prod(shape[:axis])), shape[axis], inner)
        _box_max(data, *blocks, radius, width, padded, prefix, suffix)


def _box_maximum(image: np.ndarray, radius: int) -> np.ndarray:
    """Maximum over the (2*radius + 1)^3 box around each voxel, zeros outside the image.

    Computed in float64 (exact for float32 input; one compiled specialisation). Axes 0 and 1
    are filtered on a C-ordered copy, axis 2 on a Fortran-ordered copy (its transpose is
    C-ordered with axis 2 first); the result is Fortran-ordered.
    """
    volume = np.array(image, dtype=np.float64, order="C", copy=True)
    _max_along_first_axes(volume, radius, 2)
    result = np.asfortranarray(volume)
    _max_along_first_axes(result.T, radius, 1)
    return result


def _check_image(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as a 3D float array (float32/float64 kept, others float64)."""
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"image must be 3D; got {image.ndim} dimensions (shape {image.shape})")
    if image.dtype.kind != "f" or image.dtype.itemsize not in (4, 8) or not image.dtype.isnative:
        image = image.astype(np.float64)
    return image


def peak_local_max(
    image: np.ndarray,
    min_distance: int = 10,
    threshold_rel: float = 0.1,
    threshold_abs: float = 0.0,
) -> np.ndarray:
    """Find the local maxima of a 3D image.

    Parameters
    ----------
    image : ndarray of shape (x, y, z)
        Finite image; float32/float64 are used as is, other dtypes as float64. Not modified.
    min_distance : int, default=10
        Half-width of the box, in voxels: the box is (2 * min_distance + 1)^3.
    threshold_rel : float, default=0.1
        Minimum peak height relative to the highest peak.
    threshold_abs : float, default=0.0
        Minimum peak height.

    Returns
    -------
    peaks : ndarray of shape (x, y, z), bool
        True at the local maxima above threshold.

    Raises
    ------
    ValueError
        If ``image`` is not 3D or ``min_distance`` is not a non-negative integer.

    Notes
    -----
    ``mx`` = box maximum with 0 outside the image (scipy's ``maximum_filter(size=2d+1,
    mode="constant", cval=0)``); ``p = image * (image == mx)``; peaks are
    ``p > max(threshold_rel * max(p), threshold_abs)`` with numpy's scalar rules.
    """
    image = _check_image(image)
    if isinstance(min_distance, bool) or not isinstance(min_distance, int | np.integer):
        raise ValueError(f"min_distance must be a non-negative integer; got {min_distance!r}")
    if min_distance < 0:
        raise ValueError(f"min_distance must be a non-negative integer; got {min_distance!r}")
    if image.size == 0 or np.all(image == image.flat[0]):
        return np.zeros(image.shape, dtype=bool)  # constant image: no peaks
    box_max = _box_maximum(image, int(min_distance))
    peak_values = image * (image == box_max)
    # The reference's own scalar arithmetic and comparison, so the numpy promotion rules
    # (a Python-float cut is compared in the image dtype) are the same.
    cut = max(peak_values.max() * threshold_rel, threshold_abs)
    return peak_values > cut
