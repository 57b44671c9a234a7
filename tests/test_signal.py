import numpy as np
import pytest
from scipy import signal as sps

from netregions.signal import clean, detrend, remove_confounds, standardize


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


def test_unstandardized_confounds_scaled_by_max(rng):
    confounds = rng.standard_normal((50, 2)) * 100
    signals = rng.standard_normal((50, 3))
    a = clean(signals, confounds=confounds, standardize_confounds=False, standardize=None)
    # projection on the span does not depend on column scaling; no centring here
    q, _ = np.linalg.qr(confounds)
    np.testing.assert_allclose(a, signals - q @ (q.T @ signals), atol=1e-10)
