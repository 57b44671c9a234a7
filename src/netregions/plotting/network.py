"""One network: its map as a stat map, and its regions overlaid at the same cuts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from netregions.plotting._draw import (
    ORTHO_SIZE,
    PANEL_FONT,
    add_ortho_axes,
    add_side_colorbar,
    add_side_legend,
    annotate_cut,
    arrange_ortho,
    background_range,
    draw_background,
    draw_cross,
    draw_overlay,
    new_figure,
    save_figure,
    union_box,
)
from netregions.plotting._inputs import (
    Layer,
    check_regions_match,
    load_background,
    load_layer,
    read_regions_table,
)
from netregions.plotting.cuts import find_xyz_cut_coords

__all__ = [
    "draw_network_map",
    "draw_network_regions",
    "plot_network",
    "plot_network_map",
    "plot_network_regions",
    "region_colours",
]

#: Values at or below this |value| are not drawn on a stat map (the reference's threshold).
STAT_THRESHOLD = 1e-6
#: Region colours in the reference's order "rgbcmyk" (slightly darker yellow and cyan so they
#: read on grey); cycled when a network has more than seven regions.
REGION_PALETTE = ("#e41a1c", "#2ca02c", "#1f5fd0", "#00a5c0", "#d62ad0", "#e0b000", "#111111")


def region_colours(n_regions: int) -> list[str]:
    """Colour of each region of one network (the seven-colour palette, cycled)."""
    return [REGION_PALETTE[i % len(REGION_PALETTE)] for i in range(n_regions)]


def check_network_index(network: int, n_components: int) -> int:
    """Return ``network`` if it is a valid 0-based component index, else raise ValueError."""
    if isinstance(network, bool) or int(network) != network:
        raise ValueError(f"network must be an integer, got {network!r}")
    network = int(network)
    if not 0 <= network < n_components:
        raise ValueError(
            f"network {network} does not exist: there are {n_components} components "
            f"(valid indices 0 to {n_components - 1})"
        )
    return network


def _ortho_figure(maps: Layer, background: Layer | None) -> tuple[Figure, list[Axes], np.ndarray]:
    """Figure, panels and shown world box (for :func:`arrange_ortho`)."""
    fig = new_figure(ORTHO_SIZE, layout=None)
    grids = [maps.grid] if background is None else [background.grid, maps.grid]
    box = union_box(grids)
    return fig, add_ortho_axes(fig, box), box


def _decorate(axes: list[Axes], background: Layer | None, coords: Sequence[float]) -> None:
    """Background, cut label and cross on each panel."""
    value_range = background_range(background.data) if background is not None else None
    for w, ax in enumerate(axes):
        if background is not None:
            draw_background(ax, background, w, coords[w], value_range)
        annotate_cut(ax, w, coords[w])
        draw_cross(ax, w, coords)


def draw_network_map(
    network_map: Layer, background: Layer | None, coords: Sequence[float], title: str
) -> Figure:
    """Stat map of one network: ``RdBu_r`` over a symmetric range, |value| <= 1e-6 hidden.

    Parameters
    ----------
    network_map : Layer
        3D map.
    background : Layer or None
    coords : sequence of float
        Cut (x, y, z) in mm.
    title : str

    Returns
    -------
    Figure
    """
    fig, axes, box = _ortho_figure(network_map, background)
    _decorate(axes, background, coords)
    peak = float(np.max(np.abs(network_map.data))) or 1.0
    image = None
    for w, ax in enumerate(axes):
        plane = network_map.grid.cut(network_map.data, w, coords[w])
        if plane is None:
            continue
        image = ax.imshow(
            np.ma.masked_where(np.abs(plane) <= STAT_THRESHOLD, plane),
            cmap="RdBu_r",
            vmin=-peak,
            vmax=peak,
            origin="lower",
            extent=network_map.grid.extent(w),
            interpolation="nearest",
            zorder=2,
        )
    colorbar = add_side_colorbar(fig, image) if image is not None else None
    arrange_ortho(fig, axes, box, fig.suptitle(title, fontsize=PANEL_FONT + 4), colorbar)
    return fig


def _regions_rgba(colours: list[str]) -> Callable[[np.ndarray], np.ndarray]:
    """Turn a cut of the regions (v, h, n) into RGBA: each region in its colour.

    Opacity ramps from 0.5 to 1 with |value| / region peak (the reference's alpha colormap);
    where regions overlap the last one wins.
    """
    rgb = np.array([to_rgb(c) for c in colours]).reshape(-1, 3)

    def to_rgba(planes: np.ndarray) -> np.ndarray:
        out = np.zeros((*planes.shape[:2], 4))
        magnitude = np.abs(planes)
        peaks = magnitude.reshape(-1, planes.shape[2]).max(axis=0)
        for i in range(planes.shape[2]):
            inside = magnitude[..., i] > 0
            if not inside.any():
                continue
            out[inside, :3] = rgb[i]
            out[inside, 3] = 0.5 + 0.5 * magnitude[..., i][inside] / peaks[i]
        return out

    return to_rgba


def draw_network_regions(
    regions: Layer,
    labels: list[str],
    background: Layer | None,
    coords: Sequence[float],
    title: str,
) -> Figure:
    """The regions of one network, each in its own colour, at the network's cuts.

    Parameters
    ----------
    regions : Layer
        4D, the regions of this network only (possibly 0 volumes).
    labels : list of str
        Legend entry per region.
    background : Layer or None
    coords : sequence of float
        Cut (x, y, z) in mm.
    title : str

    Returns
    -------
    Figure
    """
    fig, axes, box = _ortho_figure(regions, background)
    _decorate(axes, background, coords)
    n_regions = regions.data.shape[3]
    colours = region_colours(n_regions)
    legend = None
    if n_regions:
        for w, ax in enumerate(axes):
            draw_overlay(ax, regions, w, coords[w], _regions_rgba(colours))
        legend = add_side_legend(fig, [Patch(facecolor=c) for c in colours], labels, "regions")
    arrange_ortho(fig, axes, box, fig.suptitle(title, fontsize=PANEL_FONT + 4), legend)
    return fig


def _network_and_cut(
    components: Path | str | Layer, network: int
) -> tuple[Layer, tuple[float, float, float]]:
    """Map ``network`` of a 4D image (float32) and its cut (:func:`find_xyz_cut_coords`)."""
    maps = load_layer(components, ndim=4)
    network = check_network_index(network, maps.data.shape[3])
    network_map = maps.with_data(np.asarray(maps.data[..., network], dtype=np.float32))
    return network_map, find_xyz_cut_coords(network_map.data, network_map.affine)


def plot_network_map(
    components: Path | str | Layer,
    background: Path | str | Layer | None,
    network: int,
    output: Path | str,
) -> Path:
    """Figure 5, first half: network ``network`` as a stat map, a cross at its cut.

    The cut is :func:`~netregions.plotting.cuts.find_xyz_cut_coords` of the network's map,
    the same as :func:`plot_network_regions` uses.

    Parameters
    ----------
    components : path-like or Layer
        4D image of the network maps.
    background : path-like, Layer or None
    network : int
        0-based network index.
    output : path-like
        PNG to write (atomically).

    Returns
    -------
    Path
        ``output``.

    Raises
    ------
    ValueError
        If ``network`` is not a component index (the message gives the number of components).
    """
    network_map, coords = _network_and_cut(components, network)
    bg = load_background(background)
    return save_figure(draw_network_map(network_map, bg, coords, f"Network {network}"), output)


def plot_network_regions(
    components: Path | str | Layer,
    regions: Path | str | Layer,
    regions_table: Path | str,
    background: Path | str | Layer | None,
    network: int,
    output: Path | str,
) -> Path:
    """Figure 5, second half: the regions of network ``network``, at the network map's cut.

    Parameters
    ----------
    components, background, network, output
        As for :func:`plot_network_map` (the network maps give the cut).
    regions : path-like or Layer
        4D image, one region per volume.
    regions_table : path-like
        ``regions.tsv`` (its ``component`` column says which regions belong to the network).

    Returns
    -------
    Path
        ``output``.

    Raises
    ------
    ValueError
        If ``network`` is not a component index, or if the regions image and table disagree.
    """
    _, coords = _network_and_cut(components, network)
    region_layer = load_layer(regions, ndim=4)
    table = read_regions_table(regions_table)
    check_regions_match(region_layer, table, regions_table)
    members = np.flatnonzero(table.component == network)
    own = region_layer.with_data(region_layer.data[..., members])
    labels = [table.labels()[i] for i in members]
    count = f"{len(members)} region{'s' if len(members) != 1 else ''}"
    bg = load_background(background)
    fig = draw_network_regions(own, labels, bg, coords, f"Regions of network {network} ({count})")
    return save_figure(fig, output)


def plot_network(
    components: Path | str | Layer,
    regions: Path | str | Layer,
    regions_table: Path | str,
    background: Path | str | Layer | None,
    network: int,
    output_map: Path | str,
    output_regions: Path | str,
) -> tuple[Path, Path]:
    """Figure 5: :func:`plot_network_map`, then :func:`plot_network_regions`.

    The network maps and the background are decoded once for both figures.

    Parameters
    ----------
    components, regions, regions_table, background, network
        As for :func:`plot_network_regions`.
    output_map, output_regions : path-like
        PNGs of the network and of its regions.

    Returns
    -------
    tuple of Path
    """
    maps, bg = load_layer(components, ndim=4), load_background(background)
    return (
        plot_network_map(maps, bg, network, output_map),
        plot_network_regions(maps, regions, regions_table, bg, network, output_regions),
    )
