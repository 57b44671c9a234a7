"""Rule ``group_comparison``: which connectomes tell two groups apart, which edges differ."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from netregions.exceptions import InputDataError
from netregions.io import read_table, write_table
from netregions.naming import MISSING_CELLS

__all__ = ["check_group_column", "edge_figure_title", "group_comparison", "subject_labels"]

log = logging.getLogger("netregions")

#: What the classification figure shows of each row.
_FIGURE_KEYS = (
    "kind",
    "balanced_accuracy",
    "balanced_accuracy_sd",
    "p_value",
    "n_subjects",
    "n_permutations",
)


def subject_labels(
    table: Mapping[str, Mapping[str, str]],
    column: str,
    subjects: Sequence[str],
    participants: str,
) -> tuple[dict[str, str], list[str]]:
    """Each subject's group in ``column``; subjects without a value are left out.

    Parameters
    ----------
    table : mapping
        The participants table of ``subjects``, as :func:`netregions.bids.read_participants`
        returns it.
    column : str
        ``group_comparison.column``.
    subjects : sequence of str
        Subject labels (without ``sub-``), each a key of ``table``.
    participants : path-like
        Where the table was read, for the message.

    Returns
    -------
    labels : dict
        ``{subject: group}`` of the subjects with a value.
    missing : list of str
        Subjects whose value is missing (``n/a`` or empty).

    Raises
    ------
    ValueError
        ``column`` is not a column of the table (naming the columns it has).
    """
    columns = next(iter(table.values())).keys() if table else []
    if column not in columns:
        raise ValueError(
            f"group_comparison.column={column!r} is not a column of {participants}; it has "
            f"{sorted(columns)}: set group_comparison.column to the one that holds the groups"
        )
    labels, missing = {}, []
    for subject in dict.fromkeys(subjects):
        value = table[subject][column].strip()
        if value in MISSING_CELLS:
            missing.append(subject)
        else:
            labels[subject] = value
    return labels, missing


def check_group_column(
    table: Mapping[str, Mapping[str, str]],
    column: str,
    subjects: Sequence[str],
    n_splits: int,
    participants: str,
) -> None:
    """The comparison's checks of its groups, made on the selected subjects before any job.

    :func:`group_comparison` runs last; the same checks made on every selected subject let
    the input check stop a workflow whose comparison cannot run. QC may still exclude
    subjects, which :func:`group_comparison` checks again.

    Parameters
    ----------
    table : mapping
        The participants table of ``subjects`` (:func:`netregions.bids.read_participants`).
    column : str
        ``group_comparison.column``.
    subjects : sequence of str
        The subjects of the selected runs (labels without ``sub-``).
    n_splits : int
        ``group_comparison.n_splits``: each group needs at least this many subjects.
    participants : path-like
        Where the table was read, for the messages.

    Raises
    ------
    InputDataError
        ``column`` is not a column of the table, or the subjects with a value in it do not
        form exactly two groups of at least ``n_splits`` subjects (:func:`subject_labels`,
        :func:`netregions.comparison.check_groups`). The message names the file, the column,
        the groups found and the setting to change.
    """
    from netregions.comparison import check_groups

    selected = list(dict.fromkeys(subjects))
    try:
        labels, missing = subject_labels(table, column, selected, participants)
    except ValueError as exc:  # not a column: the message names the file and the columns
        raise InputDataError(str(exc)) from None
    try:
        check_groups(list(labels.values()), column, n_splits)
    except ValueError as exc:
        if len(set(labels.values())) == 2:
            change = "lower group_comparison.n_splits or add subjects"
        else:
            change = (
                "set group_comparison.column to a column with two values (n/a for the "
                "subjects to leave out)"
            )
        unlabelled = f", {len(missing)} of them without a value" if missing else ""
        raise InputDataError(
            f"{participants}: {exc}, among the {len(selected)} selected subjects"
            f"{unlabelled}; {change}"
        ) from None


def _excluded_subjects(qc: str, kept: set[str]) -> list[str]:
    return sorted({row["subject"] for row in read_table(qc)} - kept)


def edge_figure_title(kind: str, groups: Sequence[str], alpha: float) -> str:
    """Title of a kind's edge figure: the contrast drawn and the FDR level (``q <= alpha``)."""
    return f"{kind}: edges that differ ({groups[1]} - {groups[0]}, FDR q ≤ {alpha:g})"


def _edge_rows(result: dict, region_ids: Sequence[str], groups: Sequence[str]) -> list[dict]:
    rows = []
    for k in range(len(result["i"])):
        i, j = int(result["i"][k]), int(result["j"][k])
        row = {"region_i": region_ids[i], "region_j": region_ids[j]}
        row.update({f"mean_{g}": result[f"mean_{g}"][k] for g in groups})
        row.update({key: result[key][k] for key in ("t", "p", "q", "significant")})
        rows.append(row)
    return rows


def _edge_matrix(result: dict, key: str, n: int) -> np.ndarray:
    matrix = np.zeros((n, n), dtype=float if key != "significant" else bool)
    matrix[result["i"], result["j"]] = result[key]
    return matrix + matrix.T if key != "significant" else matrix | matrix.T


def group_comparison(
    participants: str,
    timeseries: Sequence[str],
    qc: str,
    regions: str,
    mask: str,
    classification: str,
    edges: Sequence[str],
    figure: str,
    edge_figures: Sequence[str],
    *,
    column: str,
    kinds: Sequence[str],
    runs: Sequence[str],
    subjects: Sequence[str],
    n_splits: int = 5,
    n_repeats: int = 10,
    n_permutations: int = 100,
    alpha: float = 0.05,
) -> None:
    """Classification of the two groups of ``column`` per kind, and edge-wise group tests.

    Each subject contributes one connectome: the Ledoit-Wolf covariances of its included runs
    averaged, then turned into the kind's matrix (:mod:`netregions.comparison`). Subjects
    excluded by QC, or without a value in ``column``, are left out and counted.

    Parameters
    ----------
    participants : path-like
        participants.tsv.
    timeseries : sequence of path-like
        Time-series tables of the included runs (order of ``runs``).
    qc : path-like
        ``group/qc.tsv``, to count the subjects QC excluded.
    regions, mask : path-like
        Region table (centres) and group mask (glass brain) of the edge figures.
    classification : path-like
        Output TSV, one row per kind: ``kind``, ``balanced_accuracy`` (mean over the folds),
        ``p_value`` (permutation test), ``n_subjects``, then the SD across folds, the group
        sizes, the subjects left out and the cross-validation settings.
    edges : sequence of path-like
        Output TSVs, one per kind (order of ``kinds``): every edge with both groups' means,
        Welch's t, its p-value, the Benjamini-Hochberg q and ``significant`` (q <= alpha).
    figure, edge_figures : path-like
        Outputs: the accuracies, and per kind the significant edges on the glass brain.
    column : str
        A participants.tsv column with exactly two groups.
    kinds : sequence of str
    runs, subjects : sequence of str
    n_splits, n_repeats, n_permutations, alpha
        Stratified repeated cross-validation, permutation test, FDR level.
    """
    from netregions import comparison
    from netregions.bids import read_participants
    from netregions.plotting import _inputs, save_figure
    from netregions.plotting.comparison import draw_classification, draw_edge_differences
    from netregions.steps.connectivity import subject_covariances

    region_ids, covariances = subject_covariances(timeseries, runs, subjects)
    participants_table = read_participants(participants, sorted(covariances))
    labels, missing = subject_labels(participants_table, column, list(covariances), participants)
    excluded = _excluded_subjects(qc, set(covariances))
    kept = [s for s in covariances if s in labels]
    y = np.array([labels[s] for s in kept])
    comparison.check_groups(y, column, n_splits)
    groups = sorted(set(y))
    x = np.array([np.mean(covariances[s], axis=0) for s in kept])
    counts = {g: int((y == g).sum()) for g in groups}
    log.info(
        "%s: %s (%d subjects; %d without a value, %d excluded by QC)",
        column, counts, len(kept), len(missing), len(excluded),
    )  # fmt: skip
    rows = []
    table = _inputs.read_regions_table(regions)
    mask_layer = _inputs.load_layer(mask, ndim=3)
    for kind, edge_path, edge_figure in zip(kinds, edges, edge_figures, strict=True):
        result = comparison.classify(
            x, y, kind, n_splits=n_splits, n_repeats=n_repeats,
            n_permutations=n_permutations, column=column,
        )  # fmt: skip
        result.update(
            column=column,
            groups=",".join(groups),
            n_missing_label=len(missing),
            n_excluded_qc=len(excluded),
        )
        rows.append(result)
        matrices = comparison.subject_matrices(x, kind) if kind != "tangent" else _tangents(x)
        edge_result = comparison.edge_differences(matrices, y, kind, alpha=alpha)
        write_table(edge_path, _edge_rows(edge_result, region_ids, groups),
                    ["region_i", "region_j", *(f"mean_{g}" for g in groups), "t", "p", "q",
                     "significant"])  # fmt: skip
        n = len(region_ids)
        drawn = draw_edge_differences(
            _edge_matrix(edge_result, "t", n),
            _edge_matrix(edge_result, "significant", n),
            table,
            mask_layer,
            title=edge_figure_title(kind, groups, alpha),
            statistic_label=f"Welch t ({groups[1]} - {groups[0]})",
        )
        save_figure(drawn, edge_figure)
    first = ["kind", "balanced_accuracy", "p_value", "n_subjects"]
    write_table(classification, rows, [*first, *(k for k in rows[0] if k not in first)])
    summary = [{k: row[k] for k in _FIGURE_KEYS} for row in rows]
    save_figure(draw_classification(summary), figure)


def _tangents(covariances: np.ndarray) -> np.ndarray:
    """Tangent matrices at the geometric mean of every subject (a description, no CV)."""
    from netregions.connectome import tangent_space

    return tangent_space(list(covariances))[2]
