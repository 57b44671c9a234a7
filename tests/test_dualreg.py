"""Dual regression: exact mixtures, the des_norm algebra, a numpy reference, planted subjects."""

import numpy as np
import pytest

from netregions.dualreg import dual_regression, grand_mean_scale, stage1, stage2

# --------------------------------------------------------------------------- helpers


def _mixture(rng, n_volumes=40, n_components=4, n_voxels=200):
    """Y = A G exactly, with non-zero temporal and spatial means in A and G."""
    timecourses = rng.standard_normal((n_volumes, n_components)) + rng.uniform(-2, 2, n_components)
    maps = rng.standard_normal((n_components, n_voxels)) + rng.uniform(-1, 1, (n_components, 1))
    return timecourses, maps, timecourses @ maps


def _reference_stage1(data, maps):
    """Plain pseudo-inverse regression of each demeaned volume on the demeaned maps."""
    g = maps - maps.mean(axis=1, keepdims=True)
    y = data - data.mean(axis=1, keepdims=True)
    return (np.linalg.pinv(g.T) @ y.T).T


def _reference_stage2(data, timecourses, des_norm):
    t = timecourses - timecourses.mean(axis=0)
    if des_norm:
        t = t / t.std(axis=0, ddof=1)
    y = data - data.mean(axis=0)
    return np.linalg.pinv(t) @ y


def _corr(a, b):
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


# --------------------------------------------------------------------------- facts 7.6


def test_exact_mixture_stage1_returns_the_timecourses(rng):
    a, g, y = _mixture(rng)
    np.testing.assert_allclose(stage1(y, g), a, rtol=1e-9, atol=1e-9)


def test_exact_mixture_stage2_without_des_norm_returns_the_maps(rng):
    a, g, y = _mixture(rng)
    timecourses, maps = dual_regression(y, g, des_norm=False)
    np.testing.assert_allclose(timecourses, a, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(maps, g, rtol=1e-9, atol=1e-9)  # not demeaned


def test_exact_mixture_stage2_with_des_norm_returns_amplitude_times_maps(rng):
    a, g, y = _mixture(rng)
    centred = a - a.mean(axis=0)
    sd = np.sqrt((centred**2).sum(axis=0) / (a.shape[0] - 1))  # ddof=1, as the normaliser
    _, maps = dual_regression(y, g, des_norm=True)
    np.testing.assert_allclose(maps, sd[:, None] * g, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("alpha", [0.25, 3.0])
def test_scaling_a_timecourse_scales_only_its_des_norm_map(rng, alpha):
    a, g, y = _mixture(rng)
    k = 2
    scaled = a.copy()
    scaled[:, k] *= alpha
    y_scaled = scaled @ g
    _, norm_before = dual_regression(y, g, des_norm=True)
    _, norm_after = dual_regression(y_scaled, g, des_norm=True)
    _, raw_before = dual_regression(y, g, des_norm=False)
    _, raw_after = dual_regression(y_scaled, g, des_norm=False)
    expected = norm_before.copy()
    expected[k] *= alpha
    np.testing.assert_allclose(norm_after, expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(raw_after, raw_before, rtol=1e-9, atol=1e-9)


def test_orthonormal_zero_mean_maps_reduce_stage1_to_a_projection(rng):
    n_voxels = 150
    basis = np.column_stack([np.ones(n_voxels), rng.standard_normal((n_voxels, 3))])
    maps = np.linalg.qr(basis)[0][:, 1:].T  # orthonormal rows, each with zero mean
    data = rng.standard_normal((30, n_voxels)) + 50.0  # arbitrary data, not a mixture
    centred = data - data.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(stage1(data, maps), centred @ maps.T, rtol=1e-10, atol=1e-10)


# --------------------------------------------------------------------------- reference


@pytest.mark.parametrize("des_norm", [True, False])
def test_stages_match_a_pseudo_inverse_reference_on_noisy_data(rng, des_norm):
    data = rng.standard_normal((35, 120)) * 3.0 + 100.0
    maps = rng.standard_normal((5, 120))
    timecourses, subject_maps = dual_regression(data, maps, des_norm=des_norm)
    expected_tc = _reference_stage1(data, maps)
    np.testing.assert_allclose(timecourses, expected_tc, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(
        subject_maps, _reference_stage2(data, expected_tc, des_norm), rtol=1e-9, atol=1e-9
    )


def test_without_demean_the_regressions_are_plain_least_squares(rng):
    data = rng.standard_normal((25, 60)) + 3.0
    maps = rng.standard_normal((3, 60))
    np.testing.assert_allclose(
        stage1(data, maps, demean=False), (np.linalg.pinv(maps.T) @ data.T).T, atol=1e-10
    )
    tc = rng.standard_normal((25, 3)) + 1.0
    np.testing.assert_allclose(
        stage2(data, tc, des_norm=False, demean=False), np.linalg.pinv(tc) @ data, atol=1e-10
    )


def test_float32_input_gives_float64_and_leaves_input_untouched(rng):
    data = rng.standard_normal((20, 50)).astype(np.float32)
    maps = rng.standard_normal((3, 50)).astype(np.float32)
    data_copy, maps_copy = data.copy(), maps.copy()
    timecourses, subject_maps = dual_regression(data, maps)
    assert timecourses.dtype == subject_maps.dtype == np.float64
    assert timecourses.shape == (20, 3) and subject_maps.shape == (3, 50)
    np.testing.assert_array_equal(data, data_copy)
    np.testing.assert_array_equal(maps, maps_copy)


# --------------------------------------------------------------------------- planted subjects


def _blob(yy, xx, centre, width):
    return np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * width**2)).ravel()


def test_subject_maps_are_identifiable_from_group_maps(rng):
    """8 subjects whose networks are shifted / resized versions of the group's: dual regression
    with the group maps recovers each subject's own maps better than any other subject's."""
    n_subjects, n_components, n_volumes, side = 8, 5, 120, 30
    yy, xx = np.mgrid[0:side, 0:side]
    centres = rng.uniform(6, side - 6, size=(n_components, 2))
    group = np.array([_blob(yy, xx, c, 3.0) for c in centres])
    planted = np.empty((n_subjects, n_components, side * side))
    recovered = np.empty_like(planted)
    for s in range(n_subjects):
        for k in range(n_components):
            shift = rng.uniform(-2.5, 2.5, size=2)
            width = 3.0 * rng.uniform(0.8, 1.25)
            planted[s, k] = _blob(yy, xx, centres[k] + shift, width)
            planted[s, k] += 0.05 * rng.standard_normal(side * side)
        amplitudes = rng.uniform(0.5, 2.0, size=n_components)
        timecourses = rng.standard_normal((n_volumes, n_components)) * amplitudes
        noise = 0.5 * rng.standard_normal((n_volumes, side * side))
        data = timecourses @ planted[s] + noise + 100.0
        _, recovered[s] = dual_regression(data, group)

    wins = 0
    for s in range(n_subjects):
        for k in range(n_components):
            own = _corr(recovered[s, k], planted[s, k])
            others = [_corr(recovered[s, k], planted[o, k]) for o in range(n_subjects) if o != s]
            wins += own > max(others)
    assert wins >= 0.8 * n_subjects * n_components


# --------------------------------------------------------------------------- errors


def test_errors_name_the_problem(rng):
    data = rng.standard_normal((20, 50))
    maps = rng.standard_normal((3, 50))
    with pytest.raises(ValueError, match="group_maps have 49 voxels but data has 50"):
        stage1(data, maps[:, :49])
    with pytest.raises(ValueError, match="timecourses have 19 volumes but data has 20"):
        stage2(data, rng.standard_normal((19, 3)))
    with pytest.raises(ValueError, match="group_maps: expected finite"):
        stage1(data, np.where(maps > 2, np.nan, maps))
    with pytest.raises(ValueError, match="data: expected a non-empty 2-D"):
        stage1(data[0], maps)
    duplicated = np.vstack([maps, maps[:1] * 2.0 + 1.0])  # dependent once demeaned
    with pytest.raises(ValueError, match="group maps .* linearly dependent"):
        stage1(data, duplicated)
    constant = rng.standard_normal((20, 3))
    constant[:, 1] = 4.0
    with pytest.raises(ValueError, match=r"constant time course\(s\) \[1\]"):
        stage2(data, constant, des_norm=True)
    with pytest.raises(ValueError, match="time courses are linearly dependent"):
        stage2(data, constant, des_norm=False)
    with pytest.raises(ValueError, match="time courses are linearly dependent"):
        dual_regression(data[:3], maps)  # 3 volumes, 3 components: rank 2 after demeaning


def test_grand_mean_scale_is_one_factor_for_the_whole_run(rng):
    data = (500 + 40 * rng.standard_normal((30, 50))).astype(np.float32)
    data[:, :10] *= 3  # brighter voxels stay brighter: no voxel-wise scaling
    scaled = grand_mean_scale(data)
    assert scaled.dtype == np.float64
    factor = 100.0 / data.astype(np.float64).mean()
    np.testing.assert_allclose(scaled, data * factor, rtol=1e-12)
    assert scaled.mean() == pytest.approx(100.0)
    np.testing.assert_allclose(grand_mean_scale(data, target=10000.0), 100 * scaled, rtol=1e-12)


@pytest.mark.parametrize("shift", [0.0, 1e-9, -1.0])
def test_grand_mean_scale_refuses_data_without_a_positive_mean(rng, shift):
    data = rng.standard_normal((20, 8))
    data -= data.mean() - shift  # mean 0 to rounding, of rounding size, or negative
    with pytest.raises(ValueError, match="grand-mean scaling needs a positive mean"):
        grand_mean_scale(data)
    with pytest.raises(ValueError, match="finite"):
        grand_mean_scale(np.full((3, 3), np.nan))


def test_dependent_maps_are_refused_after_a_float32_round_trip(rng):
    # the third map is the second scaled plus a constant: dependent once demeaned, even
    # when float32 storage (the workflow's NIfTI) leaves it independent to float64 precision
    maps = rng.standard_normal((3, 216))
    maps[2] = 2 * maps[1] + 1
    data = rng.standard_normal((40, 2)) @ maps[:2] + 0.1 * rng.standard_normal((40, 216))
    for stored in (maps, maps.astype(np.float32)):
        with pytest.raises(ValueError, match="group maps .* linearly dependent: rank 2"):
            dual_regression(data, stored)
