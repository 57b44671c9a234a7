"""Rule ``group_mask``: the group brain mask and the mean EPI image of the included runs."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np

from netregions.exceptions import InputDataError
from netregions.io import save_nifti
from netregions.masking import MaskWarning, compute_epi_mask, majority_mask

__all__ = ["MASK_SOURCES", "group_mask"]

log = logging.getLogger("netregions")

#: Where the group mask comes from (``mask.source``): the reference's EPI masks of the mean
#: images, or the runs' own fMRIPrep brain masks.
MASK_SOURCES = ("epi", "fmriprep")


class _Grid:
    """Shape and affine of the first image; every other image must share them."""

    def __init__(self) -> None:
        self.shape: tuple[int, ...] | None = None
        self.affine: np.ndarray | None = None
        self.first: str | None = None

    def check(self, img, run: str, path: str) -> None:
        if self.shape is None:
            self.shape, self.affine, self.first = img.shape, np.asarray(img.affine), run
            return
        if img.shape != self.shape or not np.allclose(img.affine, self.affine, atol=1e-3):
            raise InputDataError(
                f"{run}: grid {img.shape} of {path} differs from {self.first}'s {self.shape} "
                f"(affines {np.round(img.affine, 3).tolist()} vs "
                f"{np.round(self.affine, 3).tolist()}); all runs must share one grid"
            )


def _epi_mask(mean: np.ndarray, run: str, **settings) -> np.ndarray:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MaskWarning)
        mask = compute_epi_mask(mean, **settings)
    for warning in caught:
        log.warning("%s: %s", run, warning.message)
    return mask


def group_mask(
    means: Sequence[str],
    mask: str,
    mean_epi: str,
    *,
    runs: Sequence[str],
    source: str = "epi",
    brain_masks: Sequence[str] = (),
    lower_cutoff: float = 0.2,
    upper_cutoff: float = 0.85,
    opening: int = 2,
    threshold: float = 0.5,
) -> None:
    """Every run's brain mask, their combination, and the mean of the runs' mean images.

    Runs are read one at a time: memory does not grow with their number.

    Parameters
    ----------
    means : sequence of path-like
        Each run's mean image (in the order of ``runs``).
    mask : path-like
        Output: 3D uint8 group mask.
    mean_epi : path-like
        Output: 3D float32 mean of the runs' mean images (figure background).
    runs : sequence of str
        Run names, for messages.
    source : {"epi", "fmriprep"}, default="epi"
        "epi": each run's EPI mask from its mean image (the reference), combined by
        :func:`netregions.masking.majority_mask` with ``threshold``; "fmriprep": the strict
        intersection of the runs' ``brain_masks``.
    brain_masks : sequence of path-like
        fMRIPrep brain masks, one per run (``source="fmriprep"`` only).
    lower_cutoff, upper_cutoff, opening
        See :func:`netregions.masking.compute_epi_mask`.
    threshold : float, default=0.5
        "epi" only: a voxel is kept when it is in more than this fraction of the run masks.

    Raises
    ------
    InputDataError
        Runs on different grids, or an empty group mask (naming each run's mask size).
    """
    import nibabel as nib

    if source not in MASK_SOURCES:
        raise ValueError(f"mask source must be one of {MASK_SOURCES}; got {source!r}")
    if source == "fmriprep" and len(brain_masks) != len(runs):
        raise ValueError(f"{len(brain_masks)} brain masks for {len(runs)} runs")
    grid, count, total, sizes = _Grid(), None, None, []
    for i, (run, path) in enumerate(zip(runs, means, strict=True)):
        img = nib.load(path)
        grid.check(img, run, path)
        run_mean = np.asanyarray(img.dataobj)
        if source == "epi":
            run_mask = _epi_mask(
                run_mean, run, lower_cutoff=lower_cutoff, upper_cutoff=upper_cutoff, opening=opening
            )
        else:
            brain = nib.load(brain_masks[i])
            grid.check(brain, run, brain_masks[i])
            run_mask = np.asanyarray(brain.dataobj) > 0
        if count is None:
            count = np.zeros(img.shape, dtype=np.int32)
            total = np.zeros(img.shape, dtype=np.float64)
        count += run_mask
        total += run_mean
        sizes.append(f"{run}: {int(run_mask.sum())}")
    if source == "epi":
        combined = majority_mask(count, len(runs), threshold)
        rule = f"no voxel is in more than {threshold:.0%} of the run masks"
    else:
        combined = count == len(runs)
        rule = "the runs' brain masks have no voxel in common"
    if not combined.any():
        raise InputDataError(
            f"the group mask is empty: {rule} (voxels per run mask: {', '.join(sizes)})"
        )
    log.info("group mask: %d voxels from %d runs (%s)", combined.sum(), len(runs), source)
    save_nifti(combined.astype(np.uint8), grid.affine, mask)
    save_nifti((total / len(runs)).astype(np.float32), grid.affine, mean_epi)
