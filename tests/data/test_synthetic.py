"""The synthetic dataset: files, determinism, anatomy, signals and recoverability."""

from __future__ import annotations

import filecmp
import json
import math

import nibabel as nib
import numpy as np
import pytest

from netregions.data import synthetic as syn
from netregions.io import check_bold_header, load_image, read_tsv

TINY = {"shape": (20, 24, 20), "n_volumes": 40}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Three tiny subjects written with the workflow's two functions."""
    root = tmp_path_factory.mktemp("synthetic")
    return root, syn.make_dataset(root, 3, **TINY, n_networks=8, seed=7)


@pytest.fixture(scope="module")
def default_brain() -> syn.Brain:
    return syn.make_brain(syn.DEFAULT_SHAPE)


def _confounds_text(path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text().splitlines()
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


# --------------------------------------------------------------------------- labels, grid


def test_subject_labels_are_zero_padded():
    assert syn.synthetic_subjects(3) == ["01", "02", "03"]
    assert syn.synthetic_subjects(120)[:2] == ["001", "002"]
    with pytest.raises(ValueError, match="at least 1"):
        syn.synthetic_subjects(0)


def test_default_grid_is_the_mni_4mm_grid():
    expected = np.diag([4.0, 4.0, 4.0, 1.0])
    expected[:3, 3] = (-96, -132, -78)
    np.testing.assert_array_equal(syn.grid_affine(syn.DEFAULT_SHAPE), expected)


def test_small_grids_sample_the_midline():
    affine = syn.grid_affine((20, 24, 20))
    x_index = -affine[0, 3] / affine[0, 0]
    assert x_index == int(x_index) and 0 < x_index < 19


# --------------------------------------------------------------------------- files


def test_bold_files_are_4d_float32_with_tr(dataset):
    root, paths = dataset
    for subject in ("01", "02", "03"):
        header = check_bold_header(paths[subject]["bold"])
        assert header.shape == (*TINY["shape"], TINY["n_volumes"])
        assert header.t_r == 2.0
        np.testing.assert_array_equal(header.affine, syn.grid_affine(TINY["shape"]))
        assert nib.load(paths[subject]["bold"]).get_data_dtype() == np.float32
    assert paths["01"]["bold"].name == (
        "sub-01_task-pixar_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz"
    )


def test_each_bold_file_has_a_sidecar_with_its_tr(dataset, tmp_path):
    root, paths = dataset
    for subject in ("01", "02", "03"):
        sidecar = paths[subject]["sidecar"]
        assert sidecar.name == f"sub-{subject}_task-pixar_space-MNI152NLin2009cAsym_desc-preproc_bold.json"
        assert json.loads(sidecar.read_text()) == {"RepetitionTime": 2.0, "TaskName": "pixar"}
    other = syn.make_dataset(tmp_path, 1, **TINY, n_networks=8, seed=7, t_r=0.8)
    assert json.loads(other["01"]["sidecar"].read_text())["RepetitionTime"] == 0.8


def test_confounds_have_the_15_columns_and_na_only_in_first_fd(dataset):
    _, paths = dataset
    path = paths["02"]["confounds"]
    assert path.name == "sub-02_task-pixar_desc-reducedConfounds_regressors.tsv"
    header, rows = _confounds_text(path)
    assert header == [
        "trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z", "framewise_displacement",
        "a_comp_cor_00", "a_comp_cor_01", "a_comp_cor_02", "a_comp_cor_03", "a_comp_cor_04",
        "a_comp_cor_05", "csf", "white_matter",
    ]  # fmt: skip
    assert len(rows) == TINY["n_volumes"]
    assert all(len(row) == 15 for row in rows)
    na = [(i, j) for i, row in enumerate(rows) for j, cell in enumerate(row) if cell == "n/a"]
    assert na == [(0, header.index("framewise_displacement"))]
    float(rows[1][6])  # the other cells are numbers


def test_truth_files(dataset):
    root, paths = dataset
    maps, affine = load_image(root / "truth_networks.nii.gz")
    assert maps.shape == (*TINY["shape"], 8) and maps.dtype == np.float32
    np.testing.assert_allclose(maps.max(axis=(0, 1, 2)), 1.0)
    mask, _ = load_image(root / "truth_brainmask.nii.gz")
    assert mask.shape == TINY["shape"] and set(np.unique(mask)) == {0, 1}
    names, timecourses = read_tsv(paths["03"]["truth"])
    assert names == [f"network_{k:02d}" for k in range(8)]
    assert timecourses.shape == (TINY["n_volumes"], 8)
    assert paths["03"]["truth"].name == "sub-03_task-pixar_desc-truth_timeseries.tsv"


def test_written_subject_equals_the_pure_function(dataset):
    root, paths = dataset
    brain, maps = syn.make_truth(TINY["shape"], 8, seed=7)
    run = syn.make_subject(brain, maps, "02", n_volumes=TINY["n_volumes"], seed=7)
    bold, _ = load_image(paths["02"]["bold"])
    np.testing.assert_array_equal(bold, run.bold)
    written_maps, _ = load_image(root / "truth_networks.nii.gz")
    np.testing.assert_array_equal(written_maps, maps)


# --------------------------------------------------------------------------- determinism


def _all_files(root):
    return sorted(p.name for p in root.iterdir())


def test_same_seed_gives_identical_files(dataset, tmp_path):
    root, _ = dataset
    syn.make_dataset(tmp_path, 3, **TINY, n_networks=8, seed=7)
    assert _all_files(tmp_path) == _all_files(root)
    _, mismatch, errors = filecmp.cmpfiles(root, tmp_path, _all_files(root), shallow=False)
    assert mismatch == [] and errors == []


def test_different_seed_gives_different_data(dataset, tmp_path):
    root, paths = dataset
    other = syn.make_dataset(tmp_path, 1, **TINY, n_networks=8, seed=8)
    assert not filecmp.cmp(other["truth"]["maps"], root / "truth_networks.nii.gz", shallow=False)
    a, _ = load_image(paths["01"]["bold"])
    b, _ = load_image(other["01"]["bold"])
    assert not np.array_equal(a, b)


def test_a_subject_does_not_depend_on_the_other_subjects(dataset, tmp_path):
    root, paths = dataset
    syn.make_dataset(tmp_path / "one", 1, **TINY, n_networks=8, seed=7)
    # subject 03 alone, without 01 and 02 having been made
    truth = syn.write_truth(tmp_path / "alone", shape=TINY["shape"], n_networks=8, seed=7)
    alone = syn.write_subject(
        tmp_path / "alone", "03", truth_maps_path=truth["maps"], n_volumes=40, seed=7
    )
    for key in ("bold", "confounds", "truth"):
        assert filecmp.cmp(tmp_path / "one" / paths["01"][key].name, paths["01"][key], False)
        assert filecmp.cmp(alone[key], paths["03"][key], shallow=False)


def test_noise_level_changes_only_the_noise():
    brain, maps = syn.make_truth(TINY["shape"], 4, seed=1)
    noisy = syn.make_subject(brain, maps, "01", n_volumes=40, noise=1.0, seed=1)
    clean = syn.make_subject(brain, maps, "01", n_volumes=40, noise=0.0, seed=1)
    np.testing.assert_array_equal(noisy.timecourses, clean.timecourses)
    np.testing.assert_array_equal(noisy.confounds[:, :13], clean.confounds[:, :13])
    outside = ~np.isin(np.arange(brain.baseline.size), _near_brain(brain))
    assert np.all(clean.bold.reshape(-1, 40, order="F")[outside] == 0)  # no noise term
    assert noisy.bold.reshape(-1, 40, order="F")[outside].std() > 1.0


def _near_brain(brain: syn.Brain) -> np.ndarray:
    from scipy import ndimage

    return np.flatnonzero(ndimage.binary_dilation(brain.baseline > 0).ravel(order="F"))


def test_subjects_differ():
    brain, maps = syn.make_truth(TINY["shape"], 4, seed=1)
    a, b = (syn.make_subject(brain, maps, s, n_volumes=40, seed=1) for s in ("01", "02"))
    mask = brain.mask
    assert a.bold[mask].mean() != pytest.approx(b.bold[mask].mean(), rel=1e-3)  # global scale
    r = np.corrcoef(a.timecourses.T, b.timecourses.T)[:4, 4:]
    assert np.abs(np.diag(r)).max() < 0.9
    assert not np.allclose(a.confounds[:, :6], b.confounds[:, :6])


# --------------------------------------------------------------------------- anatomy


def test_brain_is_brain_shaped(default_brain):
    mask = default_brain.mask
    n_voxels = int(mask.sum())
    assert 22_000 < n_voxels < 34_000  # MNI152 brain at 4 mm: ~28 000 voxels (~1.8 l)
    ijk = np.argwhere(mask)
    box = np.prod(ijk.max(axis=0) - ijk.min(axis=0) + 1)
    assert n_voxels / box < 0.6  # an ellipsoid fills 0.52 of its box, a box 1.0
    extent_mm = (ijk.max(axis=0) - ijk.min(axis=0) + 1) * 4
    assert 120 <= extent_mm[0] <= 150 and 150 <= extent_mm[1] <= 190  # width, length


def test_midline_fissure_is_darker_than_the_hemispheres(default_brain):
    baseline = default_brain.baseline
    x0 = 24  # world x = 0 on the default grid
    upper = (slice(None), slice(30, 50))  # y, z rows above the corpus callosum (z > 42 mm)
    midline = baseline[x0][upper].mean()
    sides = (baseline[x0 - 3][upper].mean() + baseline[x0 + 3][upper].mean()) / 2
    assert midline < 0.6 * sides


def test_hemispheres_are_mirror_images(default_brain):
    x0 = 24
    left = default_brain.baseline[: x0 + 1]
    right = default_brain.baseline[x0 : 2 * x0 + 1]
    np.testing.assert_allclose(left, right[::-1], rtol=1e-5, atol=1e-3)


def test_tissues_have_epi_contrast_and_structures_exist(default_brain):
    b = default_brain
    mean = {
        name: b.baseline[frac > 0.99].mean() for name, frac in [("gm", b.grey), ("wm", b.white)]
    }
    mean["csf"] = b.baseline[b.csf > 0.9].mean()
    assert mean["csf"] > mean["gm"] > mean["wm"] > 700  # T2*: CSF > grey > white
    assert 800 < b.baseline[b.mask].mean() < 1100
    labels = syn.tissue_labels(*np.array([
        (0.0, -62.0, -35.0),  # cerebellar vermis
        (30.0, -62.0, -40.0),  # cerebellar hemisphere
        (0.0, -27.0, -45.0),  # brainstem
        (12.0, -8.0, 17.0),  # lateral ventricle
        (0.0, -10.0, 50.0),  # inter-hemispheric fissure
        (30.0, -20.0, 20.0),  # deep white matter
        (0.0, 0.0, 95.0),  # above the head
    ]).T)  # fmt: skip
    assert labels[0] in (syn.GREY, syn.WHITE) and labels[1] in (syn.GREY, syn.WHITE)
    assert labels[2:].tolist() == [syn.WHITE, syn.CSF, syn.BACKGROUND, syn.WHITE, syn.BACKGROUND]


def test_brain_box_contains_every_tissue(rng):
    low, high = syn.BRAIN_BOX[:, 0] - 40, syn.BRAIN_BOX[:, 1] + 40
    points = low + (high - low) * rng.random((200_000, 3))
    outside = np.any((points < syn.BRAIN_BOX[:, 0]) | (points > syn.BRAIN_BOX[:, 1]), axis=1)
    assert np.all(syn.tissue_labels(*points[outside].T) == syn.BACKGROUND)


def _epi_threshold(mean: np.ndarray) -> float:
    """Histogram heuristic of EPI masks: middle of the largest gap in the 20-85 % range."""
    values = np.sort(mean.ravel())
    lo, hi = int(0.2 * values.size), int(0.85 * values.size)
    gaps = np.diff(values[lo : hi + 1])
    i = int(np.argmax(gaps))
    return (values[lo + i] + values[lo + i + 1]) / 2


def test_an_epi_histogram_threshold_finds_the_brain():
    brain, maps = syn.make_truth((25, 30, 25), 8, seed=0)
    mean = syn.make_subject(brain, maps, "01", n_volumes=40).bold.mean(axis=-1)
    found = mean >= _epi_threshold(mean)
    truth = brain.mask
    dice = 2 * (found & truth).sum() / (found.sum() + truth.sum())
    assert dice > 0.9


# --------------------------------------------------------------------------- signals


def _out_of_band_power(signals: np.ndarray, t_r: float) -> float:
    freqs = np.fft.rfftfreq(signals.shape[0], d=t_r)
    power = np.abs(np.fft.rfft(signals - signals.mean(axis=0), axis=0)) ** 2
    inside = (freqs >= 0.01) & (freqs <= 0.1)
    return float(power[~inside].sum() / power.sum())


def test_band_limited_timecourses(rng):
    signals = syn.band_limited_timecourses(168, 5, 2.0, rng)
    assert signals.shape == (168, 5)
    np.testing.assert_allclose(signals.std(axis=0), 1.0)
    assert _out_of_band_power(signals, 2.0) < 1e-20
    white = rng.standard_normal((168, 5))
    assert _out_of_band_power(white, 2.0) > 0.5  # the measure can fail
    with pytest.raises(ValueError, match="no frequency"):
        syn.band_limited_timecourses(10, 1, 0.5, rng)


def test_written_truth_timecourses_are_band_limited(dataset):
    _, paths = dataset
    _, timecourses = read_tsv(paths["01"]["truth"])
    assert _out_of_band_power(timecourses, 2.0) < 1e-12  # 9 written digits
    assert timecourses.std(axis=0).min() > 1.5 and timecourses.std(axis=0).max() < 3.5  # %


def test_framewise_displacement_by_hand():
    motion = np.zeros((3, 6))
    motion[1] = [0.5, 0, 0, 0, 0, 0.01]  # 0.5 mm + 0.01 rad on a 50 mm sphere
    motion[2] = [0.5, -0.2, 0, 0.002, 0, 0.01]
    fd = syn.framewise_displacement(motion)
    assert math.isnan(fd[0])
    np.testing.assert_allclose(fd[1:], [0.5 + 0.5, 0.2 + 0.1])


def test_confound_values_are_plausible(dataset):
    _, paths = dataset
    _, rows = _confounds_text(paths["01"]["confounds"])
    table = np.array([[np.nan if c == "n/a" else float(c) for c in row] for row in rows])
    np.testing.assert_array_equal(table[0, :6], 0.0)  # realignment reference
    assert np.abs(table[:, :3]).max() < 3.0 and np.abs(table[:, 3:6]).max() < 0.05  # mm, rad
    compcor = table[:, 7:13]
    np.testing.assert_allclose(compcor.T @ compcor, np.eye(6), atol=1e-6)  # like fMRIPrep
    assert table[:, 13].mean() > table[:, 14].mean() > 500  # csf brighter than white matter


def test_networks_have_3_or_4_blobs_in_grey_matter_and_barely_overlap():
    networks = syn.place_networks(8, np.random.default_rng(3))
    for network in networks:
        assert len(network.centres) in (3, 4)
        assert np.all(syn.tissue_labels(*network.centres.T) == syn.GREY)
        assert np.all((network.fwhm >= 10) & (network.fwhm <= 16))
        for fwhm in network.fwhm:  # FWHM of the whole blob, halo included
            r = np.linspace(0.0, 20.0, 20001)
            profile = syn._blob_profile(r**2, fwhm)
            assert 10.0 <= 2 * r[np.argmax(profile < profile[0] / 2)] <= 16.0
    brain = syn.make_brain((25, 30, 25))
    maps = syn.make_network_maps(brain, networks)[brain.mask]
    overlap = np.corrcoef(maps.T)[np.triu_indices(8, 1)]
    assert overlap.max() < 0.2


def test_many_networks_still_fit():
    networks = syn.place_networks(40, np.random.default_rng(0))  # the config's maximum
    assert len(networks) == 40


# --------------------------------------------------------------------------- recoverability


def _betas(run: syn.SyntheticSubject, mask: np.ndarray) -> np.ndarray:
    """Regression of each voxel's percent signal change on truth + confounds + drift terms."""
    n = run.bold.shape[-1]
    t = np.linspace(-1, 1, n)
    design = np.column_stack([run.timecourses, np.nan_to_num(run.confounds), np.ones(n), t, t**2])
    data = run.bold[mask].T.astype(np.float64)
    data = 100 * data / data.mean(axis=0) - 100
    coef, *_ = np.linalg.lstsq(design, data, rcond=None)
    return coef[: run.timecourses.shape[1]]


def test_planted_maps_are_recovered_by_regression():
    """Each subject's beta maps match the planted maps.

    The correlation is taken over the networks' cores (voxels where a planted map is at least
    0.25): elsewhere the maps are ~0 and the betas pure noise, so a whole-brain correlation
    would measure how much of the brain the blobs cover rather than their recovery (it is
    ~0.55 here). With network amplitudes of 2-3 % against 1 % noise, 100 volumes and 26
    regressors, a beta's standard error is ~0.04 against a map spread of ~0.25 on the cores:
    r ~0.95 is expected (0.93-0.97 observed); 0.85 leaves a margin. Each beta map must also
    not resemble the other networks (no leakage through the confounds or the overlap).
    """
    brain, maps = syn.make_truth((25, 30, 25), 8, seed=0)
    planted = maps[brain.mask]
    cores = planted.max(axis=1) >= 0.25
    for subject in ("01", "02"):
        run = syn.make_subject(brain, maps, subject, n_volumes=100, seed=0)
        betas = _betas(run, brain.mask)[:, cores]
        r = np.corrcoef(betas, planted[cores].T)[:8, 8:]
        assert np.diag(r).min() > 0.85
        assert np.abs(r[~np.eye(8, dtype=bool)]).max() < 0.3


def test_without_noise_the_maps_are_recovered_exactly():
    brain, maps = syn.make_truth((25, 30, 25), 8, seed=0)
    run = syn.make_subject(brain, maps, "01", n_volumes=60, noise=0.0, seed=0)
    betas = _betas(run, brain.mask)
    planted = maps[brain.mask]
    r = [np.corrcoef(betas[k], planted[:, k])[0, 1] for k in range(8)]
    assert min(r) > 0.99
