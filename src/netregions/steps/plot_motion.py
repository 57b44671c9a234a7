"""Rule ``plot_motion``: head motion of every run (FD traces, or a compact map)."""

from __future__ import annotations

import numpy as np

from netregions.io import read_table

__all__ = ["plot_motion"]


def plot_motion(
    qc: str,
    motion: str,
    motion_figure: str,
    *,
    fd_threshold: float | None = None,
    max_mean_fd: float | None = None,
) -> None:
    """Draw the motion overview of every run, with censored volumes and excluded runs.

    A rule of its own, apart from the QC-FC figure: motion depends on the runs and the QC
    settings only, so a change to the regions or the connectivity kinds does not redraw it.
    """
    from netregions.plotting import save_figure
    from netregions.plotting.qc import draw_motion_overview

    rows = read_table(qc)
    traces = np.load(motion)
    lengths = [int(r["n_volumes"]) for r in rows]
    overview = draw_motion_overview(
        [r["run"] for r in rows],
        [traces[i, 0, :n] for i, n in enumerate(lengths)],
        [traces[i, 1, :n] > 0.5 for i, n in enumerate(lengths)],
        [r["included"] == "true" for r in rows],
        fd_threshold=fd_threshold,
        max_mean_fd=max_mean_fd,
        t_r=[float(r["t_r"]) for r in rows],
        reasons=[r["reason"] for r in rows],
    )
    save_figure(overview, motion_figure)
