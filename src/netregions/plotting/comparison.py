"""Group-comparison figures: classification accuracy per kind, and edge-wise differences.

Every ``draw_*`` function takes arrays and returns a :class:`~matplotlib.figure.Figure`
(no pyplot state), so tests can inspect what was drawn; the rule's step writes it with
:func:`netregions.plotting.save_figure` (one PNG, atomically). How to read each figure:
docs/methods/figures.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from netregions.plotting._draw import (
    PANEL_FONT,
    add_ortho_axes,
    new_figure,
)
from netregions.plotting._inputs import Layer, RegionsTable
from netregions.plotting.connectome import (
    NODE_SIZE,
    _component_boundaries,
    _draw_glass_panels,
    _glass_box,
    _tick_fontsize,
    _tick_step,
)

__all__ = [
    "CHANCE_LEVEL",
    "draw_classification",
    "draw_edge_differences",
]

#: Balanced accuracy of a classifier that guesses (docs/methods/figures.md, Classification).
CHANCE_LEVEL = 0.5
#: Significance level used to colour the classification points.
_ALPHA = 0.05
#: Columns a classification row must have, and those it may have.
_REQUIRED_KEYS = ("kind", "balanced_accuracy", "p_value")
_OPTIONAL_KEYS = ("balanced_accuracy_sd", "n_subjects", "n_permutations", "scores")
#: Size of the edge-difference figure (inches): glass brain on the left, matrix on the right.
_EDGE_FIGURE_SIZE = (15.0, 4.6)

_FONT = PANEL_FONT + 1
_SIGNIFICANT_COLOUR = "#1f5a96"
_NOT_SIGNIFICANT_COLOUR = "#9a9a9a"
_CHANCE_COLOUR = "#b2182b"


# --------------------------------------------------------------------------- classification


def _check_rows(rows: Sequence[Mapping]) -> list[dict]:
    """Each row as a dict with float accuracy and p, after checking its keys."""
    if not rows:
        raise ValueError("classification figure: no rows (one per connectivity kind expected)")
    checked = []
    for i, row in enumerate(rows):
        missing = [key for key in _REQUIRED_KEYS if key not in row]
        unknown = sorted(set(row) - set(_REQUIRED_KEYS) - set(_OPTIONAL_KEYS))
        if missing or unknown:
            raise ValueError(
                f"classification figure: row {i} has keys {sorted(row)}; it needs "
                f"{list(_REQUIRED_KEYS)} and may have {list(_OPTIONAL_KEYS)}"
            )
        checked.append(dict(row))
    return checked


def _format_p(p: float, n_permutations: float | None) -> str:
    """The p-value as text, with the number of permutations (the smallest p is 1/(n+1))."""
    if not np.isfinite(p):
        return "p = n/a"
    text = f"p = {p:.2g}"
    if n_permutations is not None and np.isfinite(n_permutations):
        text += f"\n({int(n_permutations)} perm.)"
    return text


def _draw_accuracy(ax: Axes, x: int, row: dict, rng: np.random.Generator) -> None:
    """One kind: its per-split scores (if given), mean +- SD, and the p-value above."""
    mean = float(row["balanced_accuracy"])
    sd = float(row.get("balanced_accuracy_sd", np.nan))
    p = float(row["p_value"])
    colour = _SIGNIFICANT_COLOUR if p < _ALPHA else _NOT_SIGNIFICANT_COLOUR
    scores = np.asarray(row.get("scores", []), dtype=np.float64).ravel()
    scores = scores[np.isfinite(scores)]
    if scores.size:
        jitter = rng.uniform(-0.12, 0.12, scores.size)
        ax.scatter(x + jitter, scores, s=10, color="0.55", alpha=0.6, zorder=2, linewidths=0)
    ax.errorbar(
        x,
        mean,
        yerr=sd if np.isfinite(sd) else None,
        fmt="o",
        markersize=9,
        color=colour,
        ecolor=colour,
        elinewidth=2,
        capsize=6,
        zorder=3,
    )
    tops = [mean + (sd if np.isfinite(sd) else 0.0), *scores]
    tops = [t for t in tops if np.isfinite(t)]
    ax.text(
        x,
        min(max(tops, default=CHANCE_LEVEL) + 0.03, 1.02),
        _format_p(p, row.get("n_permutations")),
        ha="center",
        va="bottom",
        fontsize=_FONT - 1,
        color="black" if p < _ALPHA else "0.35",
    )


def draw_classification(rows: Sequence[Mapping]) -> Figure:
    """Balanced accuracy per connectivity kind (mean +- SD), chance at 0.5, permutation p.

    Parameters
    ----------
    rows : sequence of mapping
        One per kind, with keys ``kind``, ``balanced_accuracy`` (mean over the
        cross-validation splits) and ``p_value`` (permutation test), and optionally
        ``balanced_accuracy_sd`` (SD over the splits, drawn as an error bar),
        ``n_subjects``, ``n_permutations`` and ``scores`` (per-split accuracies, drawn as
        grey dots).

    Returns
    -------
    Figure
        4.2 inches high, 6 inches wide or more for many kinds.

    Raises
    ------
    ValueError
        No rows, or a row with a missing or unknown key.
    """
    rows = _check_rows(rows)
    fig = new_figure((max(6.0, 2.2 + 1.2 * len(rows)), 4.2))
    ax = fig.add_subplot()
    ax.axhline(CHANCE_LEVEL, color=_CHANCE_COLOUR, linestyle="--", linewidth=1.0, zorder=1)
    jitter_rng = np.random.default_rng(0)  # the same dots at every rerun
    for x, row in enumerate(rows):
        _draw_accuracy(ax, x, row, jitter_rng)
    ax.set_xticks(range(len(rows)), [str(row["kind"]) for row in rows], fontsize=_FONT)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylim(0.0, 1.12)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.tick_params(axis="y", labelsize=_FONT - 1)
    ax.set_xlabel("connectivity kind", fontsize=_FONT)
    ax.set_ylabel("balanced accuracy", fontsize=_FONT)
    ax.legend(handles=_classification_handles(rows), loc="lower left", fontsize=_FONT - 2)
    subjects = {row.get("n_subjects") for row in rows} - {None}
    note = f", {int(next(iter(subjects)))} subjects" if len(subjects) == 1 else ""
    fig.suptitle(
        f"Group classification from connectomes{note}\n"
        "balanced accuracy over cross-validation splits, p from a permutation test",
        fontsize=_FONT + 2,
    )
    return fig


def _classification_handles(rows: list[dict]) -> list:
    has_sd = any(np.isfinite(float(r.get("balanced_accuracy_sd", np.nan))) for r in rows)
    mean = "mean \u00b1 SD" if has_sd else "mean"
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="none",
            color=_SIGNIFICANT_COLOUR,
            label=f"{mean}, p < {_ALPHA:g}",
        ),
        Line2D(
            [],
            [],
            marker="o",
            linestyle="none",
            color=_NOT_SIGNIFICANT_COLOUR,
            label=f"{mean}, p \u2265 {_ALPHA:g}",
        ),
        Line2D([], [], color=_CHANCE_COLOUR, linestyle="--", label="chance (0.5)"),
    ]
    if any(len(np.atleast_1d(r.get("scores", []))) for r in rows):
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="none",
                color="0.55",
                markersize=4,
                label="cross-validation splits",
            )
        )
    return handles


# --------------------------------------------------------------------------- edge differences


def _check_edge_inputs(
    statistic: np.ndarray, significant: np.ndarray, table: RegionsTable
) -> tuple[np.ndarray, np.ndarray]:
    statistic = np.asarray(statistic, dtype=np.float64)
    significant = np.asarray(significant, dtype=bool)
    n = len(table.region)
    if statistic.shape != (n, n) or significant.shape != (n, n):
        raise ValueError(
            f"edge-difference figure: expected ({n}, {n}) statistic and significance matrices "
            f"(one row per region of the table), got {statistic.shape} and {significant.shape}"
        )
    if not np.array_equal(significant, significant.T):
        raise ValueError("edge-difference figure: the significance matrix is not symmetric")
    lower = np.tril(significant, k=-1)
    if not np.all(np.isfinite(statistic[lower])):
        raise ValueError("edge-difference figure: a significant edge has a non-finite statistic")
    return statistic, significant


def _significant_edges(
    statistic: np.ndarray, significant: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns (lower triangle) and values of the significant edges, weakest first."""
    rows, cols = np.nonzero(np.tril(significant, k=-1))
    values = statistic[rows, cols]
    order = np.argsort(np.abs(values), kind="stable")
    return rows[order], cols[order], values[order]


def _draw_edge_glass(
    axes: list[Axes],
    table: RegionsTable,
    mask: Layer,
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    norm: Normalize,
) -> None:
    """Significant edges on the three projections; their nodes large, the others small."""
    rows, cols, _ = edges
    involved = np.zeros(len(table.centres), dtype=bool)
    involved[rows] = involved[cols] = True
    nodes = {
        "s": np.where(involved, NODE_SIZE, 12.0),
        "c": np.where(involved[:, None], [[0.15, 0.15, 0.15, 1.0]], [[0.6, 0.6, 0.6, 0.8]]),
        "edgecolors": "white",
    }
    _draw_glass_panels(axes, mask, table.centres, edges, norm, nodes)


def _draw_statistic_matrix(
    ax: Axes,
    statistic: np.ndarray,
    significant: np.ndarray,
    table: RegionsTable,
    norm: Normalize,
    statistic_label: str,
) -> None:
    """The statistic as a matrix (RdBu_r), significant cells outlined in black."""
    n = statistic.shape[0]
    cmap = colormaps["RdBu_r"].with_extremes(bad="0.85")
    image = ax.imshow(
        np.ma.masked_invalid(statistic), cmap=cmap, norm=norm, interpolation="nearest"
    )
    rows, cols = np.nonzero(significant & ~np.eye(n, dtype=bool))
    cell_points = 3.0 * 72 / max(n, 1)  # the matrix is about 3 inches wide
    ax.scatter(
        cols,
        rows,
        s=float(np.clip((0.9 * cell_points) ** 2, 4.0, 64.0)),
        marker="s",
        facecolors="none",
        edgecolors="black",
        linewidths=1.0,
        zorder=3,
    )
    _label_matrix_axes(ax, table)
    ax.set_title("statistic (squares: significant)", fontsize=_FONT)
    colorbar = ax.figure.colorbar(image, ax=ax, shrink=0.85, fraction=0.06, pad=0.03)
    colorbar.ax.tick_params(labelsize=PANEL_FONT)
    colorbar.set_label(statistic_label, fontsize=PANEL_FONT)


def _label_matrix_axes(ax: Axes, table: RegionsTable) -> None:
    """Networks as blocks (outlined, labelled N<k> at their centre) or thinned region labels."""
    n = len(table.region)
    if n and np.all(np.diff(table.component) >= 0):  # networks form blocks
        boundaries = _component_boundaries(table.component)
        for edge in boundaries:
            ax.axhline(edge, color="0.2", linewidth=0.5)
            ax.axvline(edge, color="0.2", linewidth=0.5)
        starts = np.concatenate([[-0.5], boundaries])
        stops = np.concatenate([boundaries, [n - 0.5]])
        centres = (starts + stops) / 2
        labels = [f"N{int(c)}" for c in np.unique(table.component)]
        fontsize = float(np.clip(0.6 * 3.0 * 72 / max(len(labels), 1), 4.0, 7.0))
        ax.set_xticks(centres, labels, fontsize=fontsize, rotation=90)
        ax.set_yticks(centres, labels, fontsize=fontsize)
        ax.set_xlabel("network (blocks)", fontsize=PANEL_FONT)
    else:
        step = _tick_step(n)
        ticks = np.arange(0, n, step)
        labels = [table.labels()[i] for i in ticks]
        fontsize = min(_tick_fontsize(len(ticks)) * 0.6, 7.0)
        ax.set_xticks(ticks, labels, rotation=90, fontsize=fontsize)
        ax.set_yticks(ticks, labels, fontsize=fontsize)
    ax.tick_params(length=2, pad=1)


def _no_edge_note(fig: Figure) -> None:
    fig.text(
        0.5,
        0.5,
        "no edge significant after FDR correction",
        ha="center",
        va="center",
        fontsize=_FONT + 3,
        color="0.25",
        bbox={"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": "0.6"},
        zorder=10,
    )


def draw_edge_differences(
    statistic: np.ndarray,
    significant: np.ndarray,
    table: RegionsTable,
    mask: Layer,
    *,
    title: str,
    statistic_label: str = "statistic",
) -> Figure:
    """Significant group differences: edges on a glass brain, and the statistic as a matrix.

    Edge colour: ``RdBu_r`` over [-m, m], m = max |statistic| off the diagonal (the matrix
    uses the same scale); width ``1 + 2 |s| / max |significant s|``; stronger edges on top.
    Regions with a significant edge are drawn large and dark, the others small and grey.

    Parameters
    ----------
    statistic : ndarray, shape (n_regions, n_regions)
        Group-difference statistic per edge (e.g. t), symmetric; NaN is shown grey.
    significant : ndarray of bool, shape (n_regions, n_regions)
        Symmetric; True for edges significant after FDR correction.
    table : RegionsTable
        Region centres (world mm) and networks, in matrix order.
    mask : Layer
        3D brain mask; its max projections give the outline.
    title : str
    statistic_label : str, default="statistic"
        Colour bar label (name and unit of the statistic).

    Returns
    -------
    Figure
        1500 x 460 pixels; with no significant edge the glass brain shows the regions only
        and the figure says so.

    Raises
    ------
    ValueError
        Shapes that do not match the table, an asymmetric significance matrix, or a
        significant edge with a non-finite statistic.
    """
    statistic, significant = _check_edge_inputs(statistic, significant, table)
    edges = _significant_edges(statistic, significant)
    n = statistic.shape[0]
    off_diagonal = np.abs(statistic[~np.eye(n, dtype=bool)])
    off_diagonal = off_diagonal[np.isfinite(off_diagonal)]
    largest = float(off_diagonal.max()) if off_diagonal.size else 0.0
    norm = Normalize(-(largest or 1.0), largest or 1.0)
    fig = new_figure(_EDGE_FIGURE_SIZE)
    glass, matrix = fig.subfigures(1, 2, width_ratios=[3.0, 1.25])
    axes = add_ortho_axes(glass, _glass_box(mask, table.centres), projection=True)
    _draw_edge_glass(axes, table, mask, edges, norm)
    _draw_statistic_matrix(
        matrix.add_subplot(), statistic, significant, table, norm, statistic_label
    )
    n_tests = n * (n - 1) // 2
    n_significant = edges[0].size
    if n_significant == 0:
        _no_edge_note(glass)
    positive = int(np.count_nonzero(edges[2] > 0))
    subtitle = f"{n_significant} of {n_tests} edges significant after FDR correction"
    if n_significant:
        subtitle += f" ({positive} positive, {n_significant - positive} negative)"
    fig.suptitle(f"{title}\n{subtitle}", fontsize=_FONT + 2)
    return fig
