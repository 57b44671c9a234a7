"""Rule ``connectivity``: the group connectome of one kind (one job per kind)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from netregions.exceptions import InputDataError
from netregions.io import read_tsv, save_array, write_tsv

__all__ = ["connectivity", "read_series", "subject_covariances"]

log = logging.getLogger("netregions")


def read_series(path: str, run: str) -> tuple[list[str], np.ndarray]:
    """A run's time-series table as (region ids, float32 series (n_volumes, n_regions))."""
    header, data = read_tsv(path)
    if data.shape[0] < 2:
        raise InputDataError(f"{run}: {path} has {data.shape[0]} volume(s); at least 2 needed")
    if data.shape[1] != len(header):
        raise InputDataError(f"{run}: {path} has {data.shape[1]} columns but {len(header)} names")
    return header, data.astype(np.float32)


def subject_covariances(
    timeseries: Sequence[str], runs: Sequence[str], subjects: Sequence[str]
) -> tuple[list[str], dict[str, list[np.ndarray]]]:
    """Ledoit-Wolf covariance of every run, grouped by subject (in the given order).

    Returns
    -------
    regions : list of str
        Region ids (the same for every run, else InputDataError naming the run).
    covariances : dict
        ``{subject: [covariance of each of its runs]}``.
    """
    from netregions.connectome import ledoit_wolf

    regions: list[str] | None = None
    covariances: dict[str, list[np.ndarray]] = {}
    for path, run, subject in zip(timeseries, runs, subjects, strict=True):
        header, series = read_series(path, run)
        if regions is None:
            regions, first = header, run
        elif header != regions:
            raise InputDataError(
                f"{run}: region columns of {path} differ from those of {first} "
                f"({len(header)} vs {len(regions)} regions)"
            )
        covariance, shrinkage = ledoit_wolf(series)
        log.info("%s: %d volumes, Ledoit-Wolf shrinkage %.4g", run, len(series), shrinkage)
        covariances.setdefault(subject, []).append(covariance)
    if regions is None:
        raise ValueError("no time series given")
    return regions, covariances


def connectivity(
    timeseries: Sequence[str],
    mean: str,
    reference: str,
    *,
    kind: str,
    runs: Sequence[str],
    subjects: Sequence[str],
) -> None:
    """The group connectome of one kind: one matrix per subject (runs averaged), then the mean.

    Parameters
    ----------
    timeseries : sequence of path-like
        Time-series tables of the included runs, in the order of ``runs``.
    mean : path-like
        Output TSV (header = region ids): the mean over subjects of each subject's matrix, in
        Fisher z for correlations (:func:`netregions.connectome.group_mean`); for "tangent",
        the geometric mean of the subjects' covariances (the tangent space's origin).
    kind : str
        A connectivity kind of :data:`netregions.connectome.KINDS`.
    runs, subjects : sequence of str
        Run names and their subjects (same order as ``timeseries``).
    reference : path-like
        Output ``.npy``: for "tangent", the whitening matrix ``G^(-1/2)`` of the geometric
        mean, which each run's tangent job uses; for the other kinds, the group matrix.
    """
    from netregions.connectome import (
        group_mean,
        mean_covariances,
        subject_connectomes,
        tangent_space,
    )

    regions, covariances = subject_covariances(timeseries, runs, subjects)
    by_subject = list(covariances.values())
    if kind == "tangent":
        if len(by_subject) < 2:
            raise ValueError(f"the 'tangent' kind needs at least 2 subjects; got {len(by_subject)}")
        geometric, whitening, _ = tangent_space(mean_covariances(by_subject))
        write_tsv(mean, geometric, regions)
        save_array(whitening, reference)
    else:
        matrix = group_mean(subject_connectomes(by_subject, kind), kind)
        write_tsv(mean, matrix, regions)
        save_array(matrix, reference)
    log.info("%s: %d subjects, %d runs", kind, len(covariances), len(runs))
