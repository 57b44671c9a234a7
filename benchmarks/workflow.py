"""End-to-end benchmarks of the workflow, each optionally against nilearn's example.

Usage (from the repository root)::

    make bench                                    # = the dev case with --reference, in .venv-bench
    make bench BENCH_ARGS="--case 2mm --reference"
    make bench BENCH_ARGS="--case cohort"
    .venv-bench/bin/python benchmarks/workflow.py --reference                # dev, 20 subjects
    .venv-bench/bin/python benchmarks/workflow.py --subjects 5 20 80 155     # dev, scaling rows
    .venv-bench/bin/python benchmarks/workflow.py --case 2mm --reference     # 6 runs at 2 mm
    .venv-bench/bin/python benchmarks/workflow.py --case cohort --cohort 250 500 1000
    .venv-bench/bin/python benchmarks/workflow.py --subjects 3 --repeats 1 \\
        --shape 20 24 20 --volumes 40 --override "$TINY"                     # a smoke test

where ``TINY='{data: {synthetic: {n_networks: 3, seed: 1}}, decomposition: {n_components: 3,
alpha: 2}, regions: {min_region_size: 300}, figures: {network: 1}}'`` (too few voxels and
volumes for 8 networks of regions of 1350 mm³); the reference takes the decomposition and
region settings of the config it is compared with.

Snakemake and the jobs run from the environment of the Python that runs this script
(``-s Snakefile --directory <workdir> --cores 2``): ``.venv-bench`` (``make bench``) holds the
runtime dependencies only, as ``make run`` installs them; ``.venv`` after ``make test`` also
holds the SLURM executor plugin, which makes every Snakemake invocation slower.

Cases (``--case``), each run in full by one invocation:

``dev`` (default)
    The default synthetic dataset (50x59x50 voxels of 4 mm, 168 volumes) for each of
    ``--subjects`` (default 20), generated once by the workflow's own rules into
    ``benchmarks/out/data-dev-<n>`` (not timed). ``--repeats`` times: a cold run of the whole
    workflow (every figure) into a fresh results folder, a no-op rerun, and a rerun after a
    ``regions.threshold`` change; then Snakemake alone (a workflow of one empty ``run:`` job,
    and its no-op rerun: what any invocation pays here, whatever its jobs). Reported: the
    wall times; per rule, the jobs, the median
    and summed job time (Snakemake's benchmark file: the job's whole process, start-up
    included; the local rules, which have none, give their log's time), the largest peak
    RSS of a job (``VmHWM``, from the last line of its log) and Snakemake's ``max_rss``
    (sampled every 0.5 s over the job's process tree: short peaks are missed, pages shared
    with a forked worker are counted twice); the job-seconds per stage kind
    (``netregions.steps.STAGES``); the disk left under ``results/work/`` against the
    compressed input (the BOLD ``.nii.gz`` files).
``2mm``
    An fMRIPrep-style dataset (:func:`netregions.data.synthetic_fmriprep.make_fmriprep_dataset`:
    97x115x97 voxels of 2 mm, int16, 150 volumes, 8 networks, no high-motion subject;
    ``--subjects`` default 6), generated once into ``benchmarks/out/data-2mm-<n>`` (not
    timed) and read with ``data.source: fmriprep``; ``confounds.columns`` is the 15 reduced
    columns (``netregions.naming.REDUCED_CONFOUND_COLUMNS``), the table the reference
    regresses. ``--repeats`` cold runs; reported: the wall time, the peak RSS of every rule
    (largest job) against the reference process's, the disk left under ``results/work/``.
``cohort``
    ``snakemake -n`` of the synthetic source with each of ``--cohort`` subjects (default 250,
    500, 1000; nothing generated): the median wall time of ``--repeats`` dry runs and the
    seconds per subject, overall and between consecutive sizes (constant if the planning
    grows linearly).

Every timed run (ours, Snakemake alone, the reference) starts after ``os.sync()``: no
write-back of an earlier step's files falls into it.

``--reference`` (dev, 2mm) runs nilearn's example (DictLearning + RegionExtractor +
ConnectivityMeasure on the same files and confounds, no plots) in ``.venv-nilearn`` once per
repeat, next to that repeat's cold run, alternately before and after it (the machine's speed
drifts over minutes); the speed-up is printed as the ratio of the medians and for each pair.
``--shape`` and ``--volumes`` replace the dataset's size (tiny settings for a smoke test); a
non-default size is part of the data, work and JSON names. Tables go to stdout (markdown),
and a JSON record of every measurement to ``benchmarks/out/<case>[-<size>].json``. The
generated datasets are reused by later invocations: delete ``benchmarks/out/data-*`` after
changing the generators.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import yaml
from common import OUT, REPO, SNAKEMAKE, merge, write_config

from netregions.inputs import discover_runs, participants_path
from netregions.naming import REDUCED_CONFOUND_COLUMNS
from netregions.steps import STAGES

NILEARN_PYTHON = REPO / ".venv-nilearn" / "bin" / "python"
CORES = "2"
DEV_SIZE = ((50, 59, 50), 168)
MM2_SIZE = ((97, 115, 97), 150)
COHORT_SIZE = ((20, 24, 20), 40)  # nothing is generated: the size only sets the config
DEFAULT_SUBJECTS = {"dev": [20], "2mm": [6]}
NEW_THRESHOLD = 0.6  # regions.threshold of the rerun (the default is 0.5)
#: Measurements of a dev repeat reported as medians (floor: Snakemake alone, one empty job).
DEV_TIMINGS = (
    "cold_s",
    "noop_s",
    "threshold_rerun_s",
    "floor_s",
    "floor_noop_s",
    "writeback_s",
    "snakemake_peak_mb",
)
# script jobs report their process's peak RSS; run: jobs share the Snakemake process
DONE = re.compile(r"done in ([\d.]+) s(?:, peak RSS (\d+) MB)?")
MB = 1e6

# ----------------------------------------------------------------------------- running


def settle_disk() -> None:
    """Write every pending file to disk before a timed run (not timed).

    Files written by the previous step (the dataset, a cold run's 0.4 GB of ``work/``) stay
    in the page cache and are written back about 30 s later, which would slow whichever
    run is being timed then; see docs/performance.md.
    """
    os.sync()


def run_snakemake(workdir: Path, *args: str) -> tuple[float, str, float]:
    """Run the workflow in ``workdir`` with ``--cores 2``, from a settled disk.

    Returns its wall time (s), its output and the peak RSS (MB) of the Snakemake process,
    which runs the ``run:`` jobs as threads (the largest of it and the script jobs' processes).
    """
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(workdir)]
    settle_disk()
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(
            [*cmd, "--cores", CORES, *args], stdout=out, stderr=subprocess.STDOUT, text=True
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if process.returncode:
        sys.exit(f"snakemake {' '.join(args)} in {workdir} failed:\n{text[-3000:]}")
    return elapsed, text, usage.ru_maxrss / 1024


FLOOR_SNAKEFILE = """\
rule all:
    input:
        "done.txt",


rule one_empty_job:
    output:
        "done.txt",
    run:
        open(output[0], "w").close()
"""


def snakemake_floor(folder: Path) -> tuple[float, float]:
    """Wall times (s) of Snakemake alone: one empty ``run:`` job, then a no-op rerun.

    Same Snakemake, cores and job mode (``--force-use-threads``) as the workflow's runs, so
    a rerun's time minus the first is what its jobs and their planning cost.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Snakefile").write_text(FLOOR_SNAKEFILE)
    (folder / "done.txt").unlink(missing_ok=True)
    cmd = [str(SNAKEMAKE), "-s", str(folder / "Snakefile"), "--directory", str(folder)]
    cmd += ["--cores", CORES, "--force-use-threads", "--quiet"]
    times = []
    for _ in range(2):
        settle_disk()
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times[0], times[1]


def snakemake(workdir: Path, *args: str) -> float:
    """Run the workflow in ``workdir`` with ``--cores 2``; return its wall time in seconds."""
    return run_snakemake(workdir, *args)[0]


def size_tag(shape: Sequence[int], volumes: int, default: tuple) -> str:
    """``""`` at a case's default size, else ``"-20x24x20x40"`` (for folder and file names)."""
    if (tuple(shape), volumes) == default:
        return ""
    return "-" + "x".join(str(n) for n in (*shape, volumes))


def tree_bytes(folder: Path) -> int:
    """Apparent size of every file under ``folder`` (0 when it does not exist)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# ----------------------------------------------------------------------------- datasets


def prepare_dev(
    n_subjects: int, shape: Sequence[int], volumes: int, extra: dict
) -> tuple[Path, list]:
    """Working folder and runs of the n-subject synthetic dataset, generated if needed.

    The workflow's own rules generate the data (targets: every run's files and the
    participants table), so the cold runs find them up to date. ``extra`` is merged into
    the config last (``--override``).
    """
    tag = size_tag(shape, volumes, DEV_SIZE)
    workdir = OUT / f"work-dev-{n_subjects}{tag}"
    synthetic = {"shape": list(shape), "n_volumes": volumes}
    synthetic["data_dir"] = str(OUT / f"data-dev-{n_subjects}{tag}")
    override = {"data": {"n_subjects": n_subjects, "synthetic": synthetic}}
    config = write_config(workdir, merge(override, extra))
    runs = list(discover_runs(config["data"]).values())
    targets = [f for run in runs for f in (run.bold, run.confounds, run.sidecar) if f]
    print(f"[dev, {n_subjects} subjects] generating the dataset (not timed) ...", flush=True)
    snakemake(workdir, *targets, participants_path(config["data"]))
    return workdir, runs


def generate_2mm(root: Path, n_subjects: int, shape: Sequence[int], volumes: int) -> None:
    """Write the fMRIPrep-style dataset into ``root`` unless a complete one is there.

    ``truth/planted.json`` is written last: a folder without it is an interrupted
    generation, deleted and made again.
    """
    if (root / "truth" / "planted.json").exists():
        return
    from netregions.data.synthetic_fmriprep import make_fmriprep_dataset

    print(f"[2mm, {n_subjects} subjects] generating the dataset (not timed) ...", flush=True)
    shutil.rmtree(root, ignore_errors=True)
    make_fmriprep_dataset(
        root,
        n_subjects=n_subjects,
        shape=tuple(shape),
        res="2",
        dtype="int16",
        n_volumes=volumes,
        n_networks=8,
        high_motion_subjects=(),
    )


def prepare_2mm(
    n_subjects: int, shape: Sequence[int], volumes: int, extra: dict
) -> tuple[Path, list]:
    """Working folder and runs of the n-subject fMRIPrep-style dataset, generated if needed.

    ``extra`` is merged into the config last (``--override``).
    """
    tag = size_tag(shape, volumes, MM2_SIZE)
    root = OUT / f"data-2mm-{n_subjects}{tag}"
    generate_2mm(root, n_subjects, shape, volumes)
    fmriprep = {"dir": str(root), "res": "2"}
    override = {
        "data": {"source": "fmriprep", "fmriprep": fmriprep},
        "confounds": {"columns": list(REDUCED_CONFOUND_COLUMNS)},
    }
    workdir = OUT / f"work-2mm-{n_subjects}{tag}"
    config = write_config(workdir, merge(override, extra))
    return workdir, list(discover_runs(config["data"]).values())


def input_bytes(runs: list) -> int:
    """Compressed size of the inputs: every run's BOLD ``.nii.gz``."""
    return sum(Path(run.bold).stat().st_size for run in runs)


# ----------------------------------------------------------------------------- job records


def read_benchmark(path: Path) -> dict[str, float | None]:
    """The numeric columns of a Snakemake benchmark file's row (``NA``, ``-`` as None)."""
    names, values = (line.split("\t") for line in path.read_text().splitlines()[:2])
    return {k: _number(v) for k, v in zip(names, values, strict=True) if k != "h:m:s"}


def _number(text: str) -> float | None:
    """A benchmark cell as a number (None when Snakemake could not measure it)."""
    return None if text in ("NA", "-") else float(text)


def job_record(results: Path, log: Path) -> dict | None:
    """Rule, time and memory of the job that wrote ``log`` (None: no step ran in it).

    Its time is Snakemake's benchmark (the whole job process) when the rule has one, else
    the step's time from the log (local rules).
    """
    found = DONE.findall(log.read_text())
    if not found:
        return None
    step_s, peak = float(found[-1][0]), found[-1][1]
    peak_rss = int(peak) if peak else None  # None: a thread of the Snakemake process
    rel = log.relative_to(results / "logs").with_suffix(".tsv")
    bench = results / "benchmarks" / rel
    row = read_benchmark(bench) if bench.exists() else {}
    return {
        "rule": rel.parts[0],
        "job": str(rel.with_suffix("")),
        "s": row["s"] if row else step_s,
        "benchmarked": bool(row),
        "step_s": step_s,
        "peak_rss_mb": peak_rss,
        "snakemake_max_rss_mb": row.get("max_rss"),
    }


def job_records(results: Path) -> list[dict]:
    """One record per job of a run (see :func:`job_record`), from its logs."""
    logs = sorted((results / "logs").rglob("*.log"))
    return [r for r in (job_record(results, log) for log in logs) if r is not None]


# ----------------------------------------------------------------------------- repeats


def cold_run(workdir: Path, results: str) -> dict:
    """A cold run into a fresh ``results`` folder: its wall time, jobs and disk use."""
    shutil.rmtree(workdir / results, ignore_errors=True)
    cold_s, _, peak_mb = run_snakemake(workdir, "--config", f"results_dir={results}")
    start = time.perf_counter()
    settle_disk()  # what the system still has to write after the run, reported apart
    return {
        "cold_s": cold_s,
        "writeback_s": time.perf_counter() - start,
        "snakemake_peak_mb": peak_mb,
        "jobs": job_records(workdir / results),
        "work_bytes": tree_bytes(workdir / results / "work"),
        "results_bytes": tree_bytes(workdir / results),
    }


def dev_repeat(workdir: Path, repeat: int) -> dict:
    """Cold run, no-op rerun, rerun after a ``regions.threshold`` change (then cleaned up);
    then Snakemake alone (:func:`snakemake_floor`)."""
    results = f"results-{repeat}"
    record = cold_run(workdir, results)
    config = ["--config", f"results_dir={results}"]
    record["noop_s"] = snakemake(workdir, *config)
    changed = f"regions={{threshold: {NEW_THRESHOLD}}}"
    record["threshold_rerun_s"] = snakemake(workdir, *config, changed)
    shutil.rmtree(workdir / results)
    record["floor_s"], record["floor_noop_s"] = snakemake_floor(workdir / "floor")
    return record


def mm2_repeat(workdir: Path, repeat: int) -> dict:
    """A cold run (then cleaned up)."""
    results = f"results-{repeat}"
    record = cold_run(workdir, results)
    shutil.rmtree(workdir / results)
    return record


def paired_repeats(
    label: str, repeats: int, one_repeat: Callable[[int], dict], reference: tuple | None
) -> tuple[list[dict], list[dict]]:
    """``repeats`` repeats of ours, each paired with a reference run when one is given.

    The machine's speed drifts over minutes, so each reference run sits next to the cold run
    it is compared with, alternately before and after it.
    """
    ours, theirs = [], []
    for k in range(repeats):
        print(f"[{label}] repeat {k + 1}/{repeats} ...", flush=True)
        if reference and k % 2 == 0:
            theirs.append(reference_once(*reference))
        ours.append(one_repeat(k))
        if reference and k % 2 == 1:
            theirs.append(reference_once(*reference))
    return ours, theirs


# ----------------------------------------------------------------------------- reference

REFERENCE = textwrap.dedent(
    """
    import json, sys, time, warnings
    warnings.simplefilter("ignore")
    def peak_rss_mb():  # high-water mark of this process image (not inherited at fork)
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    t0 = time.perf_counter()
    import numpy as np
    from nilearn.connectome import ConnectivityMeasure
    from nilearn.decomposition import DictLearning
    from nilearn.regions import RegionExtractor
    funcs, confounds, p = (json.loads(arg) for arg in sys.argv[1:4])
    t1 = time.perf_counter()
    dl = DictLearning(n_components=p["n_components"], alpha=p["alpha"],
                      batch_size=p["batch_size"], n_epochs=p["n_epochs"],
                      smoothing_fwhm=p["smoothing_fwhm"], random_state=p["random_state"],
                      standardize="zscore_sample").fit(funcs)
    t2 = time.perf_counter()
    ext = RegionExtractor(dl.components_img_, threshold=p["threshold"],
                          thresholding_strategy="ratio_n_voxels", extractor="local_regions",
                          standardize="zscore_sample", standardize_confounds=True,
                          min_region_size=p["min_region_size"]).fit()
    t3 = time.perf_counter()
    measure = ConnectivityMeasure(kind="correlation", standardize="zscore_sample")
    mats = [measure.fit_transform([ext.transform(f, confounds=c)])[0]
            for f, c in zip(funcs, confounds)]
    mean = np.mean(mats, axis=0)
    t4 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "dictlearning_s": t2 - t1, "regions_s": t3 - t2,
                      "transform_connectome_s": t4 - t3, "total_s": t4 - t0,
                      "n_regions": int(mean.shape[0]),
                      "peak_rss_mb": peak_rss_mb()}))
    """
)


def write_filled_confounds(source: Path, target: Path, columns: Sequence[str] | None) -> Path:
    """A copy of a confounds table with n/a cells as 0, and only ``columns`` when given.

    The reference fails on n/a cells; our workflow regresses the same table with them as 0.
    """
    rows = [line.split("\t") for line in source.read_text().splitlines()]
    keep = [rows[0].index(c) for c in columns] if columns else range(len(rows[0]))
    lines = ["\t".join(rows[0][i] for i in keep)]
    lines += ["\t".join("0" if row[i] == "n/a" else row[i] for i in keep) for row in rows[1:]]
    target.write_text("\n".join(lines) + "\n")
    return target


def reference_settings(workdir: Path) -> dict:
    """The example's settings in the working folder's config (the defaults but with
    ``--override``): decomposition and region extraction."""
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    dec, reg = config["decomposition"], config["regions"]
    keys = ("n_components", "alpha", "batch_size", "n_epochs", "smoothing_fwhm", "random_state")
    settings = {key: dec[key] for key in keys}
    return {**settings, "threshold": reg["threshold"], "min_region_size": reg["min_region_size"]}


def reference_inputs(
    workdir: Path, runs: list, folder: Path, columns: Sequence[str] | None
) -> tuple | None:
    """The reference's arguments (JSON: runs, filled confounds, settings), or None.

    None, with a message, when ``.venv-nilearn`` does not exist.
    """
    if not NILEARN_PYTHON.exists():
        print("no .venv-nilearn: skipping the reference (make reference-env builds it)")
        return None
    folder.mkdir(parents=True, exist_ok=True)
    confounds = [
        str(write_filled_confounds(Path(r.confounds), folder / f"{r.name}.tsv", columns))
        for r in runs
    ]
    funcs = [str(r.bold) for r in runs]
    return json.dumps(funcs), json.dumps(confounds), json.dumps(reference_settings(workdir))


def reference_once(funcs: str, confounds: str, settings: str) -> dict:
    """One run of nilearn's example pipeline (no plots) in ``.venv-nilearn``: its times."""
    cmd = [str(NILEARN_PYTHON), "-c", REFERENCE, funcs, confounds, settings]
    settle_disk()
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"the nilearn reference failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def summarize_reference(runs: list[dict], cold_runs: list[float]) -> dict | None:
    """Medians of the reference runs, the runs, and each pair's speed-up (reference / cold)."""
    if not runs:
        return None
    summary = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    summary["paired_speedups"] = [r["total_s"] / c for r, c in zip(runs, cold_runs, strict=True)]
    summary["speedup_of_medians"] = summary["total_s"] / statistics.median(cold_runs)
    summary["runs"] = runs
    return summary


# ----------------------------------------------------------------------------- summaries


def median_of(repeats: list[dict], key: str) -> float:
    """Median over the repeats of one measurement."""
    return statistics.median(r[key] for r in repeats)


def rule_table(repeats: list[dict]) -> dict[str, dict]:
    """Per rule: jobs, median job and summed seconds (medians over repeats), largest memory."""
    per_rule: dict[str, list[list[dict]]] = {}
    for rep in repeats:
        jobs_by_rule: dict[str, list[dict]] = {}
        for job in rep["jobs"]:
            jobs_by_rule.setdefault(job["rule"], []).append(job)
        for rule, jobs in jobs_by_rule.items():
            per_rule.setdefault(rule, []).append(jobs)
    return {rule: rule_row(rule, runs) for rule, runs in per_rule.items()}


def rule_row(rule: str, runs: list[list[dict]]) -> dict:
    """One row of :func:`rule_table`: ``runs`` holds the rule's jobs of each repeat."""
    jobs = [job for run in runs for job in run]
    sampled = [j["snakemake_max_rss_mb"] for j in jobs if j["snakemake_max_rss_mb"] is not None]
    return {
        "kind": STAGES.get(rule, "other"),
        "jobs": len(runs[0]),
        "benchmarked": all(j["benchmarked"] for j in jobs),
        "median_job_s": statistics.median(statistics.median(j["s"] for j in r) for r in runs),
        "sum_s": statistics.median(sum(j["s"] for j in r) for r in runs),
        "max_peak_rss_mb": max((j["peak_rss_mb"] for j in jobs if j["peak_rss_mb"]), default=None),
        "max_snakemake_rss_mb": max(sampled) if sampled else None,
    }


def kind_seconds(table: dict[str, dict]) -> dict[str, dict]:
    """Jobs and job-seconds per stage kind (input, run, group, figure, report)."""
    kinds: dict[str, dict] = {}
    for row in table.values():
        entry = kinds.setdefault(row["kind"], {"jobs": 0, "job_s": 0.0})
        entry["jobs"] += row["jobs"]
        entry["job_s"] += row["sum_s"]
    return kinds


def disk_summary(repeats: list[dict], runs: list) -> dict:
    """Bytes under ``work/`` and in all results (medians) against the compressed input."""
    return {
        "work_bytes": median_of(repeats, "work_bytes"),
        "results_bytes": median_of(repeats, "results_bytes"),
        "input_bytes": input_bytes(runs),
    }


def summarize(repeats: list[dict], runs: list, timings: Sequence[str]) -> dict:
    """Medians of ``timings``, the rule and stage-kind tables and the disk use."""
    table = rule_table(repeats)
    return {
        **{key: median_of(repeats, key) for key in timings},
        "rules": table,
        "kinds": kind_seconds(table),
        "disk": disk_summary(repeats, runs),
    }


# ----------------------------------------------------------------------------- printing


def fmt(value: float | None, digits: int = 0) -> str:
    """A number for a table cell, or "-" when there is none."""
    return "-" if value is None else f"{value:.{digits}f}"


def ref_value(reference: dict | None, key: str, digits: int = 1) -> str:
    """A reference measurement, formatted, or "-" without a reference."""
    return fmt(reference[key] if reference else None, digits)


def print_rules(rules: dict[str, dict]) -> None:
    """Per-rule table, the rule with the most job-seconds first."""
    print(
        "\n| rule | kind | jobs | median job (s) | sum (s) | max peak RSS, VmHWM (MB) "
        "| max Snakemake max_rss (MB) |\n|---|---|---|---|---|---|---|"
    )
    for rule, v in sorted(rules.items(), key=lambda kv: -kv[1]["sum_s"]):
        mark = "" if v["benchmarked"] else " *"
        print(
            f"| {rule}{mark} | {v['kind']} | {v['jobs']} | {v['median_job_s']:.2f} | "
            f"{v['sum_s']:.1f} | {fmt(v['max_peak_rss_mb'])} | {fmt(v['max_snakemake_rss_mb'])} |"
        )
    if not all(v["benchmarked"] for v in rules.values()):
        print("\n\\* local rule without a benchmark file: the step's time from its log")
    print('VmHWM "-": run: jobs, threads of the Snakemake process (its peak is reported above)')


def print_kinds(kinds: dict[str, dict]) -> None:
    """Job-seconds per stage kind (netregions.steps.STAGES)."""
    print("\n| stage kind | jobs | job-seconds |\n|---|---|---|")
    for kind, v in sorted(kinds.items(), key=lambda kv: -kv[1]["job_s"]):
        print(f"| {kind} | {v['jobs']} | {v['job_s']:.1f} |")


def print_disk(disk: dict) -> None:
    """Disk left under work/ against the compressed input."""
    work, results, inputs = disk["work_bytes"], disk["results_bytes"], disk["input_bytes"]
    print(
        f"\ndisk: results/work/ {work / MB:.1f} MB = {work / inputs:.2f}x the compressed "
        f"input ({inputs / MB:.1f} MB of BOLD .nii.gz); whole results folder "
        f"{results / MB:.1f} MB"
    )


def print_reference(reference: dict | None) -> None:
    """The reference's times and memory and the speed-ups (nothing without a reference)."""
    if not reference:
        return
    pairs = ", ".join(f"{x:.2f}" for x in reference["paired_speedups"])
    print(
        f"\nnilearn reference {reference['total_s']:.1f} s (DictLearning "
        f"{reference['dictlearning_s']:.1f} s, transforms "
        f"{reference['transform_connectome_s']:.1f} s, peak RSS "
        f"{reference['peak_rss_mb']:.0f} MB, {reference['n_regions']:.0f} regions) -> speed-up "
        f"{reference['speedup_of_medians']:.2f}x (ratio of the medians); each pair: {pairs}"
    )


def print_dev(label: str, summary: dict, reference: dict | None) -> None:
    """Report of one subject count of the dev case."""
    print(f"\n## {label}\n")
    print("| run | wall time (s) |\n|---|---|")
    print(f"| cold | {summary['cold_s']:.1f} |")
    print(f"| no-op rerun | {summary['noop_s']:.2f} |")
    print(f"| rerun after regions.threshold change | {summary['threshold_rerun_s']:.1f} |")
    print(f"| Snakemake alone: one empty job | {summary['floor_s']:.2f} |")
    print(f"| Snakemake alone: no-op | {summary['floor_noop_s']:.2f} |")
    print(f"| (writing the cold run's files to disk after it) | {summary['writeback_s']:.2f} |")
    print(f"| (peak RSS of the Snakemake process, cold) | {summary['snakemake_peak_mb']:.0f} MB |")
    if reference:
        print(f"| nilearn reference | {reference['total_s']:.1f} |")
    print_reference(reference)
    print_disk(summary["disk"])
    print_kinds(summary["kinds"])
    print_rules(summary["rules"])


def print_dev_scaling(records: list[dict]) -> None:
    """One row per subject count (printed when there are several)."""
    print(
        "\n## dev: scaling\n\n| subjects | cold (s) | no-op (s) | threshold rerun (s) "
        "| reference (s) | speed-up | work/ (MB) | input (MB) |\n|---|---|---|---|---|---|---|---|"
    )
    for rec in records:
        s, ref = rec["summary"], rec["reference"]
        print(
            f"| {rec['subjects']} | {s['cold_s']:.1f} | {s['noop_s']:.2f} | "
            f"{s['threshold_rerun_s']:.1f} | {ref_value(ref, 'total_s')} | "
            f"{ref_value(ref, 'speedup_of_medians', 2)} | "
            f"{s['disk']['work_bytes'] / MB:.1f} | {s['disk']['input_bytes'] / MB:.1f} |"
        )


def print_2mm(label: str, summary: dict, reference: dict | None) -> None:
    """Report of the 2mm case: ours and the reference side by side."""
    peaks = [v["max_peak_rss_mb"] for v in summary["rules"].values() if v["max_peak_rss_mb"]]
    print(f"\n## {label}\n")
    print("| | ours (cold) | nilearn reference |\n|---|---|---|")
    print(f"| wall time (s) | {summary['cold_s']:.1f} | {ref_value(reference, 'total_s')} |")
    ref_peak = ref_value(reference, "peak_rss_mb", 0)
    print(
        f"| peak RSS (MB) | Snakemake process {summary['snakemake_peak_mb']:.0f}, largest script "
        f"job {fmt(max(peaks, default=None))} | {ref_peak} (one process) |"
    )
    print_reference(reference)
    print_disk(summary["disk"])
    print_rules(summary["rules"])


def print_cohort(rows: list[dict]) -> None:
    """Dry-run times per cohort size, per subject and per added subject."""
    print(
        "\n## cohort: snakemake -n (synthetic source, nothing generated)\n\n"
        "| subjects | planned jobs | dry run (s) | s per subject | s per added subject |\n"
        "|---|---|---|---|---|"
    )
    previous = None
    for row in rows:
        n, seconds = row["subjects"], row["median_s"]
        added = "-" if previous is None else f"{(seconds - previous[1]) / (n - previous[0]):.4f}"
        print(f"| {n} | {row['jobs']} | {seconds:.2f} | {seconds / n:.4f} | {added} |")
        previous = (n, seconds)


def save(name: str, record: dict) -> None:
    """Write ``benchmarks/out/<name>.json``."""
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(record, indent=1))
    print(f"\n(JSON record: {path.relative_to(REPO)})")


# ----------------------------------------------------------------------------- cases


def describe_size(shape: Sequence[int], volumes: int) -> str:
    """``"50x59x50x168"``."""
    return "x".join(str(n) for n in (*shape, volumes))


def medians(args: argparse.Namespace) -> str:
    """What the reported numbers are (for the headings)."""
    return f"medians of {args.repeats}; --cores {CORES}"


def measure(
    label: str,
    repeats: int,
    one_repeat: Callable[[int], dict],
    runs: list,
    timings: Sequence[str],
    reference: tuple | None,
) -> dict:
    """Repeats of ours paired with the reference's, summarized: one JSON record."""
    ours, theirs = paired_repeats(label, repeats, one_repeat, reference)
    return {
        "summary": summarize(ours, runs, timings),
        "reference": summarize_reference(theirs, [r["cold_s"] for r in ours]),
        "runs": ours,
    }


def run_dev(args: argparse.Namespace) -> None:
    """The dev case: every subject count of ``--subjects``, then the scaling rows."""
    shape, volumes = args.shape or DEV_SIZE[0], args.volumes or DEV_SIZE[1]
    tag = size_tag(shape, volumes, DEV_SIZE)
    records = []
    for n in args.subjects or DEFAULT_SUBJECTS["dev"]:
        workdir, runs = prepare_dev(n, shape, volumes, args.override)
        reference = None
        if args.reference:
            reference = reference_inputs(workdir, runs, OUT / f"confounds-dev-{n}{tag}", None)
        record = measure(
            f"dev, {n} subjects",
            args.repeats,
            partial(dev_repeat, workdir),
            runs,
            DEV_TIMINGS,
            reference,
        )
        label = f"dev: {n} subjects, {describe_size(shape, volumes)} ({medians(args)})"
        print_dev(label, record["summary"], record["reference"])
        records.append({"subjects": n, **record})
    if len(records) > 1:
        print_dev_scaling(records)
    save(f"dev{tag}", {"case": "dev", "size": [*shape, volumes], "results": records})


def run_2mm(args: argparse.Namespace) -> None:
    """The 2mm case: cold runs on an fMRIPrep-style dataset at 2 mm."""
    shape, volumes = args.shape or MM2_SIZE[0], args.volumes or MM2_SIZE[1]
    tag = size_tag(shape, volumes, MM2_SIZE)
    records = []
    for n in args.subjects or DEFAULT_SUBJECTS["2mm"]:
        workdir, runs = prepare_2mm(n, shape, volumes, args.override)
        reference = None
        if args.reference:
            folder = OUT / f"confounds-2mm-{n}{tag}"
            reference = reference_inputs(workdir, runs, folder, REDUCED_CONFOUND_COLUMNS)
        record = measure(
            f"2mm, {n} runs",
            args.repeats,
            partial(mm2_repeat, workdir),
            runs,
            ("cold_s", "snakemake_peak_mb"),
            reference,
        )
        size = describe_size(shape, volumes)
        label = f"2mm: {n} fMRIPrep-style runs, {size} int16 ({medians(args)})"
        print_2mm(label, record["summary"], record["reference"])
        records.append({"subjects": n, **record})
    save(f"2mm{tag}", {"case": "2mm", "size": [*shape, volumes], "results": records})


def planned_jobs(output: str) -> int | None:
    """The ``total`` of the job stats that a dry run prints."""
    match = re.search(r"^total\s+(\d+)\s*$", output, re.MULTILINE)
    return int(match.group(1)) if match else None


def cohort_dry_runs(n_subjects: int, repeats: int, extra: dict) -> dict:
    """``repeats`` dry runs of the synthetic source with ``n_subjects``: times and jobs."""
    workdir = OUT / f"work-cohort-{n_subjects}"
    shutil.rmtree(workdir, ignore_errors=True)
    synthetic = {"shape": list(COHORT_SIZE[0]), "n_volumes": COHORT_SIZE[1]}
    synthetic["data_dir"] = str(workdir / "data")  # never written: a dry run
    override = {"data": {"n_subjects": n_subjects, "synthetic": synthetic}}
    write_config(workdir, merge(override, extra))
    print(f"[cohort, {n_subjects} subjects] {repeats} dry runs ...", flush=True)
    runs = [run_snakemake(workdir, "-n") for _ in range(repeats)]
    seconds = [elapsed for elapsed, _, _ in runs]
    return {
        "subjects": n_subjects,
        "jobs": planned_jobs(runs[-1][1]),
        "median_s": statistics.median(seconds),
        "runs": seconds,
    }


def run_cohort(args: argparse.Namespace) -> None:
    """The cohort case: dry runs of ``--cohort`` synthetic subjects."""
    if args.reference:
        print("(the cohort case has no reference run)")
    rows = [cohort_dry_runs(n, args.repeats, args.override) for n in sorted(args.cohort)]
    print_cohort(rows)
    save("cohort", {"case": "cohort", "results": rows})


CASES = {"dev": run_dev, "2mm": run_2mm, "cohort": run_cohort}


def parse_args() -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", choices=list(CASES), default="dev")
    parser.add_argument("--subjects", type=int, nargs="+", help="subject counts (dev: 20; 2mm: 6)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reference", action="store_true", help="also run nilearn's example")
    parser.add_argument(
        "--shape", type=int, nargs=3, help="grid of the data (dev: 50 59 50; 2mm: 97 115 97)"
    )
    parser.add_argument("--volumes", type=int, help="volumes per run (dev: 168; 2mm: 150)")
    parser.add_argument(
        "--override",
        type=yaml.safe_load,
        default={},
        help="YAML mapping merged into each config last, e.g. '{regions: {min_region_size: "
        "300}}' (tiny smoke tests; the reference takes its decomposition and regions settings)",
    )
    parser.add_argument(
        "--cohort", type=int, nargs="+", default=[250, 500, 1000], help="cohort case: subjects"
    )
    return parser.parse_args()


def main() -> None:
    """Run the chosen case."""
    args = parse_args()
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    OUT.mkdir(parents=True, exist_ok=True)
    CASES[args.case](args)


if __name__ == "__main__":
    main()
