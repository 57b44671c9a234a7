"""Rule ``plot_regions``: every region, and one network with its regions."""

from netregions.plotting import plot_region_figures

__all__ = ["plot_regions"]


def plot_regions(
    components: str,
    regions: str,
    table: str,
    background: str,
    regions_figure: str,
    network_map: str,
    network_regions: str,
    *,
    network: int,
) -> None:
    """Draw the regions overview, then network ``network``'s map and its regions."""
    plot_region_figures(
        components, regions, table, background, network, regions_figure, network_map,
        network_regions,
    )  # fmt: skip
