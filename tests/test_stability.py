"""ICASSO-style consensus: hand-worked scores, a scipy reference, invariances, planted truth."""

import warnings

import numpy as np
import pytest

from netregions.stability import (
    Consensus,
    centrotype,
    choose_cut,
    cluster_estimates,
    consensus,
    quality_index,
    similarity_matrix,
)

# --------------------------------------------------------------------------- helpers


def _uncorrelated_components(rng, n_components, n_voxels):
    """Zero-mean rows, orthogonal to each other (so mutually uncorrelated)."""
    basis = np.column_stack([np.ones(n_voxels), rng.standard_normal((n_voxels, n_components))])
    q, _ = np.linalg.qr(basis)
    return q[:, 1:].T * 3.0


def _same_partition(a, b):
    """True when two label vectors group the items identically (labels may be renamed)."""
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def _reference_labels(similarity, n_clusters):
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    distance = 1.0 - similarity
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    return fcluster(tree, t=n_clusters, criterion="maxclust")


def _unit_rows(x):
    x = x - x.mean(axis=1, keepdims=True)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _random_runs(rng, n_runs=5, n_components=4, n_voxels=60):
    return [rng.standard_normal((n_components, n_voxels)) for _ in range(n_runs)]


# --------------------------------------------------------------------------- similarity


def test_similarity_matrix_is_absolute_pearson_correlation(rng):
    x = rng.standard_normal((6, 40))
    x[2] = -2.0 * x[0] + 5.0  # perfectly anti-correlated with row 0
    expected = np.abs(np.corrcoef(x))
    sim = similarity_matrix(x)
    np.testing.assert_allclose(sim, expected, atol=1e-12)
    assert sim[0, 2] == pytest.approx(1.0)
    assert np.array_equal(sim, sim.T)
    assert np.all(np.diag(sim) == 1.0)
    assert sim.min() >= 0.0 and sim.max() <= 1.0


def test_similarity_matrix_constant_row_is_uncorrelated_with_everything(rng):
    x = rng.standard_normal((3, 10))
    x[1] = 4.0
    sim = similarity_matrix(x)
    assert sim[1, 0] == sim[1, 2] == sim[0, 1] == 0.0
    assert sim[1, 1] == 1.0


def test_similarity_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        similarity_matrix(np.zeros(5))
    with pytest.raises(ValueError, match="finite"):
        similarity_matrix(np.array([[0.0, np.nan], [1.0, 2.0]]))


# --------------------------------------------------------------------------- clustering


def test_cluster_estimates_matches_scipy_average_linkage_and_maxclust(rng):
    pool = np.vstack(_random_runs(rng, n_runs=6, n_components=5, n_voxels=30))
    sim = similarity_matrix(pool)
    for n_clusters in (1, 2, 5, 9, pool.shape[0]):
        labels = cluster_estimates(sim, n_clusters)
        reference = _reference_labels(sim, n_clusters)
        assert len(set(reference.tolist())) == n_clusters
        assert _same_partition(labels, reference)
        assert set(labels.tolist()) == set(range(n_clusters))


def test_cluster_estimates_numbers_clusters_by_first_appearance():
    # items 0 and 2 are near-identical, as are 1 and 3
    sim = np.array(
        [
            [1.0, 0.1, 0.9, 0.1],
            [0.1, 1.0, 0.2, 0.8],
            [0.9, 0.2, 1.0, 0.1],
            [0.1, 0.8, 0.1, 1.0],
        ]
    )
    assert cluster_estimates(sim, 2).tolist() == [0, 1, 0, 1]
    assert cluster_estimates(sim, 3).tolist() == [0, 1, 0, 2]


def test_cluster_estimates_gives_exactly_n_clusters_with_tied_heights():
    # four items at equal distance: a height threshold cannot separate them, replaying merges can
    sim = np.full((4, 4), 0.5)
    np.fill_diagonal(sim, 1.0)
    for n_clusters in (1, 2, 3, 4):
        assert len(set(cluster_estimates(sim, n_clusters).tolist())) == n_clusters


def test_cluster_estimates_rejects_bad_n_clusters():
    sim = np.eye(3)
    with pytest.raises(ValueError, match="n_clusters"):
        cluster_estimates(sim, 0)
    with pytest.raises(ValueError, match="n_clusters"):
        cluster_estimates(sim, 4)
    with pytest.raises(ValueError, match="square"):
        cluster_estimates(np.ones((2, 3)), 1)


# --------------------------------------------------------------------------- scores


def test_quality_index_hand_worked():
    sim = np.array(
        [
            [1.0, 0.9, 0.2, 0.1],
            [0.9, 1.0, 0.3, 0.0],
            [0.2, 0.3, 1.0, 0.6],
            [0.1, 0.0, 0.6, 1.0],
        ]
    )
    # cluster 0 = {0, 1}: intra 0.9, extra mean(0.2, 0.1, 0.3, 0.0) = 0.15 -> 0.75
    # cluster 1 = {2, 3}: intra 0.6, extra the same four numbers -> 0.45
    np.testing.assert_allclose(quality_index(sim, np.array([0, 0, 1, 1])), [0.75, 0.45])
    # {0, 1, 2}: intra mean(0.9, 0.2, 0.3) = 0.4666..., extra mean(0.1, 0.0, 0.6) = 0.2333...
    iq = quality_index(sim, np.array([0, 0, 0, 1]))
    assert iq[0] == pytest.approx(0.7 / 3)
    assert np.isnan(iq[1])  # singleton


def test_quality_index_single_cluster_has_no_extra_term():
    sim = np.array([[1.0, 0.4, 0.6], [0.4, 1.0, 0.8], [0.6, 0.8, 1.0]])
    np.testing.assert_allclose(quality_index(sim, np.zeros(3, dtype=int)), [0.6])


def test_quality_index_stays_in_range_on_random_input(rng):
    pool = np.vstack(_random_runs(rng, n_runs=4, n_components=5, n_voxels=20))
    sim = similarity_matrix(pool)
    for n_clusters in (2, 5, 12):
        iq = quality_index(sim, cluster_estimates(sim, n_clusters))
        finite = iq[np.isfinite(iq)]
        assert np.all((finite >= -1.0) & (finite <= 1.0))


def test_quality_index_rejects_unused_labels():
    with pytest.raises(ValueError, match="missing"):
        quality_index(np.eye(3), np.array([0, 2, 2]))


def test_centrotype_has_largest_summed_similarity_to_members():
    sim = np.array(
        [
            [1.0, 0.5, 0.6, 0.99],
            [0.5, 1.0, 0.9, 0.0],
            [0.6, 0.9, 1.0, 0.0],
            [0.99, 0.0, 0.0, 1.0],
        ]
    )
    # within {0, 1, 2}: sums 2.1, 2.4, 2.5 -> item 2 (item 3 is not a member)
    assert centrotype(sim, np.array([0, 1, 2])) == 2
    # within {0, 3}: tie 1.99 vs 1.99 -> lowest index
    assert centrotype(sim, np.array([3, 0])) == 0
    with pytest.raises(ValueError, match="members"):
        centrotype(sim, np.array([], dtype=int))


# --------------------------------------------------------------------------- consensus


def test_identical_runs_with_alternating_signs_give_perfect_clusters(rng):
    """Facts 7.5: M identical runs (signs alternating) of K uncorrelated zero-mean components."""
    n_runs, n_components = 6, 4
    components = _uncorrelated_components(rng, n_components, 50)
    runs = [components * (-1.0) ** m for m in range(n_runs)]
    result = consensus(runs)
    assert isinstance(result, Consensus)
    assert result.sizes.tolist() == [n_runs] * n_components
    np.testing.assert_allclose(result.stability, 1.0, atol=1e-12)
    for k in range(n_components):
        members = np.flatnonzero(result.labels == k)
        assert len({i % n_components for i in members}) == 1  # one component, every run
        matches = [np.array_equal(result.maps[k], s * c) for c in components for s in (1, -1)]
        assert sum(matches) == 1  # the centrotype is one of the components, up to sign


# average linkage may leave one noise estimate on its own; that warning is expected here
@pytest.mark.filterwarnings("ignore:consensus.*single member:UserWarning")
def test_planted_components_are_stable_and_noise_components_are_not(rng):
    """10 runs = K planted sparse maps + noise, permuted and sign-flipped, plus 2 components per
    run drawn at random from a nuisance subspace (different in every run)."""
    n_planted, n_noise, n_voxels, n_runs, n_nuisance = 4, 2, 500, 10, 10
    planted = np.zeros((n_planted, n_voxels))
    for k in range(n_planted):
        support = rng.choice(n_voxels, size=n_voxels // 10, replace=False)
        planted[k, support] = rng.exponential(1.0, size=support.size) + 0.5
    # nuisance directions orthogonal to the constant and to the planted maps: their components
    # wander from run to run, the unidentifiable case ICASSO is meant to flag
    basis = np.column_stack(
        [np.ones(n_voxels), planted.T, rng.standard_normal((n_voxels, n_nuisance))]
    )
    nuisance = np.linalg.qr(basis)[0][:, 1 + n_planted :].T * 10.0
    runs = []
    for _ in range(n_runs):
        estimates = planted + 0.1 * rng.standard_normal(planted.shape)
        mixing = np.linalg.qr(rng.standard_normal((n_nuisance, n_noise)))[0]
        noise = mixing.T @ nuisance + 0.1 * rng.standard_normal((n_noise, n_voxels))
        stacked = np.vstack([estimates, noise])
        order = rng.permutation(n_planted + n_noise)
        signs = rng.choice([-1.0, 1.0], size=n_planted + n_noise)
        runs.append(stacked[order] * signs[:, None])

    result = consensus(runs)  # n_clusters defaults to n_planted + n_noise

    assert result.maps.shape == (n_planted + n_noise, n_voxels)
    assert np.all(result.stability[:n_planted] > 0.8)
    assert np.all(result.stability[n_planted:] < 0.4)
    assert result.sizes[:n_planted].tolist() == [n_runs] * n_planted
    corr = _unit_rows(result.maps[:n_planted]) @ _unit_rows(planted).T
    # each stable map matches a different planted map, with the sign the convention promises
    assert sorted(np.argmax(corr, axis=0).tolist()) == list(range(n_planted))
    assert np.all(corr.max(axis=0) > 0.95)


def test_stability_is_sorted_and_clusters_relabelled(rng):
    runs = _random_runs(rng)
    pool = np.vstack(runs)
    result = consensus(runs, n_clusters=5)
    assert np.all(np.diff(result.stability) <= 0)
    assert np.all((result.stability >= 0) & (result.stability <= 1))
    grouped = result.labels[result.labels >= 0]
    assert result.sizes.tolist() == np.bincount(grouped, minlength=5).tolist()
    assert result.labels.size == pool.shape[0] and result.n_cut >= 5
    for k, c in enumerate(result.centrotypes):
        assert result.labels[c] == k
        members = np.flatnonzero(result.labels == k)
        assert c == centrotype(result.similarity, members)
        assert np.array_equal(result.maps[k], pool[c]) or np.array_equal(result.maps[k], -pool[c])
        assert result.maps[k].max() > -result.maps[k].min()  # the default convention


def test_similarity_and_centrotypes_index_the_whole_pool_when_an_estimate_is_empty(rng):
    components = _uncorrelated_components(rng, 3, 60)
    runs = [components + 0.1 * rng.standard_normal(components.shape) for _ in range(4)]
    runs[0] = np.vstack([np.zeros((1, 60)), runs[0]])  # an empty estimate first: pool index 0
    runs[1] = np.vstack([runs[1], rng.standard_normal((1, 60))])
    pool = np.vstack(runs)
    with pytest.warns(UserWarning, match="1 empty estimate"):
        result = consensus(runs, n_clusters=3)
    assert result.similarity.shape == (pool.shape[0], pool.shape[0])
    assert result.labels[0] == -1
    assert np.all(result.similarity[0, 1:] == 0) and result.similarity[0, 0] == 1
    x = pool[1:] - pool[1:].mean(axis=1, keepdims=True)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(result.similarity[1:, 1:], np.abs(x @ x.T), atol=1e-12)
    for k, c in enumerate(result.centrotypes):
        members = np.flatnonzero(result.labels == k)
        assert c == centrotype(result.similarity, members)
        assert np.array_equal(result.maps[k], pool[c]) or np.array_equal(result.maps[k], -pool[c])


def test_singleton_cluster_gets_zero_stability_and_a_warning(rng):
    components = _uncorrelated_components(rng, 3, 40)
    runs = [components[:2], -components[:2], components]  # component 2 only in the last run
    with pytest.warns(UserWarning, match=r"estimate 6 \(run 2, component 2\).*single member"):
        result = consensus(runs, n_clusters=3)
    assert result.sizes.tolist() == [3, 3, 1]  # the singleton has the lowest stability
    singleton = 2
    assert result.stability[singleton] == 0.0
    assert result.centrotypes[singleton] == 6
    assert np.isnan(quality_index(result.similarity, result.labels)[singleton])


def test_consensus_is_invariant_to_flipping_signs_of_estimates(rng):
    runs = _random_runs(rng, n_runs=6, n_components=4, n_voxels=80)
    flipped = [run * rng.choice([-1.0, 1.0], size=(run.shape[0], 1)) for run in runs]
    a, b = consensus(runs), consensus(flipped)
    for name in ("maps", "stability", "labels", "sizes", "centrotypes", "similarity"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def _noisy_runs(rng, n_runs=6, n_components=4, n_voxels=80, noise=0.3):
    """Each run: the same components plus noise, in a random order with random signs."""
    components = _uncorrelated_components(rng, n_components, n_voxels)
    runs = []
    for _ in range(n_runs):
        noisy = components + noise * rng.standard_normal(components.shape)
        signs = rng.choice([-1.0, 1.0], size=(n_components, 1))
        runs.append((noisy * signs)[rng.permutation(n_components)])
    return runs


def test_consensus_is_invariant_to_the_order_of_runs(rng):
    runs = _noisy_runs(rng)
    perm = rng.permutation(len(runs))
    a, b = consensus(runs), consensus([runs[i] for i in perm])
    np.testing.assert_array_equal(a.maps, b.maps)
    np.testing.assert_allclose(a.stability, b.stability, rtol=1e-12)
    np.testing.assert_array_equal(a.sizes, b.sizes)
    # pooled index i of the permuted input is estimate old_index[i] of the original
    old_index = np.concatenate([np.arange(4) + 4 * r for r in perm])
    np.testing.assert_array_equal(old_index[b.centrotypes], a.centrotypes)
    np.testing.assert_array_equal(b.labels, a.labels[old_index])


def test_consensus_is_deterministic(rng):
    runs = _random_runs(rng)
    a, b = consensus(runs), consensus([r.copy() for r in runs])
    for name in ("maps", "stability", "labels", "sizes", "centrotypes", "similarity"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


@pytest.mark.parametrize("sign", ["positive_peak", "mostly_positive"])
def test_sign_conventions(sign):
    # mostly negative entries with a large positive peak: the two conventions disagree
    estimate = np.array([[-1.0, -1.0, -1.0, 5.0, 0.5]])
    runs = [estimate, -estimate, estimate]
    result = consensus(runs, sign=sign)
    expected = estimate[0] if sign == "positive_peak" else -estimate[0]
    np.testing.assert_array_equal(result.maps[0], expected)


def test_sign_convention_breaks_exact_ties_by_the_first_largest_entry():
    estimate = np.array([[-2.0, 1.0, 2.0, -1.0]])  # max == -min and as many + as -
    for sign in ("positive_peak", "mostly_positive"):
        for s in (1.0, -1.0):
            result = consensus([s * estimate, estimate], sign=sign)
            np.testing.assert_array_equal(result.maps[0], -estimate[0])


def test_average_members_aligns_signs_before_averaging(rng):
    components = _uncorrelated_components(rng, 2, 30)
    noise = [0.01 * rng.standard_normal(components.shape) for _ in range(3)]
    runs = [components + noise[0], -(components + noise[1]), components + noise[2]]
    result = consensus(runs, average_members=True)
    assert consensus(runs).mean_maps is None
    for k in range(2):
        members = np.flatnonzero(result.labels == k)
        pool = np.vstack(runs)
        aligned = [pool[i] * np.sign(np.corrcoef(pool[i], result.maps[k])[0, 1]) for i in members]
        np.testing.assert_allclose(result.mean_maps[k], np.mean(aligned, axis=0), atol=1e-12)


def test_maps_keep_the_dtype_and_the_input_is_untouched(rng):
    runs = [r.astype(np.float32) for r in _random_runs(rng)]
    copies = [r.copy() for r in runs]
    result = consensus(runs)
    assert result.maps.dtype == np.float32
    for run, copy in zip(runs, copies, strict=True):
        np.testing.assert_array_equal(run, copy)


def test_consensus_rejects_bad_input(rng):
    with pytest.raises(ValueError, match="at least one"):
        consensus([])
    with pytest.raises(ValueError, match="run 1 has 9 voxels but run 0 has 10"):
        consensus([np.ones((2, 10)), np.ones((2, 9))])
    bad = rng.standard_normal((2, 10))
    bad[1, 3] = np.inf
    with pytest.raises(ValueError, match="run 1: estimates must be finite"):
        consensus([rng.standard_normal((2, 10)), bad])
    with pytest.raises(ValueError, match="n_clusters"):
        consensus([rng.standard_normal((2, 10))], n_clusters=3)
    with pytest.raises(ValueError, match="sign must be one of"):
        consensus([rng.standard_normal((2, 10))], sign="largest")


def test_consensus_warning_free_on_clean_input(rng):
    components = _uncorrelated_components(rng, 3, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        consensus([components, -components])


def test_empty_estimates_are_left_out_with_a_warning(rng):
    """Empty maps (dictionary learning's unused atoms) would each take a cluster of their own
    and force the real components together at the cut."""
    components = _uncorrelated_components(rng, 3, 40)
    runs = [np.vstack([components, np.zeros((2, 40))]) for _ in range(4)]
    with pytest.warns(UserWarning, match=r"8 empty estimate\(s\) left out \(run 0 component 3,"):
        result = consensus(runs, n_clusters=3)
    assert result.sizes.tolist() == [4, 4, 4]
    np.testing.assert_allclose(result.stability, 1.0)
    empty = np.tile([False, False, False, True, True], 4)
    assert np.all(result.labels[empty] == -1) and np.all(result.labels[~empty] >= 0)
    with (
        pytest.warns(UserWarning, match="1 empty estimate"),
        pytest.raises(ValueError, match="2 non-empty estimates for 3 clusters; lower"),
    ):
        consensus([np.vstack([components[:2], np.zeros((1, 40))])], n_clusters=3)


@pytest.mark.filterwarnings("ignore:consensus.*single member:UserWarning")
def test_a_component_missing_from_some_runs_is_less_stable(rng):
    """Network 3 is found, identically, in 6 of 10 runs only (the other runs find unrelated
    maps): its Iq is as high as the others', its stability is scaled by its coverage."""
    components = _uncorrelated_components(rng, 4, 200)
    runs = []
    for k in range(10):
        extra = components[3] if k < 6 else rng.standard_normal(200)
        runs.append(np.vstack([components[:3], extra]) + 0.01 * rng.standard_normal((4, 200)))
    result = consensus(runs, n_clusters=4)
    assert result.coverage.tolist()[:3] == [1.0, 1.0, 1.0]
    # the cut also puts some of the unrelated maps in network 3's cluster
    assert 0.6 <= result.coverage[3] <= 0.8 and result.sizes[3] >= 6
    match = _unit_rows(result.maps) @ _unit_rows(components).T
    assert np.abs(match[3, 3]) > 0.99  # its centrotype is network 3
    np.testing.assert_allclose(result.stability, result.quality * result.coverage)
    assert result.stability[3] < 0.65 < result.stability[:3].min()


def _brute_force_cut(sim, run_of, n_runs, n_clusters):
    """The cut maximising the mean of the top stabilities, from full clusterings."""
    best, best_score = None, -1.0
    for n_cut in range(n_clusters, sim.shape[0] + 1):
        labels = cluster_estimates(sim, n_cut)
        iq = np.clip(np.nan_to_num(quality_index(sim, labels), nan=0.0), 0, 1)
        cover = np.array([np.unique(run_of[labels == c]).size / n_runs for c in range(n_cut)])
        score = np.sort(iq * cover)[::-1][:n_clusters].mean()
        if score > best_score + 1e-12:
            best, best_score = n_cut, score
    return best


@pytest.mark.parametrize("seed", range(4))
def test_choose_cut_equals_the_brute_force_search(seed):
    rng = np.random.default_rng(seed)
    runs = _noisy_runs(rng, n_runs=5, n_components=4, n_voxels=60, noise=0.6)
    runs = [np.vstack([run, rng.standard_normal((2, 60))]) for run in runs]  # outliers
    sim = similarity_matrix(np.vstack(runs))
    run_of = np.repeat(np.arange(5), 6)
    assert choose_cut(sim, run_of, 5, 4) == _brute_force_cut(sim, run_of, 5, 4)


def test_identical_runs_are_cut_at_the_requested_number(rng):
    components = _uncorrelated_components(rng, 5, 50)
    sim = similarity_matrix(np.vstack([components] * 4))
    assert choose_cut(sim, np.repeat(np.arange(4), 5), 4, 5) == 5


@pytest.mark.filterwarnings("ignore:consensus.*single member:UserWarning")
def test_outliers_of_single_runs_do_not_merge_the_components_every_run_finds(rng):
    """Every run finds the 8 planted networks; asked for 12 components, each also returns a
    map that recurs in 6 of the 10 runs and 3 maps of its own. Cut at 12 clusters, the 30
    one-run maps would each want a cluster and force planted networks together."""
    n_planted, n_runs, n_voxels = 8, 10, 300
    components = _uncorrelated_components(rng, n_planted + 1, n_voxels)
    planted, recurring = components[:n_planted], components[n_planted]
    runs = []
    for k in range(n_runs):
        extra = [recurring if k < 6 else rng.standard_normal(n_voxels)]
        extra += [rng.standard_normal(n_voxels) for _ in range(3)]
        run = np.vstack([planted, *extra]) + 0.02 * rng.standard_normal((12, n_voxels))
        runs.append(run[rng.permutation(12)])
    result = consensus(runs, n_clusters=12)
    match = np.abs(_unit_rows(result.maps) @ _unit_rows(planted).T)
    found = match.max(axis=0)
    assert np.all(found > 0.95)  # every planted network is a consensus map of its own
    stable = np.argmax(match, axis=0)
    assert sorted(stable.tolist()) == list(range(n_planted))  # the 8 most stable maps
    assert np.all(result.coverage[:n_planted] == 1.0)
    assert result.stability[:n_planted].min() > 0.8
    assert result.stability[n_planted:].max() < 0.65
