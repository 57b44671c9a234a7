"""Component stability: ICASSO-style consensus of repeated decompositions.

A decomposition (CanICA, dictionary learning) started from different random seeds gives
slightly different components, in a different order and with arbitrary signs. This module pools
the estimates of all runs, clusters them by absolute correlation (average linkage), scores every
cluster with the ICASSO quality index and returns each cluster's centrotype (its most central
member), sign-flipped to a fixed convention. Arrays in, arrays out; no files.

See docs/methods/stability.md, "ICASSO consensus", for the definitions and the choices made here.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "SIGN_CONVENTIONS",
    "Consensus",
    "centrotype",
    "choose_cut",
    "cluster_estimates",
    "consensus",
    "quality_index",
    "similarity_matrix",
]

#: Sign conventions for the output maps (docs/methods/stability.md, "Signs").
SIGN_CONVENTIONS = ("positive_peak", "mostly_positive")

SignConvention = Literal["positive_peak", "mostly_positive"]


@dataclass(frozen=True)
class Consensus:
    """Result of :func:`consensus`; clusters are ordered by decreasing stability.

    Attributes
    ----------
    maps : ndarray, shape (n_clusters, n_voxels)
        Each cluster's centrotype, sign-flipped to the chosen convention; same dtype as the runs.
    stability : ndarray, shape (n_clusters,)
        Stability index in [0, 1]: ``quality`` times ``coverage``.
    labels : ndarray, shape (n_pool,)
        Cluster (row of ``maps``) of every pooled estimate; -1 for an empty (constant)
        estimate, which is left out of the clustering, and for the members of clusters not
        kept. ``n_pool`` is the total number of components over all runs, pooled run after
        run.
    sizes : ndarray, shape (n_clusters,)
        Members per cluster.
    quality : ndarray, shape (n_clusters,)
        ICASSO quality index Iq clipped to [0, 1]; 0.0 for a single-member cluster.
    coverage : ndarray, shape (n_clusters,)
        Fraction of the runs with at least one member in the cluster.
    n_cut : int
        Clusters of the cut (:func:`choose_cut`), of which the ``n_clusters`` most stable are
        kept.
    centrotypes : ndarray, shape (n_clusters,)
        Index of each cluster's centrotype among the pooled estimates.
    similarity : ndarray, shape (n_pool, n_pool)
        The absolute-correlation matrix the clustering used.
    mean_maps : ndarray, shape (n_clusters, n_voxels), or None
        Mean of each cluster's members after aligning their signs to ``maps`` (float64); only
        when :func:`consensus` was called with ``average_members=True``.
    """

    maps: np.ndarray
    stability: np.ndarray
    labels: np.ndarray
    sizes: np.ndarray
    centrotypes: np.ndarray
    similarity: np.ndarray
    quality: np.ndarray
    coverage: np.ndarray
    n_cut: int
    mean_maps: np.ndarray | None = None


# --------------------------------------------------------------------------- similarity


def similarity_matrix(estimates: np.ndarray) -> np.ndarray:
    """Absolute Pearson correlation between every pair of estimates.

    Parameters
    ----------
    estimates : ndarray, shape (n_pool, n_voxels)
        One estimated component per row.

    Returns
    -------
    ndarray, shape (n_pool, n_pool), dtype of ``estimates``
        ``|corr(estimates[i], estimates[j])|`` clipped to [0, 1], exactly symmetric, with ones on
        the diagonal.

    Raises
    ------
    ValueError
        If ``estimates`` is not a 2-D finite array with at least two columns.

    Notes
    -----
    A constant row has no defined correlation; it is given similarity 0 to every other row
    (docs/methods/stability.md, "Similarity"). Flipping the sign of a row leaves the result
    unchanged bit for bit, because negation is exact in floating point.
    """
    x = _check_estimates(estimates, "estimates")
    unit = x - x.mean(axis=1, keepdims=True)
    # float64 sums without a squared copy of the estimates (norm() makes one)
    norms = np.sqrt(np.einsum("ij,ij->i", unit, unit, dtype=np.float64)).astype(unit.dtype)
    constant = norms == 0
    norms[constant] = 1.0
    unit /= norms[:, None]  # in place: one copy of the estimates, not two
    sim = np.abs(unit @ unit.T)
    # averaging with the transpose makes the matrix exactly symmetric whatever the BLAS did
    sim = np.clip((sim + sim.T) / 2.0, 0.0, 1.0)
    np.fill_diagonal(sim, 1.0)
    return sim


# --------------------------------------------------------------------------- clustering


def cluster_estimates(similarity: np.ndarray, n_clusters: int) -> np.ndarray:
    """Average-linkage agglomerative clustering of the estimates, cut at ``n_clusters``.

    Parameters
    ----------
    similarity : ndarray, shape (n_pool, n_pool)
        Symmetric similarity in [0, 1] (see :func:`similarity_matrix`); the distance is
        ``1 - similarity``.
    n_clusters : int
        Number of clusters, between 1 and ``n_pool``.

    Returns
    -------
    ndarray, shape (n_pool,), int64
        Cluster label of every estimate, in 0..n_clusters-1, numbered by first appearance
        (estimate 0 is in cluster 0, the next estimate outside it starts cluster 1, ...).

    Raises
    ------
    ValueError
        If ``similarity`` is not square, or ``n_clusters`` is out of range.

    Notes
    -----
    The tree is built with :func:`scipy.cluster.hierarchy.linkage` (``method="average"``) and cut
    by replaying its first ``n_pool - n_clusters`` merges, so exactly ``n_clusters`` clusters come
    out even when merge heights tie (a height threshold could give fewer).
    """
    sim = _check_similarity(similarity)
    n_pool = sim.shape[0]
    _check_n_clusters(n_clusters, n_pool)
    if n_pool == 1:
        return np.zeros(1, dtype=np.int64)
    return _cut_tree(_average_linkage(sim), n_pool, n_clusters)


def _average_linkage(sim: np.ndarray) -> np.ndarray:
    """Average-linkage tree (scipy) of the distance ``1 - sim``; at least two estimates."""
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

    distance = 1.0 - sim
    np.fill_diagonal(distance, 0.0)
    return linkage(squareform(distance, checks=False), method="average")


def _cut_tree(tree: np.ndarray, n_pool: int, n_clusters: int) -> np.ndarray:
    """Labels after the first ``n_pool - n_clusters`` merges of a linkage matrix."""
    # node ids: leaves 0..n_pool-1, merge m creates node n_pool + m
    parent = np.arange(2 * n_pool - 1)
    for m in range(n_pool - n_clusters):
        left, right = int(tree[m, 0]), int(tree[m, 1])
        parent[left] = parent[right] = n_pool + m
    roots = np.array([_root(parent, leaf) for leaf in range(n_pool)])
    return _number_by_first_appearance(roots)


def _root(parent: np.ndarray, node: int) -> int:
    while parent[node] != node:
        node = parent[node]
    return node


def _number_by_first_appearance(keys: np.ndarray) -> np.ndarray:
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inverse.ravel()]


# --------------------------------------------------------------------------- cluster scores


def quality_index(similarity: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """ICASSO quality index Iq of every cluster.

    Parameters
    ----------
    similarity : ndarray, shape (n_pool, n_pool)
        Symmetric similarity in [0, 1].
    labels : ndarray, shape (n_pool,)
        Cluster labels 0..n_clusters-1 (every label present).

    Returns
    -------
    ndarray, shape (n_clusters,), float64
        ``Iq(c)`` = mean similarity over distinct pairs of members of c minus mean similarity
        between members and non-members; in [-1, 1]; NaN for a single-member cluster.

    Raises
    ------
    ValueError
        If the shapes disagree or a label in 0..max(labels) is unused.

    Notes
    -----
    When one cluster holds every estimate there are no non-members; the extra-cluster term is
    then taken as 0 (docs/methods/stability.md, "Quality index").
    """
    sim = _check_similarity(similarity)
    labels = _check_labels(labels, sim.shape[0])
    scores = np.empty(int(labels.max()) + 1)
    for c in range(scores.size):
        inside = labels == c
        scores[c] = _cluster_iq(sim, inside)
    return scores


def _cluster_iq(sim: np.ndarray, inside: np.ndarray) -> float:
    n_in = int(inside.sum())
    if n_in == 1:
        return np.nan
    block = sim[np.ix_(inside, inside)]
    intra = (block.sum() - np.trace(block)) / (n_in * (n_in - 1))
    between = sim[np.ix_(inside, ~inside)]
    extra = between.mean() if between.size else 0.0
    return float(intra - extra)


def centrotype(similarity: np.ndarray, members: np.ndarray) -> int:
    """The member with the largest summed similarity to the cluster's members.

    Parameters
    ----------
    similarity : ndarray, shape (n_pool, n_pool)
        Symmetric similarity in [0, 1].
    members : ndarray of int, shape (n_members,)
        Indices of the cluster's members (at least one).

    Returns
    -------
    int
        Index (into the pooled estimates) of the centrotype; the lowest index among ties.

    Raises
    ------
    ValueError
        If ``members`` is empty or out of range.
    """
    sim = _check_similarity(similarity)
    idx = np.sort(np.asarray(members, dtype=np.int64).ravel())
    if idx.size == 0 or idx[0] < 0 or idx[-1] >= sim.shape[0]:
        raise ValueError(
            f"centrotype: members must be 1 or more indices in [0, {sim.shape[0]}), "
            f"got {idx.tolist()}"
        )
    summed = sim[np.ix_(idx, idx)].sum(axis=1)
    return int(idx[np.argmax(summed)])


# --------------------------------------------------------------------------- consensus


def consensus(
    runs: Sequence[np.ndarray],
    n_clusters: int | None = None,
    sign: SignConvention = "positive_peak",
    *,
    average_members: bool = False,
) -> Consensus:
    """Stable components from repeated decompositions (ICASSO with centrotypes).

    Parameters
    ----------
    runs : sequence of ndarray, each shape (n_components, n_voxels)
        One decomposition per seed; ``n_components`` may differ between runs, ``n_voxels`` not.
    n_clusters : int or None, default=None
        Number of clusters; ``None`` uses the first run's ``n_components``.
    sign : {"positive_peak", "mostly_positive"}, default="positive_peak"
        Sign convention of the output maps: "positive_peak" flips a map when its maximum is
        smaller than minus its minimum (as CanICA); "mostly_positive" flips it when fewer entries
        are positive than negative (as dictionary learning). Exact ties keep the sign that makes
        the first largest-magnitude entry positive.
    average_members : bool, default=False
        Also return each cluster's members averaged after aligning their signs to the centrotype
        (``Consensus.mean_maps``).

    Returns
    -------
    Consensus
        Clusters ordered by decreasing stability, ties by centrotype index.

    Raises
    ------
    ValueError
        If ``runs`` is empty, a run is not a finite 2-D array, the runs disagree on
        ``n_voxels``, ``n_clusters`` is out of range or ``sign`` is unknown.

    Warns
    -----
    UserWarning
        For each single-member cluster (its Iq is undefined; its stability is set to 0.0).

    Notes
    -----
    Iq can in principle be negative (members closer to outsiders than to each other); the
    reported stability is clipped to [0, 1] so that it reads as a score. The output depends on
    the estimates only through their absolute correlations and the sign convention, so flipping
    the sign of any estimate changes nothing; reordering the runs changes only tie-breaks.
    See docs/methods/stability.md, "ICASSO consensus".
    """
    if sign not in SIGN_CONVENTIONS:
        raise ValueError(f"consensus: sign must be one of {SIGN_CONVENTIONS}, got {sign!r}")
    pool, run_of, comp_of = _pool_runs(runs)
    if n_clusters is None:
        n_clusters = int(np.asarray(runs[0]).shape[0])
    _check_n_clusters(n_clusters, pool.shape[0])
    kept = _informative(pool, run_of, comp_of, n_clusters)

    sim = similarity_matrix(pool if kept.size == pool.shape[0] else pool[kept])
    runs_of_kept = run_of[kept]
    if kept.size == 1:
        n_cut, labels = 1, np.zeros(1, dtype=np.int64)
    else:
        tree = _average_linkage(sim)
        n_cut = _best_cut(tree, sim, runs_of_kept, len(runs), n_clusters)
        labels = _cut_tree(tree, kept.size, n_cut)
    members = [np.flatnonzero(labels == c) for c in range(n_cut)]
    centres = np.array([kept[centrotype(sim, m)] for m in members], dtype=np.int64)
    coverage = np.array([np.unique(runs_of_kept[m]).size / len(runs) for m in members])
    iq = quality_index(sim, labels)
    quality = np.clip(np.nan_to_num(iq, nan=0.0), 0.0, 1.0)
    stability = quality * coverage

    order = np.lexsort((centres, -stability))[:n_clusters]  # last key is primary
    _warn_single_members(iq[order], centres[order], run_of, comp_of)
    new_label = np.full(n_cut, -1, dtype=np.int64)
    new_label[order] = np.arange(n_clusters)
    all_labels = np.full(pool.shape[0], -1, dtype=np.int64)
    all_labels[kept] = new_label[labels]
    centres = centres[order]
    maps = _apply_sign_convention(pool[centres].copy(), sign)
    grouped = all_labels >= 0
    mean_maps = (
        _aligned_means(pool[grouped], all_labels[grouped], maps) if average_members else None
    )
    return Consensus(
        maps=maps,
        stability=stability[order],
        labels=all_labels,
        sizes=np.bincount(all_labels[grouped], minlength=n_clusters),
        centrotypes=centres,
        similarity=_pool_similarity(sim, kept, pool.shape[0]),
        quality=quality[order],
        coverage=coverage[order],
        n_cut=n_cut,
        mean_maps=mean_maps,
    )


def _pool_similarity(sim: np.ndarray, kept: np.ndarray, n_pool: int) -> np.ndarray:
    """The kept estimates' similarity in a matrix over the whole pool (indexed as ``labels``).

    A left-out (empty) estimate has similarity 0 to every other one and 1 to itself, as
    :func:`similarity_matrix` gives a constant row.
    """
    full = np.zeros((n_pool, n_pool))
    full[np.ix_(kept, kept)] = sim
    np.fill_diagonal(full, 1.0)
    return full


def choose_cut(similarity: np.ndarray, run_of: np.ndarray, n_runs: int, n_clusters: int) -> int:
    """Number of clusters to cut the average-linkage tree at, at least ``n_clusters``.

    The cut that maximises the mean stability (quality x coverage, as :func:`consensus`) of
    its ``n_clusters`` most stable clusters. Cutting at exactly ``n_clusters`` (ICASSO's
    default) lets estimates that only one run produced take clusters of their own and push
    the components every run finds together; a finer cut leaves such outliers in small,
    unstable clusters that are then not kept (docs/methods/stability.md, "Choosing the cut").

    Parameters
    ----------
    similarity : ndarray, shape (n_pool, n_pool)
        Symmetric similarity in [0, 1] (see :func:`similarity_matrix`).
    run_of : ndarray of int, shape (n_pool,)
        Run of every estimate.
    n_runs : int
        Number of runs (the denominator of coverage).
    n_clusters : int
        Clusters to keep.

    Returns
    -------
    int
        Between ``n_clusters`` and ``n_pool``; the smallest among equal scores.

    Notes
    -----
    Every cut is scored from the linkage merges alone (cluster sizes, sums of similarity and
    runs, updated merge by merge), so the search costs about one clustering.
    """
    sim = _check_similarity(similarity)
    _check_n_clusters(n_clusters, sim.shape[0])
    if sim.shape[0] == 1:
        return 1
    return _best_cut(_average_linkage(sim), sim, np.asarray(run_of), n_runs, n_clusters)


def _best_cut(
    tree: np.ndarray, sim: np.ndarray, run_of: np.ndarray, n_runs: int, n_clusters: int
) -> int:
    scores = _cut_scores(tree, sim, run_of, n_runs, n_clusters)
    return int(max(scores, key=lambda n: (scores[n], -n)))


def _cut_scores(
    tree: np.ndarray, sim: np.ndarray, run_of: np.ndarray, n_runs: int, n_clusters: int
) -> dict[int, float]:
    """Mean stability of the ``n_clusters`` most stable clusters of every cut of ``tree``."""
    n_pool = sim.shape[0]
    row_sums = sim.sum(axis=1) - 1.0  # similarity to every other estimate

    size = {i: 1 for i in range(n_pool)}
    inner = {i: 0.0 for i in range(n_pool)}  # sum over ordered pairs of distinct members
    outer = {i: float(row_sums[i]) for i in range(n_pool)}  # members' sums to every other
    runs = {i: frozenset([int(run_of[i])]) for i in range(n_pool)}
    score_of = {i: 0.0 for i in range(n_pool)}

    def stability(node: int) -> float:
        n = size[node]
        if n == 1:
            return 0.0
        intra = inner[node] / (n * (n - 1))
        between = (outer[node] - inner[node]) / (n * (n_pool - n)) if n < n_pool else 0.0
        return min(max(intra - between, 0.0), 1.0) * len(runs[node]) / n_runs

    scores = {n_pool: _top_mean(score_of, n_clusters)}
    for m in range(n_pool - n_clusters):
        a, b, height = int(tree[m, 0]), int(tree[m, 1]), float(tree[m, 2])
        node = n_pool + m
        cross = (1.0 - height) * size[a] * size[b]  # average linkage: mean distance
        size[node] = size.pop(a) + size.pop(b)
        inner[node] = inner.pop(a) + inner.pop(b) + 2.0 * cross
        outer[node] = outer.pop(a) + outer.pop(b)
        runs[node] = runs.pop(a) | runs.pop(b)
        del score_of[a], score_of[b]
        score_of[node] = stability(node)
        scores[n_pool - m - 1] = _top_mean(score_of, n_clusters)
    return scores


def _top_mean(score_of: dict[int, float], k: int) -> float:
    values = np.fromiter(score_of.values(), dtype=np.float64)
    return float(np.partition(values, values.size - k)[values.size - k :].mean())


def _informative(
    pool: np.ndarray, run_of: np.ndarray, comp_of: np.ndarray, n_clusters: int
) -> np.ndarray:
    """Indices of the non-constant estimates; a warning names the constant ones.

    A constant estimate (an empty map: dictionary learning with more components than the data
    support, or too strong a penalty) correlates with nothing. Kept, every one would be a
    cluster of its own and push the real components together at the cut.
    """
    constant = np.ptp(pool, axis=1) == 0
    if constant.any():
        names = ", ".join(
            f"run {run_of[i]} component {comp_of[i]}" for i in np.flatnonzero(constant)
        )
        warnings.warn(
            f"consensus: {int(constant.sum())} empty estimate(s) left out ({names}); "
            "fewer components or a weaker penalty would avoid them",
            UserWarning,
            stacklevel=3,
        )
    kept = np.flatnonzero(~constant)
    if kept.size < n_clusters:
        raise ValueError(
            f"consensus: {kept.size} non-empty estimates for {n_clusters} clusters; lower "
            "decomposition.n_components or decomposition.alpha"
        )
    return kept


def _pool_runs(runs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack the runs' components; also return each row's run and component number."""
    if len(runs) == 0:
        raise ValueError("consensus: runs must hold at least one decomposition, got none")
    arrays = [_check_estimates(run, f"run {i}") for i, run in enumerate(runs)]
    n_voxels = arrays[0].shape[1]
    for i, run in enumerate(arrays):
        if run.shape[1] != n_voxels:
            raise ValueError(
                f"consensus: run {i} has {run.shape[1]} voxels but run 0 has {n_voxels}"
            )
    dtype = np.result_type(*arrays)
    pool = np.concatenate(arrays, axis=0).astype(dtype, copy=False)
    run_of = np.concatenate([np.full(a.shape[0], i) for i, a in enumerate(arrays)])
    comp_of = np.concatenate([np.arange(a.shape[0]) for a in arrays])
    return pool, run_of, comp_of


def _warn_single_members(
    iq: np.ndarray, centres: np.ndarray, run_of: np.ndarray, comp_of: np.ndarray
) -> None:
    """Warn about kept clusters with a single member (Iq undefined, stability 0.0)."""
    for c in np.flatnonzero(np.isnan(iq)):
        k = centres[c]
        warnings.warn(
            f"consensus: the cluster of estimate {k} (run {run_of[k]}, component {comp_of[k]}) "
            "has a single member; its stability is undefined and set to 0.0",
            UserWarning,
            stacklevel=3,
        )


def _apply_sign_convention(maps: np.ndarray, sign: SignConvention) -> np.ndarray:
    """Flip rows in place to the convention; exact ties by the first largest-magnitude entry."""
    if sign == "positive_peak":
        positive, negative = maps.max(axis=1), -maps.min(axis=1)
    else:
        positive, negative = np.sum(maps > 0, axis=1), np.sum(maps < 0, axis=1)
    peak = maps[np.arange(maps.shape[0]), np.argmax(np.abs(maps), axis=1)]
    flip = (positive < negative) | ((positive == negative) & (peak < 0))
    maps[flip] *= -1
    return maps


def _aligned_means(pool: np.ndarray, labels: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """Mean of each cluster's members, each flipped to correlate positively with its map."""
    x = pool.astype(np.float64)
    centred = x - x.mean(axis=1, keepdims=True)
    ref = maps.astype(np.float64)
    ref = ref - ref.mean(axis=1, keepdims=True)
    signs = np.where(np.einsum("ij,ij->i", centred, ref[labels]) < 0, -1.0, 1.0)
    means = np.zeros(maps.shape, dtype=np.float64)
    np.add.at(means, labels, x * signs[:, None])
    return means / np.bincount(labels, minlength=maps.shape[0])[:, None]


# --------------------------------------------------------------------------- checks


def _check_estimates(estimates: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(estimates)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] < 2:
        raise ValueError(
            f"{name}: expected a 2-D array (n_components >= 1, n_voxels >= 2), got shape {x.shape}"
        )
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: estimates must be finite, found NaN or inf")
    return x


def _check_similarity(similarity: np.ndarray) -> np.ndarray:
    sim = np.asarray(similarity, dtype=np.float64)
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1] or sim.shape[0] == 0:
        raise ValueError(f"similarity: expected a square non-empty matrix, got shape {sim.shape}")
    return sim


def _check_labels(labels: np.ndarray, n_pool: int) -> np.ndarray:
    lab = np.asarray(labels)
    if lab.shape != (n_pool,) or not np.issubdtype(lab.dtype, np.integer) or lab.min() < 0:
        raise ValueError(
            f"labels: expected {n_pool} non-negative integers, got shape {lab.shape} "
            f"of dtype {lab.dtype}"
        )
    missing = np.flatnonzero(np.bincount(lab) == 0)
    if missing.size:
        raise ValueError(f"labels: every label in 0..{lab.max()} must be used, missing {missing}")
    return lab


def _check_n_clusters(n_clusters: int, n_pool: int) -> None:
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, int | np.integer):
        raise ValueError(f"n_clusters: expected an integer, got {n_clusters!r}")
    if not 1 <= n_clusters <= n_pool:
        raise ValueError(
            f"n_clusters: expected 1 <= n_clusters <= {n_pool} (pooled estimates), got {n_clusters}"
        )
