"""Reproducibility of the group networks: single runs against ICASSO consensus, and dual regression.

Runs the workflow on an fMRIPrep-like dataset with planted networks (each subject's networks
shifted from the group's) and measures, against the planted truth:

- reproducibility: the maps of two runs whose seeds do not overlap (``random_state`` 0 and
  10), matched one to one by |spatial correlation| (Hungarian assignment), for a single run
  (``n_runs: 1``) and for the consensus of ``n_runs: 10``;
- recovery: the matched |correlation| of each result with the planted group networks;
- stability of extra components: with more components than planted networks, the stability
  index of the clusters that match a planted network against the others;
- dual regression identifiability: for each run and network, whether the run's own map is
  closer to its subject's planted (shifted) map than to more than half of the other subjects'.

Usage: ``python benchmarks/stability.py [--subjects 20] [--seeds 10]``. Writes
``benchmarks/out/stability.json`` and prints markdown tables (docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
from common import OUT, merge, run_workflow
from scipy.optimize import linear_sum_assignment

from netregions.data.synthetic_fmriprep import make_fmriprep_dataset
from netregions.io import read_table

N_NETWORKS = 8
EXTRA = 4


def in_mask(path: Path, mask: np.ndarray) -> np.ndarray:
    """(n_maps, n_voxels) in-mask values of a 4D (or 3D) image."""
    data = np.asanyarray(nib.load(path).dataobj, dtype=np.float64)
    data = data[..., None] if data.ndim == 3 else data
    return data[mask].T


def abs_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|Pearson correlation| between the rows of a and the rows of b."""
    return np.abs(_unit_rows(a) @ _unit_rows(b).T)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1)


def matched(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-to-one matching of the rows of a and b maximising |corr|: rows, cols, values."""
    similarity = abs_corr(a, b)
    rows, cols = linear_sum_assignment(-similarity)
    return rows, cols, similarity[rows, cols]


def identifiability(results: Path, dataset, mask: np.ndarray, group_maps: np.ndarray) -> dict:
    """Share of run x network pairs whose dual-regression map is closest to its own subject.

    "Closest" as the acceptance asks: the run's map correlates more with its own subject's
    planted map than with more than half of the other subjects' planted maps.
    """
    truth_group = in_mask(dataset.network_maps, mask)
    rows, cols, _ = matched(group_maps, truth_group)  # component -> planted network
    planted = {s: in_mask(p, mask) for s, p in dataset.subject_maps.items()}
    hits, total, own_r = 0, 0, []
    for run in dataset.runs:
        folder = results / f"sub-{run.subject}" / "func"
        maps = in_mask(folder / f"{run.name}_desc-dualreg_components.nii.gz", mask)
        for component, network in zip(rows, cols, strict=True):
            r = {
                s: abs_corr(maps[component][None], m[network][None])[0, 0]
                for s, m in planted.items()
            }
            own = r.pop(run.subject)
            own_r.append(own)
            hits += sum(own > v for v in r.values()) > len(r) / 2
            total += 1
    return {
        "identifiable_fraction": hits / total,
        "pairs": total,
        "median_own_r": float(np.median(own_r)),
    }


def measure(args: argparse.Namespace) -> dict:
    root = OUT / "stability"
    shutil.rmtree(root, ignore_errors=True)
    print(f"generating {args.subjects} subjects (not timed) ...", flush=True)
    dataset = make_fmriprep_dataset(
        root / "derivatives",
        n_subjects=args.subjects,
        shape=(40, 48, 40),
        n_volumes=150,
        n_networks=N_NETWORKS,
        subject_shift_mm=6.0,
        seed=0,
    )
    data = {"source": "fmriprep", "fmriprep": {"dir": str(dataset.root)}}
    cases = {
        "single_rs0": {"decomposition": {"n_runs": 1, "random_state": 0}},
        "single_rs10": {"decomposition": {"n_runs": 1, "random_state": 10}},
        "consensus_rs0": {
            "decomposition": {"n_runs": args.seeds, "random_state": 0},
            "dual_regression": True,
        },
        "consensus_rs10": {"decomposition": {"n_runs": args.seeds, "random_state": 10}},
        "extra_components": {
            "decomposition": {
                "n_runs": args.seeds,
                "random_state": 0,
                "n_components": N_NETWORKS + EXTRA,
            }
        },
    }
    results, seconds = {}, {}
    for name, override in cases.items():
        print(f"[{name}] running the workflow ...", flush=True)
        workdir = root / name
        workdir.mkdir()
        common = {"data": data, "confounds": {"strategy": "simple"}}
        results[name], seconds[name] = run_workflow(workdir, merge(common, override))
    mask = np.asanyarray(nib.load(results["single_rs0"] / "group" / "mask.nii.gz").dataobj) > 0
    maps = {name: in_mask(r / "group" / "components.nii.gz", mask) for name, r in results.items()}
    truth = in_mask(dataset.network_maps, mask)

    def recovery(name: str) -> float:
        return float(matched(maps[name], truth)[2].mean())

    def reproducibility(a: str, b: str) -> dict:
        values = matched(maps[a], maps[b])[2]
        return {"mean": float(values.mean()), "min": float(values.min())}

    extra = read_table(results["extra_components"] / "group" / "stability.tsv")
    stability = np.array([float(row["stability"]) for row in extra])
    rows, _, r = matched(maps["extra_components"], truth)
    planted = np.zeros(len(stability), dtype=bool)
    planted[rows[r > 0.5]] = True
    record = {
        "subjects": args.subjects,
        "seeds": args.seeds,
        "seconds": seconds,
        "reproducibility": {
            "single": reproducibility("single_rs0", "single_rs10"),
            "consensus": reproducibility("consensus_rs0", "consensus_rs10"),
        },
        "recovery": {
            name: recovery(name)
            for name in ("single_rs0", "single_rs10", "consensus_rs0", "consensus_rs10")
        },
        "extra_components": {
            "planted_stability": stability[planted].tolist(),
            "extra_stability": stability[~planted].tolist(),
        },
        "dual_regression": identifiability(
            results["consensus_rs0"], dataset, mask, maps["consensus_rs0"]
        ),
    }
    return record


def print_tables(record: dict) -> None:
    rep, rec = record["reproducibility"], record["recovery"]
    print(f"\n## Stability ({record['subjects']} subjects, n_runs {record['seeds']})\n")
    print(f"| | single run (n_runs 1) | consensus (n_runs {record['seeds']}) |\n|---|---|---|")
    print(
        f"| maps, random_state 0 vs 10: mean (worst) matched abs r | "
        f"{rep['single']['mean']:.3f} ({rep['single']['min']:.3f}) | "
        f"{rep['consensus']['mean']:.3f} ({rep['consensus']['min']:.3f}) |"
    )
    print(
        f"| recovery of the planted networks (mean matched abs r), seeds 0 / 10 | "
        f"{rec['single_rs0']:.3f} / {rec['single_rs10']:.3f} | "
        f"{rec['consensus_rs0']:.3f} / {rec['consensus_rs10']:.3f} |"
    )
    s = record["seconds"]
    print(
        f"| wall time of a cold run (s) | {s['single_rs0']:.1f} | {s['consensus_rs0']:.1f} "
        "(with dual regression) |"
    )
    extra = record["extra_components"]
    print(
        f"\nWith {N_NETWORKS + EXTRA} components for {N_NETWORKS} planted networks: stability of "
        f"the clusters matching a planted network {fmt_list(extra['planted_stability'])}; of the "
        f"others {fmt_list(extra['extra_stability'])}."
    )
    dr = record["dual_regression"]
    print(
        f"\nDual regression: {100 * dr['identifiable_fraction']:.0f} % of {dr['pairs']} run x "
        f"network pairs identifiable (median abs r with the own subject's planted map "
        f"{dr['median_own_r']:.2f})."
    )


def fmt_list(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.2f}" for v in values) + "]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    record = measure(args)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "stability.json").write_text(json.dumps(record, indent=1))
    print_tables(record)
    print("\n(JSON record: benchmarks/out/stability.json)")


if __name__ == "__main__":
    main()
