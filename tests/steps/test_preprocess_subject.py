import numpy as np
import pytest

from netregions.exceptions import InputDataError
from netregions.io import save_nifti
from netregions.steps.preprocess_subject import preprocess_subject

from .helpers import (
    AFFINE,
    detrend_reference,
    fmriprep_columns,
    head_run,
    smooth_reference,
    write_confounds,
    write_run,
    zscore,
)

RUN = "sub-01_task-rest"
SHAPE = (12, 14, 10)


def _inputs(tmp_path, rng, n_volumes=40):
    data, inside = head_run(rng, SHAPE, n_volumes)
    assert inside.sum() < 500  # a full SVD in the step's reduction: an exact reference
    bold = write_run(tmp_path / "bold.nii.gz", data)
    mask = save_nifti(inside.astype(np.uint8), AFFINE, tmp_path / "mask.nii.gz")
    return data, inside, bold, mask


def _outputs(tmp_path):
    return {"smoothed": tmp_path / "smoothed.npy", "reduced": tmp_path / "reduced.npy"}


def _reduction_reference(series, n_components, detrend=True, standardize=True):
    """Top spatial singular vectors (sign: largest |entry| positive) times singular values."""
    x = np.asarray(series, dtype=np.float64)
    if detrend:
        x = detrend_reference(x)
    if standardize:
        x = zscore(x)
    u, s, _ = np.linalg.svd(x.T, full_matrices=False)
    u = (
        u[:, :n_components]
        * np.sign(u[np.argmax(np.abs(u), axis=0), np.arange(u.shape[1])])[:n_components]
    )
    return u.T * s[:n_components, None]


def _assert_reduction(got, expected):
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=2e-4 * np.abs(expected).max())


@pytest.mark.parametrize(("detrend", "standardize"), [(True, "zscore_sample"), (False, None)])
def test_smooth_mask_clean_reduce_match_the_step_by_step_reference(
    tmp_path, rng, detrend, standardize
):
    data, inside, bold, mask = _inputs(tmp_path, rng)
    preprocess_subject(
        bold,
        mask,
        **_outputs(tmp_path),
        run=RUN,
        smoothing_fwhm=6.0,
        detrend=detrend,
        standardize=standardize,
        n_components=5,
    )
    series = smooth_reference(data, AFFINE, 6.0)[inside].T
    smoothed = np.load(tmp_path / "smoothed.npy")
    assert smoothed.dtype == np.float32
    np.testing.assert_array_equal(smoothed, series)
    expected = _reduction_reference(series, 5, detrend, standardize is not None)
    _assert_reduction(np.load(tmp_path / "reduced.npy"), expected)


def test_without_smoothing_the_series_are_the_masked_run(tmp_path, rng):
    data, inside, bold, mask = _inputs(tmp_path, rng, n_volumes=20)
    preprocess_subject(
        bold, mask, **_outputs(tmp_path), run=RUN, smoothing_fwhm=None, n_components=30
    )
    np.testing.assert_array_equal(np.load(tmp_path / "smoothed.npy"), data[inside].T)
    # n_components larger than the run: one row per volume
    assert np.load(tmp_path / "reduced.npy").shape == (20, int(inside.sum()))


def test_dummy_volumes_are_left_out_of_the_reduction_only(tmp_path, rng):
    data, inside, bold, mask = _inputs(tmp_path, rng)
    data[..., :2] *= 1.5  # non-steady-state volumes: much brighter
    bold = write_run(tmp_path / "bold.nii.gz", data)
    confounds = write_confounds(tmp_path / "confounds.tsv", fmriprep_columns(rng, 40, dummy=2))
    preprocess_subject(
        bold, mask, **_outputs(tmp_path), run=RUN, confounds=str(confounds), n_components=5
    )
    series = smooth_reference(data, AFFINE, 6.0)[inside].T
    np.testing.assert_array_equal(np.load(tmp_path / "smoothed.npy"), series)  # all 40 volumes
    _assert_reduction(np.load(tmp_path / "reduced.npy"), _reduction_reference(series[2:], 5))


def test_confounds_without_dummy_flags_keep_every_volume(tmp_path, rng):
    data, inside, bold, mask = _inputs(tmp_path, rng)
    confounds = write_confounds(tmp_path / "confounds.tsv", fmriprep_columns(rng, 40, dummy=0))
    preprocess_subject(
        bold, mask, **_outputs(tmp_path), run=RUN, confounds=str(confounds), n_components=5
    )
    series = smooth_reference(data, AFFINE, 6.0)[inside].T
    _assert_reduction(np.load(tmp_path / "reduced.npy"), _reduction_reference(series, 5))


def test_confounds_of_another_length_name_the_run(tmp_path, rng):
    _, _, bold, mask = _inputs(tmp_path, rng)
    confounds = write_confounds(tmp_path / "confounds.tsv", fmriprep_columns(rng, 39))
    with pytest.raises(InputDataError, match=rf"^{RUN}: confounds have 39 rows but the BOLD run"):
        preprocess_subject(bold, mask, **_outputs(tmp_path), run=RUN, confounds=str(confounds))
    assert not (tmp_path / "reduced.npy").exists()


def test_mask_on_another_grid_names_the_run(tmp_path, rng):
    _, _, bold, _ = _inputs(tmp_path, rng)
    mask = save_nifti(np.ones((12, 14, 9), np.uint8), AFFINE, tmp_path / "other.nii.gz")
    with pytest.raises(InputDataError, match=rf"^{RUN}: run grid \(12, 14, 10\) differs from"):
        preprocess_subject(bold, mask, **_outputs(tmp_path), run=RUN)
    assert not (tmp_path / "smoothed.npy").exists()
