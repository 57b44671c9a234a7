import nibabel as nib
import numpy as np
import pytest

from netregions.io import read_table, save_array, save_nifti
from netregions.steps.consensus import consensus

from .helpers import AFFINE

SHAPE = (8, 8, 8)


def _mask():
    mask = np.zeros(SHAPE, bool)
    mask[1:7, 1:7, 1:7] = True  # 216 voxels
    return mask


def _maps(positive=1.0, negative=-2.0, n_positive=20, n_negative=10):
    """Three maps on disjoint voxels, each of zero mean: mutually uncorrelated, so that
    identical seeds give clusters of similarity 1 inside and 0 outside."""
    maps = np.zeros((3, int(_mask().sum())), np.float32)
    width = n_positive + n_negative
    for k in range(3):
        maps[k, k * width : k * width + n_positive] = positive
        maps[k, k * width + n_positive : (k + 1) * width] = negative
    assert np.all(maps.sum(axis=1) == 0)
    return maps


def _inputs(tmp_path, seeds):
    save_nifti(_mask().astype(np.uint8), AFFINE, tmp_path / "mask.nii.gz")
    return [str(save_array(s, tmp_path / f"seed-{i}.npy")) for i, s in enumerate(seeds)]


def _outputs(tmp_path):
    return {"components": tmp_path / "components.nii.gz", "stability": tmp_path / "stability.tsv"}


def _read_maps(path):
    img = nib.load(path)
    assert img.get_data_dtype() == np.float32
    np.testing.assert_array_equal(img.affine, AFFINE)
    data = np.asanyarray(img.dataobj)
    assert not data[~_mask()].any()
    return data[_mask()].T


def test_identical_seeds_give_the_same_maps_with_stability_one(tmp_path):
    maps = _maps()
    seeds = _inputs(tmp_path, [maps, maps.copy(), maps.copy()])
    consensus(seeds, tmp_path / "mask.nii.gz", **_outputs(tmp_path), n_components=3)
    np.testing.assert_array_equal(_read_maps(tmp_path / "components.nii.gz"), maps)
    rows = read_table(tmp_path / "stability.tsv")
    assert list(rows[0]) == [
        "component", "stability", "quality_index", "coverage", "size", "n_runs"
    ]  # fmt: skip
    assert [r["component"] for r in rows] == ["0", "1", "2"]
    for key in ("stability", "quality_index", "coverage"):
        assert [float(r[key]) for r in rows] == pytest.approx([1.0] * 3, abs=1e-9)
    assert [(r["size"], r["n_runs"]) for r in rows] == [("3", "3")] * 3


def test_seeds_that_reorder_and_flip_the_maps_change_nothing(tmp_path):
    maps = _maps()
    seeds = _inputs(tmp_path, [maps, -maps[[2, 0, 1]], maps[[1, 2, 0]], -maps])
    consensus(seeds, tmp_path / "mask.nii.gz", **_outputs(tmp_path), n_components=3)
    np.testing.assert_array_equal(_read_maps(tmp_path / "components.nii.gz"), maps)
    rows = read_table(tmp_path / "stability.tsv")
    assert [float(r["stability"]) for r in rows] == pytest.approx([1.0] * 3, abs=1e-9)
    assert [(r["size"], r["n_runs"]) for r in rows] == [("4", "4")] * 3


@pytest.mark.parametrize(("method", "sign"), [("dictlearning", -1), ("canica", 1)])
def test_sign_convention_of_the_method(tmp_path, method, sign):
    # a strong positive peak on few voxels, weak negative values on many: CanICA keeps the
    # peak positive, dictionary learning makes most entries positive
    maps = _maps(positive=3.0, negative=-1.0, n_positive=6, n_negative=18)
    seeds = _inputs(tmp_path, [maps, maps.copy()])
    consensus(seeds, tmp_path / "mask.nii.gz", **_outputs(tmp_path), method=method, n_components=3)
    np.testing.assert_array_equal(_read_maps(tmp_path / "components.nii.gz"), sign * maps)


def test_noisy_seeds_are_less_stable_and_the_clusters_are_the_planted_maps(tmp_path, rng):
    maps = _maps()
    seeds = [maps + rng.normal(0, 0.15, maps.shape).astype(np.float32) for _ in range(5)]
    consensus(
        _inputs(tmp_path, seeds), tmp_path / "mask.nii.gz", **_outputs(tmp_path), n_components=3
    )
    found = _read_maps(tmp_path / "components.nii.gz")
    corr = np.abs(np.corrcoef(np.vstack([found, maps]))[:3, 3:])  # noise decides the signs
    assert np.all(corr.max(axis=1) > 0.9) and sorted(corr.argmax(axis=1)) == [0, 1, 2]
    rows = read_table(tmp_path / "stability.tsv")
    stability = [float(r["stability"]) for r in rows]
    assert all(0.5 < s < 1.0 for s in stability)
    assert stability == sorted(stability, reverse=True)  # most stable first
    assert [r["size"] for r in rows] == ["5"] * 3


def test_a_seed_that_does_not_fit_the_mask_is_named_before_clustering(tmp_path):
    good = _maps()
    paths = _inputs(tmp_path, [good, good[:, :-5], good])
    with pytest.raises(ValueError, match=r"seed-1\.npy: maps of shape \(3, 211\), the group mask"):
        consensus(paths, tmp_path / "mask.nii.gz", **_outputs(tmp_path), n_components=3)
    assert not (tmp_path / "components.nii.gz").exists()
