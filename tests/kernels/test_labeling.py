"""Connected-component labelling vs scipy.ndimage.label (tests/kernels/reference.py)."""

import itertools

import numpy as np
import pytest

from netregions.kernels import label, label_with_sizes, largest_component
from netregions.kernels import labeling as lb
from tests.kernels.reference import (
    REFERENCES,
    label_reference,
    label_with_sizes_reference,
    largest_component_reference,
)

CONNECTIVITIES = [6, 18, 26]


def assert_same_labels(mask, connectivity):
    """Labels, count and sizes identical to scipy's (same numbering order)."""
    labels, n_labels, sizes = label_with_sizes(mask, connectivity)
    expected, n_expected, expected_sizes = label_with_sizes_reference(mask, connectivity)
    assert labels.dtype == np.int32
    assert labels.flags.c_contiguous
    assert n_labels == n_expected
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(sizes, expected_sizes)
    assert sizes.dtype == np.int64


def test_references_registered():
    assert REFERENCES[label] is label_reference
    assert REFERENCES[label_with_sizes] is label_with_sizes_reference
    assert REFERENCES[largest_component] is largest_component_reference


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 3, 4), (9, 1, 7), (1, 1, 12), (20, 21, 22)])
@pytest.mark.parametrize("density", [0.0, 0.3, 0.6, 1.0])
@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
def test_random_masks(rng, shape, density, connectivity):
    mask = rng.random(shape) < density
    assert_same_labels(mask, connectivity)


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
@pytest.mark.parametrize("density", [0.25, 0.7])
def test_full_size_volume(rng, connectivity, density):
    mask = rng.random((50, 59, 50)) < density
    assert_same_labels(mask, connectivity)


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
def test_fortran_ordered_and_float_masks(rng, connectivity):
    values = np.where(rng.random((11, 12, 13)) < 0.4, rng.standard_normal((11, 12, 13)), 0.0)
    assert_same_labels(np.asfortranarray(values), connectivity)
    assert_same_labels(values.astype(np.float32), connectivity)
    assert_same_labels((values * 10).astype(np.int16), connectivity)


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
def test_nan_is_foreground_and_negative_zero_background(connectivity):
    mask = np.zeros((3, 4, 5))
    mask[0, 0, 0] = np.nan
    mask[2, 3, 4] = -0.0
    mask[1, 2, 2] = -np.inf
    labels, n_labels = label(mask, connectivity)
    assert n_labels == 2
    assert labels[0, 0, 0] == 1 and labels[2, 3, 4] == 0 and labels[1, 2, 2] == 2
    assert_same_labels(mask, connectivity)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        ((1, 0, 0), {6: 1, 18: 1, 26: 1}),  # shares a face
        ((1, 1, 0), {6: 2, 18: 1, 26: 1}),  # shares an edge
        ((1, 1, 1), {6: 2, 18: 2, 26: 1}),  # shares a corner
        ((0, 1, 2), {6: 2, 18: 2, 26: 2}),  # not touching
    ],
)
@pytest.mark.parametrize("signs", list(itertools.product((1, -1), repeat=3)))
def test_neighbourhood_definitions(offset, expected, signs):
    # Every sign pattern: the second voxel lies before or after the first in raster order.
    mask = np.zeros((5, 5, 5), dtype=bool)
    mask[2, 2, 2] = True
    mask[tuple(2 + o * s for o, s in zip(offset, signs, strict=True))] = True
    for connectivity, n_expected in expected.items():
        assert label(mask, connectivity)[1] == n_expected
        assert_same_labels(mask, connectivity)


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
def test_single_voxel_components(connectivity):
    mask = np.zeros((7, 8, 9), dtype=bool)
    mask[::2, ::2, ::2] = True  # isolated for every connectivity
    labels, n_labels, sizes = label_with_sizes(mask, connectivity)
    assert n_labels == mask.sum()
    np.testing.assert_array_equal(sizes, 1)
    assert_same_labels(mask, connectivity)


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
def test_components_touching_borders(connectivity):
    mask = np.zeros((6, 7, 8), dtype=bool)
    mask[0] = True
    mask[-1, :, 3] = True
    mask[2:4, -1, :] = True
    mask[3, 2, -1] = True
    mask[:, 0, 0] = True
    assert_same_labels(mask, connectivity)


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
def test_late_merges_keep_raster_numbering(connectivity):
    # A U and a W: arms get separate provisional labels that merge only at the bottom;
    # an isolated voxel between them checks that numbering follows the first voxel.
    mask = np.zeros((9, 5, 12), dtype=bool)
    mask[0:8, 2, 0] = mask[0:8, 2, 4] = mask[7, 2, 0:5] = True  # U
    mask[0:5, 2, 6] = mask[2:5, 2, 8] = mask[0:5, 2, 10] = mask[4, 2, 6:11] = True  # W
    mask[1, 0, 2] = True
    labels, n_labels = label(mask, connectivity)
    assert n_labels == 3
    assert labels[0, 2, 0] == 1 and labels[0, 2, 6] == 2 and labels[1, 0, 2] == 3
    assert_same_labels(mask, connectivity)


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
def test_all_zero_and_all_one(connectivity):
    empty = np.zeros((4, 5, 6), dtype=bool)
    labels, n_labels, sizes = label_with_sizes(empty, connectivity)
    assert n_labels == 0 and sizes.size == 0 and not labels.any()
    labels, n_labels, sizes = label_with_sizes(~empty, connectivity)
    assert n_labels == 1 and sizes.tolist() == [120]
    np.testing.assert_array_equal(labels, 1)


def test_input_unchanged(rng):
    mask = rng.random((8, 9, 10)) < 0.5
    before = mask.copy()
    label(mask)
    largest_component(mask)
    np.testing.assert_array_equal(mask, before)


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
@pytest.mark.parametrize("density", [0.0, 0.2, 0.5, 0.9])
def test_largest_component_matches_reference(rng, connectivity, density):
    mask = rng.random((12, 11, 10)) < density
    result = largest_component(mask, connectivity)
    assert result.dtype == bool
    np.testing.assert_array_equal(result, largest_component_reference(mask, connectivity))


def test_largest_component_ties_go_to_lowest_label():
    mask = np.zeros((5, 5, 5), dtype=bool)
    mask[3, 3, 2:4] = True  # 2 voxels, label 3
    mask[0, 0, 0:2] = True  # 2 voxels, label 1 (first in raster order)
    mask[1, 3, 3] = True  # 1 voxel, label 2
    expected = np.zeros_like(mask)
    expected[0, 0, 0:2] = True
    np.testing.assert_array_equal(largest_component(mask), expected)


def test_largest_component_empty_and_full():
    assert not largest_component(np.zeros((3, 4, 5))).any()
    assert largest_component(np.ones((3, 4, 5))).all()


def test_private_kernel(rng):
    mask = rng.random((9, 8, 7)) < 0.45
    labels = np.empty(mask.shape, dtype=np.int32)
    parent = np.empty(mask.size + 1, dtype=np.int32)
    sizes = np.empty(mask.size + 1, dtype=np.int64)
    n_labels = lb._label(mask, lb._NEIGHBOUR_LINES[18], labels, parent, sizes)
    expected, n_expected, expected_sizes = label_with_sizes_reference(mask, 18)
    assert n_labels == n_expected
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(sizes[1 : n_labels + 1], expected_sizes)


@pytest.mark.parametrize("connectivity", [0, 4, 8, 27, "26", None])
def test_invalid_connectivity(connectivity):
    with pytest.raises(ValueError, match="connectivity must be 6, 18 or 26"):
        label(np.ones((2, 2, 2)), connectivity)


@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 3, 4, 5)])
def test_invalid_dimensions(shape):
    with pytest.raises(ValueError, match="mask must be 3D"):
        label(np.ones(shape))
