"""Rule ``qcfc``: how much connectivity still tracks motion, per connectivity kind."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from netregions.io import atomic_path, read_table, write_table
from netregions.naming import kind_file_name

__all__ = ["qcfc"]

log = logging.getLogger("netregions")


def _subject_motion(qc: str, runs: Sequence[str], subjects: Sequence[str]) -> dict[str, float]:
    """Mean FD of each subject: the mean over its runs of each run's mean FD."""
    by_run = {row["run"]: row["mean_fd"] for row in read_table(qc)}
    values: dict[str, list[float]] = {}
    for run, subject in zip(runs, subjects, strict=True):
        fd = by_run.get(run, "n/a")
        values.setdefault(subject, []).append(np.nan if fd == "n/a" else float(fd))
    return {subject: float(np.mean(fds)) for subject, fds in values.items()}


def _centres(regions: str) -> np.ndarray:
    return np.array([[float(r[c]) for c in "xyz"] for r in read_table(regions)])


def qcfc(
    timeseries: Sequence[str],
    qc: str,
    regions: str,
    table: str,
    values: str,
    *,
    runs: Sequence[str],
    subjects: Sequence[str],
    kinds: Sequence[str],
) -> None:
    """QC-FC of every connectivity kind: edge-wise correlation with mean FD across subjects.

    Each subject's connectome of a kind is the mean of its runs' (Fisher z for
    correlations); tangent matrices are taken at the geometric mean of every subject (a
    description of the data, not a prediction, so no cross-validation is needed).

    Parameters
    ----------
    timeseries : sequence of path-like
        Time-series tables of the included runs (order of ``runs``).
    qc : path-like
        ``group/qc.tsv`` (each run's mean FD).
    regions : path-like
        ``group/regions.tsv`` (region centres, for the distance dependence).
    table : path-like
        Output TSV, one row per kind: ``kind``, ``n_subjects``, ``median_abs_qcfc``,
        ``pct_p05`` (% of edges with p < 0.05), ``pct_fdr05`` (% after Benjamini-Hochberg),
        ``distance_dependence`` (Spearman rho of QC-FC against the distance between region
        centres).
    values : path-like
        Output ``.npz``: the QC-FC of every edge per kind, and the edge distances (for the
        figure).
    runs, subjects : sequence of str
    kinds : sequence of str
    """
    from netregions.comparison import sym_matrix_to_vec
    from netregions.connectome import subject_connectomes
    from netregions.qcfc import edge_distances, qcfc_summary
    from netregions.qcfc import qcfc as edge_qcfc
    from netregions.steps.connectivity import subject_covariances

    _, covariances = subject_covariances(timeseries, runs, subjects)
    motion = _subject_motion(qc, runs, subjects)
    fd = np.array([motion[s] for s in covariances])
    distances = edge_distances(_centres(regions))
    rows, arrays = [], {"distances": distances}
    for kind in kinds:
        matrices = subject_connectomes(list(covariances.values()), kind)
        edges = np.array([sym_matrix_to_vec(m, discard_diagonal=True) for m in matrices])
        n_with_fd = int(np.isfinite(fd).sum())  # subjects without a mean FD are left out
        row = {"kind": kind, "n_subjects": n_with_fd}
        if n_with_fd >= 3:
            r, p = edge_qcfc(edges, fd)
            row.update(qcfc_summary(r, p, distances))
            arrays[kind_file_name(kind)] = r
        else:
            log.warning("%s: QC-FC needs 3 subjects or more with a mean FD; skipped", kind)
        rows.append(row)
    columns = ["kind", "n_subjects", "median_abs_qcfc", "pct_p05", "pct_fdr05",
               "distance_dependence"]  # fmt: skip
    write_table(table, rows, columns)
    with atomic_path(values) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
