import re

import numpy as np
import pytest
from scipy import stats

from netregions.comparison import sym_matrix_to_vec
from netregions.qcfc import (
    distance_dependence,
    edge_distances,
    encode_covariates,
    qcfc,
    qcfc_summary,
)


def residuals(values, design):
    design = np.column_stack([np.ones(len(design)), design])
    return values - design @ np.linalg.lstsq(design, values, rcond=None)[0]


def test_an_edge_equal_to_mean_fd_has_qcfc_1(rng):
    fd = rng.uniform(0.05, 0.5, size=25)
    edges = np.column_stack([fd, -2 * fd + 1, rng.standard_normal(25)])
    r, p = qcfc(edges, fd)
    np.testing.assert_allclose(r[:2], [1.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(p[:2], [0.0, 0.0], atol=1e-12)


def test_qcfc_is_pearson_with_its_p_value(rng):
    fd = rng.uniform(0.05, 0.5, size=18)
    edges = rng.standard_normal((18, 6)) + fd[:, None] * rng.uniform(-3, 3, size=6)
    r, p = qcfc(edges, fd)
    for k in range(6):
        reference = stats.pearsonr(edges[:, k], fd)
        assert r[k] == pytest.approx(reference.statistic, abs=1e-12)
        assert p[k] == pytest.approx(reference.pvalue, rel=1e-9)


def test_fd_independent_edges_give_about_5_percent_at_p_05(rng):
    fd = rng.gamma(2.0, 0.1, size=40)
    r, p = qcfc(rng.standard_normal((40, 3000)), fd)
    assert np.mean(p < 0.05) == pytest.approx(0.05, abs=0.015)  # binomial SD 0.004
    assert np.median(np.abs(r)) == pytest.approx(0.107, abs=0.02)  # median |r| at n=40


def test_partial_qcfc_removes_a_shared_covariate(rng):
    n = 60
    age = rng.uniform(8, 40, size=n)
    sex = rng.integers(0, 2, size=n).astype(float)
    fd = 0.01 * age + 0.02 * rng.standard_normal(n)
    edges = 0.02 * age[:, None] + 0.05 * rng.standard_normal((n, 200))  # motion-free edges
    plain, _ = qcfc(edges, fd)
    partial, p = qcfc(edges, fd, np.column_stack([age, sex]))
    assert np.median(plain) > 0.5  # age drives both: edges seem to track motion
    assert np.median(np.abs(partial)) < 0.1
    # reference: Pearson of residuals on [1, age, sex], p with df n - 2 as in the benchmark
    design = np.column_stack([age, sex])
    e, f = residuals(edges[:, 7], design), residuals(fd, design)
    reference = stats.pearsonr(e, f)
    assert partial[7] == pytest.approx(reference.statistic, abs=1e-10)
    assert p[7] == pytest.approx(reference.pvalue, rel=1e-8)


def test_partial_qcfc_equals_the_precision_matrix_formula(rng):
    n = 30
    covariate = rng.standard_normal(n)
    fd = covariate + rng.standard_normal(n)
    edge = 0.5 * covariate + 0.3 * fd + rng.standard_normal(n)
    partial, _ = qcfc(edge[:, None], fd, covariate * 1000.0 + 5.0)  # z-scoring: unit-free
    precision = np.linalg.inv(np.corrcoef(np.vstack([edge, fd, covariate])))
    expected = -precision[0, 1] / np.sqrt(precision[0, 0] * precision[1, 1])
    assert partial[0] == pytest.approx(expected, abs=1e-10)


def test_subjects_with_nan_are_dropped(rng):
    fd = rng.uniform(0.05, 0.5, size=12)
    edges = rng.standard_normal((12, 3))
    fd_nan = fd.copy()
    fd_nan[4] = np.nan
    r, p = qcfc(edges, fd_nan)
    keep = np.arange(12) != 4
    np.testing.assert_allclose(r, qcfc(edges[keep], fd[keep])[0])
    edges_nan = edges.copy()
    edges_nan[2, 1] = np.nan  # one subject's value of edge 1 only
    r_nan, _ = qcfc(edges_nan, fd)
    full, _ = qcfc(edges, fd)
    np.testing.assert_allclose(r_nan[[0, 2]], full[[0, 2]])
    rows = np.arange(12) != 2
    assert r_nan[1] == pytest.approx(stats.pearsonr(edges[rows, 1], fd[rows]).statistic)


def test_qcfc_rejects_mismatched_shapes(rng):
    with pytest.raises(ValueError, match="one value per subject"):
        qcfc(rng.standard_normal((10, 3)), np.ones(9))
    with pytest.raises(ValueError, match="covariates must be"):
        qcfc(rng.standard_normal((10, 3)), np.ones(10), np.ones((9, 2)))


def test_with_covariates_qcfc_needs_three_subjects_more_than_regressors(rng):
    # with n = 3 + c - 1 subjects the residuals of edge and FD span one dimension: r = +-1
    fd = rng.uniform(0.05, 0.5, size=5)
    edges = rng.standard_normal((5, 2))
    covariates = rng.standard_normal((5, 3))
    r, p = qcfc(edges[:5], fd[:5], covariates[:, :2])
    assert np.isfinite(r).all() and np.isfinite(p).all()
    r, p = qcfc(edges[:4], fd[:4], covariates[:4, :2])
    assert np.isnan(r).all() and np.isnan(p).all()
    assert np.isnan(qcfc(edges, fd, covariates)[0]).all()


def test_numeric_covariates_are_used_as_they_are():
    design = encode_covariates({"age": ["8", "30.5", "12", "1e1"], "score": ["-1", "0", "2", "3"]})
    np.testing.assert_array_equal(design.values, [[8, -1], [30.5, 0], [12, 2], [10, 3]])
    assert design.names == ("age", "score")
    assert design.references == {}


def test_categorical_covariates_get_k_minus_1_indicators_after_the_first_level():
    design = encode_covariates(
        {"sex": ["M", "F", "M", "F"], "hand": ["R", "L", "A", "R"], "age": ["8", "9", "10", "7"]}
    )
    assert design.names == ("sex[M]", "hand[L]", "hand[R]", "age")
    assert design.references == {"sex": "F", "hand": "A"}
    expected = [[1, 0, 1, 8], [0, 1, 0, 9], [1, 0, 0, 10], [0, 0, 1, 7]]
    np.testing.assert_array_equal(design.values, expected)


@pytest.mark.parametrize(
    "columns,message",
    [
        (
            {"sex": ["M", "M", "M"]},
            "covariate 'sex' is constant among the 3 subjects: every one is 'M'",
        ),
        ({"age": ["8", "8.0", "8"]}, "covariate 'age' is constant among the 3 subjects"),
        ({"age": []}, "covariate 'age' is constant among the 0 subjects: none has a value"),
        ({"age": ["8", "nine", "10"]}, "covariate 'age' mixes numbers and text ('nine')"),
        ({"age": ["8", "n/a", "10"]}, "covariate 'age' has missing values"),
        ({"age": ["8", "9"], "sex": ["M", "F", "M"]}, "different lengths"),
    ],
)
def test_covariates_that_cannot_be_removed_are_refused(columns, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        encode_covariates(columns)


def test_distance_dependence_is_spearman(rng):
    r = rng.standard_normal(300)
    distances = np.round(rng.uniform(10, 120, size=300) + 20 * r, 0)  # ties
    expected = stats.spearmanr(r, distances).statistic
    assert distance_dependence(r, distances) == pytest.approx(expected, abs=1e-12)
    r[5] = np.nan
    expected = stats.spearmanr(np.delete(r, 5), np.delete(distances, 5)).statistic
    assert distance_dependence(r, distances) == pytest.approx(expected, abs=1e-12)


def test_qcfc_summary_worked_example():
    r = np.array([0.1, -0.3, 0.2, 0.5])
    p = np.array([0.01, 0.04, 0.2, 0.03])
    summary = qcfc_summary(r, p)
    # |r| median (0.2 + 0.3) / 2; 3 of 4 p < 0.05; BH q = [0.04, 0.0533, 0.2, 0.0533]
    assert summary == pytest.approx(
        {"median_abs_qcfc": 0.25, "pct_p05": 75.0, "pct_fdr05": 25.0, "distance_dependence": None}
    )
    with_distances = qcfc_summary(r, p, np.array([10.0, 20.0, 30.0, 40.0]))
    assert with_distances["distance_dependence"] == pytest.approx(0.8)  # ranks 2,1,3,4 vs 1,2,3,4


def test_qcfc_summary_counts_fdr_rejections_at_the_bound():
    # BH at 0.05 rejects the 4 smallest (p_(4) = 0.04 <= 4 * 0.05 / 5), two of them at q = 0.05
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2])
    assert qcfc_summary(np.full(5, 0.3), p)["pct_fdr05"] == pytest.approx(80.0)


def test_edge_distances_follow_the_vectorisation_order():
    coords = np.array([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0], [0.0, 0.0, 12.0]])
    np.testing.assert_allclose(edge_distances(coords), [5.0, 12.0, 13.0])
    rng = np.random.default_rng(0)
    many = rng.uniform(-60, 60, size=(7, 3))
    matrix = np.linalg.norm(many[:, None] - many[None], axis=-1)
    np.testing.assert_allclose(
        edge_distances(many), sym_matrix_to_vec(matrix, discard_diagonal=True)
    )
    with pytest.raises(ValueError, match=r"\(n_regions, 3\)"):
        edge_distances(np.zeros((4, 2)))


@pytest.mark.parametrize(
    "values",
    [
        np.array([3.0]),
        np.array([2.0, 2.0, 2.0]),
        np.array([0.0, -0.0, 1.0, -1.0]),
        np.round(np.random.default_rng(4).normal(size=200), 1),  # many ties
        np.random.default_rng(5).normal(size=50),
    ],
)
def test_average_ranks_match_scipy(values):
    from netregions.qcfc import _ranks

    np.testing.assert_array_equal(_ranks(values), stats.rankdata(values))
