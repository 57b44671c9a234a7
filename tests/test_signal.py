import warnings

import numpy as np
import pytest
from scipy import signal as sps

from netregions.signal import (
    butterworth,
    clean,
    detrend,
    region_signals,
    remove_confounds,
    standardize,
)

from .parity_helpers import needs_nilearn, run_nilearn


def test_detrend_matches_scipy_and_keeps_input(rng):
    x = rng.standard_normal((50, 7)) + np.linspace(0, 5, 50)[:, None]
    before = x.copy()
    np.testing.assert_allclose(detrend(x), sps.detrend(x, axis=0), atol=1e-12)
    np.testing.assert_array_equal(x, before)


def test_detrend_ramp_is_zero_and_length_one_is_zero():
    ramp = np.arange(20.0)[:, None] * 3 + 2
    np.testing.assert_allclose(detrend(ramp), 0, atol=1e-12)
    np.testing.assert_array_equal(detrend(np.array([[4.0, 5.0]])), [[0.0, 0.0]])


def test_detrend_keeps_float32(rng):
    x = rng.standard_normal((30, 4)).astype(np.float32)
    assert detrend(x).dtype == np.float32


def test_standardize_zscore_sample(rng):
    x = rng.standard_normal((40, 5)) * 3 + 7
    z = standardize(x)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0, ddof=1), 1, atol=1e-12)


def test_standardize_constant_column_only_centred():
    x = np.column_stack([np.full(10, 3.0), np.arange(10.0)])
    z = standardize(x)
    np.testing.assert_array_equal(z[:, 0], 0)


def test_standardize_single_sample_warns_and_returns_input():
    x = np.array([[1.0, 2.0]])
    with pytest.warns(UserWarning, match="single sample"):
        np.testing.assert_array_equal(standardize(x), x)


def test_standardize_none_is_identity_copy(rng):
    x = rng.standard_normal((5, 2))
    out = standardize(x, None)
    np.testing.assert_array_equal(out, x)
    assert out is not x


def test_confound_regression_removes_injected_confound_exactly(rng):
    t = 120
    confounds = rng.standard_normal((t, 3))
    clean_part = rng.standard_normal((t, 4))
    # make the true signal orthogonal to the (centred) confounds so it must survive intact
    c = confounds - confounds.mean(axis=0)
    clean_part -= c @ np.linalg.lstsq(c, clean_part, rcond=None)[0]
    signals = clean_part + confounds @ rng.standard_normal((3, 4))
    out = clean(signals, confounds=confounds, standardize=None)
    np.testing.assert_allclose(out - out.mean(0), clean_part - clean_part.mean(0), atol=1e-10)
    # cleaned signals are orthogonal to the confounds
    np.testing.assert_allclose(c.T @ out, 0, atol=1e-9)


def test_pure_confounds_clean_to_zero(rng):
    confounds = rng.standard_normal((60, 2))
    signals = confounds @ np.array([[1.0, -2.0], [0.5, 3.0]])
    out = clean(signals, confounds=confounds, standardize=None)
    np.testing.assert_allclose(out - out.mean(0), 0, atol=1e-12)


def test_collinear_and_constant_confound_columns_change_nothing(rng):
    confounds = rng.standard_normal((80, 3))
    signals = rng.standard_normal((80, 5))
    base = clean(signals, confounds=confounds)
    extended = np.column_stack([confounds, confounds[:, 0] * 2 + confounds[:, 1], np.ones(80)])
    np.testing.assert_allclose(clean(signals, confounds=extended), base, atol=1e-10)


def test_clean_does_not_modify_input_and_keeps_float32(rng):
    x = rng.standard_normal((30, 3)).astype(np.float32)
    before = x.copy()
    out = clean(x, detrend=True, confounds=rng.standard_normal((30, 2)))
    np.testing.assert_array_equal(x, before)
    assert out.dtype == np.float32


def test_detrend_applies_to_confounds_too(rng):
    t = np.arange(100.0)
    confounds = rng.standard_normal((100, 2)) + 0.5 * t[:, None]
    signals = (3 * t + 1)[:, None] + rng.standard_normal((100, 3))
    out = clean(signals, detrend=True, confounds=confounds, standardize=None)
    ds, dc = sps.detrend(signals, axis=0), sps.detrend(confounds, axis=0)
    q, _ = np.linalg.qr((dc - dc.mean(0)) / dc.std(0, ddof=1))
    np.testing.assert_allclose(out, ds - q @ (q.T @ ds), atol=1e-10)


def test_remove_confounds_length_mismatch(rng):
    with pytest.raises(ValueError, match="rows"):
        remove_confounds(rng.standard_normal((10, 2)), rng.standard_normal((9, 1)))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_confounds_are_refused_by_column_and_row(rng, bad):
    confounds = rng.standard_normal((30, 3))
    confounds[4, 1] = bad
    confounds[9, 1] = bad
    with pytest.raises(
        ValueError, match=r"2 NaN or infinite value\(s\), in column\(s\) \[1\] .* row 4"
    ):
        clean(rng.standard_normal((30, 2)), confounds=confounds)


def test_unstandardized_confounds_scaled_by_max(rng):
    confounds = rng.standard_normal((50, 2)) * 100
    signals = rng.standard_normal((50, 3))
    a = clean(signals, confounds=confounds, standardize_confounds=False, standardize=None)
    # projection on the span does not depend on column scaling; no centring here
    q, _ = np.linalg.qr(confounds)
    np.testing.assert_allclose(a, signals - q @ (q.T @ signals), atol=1e-10)


# --------------------------------------------------------------------------- default path


def _clean_reference(signals, detrend=False, standardize="zscore_sample", confounds=None,
                     standardize_confounds=True):  # fmt: skip
    """The default path of clean() from numpy and scipy alone, in float64."""
    out = np.asarray(signals, dtype=np.float64)
    if detrend:
        out = sps.detrend(out, axis=0)
    if confounds is not None:
        c = np.asarray(confounds, dtype=np.float64).reshape(len(out), -1)
        if detrend:
            c = sps.detrend(c, axis=0)
        if standardize_confounds:
            c = (c - c.mean(axis=0)) / c.std(axis=0, ddof=1)
        q, _ = np.linalg.qr(c)
        out = out - q @ (q.T @ out)
    if standardize == "zscore_sample":
        out = (out - out.mean(axis=0)) / out.std(axis=0, ddof=1)
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [7, 600])  # 600: the reference's 10-block detrend
def test_default_path_matches_numpy_scipy_reference(rng, dtype, n_features):
    signals = (rng.standard_normal((45, n_features)) + np.linspace(0, 2, 45)[:, None]).astype(dtype)
    confounds = rng.standard_normal((45, 4))
    tolerance = 1e-10 if dtype == np.float64 else 2e-5
    for kwargs in [
        {},
        {"detrend": True},
        {"standardize": None},
        {"confounds": confounds},
        {"confounds": confounds, "detrend": True},
        {"confounds": confounds, "standardize_confounds": False},
        {"confounds": confounds, "detrend": True, "standardize_confounds": False,
         "standardize": None},
        {"confounds": confounds[:, 0]},
    ]:  # fmt: skip
        ours = clean(signals, **kwargs)
        assert ours.dtype == dtype
        expected = _clean_reference(signals, **kwargs)
        np.testing.assert_allclose(
            ours, expected, rtol=tolerance, atol=tolerance, err_msg=str(kwargs)
        )


# --------------------------------------------------------------------------- Butterworth


def _butterworth_reference(x, t_r, high_pass, low_pass):
    fs = 1.0 / t_r
    if high_pass is not None and low_pass is not None:
        sos = sps.butter(5, [high_pass, low_pass], btype="band", output="sos", fs=fs)
    elif high_pass is not None:
        sos = sps.butter(5, high_pass, btype="high", output="sos", fs=fs)
    else:
        sos = sps.butter(5, low_pass, btype="low", output="sos", fs=fs)
    return np.column_stack([sps.sosfiltfilt(sos, col, padtype="odd") for col in x.T])


@pytest.mark.parametrize("high_pass,low_pass", [(0.01, 0.1), (0.01, None), (None, 0.08)])
def test_butterworth_matches_scipy_reference(rng, high_pass, low_pass):
    x = rng.standard_normal((80, 3))
    before = x.copy()
    ours = butterworth(x, 2.0, high_pass=high_pass, low_pass=low_pass)
    np.testing.assert_allclose(ours, _butterworth_reference(x, 2.0, high_pass, low_pass),
                               rtol=1e-12, atol=1e-12)  # fmt: skip
    np.testing.assert_array_equal(x, before)


def test_butterworth_keeps_the_band_and_removes_the_rest():
    t_r, n = 2.0, 400
    t = np.arange(n) * t_r
    slow, kept, fast = (np.sin(2 * np.pi * f * t) for f in (0.002, 0.05, 0.2))
    out = butterworth((slow + kept + fast)[:, None], t_r, high_pass=0.01, low_pass=0.1)[:, 0]
    middle = slice(100, -100)  # away from the edge effects of the padding
    np.testing.assert_allclose(out[middle], kept[middle], atol=0.02)


def test_butterworth_float32_1d_and_no_cutoff(rng):
    x = rng.standard_normal(60).astype(np.float32)
    out = butterworth(x, 1.5, high_pass=0.02)
    assert out.dtype == np.float32 and out.shape == (60,)
    expected = _butterworth_reference(x[:, None].astype(np.float64), 1.5, 0.02, None)[:, 0]
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    same = butterworth(x, 1.5)
    np.testing.assert_array_equal(same, x)
    assert same is not x


def test_cutoff_at_nyquist_is_lowered_with_a_warning(rng):
    x = rng.standard_normal((60, 2))
    nyquist = 0.25  # t_r = 2 s
    lowered = nyquist - nyquist * 10 * np.finfo(np.float32).eps
    with pytest.warns(UserWarning, match="Nyquist"):
        out = butterworth(x, 2.0, high_pass=0.01, low_pass=0.3)
    np.testing.assert_allclose(out, _butterworth_reference(x, 2.0, 0.01, lowered), atol=1e-12)
    with pytest.warns(UserWarning, match="low_pass=0.25 Hz is at or above"):
        clean(x, t_r=2.0, low_pass=0.25)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"t_r": 2.0, "high_pass": 0.1, "low_pass": 0.1}, "high_pass .* must be below low_pass"),
        ({"t_r": 2.0, "high_pass": 0.2, "low_pass": 0.1}, "high_pass .* must be below low_pass"),
        ({"high_pass": 0.01}, "t_r .* got t_r=None"),
        ({"low_pass": 0.1, "t_r": None}, "t_r"),
        ({"t_r": 0.0, "high_pass": 0.01}, "t_r must be a positive"),
        ({"t_r": 2.0, "high_pass": -0.01}, "high_pass must be a positive"),
        ({"t_r": 2.0, "low_pass": 0.0}, "low_pass must be a positive"),
        ({"t_r": 2.0, "high_pass": 0.3, "low_pass": 0.4}, "no band is left"),
    ],
)
def test_filter_parameter_errors(rng, kwargs, match):
    x = rng.standard_normal((60, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Nyquist warning of the last case
        with pytest.raises(ValueError, match=match):
            clean(x, **kwargs)


def test_too_short_series_for_the_filter(rng):
    with pytest.raises(ValueError, match="series of 10 samples is shorter than the filter"):
        clean(rng.standard_normal((10, 2)), t_r=2.0, high_pass=0.01, low_pass=0.1)


# --------------------------------------------------------------------------- censoring


def _mask(n, censored):
    keep = np.ones(n, dtype=bool)
    keep[list(censored)] = False
    return keep


@pytest.mark.parametrize(
    "sample_mask,match",
    [
        (np.ones(59, dtype=bool), r"sample_mask has shape \(59,\) but the signals have 60"),
        (np.arange(60), "sample_mask must be a boolean array"),
        (np.zeros(60, dtype=bool), "removes all 60 samples"),
    ],
)
def test_sample_mask_errors(rng, sample_mask, match):
    with pytest.raises(ValueError, match=match):
        clean(rng.standard_normal((60, 2)), sample_mask=sample_mask)


def test_confounds_of_wrong_length_with_a_mask(rng):
    with pytest.raises(ValueError, match="confounds have 59 rows"):
        clean(rng.standard_normal((60, 2)), confounds=rng.standard_normal((59, 1)),
              sample_mask=np.ones(60, bool))  # fmt: skip


def test_mask_without_filter_equals_cleaning_the_kept_rows(rng):
    x = rng.standard_normal((50, 4)) + np.linspace(0, 1, 50)[:, None]
    c = rng.standard_normal((50, 3))
    keep = _mask(50, {0, 1, 17, 33, 49})
    ours = clean(x, detrend=True, confounds=c, sample_mask=keep)
    np.testing.assert_array_equal(ours, clean(x[keep], detrend=True, confounds=c[keep]))


def test_censored_ends_are_dropped_not_extrapolated(rng):
    x = rng.standard_normal((60, 3))
    c = rng.standard_normal((60, 2))
    options = {"detrend": True, "t_r": 2.0, "high_pass": 0.01, "low_pass": 0.1}
    ours = clean(x, confounds=c, sample_mask=_mask(60, {0, 1, 58, 59}), **options)
    np.testing.assert_array_equal(ours, clean(x[2:58], confounds=c[2:58], **options))
    full = clean(x, confounds=c, sample_mask=np.ones(60, bool), **options)
    np.testing.assert_array_equal(full, clean(x, confounds=c, **options))


def _censor_filter_reference(x, c, keep, t_r, high_pass, low_pass):
    """Boolean-correct censoring + filtering + regression, written with scipy only."""
    from scipy.interpolate import CubicSpline

    times = np.arange(len(keep)) * t_r
    first, last = np.flatnonzero(keep)[[0, -1]]
    filled = []
    for series in (x, c):
        spline = CubicSpline(times[keep], series[keep], axis=0)
        series = np.where(keep[:, None], series, spline(times))[first : last + 1]
        series = sps.detrend(series, axis=0)
        filled.append(_butterworth_reference(series, t_r, high_pass, low_pass))
    inner = keep[first : last + 1]
    xs, cs = filled[0][inner], filled[1][inner]
    cs = (cs - cs.mean(0)) / cs.std(0, ddof=1)
    q, _ = np.linalg.qr(cs)
    out = xs - q @ (q.T @ xs)
    return (out - out.mean(0)) / out.std(0, ddof=1)


def test_censoring_with_filter_interpolates_by_boolean_mask(rng):
    # {5, 54}: the reference's index bug leaves these spikes unfilled; ours are filled
    x = rng.standard_normal((60, 4)) + np.linspace(0, 2, 60)[:, None]
    x[[5, 54]] += 25.0  # spikes on the censored volumes must not leak into kept ones
    c = rng.standard_normal((60, 3))
    keep = _mask(60, {5, 54})
    ours = clean(x, detrend=True, confounds=c, sample_mask=keep, t_r=2.0, high_pass=0.01,
                 low_pass=0.1)  # fmt: skip
    expected = _censor_filter_reference(x, c, keep, 2.0, 0.01, 0.1)
    assert ours.shape == (58, 4)
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-9)


NILEARN_CLEAN = """
import numpy as np
from nilearn.signal import clean
x = np.load("x.npy"); c = np.load("c.npy")
for name in ("a", "b", "bug"):
    index = np.flatnonzero(np.load(f"keep_{name}.npy"))
    np.save(f"out_filter_{name}.npy", clean(
        x, detrend=True, standardize="zscore_sample", confounds=c, sample_mask=index,
        t_r=2.0, high_pass=0.01, low_pass=0.1))
    np.save(f"out_plain_{name}.npy", clean(
        x, detrend=True, standardize="zscore_sample", confounds=c, sample_mask=index))
    np.save(f"out_nodetrend_{name}.npy", clean(
        x, detrend=False, standardize=False, confounds=c, sample_mask=index,
        standardize_confounds=False))
"""
MASKS = {"a": {0, 1, 30}, "b": {7, 8, 40}, "bug": {5, 54}}


@pytest.fixture(scope="module")
def nilearn_clean(tmp_path_factory):
    rng = np.random.default_rng(20261125)
    x = rng.standard_normal((60, 5)) + np.linspace(0, 3, 60)[:, None]
    x[[5, 54]] += 25.0
    c = rng.standard_normal((60, 3)) + np.linspace(0, 1, 60)[:, None]
    arrays = {"x": x, "c": c} | {f"keep_{k}": _mask(60, v) for k, v in MASKS.items()}
    out = run_nilearn(tmp_path_factory.mktemp("clean"), NILEARN_CLEAN, arrays)
    return x, c, out


@needs_nilearn
@pytest.mark.parity
@pytest.mark.parametrize("name", ["a", "b"])
def test_censoring_with_filter_matches_nilearn(nilearn_clean, name):
    x, c, out = nilearn_clean
    ours = clean(x, detrend=True, confounds=c, sample_mask=_mask(60, MASKS[name]), t_r=2.0,
                 high_pass=0.01, low_pass=0.1)  # fmt: skip
    np.testing.assert_allclose(ours, out[f"filter_{name}"], rtol=1e-9, atol=1e-9)


@needs_nilearn
@pytest.mark.parity
def test_nilearn_differs_only_where_its_mask_indexing_is_wrong(nilearn_clean):
    x, c, out = nilearn_clean
    keep = _mask(60, MASKS["bug"])
    ours = clean(x, detrend=True, confounds=c, sample_mask=keep, t_r=2.0, high_pass=0.01,
                 low_pass=0.1)  # fmt: skip
    assert ours.shape == out["filter_bug"].shape
    assert np.abs(ours - out["filter_bug"]).max() > 0.1
    np.testing.assert_allclose(ours, _censor_filter_reference(x, c, keep, 2.0, 0.01, 0.1),
                               rtol=1e-9, atol=1e-9)  # fmt: skip


@needs_nilearn
@pytest.mark.parity
@pytest.mark.parametrize("name", ["a", "b", "bug"])
def test_censoring_without_filter_matches_nilearn(nilearn_clean, name):
    x, c, out = nilearn_clean
    keep = _mask(60, MASKS[name])
    ours = clean(x, detrend=True, confounds=c, sample_mask=keep)
    np.testing.assert_allclose(ours, out[f"plain_{name}"], rtol=1e-10, atol=1e-12)
    ours = clean(x, standardize=None, confounds=c, sample_mask=keep, standardize_confounds=False)
    np.testing.assert_allclose(ours, out[f"nodetrend_{name}"], rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- region signals


def test_region_signals_equal_a_least_squares_solver(rng):
    series = rng.standard_normal((30, 200)).astype(np.float32)
    maps = np.zeros((200, 4), dtype=np.float32)
    for k in range(4):
        maps[k * 50 : (k + 1) * 50, k] = rng.uniform(0.5, 1.0, 50)
    maps[40:60, 1] = 0.3  # overlapping regions
    expected = np.linalg.lstsq(maps.astype(np.float64), series.T.astype(np.float64))[0].T
    got = region_signals(series, maps)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("overlap", [False, True])
def test_region_signals_match_least_squares(rng, overlap):
    maps = np.zeros((500, 6), np.float32)
    for r in range(6):
        start = r * 80 - (20 if overlap and r else 0)
        maps[start : start + 80, r] = rng.random(80) + 0.5
    series = rng.standard_normal((30, 500)).astype(np.float32)
    solution = np.linalg.lstsq(maps.astype(np.float64), series.T.astype(np.float64), rcond=None)
    expected = solution[0].T
    got = region_signals(series, maps)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("block", [1, 7, 64, 499, 500, 10_000])
def test_region_signals_do_not_depend_on_the_voxel_blocks(rng, block):
    # blocks of one voxel, uneven blocks with a short last one, one block for all voxels
    maps = np.zeros((500, 5))
    for r in range(5):
        maps[r * 90 : r * 90 + 120, r] = rng.random(120) + 0.5
    series = rng.standard_normal((20, 500))
    expected = np.linalg.lstsq(maps, series.T, rcond=None)[0].T
    np.testing.assert_allclose(region_signals(series, maps, block=block), expected, atol=1e-10)


def test_region_signals_refuse_an_empty_block(rng):
    with pytest.raises(ValueError, match="block"):
        region_signals(rng.standard_normal((5, 10)), np.ones((10, 2)), block=0)


def test_region_signals_rank_deficient_gives_minimum_norm(rng):
    maps = np.zeros((100, 3))
    maps[:40, 0] = 1.0
    maps[:40, 1] = 1.0  # the same region twice
    maps[50:90, 2] = 2.0
    series = rng.standard_normal((10, 100))
    got = region_signals(series, maps)
    expected = np.linalg.pinv(maps) @ series.T
    np.testing.assert_allclose(got, expected.T, atol=1e-10)
    np.testing.assert_allclose(got[:, 0], got[:, 1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(6))
def test_region_signals_nearly_collinear_maps_give_minimum_norm(seed, dtype):
    # a map that is a mix of two overlapping others: the Gram matrix is singular up to
    # float64 round-off, which an eigenvalue cut-off at eps(float64) cannot tell from signal
    rng = np.random.default_rng(seed)
    maps = np.zeros((300, 4))
    maps[:100, 0] = rng.uniform(0.3, 1, 100)
    maps[60:200, 1] = rng.uniform(0.3, 1, 140)
    maps[:, 2] = 0.7 * maps[:, 0] + 0.3 * maps[:, 1]
    maps[220:290, 3] = rng.uniform(0.3, 1, 70)
    maps = maps.astype(dtype)
    series = rng.standard_normal((20, 300)).astype(dtype)
    maps64, series64 = maps.astype(np.float64), series.astype(np.float64)
    expected = (np.linalg.pinv(maps64, rcond=np.finfo(dtype).eps) @ series64.T).T
    got = region_signals(series, maps)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, atol=1e-9 if dtype == np.float64 else 2e-5)


def test_region_signals_recover_planted_signals_exactly(rng):
    maps = np.zeros((300, 3))
    maps[:100, 0], maps[100:200, 1], maps[200:, 2] = 1.0, 2.0, 0.5
    signals = rng.standard_normal((25, 3))
    np.testing.assert_allclose(region_signals(signals @ maps.T, maps), signals, atol=1e-10)
