"""Fixtures that run the real workflow (Snakemake in a subprocess) on tiny synthetic data."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

#: A tiny synthetic dataset: 3 subjects of 20x24x20 voxels and 40 volumes, 3 networks.
TINY = {
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
    """Rule -> number of jobs Snakemake would run now (dry run)."""
    return planned_rules(workdir, *args)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A complete workflow run on the tiny dataset (shared by the workflow tests)."""
    workdir = tmp_path_factory.mktemp("tiny")
    write_config(workdir)
    snakemake(workdir, "--cores", "2")
    return workdir
