"""Figures of the workflow, drawn with matplotlib only (Agg backend, no pyplot state).

Each figure has one file-level function, which writes its PNG atomically and takes its images
as paths or as loaded :class:`Layer` objects; a rule draws the figures that wait for the same
inputs (the network map with the network maps, the network's regions with the regions), loads
each image once, and a change redraws only what it touches. Every layer is
drawn in world millimetres, so a background on another (axis-aligned) grid lines up with the
maps; oblique affines are refused.

Importing this subpackage imports matplotlib; ``import netregions`` does not.
"""

from netregions.plotting._draw import save_figure
from netregions.plotting._inputs import Layer, load_background, load_layer
from netregions.plotting.atlas import draw_atlas, plot_components, plot_regions
from netregions.plotting.connectome import (
    Edges,
    draw_connectome,
    draw_matrix,
    edge_cutoff,
    plot_connectome,
    plot_connectome_figures,
    plot_matrix,
    select_edges,
)
from netregions.plotting.cuts import (
    atlas_contour_levels,
    fast_abs_percentile,
    find_overview_cut_coords,
    find_probabilistic_atlas_cut_coords,
    find_xyz_cut_coords,
    largest_connected_component,
)
from netregions.plotting.network import (
    draw_network_map,
    draw_network_regions,
    plot_network,
    plot_network_map,
    plot_network_regions,
)

__all__ = [
    "Edges",
    "Layer",
    "atlas_contour_levels",
    "draw_atlas",
    "draw_connectome",
    "draw_matrix",
    "draw_network_map",
    "draw_network_regions",
    "edge_cutoff",
    "fast_abs_percentile",
    "find_overview_cut_coords",
    "find_probabilistic_atlas_cut_coords",
    "find_xyz_cut_coords",
    "largest_connected_component",
    "load_background",
    "load_layer",
    "plot_components",
    "plot_connectome",
    "plot_connectome_figures",
    "plot_matrix",
    "plot_network",
    "plot_network_map",
    "plot_network_regions",
    "plot_regions",
    "save_figure",
    "select_edges",
]
