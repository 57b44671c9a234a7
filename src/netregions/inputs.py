"""The runs of each data source (``data.source``), as :class:`netregions.bids.Run` objects.

The Snakemake process calls these functions when it parses the workflow, at every
invocation: they only look at file names (standard library only, no image is opened) and
fetch nothing. What a run is, and how its outputs are named, is in docs/methods/bids.md.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from netregions.bids import Run, discover_fmriprep_runs, parse_bids_name, run_name
from netregions.exceptions import ConfigError, InputDataError
from netregions.naming import FUNC_SIDECAR_SUFFIX, FUNC_SUFFIX, synthetic_subjects
from netregions.naming import REDUCED_CONFOUNDS_SUFFIX as CONFOUNDS_SUFFIX

__all__ = [
    "CONFOUNDS_SUFFIX",
    "FUNC_SIDECAR_SUFFIX",
    "FUNC_SUFFIX",
    "SOURCES",
    "data_space",
    "development_runs",
    "discover_runs",
    "fmriprep_runs",
    "local_runs",
    "participants_path",
    "runs_from_pattern",
    "synthetic_runs",
    "synthetic_subjects",
]


def _flat_run(subject: str, bold: str, confounds: str | None, sidecar: str | None = None) -> Run:
    """A run given by its files (synthetic, development and local sources)."""
    try:
        entities, _, _ = parse_bids_name(Path(bold).name)
    except ValueError:
        entities = {}
    if entities.get("sub") != subject:
        entities = {"sub": subject}
    return Run(
        name=run_name(entities),
        subject=subject,
        session=entities.get("ses"),
        task=entities.get("task"),
        bold=str(bold),
        confounds=None if confounds is None else str(confounds),
        sidecar=sidecar,
        brain_mask=None,
        entities=entities,
    )


def synthetic_runs(data_dir: str, n_subjects: int) -> list[Run]:
    """Runs of the synthetic source: one per subject, made by the workflow itself.

    Parameters
    ----------
    data_dir : str
        Where the synthetic data are written.
    n_subjects : int

    Returns
    -------
    list of Run
        ``sub-01_task-pixar``, ... (files that need not exist yet), named and laid out as the
        development data, with a JSON sidecar (which the development data lack).
    """
    return [
        replace(run, sidecar=f"{data_dir}/sub-{run.subject}{FUNC_SIDECAR_SUFFIX}")
        for run in development_runs(data_dir, synthetic_subjects(n_subjects))
    ]


def development_runs(data_dir: str, subjects: Sequence[str]) -> list[Run]:
    """Runs of the development source for the selected subjects (files downloaded later)."""
    return [
        _flat_run(s, f"{data_dir}/sub-{s}{FUNC_SUFFIX}", f"{data_dir}/sub-{s}{CONFOUNDS_SUFFIX}")
        for s in subjects
    ]


def runs_from_pattern(pattern: str, subjects: Sequence[str] = ()) -> dict[str, str]:
    """Files of a path pattern with a ``{subject}`` placeholder, by subject label.

    Parameters
    ----------
    pattern : str
        e.g. ``"derivs/sub-{subject}/func/sub-{subject}_task-x_..._bold.nii.gz"``;
        ``{subject}`` may appear several times (all occurrences must agree).
    subjects : sequence of str, optional
        Explicit labels; their files are returned without looking at the disk.

    Returns
    -------
    dict
        ``{subject: path}``, sorted by subject.

    Raises
    ------
    InputDataError
        No ``{subject}`` placeholder, or nothing matches.
    """
    if "{subject}" not in pattern:
        raise InputDataError(f"the path pattern {pattern!r} has no {{subject}} placeholder")
    if subjects:
        labels = sorted(s.removeprefix("sub-") for s in subjects)
        return {s: pattern.format(subject=s) for s in labels}
    parts = pattern.split("{subject}")
    regex = re.escape(parts[0]) + "(?P<subject>[A-Za-z0-9]+)"
    regex += "".join(re.escape(p) + "(?P=subject)" for p in parts[1:-1]) + re.escape(parts[-1])
    found = {}
    for path in glob.glob(pattern.replace("{subject}", "*")):
        match = re.fullmatch(regex, path)
        if match:
            found[match.group("subject")] = path
    if not found:
        raise InputDataError(f"no file matches the pattern {pattern!r}")
    return dict(sorted(found.items()))


def local_runs(func: str, confounds: str | None = None, subjects: Sequence[str] = ()) -> list[Run]:
    """Runs of the local source: one BOLD file per subject, from path patterns.

    A BOLD file's JSON sidecar is its name with ``.json`` for ``.nii[.gz]``, used when it
    exists (its ``RepetitionTime`` is then the run's TR).
    """
    files = runs_from_pattern(func, subjects)
    return [
        _flat_run(s, path, None if not confounds else confounds.format(subject=s), _sidecar(path))
        for s, path in files.items()
    ]


def _sidecar(bold: str) -> str | None:
    """The BOLD file's same-name JSON sidecar, if it exists."""
    stem = re.sub(r"\.nii(\.gz)?$", "", bold)
    return f"{stem}.json" if stem != bold and os.path.isfile(f"{stem}.json") else None


def fmriprep_runs(settings: Mapping[str, Any]) -> list[Run]:
    """Runs of the fMRIPrep source (``data.fmriprep``), see :func:`discover_fmriprep_runs`."""
    if not settings.get("dir"):
        raise ConfigError("data.source is 'fmriprep' but data.fmriprep.dir is not set")
    return discover_fmriprep_runs(
        settings["dir"],
        settings["space"],
        task=settings.get("task"),
        subjects=settings.get("subjects") or (),
        res=settings.get("res"),
        cohort=settings.get("cohort"),
    )


def _synthetic(data: Mapping[str, Any]) -> list[Run]:
    return synthetic_runs(data["synthetic"]["data_dir"], data["n_subjects"])


def _local(data: Mapping[str, Any]) -> list[Run]:
    local = data["local"]
    return local_runs(local["func"], local.get("confounds"), local.get("subjects") or ())


def _fmriprep(data: Mapping[str, Any]) -> list[Run]:
    return fmriprep_runs(data["fmriprep"])


#: Data sources whose runs are known from the config and file names alone, by config name
#: (``data.source``). "development" is not here: its subjects come from a participants table
#: that a workflow job downloads (:func:`development_runs`).
SOURCES: dict[str, Callable[[Mapping[str, Any]], list[Run]] | None] = {
    "synthetic": _synthetic,
    "development": None,
    "local": _local,
    "fmriprep": _fmriprep,
}


def discover_runs(data: Mapping[str, Any]) -> dict[str, Run]:
    """Every run of the configured source, by run name (sorted).

    Parameters
    ----------
    data : mapping
        The validated ``data`` section of the config; its source must not be "development".

    Returns
    -------
    dict
        ``{run name: Run}``.

    Raises
    ------
    InputDataError, ConfigError
        As the source's discovery function (nothing found, missing confounds, ...).
    """
    discover = SOURCES[data["source"]]
    if discover is None:
        raise ValueError(f"the {data['source']!r} source needs its participants table first")
    runs = discover(data)
    if not runs:
        raise InputDataError(f"data.source {data['source']!r}: no run found")
    return {run.name: run for run in sorted(runs, key=lambda r: r.name)}


def participants_path(data: Mapping[str, Any]) -> str | None:
    """The participants table of the configured source, or None.

    ``data.participants`` when set; else the synthetic or development data folder's table
    (written or downloaded by the workflow), the fMRIPrep folder's ``participants.tsv`` when
    it exists, or None (local source).
    """
    if data.get("participants"):
        return str(data["participants"])
    source = data["source"]
    if source in ("synthetic", "development"):
        return f"{data[source]['data_dir']}/participants.tsv"
    if source == "fmriprep" and data["fmriprep"].get("dir"):
        path = Path(data["fmriprep"]["dir"]) / "participants.tsv"
        return str(path) if path.exists() else None
    return None


#: The development data's space: its files are fMRIPrep outputs in this template
#: (:data:`netregions.naming.FUNC_SUFFIX`).
DEVELOPMENT_SPACE = "MNI152NLin2009cAsym"


def data_space(data: Mapping[str, Any]) -> str | None:
    """The template space of the configured source's runs, when it is known.

    Parameters
    ----------
    data : mapping
        The validated ``data`` section of the config.

    Returns
    -------
    str or None
        ``data.fmriprep.space`` (with ``:cohort-<label>`` when ``data.fmriprep.cohort`` is set,
        as fMRIPrep's ``--output-spaces`` writes it); the development data's
        ``MNI152NLin2009cAsym``; for the local source, the ``space`` entity of the func
        pattern's file name, if it has one; ``None`` for the synthetic source (its grid has an
        MNI-like origin but is in no template) and for local files without a space entity.
    """
    source = data["source"]
    if source == "fmriprep":
        settings = data["fmriprep"]
        cohort = settings.get("cohort")
        return settings["space"] + (f":cohort-{cohort}" if cohort is not None else "")
    if source == "development":
        return DEVELOPMENT_SPACE
    if source == "local":
        match = re.search(r"(?:^|_)space-([A-Za-z0-9]+)(?=_)", Path(data["local"]["func"]).name)
        return match.group(1) if match else None
    return None
