"""An fMRIPrep derivatives folder through the whole workflow, with every feature turned on.

One tiny dataset (8 subjects, two sessions each, an extra task to ignore, a high-motion
subject, motion spikes, dummy scans, two groups with a planted coupling) runs once with the
scrubbing preset, a QC exclusion rule, three seeds, dual regression, the tangent kind and a
group comparison; the tests read what it wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from netregions.data.synthetic_fmriprep import make_fmriprep_dataset
from netregions.io import read_table, read_tsv

from .conftest import planned_jobs, snakemake, write_config

HIGH_MOVER = "03"


@pytest.fixture(scope="module")
def fmriprep_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("fmriprep")
    dataset = make_fmriprep_dataset(
        root / "derivatives",
        n_subjects=8,
        sessions=("1", "2"),
        extra_task="nback",
        shape=(20, 24, 20),
        n_volumes=60,
        n_networks=3,
        high_motion_subjects=(HIGH_MOVER,),
        n_spikes=2,
        n_dummy=2,
        coupling=0.6,
        seed=3,
    )
    override = {
        "data": {
            "source": "fmriprep",
            "fmriprep": {"dir": str(dataset.root), "task": "rest"},
        },
        "confounds": {"strategy": "scrubbing", "high_pass": 0.01},
        "qc": {"max_mean_fd": 0.5},
        "mask": {"source": "fmriprep"},
        "decomposition": {"n_runs": 3, "n_components": 3, "alpha": 2},
        "dual_regression": True,
        "connectivity": {"kinds": ["correlation", "tangent"]},
        "group_comparison": {
            "column": "group",
            "n_splits": 3,
            "n_repeats": 2,
            "n_permutations": 9,
        },
    }
    workdir = root / "work"
    workdir.mkdir()
    write_config(workdir, override)
    planned = planned_jobs(workdir)
    snakemake(workdir, "--cores", "2")
    return {"dataset": dataset, "results": workdir / "results", "planned": planned}


def test_fmriprep_mask_source_without_a_runs_mask_fails_before_any_job(tmp_path):
    dataset = make_fmriprep_dataset(
        tmp_path / "derivatives",
        n_subjects=2,
        runs=(1, 2),
        shape=(12, 12, 12),
        n_volumes=20,
        n_networks=2,
        seed=4,
    )
    removed = ["sub-01_task-rest_run-2", "sub-02_task-rest_run-1"]
    for run in dataset.runs:
        if run.name in removed:
            run.mask.unlink()
    workdir = tmp_path / "work"
    workdir.mkdir()
    override = {
        "data": {"source": "fmriprep", "fmriprep": {"dir": str(dataset.root)}},
        "mask": {"source": "fmriprep"},
    }
    write_config(workdir, override)
    result = snakemake(workdir, "-n", check=False)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"but 2 runs have none: {', '.join(removed)} " in out, out
    assert "set mask.source: epi" in out
    assert not (workdir / "results").exists()
    # the same folder plans with mask.source: epi
    write_config(workdir, {**override, "mask": {"source": "epi"}})
    assert planned_jobs(workdir)["load_subject"] == 4


def _rest_runs(dataset):
    return [run for run in dataset.runs if run.task == "rest"]


@pytest.mark.slow
def test_the_plan_stops_at_the_qc_checkpoint_when_runs_may_be_excluded(fmriprep_run):
    planned = fmriprep_run["planned"]
    assert planned["load_subject"] == 16  # 8 subjects x 2 sessions of the task; nback ignored
    assert "qc" in planned and "group_mask" not in planned


def test_runs_are_found_with_their_entities_and_written_as_bids(fmriprep_run):
    results, dataset = fmriprep_run["results"], fmriprep_run["dataset"]
    qc = read_table(results / "group" / "qc.tsv")
    assert [row["run"] for row in qc] == sorted(run.name for run in _rest_runs(dataset))
    assert {row["session"] for row in qc} == {"1", "2"} and {row["task"] for row in qc} == {"rest"}
    run = next(r for r in _rest_runs(dataset) if r.subject == "01" and r.session == "2")
    folder = results / "sub-01" / "ses-2" / "func"
    assert (folder / f"{run.name}_seg-netregions_timeseries.tsv").exists()
    for kind in ("correlation", "tangent"):
        assert (folder / f"{run.name}_seg-netregions_stat-{kind}_relmat.tsv").exists()
    assert (folder / f"{run.name}_desc-dualreg_components.nii.gz").exists()
    description = json.loads((results / "dataset_description.json").read_text())
    assert description["SourceDatasets"] == [{"URL": f"file://{dataset.root}"}]
    atlas = json.loads((results / "group" / "atlas-netregions_dseg.json").read_text())
    # data.fmriprep.space, the default MNI152NLin2009cAsym
    assert atlas["SpatialReference"] == "https://github.com/templateflow/tpl-MNI152NLin2009cAsym"


def test_qc_excludes_exactly_the_high_mover_from_everything_downstream(fmriprep_run):
    results = fmriprep_run["results"]
    qc = read_table(results / "group" / "qc.tsv")
    excluded = {row["run"] for row in qc if row["included"] == "false"}
    assert excluded and {run.split("_")[0] for run in excluded} == {f"sub-{HIGH_MOVER}"}
    assert all("qc.max_mean_fd 0.5" in row["reason"] for row in qc if row["run"] in excluded)
    assert {row["group"] for row in qc} == {"child", "adult"}  # the participants' columns
    for run in excluded:  # never preprocessed, no time series
        assert not (results / "work" / run / "smoothed.npy").exists()
        assert not list(results.rglob(f"{run}_seg-netregions_timeseries.tsv"))
    log = (results / "logs" / "qc" / "job.log").read_text()
    assert f"{sorted(excluded)[0]} excluded: mean FD" in log
    classification = read_table(results / "group" / "classification.tsv")
    assert all(row["n_excluded_qc"] == "1" and row["n_subjects"] == "7" for row in classification)


def test_scrubbing_censors_the_planted_spikes_and_dummy_scans(fmriprep_run):
    results, dataset = fmriprep_run["results"], fmriprep_run["dataset"]
    for run in _rest_runs(dataset):
        if run.high_motion:
            continue
        folder = results / f"sub-{run.subject}" / f"ses-{run.session}" / "func"
        sidecar = json.loads((folder / f"{run.name}_seg-netregions_timeseries.json").read_text())
        assert sidecar["DummyVolumes"] == 2
        assert set(run.spikes) <= set(sidecar["CensoredVolumes"])
        kept = sidecar["VolumesKept"]
        assert not set(run.spikes) & set(kept) and not {0, 1} & set(kept)
        _, series = read_tsv(folder / f"{run.name}_seg-netregions_timeseries.tsv")
        assert series.shape[0] == len(kept) == sidecar["NumberOfVolumesKept"]
        assert sidecar["ConfoundStrategy"] == "scrubbing" and "csf" in sidecar["ConfoundColumns"]
        for kind in ("correlation", "tangent"):  # the tangent step reads the count acquired
            name = f"{run.name}_seg-netregions_stat-{kind}_relmat.json"
            relmat = json.loads((folder / name).read_text())
            assert relmat["NumberOfVolumes"] == 60 == sidecar["NumberOfVolumes"]
            assert relmat["NumberOfVolumesKept"] == len(kept)


def test_consensus_of_three_seeds_and_dual_regression(fmriprep_run):
    results, dataset = fmriprep_run["results"], fmriprep_run["dataset"]
    stability = read_table(results / "group" / "stability.tsv")
    assert len(stability) == 3 and {row["n_runs"] for row in stability} == {"3"}
    values = [float(row["stability"]) for row in stability]
    assert all(0 <= v <= 1 for v in values) and values == sorted(values, reverse=True)
    components = nib.load(results / "group" / "components.nii.gz")
    run = next(r for r in _rest_runs(dataset) if not r.high_motion)
    folder = results / f"sub-{run.subject}" / f"ses-{run.session}" / "func"
    maps = nib.load(folder / f"{run.name}_desc-dualreg_components.nii.gz")
    assert maps.shape == components.shape
    header, tcs = read_tsv(folder / f"{run.name}_desc-dualreg_timeseries.tsv")
    # the planted dummy scans are left out, the censored volumes kept (no censoring here)
    steady = list(range(run.n_dummy, 60))
    assert header == ["network_00", "network_01", "network_02"]
    assert tcs.shape == (len(steady), 3)
    sidecar = json.loads((folder / f"{run.name}_desc-dualreg_timeseries.json").read_text())
    assert sidecar["NumberOfVolumes"] == 60 and sidecar["VolumesKept"] == steady
    assert sidecar["NumberOfVolumesKept"] == len(steady) and 0 < run.n_dummy < 60
    assert sidecar["SamplingFrequency"] == 1 / sidecar["RepetitionTime"]
    assert [key for key in sidecar if key.startswith("network_")] == header
    mask = np.asanyarray(nib.load(results / "group" / "mask.nii.gz").dataobj) > 0
    assert not np.asanyarray(maps.dataobj)[~mask].any()


def test_group_comparison_outputs(fmriprep_run):
    results = fmriprep_run["results"]
    rows = read_table(results / "group" / "classification.tsv")
    assert [row["kind"] for row in rows] == ["correlation", "tangent"]
    for row in rows:
        assert 0 <= float(row["balanced_accuracy"]) <= 1 and 0 < float(row["p_value"]) <= 1
    n_regions = len(read_table(results / "group" / "regions.tsv"))
    for kind in ("correlation", "tangent"):
        edges = read_table(results / "group" / f"edges_{kind}.tsv")
        assert len(edges) == n_regions * (n_regions - 1) // 2  # every edge of the regions
        assert {"region_i", "region_j", "t", "p", "q", "significant"} <= set(edges[0])
    for name in ("classification", "edges_correlation", "edges_tangent", "stability", "qcfc"):
        assert Path(results / "figures" / f"{name}.png").stat().st_size > 10_000
