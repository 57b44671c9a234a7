"""The group connectome: as a matrix, and as a graph on a glass brain."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from netregions.plotting._draw import (
    AXIS_LETTERS,
    MATRIX_SIZE,
    ORTHO_SIZE,
    PANEL_FONT,
    add_ortho_axes,
    add_side_colorbar,
    add_square_axes,
    arrange_ortho,
    arrange_square,
    new_figure,
    save_figure,
)
from netregions.plotting._grid import DISPLAY_AXES
from netregions.plotting._inputs import (
    Layer,
    RegionsTable,
    load_layer,
    read_connectome,
    read_regions_table,
)

__all__ = [
    "Edges",
    "draw_connectome",
    "draw_matrix",
    "edge_cutoff",
    "plot_connectome",
    "plot_connectome_figures",
    "plot_matrix",
    "select_edges",
]

#: Added to a percentile cut-off, as the reference, so that ties at the percentile are dropped.
_PERCENTILE_EPSILON = 1e-5
#: Tick labels on the matrix are thinned out so that at most this many are shown per axis.
_MAX_TICK_LABELS = 60
#: Size of the region markers (points squared), the reference's default.
NODE_SIZE = 50
#: Margin (mm) around the brain outline on the glass-brain panels.
_GLASS_MARGIN = 6.0


@dataclass(frozen=True)
class Edges:
    """Edges drawn on the connectome, weakest first.

    Attributes
    ----------
    rows, cols : ndarray of int
        Node indices, ``rows > cols`` (strictly lower triangle).
    values : ndarray of float
        Matrix entries.
    cutoff : float
        Entries with |value| below this were dropped.
    """

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    cutoff: float


def _clean_matrix(matrix: np.ndarray) -> np.ndarray:
    """NaN to 0 (as the reference), after checking shape and symmetry."""
    matrix = np.nan_to_num(np.asarray(matrix, dtype=np.float64), nan=0.0)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"expected a square matrix, got shape {matrix.shape}")
    if not np.allclose(matrix, matrix.T, rtol=1e-3):
        raise ValueError("the connectome is not symmetric; only undirected graphs are drawn")
    return matrix


def _parse_threshold(edge_threshold: str | float) -> tuple[bool, float]:
    """("90%" | "0.3" | 0.3) -> (is_percentile, value)."""
    text = str(edge_threshold).strip()
    is_percentile = text.endswith("%")
    try:
        value = float(text[:-1] if is_percentile else text)
    except ValueError:
        raise ValueError(
            f"edge_threshold {edge_threshold!r} is neither a percentile like '90%' nor a number"
        ) from None
    if is_percentile and not 0.0 <= value <= 100.0:
        raise ValueError(f"edge_threshold {edge_threshold!r}: percentile outside 0-100%")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"edge_threshold {edge_threshold!r} must be a non-negative number")
    return is_percentile, value


def edge_cutoff(matrix: np.ndarray, edge_threshold: str | float = "90%") -> float:
    """Smallest |value| an edge needs to be drawn.

    Parameters
    ----------
    matrix : ndarray, shape (R, R)
        Symmetric connectome (NaN counts as 0).
    edge_threshold : str or float
        ``"p%"``: the p-th percentile (linear interpolation) of |values| of the strictly-lower
        triangle, plus 1e-5; a number (or numeric string): used as is.

    Returns
    -------
    float
        ``inf`` for a percentile of a matrix without off-diagonal entries.
    """
    matrix = _clean_matrix(matrix)
    is_percentile, value = _parse_threshold(edge_threshold)
    if not is_percentile:
        return value
    lower = np.abs(matrix[np.tril_indices(matrix.shape[0], k=-1)])
    if lower.size == 0:
        return float("inf")
    return float(np.percentile(lower, value)) + _PERCENTILE_EPSILON


def select_edges(matrix: np.ndarray, edge_threshold: str | float = "90%") -> Edges:
    """Edges drawn by the reference: non-zero lower-triangle entries with |value| >= cut-off.

    Parameters
    ----------
    matrix : ndarray, shape (R, R)
    edge_threshold : str or float
        See :func:`edge_cutoff`.

    Returns
    -------
    Edges
        Sorted by increasing |value| (stronger edges are drawn last, on top).
    """
    matrix = _clean_matrix(matrix)
    cutoff = edge_cutoff(matrix, edge_threshold)
    rows, cols = np.tril_indices(matrix.shape[0], k=-1)
    values = matrix[rows, cols]
    keep = (np.abs(values) >= cutoff) & (values != 0)
    order = np.argsort(np.abs(values[keep]), kind="stable")
    return Edges(rows[keep][order], cols[keep][order], values[keep][order], cutoff)


# --------------------------------------------------------------------------- matrix


def _tick_step(n_regions: int) -> int:
    return max(1, int(np.ceil(n_regions / _MAX_TICK_LABELS)))


def _tick_fontsize(n_shown: int) -> float:
    """Font size so that labels (spaced ~5.3 in / n apart) do not overlap."""
    return float(np.clip(0.75 * 5.3 * 72 / max(n_shown, 1), 4.0, 8.0))


def _component_boundaries(components: np.ndarray) -> np.ndarray:
    """Positions between consecutive rows from different networks (blocks, if sorted)."""
    return np.flatnonzero(np.diff(components) != 0) + 0.5


def draw_matrix(matrix: np.ndarray, table: RegionsTable, title: str) -> Figure:
    """Matrix figure: RdBu_r fixed to [-1, 1], full matrix with its diagonal, region labels.

    Parameters
    ----------
    matrix : ndarray, shape (R, R)
    table : RegionsTable
        Rows in matrix order; labels "N<network>·R<region>".
    title : str

    Returns
    -------
    Figure
    """
    n = matrix.shape[0]
    fig = new_figure(MATRIX_SIZE, layout=None)
    ax = add_square_axes(fig)
    image = ax.imshow(
        matrix, cmap="RdBu_r", vmin=-1.0, vmax=1.0, aspect="equal", interpolation="nearest"
    )
    step = _tick_step(n)
    ticks = np.arange(0, n, step)
    labels = [table.labels()[i] for i in ticks]
    fontsize = _tick_fontsize(len(ticks))
    ax.set_xticks(ticks, labels, rotation=90, fontsize=fontsize)
    ax.set_yticks(ticks, labels, fontsize=fontsize)
    ax.tick_params(length=2, pad=1)
    if n and np.all(np.diff(table.component) >= 0):  # networks form blocks: outline them
        for edge in _component_boundaries(table.component):
            ax.axhline(edge, color="0.2", linewidth=0.6)
            ax.axvline(edge, color="0.2", linewidth=0.6)
    note = f" (one label in {step})" if step > 1 else ""
    ax.set_xlabel(f"region (N = network, R = region id){note}", fontsize=PANEL_FONT)
    colorbar = add_side_colorbar(fig, image)
    arrange_square(fig, ax, fig.suptitle(title, fontsize=PANEL_FONT + 4), colorbar)
    return fig


def plot_matrix(
    connectome: Path | str,
    regions_table: Path | str,
    output: Path | str,
    *,
    title: str = "Correlation between regions (group mean)",
) -> Path:
    """Figure 3: the group connectome as a matrix.

    Parameters
    ----------
    connectome : path-like
        R x R TSV, header line = region ids.
    regions_table : path-like
        ``regions.tsv``.
    output : path-like
        PNG to write (atomically).
    title : str

    Returns
    -------
    Path
    """
    table = read_regions_table(regions_table)
    matrix = read_connectome(connectome, table)
    return save_figure(draw_matrix(matrix, table, title), output)


# --------------------------------------------------------------------------- glass brain


def _glass_box(mask: Layer, centres: np.ndarray) -> np.ndarray:
    """World box around the mask's voxels and the nodes, with a margin."""
    voxels = np.argwhere(mask.data > 0)
    points = [mask.grid.world(voxels)] if len(voxels) else []
    points += [centres] if len(centres) else []
    if not points:
        return np.array([mask.grid.bounds(w) for w in range(3)])
    points = np.vstack(points)
    half_voxel = np.abs(mask.grid.step) / 2
    low = points.min(axis=0) - half_voxel - _GLASS_MARGIN
    high = points.max(axis=0) + half_voxel + _GLASS_MARGIN
    return np.column_stack([low, high])


def _draw_glass(ax: Axes, mask: Layer, cut_axis: int) -> None:
    """The brain outline: filled light grey max projection of the mask, with its contour."""
    projection = mask.grid.project(mask.data > 0, cut_axis).astype(np.float32)
    ax.imshow(
        np.ma.masked_equal(projection, 0),
        cmap="Greys",
        vmin=0,
        vmax=8,  # value 1 -> a very light grey
        origin="lower",
        extent=mask.grid.extent(cut_axis),
        interpolation="nearest",
        zorder=0,
    )
    if min(projection.shape) >= 2 and projection.any():
        horizontal, vertical = DISPLAY_AXES[cut_axis]
        ax.contour(
            mask.grid.centres(horizontal),
            mask.grid.centres(vertical),
            projection,
            levels=[0.5],
            colors=["0.35"],
            linewidths=1.0,
            zorder=1,
        )


def _draw_glass_panels(
    axes: list[Axes],
    mask: Layer,
    centres: np.ndarray,
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    norm: Normalize,
    nodes: dict,
) -> None:
    """Brain outline, edges and nodes on each of the three max-projection panels.

    ``edges`` is (rows, cols, values), weakest first: later (stronger) segments are drawn on
    top, coloured ``RdBu_r`` by value over ``norm`` and ``1 + 2 |value| / max |value|`` wide.
    ``nodes`` holds the keyword arguments of the node scatter (``s``, ``c``, ``edgecolors``).
    """
    rows, cols, values = edges
    cmap = colormaps["RdBu_r"]
    strongest = float(np.max(np.abs(values))) if values.size else 1.0
    for w, ax in enumerate(axes):
        _draw_glass(ax, mask, w)
        horizontal, vertical = DISPLAY_AXES[w]
        points = centres[:, [horizontal, vertical]]
        if values.size:
            ax.add_collection(
                LineCollection(
                    np.stack([points[rows], points[cols]], axis=1),
                    colors=cmap(norm(values)),
                    linewidths=1.0 + 2.0 * np.abs(values) / strongest,
                    zorder=2,
                    capstyle="round",
                ),
                autolim=False,
            )
        ax.scatter(points[:, 0], points[:, 1], linewidths=0.5, zorder=3, **nodes)
        ax.set_xlabel(
            f"max. projection along {AXIS_LETTERS[w]}", fontsize=PANEL_FONT - 1, color="0.3"
        )


def draw_connectome(
    matrix: np.ndarray,
    table: RegionsTable,
    mask: Layer,
    edge_threshold: str | float,
    title: str,
) -> tuple[Figure, Edges]:
    """Glass-brain figure: nodes at region centres, edges above the threshold.

    Edge colour: ``RdBu_r`` over [-m, m], m = max |drawn value|; width ``1 + 2 |a| / m``;
    stronger edges on top. Nodes: ``Set2`` sampled over the nodes, size 50.

    Parameters
    ----------
    matrix : ndarray, shape (R, R)
    table : RegionsTable
        Node centres (world mm) in matrix order.
    mask : Layer
        3D brain mask; its max projections give the outline.
    edge_threshold : str or float
        See :func:`edge_cutoff`.
    title : str

    Returns
    -------
    fig : Figure
    edges : Edges
        What was drawn.
    """
    edges = select_edges(matrix, edge_threshold)
    centres = table.centres
    fig = new_figure(ORTHO_SIZE, layout=None)
    box = _glass_box(mask, centres)
    axes = add_ortho_axes(fig, box, projection=True)
    strongest = float(np.max(np.abs(edges.values))) if edges.values.size else 1.0
    norm = Normalize(-strongest, strongest)
    node_colours = colormaps["Set2"](np.linspace(0.0, 1.0, len(centres)))
    nodes = {"s": NODE_SIZE, "c": node_colours, "edgecolors": "0.2"}
    _draw_glass_panels(axes, mask, centres, (edges.rows, edges.cols, edges.values), norm, nodes)
    colorbar = add_side_colorbar(fig, ScalarMappable(norm=norm, cmap=colormaps["RdBu_r"]))
    colorbar.set_label("edge value", fontsize=PANEL_FONT)
    subtitle = (
        f"{edges.values.size} edges with |value| \u2265 {edges.cutoff:.3g} "
        f"(threshold {edge_threshold})"
    )
    title_text = fig.suptitle(f"{title}\n{subtitle}", fontsize=PANEL_FONT + 3)
    arrange_ortho(fig, axes, box, title_text, colorbar)
    return fig, edges


def plot_connectome(
    connectome: Path | str,
    regions_table: Path | str,
    mask: Path | str,
    output: Path | str,
    *,
    edge_threshold: str | float = "90%",
    title: str = "Connectome (group mean correlation)",
) -> Path:
    """Figure 4: the group connectome on a glass brain (sagittal, coronal, axial projections).

    Parameters
    ----------
    connectome : path-like
        R x R TSV, header line = region ids.
    regions_table : path-like
        ``regions.tsv`` with region centres x, y, z (mm).
    mask : path-like
        3D group brain mask (outline).
    output : path-like
        PNG to write (atomically).
    edge_threshold : str or float
        ``"90%"`` (percentile of |off-diagonal values|) or a number; see :func:`edge_cutoff`.
    title : str

    Returns
    -------
    Path
    """
    table = read_regions_table(regions_table)
    matrix = read_connectome(connectome, table)
    fig, _ = draw_connectome(matrix, table, load_layer(mask, ndim=3), edge_threshold, title)
    return save_figure(fig, output)


def plot_connectome_figures(
    connectome: Path | str,
    regions_table: Path | str,
    mask: Path | str,
    output_matrix: Path | str,
    output_connectome: Path | str,
    *,
    edge_threshold: str | float = "90%",
) -> tuple[Path, Path]:
    """Figures 3 and 4 in one job: :func:`plot_matrix` and :func:`plot_connectome`.

    Parameters
    ----------
    connectome : path-like
        R x R TSV, header line = region ids.
    regions_table : path-like
        ``regions.tsv``.
    mask : path-like
        3D group brain mask.
    output_matrix, output_connectome : path-like
        PNGs to write (atomically).
    edge_threshold : str or float
        See :func:`edge_cutoff`.

    Returns
    -------
    tuple of Path
    """
    return (
        plot_matrix(connectome, regions_table, output_matrix),
        plot_connectome(
            connectome, regions_table, mask, output_connectome, edge_threshold=edge_threshold
        ),
    )
