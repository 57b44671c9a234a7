"""Rule ``plot_connectome``: the group mean correlation as a matrix and on a glass brain."""

from netregions.plotting import plot_connectome_figures

__all__ = ["plot_connectome"]


def plot_connectome(
    connectome: str,
    table: str,
    mask: str,
    matrix_figure: str,
    connectome_figure: str,
    *,
    edge_threshold: str | float,
) -> None:
    """Draw the mean connectome's matrix and its strongest edges on a glass brain."""
    plot_connectome_figures(
        connectome, table, mask, matrix_figure, connectome_figure, edge_threshold=edge_threshold
    )
