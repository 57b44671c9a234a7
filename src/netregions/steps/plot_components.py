"""Rule ``plot_components``: every network map as filled contours, and one network's map."""

from netregions.plotting import plot_components as _plot_components
from netregions.plotting import plot_network_map

__all__ = ["plot_components"]


def plot_components(
    components: str, background: str, figure: str, network_map: str, *, network: int
) -> None:
    """Draw the network maps over the background, then network ``network`` as a stat map."""
    _plot_components(components, background, figure)
    plot_network_map(components, background, network, network_map)
