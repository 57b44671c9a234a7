"""Rule ``subject_timeseries``: a run's region signals, denoised, and its connectomes."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

import netregions
from netregions.bids import ATLAS_PATH, REGION_MAPS_PATH, bids_uri, derivative_path, write_json
from netregions.io import write_tsv
from netregions.steps._common import json_safe, read_json

__all__ = ["RELATIONSHIP_MEASURES", "node_sources", "relmat_sidecar", "subject_timeseries"]

log = logging.getLogger("netregions")

#: How each kind's matrix is described in its BIDS sidecar (RelationshipMeasure).
RELATIONSHIP_MEASURES = {
    "correlation": "Pearson correlation coefficient",
    "partial correlation": "Partial correlation coefficient",
    "covariance": "Covariance",
    "precision": "Precision (inverse covariance)",
    "tangent": "Tangent-space deviation from the group's geometric mean covariance",
}


def node_sources() -> list[str]:
    """``Sources`` naming the nodes of a run's signals: the region maps, then the atlas.

    The signals are least-squares fits of the weighted (possibly overlapping) region maps;
    the atlas is the same regions as labels, each voxel given to its strongest map
    (docs/methods/bids.md, Nodes).
    """
    return [bids_uri(REGION_MAPS_PATH), bids_uri(ATLAS_PATH)]


def relmat_sidecar(
    kind: str, regions: Sequence[str], *, run: str, n_volumes: int, n_kept: int
) -> dict:
    """BIDS sidecar of a relationship matrix (``*_relmat.json``).

    Parameters
    ----------
    kind : str
        A key of :data:`RELATIONSHIP_MEASURES`.
    regions : sequence of str
        Region ids, the matrix's header (``NodeNames``).
    run : str
        Run name: its time series (``Sources``) is
        ``<run>_seg-netregions_timeseries.tsv``.
    n_volumes, n_kept : int
        Volumes acquired (``NumberOfVolumes``, as in the time series' sidecar) and volumes
        left after dummy scans and censoring, from which the matrix is estimated
        (``NumberOfVolumesKept``).

    Returns
    -------
    dict
    """
    timeseries = derivative_path(run, "timeseries", ".tsv", seg="netregions")
    return {
        "RelationshipMeasure": RELATIONSHIP_MEASURES[kind],
        "Weighted": True,
        "Directed": False,
        "ValidDiagonal": kind not in ("correlation", "partial correlation"),
        "StorageFormat": "Full",
        "CovarianceEstimator": "Ledoit-Wolf",
        "NumberOfVolumes": int(n_volumes),
        "NumberOfVolumesKept": int(n_kept),
        "NodeNames": list(regions),
        "Sources": [bids_uri(timeseries), *node_sources()],
        "Software": "netregions",
        "SoftwareVersion": netregions.__version__,
    }


def _region_series(
    smoothed: str, region_maps: str, bold: str | None, mask: str | None, fwhm, run: str
) -> np.ndarray:
    """Region signals (n_volumes, n_regions) from the kept in-mask series, or from the run.

    With a different smoothing than the decomposition's, the run is decoded and smoothed
    again (``bold`` and ``mask`` given); otherwise the preprocessing step's series is used.
    """
    from netregions.signal import region_signals

    if bold is not None:
        from netregions.steps._common import read_mask
        from netregions.steps.preprocess_subject import masked_series

        mask_data, affine = read_mask(mask)
        series = masked_series(bold, mask_data, affine, fwhm, run)
    else:
        series = np.load(smoothed)
    maps = np.load(region_maps)
    if maps.shape[0] != series.shape[1]:
        raise ValueError(
            f"{run}: {series.shape[1]} in-mask voxels in the series, {maps.shape[0]} in the "
            "region maps: the group mask changed without this run being preprocessed again"
        )
    return region_signals(series, maps.astype(series.dtype, copy=False))


def subject_timeseries(
    smoothed: str,
    region_maps: str,
    stats: str,
    timeseries: str,
    timeseries_json: str,
    relmats: Sequence[str],
    relmat_jsons: Sequence[str],
    *,
    run: str,
    kinds: Sequence[str],
    confounds: str | None = None,
    bold: str | None = None,
    mask: str | None = None,
    smoothing_fwhm: float | None = None,
    strategy: str = "columns",
    columns: Sequence[str] | None = None,
    fd_threshold: float | None = None,
    std_dvars_threshold: float | None = None,
    high_pass: float | None = None,
    low_pass: float | None = None,
    detrend: bool = False,
    standardize: str | None = "zscore_sample",
    standardize_confounds: bool = True,
) -> None:
    """Region signals of one run, denoised, as a BIDS time-series table, and its connectomes.

    Parameters
    ----------
    smoothed : path-like
        The run's smoothed in-mask series (``preprocess_subject``).
    region_maps : path-like
        Region maps inside the group mask, (n_voxels, n_regions) (``extract_regions``).
    stats : path-like
        The run's statistics JSON (``load_subject``): its repetition time.
    timeseries, timeseries_json : path-like
        Outputs: one column per region (header = region ids 1..R), one row per *kept* volume;
        and its sidecar (sampling frequency, volumes kept, dummy and censored volumes,
        confound strategy and columns, filters, the nodes' files, software version).
    relmats, relmat_jsons : sequence of path-like
        Outputs, one per kind of ``kinds`` (same order): the run's n_regions × n_regions
        matrix (header = region ids) and its sidecar (:func:`relmat_sidecar`).
    run : str
    kinds : sequence of str
        Single-run connectivity kinds (not "tangent").
    confounds : path-like, optional
        The run's confounds table (fMRIPrep or reduced).
    bold, mask, smoothing_fwhm
        Given together when the time series need another smoothing than the decomposition:
        the run is decoded and smoothed with ``smoothing_fwhm`` inside ``mask``.
    strategy, columns, fd_threshold, std_dvars_threshold
        Denoising strategy and censoring (:func:`netregions.confounds.build_design`).
    high_pass, low_pass : float, optional
        Butterworth cut-offs in Hz.
    detrend, standardize, standardize_confounds
        See :func:`netregions.signal.clean`.
    """
    from netregions.confounds import load_design
    from netregions.connectome import connectivity_from_covariance, ledoit_wolf
    from netregions.signal import clean

    t_r = float(read_json(stats)["t_r"])
    signals = _region_series(smoothed, region_maps, bold, mask, smoothing_fwhm, run)
    design = load_design(
        confounds, signals.shape[0], run, strategy=strategy, columns=columns,
        fd_threshold=fd_threshold, std_dvars_threshold=std_dvars_threshold, t_r=t_r,
    )  # fmt: skip
    keep = None if design is None or design.sample_mask.all() else design.sample_mask
    _check_degrees_of_freedom(design, signals.shape[0], detrend, run)
    try:
        cleaned = clean(
            signals,
            detrend=detrend,
            standardize=standardize,
            confounds=None if design is None else design.confounds,
            standardize_confounds=standardize_confounds,
            sample_mask=keep,
            t_r=t_r,
            high_pass=high_pass,
            low_pass=low_pass,
        )
    except ValueError as exc:  # e.g. too few volumes left to filter: say which run
        raise ValueError(f"{run}: {exc}") from exc
    regions = [str(i + 1) for i in range(cleaned.shape[1])]
    write_tsv(timeseries, cleaned, regions)
    sidecar = _timeseries_sidecar(design, signals.shape[0], t_r, strategy, high_pass, low_pass)
    sidecar.update(
        Detrend=detrend, Standardize=standardize, NodeNames=regions, Sources=node_sources()
    )
    write_json(timeseries_json, json_safe(sidecar))
    log.info("%s: %d of %d volumes kept, %d regions", run, len(cleaned), len(signals), len(regions))
    if len(kinds) != len(relmats) or len(kinds) != len(relmat_jsons):
        raise ValueError(f"{len(relmats)} relmat outputs for kinds {list(kinds)}")
    covariance, _ = ledoit_wolf(cleaned)
    for kind, matrix_path, json_path in zip(kinds, relmats, relmat_jsons, strict=True):
        write_tsv(matrix_path, connectivity_from_covariance(covariance, kind), regions)
        sidecar = relmat_sidecar(
            kind, regions, run=run, n_volumes=len(signals), n_kept=len(cleaned)
        )
        write_json(json_path, sidecar)


def _check_degrees_of_freedom(design, n_volumes: int, detrend: bool, run: str) -> None:
    """Refuse a run whose cleaned series would leave its connectomes nothing to estimate."""
    from netregions.confounds import MIN_RESIDUAL_DIMENSIONS, residual_dimensions

    n_kept = n_volumes if design is None else int(design.sample_mask.sum())
    has_confounds = design is not None and design.confounds is not None
    n_confounds = design.confounds.shape[1] if has_confounds else 0
    left = residual_dimensions(n_kept, n_confounds, detrend)
    if left < MIN_RESIDUAL_DIMENSIONS:
        trend = ", a linear trend (timeseries.detrend)" if detrend else ""
        raise ValueError(
            f"{run}: {n_kept} volumes kept after censoring, {n_confounds} confound columns"
            f"{trend} and the mean leave {max(left, 0)} dimension(s) in the cleaned series, "
            f"fewer than {MIN_RESIDUAL_DIMENSIONS}: every correlation would be +1 or -1; "
            "exclude such runs (qc.max_censored_fraction or qc.min_usable_minutes) or use "
            "fewer confounds"
        )


def _timeseries_sidecar(design, n_volumes, t_r, strategy, high_pass, low_pass) -> dict:
    kept = np.arange(n_volumes) if design is None else np.flatnonzero(design.sample_mask)
    return {
        "SamplingFrequency": 1.0 / t_r,
        "RepetitionTime": t_r,
        "NumberOfVolumes": int(n_volumes),
        "NumberOfVolumesKept": int(kept.size),
        "VolumesKept": kept.tolist(),
        "DummyVolumes": 0 if design is None else int(design.n_dummy),
        "CensoredVolumes": [] if design is None else np.flatnonzero(design.censored).tolist(),
        "ConfoundStrategy": strategy,
        "ConfoundColumns": [] if design is None else list(design.names),
        "DegreesOfFreedom": int(kept.size) - (0 if design is None else len(design.names)),
        "HighPass": high_pass,
        "LowPass": low_pass,
        "Software": "netregions",
        "SoftwareVersion": netregions.__version__,
    }
