"""Matplotlib building blocks: ortho panels in world mm, layers, annotations, saving.

Figures are plain :class:`matplotlib.figure.Figure` objects (no pyplot state), rendered by Agg.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

if "matplotlib.pyplot" not in sys.modules:  # never switch the backend under a pyplot user
    matplotlib.use("Agg")

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from netregions.io import atomic_path
from netregions.plotting._grid import DISPLAY_AXES, Grid
from netregions.plotting._inputs import Layer

__all__ = [
    "DPI",
    "MATRIX_SIZE",
    "ORTHO_SIZE",
    "PNG_COMPRESS_LEVEL",
    "ViewBox",
    "add_ortho_axes",
    "draw_background",
    "draw_filled_contours",
    "new_figure",
    "save_figure",
]

#: Resolution of every figure (pixels per inch).
DPI = 100
#: Size (inches) of the three-panel figures: 1100 x 380 pixels.
ORTHO_SIZE = (11.0, 3.8)
#: Size (inches) of the correlation matrix figure: 750 x 660 pixels.
MATRIX_SIZE = (7.5, 6.6)
#: zlib level of the PNG figures: the fastest, since flat-coloured figures compress well at
#: any level and the figure jobs end the workflow.
PNG_COMPRESS_LEVEL = 1

CUT_NAMES = ("sagittal", "coronal", "axial")
AXIS_LETTERS = "xyz"
PANEL_FONT = 8
#: Background grey levels: the darkest voxel is drawn this light so colours stand out.
_BACKGROUND_DIM = 0.45
#: Backgrounds above this many voxels are subsampled to estimate their display range.
_RANGE_SAMPLE_VOXELS = 1_000_000

ViewBox = np.ndarray  # shape (3, 2): (low, high) mm per world axis


def new_figure(size: tuple[float, float]) -> Figure:
    """A white figure with constrained layout (keeps titles, labels and legends unclipped)."""
    return Figure(figsize=size, dpi=DPI, layout="constrained", facecolor="white")


def save_figure(fig: Figure, output: Path | str) -> Path:
    """Save atomically at :data:`DPI`; PNG metadata without the software stamp.

    Identical figures then give byte-identical files. PNGs are compressed at
    :data:`PNG_COMPRESS_LEVEL`.
    """
    output = Path(output)
    png = output.suffix.lower() == ".png"
    options = {"metadata": {"Software": None}, "pil_kwargs": {"compress_level": PNG_COMPRESS_LEVEL}}
    with atomic_path(output) as tmp:
        fig.savefig(tmp, dpi=DPI, facecolor=fig.get_facecolor(), **(options if png else {}))
    return output


def union_box(grids: Sequence[Grid]) -> ViewBox:
    """World-mm box holding every grid."""
    bounds = np.array([[g.bounds(w) for w in range(3)] for g in grids])
    return np.column_stack([bounds[:, :, 0].min(axis=0), bounds[:, :, 1].max(axis=0)])


def panel_aspect(box: ViewBox, cut_axis: int) -> float:
    """Width / height of the panel cut along ``cut_axis``."""
    horizontal, vertical = DISPLAY_AXES[cut_axis]
    return float(np.ptp(box[horizontal]) / np.ptp(box[vertical]))


def add_ortho_axes(fig: Figure, box: ViewBox, *, projection: bool = False) -> list[Axes]:
    """Three panels (sagittal, coronal, axial) of equal height, limits set to ``box``.

    Parameters
    ----------
    fig : Figure
    box : ndarray, shape (3, 2)
        Shown world extent (mm).
    projection : bool
        Panels show projections (glass brain) rather than cuts; only changes their titles.

    Returns
    -------
    list of Axes
        Indexed by the world axis perpendicular to the panel.
    """
    grid_spec = fig.add_gridspec(1, 3, width_ratios=[panel_aspect(box, w) for w in range(3)])
    axes = []
    for w in range(3):
        ax = fig.add_subplot(grid_spec[0, w])
        horizontal, vertical = DISPLAY_AXES[w]
        ax.set_xlim(*box[horizontal])
        ax.set_ylim(*box[vertical])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        suffix = " (projection)" if projection else ""
        ax.set_title(CUT_NAMES[w] + suffix, fontsize=PANEL_FONT + 1, pad=3)
        if w != 0:
            _add_left_right(ax)
        axes.append(ax)
    return axes


def _add_left_right(ax: Axes) -> None:
    """L/R letters: world x increases to the right (neurological view, as the reference)."""
    style = {"transform": ax.transAxes, "fontsize": PANEL_FONT + 2, "fontweight": "bold"}
    ax.text(0.02, 0.97, "L", ha="left", va="top", **style)
    ax.text(0.98, 0.97, "R", ha="right", va="top", **style)


def format_mm(value: float) -> str:
    """A coordinate rounded to 1 mm with a true minus sign."""
    return f"{round(value):d}".replace("-", "\u2212")


def annotate_cut(ax: Axes, cut_axis: int, coord: float) -> None:
    """Write "x = -42" (the cut's world coordinate) in the panel's lower-left corner."""
    ax.text(
        0.02,
        0.02,
        f"{AXIS_LETTERS[cut_axis]} = {format_mm(coord)}",
        transform=ax.transAxes,
        ha="left",
        va="bottom",
        fontsize=PANEL_FONT,
        bbox={
            "boxstyle": "round,pad=0.15",
            "facecolor": "white",
            "edgecolor": "none",
            "alpha": 0.7,
        },
    )


def draw_cross(ax: Axes, cut_axis: int, coords: Sequence[float]) -> None:
    """Thin lines through the cut point (the two other cut coordinates)."""
    horizontal, vertical = DISPLAY_AXES[cut_axis]
    style = {"color": "#1f3b73", "linewidth": 0.6, "alpha": 0.8, "zorder": 5}
    ax.axvline(coords[horizontal], **style)
    ax.axhline(coords[vertical], **style)


def background_range(data: np.ndarray) -> tuple[float, float]:
    """Grey-scale range: 2nd-99.5th percentile of the non-zero finite values, dimmed.

    The low end is pushed down so the darkest tissue is mid-grey: coloured layers on top
    stay readable (the reference's "dim" of the anatomical background).
    """
    sample = data
    if data.size > _RANGE_SAMPLE_VOXELS:
        stride = int(np.ceil((data.size / _RANGE_SAMPLE_VOXELS) ** (1 / 3)))
        sample = data[::stride, ::stride, ::stride]
    values = sample[np.isfinite(sample) & (sample != 0)]
    if values.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(values, [2.0, 99.5])
    if high <= low:
        high = low + 1.0
    return float(low - _BACKGROUND_DIM * (high - low)), float(high)


def draw_background(
    ax: Axes, layer: Layer, cut_axis: int, coord: float, value_range: tuple[float, float]
) -> None:
    """Grey-scale cut of the background; zero and non-finite voxels are left transparent."""
    plane = layer.grid.cut(layer.data, cut_axis, coord)
    if plane is None:
        return
    plane = np.ma.masked_where(~np.isfinite(plane) | (plane == 0), plane)
    ax.imshow(
        plane,
        cmap="gray",
        vmin=value_range[0],
        vmax=value_range[1],
        origin="lower",
        extent=layer.grid.extent(cut_axis),
        interpolation="nearest",
        zorder=0,
    )


def draw_filled_contours(
    ax: Axes,
    maps: Layer,
    cut_axis: int,
    coord: float,
    levels: np.ndarray,
    colours: np.ndarray,
    alpha: float = 0.7,
) -> None:
    """Each map's area above its level as a filled contour (level to +inf) in its colour."""
    planes = maps.grid.cut(maps.data, cut_axis, coord)
    if planes is None or min(planes.shape[:2]) < 2:  # contourf needs a 2 x 2 grid at least
        return
    horizontal, vertical = DISPLAY_AXES[cut_axis]
    x = maps.grid.centres(horizontal)
    y = maps.grid.centres(vertical)
    for i, level in enumerate(levels):
        plane = planes[..., i]
        if not np.any(plane >= level):
            continue
        ax.contourf(
            x,
            y,
            plane,
            levels=[level, np.inf],
            colors=[colours[i]],
            alpha=alpha,
            antialiased=True,
            zorder=2,
        )


def draw_overlay(
    ax: Axes,
    maps: Layer,
    cut_axis: int,
    coord: float,
    rgba_of_plane: Callable[[np.ndarray], np.ndarray],
) -> None:
    """An RGBA overlay: ``rgba_of_plane(planes)`` turns the cut (v, h[, n]) into (v, h, 4)."""
    planes = maps.grid.cut(maps.data, cut_axis, coord)
    if planes is None:
        return
    ax.imshow(
        rgba_of_plane(planes),
        origin="lower",
        extent=maps.grid.extent(cut_axis),
        interpolation="nearest",
        zorder=2,
    )


def legend_columns(n_entries: int, rows_per_column: int = 20) -> int:
    """Number of legend columns so that no column is taller than the panels."""
    return max(1, int(np.ceil(n_entries / rows_per_column)))
