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
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.cm import ScalarMappable
from matplotlib.colorbar import Colorbar
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text

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
    "add_side_colorbar",
    "add_side_legend",
    "add_square_axes",
    "arrange_grid",
    "arrange_ortho",
    "arrange_square",
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

#: Inches between the figure's edge and its content, between two panels, and between the
#: panels and their legend or colour bar.
EDGE_INCHES = 0.08
PANEL_GAP_INCHES = 0.15
SIDE_GAP_INCHES = 0.15
#: Width (inches) of a colour bar beside the panels, and its share of the panels' height.
COLORBAR_INCHES = 0.12
COLORBAR_SHARE = 0.8

#: Points between a panel and its title.
_PANEL_TITLE_PAD = 3

ViewBox = np.ndarray  # shape (3, 2): (low, high) mm per world axis


def new_figure(size: tuple[float, float], *, layout: str | None = "constrained") -> Figure:
    """A white figure, by default with constrained layout (titles and labels unclipped).

    The figures redrawn after every change of the regions pass ``layout=None`` and are placed
    by :func:`arrange_ortho`, :func:`arrange_square` or :func:`arrange_grid`.
    """
    return Figure(figsize=size, dpi=DPI, layout=layout, facecolor="white")


def figure_renderer(fig: Figure) -> RendererBase:
    """An Agg renderer of ``fig`` (the one ``savefig`` to PNG uses), to measure texts."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    return canvas.get_renderer()


def _inches(artist: Artist, renderer: RendererBase) -> tuple[float, float]:
    """Width and height of an artist as drawn, in inches (0 for an empty text)."""
    if isinstance(artist, Text) and not artist.get_text():
        return 0.0, 0.0
    box = artist.get_window_extent(renderer)
    return box.width / DPI, box.height / DPI


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

    The panels are placed for good by :func:`arrange_ortho`, once everything is drawn.

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
    axes = []
    for w in range(3):
        ax = fig.add_axes((w / 3, 0.0, 1 / 3, 1.0))
        horizontal, vertical = DISPLAY_AXES[w]
        ax.set_xlim(*box[horizontal])
        ax.set_ylim(*box[vertical])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        suffix = " (projection)" if projection else ""
        ax.set_title(CUT_NAMES[w] + suffix, fontsize=PANEL_FONT + 1, pad=_PANEL_TITLE_PAD)
        if w != 0:
            _add_left_right(ax)
        axes.append(ax)
    return axes


def add_side_colorbar(fig: Figure, mappable: ScalarMappable) -> Colorbar:
    """A colour bar for :func:`arrange_ortho` or :func:`arrange_square` to place."""
    width = fig.get_size_inches()[0]
    # labelled as matplotlib labels the colour bars it places itself
    cax = fig.add_axes((0.0, 0.0, COLORBAR_INCHES / width, 0.5), label="<colorbar>")
    colorbar = fig.colorbar(mappable, cax=cax)
    colorbar.ax.tick_params(labelsize=PANEL_FONT)
    return colorbar


def add_side_legend(
    fig: Figure, handles: Sequence[Artist], labels: Sequence[str], title: str
) -> Legend:
    """A legend (20 rows per column at most) for :func:`arrange_ortho` to place by the panels."""
    return fig.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(0.0, 1.0),
        borderaxespad=0.0,
        ncols=legend_columns(len(labels)),
        fontsize=PANEL_FONT - 1,
        title=title,
        title_fontsize=PANEL_FONT,
        frameon=False,
        handlelength=1.2,
        columnspacing=0.8,
        labelspacing=0.3,
    )


def _side_width(side: Legend | Colorbar | None, renderer: RendererBase) -> float:
    """Inches taken by the legend or the colour bar (ticks and label included)."""
    if side is None:
        return 0.0
    if isinstance(side, Colorbar):
        return side.ax.get_tightbbox(renderer).width / DPI
    return _inches(side, renderer)[0]


def _place_title(title: Text, renderer: RendererBase) -> float:
    """Put the figure title at the top edge; return the inches it takes, margins included."""
    title.set_y(1 - EDGE_INCHES / title.figure.get_size_inches()[1])
    return 2 * EDGE_INCHES + _inches(title, renderer)[1]


def _place_colorbar(colorbar: Colorbar, x: float, y: float, panel_height: float) -> None:
    """Colour bar at ``x`` (inches), centred on a panel spanning ``y`` to ``y + panel_height``."""
    width, height = colorbar.ax.figure.get_size_inches()
    bar_height = COLORBAR_SHARE * panel_height
    bar_y = y + (panel_height - bar_height) / 2
    colorbar.ax.set_position(
        (x / width, bar_y / height, COLORBAR_INCHES / width, bar_height / height)
    )


def _label_room(ax: Axes, renderer: RendererBase) -> np.ndarray:
    """Inches the labels and title of a panel take beyond its frame: left, below, right, above.

    0 on a side they do not reach past the frame.
    """
    frame, tight = ax.get_window_extent(renderer), ax.get_tightbbox(renderer)
    room = [frame.x0 - tight.x0, frame.y0 - tight.y0, tight.x1 - frame.x1, tight.y1 - frame.y1]
    return np.maximum(room, 0.0) / DPI


def _band_heights(axes: list[Axes], title: Text, renderer: RendererBase) -> tuple[float, float]:
    """Inches above the panels (figure title, panel titles) and below them (x labels)."""
    panel_title = max(_inches(ax.title, renderer)[1] for ax in axes)
    top = _place_title(title, renderer) + panel_title + _PANEL_TITLE_PAD / 72
    label = max(_inches(ax.xaxis.label, renderer)[1] for ax in axes)
    bottom = EDGE_INCHES + (label + axes[0].xaxis.labelpad / 72 if label else 0.0)
    return top, bottom


def arrange_ortho(
    fig: Figure,
    axes: list[Axes],
    box: ViewBox,
    title: Text,
    side: Legend | Colorbar | None = None,
) -> None:
    """Place the title, the three panels and a legend or colour bar so that none overlap.

    The panels keep the aspect of ``box`` and share one height, as large as the figure
    allows once the title, the panel titles, the x labels and ``side`` have their room; the
    panels and ``side`` are centred as one row. A colour bar is
    :data:`COLORBAR_INCHES` wide and :data:`COLORBAR_SHARE` of the panels' height; a legend
    hangs from the panels' top edge (it must use ``loc="upper left"``).

    Parameters
    ----------
    fig : Figure
        Made by ``new_figure(..., layout=None)``.
    axes : list of Axes
        From :func:`add_ortho_axes`.
    box : ndarray, shape (3, 2)
        The world box given to :func:`add_ortho_axes`.
    title : Text
        The figure title (what ``fig.suptitle`` returned).
    side : Legend, Colorbar or None
        Drawn to the right of the panels.
    """
    renderer = figure_renderer(fig)
    width, height = fig.get_size_inches()
    top, bottom = _band_heights(axes, title, renderer)
    side_width = _side_width(side, renderer)
    side_room = side_width + SIDE_GAP_INCHES if side is not None else 0.0
    aspects = [panel_aspect(box, w) for w in range(3)]
    free_width = width - 2 * EDGE_INCHES - 2 * PANEL_GAP_INCHES - side_room
    panel_height = max(min(height - top - bottom, free_width / sum(aspects)), 0.1)
    row = panel_height * sum(aspects) + 2 * PANEL_GAP_INCHES
    x = (width - row - side_room) / 2
    y = bottom + (height - top - bottom - panel_height) / 2
    for ax, aspect in zip(axes, aspects, strict=True):
        panel_width = aspect * panel_height
        ax.set_position((x / width, y / height, panel_width / width, panel_height / height))
        x += panel_width + PANEL_GAP_INCHES
    side_x = x - PANEL_GAP_INCHES + SIDE_GAP_INCHES
    if isinstance(side, Colorbar):
        _place_colorbar(side, side_x, y, panel_height)
    elif side is not None:
        side.set_bbox_to_anchor((side_x / width, (y + panel_height) / height))


def add_square_axes(fig: Figure) -> Axes:
    """One square panel, placed for good by :func:`arrange_square`."""
    width, height = fig.get_size_inches()
    side = min(width, height) / 2
    return fig.add_axes((0.25, 0.25, side / width, side / height))


def arrange_square(fig: Figure, ax: Axes, title: Text, colorbar: Colorbar) -> None:
    """Place a square panel with its tick labels and x label, the title and a colour bar.

    The panel is as large as the figure allows once its labels (measured), the title and
    the colour bar (:data:`COLORBAR_SHARE` of the panel's height) have their room.

    Parameters
    ----------
    fig : Figure
        Made by ``new_figure(..., layout=None)``.
    ax : Axes
        From :func:`add_square_axes`.
    title : Text
        The figure title (what ``fig.suptitle`` returned).
    colorbar : Colorbar
        From :func:`add_side_colorbar`.
    """
    renderer = figure_renderer(fig)
    width, height = fig.get_size_inches()
    left, below, right, _ = _label_room(ax, renderer)  # rotated tick labels may overhang right
    side = right + SIDE_GAP_INCHES + _side_width(colorbar, renderer)
    top = _place_title(title, renderer)
    size = min(width - 2 * EDGE_INCHES - left - side, height - top - below - EDGE_INCHES)
    size = max(size, 0.1)
    x = (width - left - size - side) / 2 + left
    y = EDGE_INCHES + below + (height - top - below - EDGE_INCHES - size) / 2
    ax.set_position((x / width, y / height, size / width, size / height))
    _place_colorbar(colorbar, x + size + right + SIDE_GAP_INCHES, y, size)


def arrange_grid(fig: Figure, axes: np.ndarray, title: Text) -> None:
    """Place a grid of panels of equal size under the title, each with room for its labels.

    Each panel's labels, ticks and title are measured once; every column gets the room its
    widest labels need, every row the room its tallest need, and the panels share what is
    left.

    Parameters
    ----------
    fig : Figure
        Made by ``new_figure(..., layout=None)``.
    axes : ndarray of Axes, shape (n_rows, n_columns)
    title : Text
        The figure title (what ``fig.suptitle`` returned).
    """
    renderer = figure_renderer(fig)
    width, height = fig.get_size_inches()
    n_rows, n_columns = axes.shape
    room = np.zeros((n_rows, n_columns, 4))  # inches left, below, right, above each frame
    for index, ax in np.ndenumerate(axes):
        room[index] = _label_room(ax, renderer)
    left, right = room[..., 0].max(axis=0), room[..., 2].max(axis=0)  # per column
    below, above = room[..., 1].max(axis=1), room[..., 3].max(axis=1)  # per row
    top = _place_title(title, renderer)
    gap = PANEL_GAP_INCHES
    panel_width = width - 2 * EDGE_INCHES - (n_columns - 1) * gap - left.sum() - right.sum()
    panel_height = height - top - EDGE_INCHES - (n_rows - 1) * gap - below.sum() - above.sum()
    panel_width, panel_height = max(panel_width / n_columns, 0.1), max(panel_height / n_rows, 0.1)
    y = height - top
    for row in range(n_rows):
        y -= above[row] + panel_height
        x = EDGE_INCHES
        for column in range(n_columns):
            x += left[column]
            rect = (x / width, y / height, panel_width / width, panel_height / height)
            axes[row, column].set_position(rect)
            x += panel_width + right[column] + gap
        y -= below[row] + gap


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
