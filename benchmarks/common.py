"""What every benchmark script shares: paths, the config of a run, running the workflow.

The scripts run as ``python benchmarks/<name>.py`` (this folder is then on ``sys.path``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
#: The Snakemake of the environment that runs the benchmark script.
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def merge(base: dict, override: dict) -> dict:
    """Nested merge of two config dictionaries (``override`` wins), as new dictionaries."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def write_config(workdir: Path, override: dict) -> dict:
    """``workdir/config.yaml``: the repository's config.yaml with ``override``; returned."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = merge(yaml.safe_load((REPO / "config.yaml").read_text()), override)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return config


def run_workflow(workdir: Path, override: dict) -> tuple[Path, float]:
    """Run the workflow in ``workdir`` (``--cores 2``) on the default config and ``override``.

    Returns the results folder and the wall time in seconds.
    """
    config = write_config(workdir, override)
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", "2"]
    start = time.perf_counter()
    subprocess.run([*cmd, "-q"], check=True, capture_output=True)
    return workdir / config["results_dir"], time.perf_counter() - start
