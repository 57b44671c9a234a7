"""All maps at once: network maps or regions as filled contours on three orthogonal cuts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from netregions.plotting._draw import (
    ORTHO_SIZE,
    PANEL_FONT,
    add_ortho_axes,
    add_side_legend,
    annotate_cut,
    arrange_ortho,
    background_range,
    draw_background,
    draw_filled_contours,
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
from netregions.plotting.cuts import atlas_contour_levels, find_overview_cut_coords

__all__ = ["draw_atlas", "plot_components", "plot_regions"]

#: Opacity of the filled contours (the reference's value).
CONTOUR_ALPHA = 0.7


def atlas_colours(n_maps: int) -> np.ndarray:
    """One colour per map: ``gist_rainbow`` sampled evenly, as the reference (RGBA rows)."""
    return colormaps["gist_rainbow"](np.linspace(0.0, 1.0, n_maps))


def draw_atlas(
    maps: Layer,
    background: Layer | None,
    labels: Sequence[str],
    title: str,
    legend_title: str,
) -> Figure:
    """Figure of every map as a filled contour over the background, with a legend.

    Parameters
    ----------
    maps : Layer
        4D maps; the area of each map at or above its level (see
        :func:`~netregions.plotting.cuts.atlas_contour_levels`) is filled.
    background : Layer or None
        3D background image (any axis-aligned grid).
    labels : sequence of str
        Legend entry of each map.
    title, legend_title : str

    Returns
    -------
    Figure
        Panels cut where the most maps are visible
        (:func:`~netregions.plotting.cuts.find_overview_cut_coords`).
    """
    n_maps = maps.data.shape[3]
    if len(labels) != n_maps:
        raise ValueError(f"{len(labels)} labels for {n_maps} maps")
    fig = new_figure(ORTHO_SIZE, layout=None)
    grids = [maps.grid] if background is None else [background.grid, maps.grid]
    box = union_box(grids)
    axes = add_ortho_axes(fig, box)
    if n_maps:
        levels = atlas_contour_levels(maps.data)
        coords = find_overview_cut_coords(maps.data, maps.affine, levels)
    else:  # nothing to show but the background
        levels = np.empty(0)
        coords = tuple(float(np.mean(maps.grid.bounds(w))) for w in range(3))
    colours = atlas_colours(n_maps)
    value_range = background_range(background.data) if background is not None else None
    for w, ax in enumerate(axes):
        if background is not None:
            draw_background(ax, background, w, coords[w], value_range)
        if n_maps:
            draw_filled_contours(ax, maps, w, coords[w], levels, colours, CONTOUR_ALPHA)
        annotate_cut(ax, w, coords[w])
    legend = None
    if n_maps:
        handles = [Patch(facecolor=c, alpha=CONTOUR_ALPHA, edgecolor="none") for c in colours]
        legend = add_side_legend(fig, handles, labels, legend_title)
    arrange_ortho(fig, axes, box, fig.suptitle(title, fontsize=PANEL_FONT + 4), legend)
    return fig


def plot_components(
    components: Path | str | Layer,
    background: Path | str | Layer | None,
    output: Path | str,
    *,
    title: str = "Network maps",
) -> Path:
    """Figure 1: every network map as a filled contour on sagittal, coronal and axial cuts.

    Parameters
    ----------
    components : path-like or Layer
        4D image, one network map per volume.
    background : path-like, Layer or None
        3D background (mean EPI or an anatomical template, any axis-aligned grid).
    output : path-like
        PNG to write (atomically).
    title : str

    Returns
    -------
    Path
        ``output``.
    """
    maps = load_layer(components, ndim=4)
    labels = [f"network {i}" for i in range(maps.data.shape[3])]
    fig = draw_atlas(maps, load_background(background), labels, title, "maps")
    return save_figure(fig, output)


def plot_regions(
    regions: Path | str | Layer,
    regions_table: Path | str,
    background: Path | str | Layer | None,
    output: Path | str,
    *,
    n_components: int | None = None,
) -> Path:
    """Figure 2: every extracted region as a filled contour, like :func:`plot_components`.

    Regions are drawn by |value|, so negative regions (two-sided extraction) show too.

    Parameters
    ----------
    regions : path-like or Layer
        4D image, one region per volume.
    regions_table : path-like
        ``regions.tsv`` (region, component, ...).
    background : path-like, Layer or None
    output : path-like
    n_components : int, optional
        Number of networks for the title; default: networks with at least one region.

    Returns
    -------
    Path
    """
    layer = load_layer(regions, ndim=4)
    table = read_regions_table(regions_table)
    check_regions_match(layer, table, regions_table)
    layer = layer.with_data(np.abs(layer.data))
    n_networks = len(set(table.component.tolist())) if n_components is None else n_components
    n_regions = layer.data.shape[3]
    title = (
        f"{n_regions} region{'s' if n_regions != 1 else ''} extracted from "
        f"{n_networks} component{'s' if n_networks != 1 else ''}"
    )
    fig = draw_atlas(layer, load_background(background), table.labels(), title, "regions")
    return save_figure(fig, output)
