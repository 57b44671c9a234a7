"""Rule ``tangent_connectome``: one run's connectome in the group's tangent space."""

from __future__ import annotations

import numpy as np

from netregions.bids import write_json
from netregions.io import write_tsv
from netregions.steps._common import read_json
from netregions.steps.connectivity import read_series
from netregions.steps.subject_timeseries import relmat_sidecar

__all__ = ["tangent_connectome"]


def tangent_connectome(
    timeseries: str,
    timeseries_json: str,
    reference: str,
    relmat: str,
    relmat_json: str,
    *,
    run: str,
) -> None:
    """``logm(W C W)`` of the run's Ledoit-Wolf covariance C, W the group's whitening.

    Parameters
    ----------
    timeseries, timeseries_json : path-like
        The run's time-series table (its kept volumes) and its sidecar (the number of
        volumes acquired).
    reference : path-like
        ``.npy`` whitening matrix ``G^(-1/2)`` of the group's geometric mean covariance.
    relmat, relmat_json : path-like
        Outputs: the run's tangent matrix (header = region ids) and its BIDS sidecar.
    run : str
    """
    from netregions.connectome import ledoit_wolf, tangent_vector

    regions, series = read_series(timeseries, run)
    whitening = np.load(reference)
    covariance, _ = ledoit_wolf(series)
    write_tsv(relmat, tangent_vector(covariance, whitening).astype(series.dtype), regions)
    n_volumes = read_json(timeseries_json)["NumberOfVolumes"]
    sidecar = relmat_sidecar("tangent", regions, run=run, n_volumes=n_volumes, n_kept=len(series))
    write_json(relmat_json, sidecar)
