import numpy as np
import pytest
from sklearn.decomposition import sparse_encode
from sklearn.utils.extmath import randomized_svd as sk_randomized_svd

import netregions.decomposition as decomposition
from netregions.decomposition import (
    canica,
    dict_learning,
    randomized_svd,
    reduce_data,
    stack_reduced,
    svd_flip,
)


@pytest.mark.parametrize(
    "shape,k,kwargs",
    [
        ((3000, 60), 8, {}),
        ((60, 3000), 8, {}),
        ((2000, 168), 8, {"n_iter": 3}),
        ((160, 2500), 8, {"transpose": True, "n_iter": 3}),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_randomized_svd_matches_scikit_learn(rng, shape, k, kwargs, dtype):
    m = rng.standard_normal(shape).astype(dtype)
    sk_kwargs = dict(kwargs)
    ours = randomized_svd(m, k, random_state=np.random.RandomState(0), **kwargs)
    ref = sk_randomized_svd(m, k, random_state=np.random.RandomState(0), **sk_kwargs)
    for a, b in zip(ours, ref, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())


def test_svd_flip_largest_entry_positive(rng):
    u, s, vt = np.linalg.svd(rng.standard_normal((20, 6)), full_matrices=False)
    fu, fvt = svd_flip(u, vt)
    assert np.all(fu[np.argmax(np.abs(fu), axis=0), np.arange(6)] > 0)
    np.testing.assert_allclose(fu * s @ fvt, u * s @ vt, atol=1e-12)
    fu, fvt = svd_flip(u, vt, u_based=False)
    assert np.all(fvt[np.arange(6), np.argmax(np.abs(fvt), axis=1)] > 0)


def _low_rank(rng, t, v, rank):
    return (rng.standard_normal((t, rank)) * np.arange(rank, 0, -1) * 10) @ rng.standard_normal(
        (rank, v)
    ) + 0.01 * rng.standard_normal((t, v))


@pytest.mark.parametrize("t,v", [(40, 300), (60, 2000)])
def test_reduce_data_equals_dense_svd(rng, t, v):
    x = _low_rank(rng, t, v, 10).astype(np.float32)
    reduced = reduce_data(x, 5, random_state=0)
    u, s, vt = np.linalg.svd(x.T.astype(np.float64), full_matrices=False)
    u, _ = svd_flip(u, vt)
    expected = u[:, :5].T * s[:5, None]
    assert reduced.shape == (5, v) and reduced.dtype == np.float32
    np.testing.assert_allclose(reduced, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())


def test_reduce_data_rows_orthogonal_and_capped_by_volumes(rng):
    x = rng.standard_normal((6, 800)).astype(np.float32)
    reduced = reduce_data(x, 8)
    assert reduced.shape == (6, 800)
    gram = reduced.astype(np.float64) @ reduced.T
    np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0, atol=1e-2)


def test_stack_reduced_is_fortran_and_ordered(rng):
    blocks = [rng.standard_normal((3, 10)).astype(np.float32) for _ in range(2)]
    data = stack_reduced(blocks)
    assert data.flags.f_contiguous
    np.testing.assert_array_equal(data, np.vstack(blocks))


def _planted(rng, n_subjects=10, k=4, v=2000, n_maps=4):
    """Reduced-data-like rows: random mixtures of positive maps on disjoint supports."""
    maps = np.zeros((n_maps, v))
    perm = rng.permutation(v)
    for i in range(n_maps):
        support = perm[i * 200 : (i + 1) * 200]
        maps[i, support] = rng.uniform(0.5, 1.5, 200)
    rows = rng.standard_normal((n_subjects * k, n_maps)) @ maps
    rows += 0.05 * rng.standard_normal(rows.shape)
    return np.asfortranarray(rows.astype(np.float32)), maps


def _best_match(found, truth):
    from scipy.optimize import linear_sum_assignment

    corr = np.abs(np.corrcoef(np.vstack([found, truth]))[: len(found), len(found) :])
    rows, cols = linear_sum_assignment(-corr)
    return corr[rows, cols]


def test_canica_recovers_planted_maps_and_is_deterministic(rng):
    data, truth = _planted(rng)
    maps = canica(data.copy(order="F"), 4, random_state=0, n_init=3)
    assert maps.shape == (4, data.shape[1]) and maps.dtype == np.float32
    assert np.all(_best_match(maps, truth) > 0.9)
    assert np.all(maps.max(axis=1) >= -maps.min(axis=1))
    np.testing.assert_array_equal(maps, canica(data.copy(order="F"), 4, random_state=0, n_init=3))


def test_dict_learning_recovers_planted_maps(rng):
    data, truth = _planted(rng)
    maps = dict_learning(data, 4, alpha=0.5, random_state=0)
    assert maps.shape == (4, data.shape[1])
    np.testing.assert_allclose(np.linalg.norm(maps, axis=1), 1, rtol=1e-5)
    assert np.all((maps > 0).sum(axis=1) >= (maps < 0).sum(axis=1))
    assert np.all(_best_match(maps, truth) > 0.9)
    np.testing.assert_array_equal(maps, dict_learning(data, 4, alpha=0.5, random_state=0))


def test_canica_threshold_errors(rng):
    data, _ = _planted(rng)
    with pytest.raises(ValueError, match="must not be higher"):
        canica(data, 4, threshold=5.0, n_init=1)


@pytest.mark.parametrize("n_threads", [2, 3])
def test_dict_learning_maps_do_not_depend_on_threads(rng, n_threads):
    data, _ = _planted(rng)
    serial = dict_learning(data, 4, alpha=0.5, random_state=0)
    parallel = dict_learning(data, 4, alpha=0.5, random_state=0, n_threads=n_threads)
    np.testing.assert_array_equal(parallel, serial)


def test_dict_learning_final_coding_equals_sparse_encode_to_rounding(rng, monkeypatch):
    # the maps are the codes scikit-learn's public sparse_encode gives (to float rounding)
    data, _ = _planted(rng)
    coded = {}

    def public(voxels, dictionary, alpha, *, max_iter, n_threads):
        coded["dictionary"] = dictionary
        return sparse_encode(
            voxels.astype(np.float64), dictionary.astype(np.float64), algorithm="lasso_cd",
            alpha=alpha, max_iter=max_iter,
        ).astype(voxels.dtype)  # fmt: skip

    ours = dict_learning(data, 4, alpha=0.5, random_state=0)
    monkeypatch.setattr("netregions.kernels.lasso_codes", public)
    theirs = dict_learning(data, 4, alpha=0.5, random_state=0)
    assert "dictionary" in coded
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_registry_and_decompose_dispatch(rng):
    data, truth = _planted(rng)
    assert set(decomposition.METHODS) == {"dictlearning", "canica"}
    maps = decomposition.decompose(data, "canica", 4, random_state=0, canica_n_init=2, alpha=3)
    np.testing.assert_array_equal(maps, canica(data, 4, random_state=0, n_init=2))
    with pytest.raises(ValueError, match="unknown decomposition method 'pca'"):
        decomposition.decompose(data, "pca", 4)


def test_all_zero_maps_name_alpha_and_n_components(rng):
    data, _ = _planted(rng)
    with pytest.raises(decomposition.EmptyComponentsError, match="decomposition.alpha=1000.0"):
        decomposition.decompose(data, "dictlearning", 4, alpha=1000.0, random_state=0)
