import json
import logging

import nibabel as nib
import numpy as np
import pytest

from netregions.exceptions import InputDataError
from netregions.resources import CHUNK as CHUNK_VOLUMES
from netregions.steps.load_subject import load_subject

from .helpers import AFFINE, head_run, write_run

RUN = "sub-07_task-rest"


def _outputs(tmp_path):
    return {"mean": tmp_path / "mean.nii.gz", "stats": tmp_path / "stats.json"}


def _gap_threshold(values: np.ndarray) -> np.float32:
    """Middle of the largest gap between sorted values in the 20 %-85 % range."""
    s = np.sort(values.ravel())
    lo, hi = int(np.floor(0.2 * s.size)), min(int(np.floor(0.85 * s.size)), s.size - 1)
    i = int(np.argmax(np.diff(s[lo : hi + 1])))
    return (s[lo + i] + s[lo + i + 1]) / s.dtype.type(2)


def _median_tsnr(decoded: np.ndarray, voxels: np.ndarray) -> float:
    series = decoded[voxels].astype(np.float64)
    mean, sd = series.mean(axis=1), series.std(axis=1)
    return float(np.median(np.where(sd > 1e-3, mean / np.where(sd > 0, sd, 1), 0.0)))


def test_mean_is_the_reference_mean_bit_for_bit_and_stats(tmp_path, rng, caplog):
    n_volumes = 2 * CHUNK_VOLUMES + 5  # several blocks and a partial last one
    data, inside = head_run(rng, n_volumes=n_volumes)
    bold = write_run(tmp_path / "bold.nii.gz", data, t_r=2.0)
    with caplog.at_level(logging.WARNING, logger="netregions"):
        load_subject(bold, **_outputs(tmp_path), run=RUN)
    decoded = np.asanyarray(nib.load(bold).dataobj)  # Fortran-ordered float32, as nibabel
    img = nib.load(tmp_path / "mean.nii.gz")
    mean = np.asanyarray(img.dataobj)
    assert mean.dtype == np.float32
    np.testing.assert_array_equal(mean, decoded.mean(axis=-1))
    np.testing.assert_array_equal(img.affine, AFFINE)

    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["run"] == RUN
    assert stats["n_volumes"] == n_volumes
    assert stats["shape"] == [12, 14, 12]
    assert stats["voxel_size_mm"] == [4.0, 4.0, 4.0]
    assert stats["t_r"] == 2.0
    # no sidecar: the header's TR, with a warning in the JSON and in the log
    assert len(stats["warnings"]) == 1
    assert "no JSON sidecar; using TR 2.0 s from the NIfTI header" in stats["warnings"][0]
    assert RUN in caplog.text and "no JSON sidecar" in caplog.text
    voxels = mean >= _gap_threshold(mean)
    np.testing.assert_array_equal(voxels, inside)  # the gap separates the head from the air
    assert stats["tsnr"] == pytest.approx(_median_tsnr(decoded, voxels), rel=1e-9)
    assert 40 < stats["tsnr"] < 500


def test_scaled_int16_run_is_decoded_in_float32(tmp_path, rng):
    raw = rng.integers(-3000, 3000, (7, 6, 5, CHUNK_VOLUMES + 3)).astype(np.int16)
    img = nib.Nifti1Image(raw, AFFINE)
    img.header.set_slope_inter(0.37, 12.5)
    img.header.set_zooms((4.0, 4.0, 4.0, 1.5))
    nib.save(img, tmp_path / "bold.nii.gz")
    load_subject(tmp_path / "bold.nii.gz", **_outputs(tmp_path), run=RUN)
    decoded = np.asfortranarray(raw).astype(np.float32) * np.float32(0.37) + np.float32(12.5)
    mean = np.asanyarray(nib.load(tmp_path / "mean.nii.gz").dataobj)
    assert mean.dtype == np.float32
    np.testing.assert_array_equal(mean, decoded.mean(axis=-1))
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["t_r"] == 1.5 and stats["shape"] == [7, 6, 5]


@pytest.mark.parametrize("sidecar_tr", [2.5, 2.0])
def test_sidecar_tr_wins_over_the_header_and_a_disagreement_is_warned(tmp_path, rng, sidecar_tr):
    data, _ = head_run(rng, n_volumes=20)
    bold = write_run(tmp_path / "bold.nii.gz", data, t_r=2.0)
    sidecar = tmp_path / "bold.json"
    sidecar.write_text(json.dumps({"RepetitionTime": sidecar_tr}))
    load_subject(bold, **_outputs(tmp_path), run=RUN, sidecar=str(sidecar))
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["t_r"] == sidecar_tr
    if sidecar_tr == 2.0:  # agrees with the header
        assert stats["warnings"] == []
    else:
        assert len(stats["warnings"]) == 1
        assert "RepetitionTime 2.5 s" in stats["warnings"][0]
        assert "differs from the TR 2.0 s" in stats["warnings"][0]


def test_a_3d_image_is_an_error_naming_the_run(tmp_path, rng):
    data, _ = head_run(rng, n_volumes=2)
    bold = write_run(tmp_path / "bold.nii.gz", data[..., 0])
    with pytest.raises(InputDataError, match=rf"^{RUN}: expected a 4D image"):
        load_subject(bold, **_outputs(tmp_path), run=RUN)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bold.nii.gz"]


def test_no_repetition_time_is_an_error_naming_the_run(tmp_path, rng):
    data, _ = head_run(rng, n_volumes=10)
    img = nib.Nifti1Image(data, AFFINE)
    img.header.set_zooms((4.0, 4.0, 4.0, 0.0))
    nib.save(img, tmp_path / "bold.nii.gz")
    with pytest.raises(InputDataError, match=rf"^{RUN}: no repetition time: there is no sidecar"):
        load_subject(tmp_path / "bold.nii.gz", **_outputs(tmp_path), run=RUN)
    assert not (tmp_path / "mean.nii.gz").exists() and not (tmp_path / "stats.json").exists()


def test_missing_file_is_an_error_naming_the_run(tmp_path):
    with pytest.raises(InputDataError, match=rf"^{RUN}: file not found: .*nope\.nii\.gz"):
        load_subject(tmp_path / "nope.nii.gz", **_outputs(tmp_path), run=RUN)


def test_decoded_copy_is_the_run_and_the_mean_is_unchanged(tmp_path, rng):
    data, _ = head_run(rng, n_volumes=CHUNK_VOLUMES + 3)
    bold = write_run(tmp_path / "bold.nii.gz", data, t_r=2.0)
    load_subject(bold, **_outputs(tmp_path), run=RUN)
    plain_mean = (tmp_path / "mean.nii.gz").read_bytes()
    load_subject(bold, **_outputs(tmp_path), run=RUN, decoded=tmp_path / "decoded.npy")
    copy = np.load(tmp_path / "decoded.npy")
    assert copy.dtype == np.float32 and copy.flags.f_contiguous
    np.testing.assert_array_equal(copy, np.asanyarray(nib.load(bold).dataobj))
    assert (tmp_path / "mean.nii.gz").read_bytes() == plain_mean
