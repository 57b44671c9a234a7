import json

import nibabel as nib
import numpy as np
import pytest

import netregions
from netregions.exceptions import InputDataError
from netregions.io import read_tsv, save_array, save_nifti
from netregions.masking import unmask
from netregions.steps.dual_regression import dual_regression

from .helpers import AFFINE, detrend_reference

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
    dual_regression(**files, run=RUN, detrend=True, standardize="zscore_sample")
    sidecar = json.loads((tmp_path / "out" / "timecourses.json").read_text())
    description = sidecar.pop("Description")
    for fact in ("stage 1", "Every acquired volume is a row", "network_<k> is network k, 0-based"):
        assert fact in description
    assert sidecar == {
        "SamplingFrequency": 0.4,
        "RepetitionTime": 2.5,
        "NumberOfVolumes": 40,
        "network_00": {"Description": "Time course of network 0 (0-based)"},
        "network_01": {"Description": "Time course of network 1 (0-based)"},
        "network_02": {"Description": "Time course of network 2 (0-based)"},
        "Detrend": True,
        "Standardize": "zscore_sample",
        "Sources": ["bids::group/components.nii.gz", "bids::group/mask.nii.gz"],
        "Software": "netregions",
        "SoftwareVersion": netregions.__version__,
    }
    header, rows = read_tsv(files["timecourses"])
    assert rows.shape[0] == sidecar["NumberOfVolumes"]  # every volume is a row
    assert [key for key in sidecar if key.startswith("network_")] == header


@pytest.mark.parametrize("detrend", [False, True])
def test_stage1_recovers_the_time_courses_and_stage2_the_scaled_maps(tmp_path, rng, detrend):
    timecourses, maps = _inputs(tmp_path, rng)
    files = _files(tmp_path)
    # no standardisation: the cleaning is linear in time, so the run stays an exact mixture
    dual_regression(**files, run=RUN, detrend=detrend, standardize=None)
    expected = detrend_reference(timecourses) if detrend else timecourses
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
    np.testing.assert_allclose(run_maps[_mask()].T, amplitude[:, None] * maps, atol=1e-4)


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
