"""Thresholding of stacks of maps, as the reference region extractor's three strategies.

All functions return a thresholded copy (the input is never modified) in which non-finite
values are 0. The cut is computed with numpy (``np.partition``); the element-wise
application is a parallel numba kernel.

Percentiles follow ``scipy.stats.scoreatpercentile`` (linear interpolation between order
statistics at index ``p / 100 * (n - 1)``), evaluated with the same float64 operations so
that ties against the cut fall on the same side as in the reference.
"""

import numbers

import numba
import numpy as np
from numba import njit, prange

__all__ = ["threshold_percentile", "threshold_ratio_n_voxels", "threshold_value"]

# How the cut is applied (kernel argument): entries matching the condition become 0.
_ZERO_ABS_BELOW = 0  # |x| < cut            (ratio_n_voxels)
_ZERO_INSIDE = 1  # -cut < x < cut          (two-sided)
_ZERO_BELOW = 2  # x < cut                  (one-sided, cut >= 0)
_ZERO_ABOVE = 3  # x > cut                  (one-sided, cut < 0)
# Arrays with fewer values than this are processed serially (see _n_workers).
_PARALLEL_MIN_SIZE = 1 << 22


# --------------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _clean_share(values, inside, voxel_stride, map_stride, worker, n_workers):
    """Zero non-finite and outside-mask entries of one worker's share of the voxels.

    ``values`` is the flat (x, y, z, n_maps) array in memory order: entry (v, k) of voxel v
    and map k sits at v * voxel_stride + k * map_stride — (n_maps, 1) for C order,
    (1, n_voxels) for Fortran order. The voxels are split into ``n_workers`` contiguous
    shares; the loop order follows the memory order.
    """
    n_voxels = inside.size
    n_maps = values.size // n_voxels if n_voxels else 0
    v0 = worker * n_voxels // n_workers
    v1 = (worker + 1) * n_voxels // n_workers
    if voxel_stride == 1:  # Fortran order: each map is contiguous
        for k in range(n_maps):
            for v in range(v0, v1):
                i = v + k * map_stride
                if not inside[v] or not np.isfinite(values[i]):
                    values[i] = 0
    else:  # C order: the maps of a voxel are contiguous
        for v in range(v0, v1):
            keep = inside[v]
            for k in range(n_maps):
                i = v * voxel_stride + k
                if not keep or not np.isfinite(values[i]):
                    values[i] = 0


@njit(cache=True, parallel=True)
def _clean_parallel(values, inside, voxel_stride, map_stride, n_workers):
    """`_clean_share` with one share per worker; shares are disjoint."""
    for w in prange(n_workers):
        _clean_share(values, inside, voxel_stride, map_stride, w, n_workers)


@njit(cache=True)
def _apply_cut_share(values, cut, rule, worker, n_workers):
    """Zero the entries selected by ``rule`` and ``cut`` in one worker's share of ``values``.

    ``values`` is flat, split into ``n_workers`` contiguous shares; modified in place.
    ``cut`` is a float64: comparisons are exact for float32 and float64 values.
    """
    n = values.size
    for i in range(worker * n // n_workers, (worker + 1) * n // n_workers):
        x = values[i]
        if rule == 0:  # _ZERO_ABS_BELOW (literals: kernels read no module globals)
            drop = abs(x) < cut
        elif rule == 1:  # _ZERO_INSIDE
            drop = -cut < x and x < cut
        elif rule == 2:  # _ZERO_BELOW
            drop = x < cut
        else:  # _ZERO_ABOVE
            drop = x > cut
        if drop:
            values[i] = 0


@njit(cache=True, parallel=True)
def _apply_cut_parallel(values, cut, rule, n_workers):
    """`_apply_cut_share` with one share per worker; shares are disjoint."""
    for w in prange(n_workers):
        _apply_cut_share(values, cut, rule, w, n_workers)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _n_workers(n_values: int) -> int:
    """Workers for a job of ``n_values`` values: numba's thread count, or 1 for small jobs.

    Launching a parallel region can stall for milliseconds when the other cores are busy,
    which costs more than a serial pass over a few million values.
    """
    if n_values < _PARALLEL_MIN_SIZE:
        return 1
    return max(1, numba.get_num_threads())


def _cleaned_copy(maps: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Return a 4D float copy of ``maps`` (3D → one map), non-finite and outside-mask → 0.

    float32 and float64 are kept; other dtypes become float32. The memory layout is kept.
    """
    maps = np.asarray(maps)
    if maps.ndim not in (3, 4):
        raise ValueError(f"maps must be 3D or 4D (x, y, z, n_maps); got {maps.ndim} dimensions")
    # float64 (any byte order) stays float64, everything else becomes native float32.
    dtype = np.float64 if maps.dtype.kind == "f" and maps.dtype.itemsize == 8 else np.float32
    work = np.array(maps, dtype=dtype, order="K", copy=True)
    if work.ndim == 3:
        work = work[..., np.newaxis]
    if not (work.flags.c_contiguous or work.flags.f_contiguous):
        work = np.ascontiguousarray(work)
    inside = _inside_mask(mask, work.shape[:3])
    n_voxels, n_maps = inside.size, work.shape[3]
    fortran = work.flags.f_contiguous and not work.flags.c_contiguous
    # Flat views in memory order; the voxel order of ``inside`` follows the layout.
    inside = inside.ravel(order="F" if fortran else "C")
    strides = (1, n_voxels) if fortran else (n_maps, 1)
    values = work.ravel(order="K")
    n_workers = _n_workers(values.size)
    if n_workers == 1:
        _clean_share(values, inside, *strides, 0, 1)
    else:
        _clean_parallel(values, inside, *strides, n_workers)
    return work


def _inside_mask(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """Return the boolean 3D mask (non-zero = inside), all True when ``mask`` is None."""
    if mask is None:
        return np.ones(shape, dtype=bool)
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"mask must have the spatial shape of the maps {shape}; got {mask.shape}")
    return mask != 0


def _score_at_percentile(values: np.ndarray, percentile: float) -> float:
    """Linear-interpolated percentile of a 1D array, as ``scipy.stats.scoreatpercentile``.

    With h = p / 100 * (n - 1), i = floor(h): the order statistic v_i when h is an integer,
    else (v_i * (i + 1 - h) + v_{i+1} * (h - i)) / ((i + 1 - h) + (h - i)), in float64.
    NaN for an empty array.
    """
    n = values.size
    if n == 0:
        return float("nan")
    h = percentile / 100.0 * (n - 1)
    i = int(h)
    # Two order statistics at once: numpy's single-kth partition is ~30x slower on data
    # with many ties (the zeros of sparse maps).
    kth = [i, i + 1] if i + 1 < n else [max(i - 1, 0), i]
    ordered = np.partition(values, kth)
    if i == h:
        return float(ordered[i])
    low, high = float(ordered[i]), float(ordered[i + 1])
    weights = ((i + 1) - h, h - i)
    return (low * weights[0] + high * weights[1]) / (weights[0] + weights[1])


def _apply(work: np.ndarray, cut: float, rule: int) -> np.ndarray:
    """Run the parallel application kernel on ``work`` (contiguous, in place) and return it."""
    values = work.ravel(order="K")  # a view: work is C- or F-contiguous
    n_workers = _n_workers(values.size)
    if n_workers == 1:
        _apply_cut_share(values, float(cut), rule, 0, 1)
    else:
        _apply_cut_parallel(values, float(cut), rule, n_workers)
    return work


def _as_output(work: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """Drop the map axis added for 3D input."""
    return work[..., 0] if np.ndim(maps) == 3 else work


def _one_sided_rule(cut: float) -> int:
    """Rule of a one-sided cut: zero below a non-negative cut, above a negative one.

    A NaN cut (empty percentile sample) selects "above", which then zeroes nothing.
    """
    return _ZERO_BELOW if cut >= 0 else _ZERO_ABOVE


# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------


def threshold_ratio_n_voxels(maps: np.ndarray, ratio: float) -> np.ndarray:
    """Keep about ``ratio`` × n_voxels entries with the largest |value| over all maps.

    Parameters
    ----------
    maps : ndarray of shape (x, y, z, n_maps) or (x, y, z)
        Stack of maps, maps on the last axis (3D input is one map). Never modified.
    ratio : float
        Real number in (0, n_maps].

    Returns
    -------
    thresholded : ndarray, same shape as ``maps``
        Copy with non-finite values and entries with ``|x| < cut`` set to 0 (both signs kept).
        float32/float64 are kept, other dtypes become float32.

    Raises
    ------
    ValueError
        If ``ratio`` is not a real number in (0, n_maps], or ``maps`` is not 3D/4D.

    Notes
    -----
    ``cut`` is the linear-interpolated percentile ``100 - (100 / n_maps) * ratio`` of |x| over
    every entry of the 4D array, zeros outside the brain and outside each map included.
    """
    work = _cleaned_copy(maps, None)
    n_maps = work.shape[3]
    if not _is_real(ratio) or not 0 < ratio <= n_maps:
        raise ValueError(
            "threshold given as ratio to the number of voxels must be Real number and should "
            "be positive and between 0 and total number of maps i.e. "
            f"n_maps={n_maps}. You provided {ratio}"
        )
    percentile = 100.0 - (100.0 / n_maps) * ratio
    cut = _score_at_percentile(np.abs(work).ravel(order="K"), percentile)
    return _as_output(_apply(work, cut, _ZERO_ABS_BELOW), maps)


def _is_real(value: object) -> bool:
    """True for real numbers (Python or numpy), False for bools, strings and others."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def threshold_percentile(
    maps: np.ndarray,
    percentile: float,
    two_sided: bool = False,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Zero the values below a percentile of the data (the reference's ``threshold_img``).

    Parameters
    ----------
    maps : ndarray of shape (x, y, z, n_maps) or (x, y, z)
        Stack of maps, maps on the last axis. Never modified.
    percentile : float
        Percentile in [0, 100].
    two_sided : bool, default=False
        If True the percentile is taken over |x| and values with ``-cut < x < cut`` are
        zeroed; otherwise over the non-negative values (zeros included) and values below
        the cut (all negative values for a non-negative cut) are zeroed.
    mask : ndarray of shape (x, y, z) or None, default=None
        Values outside the mask (mask == 0) are zeroed and excluded from the percentile.

    Returns
    -------
    thresholded : ndarray, same shape as ``maps``
        Copy with non-finite values, values outside the mask and values beyond the cut set
        to 0. float32/float64 are kept, other dtypes become float32.

    Raises
    ------
    ValueError
        If ``percentile`` is not in [0, 100], ``maps`` is not 3D/4D or ``mask`` has the wrong
        shape.

    Notes
    -----
    ``cut = scoreatpercentile(D, percentile) + 1e-5`` with D the in-mask values (|x| if
    two-sided, else the values >= 0). An empty D gives a NaN cut, which zeroes nothing.
    """
    if not _is_real(percentile) or not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be a number in [0, 100]; got {percentile!r}")
    work = _cleaned_copy(maps, mask)
    values = _in_mask_values(work, mask)
    sample = np.abs(values) if two_sided else values[values >= 0]
    cut = _score_at_percentile(sample, float(percentile)) + 1e-5
    return _as_output(_apply(work, cut, _cut_rule(cut, two_sided)), maps)


def _in_mask_values(work: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """All entries of ``work`` (x, y, z, n_maps) at in-mask voxels, as a 1D array."""
    if mask is None:
        return work.ravel(order="K")
    return work[_inside_mask(mask, work.shape[:3])].ravel()


def _cut_rule(cut: float, two_sided: bool) -> int:
    """Application rule of a threshold_img cut."""
    return _ZERO_INSIDE if two_sided else _one_sided_rule(cut)


def threshold_value(
    maps: np.ndarray,
    value: float,
    two_sided: bool = False,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Zero the values below a given value (the reference's ``threshold_img`` with a number).

    Parameters
    ----------
    maps : ndarray of shape (x, y, z, n_maps) or (x, y, z)
        Stack of maps, maps on the last axis. Never modified.
    value : float
        The cut, used as is.
    two_sided : bool, default=False
        If True values with ``-value < x < value`` are zeroed (``value`` must be >= 0);
        otherwise values ``x < value`` for a non-negative value, ``x > value`` for a negative
        one.
    mask : ndarray of shape (x, y, z) or None, default=None
        Values outside the mask (mask == 0) are zeroed.

    Returns
    -------
    thresholded : ndarray, same shape as ``maps``
        Copy with non-finite values, values outside the mask and values beyond the cut set
        to 0. float32/float64 are kept, other dtypes become float32.

    Raises
    ------
    ValueError
        If ``value`` is not a finite real number, is negative with ``two_sided=True``, or
        ``maps``/``mask`` have the wrong dimensions.
    """
    if not _is_real(value) or not np.isfinite(value):
        raise ValueError(f"threshold value must be a finite real number; got {value!r}")
    if two_sided and value < 0:
        raise ValueError(f"threshold value must be non-negative when two_sided=True; got {value!r}")
    work = _cleaned_copy(maps, mask)
    return _as_output(_apply(work, float(value), _cut_rule(value, two_sided)), maps)
