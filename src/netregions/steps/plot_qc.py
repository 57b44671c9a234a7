"""Rule ``plot_qc``: QC-FC of every connectivity kind."""

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


def _covariates(rows: list[dict[str, str]]) -> list[str]:
    """The regressors the QC-FC removed (the ``covariates`` column; absent in older tables)."""
    recorded = rows[0].get("covariates", "none") if rows else "none"
    return [] if recorded in ("none", "n/a", "") else recorded.split(",")


def plot_qc(qcfc: str, values: str, qcfc_figure: str) -> None:
    """Draw the QC-FC figure: each kind's QC-FC distribution and distance dependence."""
    from netregions.plotting import save_figure
    from netregions.plotting.qc import draw_qcfc

    arrays = np.load(values)
    summaries, qcfc_values = {}, {}
    rows = read_table(qcfc)
    for row in rows:
        key = kind_file_name(row["kind"])
        skipped = np.full(len(arrays["distances"]), np.nan)  # too few subjects: no QC-FC
        qcfc_values[row["kind"]] = arrays[key] if key in arrays.files else skipped
        summaries[row["kind"]] = {
            _SUMMARY_NAMES[k]: _number(row[k]) for k in _SUMMARY_NAMES if k in row
        }
    figure = draw_qcfc(
        qcfc_values,
        distances=arrays["distances"],
        summaries=summaries,
        covariates=_covariates(rows),
    )
    save_figure(figure, qcfc_figure)
