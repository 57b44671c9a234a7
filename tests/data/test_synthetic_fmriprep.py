"""fMRIPrep-like derivatives: names, sidecars, confounds and every planted truth."""

from __future__ import annotations

import csv
import filecmp
import gzip
import json
import math
import re

import nibabel as nib
import numpy as np
import pytest

from netregions.data import synthetic_fmriprep as sf
from netregions.io import load_image, read_tsv

# Names as fMRIPrep writes them (entity order sub, ses, task, run, space, res, desc).
ENTITIES = (
    r"sub-(?P<sub>[A-Za-z0-9]+)(?:_ses-(?P<ses>[A-Za-z0-9]+))?_task-(?P<task>[A-Za-z0-9]+)"
    r"(?:_run-(?P<run>[A-Za-z0-9]+))?"
)
SPACE = r"_space-(?P<space>[A-Za-z0-9]+)(?:_res-(?P<res>[A-Za-z0-9]+))?"
PATTERNS = {
    "bold": re.compile(ENTITIES + SPACE + r"_desc-preproc_bold\.nii\.gz"),
    "sidecar": re.compile(ENTITIES + SPACE + r"_desc-preproc_bold\.json"),
    "mask": re.compile(ENTITIES + SPACE + r"_desc-brain_mask\.nii\.gz"),
    "confounds": re.compile(ENTITIES + r"_desc-confounds_timeseries\.tsv"),
    "confounds_json": re.compile(ENTITIES + r"_desc-confounds_timeseries\.json"),
}
N_VOLUMES = 72
N_DUMMY = 3
N_SPIKES = 3
HIGH = ("03", "06")
SMALL = {"shape": (20, 24, 20), "n_volumes": N_VOLUMES}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Eight subjects: two high-motion, spikes, dummy scans, coupling, shifted maps."""
    return sf.make_fmriprep_dataset(
        tmp_path_factory.mktemp("planted"),
        n_subjects=8,
        **SMALL,
        high_motion_subjects=HIGH,
        n_spikes=N_SPIKES,
        n_dummy=N_DUMMY,
        coupling=0.5,
        subject_shift_mm=8.0,
        seed=5,
    )


@pytest.fixture(scope="module")
def quiet(tmp_path_factory):
    """Two calm runs: no spikes, no dummy scans, low motion."""
    return sf.make_fmriprep_dataset(tmp_path_factory.mktemp("quiet"), n_subjects=2, **SMALL, seed=1)


@pytest.fixture(scope="module")
def layered(tmp_path_factory):
    """Sessions, two runs, an extra task and a res entity (short runs)."""
    return sf.make_fmriprep_dataset(
        tmp_path_factory.mktemp("layered"),
        n_subjects=1,
        sessions=("1", "2"),
        runs=(1, 2),
        extra_task="movie",
        res="2",
        shape=(24, 28, 24),
        n_volumes=30,
        seed=3,
    )


def _table(path) -> tuple[list[str], np.ndarray]:
    lines = path.read_text().splitlines()
    names = lines[0].split("\t")
    rows = [[math.nan if c == "n/a" else float(c) for c in line.split("\t")] for line in lines[1:]]
    return names, np.array(rows)


def _column(run, name: str) -> np.ndarray:
    names, table = _table(run.confounds)
    return table[:, names.index(name)]


def _power_fd(motion: np.ndarray) -> np.ndarray:
    step = np.abs(np.diff(motion, axis=0))
    return np.concatenate([[np.nan], step[:, :3].sum(axis=1) + 50.0 * step[:, 3:].sum(axis=1)])


def _motion(run) -> np.ndarray:
    names, table = _table(run.confounds)
    cols = ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"]
    return table[:, [names.index(c) for c in cols]]


# --------------------------------------------------------------------------- tree and names


def test_tree_names_and_entities(layered):
    root = layered.root
    found: dict[str, list[re.Match]] = {kind: [] for kind in PATTERNS}
    for path in sorted(root.rglob("*")):
        if path.is_dir() or path.parts[len(root.parts)] in ("truth",):
            continue
        if path.parent == root:
            assert path.name in {"dataset_description.json", "participants.tsv", ".bidsignore"}
            continue
        matches = [(k, p.fullmatch(path.name)) for k, p in PATTERNS.items()]
        matches = [(k, m) for k, m in matches if m]
        assert len(matches) == 1, path.name
        kind, match = matches[0]
        expected_dir = root / f"sub-{match['sub']}" / f"ses-{match['ses']}" / "func"
        assert path.parent == expected_dir
        found[kind].append(match)
    for kind, matches in found.items():
        assert len(matches) == 8, kind  # 2 sessions x 2 tasks x 2 runs
        assert {m["task"] for m in matches} == {"rest", "movie"}
        assert {m["ses"] for m in matches} == {"1", "2"} and {m["run"] for m in matches} == {
            "1",
            "2",
        }
        if kind in ("bold", "sidecar", "mask"):
            assert {(m["space"], m["res"]) for m in matches} == {("MNI152NLin2009cAsym", "2")}
    assert [r.name for r in layered.runs][:2] == [
        "sub-01_ses-1_task-rest_run-1",
        "sub-01_ses-1_task-rest_run-2",
    ]
    run = layered.runs[0]
    assert run.bold.name == (
        "sub-01_ses-1_task-rest_run-1_space-MNI152NLin2009cAsym_res-2_desc-preproc_bold.nii.gz"
    )
    assert run.confounds.name == "sub-01_ses-1_task-rest_run-1_desc-confounds_timeseries.tsv"
    assert run.mask.name.endswith("_res-2_desc-brain_mask.nii.gz")


def test_dataset_description_participants_and_bidsignore(planted):
    root = planted.root
    description = json.loads((root / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative"
    assert description["GeneratedBy"][0]["Name"] == "fMRIPrep"
    assert "BIDSVersion" in description
    with open(planted.participants, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert [r["participant_id"] for r in rows] == [f"sub-0{k}" for k in range(1, 9)]
    assert {r["participant_id"][4:]: r["group"] for r in rows} == planted.group
    assert planted.group["01"] == "child" and planted.group["02"] == "adult"
    assert "truth/" in (root / ".bidsignore").read_text().split()


def test_entities_can_be_left_out(tmp_path):
    ds = sf.make_fmriprep_dataset(
        tmp_path, n_subjects=1, sessions=(None,), runs=(None,), n_volumes=30, seed=0
    )
    (run,) = ds.runs
    assert run.name == "sub-01_task-rest" and run.session is None and run.run is None
    assert run.bold == tmp_path / "sub-01" / "func" / (
        "sub-01_task-rest_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz"
    )
    assert run.confounds.name == "sub-01_task-rest_desc-confounds_timeseries.tsv"


def test_extra_task_runs_are_present(layered):
    movie = layered.runs_of(task="movie")
    assert len(movie) == 4 and all(r.bold.exists() and r.confounds.exists() for r in movie)
    assert all(r.task == "rest" for r in layered.runs_of(task="rest"))
    assert json.loads(movie[0].sidecar.read_text())["TaskName"] == "movie"


def test_sidecar_tr_equals_header_tr(planted, layered):
    for run in [*planted.runs[:2], layered.runs[0]]:
        sidecar = json.loads(run.sidecar.read_text())
        header = nib.load(run.bold).header
        assert sidecar["RepetitionTime"] == pytest.approx(float(header.get_zooms()[3])) == 2.0
        assert sidecar["TaskName"] == run.task
        assert sidecar["SkullStripped"] is False
    zooms = nib.load(layered.runs[0].bold).header.get_zooms()
    assert zooms[:3] == (2.0, 2.0, 2.0)  # res-2: 2 mm voxels


def test_mask_is_the_brain(planted):
    run = planted.runs[0]
    mask, affine = load_image(run.mask)
    bold, bold_affine = load_image(run.bold)
    np.testing.assert_array_equal(affine, bold_affine)
    assert set(np.unique(mask)) == {0, 1}
    mean = bold[..., N_DUMMY:].mean(axis=-1)
    assert mean[mask > 0].mean() > 20 * np.abs(mean[mask == 0]).mean()


# --------------------------------------------------------------------------- confounds table


def test_confound_columns_and_na(planted):
    run = planted.runs[0]
    names, table = _table(run.confounds)
    bases = ["global_signal", "csf", "white_matter", *sf.MOTION_COLUMNS]
    expanded = [
        b + s for b in bases for s in ("", "_derivative1", "_power2", "_derivative1_power2")
    ]
    fixed = ["csf_wm", "tcompcor", "framewise_displacement", "rmsd", "dvars", "std_dvars"]
    for name in [*expanded, *fixed, "cosine00", "a_comp_cor_00", "c_comp_cor_00"]:
        assert name in names, name
    assert any(n.startswith("w_comp_cor_") for n in names)
    assert any(n.startswith("t_comp_cor_") for n in names)
    assert not any(n.startswith("cosine01") for n in names)  # floor(2*69*2/128) - 1 = 1
    assert len(names) == len(set(names)) and table.shape[0] == N_VOLUMES
    na_first = {n for n in names if n.endswith(("_derivative1", "_derivative1_power2"))}
    na_first |= {"framewise_displacement", "rmsd", "dvars", "std_dvars"}
    rows, cols = np.nonzero(np.isnan(table))
    assert set(rows) == {0}
    assert {names[c] for c in cols} == na_first


def test_fd_column_is_power_fd_of_the_written_motion(planted):
    for run in planted.runs:
        fd = _column(run, "framewise_displacement")
        np.testing.assert_allclose(fd[1:], _power_fd(_motion(run))[1:], rtol=1e-6, atol=1e-8)
        assert run.mean_fd == pytest.approx(np.nanmean(fd))


def test_derivatives_and_squares_follow_their_base(planted):
    names, table = _table(planted.runs[1].confounds)
    for base in ("global_signal", "trans_x", "rot_z", "csf"):
        x = table[:, names.index(base)]
        d = table[:, names.index(base + "_derivative1")]
        # 9 significant digits are written: x is exact to ~5e-9 of its magnitude
        np.testing.assert_allclose(d[1:], np.diff(x), rtol=1e-6, atol=2e-8 * np.abs(x).max())
        np.testing.assert_allclose(table[:, names.index(base + "_power2")], x**2, rtol=1e-6)
        sq = table[1:, names.index(base + "_derivative1_power2")]
        np.testing.assert_allclose(sq, d[1:] ** 2, rtol=1e-6)


def test_cosines_are_the_dct_basis_of_the_steady_volumes(planted):
    names, table = _table(planted.runs[0].confounds)
    n = N_VOLUMES - N_DUMMY
    count = math.floor(2 * n * 2.0 / 128) - 1
    cosines = [c for c in names if c.startswith("cosine")]
    assert len(cosines) == count == 1
    t = np.arange(n)
    expected = np.sqrt(2 / n) * np.cos(np.pi / n * (t + 0.5) * 1)
    column = table[:, names.index("cosine00")]
    np.testing.assert_array_equal(column[:N_DUMMY], 0.0)
    np.testing.assert_allclose(column[N_DUMMY:], expected, atol=1e-8)
    np.testing.assert_allclose(sf.cosine_basis(168, 2.0).shape, (168, 4))  # the facts' example


def _reference_dvars(bold: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """nipype's compute_dvars, written out: median 1000, robust SD, AR1 by Yule-Walker."""
    y = bold[mask > 0].astype(np.float64)
    y = y / np.median(y) * 1000.0
    q25, q75 = np.percentile(y, [25, 75], axis=1, method="lower")
    robust = (q75 - q25) / 1.349
    y, robust = y[robust > 1e-7], robust[robust > 1e-7]
    c = y - y.mean(axis=1, keepdims=True)
    ar1 = (c[:, 1:] * c[:, :-1]).sum(axis=1) / (c**2).sum(axis=1)
    raw = np.sqrt((np.diff(y, axis=1) ** 2).mean(axis=0))
    return raw, raw / (np.sqrt(2 * (1 - ar1)) * robust).mean()


def test_dvars_columns_match_a_reference_and_std_dvars_is_one_when_quiet(quiet):
    for run in quiet.runs:
        bold, _ = load_image(run.bold)
        mask, _ = load_image(run.mask)
        raw, standard = _reference_dvars(bold, mask)
        np.testing.assert_allclose(_column(run, "dvars")[1:], raw, rtol=1e-4)
        std_dvars = _column(run, "std_dvars")
        np.testing.assert_allclose(std_dvars[1:], standard, rtol=1e-4)
        assert 0.9 < np.nanmean(std_dvars) < 1.15 and np.nanmax(std_dvars) < 1.5
        assert not any(n.startswith("motion_outlier") for n in _table(run.confounds)[0])


def test_relative_rms_by_hand():
    motion = np.zeros((3, 6))
    motion[1, 0] = 1.0  # 1 mm along x: every point moves 1 mm
    motion[2] = motion[1]
    motion[2, 5] = 0.01  # then 0.01 rad about z, sphere centred on the rotation axis
    rms = sf.relative_rms(motion, centre=(0.0, 0.0, 0.0), radius=80.0)
    assert math.isnan(rms[0]) and rms[1] == pytest.approx(1.0)
    # M = Rz - I: tr(M^T M) = 4 (1 - cos 0.01); the translation adds M t = (cos-1, sin, 0)
    m2 = 4 * (1 - math.cos(0.01))
    shift2 = (math.cos(0.01) - 1) ** 2 + math.sin(0.01) ** 2
    assert rms[2] == pytest.approx(math.sqrt(80.0**2 / 5 * m2 + shift2), rel=1e-9)


def test_dvars_of_white_noise_is_standardised_to_one(rng):
    data = 1000.0 + rng.standard_normal((400, 3000)).astype(np.float32)
    raw, standard = sf.dvars(data, chunk=700)
    assert math.isnan(raw[0])
    assert np.nanmean(standard) == pytest.approx(1.0, abs=0.03)  # sqrt(2) sigma / (sqrt(2) sigma)


# --------------------------------------------------------------------------- CompCor


def _compcor_reference(bold, mask, n_dummy, t_r=2.0):
    """High-pass (cosines + constant), variance-normalise, SVD: (U, singular values)."""
    y = bold[mask > 0][:, n_dummy:].T.astype(np.float64)
    n = y.shape[0]
    k = max(math.floor(2 * n * t_r / 128), 1)
    t = np.arange(n) + 0.5
    cosines = np.sqrt(2 / n) * np.cos(np.pi / n * np.outer(t, np.arange(1, k)))
    design = np.column_stack([cosines, np.ones(n)])
    y = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    sd = y.std(axis=0)
    sd[sd == 0] = 1
    u, s, _ = np.linalg.svd(y / sd, full_matrices=False)
    return u, s


def test_compcor_metadata_matches_the_columns_and_a_reference_pca(planted):
    run = planted.runs[1]
    names, table = _table(run.confounds)
    meta = json.loads(run.confounds_sidecar.read_text())
    bold, _ = load_image(run.bold)
    kinds = (("a_comp_cor_", "combined"), ("c_comp_cor_", "CSF"), ("w_comp_cor_", "WM"))
    for prefix, mask_name in kinds:
        columns = [n for n in names if n.startswith(prefix)]
        entries = {k: v for k, v in meta.items() if v.get("Mask") == mask_name}
        retained = sorted(k for k, v in entries.items() if v["Retained"])
        assert retained == columns and columns == [f"{prefix}{k:02d}" for k in range(len(columns))]
        assert all(v["Method"] == "aCompCor" for v in entries.values())
        assert all(k.startswith("dropped_") for k, v in entries.items() if not v["Retained"])
        ordered = sorted(entries.values(), key=lambda v: -v["SingularValue"])
        variance = np.array([v["VarianceExplained"] for v in ordered])
        cumulative = np.array([v["CumulativeVarianceExplained"] for v in ordered])
        np.testing.assert_allclose(np.cumsum(variance), cumulative, rtol=1e-9)
        assert cumulative[-1] == pytest.approx(1.0)
        kept = len(columns)
        assert cumulative[kept - 1] >= 0.5 and (kept == 1 or cumulative[kept - 2] < 0.5)
        assert [v["Retained"] for v in ordered] == [True] * kept + [False] * (len(ordered) - kept)
        # the columns: orthonormal time courses, zero in the dummy rows
        x = table[:, [names.index(c) for c in columns]]
        np.testing.assert_array_equal(x[:N_DUMMY], 0.0)
        np.testing.assert_allclose(x.T @ x, np.eye(kept), atol=1e-6)
        # a PCA of the written data in the written mask gives the same values and subspace
        tissue, _ = load_image(planted.compcor_masks[mask_name])
        u, s = _compcor_reference(bold, tissue, N_DUMMY)
        singular = np.array([v["SingularValue"] for v in ordered])
        np.testing.assert_allclose(singular, s[: singular.size], rtol=1e-6)
        overlap = np.linalg.svd(u[:, :kept].T @ x[N_DUMMY:], compute_uv=False)
        assert overlap.min() > 0.999  # cosines of the principal angles
    t_entries = [v for k, v in meta.items() if k.startswith("t_comp_cor_")]
    assert t_entries and all(v["Method"] == "tCompCor" and "Mask" not in v for v in t_entries)
    assert meta["global_signal"] == {"Method": "Mean"}


# --------------------------------------------------------------------------- planted truths


def test_high_motion_runs(planted):
    for run in planted.runs:
        if run.subject in HIGH:
            assert run.high_motion and 0.55 < run.mean_fd < 1.2
            assert run.censored_fraction > 0.35
        else:
            assert not run.high_motion and run.mean_fd < 0.25
            assert run.censored_fraction <= N_SPIKES / N_VOLUMES
    assert planted.high_motion_subjects == HIGH


def test_spikes_have_fd_above_1_and_the_largest_global_signal_jumps(planted):
    for run in planted.runs:
        spikes = np.array(run.spikes)
        assert len(spikes) == N_SPIKES
        assert spikes.min() >= 6 and spikes.max() <= N_VOLUMES - 7 and np.diff(spikes).min() >= 8
        fd = _column(run, "framewise_displacement")
        assert np.all(fd[spikes] > 1.0)
        np.testing.assert_allclose(fd[spikes], run.spike_fd, rtol=0.05)
        names, table = _table(run.confounds)
        flagged = {
            int(np.argmax(table[:, i])) for i, n in enumerate(names) if "motion_outlier" in n
        }
        assert set(spikes) <= flagged
        if run.high_motion:
            continue  # bursts carry artefacts as well
        gs = _column(run, "global_signal")[N_DUMMY:]
        deviation = np.abs(gs - np.median(gs))
        assert set(np.argsort(deviation)[-N_SPIKES:] + N_DUMMY) == set(spikes)
        assert not np.isin(spikes, np.argsort(deviation)[:-N_SPIKES] + N_DUMMY).any()


def test_spike_sizes_differ_between_subjects_but_not_between_a_subjects_spikes(planted):
    sizes = {run.subject: np.array(run.spike_fd) for run in planted.runs}
    for spike_fd in sizes.values():
        assert spike_fd.max() / spike_fd.min() < 1.11
    means = np.array([s.mean() for s in sizes.values()])
    assert means.max() - means.min() > 0.3


def test_dummy_scans_are_bright_and_flagged(planted):
    run = planted.runs[2]
    names, table = _table(run.confounds)
    nss = [n for n in names if n.startswith("non_steady_state_outlier")]
    assert nss == [f"non_steady_state_outlier{k:02d}" for k in range(N_DUMMY)]
    np.testing.assert_array_equal(
        table[:, [names.index(n) for n in nss]], np.eye(N_VOLUMES, N_DUMMY)
    )
    gs = table[:, names.index("global_signal")]
    assert gs[:N_DUMMY].min() > gs[N_DUMMY:].max()
    assert np.all(np.diff(gs[:N_DUMMY]) < 0)  # decaying towards the steady state
    csf = table[:, names.index("csf")]
    white = table[:, names.index("white_matter")]
    assert csf[0] / csf[N_DUMMY:].mean() > white[0] / white[N_DUMMY:].mean()  # long T1 brightest


def test_coupled_networks_in_adults(planted):
    assert planted.coupled_networks == (0, 1) and planted.coupling == 0.5
    for run in planted.runs:
        _, timecourses = read_tsv(run.timeseries)
        r = np.corrcoef(timecourses[:, :2].T)[0, 1]
        if planted.group[run.subject] == "adult":
            assert r == pytest.approx(0.5, abs=1e-6)
        else:
            assert abs(r - 0.5) > 1e-3


def test_subject_maps_are_shifted_group_maps_that_the_data_follow(planted):
    group, _ = load_image(planted.network_maps)
    truth = json.loads(planted.truth.read_text())
    for run in planted.runs[:4]:
        subject_maps, _ = load_image(planted.subject_maps[run.subject])
        shifts = np.linalg.norm(truth["subject_shifts_mm"][run.subject], axis=1)
        assert np.all(shifts <= 8.0) and shifts.max() > 2.0
        bold, _ = load_image(run.bold)
        mask, _ = load_image(run.mask)
        _, timecourses = read_tsv(run.timeseries)
        y = bold[mask > 0][:, N_DUMMY:].T.astype(np.float64)
        y = 100 * y / y.mean(axis=0) - 100
        n = y.shape[0]
        design = np.column_stack([timecourses[N_DUMMY:], np.ones(n), np.linspace(-1, 1, n)])
        betas = np.linalg.lstsq(design, y, rcond=None)[0][:4]
        g, s = group[mask > 0], subject_maps[mask > 0]
        core = np.maximum(g, s).max(axis=1) > 0.2
        for k in range(4):
            r_subject = np.corrcoef(betas[k, core], s[core, k])[0, 1]
            r_group = np.corrcoef(betas[k, core], g[core, k])[0, 1]
            assert r_subject > 0.9 and r_subject > r_group


def _parcel_fc(run, mask, labels, parcels, censor: bool, regress: bool) -> np.ndarray:
    bold, _ = load_image(run.bold)
    series = bold[mask > 0].T.astype(np.float64)
    series = np.column_stack([series[:, labels == p].mean(axis=1) for p in parcels])
    names, table = _table(run.confounds)
    keep = np.arange(N_VOLUMES) >= N_DUMMY
    if censor:
        keep &= ~(np.nan_to_num(table[:, names.index("framewise_displacement")]) > 0.5)
    design = [np.ones(N_VOLUMES), np.arange(N_VOLUMES)]
    if regress:  # 24 motion parameters + csf + white_matter ("simple" without cosines)
        used = [n for n in names if n.startswith(("trans_", "rot_"))] + ["csf", "white_matter"]
        design += [np.nan_to_num(table[:, names.index(n)]) for n in used]
    x, y = np.column_stack(design)[keep], series[keep]
    residuals = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    return np.corrcoef(residuals.T)[np.triu_indices(len(parcels), 1)]


def test_connectivity_tracks_motion_until_censored(planted):
    """QC-FC (correlation across subjects of each edge's FC with mean FD) over 4x4x4 blocks."""
    mask, _ = load_image(planted.runs[0].mask)
    voxels = np.argwhere(mask > 0)
    labels = voxels[:, 0] // 4 * 10_000 + voxels[:, 1] // 4 * 100 + voxels[:, 2] // 4
    values, counts = np.unique(labels, return_counts=True)
    parcels = values[counts >= 20]
    mean_fd = np.array([run.mean_fd for run in planted.runs])

    def median_qcfc(censor: bool, regress: bool) -> float:
        fc = np.array([_parcel_fc(r, mask, labels, parcels, censor, regress) for r in planted.runs])
        return float(np.median([np.corrcoef(edge, mean_fd)[0, 1] for edge in fc.T]))

    raw, censored = median_qcfc(False, False), median_qcfc(True, False)
    regressed = median_qcfc(False, True)
    assert raw > 0.4 and censored < 0.2 and raw - censored > 0.3
    assert regressed > 0.25  # the high-motion artefacts are not linear in the motion parameters
    assert median_qcfc(True, True) < 0.2


# --------------------------------------------------------------------------- storage, determinism


def test_int16_runs_are_scaled_and_decode_within_1_percent(quiet, tmp_path):
    scaled = sf.make_fmriprep_dataset(tmp_path, n_subjects=2, **SMALL, dtype="int16", seed=1)
    for run, reference in zip(scaled.runs, quiet.runs, strict=True):
        with gzip.open(run.bold) as f:
            header = nib.Nifti1Header.from_fileobj(f)
        assert header.get_data_dtype() == np.int16
        slope, inter = float(header["scl_slope"]), float(header["scl_inter"])
        assert np.isfinite(slope) and slope not in (0.0, 1.0) and np.isfinite(inter)
        decoded, _ = load_image(run.bold)
        exact, _ = load_image(reference.bold)
        error = np.abs(decoded.astype(np.float64) - exact)
        mask, _ = load_image(run.mask)
        assert error.max() <= 0.51 * slope + 1e-6
        assert error.max() < 0.01 * np.median(exact[mask > 0])
        assert filecmp.cmp(run.confounds, reference.confounds, shallow=False)  # from the data


def test_runs_do_not_depend_on_the_other_subjects_or_a_rerun(quiet, tmp_path):
    one = sf.make_fmriprep_dataset(tmp_path / "one", n_subjects=1, **SMALL, seed=1)
    (run,) = one.runs
    reference = quiet.runs[0]
    for key in ("bold", "confounds", "confounds_sidecar", "sidecar", "mask", "timeseries"):
        assert filecmp.cmp(getattr(run, key), getattr(reference, key), shallow=False), key
    other_seed = sf.make_fmriprep_dataset(tmp_path / "seed", n_subjects=1, **SMALL, seed=2)
    assert not filecmp.cmp(other_seed.runs[0].bold, reference.bold, shallow=False)


def test_planted_json_round_trip(planted):
    assert sf.read_planted(planted.root) == planted
    truth = json.loads(planted.truth.read_text())
    assert truth["runs"][0]["spikes"] == list(planted.runs[0].spikes)
    assert truth["group"] == planted.group


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"high_motion_subjects": ("09",)}, r"high_motion_subjects \['09'\] are not among"),
        ({"n_spikes": 6}, "6 spikes 8 volumes apart do not fit"),
        ({"tasks": ("rest_1",)}, "tasks: BIDS labels are letters and digits only"),
        ({"coupling": 1.5}, r"coupling must be in \[0, 1\]"),
        ({"extra_task": "rest"}, "extra_task 'rest' is already one of the tasks"),
        ({"dtype": "uint8"}, "dtype must be 'float32' or 'int16'"),
        ({"n_dummy": 25}, "n_dummy must leave at least 10 steady volumes"),
        ({"subject_shift_mm": 40.0}, r"subject_shift_mm must be in \[0, 30.0\]"),
    ],
)
def test_bad_arguments_are_named(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sf.make_fmriprep_dataset(tmp_path, n_subjects=2, n_volumes=30, **kwargs)
    assert not any(tmp_path.iterdir())  # checked before anything is written
