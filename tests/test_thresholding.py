"""Thresholding strategies (netregions.regions) vs scipy.stats.scoreatpercentile references."""

import re

import numpy as np
import pytest
from scipy.stats import scoreatpercentile

from netregions import regions as th
from netregions.regions import (
    THRESHOLDING_STRATEGIES,
    threshold_percentile,
    threshold_ratio_n_voxels,
    threshold_value,
)
from tests.kernels.reference import (
    RATIO_ERROR,
    threshold_percentile_reference,
    threshold_ratio_n_voxels_reference,
    threshold_value_reference,
)


def _sparse_maps(rng, shape=(12, 13, 11, 4), density=0.2, order="C", dtype=np.float32):
    """Signed sparse maps with NaN/inf sprinkled in, like thresholded components."""
    values = rng.standard_normal(shape) * (rng.random(shape) < density)
    values.flat[rng.choice(values.size, 5, replace=False)] = [np.nan, np.inf, -np.inf, np.nan, 1e30]
    return np.array(values.astype(dtype), order=order)


def _tied_maps(rng, shape=(6, 7, 5, 4)):
    """Small integers as floats: every cut lands on a value shared by many entries."""
    return rng.integers(-3, 4, size=shape).astype(np.float32)


def _mask(rng, shape):
    return rng.random(shape) < 0.6


@pytest.mark.parametrize("ratio", [0.01, 0.5, 1.0, 2, 3.99, 4.0])
@pytest.mark.parametrize("maker", [_sparse_maps, _tied_maps])
def test_ratio_matches_reference(rng, ratio, maker):
    maps = maker(rng)  # 4 maps: ratio 4.0 is the upper bound (percentile 0)
    result = threshold_ratio_n_voxels(maps, ratio)
    np.testing.assert_array_equal(result, threshold_ratio_n_voxels_reference(maps, ratio))
    assert result.dtype == maps.dtype and np.all(np.isfinite(result))


def test_ratio_dense_maps_keep_about_ratio_voxels(rng):
    maps = rng.standard_normal((10, 10, 10, 8)).astype(np.float32)
    result = threshold_ratio_n_voxels(maps, 0.5)
    assert abs(np.count_nonzero(result) - 500) <= 1
    np.testing.assert_array_equal(result, threshold_ratio_n_voxels_reference(maps, 0.5))


def test_ratio_keeps_both_signs(rng):
    maps = _sparse_maps(rng, density=1.0)
    result = threshold_ratio_n_voxels(maps, 1.0)
    assert (result > 0).any() and (result < 0).any()


def test_ratio_ties_are_kept(rng):
    # All |values| equal: the cut equals them and "|x| < cut" keeps every entry.
    maps = np.where(rng.random((5, 6, 7, 2)) < 0.5, 2.0, -2.0).astype(np.float32)
    np.testing.assert_array_equal(threshold_ratio_n_voxels(maps, 0.1), maps)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ratio_layout_dtype_and_3d(rng, order, dtype):
    maps = _sparse_maps(rng, order=order, dtype=dtype)
    result = threshold_ratio_n_voxels(maps, 1.5)
    assert result.dtype == dtype
    np.testing.assert_array_equal(result, threshold_ratio_n_voxels_reference(maps, 1.5))
    volume = np.ascontiguousarray(maps[..., 0]) if order == "C" else maps[..., 0]
    result_3d = threshold_ratio_n_voxels(volume, 0.3)
    assert result_3d.shape == volume.shape
    np.testing.assert_array_equal(result_3d, threshold_ratio_n_voxels_reference(volume, 0.3))


@pytest.mark.parametrize(("dtype", "expected"), [(">f4", np.float32), (">f8", np.float64)])
def test_big_endian_maps(rng, dtype, expected):
    maps = _sparse_maps(rng).astype(dtype)
    result = threshold_percentile(maps, 80, two_sided=True)
    assert result.dtype == expected
    np.testing.assert_array_equal(result, threshold_percentile_reference(maps, 80, True))


def test_integer_maps_become_float32(rng):
    maps = rng.integers(-5, 6, size=(4, 5, 6, 2)).astype(np.int16)
    result = threshold_ratio_n_voxels(maps, 0.7)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, threshold_ratio_n_voxels_reference(maps, 0.7))


@pytest.mark.parametrize("ratio", ["80%", "auto", -1.0, 0, 0.0, 4.0001, 5, None, np.nan, True])
def test_ratio_error_message(rng, ratio):
    maps = _sparse_maps(rng)
    expected = f"{RATIO_ERROR}4. You provided {ratio}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        threshold_ratio_n_voxels(maps, ratio)


@pytest.mark.parametrize("percentile", [0, 12.5, 30, 50, 93.75, 99.9, 100])
@pytest.mark.parametrize("two_sided", [False, True])
@pytest.mark.parametrize("use_mask", [False, True])
@pytest.mark.parametrize("maker", [_sparse_maps, _tied_maps])
def test_percentile_matches_reference(rng, percentile, two_sided, use_mask, maker):
    maps = maker(rng)
    mask = _mask(rng, maps.shape[:3]) if use_mask else None
    result = threshold_percentile(maps, percentile, two_sided=two_sided, mask=mask)
    expected = threshold_percentile_reference(maps, percentile, two_sided, mask)
    np.testing.assert_array_equal(result, expected)
    if use_mask:
        assert not result[~mask].any()


@pytest.mark.parametrize("two_sided", [False, True])
def test_fortran_maps_with_mask(rng, two_sided):
    maps = _sparse_maps(rng, order="F", density=0.5)
    mask = _mask(rng, maps.shape[:3])
    result = threshold_percentile(maps, 60, two_sided, mask)
    assert result.flags.f_contiguous
    np.testing.assert_array_equal(result, threshold_percentile_reference(maps, 60, two_sided, mask))
    result = threshold_value(maps, 0.4, two_sided, mask)
    np.testing.assert_array_equal(result, threshold_value_reference(maps, 0.4, two_sided, mask))


def test_percentile_one_sided_removes_negative_values(rng):
    maps = _sparse_maps(rng, density=0.8)
    assert (threshold_percentile(maps, 10) >= 0).all()
    assert (threshold_percentile(maps, 10, two_sided=True) < 0).any()


def test_percentile_empty_sample_zeroes_nothing():
    # One-sided with only negative values and no zeros: no sample, a NaN cut, nothing removed.
    maps = -np.arange(1, 25, dtype=np.float32).reshape(2, 3, 4, 1)
    np.testing.assert_array_equal(threshold_percentile(maps, 50), maps)
    np.testing.assert_array_equal(
        threshold_percentile(maps, 50), threshold_percentile_reference(maps, 50)
    )


@pytest.mark.parametrize("percentile", [-1, 100.5, "50%", None, np.nan])
def test_percentile_out_of_range(percentile):
    with pytest.raises(ValueError, match=r"percentile must be a number in \[0, 100\]"):
        threshold_percentile(np.ones((2, 2, 2, 1)), percentile)


VALUE_CASES = [(v, False) for v in (0.0, 0.5, 1, 2.0, -0.5, -3)] + [
    (v, True)
    for v in (0.0, 0.5, 1, 2.0)  # negative two-sided values are an error
]


@pytest.mark.parametrize(("value", "two_sided"), VALUE_CASES)
@pytest.mark.parametrize("use_mask", [False, True])
@pytest.mark.parametrize("maker", [_sparse_maps, _tied_maps])
def test_value_matches_reference(rng, value, two_sided, use_mask, maker):
    maps = maker(rng)
    mask = _mask(rng, maps.shape[:3]) if use_mask else None
    result = threshold_value(maps, value, two_sided=two_sided, mask=mask)
    np.testing.assert_array_equal(result, threshold_value_reference(maps, value, two_sided, mask))


def test_value_negative_one_sided_keeps_values_below(rng):
    maps = _tied_maps(rng)
    result = threshold_value(maps, -1.0)
    assert set(np.unique(result)) == {-3.0, -2.0, -1.0, 0.0}  # x > cut zeroed, x == cut kept


def test_value_negative_two_sided():
    with pytest.raises(ValueError, match="non-negative when two_sided=True"):
        threshold_value(np.ones((2, 2, 2, 1)), -0.1, two_sided=True)


@pytest.mark.parametrize("value", [np.nan, np.inf, "1", None])
def test_value_invalid(value):
    with pytest.raises(ValueError, match="finite real number"):
        threshold_value(np.ones((2, 2, 2, 1)), value)


def test_inputs_unchanged(rng):
    maps = _sparse_maps(rng, order="F")
    mask = _mask(rng, maps.shape[:3])
    before, mask_before = maps.copy(), mask.copy()
    threshold_ratio_n_voxels(maps, 1.0)
    threshold_percentile(maps, 50, two_sided=True, mask=mask)
    threshold_value(maps, 0.3, mask=mask)
    np.testing.assert_array_equal(maps, before)
    np.testing.assert_array_equal(mask, mask_before)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: threshold_value(np.ones((2, 2)), 1.0), "maps must be 3D or 4D"),
        (lambda: threshold_value(np.ones((2, 2, 2, 1)), 1.0, mask=np.ones((2, 2))), "mask shape"),
        (lambda: threshold_percentile(np.ones((2, 2, 2, 2, 1)), 5), "maps must be 3D or 4D"),
    ],
)
def test_invalid_shapes(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("n", [1, 2, 3, 10, 1001])
def test_score_at_percentile_matches_scipy(rng, n):
    values = rng.standard_normal(n).astype(np.float32)
    for percentile in [0, 0.1, 12.5, 33.3, 50, 93.75, 99.99, 100]:
        expected = scoreatpercentile(values, percentile)
        assert th._score_at_percentile(values, percentile) == expected


def test_score_at_percentile_empty_is_nan():
    assert np.isnan(th._score_at_percentile(np.array([], dtype=np.float32), 50))


@pytest.mark.parametrize(
    ("two_sided", "cut", "expected"),
    [
        (True, 2.0, [-3, -2, 0, 0, 0, 2, 3]),
        (True, 0.0, [-3, -2, -1, 0, 1, 2, 3]),
        (False, 1.0, [0, 0, 0, 0, 1, 2, 3]),
        (False, -2.0, [-3, -2, 0, 0, 0, 0, 0]),
        (False, np.nan, [-3, -2, -1, 0, 1, 2, 3]),
    ],
)
def test_private_apply_cut(two_sided, cut, expected):
    values = np.arange(-3, 4, dtype=np.float32)
    th._apply_cut(values, np.float64(cut), two_sided)
    np.testing.assert_array_equal(values, expected)


@pytest.mark.parametrize("order", ["C", "F"])
def test_private_finite_copy(order):
    # 3 voxels x 2 maps; voxel 2 is outside the mask.
    maps = np.array([[1.0, np.nan], [np.inf, 2.0], [3.0, 4.0]], dtype=np.float32, order=order)
    maps = maps.reshape(3, 1, 1, 2, order=order)
    inside = np.array([True, True, False]).reshape(3, 1, 1)
    out = th._finite_copy(maps, inside)
    np.testing.assert_array_equal(out[:, 0, 0], [[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])


def test_registry_holds_the_three_strategies():
    assert {
        "ratio_n_voxels": threshold_ratio_n_voxels,
        "percentile": threshold_percentile,
        "img_value": threshold_value,
    } == THRESHOLDING_STRATEGIES
