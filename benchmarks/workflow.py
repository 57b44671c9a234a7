"""End-to-end benchmark of the workflow (issue 8), optionally against the nilearn reference.

Usage (from the repository root)::

    make bench                                       # = the first line below, in .venv-bench
    .venv-bench/bin/python benchmarks/workflow.py --reference         # + nilearn's example
    .venv-bench/bin/python benchmarks/workflow.py --subjects 5 20 80  # scaling
    .venv-bench/bin/python benchmarks/workflow.py --subjects-per-job 1 10  # batching vs not

Snakemake and the jobs run from the environment of the Python that runs this script:
``.venv-bench`` (``make bench``) holds the runtime dependencies only, as ``make run`` installs
them; ``.venv`` after ``make test`` also holds the SLURM executor plugin, which makes every
Snakemake invocation slower.

For each subject count the synthetic dataset (default size, 50x59x50x168) is generated once
into ``benchmarks/out/data-<n>`` (not timed). Then, ``--repeats`` times: a cold run of the
whole workflow (every figure) into a fresh results folder with ``--cores 2``, a no-op rerun,
and a rerun after changing ``regions.threshold``. Reported: medians over the repeats of the
wall times, per-rule wall time (median job, sum over jobs) and peak memory (``VmHWM`` of
each job's process, from its log; Snakemake's ``max_rss`` and ``max_pss`` from the
``benchmark:`` files are shown too: sampled every 0.5 s, they miss short peaks, but they sum
over the job's process tree, where ``max_rss`` counts the pages a forked worker shares with
its parent twice and ``max_pss`` shares them out), and per stage (per-subject jobs vs group
jobs). ``--reference`` runs nilearn's example (DictLearning + RegionExtractor +
ConnectivityMeasure on the same files, no plots) in ``.venv-nilearn`` once per repeat, next to
that repeat's cold run (alternately before and after it: the VM's speed drifts over minutes),
and prints the ratio of the medians and the ratio of each pair. A JSON record of everything
goes to ``benchmarks/out/workflow-<n>.json``.
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
import textwrap
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
BIN = Path(sys.executable).parent
NILEARN_PYTHON = REPO / ".venv-nilearn" / "bin" / "python"
MEMORY = ("max_rss", "max_pss")  # Snakemake benchmark columns, MB
PER_SUBJECT = {"load_subject", "preprocess_subject", "subject_timeseries"}
FUNC = "sub-{s}_task-pixar_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz"
CONFOUNDS = "sub-{s}_task-pixar_desc-reducedConfounds_regressors.tsv"


def snakemake(workdir: Path, *args: str) -> float:
    """Run the workflow in ``workdir``; return its wall time in seconds."""
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(workdir)]
    start = time.perf_counter()
    result = subprocess.run([*cmd, *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode:
        sys.exit(f"snakemake {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return elapsed


def prepare(n_subjects: int) -> Path:
    """Working folder whose config points at a generated n-subject dataset."""
    workdir = OUT / f"work-{n_subjects}"
    workdir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["data"]["n_subjects"] = n_subjects
    config["data"]["synthetic"]["data_dir"] = str(OUT / f"data-{n_subjects}")
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    data = [
        f"{config['data']['synthetic']['data_dir']}/{FUNC.format(s=f'{i:02d}')}"
        for i in range(1, n_subjects + 1)
    ]
    print(f"[{n_subjects} subjects] generating the dataset (not timed) ...", flush=True)
    snakemake(workdir, "--cores", "2", *data)
    return workdir


def job_records(results: Path) -> list[dict]:
    """One record per job: rule, wall time (benchmark file), peak RSS (job log).

    The per-subject timing files that batch jobs write next to Snakemake's benchmark files
    have no log of their own and are left out (they are not jobs).
    """
    records = []
    for bench in sorted((results / "benchmarks").rglob("*.tsv")):
        rel = bench.relative_to(results / "benchmarks")
        rule = rel.parts[0].removesuffix(".tsv")
        log = results / "logs" / rel.with_suffix(".log")
        if not log.exists():
            continue
        names, values = (line.split("\t") for line in bench.read_text().splitlines()[:2])
        row = dict(zip(names, values, strict=True))
        seconds = float(row["s"])
        sampled = {k: float(row[k]) if row[k] not in ("NA", "-") else 0.0 for k in MEMORY}
        match = re.search(r"peak RSS (\d+) MB", log.read_text())
        records.append(
            {
                "rule": rule,
                "s": seconds,
                "peak_rss_mb": int(match.group(1)) if match else None,
                "snakemake_max_rss_mb": sampled["max_rss"],
                "snakemake_max_pss_mb": sampled["max_pss"],
            }
        )
    return records


def one_repeat(workdir: Path, repeat: int, per_job: int | None = None) -> dict:
    results = f"results-{repeat}"
    shutil.rmtree(workdir / results, ignore_errors=True)
    config = ["--config", f"results_dir={results}"]
    if per_job:
        config.append(f"subjects_per_job={per_job}")
    cold = snakemake(workdir, "--cores", "2", *config)
    records = job_records(workdir / results)
    noop = snakemake(workdir, "--cores", "2", *config)
    threshold = snakemake(workdir, "--cores", "2", *config, "regions={threshold: 0.6}")
    shutil.rmtree(workdir / results)
    return {"cold_s": cold, "noop_s": noop, "threshold_rerun_s": threshold, "jobs": records}


def summarize(repeats: list[dict]) -> dict:
    med = {
        k: statistics.median(r[k] for r in repeats)
        for k in ("cold_s", "noop_s", "threshold_rerun_s")
    }
    rules: dict[str, dict] = {}
    for rep in repeats:
        per_rule: dict[str, list] = {}
        for job in rep["jobs"]:
            per_rule.setdefault(job["rule"], []).append(job)
        for rule, jobs in per_rule.items():
            entry = rules.setdefault(
                rule, {"n": len(jobs), "sum": [], "median": [], "rss": [], "sampled": [], "pss": []}
            )
            entry["sum"].append(sum(j["s"] for j in jobs))
            entry["median"].append(statistics.median(j["s"] for j in jobs))
            entry["rss"] += [j["peak_rss_mb"] or 0 for j in jobs]
            entry["sampled"] += [j["snakemake_max_rss_mb"] for j in jobs]
            entry["pss"] += [j.get("snakemake_max_pss_mb", 0.0) for j in jobs]
    table = {
        rule: {
            "jobs": e["n"],
            "median_job_s": statistics.median(e["median"]),
            "sum_s": statistics.median(e["sum"]),
            "max_peak_rss_mb": max(e["rss"]),
            "max_snakemake_rss_mb": max(e["sampled"]),
            "max_snakemake_pss_mb": max(e["pss"]),
        }
        for rule, e in rules.items()
    }
    stages = {
        "per-subject": sum(v["sum_s"] for r, v in table.items() if r in PER_SUBJECT),
        "group": sum(v["sum_s"] for r, v in table.items() if r not in PER_SUBJECT),
    }
    return {**med, "rules": table, "stage_job_seconds": stages}


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
    funcs, confounds = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    t1 = time.perf_counter()
    dl = DictLearning(n_components=8, smoothing_fwhm=6.0, random_state=0,
                      standardize="zscore_sample").fit(funcs)
    t2 = time.perf_counter()
    ext = RegionExtractor(dl.components_img_, threshold=0.5,
                          thresholding_strategy="ratio_n_voxels", extractor="local_regions",
                          standardize="zscore_sample", standardize_confounds=True,
                          min_region_size=1350).fit()
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


def reference_inputs(n_subjects: int) -> tuple[str, str] | None:
    """JSON lists of the runs and confounds for nilearn's example (n/a cells filled by 0)."""
    if not NILEARN_PYTHON.exists():
        print("no .venv-nilearn: skipping the reference (make reference-env builds it)")
        return None
    data = OUT / f"data-{n_subjects}"
    filled = OUT / f"confounds-filled-{n_subjects}"
    filled.mkdir(exist_ok=True)
    subjects = [f"{i:02d}" for i in range(1, n_subjects + 1)]
    for s in subjects:  # the reference fails on n/a cells: give it the table we regress
        text = (data / CONFOUNDS.format(s=s)).read_text().replace("n/a", "0")
        (filled / CONFOUNDS.format(s=s)).write_text(text)
    funcs = json.dumps([str(data / FUNC.format(s=s)) for s in subjects])
    confs = json.dumps([str(filled / CONFOUNDS.format(s=s)) for s in subjects])
    return funcs, confs


def reference_once(funcs: str, confs: str) -> dict:
    """One run of nilearn's example pipeline (no plots) in ``.venv-nilearn``."""
    out = subprocess.run(
        [str(NILEARN_PYTHON), "-c", REFERENCE, funcs, confs],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def paired_repeats(
    workdir: Path, repeats: int, per_job: int | None, reference: tuple[str, str] | None
) -> tuple[list[dict], list[dict]]:
    """``repeats`` workflow repeats, each paired with a reference run when one is given.

    The machine's speed drifts over minutes, so each reference run sits next to the cold run
    it is compared with, alternately before and after it.
    """
    ours, theirs = [], []
    for k in range(repeats):
        print(f"[{workdir.name}, {per_job or 'default'}] repeat {k + 1}/{repeats} ...", flush=True)
        if reference and k % 2 == 0:
            theirs.append(reference_once(*reference))
        ours.append(one_repeat(workdir, k, per_job))
        if reference and k % 2 == 1:
            theirs.append(reference_once(*reference))
    return ours, theirs


def summarize_reference(runs: list[dict], cold_runs: list[float]) -> dict | None:
    """Medians of the reference runs, each run, and the speed-up of each pair (reference / cold).

    The ratio of the medians is printed by :func:`print_report`, not stored.
    """
    if not runs:
        return None
    summary = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    summary["paired_speedups"] = [r["total_s"] / c for r, c in zip(runs, cold_runs, strict=True)]
    summary["runs"] = runs
    return summary


def print_report(n_subjects: int, summary: dict, reference: dict | None, per_job: str) -> None:
    print(f"\n## {n_subjects} subjects, subjects_per_job {per_job} (medians; --cores 2)\n")
    print(
        f"cold run {summary['cold_s']:.1f} s | no-op rerun {summary['noop_s']:.2f} s | "
        f"rerun after regions.threshold change {summary['threshold_rerun_s']:.1f} s"
    )
    stages = summary["stage_job_seconds"]
    print(
        f"job seconds: per-subject stages {stages['per-subject']:.1f} s, "
        f"group stages {stages['group']:.1f} s"
    )
    if reference:
        pairs = ", ".join(f"{x:.2f}" for x in reference["paired_speedups"])
        print(
            f"nilearn reference {reference['total_s']:.1f} s (DictLearning "
            f"{reference['dictlearning_s']:.1f} s, transforms "
            f"{reference['transform_connectome_s']:.1f} s, peak RSS "
            f"{reference['peak_rss_mb']:.0f} MB) -> speed-up "
            f"{reference['total_s'] / summary['cold_s']:.2f}x (ratio of the medians); "
            f"each pair: {pairs}"
        )
    print(
        "\n| rule | jobs | median job (s) | sum (s) | peak RSS, VmHWM (MB) "
        "| Snakemake max_rss (MB) | Snakemake max_pss (MB) |\n|---|---|---|---|---|---|---|"
    )
    for rule, v in sorted(summary["rules"].items(), key=lambda kv: -kv[1]["sum_s"]):
        print(
            f"| {rule} | {v['jobs']} | {v['median_job_s']:.2f} | {v['sum_s']:.1f} | "
            f"{v['max_peak_rss_mb']} | {v['max_snakemake_rss_mb']:.0f} | "
            f"{v['max_snakemake_pss_mb']:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, nargs="+", default=[20])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--subjects-per-job",
        type=int,
        nargs="+",
        default=[None],
        help="batch sizes to compare (default: config.yaml's subjects_per_job)",
    )
    parser.add_argument("--reference", action="store_true", help="also run nilearn's example")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    for n in args.subjects:
        workdir = prepare(n)
        reference = reference_inputs(n) if args.reference else None
        for per_job in args.subjects_per_job:
            repeats, reference_runs = paired_repeats(workdir, args.repeats, per_job, reference)
            reference = None  # one reference series per subject count
            summary = summarize(repeats)
            compared = summarize_reference(reference_runs, [r["cold_s"] for r in repeats])
            record = {
                "subjects": n,
                "subjects_per_job": per_job,
                "summary": summary,
                "reference": compared,
                "runs": repeats,
            }
            suffix = f"-per-job-{per_job}" if per_job else ""
            (OUT / f"workflow-{n}{suffix}.json").write_text(json.dumps(record, indent=1))
            print_report(n, summary, compared, str(per_job) if per_job else "default")


if __name__ == "__main__":
    main()
