"""Rule ``plot_components``: every network map as filled contours, and one network's map."""

from netregions.plotting import load_background, load_layer, plot_network_map
from netregions.plotting import plot_components as _plot_components

__all__ = ["plot_components"]


def plot_components(
    components: str, background: str, figure: str, network_map: str, *, network: int
) -> None:
    """Draw the network maps over the background, then network ``network`` as a stat map.

    The maps and the background are decoded once for both figures.
    """
    maps, bg = load_layer(components, ndim=4), load_background(background)
    _plot_components(maps, bg, figure)
    plot_network_map(maps, bg, network, network_map)
