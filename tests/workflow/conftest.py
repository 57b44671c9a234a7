"""Fixtures that run the real workflow (Snakemake in a subprocess) on tiny synthetic data."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

#: A tiny synthetic dataset: 3 subjects of 20x24x20 voxels and 40 volumes, 3 networks; the
#: per-subject stages run in batches of 2 subjects (sub-01_to_sub-02, sub-03).
TINY = {
    "subjects_per_job": 2,
    "data": {
        "n_subjects": 3,
        "synthetic": {"shape": [20, 24, 20], "n_volumes": 40, "n_networks": 3, "seed": 1},
    },
    "decomposition": {"n_components": 3, "alpha": 2},
    "regions": {"min_region_size": 300},
    "figures": {"network": 1},
}


def merge(base: dict, override: dict) -> dict:
    """Nested merge of config dictionaries (override wins)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def write_config(workdir: Path, override: dict | None = None) -> Path:
    """Write ``config.yaml`` into a working directory: the repo defaults + TINY + override."""
    base = yaml.safe_load((REPO / "config.yaml").read_text())
    config = merge(merge(base, TINY), override or {})
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the repository's workflow in ``workdir`` (which holds its own config.yaml)."""
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), *args]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


#: Batch rules of the per-subject stages are named <stage>_sub-<first>[_to_sub-<last>].
BATCH_RULE = re.compile(r"(?P<stage>\w+?)_(?P<batch>sub-[A-Za-z0-9]+(?:_to_sub-[A-Za-z0-9]+)?)")


def stage_of(rule: str) -> str:
    """The stage of a batch rule (``load_subject_sub-01_to_sub-02`` -> ``load_subject``)."""
    match = BATCH_RULE.fullmatch(rule)
    return match.group("stage") if match else rule


def planned_rules(workdir: Path, *args: str) -> dict[str, int]:
    """Rule -> number of jobs Snakemake would run now (dry run), parsed from its job stats."""
    out = snakemake(workdir, "-n", *args, "--quiet", "rules")
    counts: dict[str, int] = {}
    for line in (out.stdout + out.stderr).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total", "job"):
            counts[parts[0]] = int(parts[1])
    return counts


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Stage -> number of jobs Snakemake would run now; batch rules count under their stage."""
    counts: dict[str, int] = {}
    for rule, n in planned_rules(workdir, *args).items():
        counts[stage_of(rule)] = counts.get(stage_of(rule), 0) + n
    return counts


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A complete workflow run on the tiny dataset (shared by the workflow tests)."""
    workdir = tmp_path_factory.mktemp("tiny")
    write_config(workdir)
    snakemake(workdir, "--cores", "2")
    return workdir
