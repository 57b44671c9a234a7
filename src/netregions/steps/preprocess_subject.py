"""Rule ``preprocess_subject``: smooth, mask, clean and reduce one run for the decomposition."""

from __future__ import annotations

import logging

import numpy as np

from netregions.io import (
    check_bold_header,
    iter_decoded_chunks,
    iter_image_chunks,
    open_decoded,
    save_array,
)
from netregions.resources import CHUNK  # volumes decoded and smoothed at a time
from netregions.steps._common import check_grid, dummy_volumes_of, read_mask

__all__ = ["masked_series", "preprocess_subject"]

log = logging.getLogger("netregions")


def masked_series(
    bold: str, mask: np.ndarray, affine: np.ndarray, fwhm: float | None, run: str
) -> np.ndarray:
    """In-mask series (n_volumes, n_voxels) of a run, smoothed first if ``fwhm``.

    The run is decoded and smoothed a block of volumes at a time (smoothing never mixes
    volumes): the whole 4D array is never held, only its in-mask part (float32). ``bold`` is
    a NIfTI file or the run's decoded ``.npy`` copy (``storage.keep_decoded_runs``).
    """
    from netregions.kernels import InMaskSmoother

    if str(bold).endswith(".npy"):
        decoded = open_decoded(bold, run)
        shape = decoded.shape
        blocks = iter_decoded_chunks(decoded, CHUNK, run)
    else:
        shape = check_bold_header(bold, run).shape
        blocks = iter_image_chunks(bold, CHUNK, run)
    check_grid(shape, mask, "run", run)
    smoother = InMaskSmoother.plan(mask, affine, fwhm)
    series = np.empty((shape[3], int(mask.sum())), dtype=np.float32)
    for start, block in blocks:
        series[start : start + block.shape[3]] = smoother(block)
    return series


def preprocess_subject(
    bold: str,
    mask: str,
    smoothed: str,
    reduced: str,
    *,
    run: str,
    confounds: str | None = None,
    smoothing_fwhm: float | None = 6.0,
    detrend: bool = True,
    standardize: str | None = "zscore_sample",
    n_components: int = 8,
    random_state: int = 0,
) -> None:
    """Smooth, mask, clean and reduce one run (the reference's per-subject steps).

    Parameters
    ----------
    bold : path-like
        4D NIfTI run, decoded again here (docs/architecture.md, "Decoding, caches and
        disk"), or its decoded ``.npy`` copy when ``storage.keep_decoded_runs`` is true.
    mask : path-like
        Group mask.
    smoothed : path-like
        Output ``.npy``: (n_volumes, n_voxels) float32 smoothed, in-mask, uncleaned series
        (every volume), which the time-series step reuses without decoding the run again.
    reduced : path-like
        Output ``.npy``: (k, n_voxels) reduced data for the group decomposition.
    run : str
    confounds : path-like, optional
        Confounds table: its non-steady-state volumes are left out of the reduction.
    smoothing_fwhm : float or None, default=6.0
        Gaussian FWHM in mm, applied to the whole volume before masking.
    detrend : bool, default=True
    standardize : {"zscore_sample", None}, default="zscore_sample"
    n_components : int, default=8
        Rows kept per run.
    random_state : int, default=0
    """
    from netregions.decomposition import reduce_data
    from netregions.signal import clean

    mask_data, affine = read_mask(mask)
    series = masked_series(bold, mask_data, affine, smoothing_fwhm, run)
    save_array(series, smoothed)
    dummy = dummy_volumes_of(confounds, series.shape[0], run)
    if dummy.any():
        log.info("%s: %d non-steady-state volume(s) left out", run, int(dummy.sum()))
    kept = series[~dummy] if dummy.any() else series
    cleaned = clean(kept, detrend=detrend, standardize=standardize)
    save_array(reduce_data(cleaned, n_components, random_state), reduced)
