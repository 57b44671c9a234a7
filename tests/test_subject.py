import nibabel as nib
import numpy as np
import pytest
from scipy import linalg

from netregions.io import load_image, read_tsv, save_array, save_nifti
from netregions.subject import (
    CHUNK_VOLUMES,
    load_subject,
    preprocess_subject,
    region_signals,
    subject_timeseries,
)

AFFINE = np.diag([4.0, 4.0, 4.0, 1.0])


@pytest.mark.parametrize("overlap", [False, True])
def test_region_signals_match_least_squares(rng, overlap):
    maps = np.zeros((500, 6), np.float32)
    for r in range(6):
        start = r * 80 - (20 if overlap and r else 0)
        maps[start : start + 80, r] = rng.random(80) + 0.5
    series = rng.standard_normal((30, 500)).astype(np.float32)
    expected = linalg.lstsq(maps.astype(np.float64), series.T.astype(np.float64))[0].T
    got = region_signals(series, maps)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


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


def test_region_signals_recover_planted_signals_exactly(rng):
    maps = np.zeros((300, 3))
    maps[:100, 0], maps[100:200, 1], maps[200:, 2] = 1.0, 2.0, 0.5
    signals = rng.standard_normal((25, 3))
    np.testing.assert_allclose(region_signals(signals @ maps.T, maps), signals, atol=1e-10)


def _write_run(tmp_path, rng, shape=(12, 14, 10), n_volumes=40):
    data = np.zeros((*shape, n_volumes), np.float32)
    grid = np.indices(shape)
    inside = ((grid[0] - 6) ** 2 / 25 + (grid[1] - 7) ** 2 / 30 + (grid[2] - 5) ** 2 / 12) < 1
    data[inside] = 1000 + rng.normal(0, 5, (int(inside.sum()), n_volumes))
    data[~inside] = rng.normal(0, 1, (int((~inside).sum()), n_volumes))
    save_nifti(data, AFFINE, tmp_path / "bold.nii.gz", t_r=2.0)
    return data, inside


def test_load_subject_caches_the_decoded_run(tmp_path, rng):
    data, _ = _write_run(tmp_path, rng)
    load_subject(tmp_path / "bold.nii.gz", tmp_path / "mean.nii.gz", tmp_path / "b.npy")
    cached = np.load(tmp_path / "b.npy")
    np.testing.assert_array_equal(cached, data)
    assert cached.flags.f_contiguous
    mean = np.asanyarray(nib.load(tmp_path / "mean.nii.gz").dataobj)
    # the mean of the run as stored (Fortran order, as nibabel loads it), bit for bit
    np.testing.assert_array_equal(mean, np.asfortranarray(data).mean(axis=-1))


@pytest.mark.parametrize("scaled", [False, True])
def test_load_subject_streams_blocks_into_the_same_cache_and_mean(tmp_path, rng, scaled):
    # more volumes than one block, a partial last block; scaled int16 is decoded as float64
    raw = rng.integers(-3000, 3000, (7, 6, 5, 2 * CHUNK_VOLUMES + 5)).astype(np.int16)
    img = nib.Nifti1Image(raw if scaled else raw.astype(np.float32) * 0.37, AFFINE)
    if scaled:
        img.header.set_slope_inter(0.37, 12.5)
    nib.save(img, tmp_path / "bold.nii.gz")
    data, _ = load_image(tmp_path / "bold.nii.gz")
    load_subject(tmp_path / "bold.nii.gz", tmp_path / "mean.nii.gz", tmp_path / "b.npy")
    cached = np.load(tmp_path / "b.npy")
    assert cached.dtype == data.dtype == (np.float64 if scaled else np.float32)
    np.testing.assert_array_equal(cached, data)
    mean = np.asanyarray(nib.load(tmp_path / "mean.nii.gz").dataobj)
    np.testing.assert_array_equal(mean, data.mean(axis=-1).astype(np.float32))


def test_preprocess_subject_matches_step_by_step_reference(tmp_path, rng):
    from netregions.decomposition import reduce_data
    from netregions.kernels import smooth
    from netregions.signal import clean

    data, inside = _write_run(tmp_path, rng)
    save_array(np.asfortranarray(data), tmp_path / "b.npy")
    save_nifti(inside.astype(np.uint8), AFFINE, tmp_path / "mask.nii.gz")
    preprocess_subject(
        tmp_path / "b.npy",
        tmp_path / "mask.nii.gz",
        tmp_path / "r.npy",
        tmp_path / "s.npy",
        smoothing_fwhm=6.0,
        n_components=5,
    )
    series = smooth(data, AFFINE, 6.0)[inside].T
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), series)
    expected = reduce_data(clean(series, detrend=True), 5)
    np.testing.assert_array_equal(np.load(tmp_path / "r.npy"), expected)


def _timeseries_inputs(tmp_path, rng, n_volumes=60):
    shape = (8, 9, 7)
    mask = np.zeros(shape, bool)
    mask[1:7, 1:8, 1:6] = True
    regions = np.zeros((*shape, 2), np.float32)
    regions[1:4, 1:8, 1:6, 0] = 1.0
    regions[4:7, 1:8, 1:6, 1] = 0.5
    planted = rng.standard_normal((n_volumes, 2))
    confound = rng.standard_normal(n_volumes)
    series = (planted + 3.0 * confound[:, None]) @ (
        regions[mask].T / (regions[mask].T ** 2).sum(1, keepdims=True)
    )
    save_array(series.astype(np.float32), tmp_path / "smoothed.npy")
    save_nifti(mask.astype(np.uint8), AFFINE, tmp_path / "mask.nii.gz")
    save_nifti(regions, AFFINE, tmp_path / "regions.nii.gz")
    lines = ["motion\tframewise_displacement"] + [
        f"{c:.10f}\t{'n/a' if i == 0 else '0.1'}" for i, c in enumerate(confound)
    ]
    (tmp_path / "confounds.tsv").write_text("\n".join(lines) + "\n")
    return planted, confound


def test_timeseries_removes_injected_confound_and_recovers_signal(tmp_path, rng):
    planted, confound = _timeseries_inputs(tmp_path, rng)
    subject_timeseries(
        tmp_path / "smoothed.npy",
        tmp_path / "mask.nii.gz",
        tmp_path / "regions.nii.gz",
        tmp_path / "ts.tsv",
        confounds=tmp_path / "confounds.tsv",
        columns=["motion"],
    )
    header, ts = read_tsv(tmp_path / "ts.tsv")
    assert header == ["1", "2"] and ts.shape == (60, 2)
    np.testing.assert_allclose(ts.std(axis=0, ddof=1), 1, atol=1e-5)
    c = (confound - confound.mean()) / np.linalg.norm(confound - confound.mean())
    np.testing.assert_allclose(c @ ts, 0, atol=1e-4)  # the confound is gone exactly
    residual = planted - np.outer(c, c @ planted)
    expected = (residual - residual.mean(0)) / residual.std(0, ddof=1)
    np.testing.assert_allclose(ts, expected, atol=1e-4)


def test_timeseries_confound_length_mismatch_names_subject(tmp_path, rng):
    _timeseries_inputs(tmp_path, rng)
    lines = (tmp_path / "confounds.tsv").read_text().splitlines()[:-1]
    (tmp_path / "confounds.tsv").write_text("\n".join(lines) + "\n")
    from netregions.exceptions import InputDataError

    with pytest.raises(InputDataError, match="sub-07: confounds have 59 rows"):
        subject_timeseries(
            tmp_path / "smoothed.npy",
            tmp_path / "mask.nii.gz",
            tmp_path / "regions.nii.gz",
            tmp_path / "ts.tsv",
            confounds=tmp_path / "confounds.tsv",
            subject="07",
        )
    assert not (tmp_path / "ts.tsv").exists()


def test_timeseries_from_the_raw_cache_smooths_with_its_own_fwhm(tmp_path, rng):
    """Unequal FWHMs: the time-series step smooths the decoded run itself."""
    from netregions.kernels import smooth
    from netregions.signal import clean

    data, inside = _write_run(tmp_path, rng)
    save_array(np.asfortranarray(data), tmp_path / "b.npy")
    save_nifti(inside.astype(np.uint8), AFFINE, tmp_path / "mask.nii.gz")
    regions = np.zeros((*inside.shape, 2), np.float32)
    regions[..., 0] = inside & (np.indices(inside.shape)[0] < 6)
    regions[..., 1] = inside & (np.indices(inside.shape)[0] >= 6)
    save_nifti(regions, AFFINE, tmp_path / "regions.nii.gz")
    subject_timeseries(
        tmp_path / "b.npy",
        tmp_path / "mask.nii.gz",
        tmp_path / "regions.nii.gz",
        tmp_path / "ts.tsv",
        smoothing_fwhm=8.0,
    )
    series = smooth(data, AFFINE, 8.0)[inside].T
    maps = regions[inside]
    # least squares in float64, then float32 signals cleaned in float32, as the pipeline (the
    # region means sit on a 1000 baseline, so float32 rounding is visible after z-scoring)
    signals = linalg.lstsq(maps.astype(np.float64), series.T.astype(np.float64))[0].T
    expected = clean(signals.astype(np.float32))
    _, got = read_tsv(tmp_path / "ts.tsv")
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_timeseries_rereads_group_files_rewritten_in_the_same_process(tmp_path, rng):
    """The per-process cache of the mask and maps never serves a rewritten file's old maps."""
    _timeseries_inputs(tmp_path, rng)
    paths = [tmp_path / n for n in ("smoothed.npy", "mask.nii.gz", "regions.nii.gz")]
    subject_timeseries(*paths, tmp_path / "a.tsv")
    img = nib.load(tmp_path / "regions.nii.gz")
    swapped = np.asanyarray(img.dataobj)[..., ::-1].copy()
    save_nifti(swapped, img.affine, tmp_path / "regions.nii.gz")  # same size, new file
    subject_timeseries(*paths, tmp_path / "b.tsv")
    _, first = read_tsv(tmp_path / "a.tsv")
    _, second = read_tsv(tmp_path / "b.tsv")
    np.testing.assert_array_equal(second, first[:, ::-1])
