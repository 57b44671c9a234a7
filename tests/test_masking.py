import warnings

import numpy as np
import pytest
from scipy import ndimage

from netregions.masking import (
    MaskWarning,
    apply_mask,
    binary_dilation,
    binary_erosion,
    compute_epi_mask,
    epi_threshold,
    intersect_masks,
    unmask,
)


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 5, 4), (7, 8, 9), (20, 3, 11)])
@pytest.mark.parametrize("iterations", [1, 2, 4])
def test_morphology_matches_scipy(rng, shape, iterations):
    mask = rng.random(shape) > 0.3
    np.testing.assert_array_equal(
        binary_erosion(mask, iterations), ndimage.binary_erosion(mask, iterations=iterations)
    )
    np.testing.assert_array_equal(
        binary_dilation(mask, iterations), ndimage.binary_dilation(mask, iterations=iterations)
    )


def test_morphology_all_true_erodes_from_border_and_keeps_input():
    mask = np.ones((6, 6, 6), bool)
    eroded = binary_erosion(mask)
    assert eroded.sum() == 4**3 and mask.all()


def _reference_epi_mask(mean, lower=0.2, upper=0.85, opening=2):
    """The reference's epi strategy written with scipy, from docs/algorithms.md."""
    sigma = 1 / np.sqrt(8 * np.log(2))
    sm = np.where(np.isfinite(mean), mean, 0).astype(mean.dtype)
    for axis in range(3):
        sm = ndimage.gaussian_filter1d(sm, sigma, axis=axis)
    sm[np.isnan(mean)] = 0
    s = np.sort(sm.ravel())
    n = s.size
    lo, hi = int(np.floor(lower * n)), min(int(np.floor(upper * n)), n - 1)
    i = int(np.argmax(s[lo + 1 : hi + 1] - s[lo:hi]))
    mask = sm >= (s[lo + i] + s[lo + i + 1]) / s.dtype.type(2)
    mask = ndimage.binary_erosion(mask, iterations=opening)
    labels, n_labels = ndimage.label(mask)
    if n_labels:
        mask = labels == (np.argmax(np.bincount(labels.ravel())[1:]) + 1)
    mask = ndimage.binary_dilation(mask, iterations=2 * opening)
    return ndimage.binary_erosion(mask, iterations=opening)


def _head(rng, shape=(30, 34, 28)):
    grid = np.indices(shape).astype(float)
    centre = (np.array(shape) - 1) / 2
    r = np.sqrt((((grid.T - centre) / (np.array(shape) * 0.38)) ** 2).sum(-1)).T
    mean = np.where(r < 1, 800 + 200 * (r < 0.6), 5.0) + rng.normal(0, 20, shape)
    mean[2:5, 2:5, 2:5] = 900  # a bright speck outside the head, removed by the clean-up
    return mean.astype(np.float32)


def test_epi_mask_matches_scipy_reference(rng):
    mean = _head(rng)
    mask = compute_epi_mask(mean)
    np.testing.assert_array_equal(mask, _reference_epi_mask(mean))
    assert 0.2 < mask.mean() < 0.6 and not mask[3, 3, 3]


def test_epi_mask_with_nan(rng):
    mean = _head(rng)
    mean[15, 17, 14] = np.nan
    np.testing.assert_array_equal(compute_epi_mask(mean), _reference_epi_mask(mean))


def test_epi_threshold_is_middle_of_largest_gap():
    values = np.array([0, 0, 1, 1, 2, 10, 11, 12, 12, 13], dtype=np.float32)
    assert epi_threshold(values, 0.0, 1.0) == 6.0


def test_epi_mask_degenerate_image_warns(rng):
    # a single slice: the 2-iteration erosion (zero border) removes everything
    with pytest.warns(MaskWarning, match="empty mask"):
        mask = compute_epi_mask(_head(rng)[:, :, 14:15])
    assert not mask.any()


def test_intersect_masks_strict_majority_and_largest_component():
    a = np.zeros((5, 5, 5), bool)
    a[1:3, 1:3, 1:3] = True
    b = a.copy()
    c = np.zeros_like(a)
    c[4, 4, 4] = True
    a[4, 4, 4] = True
    group = intersect_masks([a, b, c], threshold=0.5)
    # (4,4,4) is in 2/3 masks but a separate component; the 2x2x2 cube is kept
    np.testing.assert_array_equal(group, b)
    assert not intersect_masks([a, c], threshold=0.5)[1:3, 1:3, 1:3].any()


def test_intersect_masks_errors():
    with pytest.raises(ValueError, match="No mask"):
        intersect_masks([])
    with pytest.raises(ValueError, match="threshold"):
        intersect_masks([np.ones((2, 2, 2), bool)], threshold=1.0)


@pytest.mark.parametrize("order", ["C", "F"])
def test_apply_mask_voxel_order_and_unmask_round_trip(rng, order):
    data = np.asarray(rng.standard_normal((5, 6, 7, 4)).astype(np.float32), order=order)
    mask = rng.random((5, 6, 7)) > 0.5
    series = apply_mask(data, mask)
    np.testing.assert_array_equal(series, data[mask].T)
    assert series.flags.c_contiguous
    back = unmask(series, mask)
    np.testing.assert_array_equal(back[mask], data[mask])
    assert np.all(back[~mask] == 0)


def test_apply_mask_shape_mismatch(rng):
    with pytest.raises(ValueError, match="grid"):
        apply_mask(np.zeros((4, 4, 4, 2)), np.ones((4, 4, 5), bool))


def test_no_warning_for_normal_mask(rng):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compute_epi_mask(_head(rng))


def _write_means(tmp_path, rng, n=3, shape=(30, 34, 28)):
    from netregions.io import save_nifti

    paths = []
    for i in range(n):
        paths.append(
            save_nifti(_head(rng, shape), np.diag([4.0, 4, 4, 1]), tmp_path / f"{i}.nii.gz")
        )
    return paths
