"""Incremental reruns, determinism across core counts, and interrupted runs.

Rerun plans are read from dry runs (``snakemake -n``) with the change applied through
``--config``, so each case costs a DAG build, not a run.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from netregions.io import read_table

from .conftest import REPO, SNAKEMAKE, TINY, planned_jobs, snakemake

N = TINY["data"]["n_subjects"]
GROUP_STEPS = {"check_inputs", "qc", "group_mask", "decompose", "extract_regions", "connectivity"}


@pytest.fixture
def run_copy(tiny_run, tmp_path) -> Path:
    """A private copy of the finished tiny run (files, mtimes and Snakemake metadata)."""
    target = tmp_path / "copy"
    shutil.copytree(tiny_run, target, symlinks=True)
    return target


def test_noop_rerun_plans_nothing(tiny_run):
    assert planned_jobs(tiny_run) == {}


def test_region_threshold_reruns_regions_and_downstream_only(tiny_run):
    jobs = planned_jobs(tiny_run, "--config", "regions={threshold: 1.5}")
    assert jobs.pop("extract_regions") == 1
    assert jobs.pop("subject_timeseries") == N
    assert jobs.pop("connectivity") == 1
    assert set(jobs) == {
        "plot_regions",
        "plot_connectome",
        "qcfc",
        "plot_qc",
        "provenance",
        "default",
    }


def test_censoring_threshold_redraws_the_motion_figure(tiny_run):
    # the motion figure depends on the motion settings, not on the regions (above)
    jobs = planned_jobs(tiny_run, "--config", "confounds={fd_threshold: 0.3}")
    assert jobs["qc"] == 1 and jobs["plot_motion"] == 1 and jobs["subject_timeseries"] == N
    assert "extract_regions" not in jobs


def test_smoothing_fwhm_reruns_preprocessing_not_masks(tiny_run):
    jobs = planned_jobs(tiny_run, "--config", "decomposition={smoothing_fwhm: 5.0}")
    assert jobs["preprocess_subject"] == N and jobs["decompose"] == 1
    assert jobs["subject_timeseries"] == N
    assert not {"load_subject", "group_mask", "synthetic_subject", "check_inputs", "qc"} & set(jobs)


def test_mask_settings_decode_each_run_once(tiny_run):
    jobs = planned_jobs(tiny_run, "--config", "mask={opening: 1}")
    assert jobs["group_mask"] == 1 and jobs["preprocess_subject"] == N  # one decode per run
    assert "load_subject" not in jobs


def test_connectivity_kinds_rerun_only_what_the_new_kind_needs(tiny_run):
    jobs = planned_jobs(tiny_run, "--config", "connectivity={kinds: [correlation, tangent]}")
    assert jobs == {
        "connectivity": 1,
        "tangent_connectome": N,
        "qcfc": 1,
        "plot_qc": 1,
        "provenance": 1,
        "default": 1,
    }


def test_adding_a_subject_runs_its_jobs_and_the_group_steps(tiny_run):
    jobs = planned_jobs(tiny_run, "--config", f"data={{n_subjects: {N + 1}}}")
    assert jobs["synthetic_subject"] == 1 and jobs["load_subject"] == 1
    # the group mask changes with every subject: every run is preprocessed again
    assert jobs["preprocess_subject"] == N + 1 and jobs["subject_timeseries"] == N + 1
    assert set(jobs) >= GROUP_STEPS


def test_touching_an_input_reruns_that_run(run_copy):
    bold = next((run_copy / "data" / "synthetic").glob("sub-02_*_bold.nii.gz"))
    later = time.time() + 5
    os.utime(bold, (later, later))
    jobs = planned_jobs(run_copy)
    assert jobs["load_subject"] == 1
    assert "synthetic_subject" not in jobs
    assert jobs["check_inputs"] == 1 and jobs["group_mask"] == 1


def test_touching_a_small_intermediate_reruns_its_consumers(run_copy):
    # profiles/default turns Snakemake's input checksums off: a small file (under 1 MB) rewritten
    # with the same bytes reruns what reads it, as a large one does (the checksums, computed
    # once per input and output pair of the fan-in jobs, would have spared these jobs)
    mean = run_copy / "results" / "work" / "sub-01_task-pixar" / "mean.nii.gz"
    assert mean.stat().st_size < 1_000_000
    later = time.time() + 5
    os.utime(mean, (later, later))
    jobs = planned_jobs(run_copy)
    assert jobs["group_mask"] == 1 and jobs["decompose"] == 1
    assert not {"load_subject", "synthetic_subject", "check_inputs"} & set(jobs)


def test_edited_figure_setting_reruns_only_that_figure(tiny_run):
    jobs = planned_jobs(tiny_run, "--config", "figures={edge_threshold: '80%'}")
    assert jobs == {"plot_connectome": 1, "provenance": 1, "default": 1}


def test_shown_network_redraws_the_two_figures_that_draw_it(tiny_run):
    # its map is drawn with the network maps (plot_components), its regions with the regions
    jobs = planned_jobs(tiny_run, "--config", "figures={network: 0}")
    assert jobs == {"plot_components": 1, "plot_regions": 1, "provenance": 1, "default": 1}


def test_qcfc_covariates_rerun_the_check_and_the_qcfc_only(tiny_run):
    # check_inputs checks the columns before compute; nothing upstream of the QC-FC reruns
    jobs = planned_jobs(tiny_run, "--config", "qcfc={covariates: [age]}")
    assert jobs == {"check_inputs": 1, "qcfc": 1, "plot_qc": 1, "provenance": 1, "default": 1}


def test_qcfc_covariates_reach_the_step(run_copy):
    snakemake(run_copy, "--cores", "1", "--config", "qcfc={covariates: [sex, age]}")
    results = run_copy / "results"
    (row,) = read_table(results / "group" / "qcfc.tsv")
    # synthetic sexes F, M, F: F is the reference; 3 subjects are too few for 2 covariates
    assert row["covariates"] == "sex[M],age" and row["n_subjects"] == str(N)
    log = (results / "logs" / "qcfc" / "job.log").read_text()
    assert "partial correlation removing sex[M], age; sex: reference level 'F'" in log
    assert (
        "covariates=['sex', 'age']" in (results / "logs" / "check_inputs" / "job.log").read_text()
    )
    assert planned_jobs(run_copy, "--config", "qcfc={covariates: [sex, age]}") == {}


def _outputs(results: Path) -> list[Path]:
    keep = (".nii.gz", ".tsv", ".npy", ".json")
    skip = {"benchmarks", "logs"}
    return sorted(
        p.relative_to(results)
        for p in results.rglob("*")
        if p.name.endswith(keep)
        and not skip & set(p.relative_to(results).parts)
        and p.name != "provenance.json"
    )


def _assert_same_files(first: Path, second: Path, files: list[Path]) -> None:
    """Every file in ``files`` is byte-identical in both result folders (images: data first)."""
    for rel in files:
        if rel.name.endswith(".nii.gz"):
            a, b = nib.load(first / rel), nib.load(second / rel)
            np.testing.assert_array_equal(np.asanyarray(a.dataobj), np.asanyarray(b.dataobj))
        assert filecmp.cmp(first / rel, second / rel, shallow=False), rel


@pytest.mark.slow
def test_same_numbers_with_one_or_two_cores(tiny_run, tmp_path):
    # the tiny run used --cores 2 (the decomposition's sparse coding on 2 threads)
    snakemake(tiny_run, "--cores", "1", "--config", "results_dir=results_one_core")
    two, one = tiny_run / "results", tiny_run / "results_one_core"
    files = _outputs(two)
    assert files == _outputs(one) and len(files) > 20
    _assert_same_files(two, one, files)


@pytest.mark.slow
def test_same_numbers_when_run_jobs_are_processes(tiny_run):
    # the default profile runs the run: rules' jobs as threads of the Snakemake process;
    # without it each is a Snakemake process of its own, as on a cluster
    config = ["--config", "results_dir=results_processes"]
    snakemake(tiny_run, "--cores", "2", "--workflow-profile", "none", *config)
    threads, processes = tiny_run / "results", tiny_run / "results_processes"
    files = _outputs(threads)
    assert files == _outputs(processes) and len(files) > 20
    _assert_same_files(threads, processes, files)
    log = processes / "logs" / "load_subject" / "sub-01_task-pixar.log"
    assert "done in" in log.read_text()


@pytest.mark.slow
def test_keeping_decoded_runs_changes_no_number(tiny_run):
    config = ["--config", "results_dir=results_decoded", "storage={keep_decoded_runs: true}"]
    snakemake(tiny_run, "--cores", "2", *config)
    default, kept = tiny_run / "results", tiny_run / "results_decoded"
    copies = sorted(kept.glob("work/*/decoded.npy"))
    assert len(copies) == N and not list(default.glob("work/*/decoded.npy"))
    grid = tuple(TINY["data"]["synthetic"]["shape"]) + (TINY["data"]["synthetic"]["n_volumes"],)
    assert np.load(copies[0], mmap_mode="r").shape == grid
    files = [rel for rel in _outputs(default) if rel.parts[0] != "work"]
    assert files == [rel for rel in _outputs(kept) if rel.parts[0] != "work"]
    _assert_same_files(default, kept, files)
    # a smoothing change then reads the copies: no run is decoded again
    jobs = planned_jobs(tiny_run, *config, "decomposition={smoothing_fwhm: 5.0}")
    assert jobs["preprocess_subject"] == N and "load_subject" not in jobs


def _readable(path: Path) -> bool:
    try:
        if path.name.endswith(".nii.gz"):
            np.asanyarray(nib.load(path).dataobj)
        elif path.suffix == ".npy":
            np.load(path)
        elif path.suffix in (".tsv", ".json"):
            path.read_text()
    except Exception:  # noqa: BLE001 - any failure means a partial file
        return False
    return True


@pytest.mark.slow
def test_killed_run_leaves_no_partial_output_and_resumes(run_copy):
    shutil.rmtree(run_copy / "results")
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(run_copy), "--cores", "2"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 120
    logs = run_copy / "results" / "logs" / "load_subject"
    while time.time() < deadline and not (logs.exists() and any(logs.iterdir())):
        time.sleep(0.05)
    time.sleep(0.3)  # let a job get into its computation or its writes
    # Snakemake marks a job's outputs incomplete while it runs: kill while one is marked
    incomplete = run_copy / ".snakemake" / "incomplete"
    while time.time() < deadline and not (incomplete.exists() and any(incomplete.iterdir())):
        time.sleep(0.001)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert any(incomplete.iterdir())  # the kill hit running jobs
    results = run_copy / "results"
    # a killed writer cannot remove its temporary file (.tmp-<pid>-<name>): never an output
    outputs = [p for p in results.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")]
    assert [p for p in outputs if not _readable(p)] == []
    snakemake(run_copy, "--unlock")
    snakemake(run_copy, "--cores", "2", "--rerun-incomplete", "results/group/mask.nii.gz")
    assert _readable(results / "group" / "mask.nii.gz")
    # rewriting an output removes the temporary files killed writers left for it
    assert list((results / "work").rglob(".tmp-*")) == []
