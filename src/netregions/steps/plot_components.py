"""Rule ``plot_components``: every network map as filled contours."""

from netregions.plotting import plot_components as _plot

__all__ = ["plot_components"]


def plot_components(components: str, background: str, figure: str) -> None:
    """Draw the network maps over the background (the data's mean EPI or a template)."""
    _plot(components, background, figure)
