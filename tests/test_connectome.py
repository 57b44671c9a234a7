import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import linalg
from sklearn.covariance import LedoitWolf
from sklearn.covariance import ledoit_wolf as sk_ledoit_wolf

from netregions import connectome as cm

NON_TANGENT = ("correlation", "partial correlation", "covariance", "precision")


# --------------------------------------------------------------------------- helpers


def signals(rng, n_samples=120, n_features=6, dtype=np.float64):
    """Correlated signals with unequal variances and non-zero means."""
    mixing = rng.standard_normal((n_features, n_features)) * 0.5 + np.eye(n_features)
    x = rng.standard_normal((n_samples, n_features)) @ mixing
    x = x * rng.uniform(0.5, 3.0, n_features) + rng.uniform(-4, 4, n_features)
    return x.astype(dtype)


def spd(rng, n=5, n_matrices=None):
    def one():
        a = rng.standard_normal((n, n + 3))
        return a @ a.T / (n + 3) + 0.1 * np.eye(n)

    return one() if n_matrices is None else np.array([one() for _ in range(n_matrices)])


def sqrtm(m):
    values, vectors = np.linalg.eigh(m)
    return (vectors * np.sqrt(values)) @ vectors.T


def powm(m, p):
    values, vectors = np.linalg.eigh(m)
    return (vectors * values**p) @ vectors.T


def expm_sym(m):
    values, vectors = np.linalg.eigh(m)
    return (vectors * np.exp(values)) @ vectors.T


def assert_spd(m):
    np.testing.assert_allclose(m, m.T, rtol=1e-6, atol=1e-12)
    assert np.linalg.eigvalsh(m.astype(np.float64)).min() > 0


def logm_sym(m):
    m = (m + m.T) / 2
    values, vectors = np.linalg.eigh(m)
    return (vectors * np.log(values)) @ vectors.T


def riemann_gradient_norm(mean, mats):
    w = powm(mean, -0.5)
    logs = [logm_sym(w @ c @ w) for c in mats]
    return np.linalg.norm(np.mean(logs, axis=0))


# --------------------------------------------------------------------------- Ledoit-Wolf


@pytest.mark.parametrize(("n_samples", "n_features"), [(150, 6), (40, 10), (7, 10), (200, 2)])
def test_ledoit_wolf_matches_sklearn(rng, n_samples, n_features):
    x = signals(rng, n_samples, n_features)
    cov, shrinkage = cm.ledoit_wolf(x)
    ref = LedoitWolf(store_precision=False).fit(x)
    np.testing.assert_allclose(cov, ref.covariance_, rtol=1e-10, atol=1e-12)
    assert shrinkage == pytest.approx(ref.shrinkage_, rel=1e-10, abs=1e-14)
    ref_cov, ref_shrinkage = sk_ledoit_wolf(x)
    np.testing.assert_allclose(cov, ref_cov, rtol=1e-10, atol=1e-12)
    assert shrinkage == pytest.approx(ref_shrinkage, rel=1e-10, abs=1e-14)


def test_ledoit_wolf_full_shrinkage_of_independent_signals_matches_sklearn(rng):
    # few samples of independent equal-variance signals: the estimate is shrunk all the way
    x = rng.standard_normal((30, 3))
    cov, shrinkage = cm.ledoit_wolf(x)
    ref = LedoitWolf().fit(x)
    assert shrinkage == ref.shrinkage_ == 1.0
    np.testing.assert_allclose(cov, ref.covariance_, rtol=1e-12)
    np.testing.assert_array_equal(cov[~np.eye(3, dtype=bool)], 0)


def test_ledoit_wolf_single_feature_has_no_shrinkage(rng):
    x = rng.standard_normal((50, 1)) * 2 + 3
    cov, shrinkage = cm.ledoit_wolf(x)
    ref = LedoitWolf().fit(x)
    assert shrinkage == ref.shrinkage_ == 0.0
    assert cov.shape == (1, 1)
    np.testing.assert_allclose(cov, ref.covariance_, rtol=1e-12)
    np.testing.assert_allclose(cov[0, 0], x.var(), rtol=1e-12)


def test_ledoit_wolf_float32_stays_float32_and_matches_sklearn(rng):
    x = signals(rng, 168, 8, np.float32)
    cov, shrinkage = cm.ledoit_wolf(x)
    ref = LedoitWolf(store_precision=False).fit(x)
    assert cov.dtype == np.float32
    np.testing.assert_allclose(cov, ref.covariance_, rtol=2e-5, atol=1e-6)
    assert shrinkage == pytest.approx(float(ref.shrinkage_), rel=1e-4, abs=1e-6)


def test_ledoit_wolf_integer_input_is_computed_in_float64(rng):
    x = rng.integers(-50, 50, size=(60, 4))
    cov, _ = cm.ledoit_wolf(x)
    assert cov.dtype == np.float64
    np.testing.assert_allclose(cov, LedoitWolf().fit(x.astype(float)).covariance_, rtol=1e-10)


@settings(max_examples=25, deadline=None)
@given(
    n_samples=st.integers(2, 40),
    n_features=st.integers(1, 8),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(1e-3, 1e3),
)
def test_ledoit_wolf_matches_sklearn_property(n_samples, n_features, seed, scale):
    x = signals(np.random.default_rng(seed), n_samples, n_features) * scale
    cov, shrinkage = cm.ledoit_wolf(x)
    ref = LedoitWolf().fit(x)
    assert 0.0 <= shrinkage <= 1.0
    assert shrinkage == pytest.approx(ref.shrinkage_, rel=1e-7, abs=1e-9)
    np.testing.assert_allclose(cov, ref.covariance_, rtol=1e-7, atol=1e-9 * scale**2)


def test_ledoit_wolf_rejects_non_2d(rng):
    with pytest.raises(ValueError, match="2D"):
        cm.ledoit_wolf(rng.standard_normal(10))


# --------------------------------------------------------------------------- single-subject kinds


def test_inputs_are_never_modified(rng):
    x = signals(rng)
    before = x.copy()
    for kind in NON_TANGENT:
        cm.subject_connectivity(x, kind)
    cm.ledoit_wolf(x)
    np.testing.assert_array_equal(x, before)

    cov = spd(rng)
    cov_before = cov.copy()
    cm.cov_to_corr(cov)
    cm.prec_to_partial(cov)
    np.testing.assert_array_equal(cov, cov_before)

    covs = spd(rng, 4, 3)
    covs_before = covs.copy()
    cm.geometric_mean(covs)
    cm.tangent_space(covs)
    cm.group_mean(covs)
    np.testing.assert_array_equal(covs, covs_before)


def test_correlation_is_shrunk_pearson_for_zscored_series(rng):
    x = signals(rng, 168, 7)
    z = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    shrinkage = LedoitWolf().fit(z).shrinkage_
    assert 0 < shrinkage < 1
    corr = cm.subject_connectivity(z, "correlation")
    expected = (1 - shrinkage) * np.corrcoef(z, rowvar=False)
    np.fill_diagonal(expected, 1.0)
    np.testing.assert_allclose(corr, expected, rtol=1e-10, atol=1e-12)


def test_series_are_not_standardised(rng):
    # the reference's standardize="zscore_sample" does not z-score: covariance keeps the scale
    x = signals(rng)
    cov = cm.subject_connectivity(x, "covariance")
    cov10 = cm.subject_connectivity(10 * x, "covariance")
    np.testing.assert_allclose(cov10, 100 * cov, rtol=1e-10)
    np.testing.assert_allclose(cov, LedoitWolf().fit(x).covariance_, rtol=1e-10)


def test_correlation_is_spd_with_unit_diagonal_and_rescales_to_covariance(rng):
    x = signals(rng)
    corr = cm.subject_connectivity(x, "correlation")
    assert_spd(corr)
    np.testing.assert_array_equal(np.diag(corr), 1.0)
    cov = LedoitWolf().fit(x).covariance_
    d = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(d[:, None] * corr * d, cov, rtol=1e-12)


def test_precision_is_spd_inverse_of_covariance(rng):
    x = signals(rng)
    precision = cm.subject_connectivity(x, "precision")
    cov = cm.subject_connectivity(x, "covariance")
    assert_spd(cov)
    assert_spd(precision)
    np.testing.assert_allclose(precision @ cov, np.eye(len(cov)), atol=1e-10)


def test_partial_correlation_rescales_to_minus_precision_plus_twice_its_diagonal(rng):
    x = signals(rng)
    partial = cm.subject_connectivity(x, "partial correlation")
    precision = cm.subject_connectivity(x, "precision")
    d = np.sqrt(np.diag(precision))
    np.testing.assert_allclose(
        d[:, None] * partial * d, -precision + 2 * np.diag(np.diag(precision)), rtol=1e-10
    )
    np.testing.assert_array_equal(np.diag(partial), 1.0)
    np.testing.assert_allclose(partial, partial.T, atol=1e-14)


def test_prec_to_partial_small_example():
    precision = np.array([[2.0, -1.0, 1.0], [-1.0, 1.0, 0.5], [1.0, 0.5, 1.0]])
    h = np.sqrt(2) / 2
    expected = np.array([[1.0, h, -h], [h, 1.0, -0.5], [-h, -0.5, 1.0]])
    np.testing.assert_allclose(cm.prec_to_partial(precision), expected, rtol=1e-15)


def test_cov_to_corr_small_example():
    cov = np.array([[4.0, 2.0], [2.0, 9.0]])
    np.testing.assert_allclose(cm.cov_to_corr(cov), [[1.0, 1 / 3], [1 / 3, 1.0]], rtol=1e-15)


@pytest.mark.parametrize("kind", NON_TANGENT)
def test_float32_series_give_float32_matrices(rng, kind):
    x = signals(rng, 100, 5, np.float32)
    out = cm.subject_connectivity(x, kind)
    assert out.dtype == np.float32
    assert out.shape == (5, 5)
    ref = cm.subject_connectivity(x.astype(np.float64), kind)
    np.testing.assert_allclose(out, ref, rtol=1e-3, atol=1e-4 * np.abs(ref).max())


def test_subject_connectivity_errors(rng):
    x = signals(rng)
    with pytest.raises(ValueError, match=r"valid kinds are .*partial correlation.*tangent"):
        cm.subject_connectivity(x, "spam")
    with pytest.raises(ValueError, match="not a single-subject kind"):
        cm.subject_connectivity(x, "tangent")
    with pytest.raises(ValueError, match="2D"):
        cm.subject_connectivity(x[None], "correlation")


def test_group_mean_is_arithmetic_mean_in_input_dtype(rng):
    mats = spd(rng, 4, 3).astype(np.float32)
    mean = cm.group_mean(list(mats), "covariance")
    assert mean.dtype == np.float32
    np.testing.assert_allclose(mean, (mats[0] + mats[1] + mats[2]) / 3, rtol=1e-6)
    np.testing.assert_array_equal(cm.group_mean(mats, "precision"), mean)
    with pytest.raises(ValueError, match="not of the same shape"):
        cm.group_mean([np.eye(2), np.eye(3)])
    with pytest.raises(ValueError, match="geometric mean"):
        cm.group_mean(mats, "tangent")


def test_correlations_are_averaged_in_fisher_z():
    # facts: the Fisher-z mean of 0.5 and 0.9 is 0.7661 (arithmetic: 0.7)
    a, b = np.array([[1.0, 0.5], [0.5, 1.0]]), np.array([[1.0, 0.9], [0.9, 1.0]])
    for kind in ("correlation", "partial correlation"):
        mean = cm.group_mean([a, b], kind)
        np.testing.assert_allclose(mean, [[1.0, 0.7661], [0.7661, 1.0]], atol=1e-4)
    np.testing.assert_allclose(
        cm.fisher_z(np.array([0.0, 0.5, 1.0])), [0, 0.549306, 8.40562], atol=1e-5
    )


def test_kinds_registry_and_tangent_vector(rng):
    assert list(cm.KINDS) == [
        "correlation",
        "partial correlation",
        "covariance",
        "precision",
        "tangent",
    ]
    assert cm.SUBJECT_KINDS == ("correlation", "partial correlation", "covariance", "precision")
    covariances = spd(rng, 4, 3)
    mean, whitening, tangents = cm.tangent_space(covariances)
    np.testing.assert_allclose(whitening, powm(mean, -0.5), atol=1e-10)
    for covariance, tangent in zip(covariances, tangents, strict=True):
        # independent of tangent_space (which calls tangent_vector): log(W C W) by eigh
        expected = logm_sym(whitening @ covariance @ whitening)
        np.testing.assert_allclose(cm.tangent_vector(covariance, whitening), expected, atol=1e-10)
        np.testing.assert_allclose(tangent, expected, atol=1e-10)


def test_subject_connectomes_average_each_subjects_runs(rng):
    # subject 1 has two runs, subject 2 one; expected values by hand (numpy only)
    runs = [[spd(rng, 4), spd(rng, 4)], [spd(rng, 4)]]

    def corr(c):
        d = np.sqrt(np.diag(c))
        return c / np.outer(d, d)

    def fisher(mats):
        off = ~np.eye(4, dtype=bool)
        out = np.eye(4)
        out[off] = np.tanh(np.mean([np.arctanh(m[off]) for m in mats], axis=0))
        return out

    correlation = cm.subject_connectomes(runs, "correlation")
    assert len(correlation) == 2
    np.testing.assert_allclose(correlation[0], fisher([corr(c) for c in runs[0]]), atol=1e-6)
    np.testing.assert_allclose(correlation[1], corr(runs[1][0]), atol=1e-12)
    covariance = cm.subject_connectomes(runs, "covariance")
    np.testing.assert_allclose(covariance[0], (runs[0][0] + runs[0][1]) / 2, atol=1e-12)
    precision = cm.subject_connectomes(runs, "precision")
    expected = (np.linalg.inv(runs[0][0]) + np.linalg.inv(runs[0][1])) / 2
    np.testing.assert_allclose(precision[0], expected, rtol=1e-9)


def test_subject_connectomes_tangent_of_commuting_covariances_has_closed_form(rng):
    # diagonal covariances: geometric mean and logm are element-wise, so
    # tangent_k = diag(log(c_k) - mean_j log(c_j)), c_k = mean of subject k's runs
    diagonals = rng.uniform(0.2, 5.0, size=(3, 2, 5))  # subjects, runs, regions
    runs = [[np.diag(d) for d in subject] for subject in diagonals]
    subject_means = diagonals.mean(axis=1)
    logs = np.log(subject_means)
    tangents = cm.subject_connectomes(runs, "tangent")
    for tangent, log in zip(tangents, logs, strict=True):
        np.testing.assert_allclose(tangent, np.diag(log - logs.mean(axis=0)), atol=1e-7)
    means = cm.mean_covariances(runs)
    np.testing.assert_allclose(means, [np.diag(m) for m in subject_means], atol=1e-12)


def test_subject_connectomes_errors(rng):
    with pytest.raises(ValueError, match="kind"):
        cm.subject_connectomes([[spd(rng, 3)]], "coherence")
    with pytest.raises(ValueError, match="group of subjects"):
        cm.subject_connectomes([[spd(rng, 3), spd(rng, 3)]], "tangent")


# --------------------------------------------------------------------------- geometric mean


def test_geometric_mean_of_two_matrices_has_closed_form(rng):
    a, b = spd(rng, 5, 2)
    a_half, a_inv_half = sqrtm(a), powm(a, -0.5)
    expected = a_half @ sqrtm(a_inv_half @ b @ a_inv_half) @ a_half
    np.testing.assert_allclose(cm.geometric_mean([a, b]), expected, rtol=1e-7, atol=1e-9)


def test_geometric_mean_of_diagonal_matrices_is_elementwise_geometric_mean(rng):
    diagonals = rng.uniform(0.1, 10.0, size=(4, 6))
    mats = [np.diag(d) for d in diagonals]
    expected = np.diag(np.exp(np.log(diagonals).mean(axis=0)))
    np.testing.assert_allclose(cm.geometric_mean(mats), expected, rtol=1e-7, atol=1e-12)


def test_geometric_mean_is_geodesic_midpoint(rng):
    a, b = spd(rng, 4, 2)
    a_half, a_inv_half = sqrtm(a), powm(a, -0.5)
    inner = a_inv_half @ b @ a_inv_half

    def geodesic(t):
        return a_half @ powm(inner, t) @ a_half

    mean = cm.geometric_mean([geodesic(0.1), geodesic(0.9)])
    np.testing.assert_allclose(mean, geodesic(0.5), rtol=1e-7, atol=1e-9)


def test_geometric_mean_is_invariant_under_congruence_and_inversion(rng):
    mats = spd(rng, 4, 5)

    def precise_mean(ms):  # far below the default tolerance, so that 1e-9 comparisons hold
        return cm.geometric_mean(ms, max_iter=200, tol=1e-14)

    mean = precise_mean(mats)
    assert_spd(mean)
    congruence = rng.standard_normal((4, 4)) + 2 * np.eye(4)
    moved = [congruence @ m @ congruence.T for m in mats]
    np.testing.assert_allclose(
        precise_mean(moved), congruence @ mean @ congruence.T, rtol=1e-9, atol=1e-11
    )
    inverted = [np.linalg.inv(m) for m in mats]
    np.testing.assert_allclose(precise_mean(inverted), np.linalg.inv(mean), rtol=1e-9, atol=1e-11)
    # the default tolerance (1e-7 per element of the gradient) gives the mean to ~1e-6
    np.testing.assert_allclose(cm.geometric_mean(mats), mean, rtol=1e-5, atol=1e-7)


def test_geometric_mean_of_identical_matrices_is_that_matrix(rng):
    m = spd(rng, 5)
    np.testing.assert_allclose(cm.geometric_mean([m, m, m]), m, rtol=1e-12)


def test_geometric_mean_converges_gradient_decreases(rng):
    mats = spd(rng, 5, 6)
    norms = []
    for max_iter in (1, 2, 3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tolerance not reached in so few steps
            norms.append(riemann_gradient_norm(cm.geometric_mean(mats, max_iter=max_iter), mats))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default settings converge without warning
        mean = cm.geometric_mean(mats)
    norms.append(riemann_gradient_norm(mean, mats))
    assert all(later < earlier for earlier, later in zip(norms, norms[1:], strict=False))
    assert norms[-1] / mean.size < 1e-7


def test_geometric_mean_first_step_starts_from_arithmetic_mean(rng):
    mats = spd(rng, 4, 3)
    start = mats.mean(axis=0)
    half, inv_half = sqrtm(start), powm(start, -0.5)
    gradient = np.mean([linalg.logm(inv_half @ m @ inv_half).real for m in mats], axis=0)
    expected = half @ linalg.expm(gradient) @ half
    with pytest.warns(UserWarning, match="iterations"):
        one_step = cm.geometric_mean(mats, max_iter=1)
    np.testing.assert_allclose(one_step, expected, rtol=1e-10)
    np.testing.assert_array_equal(cm.geometric_mean(mats, max_iter=1, tol=None), one_step)


def test_geometric_mean_tolerance_is_per_matrix_element(rng):
    mats = spd(rng, 5, 3)
    gradient_at_start = riemann_gradient_norm(mats.mean(axis=0), mats)
    # stops after one step: ||L|| / 25 < tol although ||L|| > tol
    tol = 2 * gradient_at_start / 25
    assert gradient_at_start > tol
    np.testing.assert_array_equal(
        cm.geometric_mean(mats, tol=tol), cm.geometric_mean(mats, max_iter=1, tol=None)
    )


def rotation(degrees):
    c, s = np.cos(np.deg2rad(degrees)), np.sin(np.deg2rad(degrees))
    return np.array([[c, -s], [s, c]])


def test_geometric_mean_halves_the_step_for_widely_spread_matrices():
    # eigenvalues e^3 and e^-3 along axes at 0, 30 and 60 degrees: full gradient steps overshoot
    # and diverge (||L|| ~ 2 after 30 steps); halving the step whenever ||L|| grows converges
    spread = np.diag([np.exp(3.0), np.exp(-3.0)])
    mats = [rotation(t) @ spread @ rotation(t).T for t in (0, 30, 60)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mean = cm.geometric_mean(mats)
    assert riemann_gradient_norm(mean, mats) / mean.size < 1e-7
    # the configuration is symmetric about 30 degrees, so is its mean
    aligned = rotation(-30) @ mean @ rotation(30)
    assert abs(aligned[0, 1]) < 1e-6 * np.abs(aligned).max()


def test_geometric_mean_warns_when_tolerance_is_not_reached(rng):
    with pytest.warns(UserWarning, match="without getting to the requested tolerance"):
        cm.geometric_mean(spd(rng, 5, 4), max_iter=1, tol=1e-30)


def test_geometric_mean_keeps_float32(rng):
    mats = spd(rng, 4, 3).astype(np.float32)
    mean = cm.geometric_mean(mats)
    assert mean.dtype == np.float32
    np.testing.assert_allclose(mean, cm.geometric_mean(mats.astype(np.float64)), rtol=1e-6)


def test_geometric_mean_errors(rng):
    with pytest.raises(ValueError, match="Expected a square matrix"):
        cm.geometric_mean([np.ones((2, 3)), np.ones((2, 3))])
    with pytest.raises(ValueError, match="Expected a square matrix"):
        cm.geometric_mean([np.ones(3)])
    with pytest.raises(ValueError, match="Matrices are not of the same shape."):
        cm.geometric_mean([np.eye(2), np.eye(3)])
    with pytest.raises(ValueError, match="Expected a symmetric positive definite matrix."):
        cm.geometric_mean([np.eye(2), np.array([[1.0, 2.0], [2.0, 1.0]])])
    with pytest.raises(ValueError, match="Expected a symmetric positive definite matrix."):
        cm.geometric_mean([np.eye(2), np.array([[1.0, 0.5], [0.0, 1.0]])])


# --------------------------------------------------------------------------- tangent space


def test_tangent_space_properties(rng):
    covs = np.array([cm.ledoit_wolf(signals(rng, 100, 5))[0] for _ in range(4)])
    mean, whitening, tangents = cm.tangent_space(covs)
    assert tangents.shape == (4, 5, 5)
    for t in tangents:
        np.testing.assert_array_equal(t, t.T)
    assert_spd(whitening)
    np.testing.assert_allclose(whitening @ sqrtm(mean), np.eye(5), atol=1e-10)
    np.testing.assert_allclose(mean, cm.geometric_mean(covs), rtol=1e-12)
    mean_half = sqrtm(mean)
    for t, cov in zip(tangents, covs, strict=True):
        np.testing.assert_allclose(mean_half @ expm_sym(t) @ mean_half, cov, rtol=1e-8)
    # deviations from the geometric mean average to ~0 (its optimality condition)
    np.testing.assert_allclose(tangents.mean(axis=0), 0, atol=1e-6)


def test_tangent_space_float32(rng):
    covs = [cm.ledoit_wolf(signals(rng, 100, 5, np.float32))[0] for _ in range(3)]
    outputs = cm.tangent_space(covs)
    assert all(o.dtype == np.float32 for o in outputs)


def test_tangent_space_needs_two_subjects(rng):
    with pytest.raises(ValueError, match="can only be applied to a group of subjects"):
        cm.tangent_space([spd(rng, 3)])


# --------------------------------------------------------------------------- workflow step


def test_module_does_not_import_sklearn():
    code = "import sys, netregions.connectome; print('sklearn' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
