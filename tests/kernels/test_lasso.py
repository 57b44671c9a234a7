"""Lasso sparse coding kernel vs scikit-learn's sparse_encode and a numpy reference.

Tolerances. The kernel and ``sparse_encode(algorithm="lasso_cd")`` run the same iterations
(same problem, zero start, sweep order, stopping rule, screening), so in float64 they differ
only by rounding (measured: <= 1e-12 of the largest code), unless rounding moves the sweep at
which the stopping rule fires; one sweep more or less changes no code by more than the
stopping rule's relative change, tol = 1e-8 of the largest code. Hence ``F64_RTOL`` below,
applied to the largest code of the array. For float32 inputs scikit-learn computes in
float32, the kernel in float64: the kernel must match scikit-learn run on float64 copies of
the same float32 data to float32 rounding of its output, and scikit-learn's own float32 run
to that run's accuracy (``_float32_sklearn_bound``).
"""

import warnings

import numba
import numpy as np
import pytest
from sklearn.decomposition import sparse_encode

from netregions.kernels import lasso as ls
from netregions.kernels.lasso import SPARSE_ENCODE_TOL, lasso_codes
from tests.kernels.reference import lasso_reference

F64_RTOL = 1e-8
F32_ROUNDING = 2.0**-23  # twice the largest relative rounding error of a float32
SMALL_ALPHA, LARGE_ALPHA = 0.1, 10.0


def _problem(rng, n_voxels, n_atoms, n_features=48, dtype=np.float64, collinear=False):
    """Voxels = sparse codes @ atoms + noise; atoms of norms ~3.5-14 (not unit)."""
    atoms = rng.standard_normal((n_atoms, n_features)) * rng.uniform(0.5, 2.0, (n_atoms, 1))
    if collinear:
        atoms[1] = 2.0 * atoms[0]
        atoms[2] = atoms[0] + 1e-3 * rng.standard_normal(n_features)
    codes = rng.standard_normal((n_voxels, n_atoms)) * (rng.random((n_voxels, n_atoms)) < 0.4)
    voxels = 3.0 * codes @ atoms + 0.5 * rng.standard_normal((n_voxels, n_features))
    return voxels.astype(dtype), atoms.astype(dtype)


def _sklearn(voxels, dictionary, alpha, max_iter=1000):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*did not converge.*")
        return sparse_encode(
            voxels, dictionary, algorithm="lasso_cd", alpha=alpha, max_iter=max_iter
        )


def _codes(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*did not converge.*")
        return lasso_codes(*args, **kwargs)


def _assert_codes_close(actual, expected, rtol, value_rtol=0.0):
    """|actual - expected| <= rtol * max|expected| + value_rtol * |expected|, same shape."""
    assert actual.shape == expected.shape
    scale = max(float(np.abs(expected).max()), np.finfo(float).tiny)
    np.testing.assert_allclose(actual, expected, rtol=value_rtol, atol=rtol * scale)


def _assert_same_support(actual, expected, rtol=None, near=None):
    """Zero in one, not the other, only for codes within rtol * max|code| (or ``near``) of 0.

    ``near`` is absolute, a scalar or one value per voxel (shape (n_voxels, 1)).
    """
    if near is None:
        near = rtol * float(np.abs(expected).max())
    differ = (actual != 0) != (expected != 0)
    flipped = np.abs(np.where(differ, actual.astype(float) + expected, 0.0))
    assert np.all(flipped <= near), (int(differ.sum()), flipped.max())


def _float32_sklearn_bound(voxels, dictionary):
    """Per voxel, shape (n_voxels, 1): how far scikit-learn's float32 code can be from ours.

    scikit-learn evaluates the gap in float32, where ||r||^2 = ||x||^2 + w.Qw - 2 w.q loses a
    few float32 epsilons of ||x||^2 to rounding, far above its 1e-8 ||x||^2 target: it may
    stop with a true gap up to ~8 eps ||x||^2 (or never stop and run max_iter sweeps).
    Since P(w) - P(w*) >= lambda_min(Q) / 2 ||w - w*||^2, its code is then within
    sqrt(2 gap / lambda_min) of the optimum, which ours equals to float32 rounding.
    (Measured: at most 1.2 % of this bound on the problems below; a voxel whose correlation
    exceeds alpha by 4e-4 can get a zero code from scikit-learn's float32 run.)
    """
    x, d = voxels.astype(np.float64), dictionary.astype(np.float64)
    eps = float(np.finfo(np.float32).eps)
    smallest_eigenvalue = np.linalg.eigvalsh(d @ d.T).min()
    gap = (8 * eps + SPARSE_ENCODE_TOL) * np.sum(x * x, axis=1, keepdims=True)
    return np.sqrt(2 * gap / smallest_eigenvalue)


def _objective(voxels, dictionary, codes, alpha):
    x, d, w = (np.asarray(a, dtype=np.float64) for a in (voxels, dictionary, codes))
    return 0.5 * np.sum((x - w @ d) ** 2, axis=1) + alpha * np.sum(np.abs(w), axis=1)


# ------------------------------------------------------------------------------------------
# Against scikit-learn's public sparse_encode
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_voxels", [1, 5, 64, 3000])
@pytest.mark.parametrize("n_atoms", [3, 8])
@pytest.mark.parametrize("alpha", [SMALL_ALPHA, LARGE_ALPHA])
def test_float64_matches_sparse_encode(rng, n_voxels, n_atoms, alpha):
    voxels, dictionary = _problem(rng, n_voxels, n_atoms)
    expected = _sklearn(voxels, dictionary, alpha)
    codes = lasso_codes(voxels, dictionary, alpha)
    assert codes.dtype == np.float64 and codes.flags.c_contiguous
    _assert_codes_close(codes, expected, F64_RTOL)
    _assert_same_support(codes, expected, F64_RTOL)


def test_regimes_are_sparse_and_dense(rng):
    # the two alphas of the tests above give different regimes: most codes non-zero, or
    # most zero (the planted codes have 40 % non-zeros)
    voxels, dictionary = _problem(rng, 500, 8)
    assert np.mean(lasso_codes(voxels, dictionary, SMALL_ALPHA) != 0) > 0.8
    assert np.mean(lasso_codes(voxels, dictionary, 10 * LARGE_ALPHA) != 0) < 0.3


@pytest.mark.parametrize("n_voxels", [1, 5, 64, 3000])
@pytest.mark.parametrize("n_atoms", [3, 8])
@pytest.mark.parametrize("alpha", [SMALL_ALPHA, LARGE_ALPHA])
def test_float32_matches_sparse_encode(rng, n_voxels, n_atoms, alpha):
    voxels, dictionary = _problem(rng, n_voxels, n_atoms, dtype=np.float32)
    codes = lasso_codes(voxels, dictionary, alpha)
    assert codes.dtype == np.float32
    # the same float32 data solved in float64 by scikit-learn: float32 rounding apart
    exact = _sklearn(voxels.astype(np.float64), dictionary.astype(np.float64), alpha)
    _assert_codes_close(codes, exact, F64_RTOL, value_rtol=F32_ROUNDING)
    _assert_same_support(codes, exact, F64_RTOL)
    # scikit-learn's own float32 run, to its float32 accuracy
    expected = _sklearn(voxels, dictionary, alpha)
    bound = _float32_sklearn_bound(voxels, dictionary)
    distance = np.linalg.norm(codes.astype(np.float64) - expected, axis=1, keepdims=True)
    assert np.all(distance <= bound)
    _assert_same_support(codes, expected, near=bound)


@pytest.mark.parametrize("n_atoms", [3, 8])
@pytest.mark.parametrize("alpha", [SMALL_ALPHA, 1.0, LARGE_ALPHA])
def test_collinear_atoms_match_sparse_encode(rng, n_atoms, alpha):
    # atom 1 = 2 x atom 0, atom 2 = atom 0 + 1e-3 noise: a singular Gram matrix, slow
    # convergence (many voxels use all 1000 sweeps with a small alpha), same iterations
    voxels, dictionary = _problem(rng, 300, n_atoms, collinear=True)
    expected = _sklearn(voxels, dictionary, alpha)
    codes = _codes(voxels, dictionary, alpha)
    _assert_codes_close(codes, expected, F64_RTOL)
    _assert_same_support(codes, expected, F64_RTOL)


def test_all_zero_voxel_has_zero_code(rng):
    voxels, dictionary = _problem(rng, 6, 8)
    voxels[2] = 0.0
    for alpha in (0.0, SMALL_ALPHA, LARGE_ALPHA):
        codes = lasso_codes(voxels, dictionary, alpha)
        np.testing.assert_array_equal(codes[2], 0.0)
        if alpha > 0:
            _assert_codes_close(codes, _sklearn(voxels, dictionary, alpha), F64_RTOL)


def test_voxel_equal_to_an_atom(rng):
    _, dictionary = _problem(rng, 1, 8)
    voxels = dictionary[[3, 5]].copy()
    # tiny penalty: the code is (nearly) the indicator of the atom; the shrinkage is about
    # alpha / smallest Gram eigenvalue, << 1e-6 here
    codes = lasso_codes(voxels, dictionary, 1e-8)
    np.testing.assert_allclose(codes, np.eye(8)[[3, 5]], atol=1e-6)
    # a penalty above every correlation |d_j . x|: the code is exactly zero
    alpha = 1.01 * np.abs(voxels @ dictionary.T).max()
    np.testing.assert_array_equal(lasso_codes(voxels, dictionary, alpha), 0.0)
    for alpha in (SMALL_ALPHA, LARGE_ALPHA):
        expected = _sklearn(voxels, dictionary, alpha)
        _assert_codes_close(lasso_codes(voxels, dictionary, alpha), expected, F64_RTOL)


def test_orthogonal_atoms_hand_worked():
    # atoms 2 e0 and e1: each code is soft(d_j . x, alpha) / ||d_j||^2
    dictionary = np.array([[2.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    voxels = np.array([[3.0, -0.5, 7.0, 1.0], [-1.0, 2.0, 0.0, 0.0]])
    # alpha 1: (6 - 1) / 4, 0 (|-0.5| < 1); (-2 + 1) / 4, (2 - 1) / 1
    np.testing.assert_array_equal(lasso_codes(voxels, dictionary, 1.0), [[1.25, 0.0], [-0.25, 1.0]])
    # alpha 0.25: (6 - 0.25) / 4, -(0.5 - 0.25); (-2 + 0.25) / 4, 2 - 0.25
    np.testing.assert_array_equal(
        lasso_codes(voxels, dictionary, 0.25), [[1.4375, -0.25], [-0.4375, 1.75]]
    )


def test_solve_voxel_kernel_single_atom():
    # the private kernel alone: one atom, Q = [[4]], q = [6], l1 = 1 -> w = 5 / 4 in a sweep
    gram, q = np.array([[4.0]]), np.array([6.0])
    w, qw, grad = np.empty(1), np.empty(1), np.empty(1)
    active, excluded = np.empty(1, dtype=np.int64), np.empty(1, dtype=np.int64)
    status, sweeps = ls._solve_voxel(gram, q, 10.0, 1.0, 1e-8, 1000, w, qw, grad, active, excluded)
    assert (status, sweeps) == (ls._CONVERGED, 2)  # the second sweep changes nothing
    assert w[0] == 1.25 and qw[0] == 5.0


def test_zero_atom_has_zero_code(rng):
    voxels, dictionary = _problem(rng, 50, 4)
    dictionary[1] = 0.0
    codes = lasso_codes(voxels, dictionary, SMALL_ALPHA)
    np.testing.assert_array_equal(codes[:, 1], 0.0)
    _assert_codes_close(codes, _sklearn(voxels, dictionary, SMALL_ALPHA), F64_RTOL)


# ------------------------------------------------------------------------------------------
# Against the plain numpy reference (tests/kernels/reference.py)
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_atoms", [3, 8])
@pytest.mark.parametrize("alpha", [SMALL_ALPHA, LARGE_ALPHA])
def test_matches_numpy_reference(rng, n_atoms, alpha):
    voxels, dictionary = _problem(rng, 200, n_atoms)
    # the reference run to a gap of 1e-15 ||x||^2 is the optimum w* to ~1e-13
    optimum = lasso_reference(voxels, dictionary, alpha, max_iter=5000, tol=1e-15)
    codes = lasso_codes(voxels, dictionary, alpha)
    # guaranteed by the stopping rule: P(w) - P(w*) <= gap <= tol ||x||^2 and
    # P(w) - P(w*) >= 1/2 lambda_min(Q) ||w - w*||^2
    smallest_eigenvalue = np.linalg.eigvalsh(dictionary @ dictionary.T).min()
    bound = np.sqrt(2 * SPARSE_ENCODE_TOL * np.sum(voxels**2, axis=1) / smallest_eigenvalue)
    assert np.all(np.linalg.norm(codes - optimum, axis=1) <= bound)
    # in practice the rule fires much closer to the optimum (measured 2e-9)
    _assert_codes_close(codes, optimum, 1e-7)
    _assert_same_support(codes, optimum, 1e-7)
    # both solvers run to a tight gap agree to rounding
    tight = lasso_codes(voxels, dictionary, alpha, tol=1e-15, max_iter=5000)
    _assert_codes_close(tight, optimum, 1e-11)
    # the reference with the default tolerance stops within the same guarantee
    loose = lasso_reference(voxels, dictionary, alpha)
    assert np.all(np.linalg.norm(loose - optimum, axis=1) <= bound)


def test_collinear_atoms_reach_the_reference_objective(rng):
    # with near-duplicate atoms the codes are not well determined, the objective is
    voxels, dictionary = _problem(rng, 100, 8, collinear=True)
    alpha = 1.0
    reference = lasso_reference(voxels, dictionary, alpha, max_iter=3000, tol=1e-12)
    codes = _codes(voxels, dictionary, alpha, max_iter=3000, tol=1e-12)
    scale = np.sum(voxels**2, axis=1)
    difference = _objective(voxels, dictionary, codes, alpha) - _objective(
        voxels, dictionary, reference, alpha
    )
    assert np.all(np.abs(difference) <= 2e-12 * scale)


def test_reference_hand_worked():
    # the reference itself on the orthogonal case of test_orthogonal_atoms_hand_worked
    dictionary = np.array([[2.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    voxels = np.array([[3.0, -0.5, 7.0, 1.0], [-1.0, 2.0, 0.0, 0.0]])
    np.testing.assert_array_equal(
        lasso_reference(voxels, dictionary, 1.0), [[1.25, 0.0], [-0.25, 1.0]]
    )


# ------------------------------------------------------------------------------------------
# Threads, layouts, inputs, dtypes, errors
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_result_for_any_thread_count_and_layout(rng, dtype):
    voxels, dictionary = _problem(rng, 3000, 8, dtype=dtype)  # above the parallel minimum
    one = lasso_codes(voxels, dictionary, 1.0, n_threads=1)
    two = lasso_codes(voxels, dictionary, 1.0, n_threads=2)
    np.testing.assert_array_equal(one, two)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        np.testing.assert_array_equal(lasso_codes(voxels, dictionary, 1.0), one)
    finally:
        numba.set_num_threads(previous)
    # an (n_features, n_voxels) matrix's transpose is read in place, same bits
    transposed = np.ascontiguousarray(voxels.T).T
    assert transposed.flags.f_contiguous and not transposed.flags.c_contiguous
    np.testing.assert_array_equal(lasso_codes(transposed, dictionary, 1.0, n_threads=2), one)
    strided = np.repeat(voxels, 2, axis=1)[:, ::2]
    np.testing.assert_array_equal(lasso_codes(strided, dictionary, 1.0), one)


def test_inputs_unchanged(rng):
    voxels, dictionary = _problem(rng, 3000, 8, dtype=np.float32)
    voxels = np.asfortranarray(voxels)
    saved = voxels.copy(order="K"), dictionary.copy()
    voxels.flags.writeable = False  # also: read-only inputs are accepted
    lasso_codes(voxels, dictionary, 1.0, n_threads=2)
    np.testing.assert_array_equal(voxels, saved[0])
    np.testing.assert_array_equal(dictionary, saved[1])


def test_dtypes_and_empty_input(rng):
    voxels, dictionary = _problem(rng, 10, 3)
    single = voxels.astype(np.float32)
    assert lasso_codes(single, dictionary, 1.0).dtype == np.float64
    assert lasso_codes(voxels, dictionary.astype(np.float32), 1.0).dtype == np.float64
    integers = np.round(voxels).astype(np.int32)
    np.testing.assert_array_equal(
        lasso_codes(integers, dictionary, 1.0),
        lasso_codes(integers.astype(np.float64), dictionary, 1.0),
    )
    empty = lasso_codes(np.empty((0, 48), dtype=np.float32), dictionary.astype(np.float32), 1.0)
    assert empty.shape == (0, 3) and empty.dtype == np.float32


def test_not_converged_warns(rng):
    voxels, dictionary = _problem(rng, 20, 8, collinear=True)
    with pytest.warns(RuntimeWarning, match="did not converge in max_iter=2 sweeps"):
        codes = lasso_codes(voxels, dictionary, SMALL_ALPHA, max_iter=2)
    _assert_codes_close(codes, _sklearn(voxels, dictionary, SMALL_ALPHA, max_iter=2), F64_RTOL)


@pytest.mark.parametrize(
    ("voxels", "dictionary", "kwargs", "match"),
    [
        (np.zeros(5), np.zeros((2, 5)), {}, "voxels must be a 2D array"),
        (np.zeros((3, 5, 1)), np.zeros((2, 5)), {}, "voxels must be a 2D array"),
        (np.zeros((3, 5)), np.zeros(5), {}, "dictionary must be a 2D array"),
        (np.zeros((3, 5)), np.zeros((2, 4)), {}, r"one column per feature of voxels \(5\)"),
        (np.zeros((3, 0)), np.zeros((2, 0)), {}, "at least one feature and one atom"),
        (np.zeros((3, 5)), np.zeros((0, 5)), {}, "at least one feature and one atom"),
        (np.zeros((3, 5), dtype=complex), np.zeros((2, 5)), {}, "voxels must be real"),
        (np.full((3, 5), "a"), np.zeros((2, 5)), {}, "voxels must be numeric"),
        (np.zeros((3, 5)), np.zeros((2, 5), dtype=object), {}, "dictionary must be numeric"),
        (np.zeros((3, 5)), np.full((2, 5), np.nan), {}, "dictionary must be finite"),
        (np.zeros((3, 5)), np.ones((2, 5)), {"alpha": -1.0}, "alpha must be"),
        (np.zeros((3, 5)), np.ones((2, 5)), {"alpha": np.nan}, "alpha must be"),
        (np.zeros((3, 5)), np.ones((2, 5)), {"alpha": "1"}, "alpha must be"),
        (np.zeros((3, 5)), np.ones((2, 5)), {"alpha": 1j}, "alpha must be"),
        (np.zeros((3, 5)), np.ones((2, 5)), {"max_iter": -1}, "max_iter must be"),
        (np.zeros((3, 5)), np.ones((2, 5)), {"max_iter": 10.0}, "max_iter must be"),
        (np.zeros((3, 5)), np.ones((2, 5)), {"tol": -1e-8}, "tol must be"),
        (np.zeros((3, 5)), np.ones((2, 5)), {"n_threads": 0}, "n_threads must be"),
        (np.zeros((3, 5)), np.ones((2, 5)), {"n_threads": True}, "n_threads must be"),
    ],
)
def test_bad_inputs_raise(voxels, dictionary, kwargs, match):
    kwargs = {"alpha": 1.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        lasso_codes(voxels, dictionary, **kwargs)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_voxel_raises(rng, value):
    voxels, dictionary = _problem(rng, 10, 3)
    voxels[7, 4] = value
    with pytest.raises(ValueError, match=r"voxels must be finite.*row 7"):
        lasso_codes(voxels, dictionary, 1.0)
