"""Per-subject recipes of the workflow, each a commented list of one-call steps.

A subject's ``.nii.gz`` is decoded once per run, by :func:`load_subject`, which caches the
decoded array as ``.npy``; later steps read the cache a block of volumes at a time. Batch jobs
of the workflow call these functions for several subjects in one process
(:func:`netregions.workflow.run_per_subject`).

Smoothing happens twice in the reference pipeline: before the decomposition
(``decomposition.smoothing_fwhm``) and again inside the region signal extractor
(``timeseries.smoothing_fwhm``). Both smooth the same raw data, so with equal FWHMs the
smoothed, in-mask, *uncleaned* series written by :func:`preprocess_subject` is exactly what
:func:`subject_timeseries` needs; with different FWHMs the time-series step smooths the
cached raw data itself.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import numpy as np

from netregions.exceptions import InputDataError

__all__ = ["load_subject", "preprocess_subject", "subject_timeseries"]

log = logging.getLogger("netregions")


def _file_stamp(path: str | Path) -> tuple[str, int, int, int]:
    """Key of a file's current content for the per-process caches.

    Path, inode, size and modification time: an atomically rewritten file (a new inode)
    never hits a stale entry, even within the file system's timestamp resolution.
    """
    stat = os.stat(path)
    return os.path.realpath(path), stat.st_ino, stat.st_size, stat.st_mtime_ns


def _load_mask(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    return _read_mask(_file_stamp(path))


# A batch job calls a step once per subject with the same group files: decode them once
# (the region maps alone take ~45 ms to decode, a third of a subject's time-series step).
# The arrays are shared between calls, so they are made read-only.
@functools.lru_cache(maxsize=2)
def _read_mask(stamp: tuple[str, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    import nibabel as nib

    img = nib.load(stamp[0])
    mask = np.asanyarray(img.dataobj).astype(bool)
    return _read_only(mask), _read_only(img.affine)


@functools.lru_cache(maxsize=2)
def _read_region_maps(
    regions: tuple[str, int, int, int], mask: tuple[str, int, int, int], dtype: np.dtype
) -> np.ndarray:
    """Region maps inside the mask, shape (n_voxels, n_regions), C-contiguous."""
    import nibabel as nib

    from netregions.masking import apply_mask

    maps = apply_mask(np.asanyarray(nib.load(regions[0]).dataobj), _read_mask(mask)[0]).T
    return _read_only(np.ascontiguousarray(maps, dtype=dtype))


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def load_subject(
    bold: str | Path,
    mean: str | Path,
    cache: str | Path,
    *,
    subject: str | None = None,
) -> None:
    """Workflow step: decode a run once, cache it and write its mean image.

    The subject's EPI mask is computed from this mean image by the group-mask step (it needs
    nothing else), so that this job stays a pure decode: no numba start-up per subject, and
    changing a mask parameter never decodes the runs again.

    Parameters
    ----------
    bold : path-like
        4D NIfTI run.
    mean : path-like
        Output: the run's mean over time (float32 NIfTI).
    cache : path-like
        Output: the decoded run as ``.npy`` (Fortran order, as stored in NIfTI).
    subject : str, optional
        Label for messages.

    Raises
    ------
    InputDataError
        Unreadable or corrupt file, not 4D, fewer than 2 volumes.
    """
    from netregions.io import check_bold_header, iter_image_chunks, save_array_chunks, save_nifti

    header = check_bold_header(bold, subject)
    shape, dtype = header.shape, header.dtype
    sums = _VolumeSum()
    blocks = (sums.add(block) for _, block in iter_image_chunks(bold, CHUNK_VOLUMES, subject))
    save_array_chunks(cache, shape, dtype, blocks)
    log.info("sub-%s: %s %s decoded", subject, shape, dtype)
    save_nifti(sums.mean().astype(np.float32), header.affine, mean)


class _VolumeSum:
    """Running sum over volumes that reproduces ``data.mean(axis=-1)`` bit for bit.

    For a Fortran-ordered run, numpy reduces the last axis by adding whole volumes in order,
    in the data's dtype, then divides by the count as an ``intp`` (so in float64, cast back):
    the same steps here, a block of volumes at a time.
    """

    def __init__(self) -> None:
        self.total: np.ndarray | None = None
        self.count = 0

    def add(self, block: np.ndarray) -> np.ndarray:
        for t in range(block.shape[-1]):
            if self.total is None:
                self.total = block[..., t].copy()
            else:
                self.total += block[..., t]
        self.count += block.shape[-1]
        return block

    def mean(self) -> np.ndarray:
        return np.true_divide(self.total, np.intp(self.count), out=self.total, casting="unsafe")


#: Volumes decoded or smoothed at a time: bounds memory to ~15 MB (default grid) beyond the
#: in-mask output, whatever the run's length.
CHUNK_VOLUMES = 24


def _masked_series(
    cache: str | Path, mask: np.ndarray, affine: np.ndarray, fwhm: float | None, subject
) -> np.ndarray:
    """In-mask series (n_volumes, n_voxels) of a cached run, smoothed first if ``fwhm``.

    The decoded run is read a block of volumes at a time (smoothing never mixes volumes), so
    the whole 4D array is never held. A cache that already holds in-mask series (2D, from
    :func:`preprocess_subject`) is returned as is.
    """
    from netregions.io import iter_volume_chunks
    from netregions.masking import apply_mask

    data = np.load(cache, mmap_mode="r")
    if data.ndim == 2:
        if data.shape[1] != mask.sum():
            raise InputDataError(
                f"sub-{subject}: {cache} has {data.shape[1]} voxels, the group mask {mask.sum()}"
            )
        return np.asarray(data)
    if data.shape[:3] != mask.shape:
        raise InputDataError(
            f"sub-{subject}: run grid {data.shape[:3]} differs from the group mask {mask.shape}"
        )
    if fwhm:  # smooths only what the in-mask values depend on (kernels.smooth_in_mask)
        from netregions.kernels import smooth_in_mask
    series = np.empty((data.shape[3], int(mask.sum())), dtype=data.dtype)
    del data
    for start, block in iter_volume_chunks(cache, CHUNK_VOLUMES):
        stop = start + block.shape[3]
        series[start:stop] = (
            smooth_in_mask(block, affine, fwhm, mask) if fwhm else apply_mask(block, mask)
        )
    return series


def preprocess_subject(
    cache: str | Path,
    mask: str | Path,
    reduced: str | Path,
    smoothed: str | Path,
    *,
    subject: str | None = None,
    smoothing_fwhm: float | None = 6.0,
    detrend: bool = True,
    standardize: str | None = "zscore_sample",
    n_components: int = 8,
    random_state: int = 0,
) -> None:
    """Workflow step: smooth, mask, clean and reduce one run.

    Parameters
    ----------
    cache : path-like
        Decoded run from :func:`load_subject`.
    mask : path-like
        Group mask.
    reduced : path-like
        Output ``.npy``: (k, n_voxels) reduced data for the group decomposition.
    smoothed : path-like
        Output ``.npy``: (n_volumes, n_voxels) smoothed, in-mask, uncleaned series.
    subject : str, optional
    smoothing_fwhm : float or None, default=6.0
        Gaussian FWHM in mm, applied to the whole volume before masking.
    detrend : bool, default=True
    standardize : {"zscore_sample", None}, default="zscore_sample"
    n_components : int, default=8
        Rows kept per subject.
    random_state : int, default=0
    """
    from netregions.decomposition import reduce_data
    from netregions.io import save_array
    from netregions.signal import clean

    mask_data, affine = _load_mask(mask)
    series = _masked_series(cache, mask_data, affine, smoothing_fwhm, subject)
    save_array(series, smoothed)
    cleaned = clean(series, detrend=detrend, standardize=standardize)
    save_array(reduce_data(cleaned, n_components, random_state), reduced)


def region_signals(series: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """Least-squares signals of (possibly overlapping) region maps.

    Parameters
    ----------
    series : ndarray, shape (n_volumes, n_voxels)
    maps : ndarray, shape (n_voxels, n_regions)

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
    ~50x faster than a generic solver on the tall (n_voxels, n_regions) system.
    """
    maps64 = np.asarray(maps, dtype=np.float64)
    eigval, eigvec = np.linalg.eigh(maps64.T @ maps64)
    singular = np.sqrt(np.clip(eigval, 0, None))
    keep = singular > np.finfo(series.dtype).eps * singular.max() if singular.size else []
    basis = eigvec[:, keep] / eigval[keep]
    projection = np.asarray(series, dtype=np.float64) @ maps64
    return ((projection @ basis) @ eigvec[:, keep].T).astype(series.dtype)


def subject_timeseries(
    data: str | Path,
    mask: str | Path,
    regions: str | Path,
    output: str | Path,
    *,
    confounds: str | Path | None = None,
    subject: str | None = None,
    smoothing_fwhm: float | None = None,
    standardize: str | None = "zscore_sample",
    standardize_confounds: bool = True,
    detrend: bool = False,
    columns: list[str] | None = None,
) -> None:
    """Workflow step: one signal per region, cleaned of confounds, as a TSV.

    Parameters
    ----------
    data : path-like
        Either the smoothed in-mask series from :func:`preprocess_subject` (when
        ``smoothing_fwhm`` is None) or the decoded run from :func:`load_subject`, smoothed
        here with ``smoothing_fwhm``.
    mask : path-like
        Group mask (the region maps are zero outside it).
    regions : path-like
        4D region maps.
    output : path-like
        TSV, one column per region (header = region ids 1..R), one row per volume.
    confounds : path-like, optional
        Confounds TSV; missing cells become 0 (with a warning).
    subject : str, optional
    smoothing_fwhm : float or None, default=None
    standardize, standardize_confounds, detrend
        See :func:`netregions.signal.clean`.
    columns : list of str, optional
        Confound columns to use (None = all).
    """
    from netregions.io import read_confounds, write_tsv
    from netregions.signal import clean

    mask_data, affine = _load_mask(mask)
    series = _masked_series(data, mask_data, affine, smoothing_fwhm, subject)
    maps = _read_region_maps(_file_stamp(regions), _file_stamp(mask), series.dtype)
    signals = region_signals(series, maps)
    table = None
    if confounds:
        table, _ = read_confounds(confounds, columns, series.shape[0], subject)
    cleaned = clean(
        signals,
        detrend=detrend,
        standardize=standardize,
        confounds=table,
        standardize_confounds=standardize_confounds,
    )
    header = [str(i + 1) for i in range(cleaned.shape[1])]
    write_tsv(output, cleaned, header)
