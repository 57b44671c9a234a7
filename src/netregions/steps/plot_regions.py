"""Rule ``plot_regions``: every region, and the regions of one network."""

from netregions.plotting import plot_network_regions
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
    """Draw the regions overview, then network ``network``'s regions at its map's cut."""
    _plot_regions(regions, table, background, regions_figure)
    plot_network_regions(components, regions, table, background, network, network_regions)
