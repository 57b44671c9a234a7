import nibabel as nib
import numpy as np
import pytest

from netregions.io import save_array, save_nifti
from netregions.steps.decompose import decompose

from .helpers import AFFINE

SHAPE = (12, 12, 12)
DICTLEARNING = {"alpha": 1, "batch_size": 20, "n_epochs": 1}


def _bump(centre, width=1.5):
    grid = np.indices(SHAPE)
    return np.exp(-sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)) / width**2)


def _planted():
    """Group mask (an 8³ cube) and three networks, Gaussian bumps apart from each other."""
    mask = np.zeros(SHAPE, bool)
    mask[2:10, 2:10, 2:10] = True
    maps = np.stack([_bump((4, 4, 4)), _bump((8, 8, 4)), _bump((4, 8, 8))])
    return mask, maps[:, mask].astype(np.float32)


def _inputs(tmp_path, rng, n_runs=3):
    """Each run's reduced data: 5 random mixtures of the networks, plus a little noise."""
    mask, networks = _planted()
    paths = []
    for r in range(n_runs):
        mixing = 10 * rng.standard_normal((5, 3))
        reduced = mixing @ networks + rng.normal(0, 0.05, (5, networks.shape[1]))
        paths.append(str(save_array(reduced.astype(np.float32), tmp_path / f"reduced{r}.npy")))
    save_nifti(mask.astype(np.uint8), AFFINE, tmp_path / "mask.nii.gz")
    return paths, mask, networks


def _assert_recovers(maps, networks):
    """Every planted network is found once: |correlation| > 0.95 with exactly one map."""
    corr = np.abs(np.corrcoef(np.vstack([maps, networks]))[: len(maps), len(maps) :])
    assert (corr > 0.95).sum(axis=0).tolist() == [1] * len(networks), np.round(corr, 2)
    assert (corr > 0.95).sum(axis=1).tolist() == [1] * len(maps), np.round(corr, 2)


@pytest.mark.parametrize(
    ("method", "settings"),
    [("dictlearning", DICTLEARNING), ("canica", {"canica_threshold": "auto", "canica_n_init": 2})],
)
def test_components_image_recovers_the_planted_networks(tmp_path, rng, method, settings):
    paths, mask, networks = _inputs(tmp_path, rng)
    out = tmp_path / "components.nii.gz"
    decompose(
        paths, tmp_path / "mask.nii.gz", out, method=method, n_components=3, settings=settings
    )
    img = nib.load(out)
    assert img.get_data_dtype() == np.float32 and img.shape == (*SHAPE, 3)
    np.testing.assert_array_equal(img.affine, AFFINE)
    maps = np.asanyarray(img.dataobj)
    assert not maps[~mask].any()
    _assert_recovers(maps[mask].T, networks)


def test_a_seed_of_a_consensus_is_written_as_in_mask_maps(tmp_path, rng):
    paths, mask, networks = _inputs(tmp_path, rng)
    common = {
        "method": "dictlearning",
        "n_components": 3,
        "random_state": 4,
        "settings": DICTLEARNING,
    }
    decompose(paths, tmp_path / "mask.nii.gz", tmp_path / "seed-4.npy", **common)
    decompose(paths, tmp_path / "mask.nii.gz", tmp_path / "components.nii.gz", **common, threads=2)
    seed = np.load(tmp_path / "seed-4.npy")
    assert seed.dtype == np.float32 and seed.shape == (3, mask.sum())
    _assert_recovers(seed, networks)
    # the same maps whatever the output form and the thread count
    image = np.asanyarray(nib.load(tmp_path / "components.nii.gz").dataobj)
    np.testing.assert_array_equal(image[mask].T, seed)


def test_the_seed_wildcard_of_the_rule_is_accepted(tmp_path, rng):
    """The consensus rule passes ``random_state="{seed}"``: Snakemake gives the step a string."""
    paths, _, _ = _inputs(tmp_path, rng)
    common = {"method": "dictlearning", "n_components": 3, "settings": DICTLEARNING}
    decompose(paths, tmp_path / "mask.nii.gz", tmp_path / "int.npy", random_state=3, **common)
    decompose(paths, tmp_path / "mask.nii.gz", tmp_path / "str.npy", random_state="3", **common)
    np.testing.assert_array_equal(np.load(tmp_path / "str.npy"), np.load(tmp_path / "int.npy"))


def test_reduced_data_that_do_not_fit_the_mask_name_the_file(tmp_path, rng):
    paths, mask, _ = _inputs(tmp_path, rng)
    save_array(np.ones((5, int(mask.sum()) - 1), np.float32), paths[1])
    with pytest.raises(
        ValueError, match=r"reduced1\.npy: shape \(5, 511\), the group mask has 512"
    ):
        decompose(paths, tmp_path / "mask.nii.gz", tmp_path / "c.nii.gz", n_components=3)
    assert not (tmp_path / "c.nii.gz").exists()


_AS_SNAKEMAKE_RUNS_IT = """
import sys
from types import SimpleNamespace
from snakemake.iocontainers import InputFiles, Log, OutputFiles, Params
from netregions.steps.decompose import decompose
from netregions.workflow import run_step

root, paths = sys.argv[1], sys.argv[2:]
inputs = InputFiles([*paths, f"{root}/mask.nii.gz"])
inputs._set_name("reduced", 0, len(paths))
inputs._set_name("mask", len(paths))
outputs = OutputFiles([f"{root}/seed.npy"])
outputs._set_name("components", 0)
params = Params(fromdict={"method": "dictlearning", "n_components": 6, "random_state": 3,
                          "settings": {"alpha": 1, "batch_size": 20, "n_epochs": 1}})
snakemake = SimpleNamespace(input=inputs, output=outputs, params=params, threads=2,
                            log=Log([f"{root}/job.log"]))
run_step(snakemake, decompose)
"""


@pytest.mark.slow
def test_maps_do_not_depend_on_the_blas_threads_snakemake_gives_the_job(tmp_path, rng):
    # Snakemake sets OPENBLAS_NUM_THREADS to the job's threads, which --cores caps: with
    # 1 or 2 BLAS threads dictionary learning rounds differently at this size (3000 voxels)
    import os
    import subprocess
    import sys

    shape, n_networks = (15, 20, 10), 6
    networks = np.zeros((n_networks, int(np.prod(shape))), np.float32)
    for k in range(n_networks):
        networks[k, rng.choice(networks.shape[1], 300, replace=False)] = rng.random(300) + 0.5
    paths = []
    for r in range(6):
        mixed = rng.standard_normal((20, n_networks)) @ networks
        reduced = (mixed + 0.3 * rng.standard_normal(mixed.shape)).astype(np.float32)
        paths.append(str(save_array(reduced, tmp_path / f"reduced{r}.npy")))
    save_nifti(np.ones(shape, np.uint8), AFFINE, tmp_path / "mask.nii.gz")
    maps = {}
    for blas in ("1", "2"):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": blas, "OMP_NUM_THREADS": blas}
        subprocess.run(
            [sys.executable, "-c", _AS_SNAKEMAKE_RUNS_IT, str(tmp_path), *paths],
            env=env, check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        maps[blas] = np.load(tmp_path / "seed.npy")
    assert maps["1"].shape == (n_networks, networks.shape[1])
    np.testing.assert_array_equal(maps["1"], maps["2"])
