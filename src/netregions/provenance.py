"""``provenance.json``: what produced a results folder.

Snakemake's rerun triggers do not track package code, so the package versions recorded here
(together with the config and the input files) are what tells two result folders apart.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from netregions.atomic import atomic_path

__all__ = ["package_versions", "write_provenance"]

PACKAGES = (
    "netregions",
    "snakemake",
    "numpy",
    "scipy",
    "scikit-learn",
    "scikit-image",
    "nibabel",
    "numba",
    "llvmlite",
    "matplotlib",
    "isal",
)


def package_versions() -> dict[str, str | None]:
    """Installed versions of Python and of the packages the workflow uses."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git_commit(folder: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _describe_file(path: str | None) -> dict[str, Any] | None:
    if not path:
        return None
    try:
        return {"path": str(path), "bytes": os.path.getsize(path)}
    except OSError:
        return {"path": str(path), "bytes": None}


def _mtime(path: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.UTC)
    except OSError:
        return None


def write_provenance(
    path: str | Path,
    *,
    config: Mapping[str, Any],
    manifest: str | Path,
    results: Sequence[str],
    workflow_dir: str | Path | None = None,
) -> Path:
    """Write the provenance record of a results folder, atomically.

    Written by a rule whose inputs are every result, so it is rewritten exactly when a result
    is: by the run that made (or remade) the results, never by a no-op or partial run.

    Parameters
    ----------
    path : path-like
        Destination (``<results_dir>/provenance.json``).
    config : mapping
        The configuration used (after validation and defaults).
    manifest : path-like
        ``inputs.tsv`` of the input check: every run's files and sizes.
    results : sequence of path-like
        Every result file; their modification times give ``start`` (the oldest) and
        ``end`` (the newest).
    workflow_dir : path-like, optional
        Folder whose git commit to record; default: the netregions package's own folder (a
        clone installed in development mode), so a run from any working folder records it.

    Returns
    -------
    Path
    """
    import csv

    times = [t for t in (_mtime(r) for r in results) if t is not None]
    with open(manifest, newline="", encoding="utf-8") as f:
        inputs = list(csv.DictReader(f, delimiter="\t"))
    record = {
        "netregions_version": package_versions()["netregions"],
        "start": min(times).isoformat(timespec="seconds") if times else None,
        "end": max(times).isoformat(timespec="seconds") if times else None,
        "written": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "git_commit": _git_commit(Path(workflow_dir or Path(__file__).parent)),
        "packages": package_versions(),
        "config": config,
        "inputs": {
            row["run"]: {
                "bold": _describe_file(row["bold"]),
                "confounds": _describe_file(
                    None if row["confounds"] == "n/a" else row["confounds"]
                ),
            }
            for row in inputs
        },
        "n_results": len(results),
    }
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return Path(path)
