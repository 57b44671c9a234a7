"""Rule ``dual_regression``: a run's own network maps and time courses (FSL-style)."""

from __future__ import annotations

import logging

import numpy as np

import netregions
from netregions.bids import COMPONENTS_PATH, MASK_PATH, bids_uri, write_json
from netregions.dualreg import GRAND_MEAN
from netregions.io import load_image, save_nifti, write_tsv
from netregions.steps._common import (
    check_grid,
    dummy_volumes_of,
    json_safe,
    read_json,
    read_mask,
)

__all__ = ["dual_regression", "network_column"]

log = logging.getLogger("netregions")


def network_column(network: int) -> str:
    """Column of a network's time course: ``network_03`` for network 3 (0-based)."""
    return f"network_{network:02d}"


def _sidecar(names, kept: np.ndarray, n_volumes: int, t_r: float, detrend: bool) -> dict:
    """Sidecar of the stage-1 time courses (``*_desc-dualreg_timeseries.json``)."""
    cleaning = ", then detrended per voxel" if detrend else ""
    return {
        "Description": (
            "Dual regression, stage 1: each row is the least-squares fit of the group network "
            "maps to one volume of the run (its smoothed in-mask data scaled so that their mean "
            f"over voxels and volumes is {GRAND_MEAN:g}{cleaning}; maps and volumes demeaned "
            "over voxels). Row i is volume VolumesKept[i] of the run: its dummy scans are left "
            "out; no confound is regressed and nothing is censored or filtered. Column "
            "network_<k> is network k, 0-based: volume k of group/components.nii.gz, and of this "
            "run's desc-dualreg_components.nii.gz."
        ),
        "SamplingFrequency": 1.0 / t_r,
        "RepetitionTime": t_r,
        "NumberOfVolumes": int(n_volumes),
        "NumberOfVolumesKept": len(kept),
        "VolumesKept": [int(i) for i in kept],
        **{
            name: {"Description": f"Time course of network {k} (0-based)"}
            for k, name in enumerate(names)
        },
        "GrandMeanScaling": GRAND_MEAN,
        "Detrend": detrend,
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
    confounds: str | None = None,
    *,
    run: str,
    detrend: bool = True,
) -> None:
    """Stage 1 (group maps → the run's time courses), stage 2 (→ the run's maps).

    The run's data are its smoothed in-mask series without its dummy scans and without the
    voxels that are constant in it (outside its field of view; 0 in its maps), scaled to a mean
    intensity of 100 (:func:`netregions.dualreg.grand_mean_scale`) and detrended per voxel as
    for the reduction; voxels are not standardised, so that with the time courses scaled to
    unit variance in stage 2 (FSL's ``--des_norm``) a map carries the network's amplitude, in
    percent of the run's mean intensity (docs/methods/stability.md, Dual regression). Maps and
    volumes are demeaned over voxels in stage 1, time courses and voxel series over time in
    stage 2, as FSL's ``dual_regression`` does.

    Parameters
    ----------
    smoothed : path-like
        The run's smoothed in-mask series (``preprocess_subject``), every acquired volume.
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
        row per volume after the dummy scans.
    timecourses_json : path-like
        Output: its sidecar (sampling, the volumes kept, what the columns are, sources).
    confounds : path-like, optional
        The run's confounds table, for its non-steady-state volumes (none without it).
    run : str
    detrend : bool, default=True
        Remove each voxel's linear trend after the scaling (``decomposition.detrend``).

    Raises
    ------
    ValueError
        Naming the run: series that do not fit the group mask, a run whose mean intensity is
        not positive, or a regression that has no unique solution (too few volumes, dependent
        maps).
    """
    from netregions.dualreg import dual_regression as regress
    from netregions.dualreg import grand_mean_scale
    from netregions.masking import unmask
    from netregions.signal import detrend as remove_trends

    mask_data, affine = read_mask(mask)
    group_maps, _ = load_image(components, run)
    check_grid(group_maps.shape, mask_data, "network maps", run)
    in_mask = group_maps[mask_data].T  # (n_components, n_voxels)
    series = np.load(smoothed)
    if series.shape[1] != in_mask.shape[1]:
        raise ValueError(
            f"{run}: {series.shape[1]} voxels in the series, {in_mask.shape[1]} in the group mask"
        )
    n_volumes = series.shape[0]
    kept = np.flatnonzero(~dummy_volumes_of(confounds, n_volumes, run))
    steady = series[kept] if kept.size < n_volumes else series
    del series  # the scaled float64 copy is the only one the regressions need
    # as FSL: only voxels with a signal (a voxel outside the run's field of view is constant)
    varying = np.ptp(steady, axis=0) > 0
    if not varying.all():
        log.info("%s: %d constant voxel(s) of the group mask left out", run, (~varying).sum())
    try:
        data = grand_mean_scale(steady if varying.all() else steady[:, varying])
        del steady
        if detrend:
            remove_trends(data, inplace=True)
        tcs, fitted = regress(data, in_mask[:, varying], des_norm=True)
    except ValueError as exc:
        raise ValueError(f"{run}: {exc}") from exc
    subject_maps = np.zeros(in_mask.shape, np.float32)
    subject_maps[:, varying] = fitted
    save_nifti(unmask(subject_maps, mask_data), affine, maps)
    names = [network_column(k) for k in range(tcs.shape[1])]
    write_tsv(timecourses, tcs.astype(np.float32), names)
    t_r = float(read_json(stats)["t_r"])
    sidecar = _sidecar(names, kept, n_volumes, t_r, detrend)
    write_json(timecourses_json, json_safe(sidecar))
