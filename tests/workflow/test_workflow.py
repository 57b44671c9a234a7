"""The workflow as users run it: config validation, the DAG, a tiny real run and its outputs."""

from __future__ import annotations

import json
import shutil

import matplotlib.image as mpimg
import nibabel as nib
import numpy as np
import pytest
import yaml

from netregions.inputs import CONFOUNDS_SUFFIX, FUNC_SUFFIX
from netregions.io import read_table, read_tsv

from .conftest import REPO, TINY, planned_jobs, snakemake, write_config

N = TINY["data"]["n_subjects"]
RUNS = [f"sub-{i:02d}_task-pixar" for i in range(1, N + 1)]


def _load(path):
    img = nib.load(path)
    return np.asanyarray(img.dataobj), img


# --------------------------------------------------------------------------- config and DAG


def test_default_config_fans_out_over_twenty_runs(tmp_path):
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    jobs = planned_jobs(tmp_path)
    assert jobs["synthetic_subject"] == 20
    for stage in ["load_subject", "preprocess_subject", "subject_timeseries"]:
        assert jobs[stage] == 20
    for rule in ["synthetic_truth", "check_inputs", "qc", "group_mask", "decompose"]:
        assert jobs[rule] == 1, jobs
    assert jobs["extract_regions"] == 1 and jobs["provenance"] == 1


@pytest.mark.parametrize(
    "override,message",
    [
        ({"decomposition": {"smoothng_fwhm": 6}}, "'smoothng_fwhm' was unexpected"),
        ({"decomposition": {"method": "pca"}}, "'pca' is not one of ['dictlearning', 'canica']"),
        ({"regions": {"extractor": "blobs"}}, "'blobs' is not one of"),
        ({"data": {"n_subjects": 0}}, "0 is less than the minimum of 1"),
        ({"connectivity": {"kinds": ["corr"]}}, "'corr' is not one of"),
        ({"confounds": {"strategy": "aroma"}}, "'aroma' is not one of"),
        ({"figures": {"network": 3}}, "figures.network=3 but decomposition.n_components=3"),
        ({"regions": {"threshold": 9}}, "regions.threshold=9 with ratio_n_voxels"),
        ({"confounds": {"high_pass": 0.1, "low_pass": 0.01}}, "high_pass=0.1 Hz must be below"),
        ({"data": {"source": "fmriprep"}}, "data.fmriprep.dir is not set"),
        ({"mask": {"source": "fmriprep"}}, "mask.source 'fmriprep' needs data.source 'fmriprep'"),
        ({"typo_section": 1}, "'typo_section' was unexpected"),
        ({"subjects_per_job": 2}, "'subjects_per_job' was unexpected"),
        ({"qcfc": {"covariates": "age"}}, "'age' is not of type 'array'"),
    ],
)
def test_bad_config_fails_before_any_job(tmp_path, override, message):
    write_config(tmp_path, override)
    result = snakemake(tmp_path, "-n", check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def test_a_covariate_the_participants_table_lacks_fails_before_any_job(tiny_run):
    result = snakemake(tiny_run, "-n", "--config", "qcfc={covariates: [age, weight]}", check=False)
    assert result.returncode != 0
    assert (
        "qcfc.covariates: data/synthetic/participants.tsv has no column 'weight'; its columns "
        "are participant_id, group, age, sex"
    ) in result.stdout + result.stderr


def test_nested_command_line_overrides_are_typed(tmp_path):
    write_config(tmp_path)
    args = ["decomposition={alpha: 2.5, n_components: 3}", "figures={background: null}"]
    result = snakemake(tmp_path, "-n", "--config", *args, check=False)
    assert result.returncode == 0, result.stderr


def test_local_source_discovers_runs(tmp_path, tiny_run):
    data = tiny_run / "data" / "synthetic"
    local = {
        "func": f"{data}/sub-{{subject}}{FUNC_SUFFIX}",
        "confounds": f"{data}/sub-{{subject}}{CONFOUNDS_SUFFIX}",
    }
    write_config(tmp_path, {"data": {"source": "local", "local": local}})
    jobs = planned_jobs(tmp_path)
    assert jobs["load_subject"] == N
    assert "synthetic_subject" not in jobs


def test_the_synthetic_runs_have_sidecars_so_their_tr_raises_no_warning(tiny_run):
    data = tiny_run / "data" / "synthetic"
    for run in RUNS:
        path = data / f"{run}_space-MNI152NLin2009cAsym_desc-preproc_bold.json"
        assert json.loads(path.read_text()) == {"RepetitionTime": 2.0, "TaskName": "pixar"}
    logs = [p.read_text() for p in (tiny_run / "results" / "logs").rglob("*.log")]
    assert logs and not any("no JSON sidecar" in text for text in logs)


@pytest.mark.slow
def test_the_group_column_is_checked_by_check_inputs(tmp_path):
    # 4 synthetic subjects (seed 1): 2 children, 2 adults
    def configure(column, n_splits):
        comparison = {"column": column, "n_splits": n_splits}
        write_config(tmp_path, {"data": {"n_subjects": 4}, "group_comparison": comparison})

    target = "results/inputs.tsv"
    log = tmp_path / "results" / "logs" / "check_inputs" / "job.log"
    configure("group", 2)
    snakemake(tmp_path, "--cores", "2", target)
    # both settings are params of check_inputs: a change re-checks
    configure("sex", 2)
    assert planned_jobs(tmp_path, target) == {"check_inputs": 1}
    configure("group", 3)
    assert planned_jobs(tmp_path, target) == {"check_inputs": 1}
    failed = snakemake(tmp_path, "--cores", "1", target, check=False)
    assert failed.returncode != 0
    assert (
        "data/synthetic/participants.tsv: group 'adult' has 2 subjects; group 'child' has 2 "
        "subjects, 3 are needed for 3-fold stratified cross-validation "
        "(group_comparison.column='group'), among the 4 selected subjects"
    ) in log.read_text()
    assert not (tmp_path / "results" / "inputs.tsv").exists()
    # the table exists now: a column it lacks stops the workflow while it is parsed
    configure("diagnosis", 2)
    failed = snakemake(tmp_path, "-n", target, check=False)
    assert failed.returncode != 0
    assert (
        "group_comparison.column: data/synthetic/participants.tsv has no column 'diagnosis'"
    ) in failed.stderr + failed.stdout


# --------------------------------------------------------------------------- a real run


def test_tiny_run_writes_every_contract_output(tiny_run):
    results = tiny_run / "results"
    config = yaml.safe_load((tiny_run / "config.yaml").read_text())
    n_components = config["decomposition"]["n_components"]
    n_volumes = config["data"]["synthetic"]["n_volumes"]

    mask, mask_img = _load(results / "group" / "mask.nii.gz")
    assert mask.dtype == np.uint8 and mask.ndim == 3 and set(np.unique(mask)) == {0, 1}

    components, img = _load(results / "group" / "components.nii.gz")
    assert components.dtype == np.float32 and components.shape == (*mask.shape, n_components)
    np.testing.assert_array_equal(img.affine, mask_img.affine)
    assert not components[mask == 0].any()

    regions, _ = _load(results / "group" / "regions.nii.gz")
    header, table = read_tsv(results / "group" / "regions.tsv")
    assert header == ["region", "component", "n_voxels", "volume_mm3", "x", "y", "z"]
    n_regions = regions.shape[3]
    assert regions.dtype == np.float32 and table.shape[0] == n_regions >= 1
    np.testing.assert_array_equal(table[:, 0], np.arange(1, n_regions + 1))
    np.testing.assert_array_equal(table[:, 2], (regions != 0).sum(axis=(0, 1, 2)))

    atlas, _ = _load(results / "group" / "atlas-netregions_dseg.nii.gz")
    assert atlas.dtype.kind == "i" and set(np.unique(atlas)) <= set(range(n_regions + 1))
    atlas_rows = read_table(results / "group" / "atlas-netregions_dseg.tsv")
    assert [int(r["index"]) for r in atlas_rows] == list(range(1, n_regions + 1))
    atlas_sidecar = json.loads((results / "group" / "atlas-netregions_dseg.json").read_text())
    assert set(list(atlas_rows[0])[2:]) == {"component", "n_voxels", "x", "y", "z"}
    assert {"component", "n_voxels", "x", "y", "z"} <= set(atlas_sidecar)
    assert "SpatialReference" not in atlas_sidecar  # synthetic data: no template

    for run in RUNS:
        folder = results / run.split("_")[0] / "func"
        ts_header, ts = read_tsv(folder / f"{run}_seg-netregions_timeseries.tsv")
        assert ts_header == [str(i) for i in range(1, n_regions + 1)]
        assert ts.shape == (n_volumes, n_regions)
        np.testing.assert_allclose(ts.std(axis=0, ddof=1), 1, atol=1e-4)
        sidecar = json.loads((folder / f"{run}_seg-netregions_timeseries.json").read_text())
        assert sidecar["SamplingFrequency"] == 0.5 and sidecar["ConfoundStrategy"] == "columns"
        assert sidecar["NumberOfVolumesKept"] == n_volumes
        assert len(sidecar["ConfoundColumns"]) == 15
        _, corr = read_tsv(folder / f"{run}_seg-netregions_stat-correlation_relmat.tsv")
        assert corr.shape == (n_regions, n_regions)
        np.testing.assert_allclose(corr, corr.T, atol=1e-6)
        np.testing.assert_array_equal(np.diag(corr), 1)
        relmat = json.loads(
            (folder / f"{run}_seg-netregions_stat-correlation_relmat.json").read_text()
        )
        assert relmat["RelationshipMeasure"] == "Pearson correlation coefficient"
        assert relmat["NumberOfVolumes"] == relmat["NumberOfVolumesKept"] == n_volumes
        # Sources are BIDS URIs of files of the results: the run's time series, then the nodes
        assert (
            relmat["Sources"][0] == f"bids::sub-{run[4:6]}/func/{run}_seg-netregions_timeseries.tsv"
        )
        assert relmat["Sources"][1:] == sidecar["Sources"]
        for uri in relmat["Sources"]:
            assert (results / uri.removeprefix("bids::")).is_file(), uri

    _, mean = read_tsv(results / "group" / "connectome_correlation_mean.tsv")
    assert mean.shape == (n_regions, n_regions)

    qc = read_table(results / "group" / "qc.tsv")
    assert [row["run"] for row in qc] == RUNS
    contract_columns = "run subject n_volumes n_censored mean_fd included reason"
    assert " ".join(list(qc[0])[:7]) == contract_columns
    assert all(row["included"] == "true" and row["reason"] == "" for row in qc)
    assert {row["group"] for row in qc} == {"child", "adult"}  # the participants' columns

    description = json.loads((results / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative"
    assert description["GeneratedBy"][0]["Name"] == "netregions"
    bidsignore = (results / ".bidsignore").read_text().splitlines()
    assert {"/group", "/work", "*_relmat.tsv"} <= set(bidsignore)
    assert (results / "README.md").read_text().startswith("# netregions results\n")

    names = ["components", "regions", "matrix", "connectome", "network_1", "network_1_regions"]
    for name in [*names, "qc_motion", "qcfc"]:
        image = mpimg.imread(results / "figures" / f"{name}.png")
        assert image.shape[0] > 200 and image[..., :3].std() > 0.05

    for rule in ["check_inputs", "group_mask", "decompose", "extract_regions", "plot_regions"]:
        bench = (results / "benchmarks" / rule / "job.tsv").read_text().splitlines()
        assert bench[0].startswith("s\th:m:s\tmax_rss") and len(bench) == 2
    for stage in ["load_subject", "preprocess_subject"]:
        files = sorted(p.stem for p in (results / "benchmarks" / stage).iterdir())
        assert files == RUNS

    provenance = json.loads((results / "provenance.json").read_text())
    assert provenance["config"]["decomposition"]["n_components"] == n_components
    assert provenance["packages"]["numpy"] == np.__version__
    assert set(provenance["inputs"]) == set(RUNS)
    assert provenance["inputs"][RUNS[0]]["bold"]["bytes"] > 0
    assert provenance["start"] <= provenance["end"]


def test_intermediates_stay_within_the_disk_budget(tiny_run):
    # beyond the results, only in-mask float32 data and small files are kept (no decoded run)
    results = tiny_run / "results"
    inputs = sum(p.stat().st_size for p in (tiny_run / "data" / "synthetic").glob("*_bold.nii.gz"))
    work = sum(p.stat().st_size for p in (results / "work").rglob("*") if p.is_file())
    assert work < 0.6 * inputs, (work, inputs)


def test_report_bundles_every_figure(tiny_run):
    snakemake(tiny_run, "--report", "results/report.html")
    html = (tiny_run / "results" / "report.html").read_text()
    for name in ["components", "regions", "matrix", "connectome", "network_1", "qc_motion", "qcfc"]:
        assert f"{name}.png" in html


def test_noop_rerun_leaves_provenance_alone(tiny_run):
    path = tiny_run / "results" / "provenance.json"
    before = path.stat().st_mtime_ns
    snakemake(tiny_run, "--cores", "1")
    assert path.stat().st_mtime_ns == before


def test_tiny_run_recovers_the_planted_networks(tiny_run):
    """Each planted network is found once, clearly (Hungarian matching on |correlation|).

    The planted maps are smooth blobs with wide faint halos while dictionary-learning maps are
    sparse, so even a perfect recovery correlates ~0.85 with them at default size; on this
    tiny dataset (3 subjects x 40 volumes at noise 1) matches measure 0.73-0.78. A match above
    0.6 with every other pairing below 0.25 identifies each network unambiguously.
    """
    from scipy.optimize import linear_sum_assignment

    mask = _load(tiny_run / "results" / "group" / "mask.nii.gz")[0].astype(bool)
    found = _load(tiny_run / "results" / "group" / "components.nii.gz")[0][mask].T
    truth = _load(tiny_run / "data" / "synthetic" / "truth_networks.nii.gz")[0][mask].T
    corr = np.abs(np.corrcoef(np.vstack([found, truth]))[: len(found), len(found) :])
    rows, cols = linear_sum_assignment(-corr)
    assert corr[rows, cols].min() > 0.6, corr.round(2)
    others = corr.copy()
    others[rows, cols] = 0
    assert others.max() < 0.25, corr.round(2)


def _local_copy(tmp_path, tiny_run, subjects=("01", "02", "03")):
    source = tiny_run / "data" / "synthetic"
    data = tmp_path / "data"
    data.mkdir()
    for subject in subjects:
        for suffix in (FUNC_SUFFIX, CONFOUNDS_SUFFIX):
            shutil.copy(source / f"sub-{subject}{suffix}", data)
    return data


def test_bad_input_stops_the_run_with_a_message_naming_it(tmp_path, tiny_run):
    data = _local_copy(tmp_path, tiny_run, ("01", "02"))
    confounds = data / f"sub-02{CONFOUNDS_SUFFIX}"
    confounds.write_text("\n".join(confounds.read_text().splitlines()[:-3]) + "\n")
    local = {
        "func": f"{data}/sub-{{subject}}{FUNC_SUFFIX}",
        "confounds": f"{data}/sub-{{subject}}{CONFOUNDS_SUFFIX}",
    }
    write_config(tmp_path, {"data": {"source": "local", "local": local}})
    result = snakemake(tmp_path, "--cores", "1", check=False)
    assert result.returncode != 0
    n_volumes = TINY["data"]["synthetic"]["n_volumes"]
    out = result.stdout + result.stderr
    assert "sub-02_task-pixar" in out and f"{n_volumes - 3}" in out and str(confounds) in out
    assert not (tmp_path / "results" / "group").exists()  # stopped before any group step


def test_corrupt_run_fails_its_job_naming_the_run_and_leaves_no_output(tmp_path, tiny_run):
    data = _local_copy(tmp_path, tiny_run)
    bold = data / f"sub-02{FUNC_SUFFIX}"
    raw = bytearray(bold.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)  # the header still reads: check passes
    bold.write_bytes(bytes(raw))
    local = {"func": f"{data}/sub-{{subject}}{FUNC_SUFFIX}", "confounds": None}
    write_config(tmp_path, {"data": {"source": "local", "local": local}})
    result = snakemake(tmp_path, "--cores", "1", "--keep-going", check=False)
    assert result.returncode != 0
    log = (tmp_path / "results" / "logs" / "load_subject" / "sub-02_task-pixar.log").read_text()
    assert f"sub-02_task-pixar: cannot decode image data of {bold}" in log
    work = tmp_path / "results" / "work"
    assert not any((work / "sub-02_task-pixar").glob("*"))
    assert (work / "sub-03_task-pixar" / "stats.json").exists()
