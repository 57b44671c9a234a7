"""Rule ``plot_regions``: every region, and the regions of one network."""

from netregions.plotting import load_background, load_layer, plot_network_regions
from netregions.plotting import plot_regions as _plot_regions

__all__ = ["plot_regions"]


def plot_regions(
    components: str,
    regions: str,
    table: str,
    background: str,
    regions_figure: str,
    network_regions: str,
    *,
    network: int,
) -> None:
    """Draw the regions overview, then network ``network``'s regions at its map's cut.

    The regions and the background are decoded once for both figures.
    """
    region_layer, bg = load_layer(regions, ndim=4), load_background(background)
    _plot_regions(region_layer, table, bg, regions_figure)
    plot_network_regions(components, region_layer, table, bg, network, network_regions)
