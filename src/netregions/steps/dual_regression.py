"""Rule ``dual_regression``: a run's own network maps and time courses (FSL-style)."""

from __future__ import annotations

import numpy as np

from netregions.io import load_image, save_nifti, write_tsv
from netregions.steps._common import check_grid, read_mask

__all__ = ["dual_regression"]


def dual_regression(
    smoothed: str,
    components: str,
    mask: str,
    maps: str,
    timecourses: str,
    *,
    run: str,
    detrend: bool = True,
    standardize: str | None = "zscore_sample",
) -> None:
    """Stage 1 (group maps → the run's time courses), stage 2 (→ the run's maps).

    The run's data are its smoothed in-mask series (every volume), detrended and standardised
    per voxel as for the reduction. Maps and volumes are demeaned
    over voxels in stage 1; time courses and voxel series are demeaned over time and the time
    courses scaled to unit variance in stage 2 (FSL's ``--des_norm``), so a map carries the
    network's amplitude (docs/methods/stability.md, Dual regression).

    Parameters
    ----------
    smoothed : path-like
        The run's smoothed in-mask series (``preprocess_subject``).
    components : path-like
        Group network maps (4D NIfTI).
    mask : path-like
        Group mask.
    maps : path-like
        Output: 4D float32 NIfTI, the run's map of each network (stage 2 betas).
    timecourses : path-like
        Output TSV: the stage-1 time course of each network (header ``network_00``, ...), one
        row per volume.
    run : str
    detrend, standardize
        Cleaning of the voxel series before the regressions.
    """
    from netregions.dualreg import dual_regression as regress
    from netregions.signal import clean

    mask_data, affine = read_mask(mask)
    group_maps, _ = load_image(components, run)
    check_grid(group_maps.shape, mask_data, "network maps", run)
    in_mask = group_maps[mask_data].T  # (n_components, n_voxels)
    series = clean(np.load(smoothed), detrend=detrend, standardize=standardize)
    if series.shape[1] != in_mask.shape[1]:
        raise ValueError(
            f"{run}: {series.shape[1]} voxels in the series, {in_mask.shape[1]} in the group mask"
        )
    tcs, subject_maps = regress(series, in_mask, des_norm=True)
    from netregions.masking import unmask

    save_nifti(unmask(subject_maps.astype(np.float32), mask_data), affine, maps)
    names = [f"network_{k:02d}" for k in range(tcs.shape[1])]
    write_tsv(timecourses, tcs.astype(np.float32), names)
