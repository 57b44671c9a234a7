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
import sys
from collections.abc import Mapping
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


def write_provenance(
    path: str | Path,
    *,
    config: Mapping[str, Any],
    inputs: Mapping[str, Mapping[str, str | None]],
    start: datetime.datetime,
    workflow_dir: str | Path | None = None,
) -> Path:
    """Write the provenance record of a run, atomically.

    Parameters
    ----------
    path : path-like
        Destination (``<results_dir>/provenance.json``).
    config : mapping
        The configuration used (after validation and defaults).
    inputs : mapping
        ``{subject: {"func": path, "confounds": path or None}}``.
    start : datetime
        When the run started (timezone-aware).
    workflow_dir : path-like, optional
        Folder of the workflow, to record its git commit; default: the current directory.

    Returns
    -------
    Path
    """
    end = datetime.datetime.now(datetime.UTC)
    record = {
        "netregions_version": package_versions()["netregions"],
        "start": start.isoformat(timespec="seconds"),
        "end": end.isoformat(timespec="seconds"),
        "duration_s": round((end - start).total_seconds(), 2),
        "command": sys.argv,
        "host": platform.node(),
        "platform": platform.platform(),
        "git_commit": _git_commit(Path(workflow_dir or ".")),
        "packages": package_versions(),
        "config": config,
        "inputs": {
            subject: {
                "func": _describe_file(files["func"]),
                "confounds": _describe_file(files.get("confounds")),
            }
            for subject, files in sorted(inputs.items())
        },
    }
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return Path(path)
