"""Region extraction: thresholding, random walker, connected regions, table, workflow step.

Mirrors what the reference's own region tests assert (docs/algorithms.md §9.2), on hand-made maps
whose answer is known. ``parity`` tests run nilearn in ``.venv-nilearn`` (if present) on the
same arrays; none of them is the only test of anything.
"""

from __future__ import annotations

import subprocess
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from netregions.regions import (
    EXTRACTORS,
    REGION_COLUMNS,
    NoRegionError,
    atlas_labels,
    connected_regions,
    extract_regions,
    random_walker,
    region_table,
    threshold_maps,
    voxel_volume,
)

NILEARN_PYTHON = Path(__file__).resolve().parents[1] / ".venv-nilearn" / "bin" / "python"
needs_nilearn = pytest.mark.skipif(
    not NILEARN_PYTHON.exists(), reason="no .venv-nilearn to compare with"
)

AFFINE_2MM = np.diag([2.0, 2.0, 2.0, 1.0])
AFFINE_4MM = np.array([[4.0, 0, 0, -96.0], [0, 4.0, 0, -132.0], [0, 0, 4.0, -78.0], [0, 0, 0, 1.0]])


# --------------------------------------------------------------------------- helpers


def ball(shape, centre, radius):
    grid = np.indices(shape)
    return sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)) <= radius**2


def bump(shape, centre, width):
    grid = np.indices(shape).astype(np.float64)
    return np.exp(-sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)) / width**2)


def box(shape, lower, upper):
    out = np.zeros(shape, dtype=bool)
    out[tuple(slice(lo, up) for lo, up in zip(lower, upper, strict=True))] = True
    return out


def dense_random_walker(data, labels, beta=130.0):
    """Independent oracle: dense Laplacian built voxel by voxel, solved exactly.

    Follows the description in docs/algorithms.md (§4.2 step 4) literally; meant for tiny arrays.
    """
    labels = np.array(labels, copy=True)
    unlabeled, seeds, active = labels == 0, labels > 0, labels >= 0
    reach_seed = ndimage.binary_propagation(seeds, mask=active)
    if not (unlabeled & reach_seed).any():
        return labels
    values = sorted(set(labels[active].tolist()))
    rank = {v: i for i, v in enumerate(values)}
    labels[active] = [rank[v] for v in labels[active].tolist()]
    reach_unl = ndimage.binary_propagation(unlabeled, mask=active)
    labels[(unlabeled & ~reach_seed) | (seeds & ~reach_unl)] = -1
    coords = [tuple(c) for c in np.argwhere(labels >= 0)]
    node = {c: i for i, c in enumerate(coords)}
    scale = beta / (10 * data.std())
    lap = np.zeros((len(coords), len(coords)))
    for c in coords:
        for axis in range(3):
            nb = list(c)
            nb[axis] += 1
            nb = tuple(nb)
            if nb in node:
                w = np.exp(-scale * (float(data[c]) - float(data[nb])) ** 2) + 1e-10
                i, j = node[c], node[nb]
                lap[i, j] -= w
                lap[j, i] -= w
                lap[i, i] += w
                lap[j, j] += w
    node_labels = np.array([labels[c] for c in coords])
    u, s = np.flatnonzero(node_labels == 0), np.flatnonzero(node_labels > 0)
    rhs = -lap[np.ix_(u, s)] @ np.stack(
        [node_labels[s] == lab for lab in range(1, node_labels.max() + 1)], axis=1
    )
    probabilities = np.linalg.solve(lap[np.ix_(u, u)], rhs)
    for k, i in enumerate(u):
        labels[coords[i]] = np.argmax(probabilities[k]) + 1
    return labels


def walker_cases():
    """Small (data, labels) pairs: ordinary cases and the reference's special cases."""
    rng = np.random.default_rng(7)
    shape = (9, 10, 8)
    two = (bump(shape, (2, 5, 4), 2.5) + 0.8 * bump(shape, (6, 5, 4), 2.5)).astype(np.float32)
    two[two < 0.05] = 0
    seeds = np.where(two == 0, -1, 0)
    seeds[2, 5, 4], seeds[6, 5, 4] = 1, 2
    cases = {"two_bumps": (two, seeds)}
    noisy = ndimage.gaussian_filter(rng.standard_normal(shape), 1.2).astype(np.float32)
    noisy[np.abs(noisy) < 0.4 * noisy.std()] = 0
    seeds = np.where(noisy == 0, -1, 0)
    for k, voxel in enumerate(np.argwhere(noisy != 0)[:: max(1, np.count_nonzero(noisy) // 5)]):
        seeds[tuple(voxel)] = k + 1
    cases["noisy"] = (noisy, seeds)
    dense = rng.random(shape).astype(np.float32)
    seeds = np.zeros(shape, dtype=int)
    seeds[0, 0, 0], seeds[8, 9, 7], seeds[4, 4, 4] = 1, 2, 3
    cases["dense_no_inactive"] = (dense, seeds)
    return cases


# --------------------------------------------------------------------------- random walker


@pytest.mark.parametrize("name", ["two_bumps", "noisy", "dense_no_inactive"])
def test_random_walker_matches_dense_exact_oracle(name):
    data, labels = walker_cases()[name]
    expected = dense_random_walker(data, labels)
    # tight tolerance: the same system solved to convergence gives the exact argmax
    np.testing.assert_array_equal(random_walker(data, labels, tol=1e-10), expected)
    # the reference's tolerance leaves at most a few close-call voxels different
    loose = random_walker(data, labels)
    assert np.count_nonzero(loose != expected) <= 0.02 * labels.size


def plateaus(shape=(26, 12, 12)):
    """One blob: plateaus 1.0 (x 2-9) and 0.8 (x 16-23) joined by a thin 0.3 bridge."""
    m = np.zeros(shape, dtype=np.float32)
    m[2:10, 2:10, 2:10] = 1.0
    m[16:24, 2:10, 2:10] = 0.8
    m[10:16, 5:7, 5:7] = 0.3
    return m


def test_random_walker_gives_each_plateau_to_its_seed():
    data = plateaus()
    labels = np.where(data == 0, -1, 0)
    labels[5, 5, 5], labels[20, 6, 6] = 1, 2
    before = labels.copy()
    out = random_walker(data, labels)
    np.testing.assert_array_equal(labels, before)  # input untouched
    assert out.dtype == labels.dtype
    np.testing.assert_array_equal(out == -1, data == 0)
    assert np.all(out[data == 1.0] == 1) and np.all(out[data == 0.8] == 2)
    # the bridge differs less from the 0.8 plateau: the walk from it reaches seed 2 first
    assert np.all(out[data == 0.3] == 2)


def test_random_walker_ties_go_to_the_first_label():
    # equal steps on both sides: the middle voxel is reached by both seeds with probability 1/2
    data = np.array([[[0.5, 1.0, 1.5]]], dtype=np.float32)
    out = random_walker(data, np.array([[[1, 0, 2]]]))
    np.testing.assert_array_equal(out, [[[1, 1, 2]]])
    out = random_walker(data, np.array([[[2, 0, 1]]]))
    np.testing.assert_array_equal(out, [[[2, 1, 1]]])


def test_random_walker_without_unlabeled_voxels_returns_labels_unchanged():
    data, labels = walker_cases()["two_bumps"]
    full = np.where(labels == 0, 1, labels)
    with pytest.warns(UserWarning, match="no unlabeled voxel"):
        np.testing.assert_array_equal(random_walker(data, full), full)


def test_random_walker_without_seeds_returns_labels_unchanged():
    data, _ = walker_cases()["two_bumps"]
    zeros = np.zeros(data.shape, dtype=int)
    with pytest.warns(UserWarning, match="no unlabeled voxel"):
        np.testing.assert_array_equal(random_walker(data, zeros), zeros)


def isolated_case():
    """A seeded blob, a seed-free blob, a single-voxel seed, all separated by zeros."""
    shape = (10, 10, 8)
    data = np.zeros(shape, dtype=np.float32)
    data[ball(shape, (3, 3, 3), 2)] = 1.0
    data[ball(shape, (3, 3, 3), 1)] = 2.0
    data[box(shape, (7, 6, 1), (9, 9, 3))] = 0.5  # no seed
    data[8, 1, 6] = 3.0  # a lone seed
    labels = np.where(data == 0, -1, 0)
    labels[3, 3, 3] = 4  # gap: values -1, 0, 4, 9
    labels[8, 1, 6] = 9
    return data, labels


def test_random_walker_drops_isolated_voxels_and_renumbers_gaps():
    data, labels = isolated_case()
    out = random_walker(data, labels)
    np.testing.assert_array_equal(out, dense_random_walker(data, labels))
    assert out[3, 3, 3] == 1  # 4 renumbered to 1
    assert np.all(out[ball(data.shape, (3, 3, 3), 2)] == 1)
    assert np.all(out[7:9, 6:9, 1:3] == -1)  # unlabeled, no seed reaches it
    assert out[8, 1, 6] == -1  # seed reaching no unlabeled voxel


def test_random_walker_with_every_blob_isolated_returns_labels_unchanged():
    data, labels = isolated_case()
    labels[3, 3, 3] = -1
    labels[ball(data.shape, (3, 3, 3), 2)] = -1
    with pytest.warns(UserWarning, match="no unlabeled voxel"):
        out = random_walker(data, labels)
    np.testing.assert_array_equal(out, labels)  # the lone seed keeps 9, the blob keeps 0


def test_random_walker_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="differs from labels shape"):
        random_walker(np.zeros((3, 3, 3)), np.zeros((3, 3, 2), dtype=int))


# scikit-image's random walker was the first choice; these tests record where it agrees with
# the description and where it does not (the reasons to keep our own, see random_walker).


@pytest.mark.parametrize("name", ["two_bumps", "noisy", "dense_no_inactive"])
def test_skimage_random_walker_agrees_on_ordinary_cases(name):
    from skimage.segmentation import random_walker as sk_random_walker

    data, labels = walker_cases()[name]
    exact = random_walker(data, labels, tol=1e-10)
    sk_exact = sk_random_walker(data, labels.copy(), beta=130, mode="bf")
    # scikit-image leaves unreachable unlabeled voxels at 0 where the reference puts -1
    np.testing.assert_array_equal(np.maximum(sk_exact, 0), np.maximum(exact, 0))
    for mode in ("cg", "cg_j"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "cg" warns when UMFPACK is missing
            sk_cg = sk_random_walker(data, labels.copy(), beta=130, mode=mode, tol=1e-3)
        assert np.count_nonzero(np.maximum(sk_cg, 0) != np.maximum(exact, 0)) <= 0.02 * data.size


def test_skimage_random_walker_differs_on_isolated_and_missing_seeds():
    from skimage.segmentation import random_walker as sk_random_walker

    data, labels = isolated_case()
    ours = random_walker(data, labels)
    theirs = sk_random_walker(data, labels.copy(), beta=130, mode="bf")
    assert ours[8, 1, 6] == -1 and theirs[8, 1, 6] > 0
    with pytest.raises(ValueError, match="No seeds"):
        sk_random_walker(data, np.zeros(data.shape, dtype=int), mode="bf")


# --------------------------------------------------------------------------- thresholding


def test_threshold_rejects_unknown_strategy():
    with pytest.raises(ValueError, match="'thresholding_strategy' must be one of"):
        threshold_maps(np.ones((3, 3, 3, 2)), 0.5, "spam")


@pytest.mark.parametrize("threshold", [None, "30%", "auto"])
def test_threshold_rejects_none_and_strings(threshold):
    for strategy in ("ratio_n_voxels", "percentile", "img_value"):
        with pytest.raises(ValueError, match="The given input to threshold is not valid."):
            threshold_maps(np.ones((3, 3, 3, 2)), threshold, strategy)


@pytest.mark.parametrize("bad", [-1.0, 0.0, 3.5])
def test_ratio_threshold_out_of_range_is_rejected(bad):
    with pytest.raises(ValueError, match="ratio"):
        threshold_maps(np.ones((4, 4, 4, 3), dtype=np.float32), bad, "ratio_n_voxels")


def test_ratio_threshold_is_a_no_op_for_sparse_maps(rng):
    # 2 maps, 2 % of the entries non-zero < ratio / n_maps = 25 %: the cut is 0
    maps = np.zeros((10, 10, 10, 2), dtype=np.float32)
    flat = maps.reshape(-1)
    picked = rng.choice(flat.size, 40, replace=False)
    flat[picked] = rng.standard_normal(40).astype(np.float32)
    before = maps.copy()
    out = threshold_maps(maps, 0.5, "ratio_n_voxels")
    np.testing.assert_array_equal(out, maps)
    np.testing.assert_array_equal(maps, before)


def test_ratio_threshold_bites_for_dense_maps(rng):
    maps = rng.standard_normal((10, 10, 10, 4)).astype(np.float32)
    out = threshold_maps(maps, 1.0, "ratio_n_voxels")
    # keep about ratio x n_voxels = 1000 of the 4000 entries, the largest |values|, both signs
    kept = np.count_nonzero(out)
    assert 990 <= kept <= 1010
    assert np.abs(out[out != 0]).min() >= np.abs(maps[out == 0]).max()
    assert (out < 0).any() and (out > 0).any()
    np.testing.assert_array_equal(out[out != 0], maps[out != 0])


def test_threshold_of_a_3d_map_keeps_its_shape(rng):
    m = rng.standard_normal((6, 7, 8)).astype(np.float32)
    for strategy, value in [("ratio_n_voxels", 0.5), ("percentile", 50), ("img_value", 0.1)]:
        assert threshold_maps(m, value, strategy).shape == m.shape


def test_img_value_one_sided_drops_negatives_two_sided_keeps_them():
    maps = np.zeros((8, 8, 8, 1), dtype=np.float32)
    maps[1:3, 1:3, 1:3, 0] = 1.0
    maps[5:7, 5:7, 5:7, 0] = -1.0
    maps[4, 4, 4, 0] = 0.2
    one = threshold_maps(maps, 0.4, "img_value", two_sided=False)
    two = threshold_maps(maps, 0.4, "img_value", two_sided=True)
    assert set(np.unique(one)) == {0.0, 1.0}
    assert set(np.unique(two)) == {-1.0, 0.0, 1.0}


# --------------------------------------------------------------------------- regions


def two_blob_map(shape=(30, 20, 20)):
    """One map: two balls (radius 4, centres 15 voxels apart) with gently varying values.

    Gentle variation keeps the random walk well conditioned: with steep steps (relative to
    the map's std) the reference's loose CG tolerance leaves weakly coupled voxels undecided.
    """
    m = np.zeros(shape)
    for centre, level in [((7, 10, 10), 0.9), ((22, 10, 10), 0.6)]:
        inside = ball(shape, centre, 4)
        m[inside] = level + 0.1 * bump(shape, centre, 4.0)[inside]
    return m.astype(np.float32)


@pytest.mark.parametrize("extract_type", ["connected_components", "local_regions"])
def test_two_blobs_give_two_regions_with_map_values(extract_type):
    m = two_blob_map()
    before = m.copy()
    regions, index = connected_regions(m[..., None], AFFINE_2MM, 8.0, extract_type)
    np.testing.assert_array_equal(m, before)
    assert regions.shape == (*m.shape, 2)
    assert regions.dtype == np.float32
    assert index == [0, 0]
    # regions in C order of x: the blob at x = 7 first; values are the map's, not binarised
    assert regions[7, 10, 10, 0] == m[7, 10, 10] and regions[22, 10, 10, 1] == m[22, 10, 10]
    np.testing.assert_array_equal(regions.sum(axis=3), m)
    assert len(np.unique(regions[..., 0])) > 10


def test_small_blob_is_dropped():
    m = two_blob_map((30, 34, 20))
    cube = box(m.shape, (13, 28, 9), (16, 31, 12))  # 27 voxels, > 10 voxels from the bumps
    m[cube] = 0.9
    volume = voxel_volume(AFFINE_2MM)
    for extract_type in ("connected_components", "local_regions"):
        regions, index = connected_regions(m, AFFINE_2MM, 30 * volume, extract_type)
        assert index == [0, 0]
        assert not regions[cube].any()
        regions, index = connected_regions(m, AFFINE_2MM, 20 * volume, extract_type)
        assert index == [0, 0, 0]
        assert np.all(regions[..., 1][cube] == np.float32(0.9))


def test_blob_at_exactly_the_minimum_size_is_dropped_one_voxel_more_is_kept():
    shape = (24, 12, 12)
    m = np.zeros(shape, dtype=np.float32)
    m[1:4, 1:4, 1:4] = 1.0  # 27 voxels
    m[16:19, 7:10, 7:10] = 2.0
    m[19, 8, 8] = 2.0  # 28 voxels, more than 10 voxels away: each cube has its own peak
    # 1 mm voxels: det(affine) is exactly 1, so min_vox is exactly 27 (with 2 mm voxels
    # np.linalg.det gives 7.999999999999998 and the boundary moves by a hair, as in the reference)
    assert voxel_volume(np.eye(4)) == 1.0
    for extract_type in ("connected_components", "local_regions"):
        regions, index = connected_regions(m, np.eye(4), 27, extract_type, smoothing_fwhm=1.0)
        assert index == [0]
        assert np.count_nonzero(regions) == 28 and regions.max() == 2.0
        _, index = connected_regions(m, np.eye(4), 26, extract_type, smoothing_fwhm=1.0)
        assert index == [0, 0]
    # at 4 mm the reference's 1350 mm^3 means > 21.09 voxels: 22 kept, 21 dropped
    m = np.zeros(shape, dtype=np.float32)
    m[1, 1, 0:11] = m[1, 2, 0:10] = 1.0  # 21 voxels
    m[6, 6, 0:11] = m[6, 7, 0:11] = 1.0  # 22 voxels
    regions, index = connected_regions(m, AFFINE_4MM, 1350, "connected_components")
    assert index == [0] and np.count_nonzero(regions) == 22


def test_random_walker_splits_two_peaks_of_one_blob():
    m = plateaus()
    assert ndimage.label(m != 0)[1] == 1  # one blob
    regions, index = connected_regions(m, AFFINE_2MM, 8.0, "local_regions")
    assert index == [0, 0]
    first, second = regions[..., 0] != 0, regions[..., 1] != 0
    assert not (first & second).any()
    np.testing.assert_array_equal(first | second, m != 0)
    assert first[m == 1.0].all() and second[m == 0.8].all()
    np.testing.assert_array_equal(regions[..., 0] + regions[..., 1], m)
    # connected components keeps the blob whole
    _, index = connected_regions(m, AFFINE_2MM, 8.0, "connected_components")
    assert index == [0]


def test_negative_values_are_kept_inside_regions():
    m = two_blob_map()
    m[16:] = 0  # one blob, one seed: the whole blob is its region
    tail = box(m.shape, (11, 9, 9), (14, 12, 12))  # a negative tail attached to the ball
    m[tail] = -0.3
    for extract_type in ("connected_components", "local_regions"):
        regions, index = connected_regions(m, AFFINE_2MM, 8.0, extract_type)
        assert index == [0]
        np.testing.assert_array_equal(regions[..., 0], m)
    # a purely negative blob is a region for connected components, not for local regions
    m = -two_blob_map()
    regions, index = connected_regions(m, AFFINE_2MM, 8.0, "connected_components")
    assert index == [0, 0] and regions.max() == 0 and regions.min() < -0.9
    with pytest.warns(UserWarning, match="No supra threshold regions was found"):
        assert connected_regions(m, AFFINE_2MM, 8.0, "local_regions") == (None, None)


def test_region_order_follows_maps_then_first_seed_voxel():
    shape = (24, 20, 20)
    m = np.zeros(shape)
    # blob A starts at x = 2 but peaks at x = 11; blob B starts at x = 6, peaks at x = 7
    a = box(shape, (2, 1, 1), (13, 5, 5))
    m[a] = bump(shape, (11, 3, 3), 4.0)[a] + 0.1
    b = ball(shape, (7, 15, 15), 2)
    m[b] = 0.5 * bump(shape, (7, 15, 15), 2.0)[b] + 0.1
    maps = np.stack([m, np.zeros(shape), m[::-1]], axis=-1).astype(np.float32)
    regions, index = connected_regions(maps, AFFINE_2MM, 8.0, "local_regions")
    assert index == [0, 0, 2, 2]
    # local regions: by seed position (B's peak first); connected components: by blob start
    assert regions[7, 15, 15, 0] != 0 and regions[11, 3, 3, 1] != 0
    regions, index = connected_regions(maps, AFFINE_2MM, 8.0, "connected_components")
    assert index == [0, 0, 2, 2]
    assert regions[11, 3, 3, 0] != 0 and regions[7, 15, 15, 1] != 0
    # in the flipped map the order of the peaks along x flips too
    assert regions[23 - 11, 3, 3, 2] != 0 and regions[23 - 7, 15, 15, 3] != 0


def slab_maps(shape=(12, 13, 14), n_maps=3, seed=42, negative=False):
    """Like the reference's test maps: interior voxels (C order) cut into contiguous runs."""
    rng = np.random.default_rng(seed)
    interior = np.zeros(shape, dtype=bool)
    interior[1:-1, 1:-1, 1:-1] = True
    flat = np.flatnonzero(interior)
    cuts = np.sort(rng.choice(np.arange(1, flat.size), n_maps - 1, replace=False))
    maps = np.zeros((*shape, n_maps), dtype=np.float32)
    for k, run in enumerate(np.split(flat, cuts)):
        sign = -1.0 if negative and rng.random() < 0.5 else 1.0
        maps[..., k].reshape(-1)[run] = sign
    return maps, interior


@pytest.mark.parametrize("extract_type", ["connected_components", "local_regions"])
def test_slab_maps_give_at_least_one_region_each(extract_type):
    maps, _ = slab_maps()
    regions, index = connected_regions(maps, np.eye(4), 10, extract_type, smoothing_fwhm=2.0)
    assert sorted(set(index)) == [0, 1, 2]
    np.testing.assert_array_equal(np.unique(regions), [0.0, 1.0])  # boxcar values kept


def test_mask_zeroes_everything_outside_it():
    m = two_blob_map()
    mask = np.zeros(m.shape, dtype=bool)
    mask[:15] = True
    for extract_type in ("connected_components", "local_regions"):
        regions, index = connected_regions(m, AFFINE_2MM, 8.0, extract_type, mask=mask)
        assert index == [0]
        assert not regions[~mask].any()
        full, _ = connected_regions(m, AFFINE_2MM, 8.0, extract_type)
        assert full[~mask].any()
    with pytest.raises(ValueError, match="resample it first"):
        connected_regions(m, AFFINE_2MM, 8.0, mask=mask[:-1])


def test_non_finite_values_count_as_background():
    maps = two_blob_map()[..., None].repeat(2, axis=3)
    maps[:, :, 0, 0] = np.nan  # a NaN slab, away from the blobs
    maps[0, 0, 1, 1] = np.inf
    thresholded = threshold_maps(maps, 0.5, "ratio_n_voxels")
    assert np.isfinite(thresholded).all()
    for extract_type in ("connected_components", "local_regions"):
        regions, index = connected_regions(maps, AFFINE_2MM, 8.0, extract_type)
        assert index == [0, 0, 1, 1]
        assert np.isfinite(regions).all()
        np.testing.assert_array_equal(regions[..., 0] + regions[..., 1], two_blob_map())


def test_connected_regions_rejects_unknown_extract_type():
    for bad in ("spam", 1):
        with pytest.raises(ValueError, match="'extract_type' must be one of"):
            connected_regions(two_blob_map(), AFFINE_2MM, 8.0, bad)


def test_no_region_warns_and_returns_none(rng):
    noise = rng.standard_normal((10, 11, 12)).astype(np.float32)
    thresholded = threshold_maps(noise, 99.9, "percentile")
    for extract_type in ("connected_components", "local_regions"):
        with pytest.warns(UserWarning, match="No supra threshold regions was found"):
            assert connected_regions(thresholded, np.eye(4), 1000, extract_type) == (None, None)


def test_all_zero_map_gives_no_region_without_other_warnings():
    maps = np.zeros((8, 8, 8, 2), dtype=np.float32)
    maps[1:5, 1:5, 1:5, 1] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, index = connected_regions(maps, np.eye(4), 10, "local_regions", smoothing_fwhm=2.0)
    assert index == [1]


def test_two_sided_and_one_sided_img_value_give_different_regions():
    maps, _ = slab_maps(negative=True, seed=3)
    assert (maps < 0).any()
    found = {}
    for two_sided in (False, True):
        thresholded = threshold_maps(maps, 0.4, "img_value", two_sided=two_sided)
        regions, _ = connected_regions(thresholded, np.eye(4), 5, "connected_components")
        found[two_sided] = set(np.unique(regions).tolist())
    assert found[False] == {0.0, 1.0}
    assert found[True] == {-1.0, 0.0, 1.0}


def test_tiny_voxels_work():
    affine = np.diag([0.2, 0.2, 0.2, 1.0])
    m = two_blob_map()
    regions, index = connected_regions(m, affine, 0.4, "local_regions", smoothing_fwhm=0.6)
    assert index == [0, 0]  # 0.4 mm^3 = 50 voxels of 0.008 mm^3; both bumps are larger


def test_swapped_and_anisotropic_affines_work():
    m = two_blob_map()
    swapped = np.array([[0, 3.0, 0, 10], [2.0, 0, 0, -5], [0, 0, 4.0, 2], [0, 0, 0, 1]])
    assert voxel_volume(swapped) == pytest.approx(24.0)
    for extract_type in ("connected_components", "local_regions"):
        regions, index = connected_regions(m, swapped, 24.0 * 10, extract_type)
        assert index == [0, 0]
        np.testing.assert_array_equal(regions.sum(axis=3), m)
    table = region_table(regions, swapped, index)
    centre = np.array([7.0, 10.0, 10.0])  # symmetric bump: centre of mass at its peak
    world = swapped[:3, :3] @ centre + swapped[:3, 3]
    np.testing.assert_allclose([table["x"][0], table["y"][0], table["z"][0]], world, atol=1e-6)


# --------------------------------------------------------------------------- table and step


def test_region_table_columns_volumes_and_world_centres():
    affine = np.array([[-2.0, 0, 0, 90], [0, 3.0, 0, -120], [0, 0, 2.5, -70], [0, 0, 0, 1]])
    regions = np.zeros((10, 10, 10, 2), dtype=np.float32)
    regions[2:5, 3:6, 4:7, 0] = 1.0  # uniform cube centred on voxel (3, 4, 5)
    regions[8, 8, 8, 1], regions[8, 8, 9, 1] = -1.0, 3.0  # weights |values|: 1 and 3
    table = region_table(regions, affine, [3, 5])
    assert table.dtype.names == REGION_COLUMNS
    np.testing.assert_array_equal(table["region"], [1, 2])
    np.testing.assert_array_equal(table["component"], [3, 5])
    np.testing.assert_array_equal(table["n_voxels"], [27, 2])
    np.testing.assert_allclose(table["volume_mm3"], np.array([27, 2]) * 15.0)
    xyz = np.column_stack([table[c] for c in "xyz"])
    np.testing.assert_allclose(xyz[0], [90 - 6.0, -120 + 12.0, -70 + 12.5])
    np.testing.assert_allclose(xyz[1], [90 - 16.0, -120 + 24.0, -70 + 2.5 * 8.75])


def component_maps():
    """Two maps: the two-bump map and a shifted single bump, 2 mm voxels."""
    m = two_blob_map()
    other = np.roll(m, 5, axis=1)
    other[18:] = 0
    return np.stack([m, other], axis=-1)


@pytest.mark.parametrize("extractor", ["local_regions", "connected_components"])
def test_extract_regions_thresholds_then_splits(extractor):
    maps = component_maps()
    regions, index = extract_regions(
        maps, AFFINE_2MM, threshold=0.5, extractor=extractor, min_region_size=80
    )
    assert regions.dtype == np.float32 and regions.shape == (*maps.shape[:3], 3)
    assert index == [0, 0, 1]
    # ratio 0.5 of 2 maps keeps ~25 % of the entries: more than the bumps, so a no-op
    np.testing.assert_array_equal(regions[..., 0] + regions[..., 1], maps[..., 0])


def test_extract_regions_raises_when_nothing_survives():
    with pytest.raises(NoRegionError, match=r"no region survived: .*min_region_size=1000000.0 mm"):
        extract_regions(component_maps(), AFFINE_2MM, min_region_size=1e6)


def test_extractor_registry():
    assert set(EXTRACTORS) == {"local_regions", "connected_components"}


def test_atlas_labels_take_the_strongest_region():
    regions = np.zeros((4, 3, 2, 3), dtype=np.float32)
    regions[0, 0, 0] = [0.5, -0.9, 0.0]  # overlap: |-0.9| wins -> region 2
    regions[1, 0, 0] = [0.4, 0.4, 0.0]  # tie: the first one
    regions[2, 1, 1, 2] = 0.1
    labels = atlas_labels(regions)
    assert labels.dtype == np.int32
    expected = np.zeros((4, 3, 2), dtype=np.int32)
    expected[0, 0, 0], expected[1, 0, 0], expected[2, 1, 1] = 2, 1, 3
    np.testing.assert_array_equal(labels, expected)


# --------------------------------------------------------------------------- parity


def run_nilearn(tmp_path: Path, arrays: dict[str, np.ndarray], script: str) -> dict:
    """Save ``arrays`` as .npy in tmp_path, run ``script`` with nilearn's Python there and
    return every ``out_*.npy`` it wrote (keys without the prefix)."""
    for name, array in arrays.items():
        np.save(tmp_path / f"{name}.npy", array)
    code = "import warnings; warnings.simplefilter('ignore')\n" + textwrap.dedent(script)
    subprocess.run([str(NILEARN_PYTHON), "-c", code], cwd=tmp_path, check=True, capture_output=True)
    return {p.stem[4:]: np.load(p) for p in tmp_path.glob("out_*.npy")}


@pytest.mark.parity
@needs_nilearn
def test_random_walker_parity_with_nilearn(tmp_path):
    cases = walker_cases()
    cases["isolated"] = isolated_case()
    arrays = {
        f"{k}_{part}": a for k, (d, lab) in cases.items() for part, a in [("d", d), ("l", lab)]
    }
    script = f"""
        import numpy as np
        from nilearn._utils.segmentation import random_walker
        for name in {list(cases)!r}:
            d, lab = np.load(name + "_d.npy"), np.load(name + "_l.npy")
            np.save("out_" + name + ".npy", random_walker(d, lab, beta=130, tol=1e-3))
    """
    theirs = run_nilearn(tmp_path, arrays, script)
    for name, (data, labels) in cases.items():
        np.testing.assert_array_equal(random_walker(data, labels), theirs[name], err_msg=name)


PARITY_STRATEGIES = [
    ("ratio_n_voxels", 0.5, False),
    ("percentile", 90, True),
    ("img_value", 0.3, False),
]


def parity_maps():
    """Three maps, 4 mm voxels, for the comparisons with nilearn.

    Two look like DictLearning maps: sparse blobs whose values jump from 0 to about 0.3 and
    peak at 1-2.5, so the map's std is small, the walk's weights tiny and the loose CG
    solve's labels sensitive to rounding. The third is smoothed noise with both signs.
    """
    rng = np.random.default_rng(4)
    shape = (30, 34, 30)
    grid = np.indices(shape).astype(np.float64)
    maps = np.zeros((*shape, 3))
    for k in range(2):
        for _ in range(10):
            centre = rng.uniform(3, np.array(shape) - 3)
            width, height = rng.uniform(1.5, 3.0), rng.uniform(1.0, 2.5)
            distance2 = sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True))
            maps[..., k] += height * np.exp(-distance2 / (2 * width**2))
        maps[..., k] = np.where(maps[..., k] > 0.8, maps[..., k] - 0.5, 0)
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), 1.5)
    maps[..., 2] = np.where(np.abs(noise) > 1.2 * noise.std(), noise / noise.std(), 0)
    return maps.astype(np.float32)


@pytest.fixture(scope="module")
def nilearn_regions(tmp_path_factory):
    """nilearn's connected_regions (both extractors) and RegionExtractor (three strategies)
    on :func:`parity_maps`, in one subprocess."""
    script = f"""
        import nibabel as nib, numpy as np
        from nilearn.regions import RegionExtractor, connected_regions
        img = nib.Nifti1Image(np.load("maps.npy"), np.load("affine.npy"))
        def save(name, regions, index):
            np.save(f"out_{{name}}_regions.npy", regions.get_fdata(dtype=np.float32))
            np.save(f"out_{{name}}_index.npy", np.array(index))
        for kind in ("local_regions", "connected_components"):
            save(kind, *connected_regions(img, min_region_size=300, extract_type=kind))
        for strategy, threshold, two_sided in {PARITY_STRATEGIES!r}:
            ex = RegionExtractor(img, threshold=threshold, thresholding_strategy=strategy,
                                 two_sided=two_sided, min_region_size=300).fit()
            save(strategy, ex.regions_img_, ex.index_)
    """
    arrays = {"maps": parity_maps(), "affine": AFFINE_4MM}
    return run_nilearn(tmp_path_factory.mktemp("nilearn"), arrays, script)


@pytest.mark.parity
@needs_nilearn
@pytest.mark.parametrize("extract_type", ["local_regions", "connected_components"])
def test_connected_regions_parity_with_nilearn(nilearn_regions, extract_type):
    regions, index = connected_regions(parity_maps(), AFFINE_4MM, 300, extract_type, 6.0)
    assert len(index) > 3
    np.testing.assert_array_equal(index, nilearn_regions[f"{extract_type}_index"])
    np.testing.assert_array_equal(regions, nilearn_regions[f"{extract_type}_regions"])


@pytest.mark.parity
@needs_nilearn
@pytest.mark.parametrize(("strategy", "threshold", "two_sided"), PARITY_STRATEGIES)
def test_region_extractor_parity_with_nilearn(nilearn_regions, strategy, threshold, two_sided):
    thresholded = threshold_maps(parity_maps(), threshold, strategy, two_sided=two_sided)
    regions, index = connected_regions(thresholded, AFFINE_4MM, 300, "local_regions", 6.0)
    assert len(index) > 3
    np.testing.assert_array_equal(index, nilearn_regions[f"{strategy}_index"])
    np.testing.assert_array_equal(regions, nilearn_regions[f"{strategy}_regions"])


@pytest.mark.parametrize("shape", [(7,), (9, 8), (6, 7, 5), (1, 1, 1), (4, 1, 6)])
@pytest.mark.parametrize("density", [0.0, 0.3, 0.6, 1.0])
def test_reached_from_equals_binary_propagation(rng, shape, density):
    """The random walker's reachability is scipy's binary propagation (6-neighbour cross)."""
    from netregions.regions import _components, _reached_from

    for _ in range(5):
        allowed = rng.random(shape) < density
        start = allowed & (rng.random(shape) < 0.1)
        expected = ndimage.binary_propagation(start, mask=allowed)
        np.testing.assert_array_equal(_reached_from(start, _components(allowed)), expected)


# --------------------------------------------------------------------------- region signals
# (moved from the former tests/test_subject.py)
