"""Rule ``qcfc``: how much connectivity still tracks motion, per connectivity kind."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from netregions.exceptions import InputDataError
from netregions.io import atomic_path, read_table, write_table
from netregions.naming import kind_file_name
from netregions.qcfc import MISSING_CELLS, Covariates, encode_covariates, min_subjects

__all__ = ["QCFC_COLUMNS", "covariate_cells", "covariate_problems", "qcfc"]

log = logging.getLogger("netregions")

#: Columns of ``group/qcfc.tsv``: the contract's first, then what the covariates add.
QCFC_COLUMNS = (
    "kind",
    "n_subjects",
    "median_abs_qcfc",
    "pct_p05",
    "pct_fdr05",
    "distance_dependence",
    "covariates",
    "n_missing_covariates",
)


def covariate_cells(
    table: Mapping[str, Mapping[str, str]],
    covariates: Sequence[str],
    subjects: Sequence[str],
    participants: str,
) -> dict[str, list[str]]:
    """Each covariate's cells, one per subject (order of ``subjects``).

    Parameters
    ----------
    table : mapping
        The participants table of ``subjects``, as :func:`netregions.bids.read_participants`
        returns it.
    covariates : sequence of str
        ``qcfc.covariates``.
    subjects : sequence of str
        Subject labels (without ``sub-``), each a key of ``table``.
    participants : path-like
        Where the table was read, for the message.

    Raises
    ------
    InputDataError
        The table lacks a covariate column (naming the file, the column and the columns it
        has).
    """
    from netregions.bids import require_columns

    if subjects:
        require_columns(list(table[subjects[0]]), covariates, "qcfc.covariates", participants)
    return {column: [table[s][column] for s in subjects] for column in covariates}


def covariate_problems(
    table: Mapping[str, Mapping[str, str]],
    covariates: Sequence[str],
    subjects: Sequence[str],
    participants: str,
) -> list[str]:
    """What would stop the QC-FC covariates, found before any heavy job (one line each).

    Checks every subject with a value, not only those QC keeps: a missing column, a column
    with a single value, a column mixing numbers and text. Arguments as
    :func:`covariate_cells`.
    """
    try:
        cells = covariate_cells(table, covariates, subjects, participants)
    except InputDataError as exc:
        return [str(exc)]
    problems = []
    for column, values in cells.items():
        present = [v for v in values if v.strip() not in MISSING_CELLS]
        try:
            encode_covariates({column: present})
        except ValueError as exc:
            problems.append(f"qcfc.covariates: {exc} ({participants})")
    return problems


def _known(cells: dict[str, list[str]], n_subjects: int) -> np.ndarray:
    """Which subjects have a value in every covariate column."""
    missing = np.zeros(n_subjects, dtype=bool)
    for values in cells.values():
        missing |= np.array([v.strip() in MISSING_CELLS for v in values], dtype=bool)
    return ~missing


def _with_covariates(
    participants: str | None,
    covariates: Sequence[str],
    subjects: Sequence[str],
    usable: np.ndarray,
) -> tuple[np.ndarray, Covariates | None]:
    """The subjects QC-FC uses (``usable`` and every covariate known), and their covariates.

    Raises
    ------
    InputDataError
        No participants table, a missing column, or a covariate that does not vary among the
        subjects used (naming the table and the column).
    """
    if not covariates:
        return usable, None
    if not participants:
        raise InputDataError(f"qcfc.covariates {list(covariates)} need a participants table")
    from netregions.bids import read_participants

    table = read_participants(participants, sorted(set(subjects)))
    cells = covariate_cells(table, covariates, subjects, participants)
    known = _known(cells, len(subjects))
    if not known.all():
        lost = [s for s, k in zip(subjects, known, strict=True) if not k]
        log.warning(
            "QC-FC: %d subject(s) left out for a missing value (n/a) in %s of %s: sub-%s",
            len(lost), ", ".join(covariates), participants, ", sub-".join(lost),
        )  # fmt: skip
    keep = usable & known
    try:
        design = encode_covariates(
            {c: [v[i] for i in np.flatnonzero(keep)] for c, v in cells.items()}
        )
    except ValueError as exc:
        raise InputDataError(f"qcfc.covariates: {exc} ({participants})") from exc
    references = "".join(f"; {c}: reference level {r!r}" for c, r in design.references.items())
    log.info("QC-FC: partial correlation removing %s%s", ", ".join(design.names), references)
    return keep, design


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
    participants: str | None = None,
    *,
    runs: Sequence[str],
    subjects: Sequence[str],
    kinds: Sequence[str],
    covariates: Sequence[str] = (),
) -> None:
    """QC-FC of every connectivity kind: edge-wise correlation with mean FD across subjects.

    Each subject's connectome of a kind is the mean of its runs' (Fisher z for
    correlations); tangent matrices are taken at the geometric mean of every subject (a
    description of the data, not a prediction, so no cross-validation is needed). With
    ``covariates``, QC-FC is the partial correlation removing them
    (:func:`netregions.qcfc.qcfc`).

    Parameters
    ----------
    timeseries : sequence of path-like
        Time-series tables of the included runs (order of ``runs``).
    qc : path-like
        ``group/qc.tsv`` (each run's mean FD).
    regions : path-like
        ``group/regions.tsv`` (region centres, for the distance dependence).
    table : path-like
        Output TSV, one row per kind: ``kind``, ``n_subjects`` (with a mean FD and every
        covariate), ``median_abs_qcfc``, ``pct_p05`` (% of edges with p < 0.05),
        ``pct_fdr05`` (% after Benjamini-Hochberg), ``distance_dependence`` (Spearman rho of
        QC-FC against the distance between region centres), ``covariates`` (the regressors
        removed, e.g. ``age,sex[M]``; ``none``) and ``n_missing_covariates`` (subjects with a
        mean FD left out for a missing covariate).
    values : path-like
        Output ``.npz``: the QC-FC of every edge per kind, and the edge distances (for the
        figure).
    participants : path-like, optional
        participants.tsv; needed with ``covariates``.
    runs, subjects : sequence of str
    kinds : sequence of str
    covariates : sequence of str
        participants.tsv columns to remove (``qcfc.covariates``): numeric columns as they are,
        other columns dummy-coded (:func:`netregions.qcfc.encode_covariates`); subjects with
        ``n/a`` in one are left out. Empty: plain correlation.

    Raises
    ------
    InputDataError
        Covariates without a participants table, a column the table lacks, or a covariate
        that does not vary among the subjects used.
    """
    from netregions.comparison import sym_matrix_to_vec
    from netregions.connectome import subject_connectomes
    from netregions.qcfc import edge_distances, qcfc_summary
    from netregions.qcfc import qcfc as edge_qcfc
    from netregions.steps.connectivity import subject_covariances

    _, covariances = subject_covariances(timeseries, runs, subjects)
    motion = _subject_motion(qc, runs, subjects)
    fd = np.array([motion[s] for s in covariances])
    # subjects without a mean FD, or without a covariate, are left out
    keep, design = _with_covariates(participants, covariates, list(covariances), np.isfinite(fd))
    nuisance = None if design is None else design.values
    n_needed = min_subjects(0 if design is None else len(design.names))
    distances = edge_distances(_centres(regions))
    recorded = {
        "covariates": ",".join(design.names) if design else "none",
        "n_missing_covariates": int(np.sum(~keep & np.isfinite(fd))) if design else 0,
    }
    rows, arrays = [], {"distances": distances}
    for kind in kinds:
        matrices = subject_connectomes(list(covariances.values()), kind)
        edges = np.array([sym_matrix_to_vec(m, discard_diagonal=True) for m in matrices])
        row = {"kind": kind, "n_subjects": int(keep.sum()), **recorded}
        if keep.sum() >= n_needed:
            r, p = edge_qcfc(edges[keep], fd[keep], nuisance)
            row.update(qcfc_summary(r, p, distances))
            arrays[kind_file_name(kind)] = r
        else:
            log.warning(
                "%s: QC-FC needs %d subjects or more with a mean FD%s; skipped",
                kind, n_needed, " and every covariate" if design else "",
            )  # fmt: skip
        rows.append(row)
    write_table(table, rows, QCFC_COLUMNS)
    with atomic_path(values) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
