"""Rule ``plot_stability``: the stability index of each consensus network."""

import numpy as np

from netregions.io import read_table

__all__ = ["plot_stability"]


def plot_stability(stability: str, figure: str) -> None:
    """Bar chart of ``group/stability.tsv`` (with each cluster's size)."""
    from netregions.plotting import save_figure
    from netregions.plotting.qc import draw_stability

    rows = read_table(stability)
    values = np.array([float(r["stability"]) for r in rows])
    sizes = np.array([int(r["size"]) for r in rows])
    n_runs = int(rows[0]["n_runs"]) if rows else None
    save_figure(draw_stability(values, sizes=sizes, n_runs=n_runs), figure)
