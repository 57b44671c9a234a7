import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from netregions.exceptions import InputDataError
from netregions.io import save_nifti
from netregions.masking import compute_epi_mask
from netregions.steps.group_mask import group_mask

from .helpers import AFFINE

SHAPE = (20, 22, 18)
RUNS = ["sub-a", "sub-b", "sub-c"]


def _head(rng, shape=SHAPE, shift=(0, 0, 0), scale=0.38):
    """A mean EPI image: a bright ellipsoid with a brighter core on a dark background."""
    grid = np.indices(shape).astype(float)
    centre = (np.array(shape) - 1) / 2 + np.array(shift)
    r = np.sqrt(
        sum(((g - c) / (n * scale)) ** 2 for g, c, n in zip(grid, centre, shape, strict=True))
    )
    mean = np.where(r < 1, 800 + 200 * (r < 0.6), 5.0) + rng.normal(0, 20, shape)
    return mean.astype(np.float32)


def _write_means(tmp_path, images, affine=AFFINE):
    return [str(save_nifti(m, affine, tmp_path / f"mean{i}.nii.gz")) for i, m in enumerate(images)]


def _largest_component(mask):
    labels, n = ndimage.label(mask)  # 6-connectivity
    if n == 0:
        return mask
    return labels == np.argmax(np.bincount(labels.ravel())[1:]) + 1


def _outputs(tmp_path):
    return {"mask": tmp_path / "mask.nii.gz", "mean_epi": tmp_path / "mean_epi.nii.gz"}


@pytest.mark.parametrize(("threshold", "opening"), [(0.5, 2), (0.7, 1)])
def test_epi_masks_combined_by_majority_and_the_mean_of_means(tmp_path, rng, threshold, opening):
    images = [_head(rng, shift=s) for s in [(0, 0, 0), (2, -1, 0), (-2, 1, 1)]]
    means = _write_means(tmp_path, images)
    group_mask(means, **_outputs(tmp_path), runs=RUNS, threshold=threshold, opening=opening)
    run_masks = [compute_epi_mask(m, opening=opening) for m in images]
    count = np.sum(run_masks, axis=0)
    expected = _largest_component(count > threshold * 3)
    if threshold == 0.5:  # the planted shifts: the majority is neither union nor intersection
        assert expected.sum() > np.logical_and.reduce(run_masks).sum()
        assert expected.sum() < np.logical_or.reduce(run_masks).sum()
    else:  # more than 70 % of 3 masks: all 3
        np.testing.assert_array_equal(expected, np.logical_and.reduce(run_masks))
    img = nib.load(tmp_path / "mask.nii.gz")
    assert img.get_data_dtype() == np.uint8
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), expected.astype(np.uint8))
    np.testing.assert_array_equal(img.affine, AFFINE)
    mean_img = nib.load(tmp_path / "mean_epi.nii.gz")
    mean = np.asanyarray(mean_img.dataobj)
    assert mean.dtype == np.float32
    np.testing.assert_allclose(mean, np.mean(np.array(images, np.float64), axis=0), rtol=1e-7)


def test_grid_mismatch_names_both_runs(tmp_path, rng):
    images = [_head(rng), _head(rng), _head(rng, shape=(20, 22, 17))]
    means = _write_means(tmp_path, images)
    with pytest.raises(
        InputDataError, match=r"^sub-c: grid \(20, 22, 17\) of .*sub-a's \(20, 22, 18\)"
    ):
        group_mask(means, **_outputs(tmp_path), runs=RUNS)
    assert not (tmp_path / "mask.nii.gz").exists()
    assert not (tmp_path / "mean_epi.nii.gz").exists()


def test_affine_mismatch_is_a_grid_mismatch(tmp_path, rng):
    means = _write_means(tmp_path, [_head(rng), _head(rng)])
    means.append(str(save_nifti(_head(rng), np.diag([3.0, 3, 3, 1]), tmp_path / "x.nii.gz")))
    with pytest.raises(InputDataError, match=r"^sub-c: grid .* differs from sub-a's .*affines"):
        group_mask(means, **_outputs(tmp_path), runs=RUNS)


def test_empty_group_mask_lists_every_run_mask_size(tmp_path, rng):
    # two heads that do not overlap: no voxel is in more than half of the masks
    images = [_head(rng, shift=(-5, -5, 0), scale=0.2), _head(rng, shift=(5, 5, 0), scale=0.2)]
    sizes = [int(compute_epi_mask(m).sum()) for m in images]
    assert min(sizes) > 0
    with pytest.raises(InputDataError) as info:
        group_mask(_write_means(tmp_path, images), **_outputs(tmp_path), runs=RUNS[:2])
    message = str(info.value)
    assert message.startswith("the group mask is empty: no voxel is in more than 50% of the run")
    assert f"(voxels per run mask: sub-a: {sizes[0]}, sub-b: {sizes[1]})" in message
    assert not (tmp_path / "mask.nii.gz").exists()


def _box(lower, upper, shape=SHAPE):
    out = np.zeros(shape, np.uint8)
    out[tuple(slice(a, b) for a, b in zip(lower, upper, strict=True))] = 1
    return out


def test_fmriprep_source_is_the_strict_intersection_of_the_brain_masks(tmp_path, rng):
    masks = [
        _box((2, 2, 2), (16, 18, 14)),
        _box((4, 3, 3), (18, 20, 15)),
        _box((3, 1, 1), (17, 19, 12)),
    ]
    for m in masks:  # one far corner voxel shared by every run: disconnected, kept all the same
        m[19, 21, 17] = 1
    paths = [str(save_nifti(m, AFFINE, tmp_path / f"brain{i}.nii.gz")) for i, m in enumerate(masks)]
    images = [_head(rng) for _ in range(3)]
    group_mask(
        _write_means(tmp_path, images),
        **_outputs(tmp_path),
        runs=RUNS,
        source="fmriprep",
        brain_masks=paths,
    )
    expected = np.logical_and.reduce([m.astype(bool) for m in masks])
    got = np.asanyarray(nib.load(tmp_path / "mask.nii.gz").dataobj)
    np.testing.assert_array_equal(got, expected.astype(np.uint8))
    assert got[19, 21, 17] == 1 and got.sum() == 12 * 15 * 9 + 1
    mean = np.asanyarray(nib.load(tmp_path / "mean_epi.nii.gz").dataobj)
    np.testing.assert_allclose(mean, np.mean(np.array(images, np.float64), axis=0), rtol=1e-7)


def test_fmriprep_masks_without_a_common_voxel(tmp_path, rng):
    masks = [_box((0, 0, 0), (5, 5, 5)), _box((10, 10, 10), (15, 15, 15))]
    paths = [str(save_nifti(m, AFFINE, tmp_path / f"brain{i}.nii.gz")) for i, m in enumerate(masks)]
    means = _write_means(tmp_path, [_head(rng), _head(rng)])
    with pytest.raises(
        InputDataError, match=r"no voxel in common \(voxels per run mask: sub-a: 125, sub-b: 125\)"
    ):
        group_mask(means, **_outputs(tmp_path), runs=RUNS[:2], source="fmriprep", brain_masks=paths)


def test_fmriprep_brain_mask_on_another_grid_names_the_run(tmp_path, rng):
    paths = [
        str(save_nifti(_box((2, 2, 2), (9, 9, 9)), AFFINE, tmp_path / "brain0.nii.gz")),
        str(
            save_nifti(_box((2, 2, 2), (9, 9, 9), (20, 22, 16)), AFFINE, tmp_path / "brain1.nii.gz")
        ),
    ]
    means = _write_means(tmp_path, [_head(rng), _head(rng)])
    with pytest.raises(InputDataError, match=r"^sub-b: grid \(20, 22, 16\) of .*brain1"):
        group_mask(means, **_outputs(tmp_path), runs=RUNS[:2], source="fmriprep", brain_masks=paths)


def test_fmriprep_needs_one_brain_mask_per_run_and_sources_are_checked(tmp_path, rng):
    means = _write_means(tmp_path, [_head(rng), _head(rng)])
    with pytest.raises(ValueError, match="1 brain masks for 2 runs"):
        group_mask(means, **_outputs(tmp_path), runs=RUNS[:2], source="fmriprep", brain_masks=["x"])
    with pytest.raises(ValueError, match=r"mask source must be one of .*'template'"):
        group_mask(means, **_outputs(tmp_path), runs=RUNS[:2], source="template")
