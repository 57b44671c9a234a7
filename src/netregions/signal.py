"""Cleaning of time series: censoring, detrending, Butterworth filtering, confound regression.

The order of operations and the numerical conventions are those of the reference pipeline's
``signal.clean`` (docs/methods/denoising.md, "Order of operations"): censored volumes are
filled by a cubic spline before a Butterworth filter (or simply removed when there is no
filter), signals and confounds are detrended and filtered alike, the confounds are projected
out of the kept volumes, and the result is standardised.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

__all__ = [
    "butterworth",
    "clean",
    "detrend",
    "region_signals",
    "remove_confounds",
    "standardize",
]

Standardize = Literal["zscore_sample"] | None

#: Standard deviations below this are treated as 0 (the column is only centred).
EPS = np.finfo(np.float64).eps

#: Voxels per float64 block in :func:`region_signals` (a few MB for runs of a few hundred
#: volumes: the block stays in cache while it is multiplied).
VOXEL_BLOCK = 2048

#: Order of the Butterworth filter (the reference's default).
BUTTERWORTH_ORDER = 5


def detrend(signals: np.ndarray, inplace: bool = False) -> np.ndarray:
    """Remove each column's mean and linear trend.

    Parameters
    ----------
    signals : ndarray, shape (n_samples, n_features)
    inplace : bool, default=False
        Modify ``signals`` (must be a writeable float array).

    Returns
    -------
    ndarray, same shape and dtype
    """
    out = signals if inplace else np.array(signals, dtype=_float_dtype(signals))
    out -= out.mean(axis=0)
    n = out.shape[0]
    if n < 2:
        return out
    ramp = np.arange(n, dtype=out.dtype)
    ramp -= ramp.mean()
    ramp /= np.sqrt((ramp**2).sum())
    # Ten even column blocks (for 500+ columns), as the reference: float32 dot products over a
    # different column grouping round differently, and the decomposition amplifies that.
    n_blocks = 10 if out.shape[1] >= 500 else 1
    for block in np.array_split(np.arange(out.shape[1]), n_blocks):
        columns = slice(block[0], block[-1] + 1) if block.size else slice(0, 0)
        out[:, columns] -= np.dot(ramp, out[:, columns]) * ramp[:, None]
    return out


def standardize(
    signals: np.ndarray, method: Standardize = "zscore_sample", inplace: bool = False
) -> np.ndarray:
    """Z-score each column with the sample (ddof=1) standard deviation.

    Columns whose standard deviation is below float64 eps are only centred. A single sample
    is returned unchanged, with a warning.

    Parameters
    ----------
    signals : ndarray, shape (n_samples, n_features)
    method : {"zscore_sample", None}, default="zscore_sample"
        None returns the input (a copy unless ``inplace``).
    inplace : bool, default=False

    Returns
    -------
    ndarray
    """
    out = signals if inplace else np.array(signals, dtype=_float_dtype(signals))
    if method is None:
        return out
    if method != "zscore_sample":
        raise ValueError(f"standardize must be 'zscore_sample' or None, got {method!r}")
    if out.shape[0] < 2:
        warnings.warn("standardization of a single sample is skipped", stacklevel=2)
        return out
    out -= out.mean(axis=0)
    std = out.std(axis=0, ddof=1)
    std[std < EPS] = 1.0
    out /= std
    return out


def _float_dtype(array: np.ndarray) -> np.dtype:
    if array.dtype.kind == "f":
        return array.dtype
    return np.dtype(np.float64 if array.dtype.itemsize == 8 else np.float32)


def _prepare_confounds(confounds: np.ndarray, standardize_confounds: bool) -> np.ndarray:
    confounds = np.array(confounds, dtype=np.float64)
    if confounds.ndim == 1:
        confounds = confounds[:, None]
    if standardize_confounds:
        return standardize(confounds, "zscore_sample", inplace=True)
    scale = np.abs(confounds).max(axis=0)
    scale[scale == 0] = 1.0
    return confounds / scale


def remove_confounds(
    signals: np.ndarray, confounds: np.ndarray, standardize_confounds: bool = True
) -> np.ndarray:
    """Project the confounds out of the signals, in place.

    Parameters
    ----------
    signals : ndarray, shape (n_samples, n_features)
        Writeable float array; modified and returned.
    confounds : ndarray, shape (n_samples, n_confounds)
    standardize_confounds : bool, default=True
        Z-score the confounds first (else only divide each by its maximum absolute value).

    Returns
    -------
    ndarray
        ``signals`` minus their projection on the span of the confounds.

    Notes
    -----
    The projection is onto an orthonormal basis of the confounds' column space: the left
    singular vectors whose singular value exceeds ``max(n_samples, n_confounds) * eps`` times
    the largest, so collinear confounds are harmless (numpy's rank rule). The reference
    builds the same space from a pivoted QR decomposition (dropping columns with ``|R_ii| <=
    100 eps``); the projections agree to rounding for confounds of full rank, and numpy spares
    each time-series job scipy's import (docs/differences.md). No intercept is added; with
    standardised confounds the signal means are untouched.
    """
    if confounds.shape[0] != signals.shape[0]:
        raise ValueError(
            f"confounds have {confounds.shape[0]} rows but the signals {signals.shape[0]} samples"
        )
    conf = _prepare_confounds(confounds, standardize_confounds)
    basis, singular, _ = np.linalg.svd(conf, full_matrices=False)
    if singular.size:
        basis = basis[:, singular > singular[0] * max(conf.shape) * EPS]
    signals -= basis @ (basis.T @ signals)
    return signals


def butterworth(
    signals: np.ndarray,
    t_r: float,
    high_pass: float | None = None,
    low_pass: float | None = None,
) -> np.ndarray:
    """Zero-phase Butterworth filter (order 5) along the time axis, as a copy.

    Parameters
    ----------
    signals : ndarray, shape (n_samples,) or (n_samples, n_features)
        Float arrays keep their dtype; integers become float32 (float64 for 8-byte ints).
    t_r : float
        Repetition time in seconds (sampling period).
    high_pass : float or None, default=None
        Cut-off in Hz below which frequencies are removed.
    low_pass : float or None, default=None
        Cut-off in Hz above which frequencies are removed. Both given = band-pass; neither =
        no filtering (a copy is returned).

    Returns
    -------
    ndarray, same shape as ``signals``

    Raises
    ------
    ValueError
        ``high_pass >= low_pass``, a cut-off that is not positive, ``t_r`` missing or not
        positive, a band that collapses at the Nyquist frequency, or a series too short for
        the filter's padding.

    Notes
    -----
    Second-order sections from ``scipy.signal.butter`` run forwards and backwards
    (``sosfiltfilt``) with odd padding, in float64. A cut-off at or above the Nyquist
    frequency ``0.5 / t_r`` is lowered just below it (by ``10 * eps(float32)`` relative),
    with a warning, as the reference does.
    """
    out = np.array(signals, dtype=_float_dtype(np.asarray(signals)))
    sos = _butterworth_sos(t_r, high_pass, low_pass)
    if sos is None:
        return out
    return _filter(out, sos)


def _check_filter(t_r: float | None, high_pass: float | None, low_pass: float | None) -> None:
    if t_r is None:
        raise ValueError(
            f"t_r (repetition time, s) is required for Butterworth filtering "
            f"(high_pass={high_pass}, low_pass={low_pass}); got t_r=None"
        )
    if not np.isfinite(t_r) or t_r <= 0:
        raise ValueError(f"t_r must be a positive number of seconds, got {t_r}")
    for name, cutoff in (("high_pass", high_pass), ("low_pass", low_pass)):
        if cutoff is not None and not (np.isfinite(cutoff) and cutoff > 0):
            raise ValueError(f"{name} must be a positive frequency in Hz, got {cutoff}")
    if high_pass is not None and low_pass is not None and high_pass >= low_pass:
        raise ValueError(
            f"high_pass ({high_pass} Hz) must be below low_pass ({low_pass} Hz) for a band-pass"
        )


def _below_nyquist(name: str, cutoff: float, nyquist: float) -> float:
    if cutoff < nyquist:
        return cutoff
    # A cut-off at Nyquist makes the digital filter unstable: move it just below, as the
    # reference does (docs/methods/denoising.md, "Order of operations").
    lowered = nyquist - nyquist * 10 * np.finfo(np.float32).eps
    warnings.warn(
        f"{name}={cutoff} Hz is at or above the Nyquist frequency ({nyquist} Hz); "
        f"lowered to {lowered} Hz",
        stacklevel=4,
    )
    return lowered


def _butterworth_sos(
    t_r: float | None, high_pass: float | None, low_pass: float | None
) -> np.ndarray | None:
    """Second-order sections of the filter, or None when neither cut-off is given."""
    if high_pass is None and low_pass is None:
        return None
    _check_filter(t_r, high_pass, low_pass)
    from scipy.signal import butter

    sampling_rate = 1.0 / t_r
    nyquist = sampling_rate * 0.5
    cutoffs = []
    if high_pass is not None:
        cutoffs.append(_below_nyquist("high_pass", high_pass, nyquist))
    if low_pass is not None:
        cutoffs.append(_below_nyquist("low_pass", low_pass, nyquist))
    if len(cutoffs) == 2:
        if cutoffs[0] >= cutoffs[1]:
            raise ValueError(
                f"band-pass {high_pass}-{low_pass} Hz lies above the Nyquist frequency "
                f"({nyquist} Hz for t_r={t_r} s): no band is left to keep"
            )
        return butter(BUTTERWORTH_ORDER, cutoffs, "bandpass", output="sos", fs=sampling_rate)
    btype = "highpass" if high_pass is not None else "lowpass"
    return butter(BUTTERWORTH_ORDER, cutoffs[0], btype, output="sos", fs=sampling_rate)


def _filter(signals: np.ndarray, sos: np.ndarray) -> np.ndarray:
    """Forward-backward filtering along axis 0, computed in float64, dtype of ``signals``."""
    from scipy.signal import sosfiltfilt

    try:
        filtered = sosfiltfilt(sos, signals, axis=0, padtype="odd")
    except ValueError as exc:
        raise ValueError(
            f"Butterworth filter: a series of {signals.shape[0]} samples is shorter than the "
            f"filter's padding needs, too few volumes to filter ({exc})"
        ) from exc
    return np.ascontiguousarray(filtered, dtype=signals.dtype)


def _check_sample_mask(sample_mask: np.ndarray | None, n_samples: int) -> np.ndarray | None:
    if sample_mask is None:
        return None
    mask = np.asarray(sample_mask)
    if mask.dtype != bool:
        raise ValueError(
            f"sample_mask must be a boolean array (True = keep), got dtype {mask.dtype}"
        )
    if mask.shape != (n_samples,):
        raise ValueError(
            f"sample_mask has shape {mask.shape} but the signals have {n_samples} samples"
        )
    if not mask.any():
        raise ValueError(f"sample_mask removes all {n_samples} samples")
    return mask


def _check_confounds(confounds: np.ndarray, n_samples: int) -> np.ndarray:
    confounds = np.asarray(confounds, dtype=np.float64)
    if confounds.ndim == 1:
        confounds = confounds[:, None]
    if confounds.ndim != 2:
        raise ValueError(f"confounds must be 1D or 2D, got {confounds.ndim} dimensions")
    if confounds.shape[0] != n_samples:
        raise ValueError(
            f"confounds have {confounds.shape[0]} rows but the signals {n_samples} samples"
        )
    bad_rows, bad_columns = np.nonzero(~np.isfinite(confounds))
    if bad_rows.size:
        raise ValueError(
            f"confounds hold {bad_rows.size} NaN or infinite value(s), in column(s) "
            f"{np.unique(bad_columns).tolist()} (0-based), first at row {int(bad_rows.min())}"
        )
    return confounds


def _fill_censored(
    series: np.ndarray, keep: np.ndarray, t_r: float
) -> tuple[np.ndarray, np.ndarray]:
    """Fill censored samples by a cubic spline through the kept ones; crop the ends.

    Samples before the first kept one and after the last are dropped rather than
    extrapolated. Returns the (copied) cropped series and the keep-mask of its rows.
    """
    kept = np.flatnonzero(keep)
    rows = slice(kept[0], kept[-1] + 1)
    out = np.array(series[rows])
    inner = keep[rows]
    if not inner.all():
        from scipy.interpolate import CubicSpline

        # Frame times of the whole run, as the reference uses (the cubic spline is
        # unchanged by the time offset of the crop, but rounding would not be).
        times = np.arange(series.shape[0]) * t_r
        spline = CubicSpline(times[kept], series[kept], axis=0, extrapolate=False)
        out[~inner] = spline(times[rows][~inner])
    return out, inner


def clean(
    signals: np.ndarray,
    *,
    detrend: bool = False,
    standardize: Standardize = "zscore_sample",
    confounds: np.ndarray | None = None,
    standardize_confounds: bool = True,
    sample_mask: np.ndarray | None = None,
    t_r: float | None = None,
    high_pass: float | None = None,
    low_pass: float | None = None,
) -> np.ndarray:
    """Censor, detrend, filter, regress out confounds and standardise time series (a copy).

    Parameters
    ----------
    signals : ndarray, shape (n_samples, n_features)
        Float arrays keep their dtype; integers become float32 (float64 for 8-byte ints).
    detrend : bool, default=False
        Remove the mean and linear trend of signals and confounds.
    standardize : {"zscore_sample", None}, default="zscore_sample"
    confounds : ndarray, shape (n_samples, n_confounds), optional
        Over all samples, censored ones included.
    standardize_confounds : bool, default=True
        Z-score the confounds before the projection (else divide each by its max |value|).
    sample_mask : ndarray of bool, shape (n_samples,), optional
        True = keep. Censored samples are absent from the output.
    t_r : float, optional
        Repetition time in seconds; required with ``high_pass`` or ``low_pass``.
    high_pass, low_pass : float, optional
        Butterworth cut-offs in Hz (see :func:`butterworth`).

    Returns
    -------
    ndarray, shape (n_kept, n_features)
        ``n_kept = sample_mask.sum()`` (all samples without a mask).

    Raises
    ------
    ValueError
        Invalid filter settings (see :func:`butterworth`), a ``sample_mask`` that is not
        boolean, has the wrong length or keeps nothing, confounds of the wrong length.

    Notes
    -----
    Order of operations (docs/methods/denoising.md, "Order of operations"):

    1. With a cut-off: censored samples of signals and confounds are filled by a cubic spline
       through the kept samples; censored samples before the first or after the last kept
       one are dropped. Without a cut-off: censored samples are dropped now.
    2. ``detrend``: linear detrend of signals and confounds.
    3. With a cut-off: Butterworth filter on signals and confounds, then the filled samples
       are dropped.
    4. Confound projection (:func:`remove_confounds`).
    5. Standardisation.
    """
    out = np.array(signals, dtype=_float_dtype(signals), order="C")
    sos = _butterworth_sos(t_r, high_pass, low_pass)
    if confounds is not None:
        confounds = _check_confounds(confounds, out.shape[0])
    keep = _check_sample_mask(sample_mask, out.shape[0])
    if keep is not None and sos is not None:
        filled = keep
        out, keep = _fill_censored(out, filled, t_r)
        if confounds is not None:
            confounds, _ = _fill_censored(confounds, filled, t_r)
    elif keep is not None:
        out = out[keep]
        confounds = None if confounds is None else confounds[keep]
        keep = None
    if detrend:
        _detrend(out, inplace=True)
        if confounds is not None:
            confounds = _detrend(confounds)
    if sos is not None:
        out = _filter(out, sos)
        confounds = None if confounds is None else _filter(confounds, sos)
        if keep is not None:
            out = out[keep]
            confounds = None if confounds is None else confounds[keep]
    if confounds is not None:
        remove_confounds(out, confounds, standardize_confounds)
    return _standardize(out, standardize, inplace=True)


# clean()'s keyword arguments shadow the function names inside it
_detrend = detrend
_standardize = standardize


def region_signals(series: np.ndarray, maps: np.ndarray, *, block: int = VOXEL_BLOCK) -> np.ndarray:
    """Least-squares signals of (possibly overlapping) region maps.

    Parameters
    ----------
    series : ndarray, shape (n_volumes, n_voxels)
    maps : ndarray, shape (n_voxels, n_regions)
    block : int
        Voxels converted to float64 at a time.

    Returns
    -------
    ndarray, shape (n_volumes, n_regions), dtype of ``series``
        Minimum-norm solution of ``maps @ signals.T = series.T``, as a least-squares solver
        with the default cut-off would give (singular values of ``maps`` below
        ``eps * largest`` are treated as zero, eps of the series' dtype).

    Notes
    -----
    Solved through the small (n_regions, n_regions) Gram matrix in float64: the maps of
    different regions barely overlap, so the Gram matrix is well conditioned, and this is
    much faster than a generic solver on the tall (n_voxels, n_regions) system. The result
    equals the reference's to float32 round-off (docs/differences.md). The float64 products
    are summed over blocks of voxels, so no float64 copy of the whole series (twice the size
    of a float32 run) is ever held. The Gram matrix squares the maps' condition number: when
    that would cost precision in the series' dtype (nearly collinear maps, or any float64
    series whose maps are not orthogonal), the system is solved through the SVD of the maps
    instead, which gives the minimum-norm solution as the reference's solver does.
    """
    if block < 1:
        raise ValueError(f"block must be a positive number of voxels, got {block}")
    n_voxels, n_regions = maps.shape
    gram = np.zeros((n_regions, n_regions))
    for start in range(0, n_voxels, block):
        maps64 = np.asarray(maps[start : start + block], dtype=np.float64)
        gram += maps64.T @ maps64
    eigval, eigvec = np.linalg.eigh(gram)
    if not _gram_is_accurate(eigval, series.dtype):
        return _min_norm_signals(series, maps, block)
    projection = _project(series, maps, block)
    singular = np.sqrt(np.clip(eigval, 0, None))
    keep = singular > np.finfo(series.dtype).eps * singular.max() if singular.size else []
    basis = eigvec[:, keep] / eigval[keep]
    return ((projection @ basis) @ eigvec[:, keep].T).astype(series.dtype)


def _gram_is_accurate(eigval: np.ndarray, dtype: np.dtype) -> bool:
    """Whether solving through the Gram matrix keeps the precision of ``dtype``.

    Its solution's relative error is about condition(maps)^2 * eps(float64), against
    condition(maps) * eps(dtype) for a solver on the maps themselves.
    """
    if eigval.size == 0:
        return True
    ratio = np.finfo(np.float64).eps / np.finfo(dtype).eps
    return bool(eigval[0] >= ratio * eigval[-1])


def _project(series: np.ndarray, basis: np.ndarray, block: int) -> np.ndarray:
    """``series @ basis`` in float64, summed over blocks of voxels (no float64 series copy)."""
    projection = np.zeros((series.shape[0], basis.shape[1]))
    for start in range(0, basis.shape[0], block):
        chunk = np.asarray(series[:, start : start + block], dtype=np.float64)
        projection += chunk @ np.asarray(basis[start : start + block], dtype=np.float64)
    return projection


def _min_norm_signals(series: np.ndarray, maps: np.ndarray, block: int) -> np.ndarray:
    """Minimum-norm least squares through the SVD of ``maps`` (cut-off eps of the dtype)."""
    left, singular, right = np.linalg.svd(np.asarray(maps, dtype=np.float64), full_matrices=False)
    keep = singular > np.finfo(series.dtype).eps * singular.max()
    projection = _project(series, left[:, keep], block)
    return ((projection / singular[keep]) @ right[keep]).astype(series.dtype)
