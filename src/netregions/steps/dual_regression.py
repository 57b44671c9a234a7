"""Rule ``dual_regression``: a run's own network maps and time courses (FSL-style)."""

from __future__ import annotations

import numpy as np

import netregions
from netregions.bids import COMPONENTS_PATH, MASK_PATH, bids_uri, write_json
from netregions.io import load_image, save_nifti, write_tsv
from netregions.steps._common import check_grid, json_safe, read_json, read_mask

__all__ = ["dual_regression", "network_column"]


def network_column(network: int) -> str:
    """Column of a network's time course: ``network_03`` for network 3 (0-based)."""
    return f"network_{network:02d}"


def _sidecar(names, n_volumes: int, t_r: float, detrend: bool, standardize) -> dict:
    """Sidecar of the stage-1 time courses (``*_desc-dualreg_timeseries.json``)."""
    return {
        "Description": (
            "Dual regression, stage 1: each row is the least-squares fit of the group network "
            "maps to one volume of the run (its smoothed in-mask data, detrended and "
            "standardised per voxel; maps and volumes demeaned over voxels). Every acquired "
            "volume is a row, dummy scans and censored volumes included: no confound is "
            "regressed and nothing is censored or filtered. Column network_<k> is network k, "
            "0-based: volume k of group/components.nii.gz, and of this run's "
            "desc-dualreg_components.nii.gz."
        ),
        "SamplingFrequency": 1.0 / t_r,
        "RepetitionTime": t_r,
        "NumberOfVolumes": int(n_volumes),
        **{
            name: {"Description": f"Time course of network {k} (0-based)"}
            for k, name in enumerate(names)
        },
        "Detrend": detrend,
        "Standardize": standardize,
        "Sources": [bids_uri(COMPONENTS_PATH), bids_uri(MASK_PATH)],
        "Software": "netregions",
        "SoftwareVersion": netregions.__version__,
    }


def dual_regression(
    smoothed: str,
    components: str,
    mask: str,
    stats: str,
    maps: str,
    timecourses: str,
    timecourses_json: str,
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
    stats : path-like
        The run's statistics JSON (``load_subject``): its repetition time.
    maps : path-like
        Output: 4D float32 NIfTI, the run's map of each network (stage 2 betas).
    timecourses : path-like
        Output TSV: the stage-1 time course of each network (header ``network_00``, ...), one
        row per acquired volume.
    timecourses_json : path-like
        Output: its sidecar (sampling, what the rows and columns are, sources).
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
    names = [network_column(k) for k in range(tcs.shape[1])]
    write_tsv(timecourses, tcs.astype(np.float32), names)
    t_r = float(read_json(stats)["t_r"])
    sidecar = _sidecar(names, len(tcs), t_r, detrend, standardize)
    write_json(timecourses_json, json_safe(sidecar))
