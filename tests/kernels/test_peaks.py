"""Local maxima vs scipy.ndimage.maximum_filter reference (tests/kernels/reference.py)."""

import numpy as np
import pytest
import scipy.ndimage as ndi

from netregions.kernels import peak_local_max
from netregions.kernels import peaks as pk
from tests.kernels.reference import REFERENCES, peak_local_max_reference


def _smooth_field(rng, shape, dtype=np.float32, sigma=1.5):
    """Smooth random field: many local maxima of different heights, both signs."""
    return (ndi.gaussian_filter(rng.standard_normal(shape), sigma) * 100).astype(dtype)


def test_reference_registered():
    assert REFERENCES[peak_local_max] is peak_local_max_reference


@pytest.mark.parametrize("shape", [(1, 1, 2), (2, 3, 4), (30, 1, 25), (5, 40, 3), (50, 59, 50)])
@pytest.mark.parametrize("min_distance", [0, 1, 3, 10])
def test_matches_reference(rng, shape, min_distance):
    image = _smooth_field(rng, shape)
    result = peak_local_max(image, min_distance=min_distance)
    assert result.dtype == bool and result.shape == shape
    np.testing.assert_array_equal(result, peak_local_max_reference(image, min_distance))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
@pytest.mark.parametrize("order", ["C", "F"])
def test_dtypes_and_layouts(rng, dtype, order):
    image = np.array(_smooth_field(rng, (17, 14, 12), dtype), order=order)
    np.testing.assert_array_equal(peak_local_max(image, 3), peak_local_max_reference(image, 3))


@pytest.mark.parametrize(
    ("threshold_rel", "threshold_abs"), [(0.0, 0.0), (0.5, 0.0), (0.1, 40.0), (0.0, 0.1), (1.0, 0)]
)
def test_thresholds(rng, threshold_rel, threshold_abs):
    image = _smooth_field(rng, (20, 21, 19))
    result = peak_local_max(image, 2, threshold_rel, threshold_abs)
    expected = peak_local_max_reference(image, 2, threshold_rel, threshold_abs)
    np.testing.assert_array_equal(result, expected)


def test_plateau_gives_adjacent_peaks():
    image = np.zeros((9, 9, 9), dtype=np.float32)
    image[3:5, 4, 4:7] = 2.0  # a flat top of 6 voxels
    image[4, 5, 5] = 1.0
    result = peak_local_max(image, min_distance=2)
    assert result.sum() == 6 and result[3:5, 4, 4:7].all()
    np.testing.assert_array_equal(result, peak_local_max_reference(image, 2))


@pytest.mark.parametrize("value", [0.0, 1.0, -2.5])
def test_constant_image_has_no_peaks(value):
    image = np.full((6, 7, 8), value, dtype=np.float32)
    assert not peak_local_max(image).any()


def test_negative_image_border_uses_zero(rng):
    # Outside the image counts as 0: a negative image has no maximum near its borders.
    image = _smooth_field(rng, (15, 16, 14)) - 1000
    result = peak_local_max(image, min_distance=2, threshold_rel=0.0)
    np.testing.assert_array_equal(result, peak_local_max_reference(image, 2, 0.0))


def test_input_unchanged(rng):
    image = _smooth_field(rng, (10, 12, 9))
    before = image.copy()
    peak_local_max(image)
    np.testing.assert_array_equal(image, before)


@pytest.mark.parametrize("inner", [1, 4, 37])
@pytest.mark.parametrize("radius", [0, 2, 10])
def test_private_box_max_kernel(rng, inner, radius):
    block = rng.standard_normal((3, 23, inner))  # float64, the dtype the wrapper uses
    expected = ndi.maximum_filter1d(block, 2 * radius + 1, axis=1, mode="constant", cval=0)
    window = 2 * radius + 1
    length = -(-(23 + 2 * radius) // window) * window
    width = 5  # slabs of 5 lines, the last one partial when inner is not a multiple
    scratch = [np.empty(length * width) for _ in range(3)]
    pk._box_max(block.ravel(), 3, 23, inner, radius, width, *scratch)  # seen as (outer, n, inner)
    np.testing.assert_array_equal(block, expected)


@pytest.mark.parametrize("min_distance", [-1, 1.5, "3", True])
def test_invalid_min_distance(min_distance):
    with pytest.raises(ValueError, match="min_distance must be a non-negative integer"):
        peak_local_max(np.ones((3, 3, 3)), min_distance)


def test_invalid_dimensions():
    with pytest.raises(ValueError, match="image must be 3D"):
        peak_local_max(np.ones((3, 3)))
