"""QC-FC: how much functional connectivity still tracks head motion across subjects.

For every edge, QC-FC is the correlation across subjects between the edge's connectivity and
the subjects' mean framewise displacement (FD), optionally a partial correlation that removes
covariates such as age and sex (:func:`encode_covariates` codes participants' columns as
numbers). After good denoising few edges correlate with motion, and the correlation does not
depend on the distance between the regions. Arrays in, arrays out; definitions and choices:
docs/methods/group_comparison.md, QC-FC.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from netregions.comparison import fdr_reject
from netregions.naming import MISSING_CELLS

__all__ = [
    "MISSING_CELLS",
    "Covariates",
    "distance_dependence",
    "edge_distances",
    "encode_covariates",
    "min_subjects",
    "qcfc",
    "qcfc_summary",
]

#: Uncorrected and FDR significance level of the summaries.
QCFC_ALPHA = 0.05


def _as_edges(edges: np.ndarray) -> np.ndarray:
    array = np.asarray(edges, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"edges must be (n_subjects, n_edges); got shape {array.shape}")
    return array


def _as_covariates(covariates: np.ndarray | None, n_subjects: int) -> np.ndarray:
    if covariates is None:
        return np.empty((n_subjects, 0))
    array = np.asarray(covariates, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, np.newaxis]
    if array.ndim != 2 or array.shape[0] != n_subjects:
        raise ValueError(
            f"covariates must be (n_subjects, n_covariates) with {n_subjects} subjects; "
            f"got shape {array.shape}"
        )
    return array


def _residualise(values: np.ndarray, covariates: np.ndarray) -> np.ndarray:
    """Residuals of the columns of ``values`` after least squares on [1, z-scored covariates]."""
    sd = covariates.std(axis=0)
    scaled = (covariates - covariates.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    design = np.column_stack([np.ones(len(values)), scaled])
    beta, *_ = np.linalg.lstsq(design, values, rcond=None)
    return values - design @ beta


def _pearson_columns(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r of every column of ``x`` with ``y`` and its two-sided p (df = n - 2)."""
    # Student's t survival function as scipy.stats.t.sf computes it, without scipy.stats,
    # whose import would be on the path of every rerun that reaches QC-FC
    from scipy.special import stdtr

    n = len(y)
    xc = x - x.mean(axis=0)
    yc = y - y.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc.T @ yc) / np.sqrt(np.sum(xc**2, axis=0) * np.sum(yc**2))
        r = np.clip(r, -1.0, 1.0)
        t = r * np.sqrt((n - 2) / (1.0 - r**2))
    p = 2.0 * stdtr(n - 2, -np.abs(t))
    return r, p


def min_subjects(n_covariates: int) -> int:
    """Fewest subjects a QC-FC with ``n_covariates`` regressors needs.

    Each covariate takes one dimension from the residuals: with fewer subjects than
    ``3 + n_covariates`` the residuals are collinear and r is +-1 whatever the data.
    """
    return 3 + int(n_covariates)


def _edge_qcfc(
    edges: np.ndarray, fd: np.ndarray, covariates: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """QC-FC of complete data (no NaN): residualise on the covariates, then Pearson."""
    if len(fd) < min_subjects(covariates.shape[1]):
        return np.full(edges.shape[1], np.nan), np.full(edges.shape[1], np.nan)
    if covariates.shape[1]:
        edges = _residualise(edges, covariates)
        fd = _residualise(fd[:, np.newaxis], covariates)[:, 0]
    return _pearson_columns(edges, fd)


def qcfc(
    edges: np.ndarray, mean_fd: np.ndarray, covariates: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Correlation across subjects between every edge and mean framewise displacement.

    Parameters
    ----------
    edges : ndarray, shape (n_subjects, n_edges)
        Each subject's edge values, e.g. ``sym_matrix_to_vec(matrix, discard_diagonal=True)``
        of its correlation matrix (raw r, as in the denoising benchmark). Not modified.
    mean_fd : ndarray, shape (n_subjects,)
        Each subject's mean FD.
    covariates : ndarray, shape (n_subjects, n_covariates) or (n_subjects,), optional
        Nuisance variables (age, sex coded as numbers, ...). They are z-scored; edges and FD
        are both residualised on them (with an intercept) by least squares, and the Pearson
        correlation of the residuals is returned: the partial correlation.

    Returns
    -------
    r : ndarray, shape (n_edges,)
        QC-FC of each edge; NaN where an edge is constant or fewer than ``3 + n_covariates``
        subjects remain.
    p : ndarray, shape (n_edges,)
        Two-sided p-value of r from Student's t with ``n - 2`` degrees of freedom, n being the
        subjects used. With covariates this ignores the degrees of freedom they use, as the
        denoising benchmark does (slightly liberal).

    Raises
    ------
    ValueError
        Shapes that do not match.

    Notes
    -----
    Subjects whose mean FD or a covariate is NaN are dropped for every edge; a subject with a
    NaN edge value is dropped for that edge only.
    """
    values = _as_edges(edges)
    fd = np.asarray(mean_fd, dtype=np.float64)
    if fd.shape != (values.shape[0],):
        raise ValueError(
            f"mean_fd must have one value per subject ({values.shape[0]}); got shape {fd.shape}"
        )
    nuisance = _as_covariates(covariates, len(fd))
    keep = np.isfinite(fd) & np.all(np.isfinite(nuisance), axis=1)
    values, fd, nuisance = values[keep], fd[keep], nuisance[keep]
    complete = np.all(np.isfinite(values), axis=0)
    r = np.full(values.shape[1], np.nan)
    p = np.full(values.shape[1], np.nan)
    r[complete], p[complete] = _edge_qcfc(values[:, complete], fd, nuisance)
    for edge in np.flatnonzero(~complete):
        rows = np.isfinite(values[:, edge])
        r_edge, p_edge = _edge_qcfc(values[rows, edge : edge + 1], fd[rows], nuisance[rows])
        r[edge], p[edge] = r_edge[0], p_edge[0]
    return r, p


@dataclass(frozen=True)
class Covariates:
    """Participants' columns coded as numbers, the ``covariates`` of :func:`qcfc`.

    Attributes
    ----------
    values : ndarray, shape (n_subjects, n_regressors)
    names : tuple of str
        One per regressor: the column's name for a numeric column, ``column[level]`` for the
        indicator of a level of a categorical column.
    references : dict of str to str
        Each categorical column's reference level (the one without an indicator).
    """

    values: np.ndarray
    names: tuple[str, ...]
    references: dict[str, str] = field(default_factory=dict)


def _as_number(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _check_varies(column: str, values: Sequence[Any]) -> None:
    distinct = sorted(set(values))
    if len(distinct) < 2:
        shown = f"every one is {distinct[0]!r}" if distinct else "none has a value"
        raise ValueError(
            f"covariate {column!r} is constant among the {len(values)} subjects: {shown}"
        )


def _encode_column(column: str, cells: Sequence[str]) -> tuple[np.ndarray, list[str], str | None]:
    """One column's regressors, their names and its reference level (None when numeric)."""
    numbers = [_as_number(cell) for cell in cells]
    if cells and all(n is not None for n in numbers):
        _check_varies(column, numbers)  # by value: "8" and "8.0" are the same age
        return np.array(numbers, dtype=np.float64)[:, np.newaxis], [column], None
    if any(n is not None for n in numbers):
        # a number column with a stray word would otherwise become one indicator per value
        words = sorted({c for c, n in zip(cells, numbers, strict=True) if n is None})
        raise ValueError(
            f"covariate {column!r} mixes numbers and text ({', '.join(map(repr, words[:3]))}); "
            "write n/a for a missing value"
        )
    _check_varies(column, cells)
    levels = sorted(set(cells))
    indicators = np.array([[cell == level for level in levels[1:]] for cell in cells], float)
    return indicators, [f"{column}[{level}]" for level in levels[1:]], levels[0]


def encode_covariates(columns: Mapping[str, Sequence[str]]) -> Covariates:
    """Code participants' columns as numbers for the partial QC-FC.

    Parameters
    ----------
    columns : mapping of str to sequence of str
        Column name -> its cells as text, one per subject (same subjects, same order, in every
        column), as read from participants.tsv. Subjects with a missing cell
        (:data:`MISSING_CELLS`) must be left out first.

    Returns
    -------
    Covariates
        A column whose every cell is a finite number is used as it is (one regressor); any other
        column is categorical: its levels sorted as text, the first is the reference and each
        other level gets a 0/1 indicator (k - 1 regressors for k levels; for sex ``F``/``M``,
        ``F`` is the reference and the regressor is ``sex[M]``).

    Raises
    ------
    ValueError
        A missing cell, a column with a single value among the subjects (nothing to remove,
        and a constant regressor would be collinear with the intercept), a column mixing
        numbers and text, or columns of different lengths.
    """
    lengths = {len(cells) for cells in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"covariate columns of different lengths: {sorted(lengths)}")
    n_subjects = lengths.pop() if lengths else 0
    blocks, names, references = [np.empty((n_subjects, 0))], [], {}
    for column, cells in columns.items():
        cells = [cell.strip() for cell in cells]
        if any(cell in MISSING_CELLS for cell in cells):
            raise ValueError(f"covariate {column!r} has missing values (n/a); leave those out")
        block, block_names, reference = _encode_column(column, cells)
        blocks.append(block)
        names += block_names
        if reference is not None:
            references[column] = reference
    return Covariates(np.hstack(blocks), tuple(names), references)


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks from 1 of a 1-D array without NaN; ties get their average rank."""
    order = np.argsort(x, kind="stable")
    ordered = x[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    counts = np.diff(np.r_[starts, len(x)])
    ranks = np.empty(len(x))
    ranks[order] = np.repeat(starts + (counts + 1) / 2, counts)
    return ranks


def distance_dependence(r: np.ndarray, distances: np.ndarray) -> float:
    """Spearman rank correlation across edges between QC-FC and the distance between regions.

    Parameters
    ----------
    r : ndarray, shape (n_edges,)
        QC-FC of each edge (:func:`qcfc`); NaN edges are left out.
    distances : ndarray, shape (n_edges,)
        Distance between the edge's two regions (:func:`edge_distances`).

    Returns
    -------
    float
        Pearson correlation of the ranks (ties get their average rank); NaN with fewer than 3
        edges or a constant input. Near 0 is best: motion artefacts tend to inflate short-range
        connectivity more than long-range connectivity.

    Raises
    ------
    ValueError
        If the two arrays differ in length.
    """
    r = np.asarray(r, dtype=np.float64).ravel()
    distances = np.asarray(distances, dtype=np.float64).ravel()
    if r.shape != distances.shape:
        raise ValueError(f"{len(r)} QC-FC values for {len(distances)} distances")
    valid = np.isfinite(r) & np.isfinite(distances)
    if valid.sum() < 3:
        return float("nan")
    a = _ranks(r[valid]) - (valid.sum() + 1) / 2
    b = _ranks(distances[valid]) - (valid.sum() + 1) / 2
    denominator = np.sqrt(np.sum(a**2) * np.sum(b**2))
    return float(np.sum(a * b) / denominator) if denominator > 0 else float("nan")


def qcfc_summary(
    r: np.ndarray, p: np.ndarray, distances: np.ndarray | None = None
) -> dict[str, Any]:
    """The benchmark's summaries of the QC-FC of all edges.

    Parameters
    ----------
    r, p : ndarray, shape (n_edges,)
        QC-FC and its p-values (:func:`qcfc`); NaN edges are left out.
    distances : ndarray, shape (n_edges,), optional
        Distances between the regions of each edge (:func:`edge_distances`).

    Returns
    -------
    dict
        ``median_abs_qcfc``: median of |r| (lower is better); ``pct_p05``: % of edges with
        p < 0.05, uncorrected (about 5 when connectivity does not track motion); ``pct_fdr05``:
        % of edges that Benjamini-Hochberg rejects at FDR 0.05 (q <= 0.05); ``distance_dependence``:
        :func:`distance_dependence`, or None without ``distances``. NaN for no valid edge.
    """
    r = np.asarray(r, dtype=np.float64).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    valid = np.isfinite(r) & np.isfinite(p)
    if not valid.any():
        nan = float("nan")
        summary = {"median_abs_qcfc": nan, "pct_p05": nan, "pct_fdr05": nan}
    else:
        summary = {
            "median_abs_qcfc": float(np.median(np.abs(r[valid]))),
            "pct_p05": float(100.0 * np.mean(p[valid] < QCFC_ALPHA)),
            "pct_fdr05": float(100.0 * np.mean(fdr_reject(p[valid], QCFC_ALPHA))),
        }
    summary["distance_dependence"] = (
        None if distances is None else distance_dependence(r, distances)
    )
    return summary


def edge_distances(coords: np.ndarray) -> np.ndarray:
    """Euclidean distance between the two regions of every edge.

    Parameters
    ----------
    coords : ndarray, shape (n_regions, 3)
        Region centres (e.g. in mm).

    Returns
    -------
    ndarray, shape (n_regions * (n_regions - 1) / 2,)
        One distance per edge ``i > j``, in the order of
        ``sym_matrix_to_vec(..., discard_diagonal=True)``: (1,0), (2,0), (2,1), (3,0), ...

    Raises
    ------
    ValueError
        If ``coords`` is not (n_regions, 3).
    """
    coords = np.asarray(coords, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] != 3:
        raise ValueError(f"coords must be (n_regions, 3); got shape {coords.shape}")
    rows, cols = np.tril_indices(len(coords), k=-1)
    return np.linalg.norm(coords[rows] - coords[cols], axis=1)
