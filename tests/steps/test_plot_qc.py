import numpy as np
import pytest

from netregions.io import write_table
from netregions.plotting import qc as qc_figures
from netregions.steps.plot_qc import plot_qc

COLUMNS = ["kind", "n_subjects", "median_abs_qcfc", "pct_p05", "pct_fdr05", "distance_dependence"]


@pytest.fixture
def drawn(monkeypatch):
    """The keyword arguments plot_qc gives the QC-FC figure (which is still drawn)."""
    calls = []
    original = qc_figures.draw_qcfc

    def spy(qcfc, **kwargs):
        calls.append(kwargs)
        return original(qcfc, **kwargs)

    monkeypatch.setattr(qc_figures, "draw_qcfc", spy)
    return calls


def _inputs(tmp_path, rng, extra=None):
    row = {"kind": "correlation", "n_subjects": 20, "median_abs_qcfc": 0.1, "pct_p05": 5.0,
           "pct_fdr05": 0.0, "distance_dependence": -0.05, **(extra or {})}  # fmt: skip
    write_table(tmp_path / "qcfc.tsv", [row], [*COLUMNS, *(extra or {})])
    with open(tmp_path / "qcfc.npz", "wb") as f:
        np.savez(f, distances=rng.uniform(5, 150, 15), correlation=rng.normal(0, 0.1, 15))
    return str(tmp_path / "qcfc.tsv"), str(tmp_path / "qcfc.npz")


@pytest.mark.parametrize(
    "extra,covariates",
    [
        ({"covariates": "age,sex[M]", "n_missing_covariates": 1}, ["age", "sex[M]"]),
        ({"covariates": "none", "n_missing_covariates": 0}, []),
        (None, []),  # a table written before the covariates existed
    ],
)
def test_the_figure_names_the_covariates_of_the_table(tmp_path, rng, drawn, extra, covariates):
    plot_qc(*_inputs(tmp_path, rng, extra), str(tmp_path / "qcfc.png"))
    (kwargs,) = drawn
    assert kwargs["covariates"] == covariates
    assert kwargs["summaries"]["correlation"]["median_abs_qcfc"] == pytest.approx(0.1)
    assert (tmp_path / "qcfc.png").stat().st_size > 10_000
