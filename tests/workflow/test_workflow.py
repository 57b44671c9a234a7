"""The workflow as users run it: config validation, the DAG, a tiny real run and its outputs."""

from __future__ import annotations

import json
import shutil

import matplotlib.image as mpimg
import nibabel as nib
import numpy as np
import pytest
import yaml

from netregions.io import read_tsv
from netregions.workflow import CONFOUNDS_SUFFIX, FUNC_SUFFIX

from .conftest import REPO, TINY, planned_jobs, planned_rules, snakemake, write_config


def _load(path):
    img = nib.load(path)
    return np.asanyarray(img.dataobj), img


# --------------------------------------------------------------------------- config and DAG


def test_default_config_fans_out_over_twenty_subjects_in_two_batches(tmp_path):
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    rules = planned_rules(tmp_path)
    assert rules["synthetic_subject"] == 20
    for stage in ["load_subject", "preprocess_subject", "subject_timeseries"]:
        batches = {r for r in rules if r.startswith(stage)}
        assert batches == {f"{stage}_sub-01_to_sub-10", f"{stage}_sub-11_to_sub-20"}, rules
    jobs = planned_jobs(tmp_path)
    for rule in ["synthetic_truth", "check_inputs", "group_mask", "decompose", "extract_regions"]:
        assert jobs[rule] == 1, jobs


@pytest.mark.parametrize(
    "override,message",
    [
        ({"decomposition": {"smoothng_fwhm": 6}}, "'smoothng_fwhm' was unexpected"),
        ({"decomposition": {"method": "pca"}}, "'pca' is not one of ['dictlearning', 'canica']"),
        ({"regions": {"extractor": "blobs"}}, "'blobs' is not one of"),
        ({"data": {"n_subjects": 0}}, "0 is less than the minimum of 1"),
        ({"connectivity": {"kinds": ["corr"]}}, "'corr' is not one of"),
        ({"figures": {"network": 3}}, "figures.network=3 but decomposition.n_components=3"),
        ({"regions": {"threshold": 9}}, "regions.threshold=9 with ratio_n_voxels"),
        ({"typo_section": 1}, "'typo_section' was unexpected"),
        ({"subjects_per_job": 0}, "0 is less than the minimum of 1"),
    ],
)
def test_bad_config_fails_before_any_job(tmp_path, override, message):
    write_config(tmp_path, override)
    result = snakemake(tmp_path, "-n", check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def test_nested_command_line_overrides_are_typed(tmp_path):
    write_config(tmp_path)
    result = snakemake(
        tmp_path, "-n", "--config", "decomposition={alpha: 2.5, n_components: 3}", check=False
    )
    assert result.returncode == 0, result.stderr


def test_local_source_discovers_subjects(tmp_path, tiny_run):
    data = tiny_run / "data" / "synthetic"
    local = {
        "func": f"{data}/sub-{{subject}}{FUNC_SUFFIX}",
        "confounds": f"{data}/sub-{{subject}}{CONFOUNDS_SUFFIX}",
    }
    write_config(tmp_path, {"data": {"source": "local", "local": local}})
    jobs = planned_jobs(tmp_path)
    assert jobs["load_subject"] == -(-TINY["data"]["n_subjects"] // TINY["subjects_per_job"])
    assert "synthetic_subject" not in jobs


# --------------------------------------------------------------------------- a real run


def test_tiny_run_writes_every_contract_output(tiny_run):
    results = tiny_run / "results"
    config = yaml.safe_load((tiny_run / "config.yaml").read_text())
    n_components = config["decomposition"]["n_components"]
    n_volumes = config["data"]["synthetic"]["n_volumes"]
    subjects = [f"{i:02d}" for i in range(1, config["data"]["n_subjects"] + 1)]

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

    for subject in subjects:
        folder = results / "subjects" / f"sub-{subject}"
        ts_header, ts = read_tsv(folder / "timeseries.tsv")
        assert ts_header == [str(i) for i in range(1, n_regions + 1)]
        assert ts.shape == (n_volumes, n_regions)
        np.testing.assert_allclose(ts.std(axis=0, ddof=1), 1, atol=1e-4)
        _, corr = read_tsv(folder / "connectome_correlation.tsv")
        assert corr.shape == (n_regions, n_regions)
        np.testing.assert_allclose(corr, corr.T, atol=1e-6)
        np.testing.assert_array_equal(np.diag(corr), 1)

    _, mean = read_tsv(results / "group" / "connectome_correlation_mean.tsv")
    assert mean.shape == (n_regions, n_regions)

    for name in ["components", "regions", "matrix", "connectome", "network_1", "network_1_regions"]:
        image = mpimg.imread(results / "figures" / f"{name}.png")
        assert image.shape[0] > 200 and image[..., :3].std() > 0.05

    for rule in ["check_inputs", "group_mask", "decompose", "extract_regions", "plot_regions"]:
        bench = (results / "benchmarks" / f"{rule}.tsv").read_text().splitlines()
        assert bench[0].startswith("s\th:m:s\tmax_rss") and len(bench) == 2
    batches = ["sub-01_to_sub-02", "sub-03"]  # two subjects per job (TINY)
    for stage in ["load_subject", "preprocess_subject", "subject_timeseries"]:
        # Snakemake's file per batch job, and one per subject (the contract's names): the
        # batch's own timing files, or Snakemake's for the one-subject batch sub-03
        files = sorted(p.stem for p in (results / "benchmarks" / stage).iterdir())
        assert files == ["sub-01", "sub-01_to_sub-02", "sub-02", "sub-03"]
        assert sorted(p.stem for p in (results / "logs" / stage).iterdir()) == batches
        for name in files:
            bench = (results / "benchmarks" / stage / f"{name}.tsv").read_text().splitlines()
            assert bench[0].startswith("s\th:m:s\tmax_rss") and len(bench) == 2
    log = (results / "logs" / "preprocess_subject" / "sub-01_to_sub-02.log").read_text()
    assert "sub-01 done in" in log and "sub-02 done in" in log
    for rule, wildcard in [("load_subject", "sub-03"), ("connectivity", "correlation")]:
        bench = (results / "benchmarks" / rule / f"{wildcard}.tsv").read_text().splitlines()
        assert bench[0].startswith("s\th:m:s\tmax_rss") and len(bench) == 2

    provenance = json.loads((results / "provenance.json").read_text())
    assert provenance["config"]["decomposition"]["n_components"] == n_components
    assert provenance["packages"]["numpy"] == np.__version__
    assert set(provenance["inputs"]) == set(subjects)
    assert provenance["inputs"]["01"]["func"]["bytes"] > 0
    assert provenance["start"] <= provenance["end"]


def test_report_bundles_every_figure(tiny_run):
    snakemake(tiny_run, "--report", "results/report.html")
    html = (tiny_run / "results" / "report.html").read_text()
    for name in ["components", "regions", "matrix", "connectome", "network_1", "network_1_regions"]:
        assert f"{name}.png" in html


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


def test_bad_input_stops_the_run_with_a_message_naming_it(tmp_path, tiny_run):
    source = tiny_run / "data" / "synthetic"
    data = tmp_path / "data"
    data.mkdir()
    for subject in ("01", "02"):
        for suffix in (FUNC_SUFFIX, CONFOUNDS_SUFFIX):
            shutil.copy(source / f"sub-{subject}{suffix}", data)
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
    expected = f"sub-02: confounds have {n_volumes - 3} rows but the BOLD run has {n_volumes}"
    assert expected in result.stdout + result.stderr
    assert not (tmp_path / "results" / "group").exists()  # stopped before any group step


def test_corrupt_run_fails_its_batch_naming_the_subject_and_leaves_no_output(tmp_path, tiny_run):
    source = tiny_run / "data" / "synthetic"
    data = tmp_path / "data"
    data.mkdir()
    for subject in ("01", "02", "03"):
        shutil.copy(source / f"sub-{subject}{FUNC_SUFFIX}", data)
    bold = data / f"sub-02{FUNC_SUFFIX}"
    raw = bytearray(bold.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)  # the header still reads: check passes
    bold.write_bytes(bytes(raw))
    local = {"func": f"{data}/sub-{{subject}}{FUNC_SUFFIX}", "confounds": None}
    write_config(tmp_path, {"data": {"source": "local", "local": local}})
    result = snakemake(tmp_path, "--cores", "1", "--keep-going", check=False)
    assert result.returncode != 0
    log = (tmp_path / "results" / "logs" / "load_subject" / "sub-01_to_sub-02.log").read_text()
    assert f"sub-02: cannot decode image data of {bold}" in log
    subjects = tmp_path / "results" / "subjects"
    # the failed batch (sub-01, sub-02) leaves nothing, although sub-01 was decoded first;
    # the other batch (sub-03) finished
    assert not any((subjects / "sub-01").glob("*"))
    assert not (subjects / "sub-02" / "bold.npy").exists()
    assert (subjects / "sub-03" / "bold.npy").exists()
