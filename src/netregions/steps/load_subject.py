"""Rule ``load_subject``: decode a run once, write its mean image and its statistics."""

from __future__ import annotations

import logging

import numpy as np

from netregions.bids import read_repetition_time, write_json
from netregions.io import (
    atomic_path,
    check_bold_header,
    create_decoded_copy,
    iter_image_chunks,
    save_nifti,
)
from netregions.resources import CHUNK  # volumes decoded at a time
from netregions.steps._common import json_safe

__all__ = ["load_subject"]

log = logging.getLogger("netregions")


class _RunMoments:
    """Running mean image and tSNR statistics of a run, a block of volumes at a time.

    The mean reproduces the reference's ``data.mean(axis=-1)`` of a Fortran-ordered float32
    run bit for bit: numpy adds whole volumes in order in the data's dtype, then divides by
    the count. Sums of squares for the temporal SD are kept in float64.
    """

    def __init__(self) -> None:
        self.total: np.ndarray | None = None
        self.total64: np.ndarray | None = None
        self.squares: np.ndarray | None = None
        self.count = 0

    def add(self, block: np.ndarray) -> None:
        for t in range(block.shape[-1]):
            volume = block[..., t]
            if self.total is None:
                self.total = volume.copy()
                self.total64 = volume.astype(np.float64)
                self.squares = self.total64**2
            else:
                self.total += volume
                self.total64 += volume
                self.squares += np.square(volume, dtype=np.float64)
        self.count += block.shape[-1]

    def mean(self) -> np.ndarray:
        return np.true_divide(self.total, np.intp(self.count), out=self.total, casting="unsafe")

    def tsnr(self) -> np.ndarray:
        """Temporal mean / temporal SD (ddof 0) per voxel; 0 where the SD is <= 1e-3."""
        mean = self.total64 / self.count
        sd = np.sqrt(np.maximum(self.squares / self.count - mean**2, 0.0))
        out = np.zeros_like(mean)
        np.divide(mean, sd, out=out, where=sd > 1e-3)
        return out


def _brain_voxels(mean: np.ndarray) -> np.ndarray:
    """Voxels above the histogram-gap threshold of the mean image (the EPI mask's first step)."""
    from netregions.masking import epi_threshold

    finite = np.where(np.isfinite(mean), mean, 0)
    return finite >= epi_threshold(finite, 0.2, 0.85)


def load_subject(
    bold: str,
    mean: str,
    stats: str,
    *,
    run: str,
    sidecar: str | None = None,
    decoded: str | None = None,
) -> None:
    """Decode a run once; write its mean image and a JSON of its statistics.

    The run's EPI mask is computed from this mean image by the group-mask step, so that this
    job stays a decode: changing a mask parameter never decodes the runs again.

    Parameters
    ----------
    bold : path-like
        4D NIfTI run.
    mean : path-like
        Output: the run's mean over time (float32 NIfTI).
    stats : path-like
        Output JSON: ``run``, ``n_volumes``, ``shape``, ``voxel_size_mm``, ``t_r`` (seconds,
        from the sidecar, else the header), ``tsnr`` (median temporal SNR of the voxels above
        the mean image's histogram-gap threshold), ``warnings`` (about the TR).
    run : str
        Run name, for messages.
    sidecar : path-like, optional
        The BOLD file's JSON sidecar.
    decoded : path-like, optional
        Output ``.npy``: the decoded run (float32, Fortran order), kept when the config's
        ``storage.keep_decoded_runs`` is true so that later steps need not decode it again.

    Raises
    ------
    InputDataError
        Unreadable or corrupt file, not 4D, fewer than 2 volumes, no repetition time.
    """
    header = check_bold_header(bold, run)
    t_r, notes = read_repetition_time(sidecar, header.t_r, run, image=str(bold))
    for note in notes:
        log.warning("%s", note)
    moments = _RunMoments()
    if decoded:
        with atomic_path(decoded) as tmp:
            copy = create_decoded_copy(tmp, header.shape)
            for start, block in iter_image_chunks(bold, CHUNK, run):
                moments.add(block)
                copy[..., start : start + block.shape[3]] = block
            copy.flush()
            del copy
    else:
        for _, block in iter_image_chunks(bold, CHUNK, run):
            moments.add(block)
    mean_image = moments.mean()
    tsnr = moments.tsnr()[_brain_voxels(mean_image)]
    zooms = np.sqrt((header.affine[:3, :3] ** 2).sum(axis=0))
    payload = {
        "run": run,
        "n_volumes": header.n_volumes,
        "shape": list(header.shape[:3]),
        "voxel_size_mm": [round(float(z), 4) for z in zooms],
        "t_r": t_r,
        "tsnr": float(np.median(tsnr)) if tsnr.size else float("nan"),
        "warnings": notes,
    }
    save_nifti(mean_image.astype(np.float32), header.affine, mean)
    write_json(stats, json_safe(payload))
    log.info("%s: %s decoded, TR %.4g s, median tSNR %.1f", run, header.shape, t_r, payload["tsnr"])
