import json

import nibabel as nib
import numpy as np
import pytest

import netregions
from netregions.exceptions import InputDataError
from netregions.io import read_tsv, save_array, save_nifti
from netregions.masking import unmask
from netregions.steps.dual_regression import dual_regression

from .helpers import AFFINE, detrend_reference, write_confounds

RUN = "sub-01_task-rest"
SHAPE = (8, 8, 8)


def _mask():
    mask = np.zeros(SHAPE, bool)
    mask[1:7, 1:7, 1:7] = True
    return mask


def _group_maps():
    """Three overlapping network maps (Gaussian bumps), in-mask, (3, n_voxels)."""
    grid = np.indices(SHAPE)
    centres = [(2, 2, 2), (5, 5, 2), (3, 5, 5)]
    maps = [
        np.exp(-sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)) / 4.0)
        for centre in centres
    ]
    return np.array(maps)[:, _mask()]


def _inputs(tmp_path, rng, n_volumes=40):
    """A run that is exactly a mixture of the group maps with known time courses."""
    maps = _group_maps()
    timecourses = (
        rng.standard_normal((n_volumes, 3)) * [1.0, 2.0, 0.5]
        + np.linspace(0, 3, n_volumes)[:, None]
    )
    save_array((timecourses @ maps).astype(np.float32), tmp_path / "smoothed.npy")
    save_nifti(unmask(maps.astype(np.float32), _mask()), AFFINE, tmp_path / "components.nii.gz")
    save_nifti(_mask().astype(np.uint8), AFFINE, tmp_path / "mask.nii.gz")
    (tmp_path / "stats.json").write_text(json.dumps({"t_r": 2.5, "n_volumes": n_volumes}))
    return timecourses, maps


def _files(tmp_path):
    return {
        "smoothed": str(tmp_path / "smoothed.npy"),
        "components": str(tmp_path / "components.nii.gz"),
        "mask": str(tmp_path / "mask.nii.gz"),
        "stats": str(tmp_path / "stats.json"),
        "maps": str(tmp_path / "out" / "maps.nii.gz"),
        "timecourses": str(tmp_path / "out" / "timecourses.tsv"),
        "timecourses_json": str(tmp_path / "out" / "timecourses.json"),
    }


def test_time_courses_sidecar_says_what_the_rows_and_columns_are(tmp_path, rng):
    _inputs(tmp_path, rng, n_volumes=40)
    files = _files(tmp_path)
    dual_regression(**files, run=RUN, detrend=True)
    sidecar = json.loads((tmp_path / "out" / "timecourses.json").read_text())
    description = sidecar.pop("Description")
    facts = (
        "stage 1",
        "mean over voxels and volumes is 100, then detrended per voxel",
        "Row i is volume VolumesKept[i]",
        "network_<k> is network k, 0-based",
    )
    assert [fact for fact in facts if fact not in description] == []
    assert sidecar == {
        "SamplingFrequency": 0.4,
        "RepetitionTime": 2.5,
        "NumberOfVolumes": 40,
        "NumberOfVolumesKept": 40,
        "VolumesKept": list(range(40)),
        "network_00": {"Description": "Time course of network 0 (0-based)"},
        "network_01": {"Description": "Time course of network 1 (0-based)"},
        "network_02": {"Description": "Time course of network 2 (0-based)"},
        "GrandMeanScaling": 100.0,
        "Detrend": True,
        "Sources": ["bids::group/components.nii.gz", "bids::group/mask.nii.gz"],
        "Software": "netregions",
        "SoftwareVersion": netregions.__version__,
    }
    header, rows = read_tsv(files["timecourses"])
    assert rows.shape[0] == sidecar["NumberOfVolumesKept"]
    assert [key for key in sidecar if key.startswith("network_")] == header
    dual_regression(**files, run=RUN, detrend=False)
    description = json.loads((tmp_path / "out" / "timecourses.json").read_text())["Description"]
    assert "is 100; maps" in description and "detrended" not in description


@pytest.mark.parametrize("detrend", [False, True])
def test_stage1_recovers_the_time_courses_and_stage2_the_scaled_maps(tmp_path, rng, detrend):
    timecourses, maps = _inputs(tmp_path, rng)
    files = _files(tmp_path)
    dual_regression(**files, run=RUN, detrend=detrend)
    # one factor scales the run to a mean of 100; detrending is linear in time, so the run
    # stays an exact mixture of the maps with the scaled (detrended) time courses
    scale = 100.0 / np.load(files["smoothed"]).astype(np.float64).mean()
    expected = scale * (detrend_reference(timecourses) if detrend else timecourses)
    header, got = read_tsv(files["timecourses"])
    assert header == ["network_00", "network_01", "network_02"]
    np.testing.assert_allclose(got, expected, atol=1e-4 * np.abs(expected).max())
    # with unit-variance time courses (des_norm), each map carries its network's amplitude
    img = nib.load(files["maps"])
    assert img.get_data_dtype() == np.float32 and img.shape == (*SHAPE, 3)
    np.testing.assert_array_equal(img.affine, AFFINE)
    run_maps = np.asanyarray(img.dataobj)
    assert not run_maps[~_mask()].any()
    amplitude = expected.std(axis=0, ddof=1)
    np.testing.assert_allclose(
        run_maps[_mask()].T, amplitude[:, None] * maps, atol=1e-4 * amplitude.max()
    )


def _noisy_run(rng, maps, timecourses, baseline=800.0):
    """A run of the networks on a baseline, with voxel noise as strong as the networks."""
    signal = timecourses @ maps
    return baseline + signal + 2.0 * rng.standard_normal(signal.shape)


def _fitted_amplitude(tmp_path, data, network):
    save_array(data.astype(np.float32), tmp_path / "smoothed.npy")
    files = _files(tmp_path)
    dual_regression(**files, run=RUN, detrend=True)
    run_map = np.asanyarray(nib.load(files["maps"]).dataobj)[_mask()].T[network]
    planted = _group_maps()[network]
    return float(run_map @ planted / (planted @ planted))


def test_maps_keep_a_network_s_amplitude_between_runs(tmp_path, rng):
    # planted: two runs alike but for network 0, twice as strong in the second; voxels are
    # not standardised, so its map doubles (z-scored voxels shrink the ratio: see
    # docs/methods/stability.md, Dual regression in the workflow)
    timecourses, maps = _inputs(tmp_path, rng, n_volumes=120)
    timecourses = rng.standard_normal((120, 3)) * 20
    noise_rng = np.random.default_rng(5)
    first = _noisy_run(noise_rng, maps, timecourses)
    stronger = timecourses * [2.0, 1.0, 1.0]
    second = _noisy_run(np.random.default_rng(5), maps, stronger)  # the same noise
    ratio = _fitted_amplitude(tmp_path, second, 0) / _fitted_amplitude(tmp_path, first, 0)
    assert ratio == pytest.approx(2.0, rel=0.05)
    other = _fitted_amplitude(tmp_path, second, 1) / _fitted_amplitude(tmp_path, first, 1)
    assert other == pytest.approx(1.0, rel=0.05)


def test_dummy_scans_are_left_out_of_the_fit_and_the_rows(tmp_path, rng):
    # planted: 4 non-steady-state volumes far brighter than the rest, flagged by fMRIPrep
    timecourses, maps = _inputs(tmp_path, rng, n_volumes=60)
    timecourses = rng.standard_normal((60, 3)) * 20
    data = _noisy_run(rng, maps, timecourses)
    data[:4] *= 1.5
    save_array(data.astype(np.float32), tmp_path / "smoothed.npy")
    flags = {f"non_steady_state_outlier{k:02d}": np.eye(60)[k] for k in range(4)}
    confounds = write_confounds(tmp_path / "confounds.tsv", flags)
    files = _files(tmp_path)
    dual_regression(**files, confounds=str(confounds), run=RUN, detrend=True)
    sidecar = json.loads((tmp_path / "out" / "timecourses.json").read_text())
    assert sidecar["NumberOfVolumes"] == 60 and sidecar["NumberOfVolumesKept"] == 56
    assert sidecar["VolumesKept"] == list(range(4, 60))
    _, got = read_tsv(files["timecourses"])
    assert got.shape == (56, 3)
    for k in range(3):
        assert np.corrcoef(got[:, k], timecourses[4:, k])[0, 1] > 0.99


def test_a_run_too_short_for_its_networks_is_named(tmp_path, rng):
    _inputs(tmp_path, rng, n_volumes=3)  # 3 volumes, 3 networks: stage 2 has no solution
    with pytest.raises(ValueError, match=rf"^{RUN}: .*linearly dependent"):
        dual_regression(**_files(tmp_path), run=RUN)
    assert not (tmp_path / "out").exists()


def test_a_demeaned_run_cannot_be_scaled_and_is_named(tmp_path, rng):
    _inputs(tmp_path, rng)
    save_array(rng.standard_normal((40, 216)).astype(np.float32) - 5, tmp_path / "smoothed.npy")
    with pytest.raises(ValueError, match=rf"^{RUN}: the mean intensity of the data is -"):
        dual_regression(**_files(tmp_path), run=RUN)


def test_group_maps_on_another_grid_name_the_run(tmp_path, rng):
    _inputs(tmp_path, rng)
    save_nifti(np.ones((8, 8, 7, 3), np.float32), AFFINE, tmp_path / "components.nii.gz")
    with pytest.raises(InputDataError, match=rf"^{RUN}: network maps grid \(8, 8, 7\) differs"):
        dual_regression(**_files(tmp_path), run=RUN)
    assert not (tmp_path / "out").exists()


def test_series_that_do_not_fit_the_mask_name_the_run(tmp_path, rng):
    _inputs(tmp_path, rng)
    save_array(rng.standard_normal((40, 215)).astype(np.float32), tmp_path / "smoothed.npy")
    with pytest.raises(
        ValueError, match=rf"^{RUN}: 215 voxels in the series, 216 in the group mask"
    ):
        dual_regression(**_files(tmp_path), run=RUN)
    assert not (tmp_path / "out").exists()


def test_voxels_outside_the_run_s_field_of_view_are_left_out(tmp_path, rng):
    # planted: a slab of the mask (where network 0 lies) is constant 0 in this run, as outside
    # its field of view; FSL fits only voxels with a signal, and so does the step
    timecourses, maps = _inputs(tmp_path, rng, n_volumes=80)
    timecourses = rng.standard_normal((80, 3)) * 20
    data = _noisy_run(rng, maps, timecourses)
    outside = np.indices(SHAPE)[0][_mask()] <= 2  # x <= 2: the first network's side
    data[:, outside] = 0.0
    save_array(data.astype(np.float32), tmp_path / "smoothed.npy")
    files = _files(tmp_path)
    dual_regression(**files, run=RUN, detrend=True)
    _, got = read_tsv(files["timecourses"])
    # each time course at its planted amplitude, in percent of the mean of the voxels with a
    # signal (kept, the empty voxels shrank network 0's and inflated the others')
    scale = 100.0 / data[:, ~outside].astype(np.float32).astype(np.float64).mean()
    amplitude = got.std(axis=0) / (scale * timecourses.std(axis=0))
    np.testing.assert_allclose(amplitude, 1.0, atol=0.03)
    for k in range(3):
        assert np.corrcoef(got[:, k], timecourses[:, k])[0, 1] > 0.98
    run_maps = np.asanyarray(nib.load(files["maps"]).dataobj)[_mask()].T
    assert not run_maps[:, outside].any() and run_maps[:, ~outside].any()
