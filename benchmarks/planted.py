"""Denoising and group comparison, end to end on fMRIPrep-style data with planted truth.

Two cases, each a dataset from :func:`netregions.data.synthetic_fmriprep.make_fmriprep_dataset`
and a series of workflow runs in one results folder (each config change reruns only what it
touches):

- ``qcfc``: 20 subjects, 4 of them planted high movers, motion spikes in every run. For each
  denoising strategy, with and without ``qc.max_mean_fd: 0.5``: the runs excluded, the planted
  spikes censored (scrubbing), and QC-FC (median |QC-FC|, % of edges with p < 0.05).
- ``groups``: 20 subjects, networks 0 and 1 coupled (r = 0.6) in one group only. Per
  connectivity kind: balanced accuracy and permutation p-value, and whether the edges between
  the regions of the two coupled networks are among the FDR-significant ones.

Usage: ``python benchmarks/planted.py [--case qcfc groups]``. Prints markdown tables
(docs/performance.md) and writes ``benchmarks/out/planted.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
from common import OUT, run_workflow

from netregions.data.synthetic_fmriprep import make_fmriprep_dataset
from netregions.io import read_table

HIGH_MOVERS = ("03", "08", "13", "18")
SIX_P = ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"]
STRATEGIES = {
    "columns (6 motion)": {"strategy": "columns", "columns": SIX_P},
    "simple": {"strategy": "simple"},
    "scrubbing": {"strategy": "scrubbing"},
    "compcor": {"strategy": "compcor"},
}


def fmriprep_data(dataset) -> dict:
    return {"source": "fmriprep", "fmriprep": {"dir": str(dataset.root)}}


def prepare(case: str, **planted) -> tuple:
    """A fresh dataset of 20 subjects with ``planted`` truths, and an empty working folder."""
    root = OUT / f"planted-{case}"
    shutil.rmtree(root, ignore_errors=True)
    print(f"[{case}] generating 20 subjects (not timed) ...", flush=True)
    dataset = make_fmriprep_dataset(
        root / "derivatives",
        n_subjects=20,
        shape=(40, 48, 40),
        n_volumes=150,
        n_networks=8,
        seed=0,
        **planted,
    )
    workdir = root / "work"
    workdir.mkdir()
    return dataset, workdir


def qcfc_case() -> list[dict]:
    dataset, workdir = prepare("qcfc", n_spikes=6, high_motion_subjects=HIGH_MOVERS)
    rows = []
    for max_mean_fd in (None, 0.5):
        for name, confounds in STRATEGIES.items():
            print(f"[qcfc] {name}, qc.max_mean_fd {max_mean_fd} ...", flush=True)
            override = {
                "data": fmriprep_data(dataset),
                "confounds": confounds,
                "qc": {"max_mean_fd": max_mean_fd},
            }
            results, _ = run_workflow(workdir, override)
            qc = read_table(results / "group" / "qc.tsv")
            qcfc = read_table(results / "group" / "qcfc.tsv")[0]
            excluded = sorted(row["subject"] for row in qc if row["included"] == "false")
            rows.append(
                {
                    "strategy": name,
                    "max_mean_fd": max_mean_fd,
                    "excluded": excluded,
                    "spikes_censored": spikes_censored(results, dataset, qc),
                    "n_subjects": int(qcfc["n_subjects"]),
                    "median_abs_qcfc": float(qcfc["median_abs_qcfc"]),
                    "pct_p05": float(qcfc["pct_p05"]),
                }
            )
    return rows


def spikes_censored(results: Path, dataset, qc: list[dict]) -> float:
    """Fraction of the planted spike volumes of the included runs absent from their series."""
    included = {row["run"] for row in qc if row["included"] == "true"}
    hit = total = 0
    for run in dataset.runs:
        if run.name not in included or not run.spikes:
            continue
        folder = results / f"sub-{run.subject}" / "func"
        sidecar = json.loads((folder / f"{run.name}_seg-netregions_timeseries.json").read_text())
        kept = set(sidecar.get("VolumesKept", range(sidecar["NumberOfVolumesKept"])))
        hit += sum(spike not in kept for spike in run.spikes)
        total += len(run.spikes)
    return hit / total if total else float("nan")


def groups_case() -> list[dict]:
    dataset, workdir = prepare("groups", coupling=0.6)
    print("[groups] running the workflow ...", flush=True)
    kinds = ["correlation", "partial correlation", "tangent"]
    results, _ = run_workflow(
        workdir,
        {
            "data": fmriprep_data(dataset),
            "confounds": {"strategy": "simple"},
            "connectivity": {"kinds": kinds},
            "group_comparison": {"column": "group"},
        },
    )
    coupled = planted_edges(results, dataset)
    rows = []
    for row in read_table(results / "group" / "classification.tsv"):
        edges = read_table(results / "group" / f"edges_{row['kind'].replace(' ', '_')}.tsv")
        significant = {
            frozenset((e["region_i"], e["region_j"])) for e in edges if e["significant"] == "true"
        }
        rows.append(
            {
                "kind": row["kind"],
                "balanced_accuracy": float(row["balanced_accuracy"]),
                "p_value": float(row["p_value"]),
                "significant_edges": len(significant),
                "planted_edges": len(coupled),
                "planted_significant": len(coupled & significant),
            }
        )
    return rows


def planted_edges(results: Path, dataset) -> set[frozenset]:
    """Edges between a region of coupled network a and one of coupled network b."""
    mask = np.asanyarray(nib.load(results / "group" / "mask.nii.gz").dataobj) > 0
    maps = np.asanyarray(nib.load(results / "group" / "components.nii.gz").dataobj)[mask].T
    truth = np.asanyarray(nib.load(dataset.network_maps).dataobj)[mask].T
    similarity = np.abs(np.corrcoef(np.vstack([maps, truth]))[: len(maps), len(maps) :])
    network_of = similarity.argmax(axis=1)  # component -> planted network
    regions = read_table(results / "group" / "regions.tsv")
    a, b = dataset.coupled_networks
    side = {r["region"]: network_of[int(r["component"])] for r in regions}
    first = [r for r, n in side.items() if n == a]
    second = [r for r, n in side.items() if n == b]
    return {frozenset((i, j)) for i in first for j in second}


def print_qcfc(rows: list[dict]) -> None:
    print("\n## Denoising: QC-FC (20 subjects, 4 planted high movers, 6 spikes per run)\n")
    print("| strategy | qc.max_mean_fd | excluded | planted spikes censored | subjects | "
          "median abs QC-FC | edges p < 0.05 (%) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['strategy']} | {r['max_mean_fd'] or '-'} | {', '.join(r['excluded']) or '-'} | "
            f"{100 * r['spikes_censored']:.0f} % | {r['n_subjects']} | "
            f"{r['median_abs_qcfc']:.3f} | {r['pct_p05']:.1f} |"
        )


def print_groups(rows: list[dict]) -> None:
    print("\n## Group comparison (10 + 10 subjects, networks 0 and 1 coupled in one group)\n")
    print("| kind | balanced accuracy | p | FDR-significant edges | planted edges among them |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['kind']} | {r['balanced_accuracy']:.3f} | {r['p_value']:.4f} | "
            f"{r['significant_edges']} | {r['planted_significant']} of {r['planted_edges']} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", nargs="+", choices=["qcfc", "groups"], default=["qcfc", "groups"])
    args = parser.parse_args()
    record = {}
    if "qcfc" in args.case:
        record["qcfc"] = qcfc_case()
    if "groups" in args.case:
        record["groups"] = groups_case()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "planted.json").write_text(json.dumps(record, indent=1))
    if "qcfc" in record:
        print_qcfc(record["qcfc"])
    if "groups" in record:
        print_groups(record["groups"])
    print("\n(JSON record: benchmarks/out/planted.json)")


if __name__ == "__main__":
    main()
