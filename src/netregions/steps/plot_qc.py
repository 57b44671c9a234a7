"""Rule ``plot_qc``: head motion of every run, and QC-FC of every connectivity kind."""

from __future__ import annotations

import numpy as np

from netregions.io import read_table
from netregions.naming import kind_file_name

__all__ = ["plot_qc"]

#: Names of the QC-FC summaries in qcfc.tsv -> in the figure's legend.
_SUMMARY_NAMES = {
    "median_abs_qcfc": "median_abs_qcfc",
    "pct_p05": "percent_significant",
    "pct_fdr05": "percent_significant_fdr",
    "distance_dependence": "distance_rho",
}


def _number(text: str) -> float:
    return float("nan") if text == "n/a" else float(text)


def plot_qc(
    qc: str,
    motion: str,
    qcfc: str,
    values: str,
    motion_figure: str,
    qcfc_figure: str,
    *,
    fd_threshold: float | None = None,
    max_mean_fd: float | None = None,
) -> None:
    """Draw the motion overview (FD traces or a compact map) and the QC-FC figure."""
    from netregions.plotting import save_figure
    from netregions.plotting.qc import draw_motion_overview, draw_qcfc

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
    arrays = np.load(values)
    summaries, qcfc_values = {}, {}
    for row in read_table(qcfc):
        key = kind_file_name(row["kind"])
        skipped = np.full(len(arrays["distances"]), np.nan)  # too few subjects: no QC-FC
        qcfc_values[row["kind"]] = arrays[key] if key in arrays.files else skipped
        summaries[row["kind"]] = {
            _SUMMARY_NAMES[k]: _number(row[k]) for k in _SUMMARY_NAMES if k in row
        }
    figure = draw_qcfc(qcfc_values, distances=arrays["distances"], summaries=summaries)
    save_figure(figure, qcfc_figure)
