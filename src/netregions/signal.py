"""Cleaning of time series: linear detrend, confound regression, standardisation.

The order of operations and the numerical conventions are those of the reference pipeline's
``signal.clean`` restricted to the options the workflow exposes (no temporal filtering,
no scrubbing): detrend signals and confounds, project the confounds out, standardise.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

__all__ = ["clean", "detrend", "remove_confounds", "standardize"]

Standardize = Literal["zscore_sample"] | None

#: Standard deviations below this are treated as 0 (the column is only centred).
EPS = np.finfo(np.float64).eps


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
    Rank-deficient confounds are handled by a pivoted QR decomposition: columns whose
    ``|R_ii|`` is below ``100 * eps`` are dropped. No intercept is added; with standardised
    confounds the signal means are untouched.
    """
    from scipy.linalg import qr

    if confounds.shape[0] != signals.shape[0]:
        raise ValueError(
            f"confounds have {confounds.shape[0]} rows but the signals {signals.shape[0]} samples"
        )
    conf = _prepare_confounds(confounds, standardize_confounds)
    q, r, _ = qr(conf, mode="economic", pivoting=True)
    q = q[:, np.abs(np.diag(r)) > 100.0 * EPS]
    signals -= q @ (q.T @ signals)
    return signals


def clean(
    signals: np.ndarray,
    *,
    detrend: bool = False,
    standardize: Standardize = "zscore_sample",
    confounds: np.ndarray | None = None,
    standardize_confounds: bool = True,
) -> np.ndarray:
    """Detrend, regress out confounds and standardise time series (a copy).

    Parameters
    ----------
    signals : ndarray, shape (n_samples, n_features)
        Float arrays keep their dtype; integers become float32 (float64 for 8-byte ints).
    detrend : bool, default=False
        Remove the mean and linear trend of signals and confounds first.
    standardize : {"zscore_sample", None}, default="zscore_sample"
    confounds : ndarray, shape (n_samples, n_confounds), optional
    standardize_confounds : bool, default=True

    Returns
    -------
    ndarray, shape (n_samples, n_features)
    """
    out = np.array(signals, dtype=_float_dtype(signals), order="C")
    if detrend:
        _detrend(out, inplace=True)
    if confounds is not None:
        confounds = np.asarray(confounds, dtype=np.float64)
        if detrend:
            confounds = _detrend(confounds)
        remove_confounds(out, confounds, standardize_confounds)
    return _standardize(out, standardize, inplace=True)


# clean()'s keyword arguments shadow the function names inside it
_detrend = detrend
_standardize = standardize
