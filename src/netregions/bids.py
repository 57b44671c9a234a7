"""BIDS names: parse and write them, find fMRIPrep runs, name our derivative outputs.

Standard library only: the Snakemake process imports this module when it parses the workflow
(every invocation, no-op reruns included), so it must not pay for numpy or nibabel.
The naming rules implemented here are written down in docs/methods/bids.md.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from netregions.atomic import atomic_path
from netregions.exceptions import InputDataError

__all__ = [
    "ATLAS_PATH",
    "BIDS_VERSION",
    "COMPONENTS_PATH",
    "ENTITY_ORDER",
    "MASK_PATH",
    "NATIVE_RES",
    "REGION_MAPS_PATH",
    "RUN_ENTITIES",
    "Run",
    "bids_uri",
    "brain_mask_names",
    "check_participant_columns",
    "dataset_description",
    "derivative_path",
    "discover_fmriprep_runs",
    "format_bids_name",
    "parse_bids_name",
    "pybids_config",
    "read_participants",
    "read_repetition_time",
    "require_columns",
    "run_directory",
    "run_name",
    "write_json",
]

#: Entity keys in the order they are written (docs/methods/bids.md, Entity order).
ENTITY_ORDER: tuple[str, ...] = (
    "sub",
    "ses",
    "task",
    "acq",
    "ce",
    "rec",
    "dir",
    "run",
    "echo",
    "part",
    "hemi",
    "space",
    "cohort",
    "atlas",
    "seg",
    "res",
    "den",
    "label",
    "stat",
    "desc",
)

#: The entities that identify one acquired run (docs/methods/bids.md, Runs): ``sub`` to
#: ``part`` in the writing order.
RUN_ENTITIES: tuple[str, ...] = ENTITY_ORDER[: ENTITY_ORDER.index("part") + 1]

#: The ``res`` selection of files written without a ``res`` entity (fMRIPrep's ``:res-native``
#: output spaces, and every space before fMRIPrep 20.2).
NATIVE_RES = "native"

#: BIDS version that our dataset_description.json declares.
BIDS_VERSION = "1.10.0"

#: Group outputs that per-run sidecars cite in ``Sources``, relative to the results' root
#: (the output contract's names; the workflow writes them under ``group/``).
REGION_MAPS_PATH = "group/regions.nii.gz"
ATLAS_PATH = "group/atlas-netregions_dseg.nii.gz"
COMPONENTS_PATH = "group/components.nii.gz"
MASK_PATH = "group/mask.nii.gz"

#: Largest disagreement (s) between the sidecar's and the header's TR that goes unmentioned.
TR_TOLERANCE = 1e-3

_LABEL = re.compile(r"[A-Za-z0-9]+")
_EXTENSION = re.compile(r"(\.[A-Za-z0-9]+)+")
_BOLD_EXTENSIONS = (".nii.gz", ".nii")
_CONFOUNDS_SUFFIXES = ("timeseries", "regressors")  # current, then fMRIPrep < 20.2
_PREPROC_BOLD = re.compile(r".*_desc-preproc_bold\.nii(\.gz)?")
_ENTITY_RANK = {key: rank for rank, key in enumerate(ENTITY_ORDER)}


# --------------------------------------------------------------------------- names


def parse_bids_name(name: str) -> tuple[dict[str, str], str, str]:
    """Split a BIDS file name into its entities, suffix and extension.

    Parameters
    ----------
    name : str
        A file name such as ``"sub-01_task-rest_run-2_desc-preproc_bold.nii.gz"``; a path is
        accepted and only its last component is parsed.

    Returns
    -------
    entities : dict of str to str
        Key to label, in the order they appear in the name (no order is enforced when reading,
        because fMRIPrep itself writes ``dir`` before ``rec``).
    suffix : str
        e.g. ``"bold"``.
    extension : str
        Everything from the first dot, e.g. ``".nii.gz"`` or ``".dtseries.nii"``.

    Raises
    ------
    ValueError
        When the name is not ``key-label[_key-label...]_suffix.extension`` with alphanumeric
        keys, labels and suffix, or repeats a key.
    """
    base = os.path.basename(name)
    stem, dot, rest = base.partition(".")
    extension = dot + rest
    *pairs, suffix = stem.split("_")
    if not pairs or not _LABEL.fullmatch(suffix) or not _EXTENSION.fullmatch(extension):
        raise ValueError(
            f"{base!r} is not a BIDS file name (key-label pairs, then _suffix.extension)"
        )
    return _parse_pairs(pairs, base), suffix, extension


def _parse_pairs(pairs: Sequence[str], name: str) -> dict[str, str]:
    entities: dict[str, str] = {}
    for pair in pairs:
        key, dash, label = pair.partition("-")
        if not dash or not _LABEL.fullmatch(key) or not _LABEL.fullmatch(label):
            raise ValueError(f"{name!r}: {pair!r} is not a BIDS key-label pair")
        if key in entities:
            raise ValueError(f"{name!r}: the entity {key!r} appears twice")
        entities[key] = label
    return entities


def format_bids_name(entities: Mapping[str, str | None], suffix: str, extension: str) -> str:
    """Write a BIDS file name, entities in :data:`ENTITY_ORDER`.

    Parameters
    ----------
    entities : mapping of str to str
        Key to label; keys with a ``None`` label are left out.
    suffix : str
        Alphanumeric, e.g. ``"timeseries"``.
    extension : str
        Starting with a dot, e.g. ``".tsv"``; ``""`` for none.

    Returns
    -------
    str
        e.g. ``"sub-01_task-rest_seg-netregions_timeseries.tsv"``.

    Raises
    ------
    ValueError
        For a key outside :data:`ENTITY_ORDER`, a label or suffix that is not alphanumeric,
        or an extension that does not start with a dot.
    """
    present = {key: label for key, label in entities.items() if label is not None}
    unknown = sorted(set(present) - set(ENTITY_ORDER))
    if unknown:
        raise ValueError(f"unknown BIDS entities {unknown}; known: {', '.join(ENTITY_ORDER)}")
    for key, label in present.items():
        if not _LABEL.fullmatch(str(label)):
            raise ValueError(f"the {key} label {label!r} is not alphanumeric")
    if not _LABEL.fullmatch(suffix):
        raise ValueError(f"the suffix {suffix!r} is not alphanumeric")
    if extension and not _EXTENSION.fullmatch(extension):
        raise ValueError(f"the extension {extension!r} does not look like '.tsv' or '.nii.gz'")
    ordered = sorted(present, key=_ENTITY_RANK.__getitem__)
    return _join(((key, str(present[key])) for key in ordered), suffix, extension)


def _join(pairs, suffix: str, extension: str) -> str:
    """Name from (key, label) pairs in the given order (no checks, no reordering)."""
    return "_".join([*(f"{key}-{label}" for key, label in pairs), suffix]) + extension


def run_name(entities: Mapping[str, str]) -> str:
    """The run part of a file's name: its run entities in BIDS order.

    Parameters
    ----------
    entities : mapping of str to str
        A file's entities (as from :func:`parse_bids_name`); ``sub`` is required, entities
        outside :data:`RUN_ENTITIES` (space, res, desc, ...) are ignored.

    Returns
    -------
    str
        e.g. ``"sub-01_ses-1_task-rest_run-2"``; a synthetic or local run is ``"sub-01"`` or
        ``"sub-01_task-pixar"``.

    Raises
    ------
    ValueError
        When ``sub`` is missing.
    """
    if not entities.get("sub"):
        raise ValueError(f"a run needs a subject ('sub' entity); got {dict(entities)}")
    return "_".join(f"{key}-{entities[key]}" for key in RUN_ENTITIES if entities.get(key))


def _run_entities(name: str) -> dict[str, str]:
    """Entities of a run name; it must hold run entities only, in BIDS order."""
    entities = _parse_pairs(name.split("_"), name)
    if not entities.get("sub") or run_name(entities) != name:
        raise ValueError(
            f"{name!r} is not a run name (sub-<label> then {', '.join(RUN_ENTITIES[1:])}"
            " entities, in that order)"
        )
    return entities


def run_directory(entities_or_run_name: Mapping[str, str] | str) -> str:
    """Folder of a run's files, relative to a BIDS(-derivative) root.

    Parameters
    ----------
    entities_or_run_name : mapping of str to str, or str
        A file's entities, or a run name such as ``"sub-01_ses-1_task-rest_run-2"``.

    Returns
    -------
    str
        ``"sub-01/ses-1/func"``, or ``"sub-01/func"`` without a session (POSIX separators).

    Raises
    ------
    ValueError
        When there is no subject, or the string is not a run name.
    """
    if isinstance(entities_or_run_name, str):
        entities = _run_entities(entities_or_run_name)
    else:
        entities = entities_or_run_name
    if not entities.get("sub"):
        raise ValueError(f"a run needs a subject ('sub' entity); got {dict(entities)}")
    parts = [f"sub-{entities['sub']}"]
    if entities.get("ses"):
        parts.append(f"ses-{entities['ses']}")
    return "/".join([*parts, "func"])


def bids_uri(path: str) -> str:
    """BIDS URI of a file of the results, for a sidecar's ``Sources``.

    Parameters
    ----------
    path : str
        Relative to the results' root, POSIX separators, e.g. ``"group/regions.nii.gz"``.

    Returns
    -------
    str
        ``"bids::group/regions.nii.gz"`` (``bids:`` and an empty dataset name: the current
        dataset).

    Raises
    ------
    ValueError
        For an absolute path.
    """
    if path.startswith("/"):
        raise ValueError(f"a BIDS URI path is relative to the dataset's root, got {path!r}")
    return f"bids::{path}"


def derivative_path(run_name: str, suffix: str, extension: str, **entities: str) -> str:
    """Relative path of one of our per-run derivative files.

    Parameters
    ----------
    run_name : str
        e.g. ``"sub-01_ses-1_task-rest_run-2"`` (as from :func:`run_name`).
    suffix : str
        e.g. ``"timeseries"``, ``"relmat"``, ``"components"``.
    extension : str
        e.g. ``".tsv"``, ``".nii.gz"``.
    **entities : str
        Further entities (``seg``, ``stat``, ``desc``, ...), written after the run entities in
        :data:`ENTITY_ORDER`.

    Returns
    -------
    str
        e.g. ``"sub-01/ses-1/func/sub-01_ses-1_task-rest_run-2_seg-netregions_timeseries.tsv"``.

    Raises
    ------
    ValueError
        When ``run_name`` is not a run name, an extra entity is a run entity or unknown, or a
        label is not alphanumeric.
    """
    run = _run_entities(run_name)
    clashing = sorted(set(entities) & set(RUN_ENTITIES))
    if clashing:
        raise ValueError(f"{clashing} are run entities; they come from the run name {run_name!r}")
    name = format_bids_name({**run, **entities}, suffix, extension)
    return f"{run_directory(run)}/{name}"


# --------------------------------------------------------------------------- fMRIPrep runs


@dataclass(frozen=True)
class Run:
    """One preprocessed BOLD run and the files that go with it.

    Attributes
    ----------
    name : str
        Run name, e.g. ``"sub-01_ses-1_task-rest_run-2"``.
    subject : str
        Subject label without ``"sub-"``.
    session : str or None
        Session label without ``"ses-"``.
    task : str or None
        Task label.
    bold : str
        Path of the preprocessed BOLD image.
    confounds : str or None
        Path of the confounds table.
    sidecar : str or None
        Path of the BOLD image's JSON sidecar, if it exists.
    brain_mask : str or None
        Path of the run's brain mask in the same space and resolution, if it exists.
    entities : mapping of str to str
        Entities of the BOLD file name.
    """

    name: str
    subject: str
    session: str | None
    task: str | None
    bold: str
    confounds: str | None
    sidecar: str | None
    brain_mask: str | None
    entities: Mapping[str, str] = field(hash=False)

    @property
    def directory(self) -> str:
        """Folder of the run's outputs, e.g. ``"sub-01/ses-1/func"``."""
        return run_directory(self.entities)


@dataclass
class _Folder:
    """One ``func`` folder: its path and the entities of the BIDS names it holds."""

    path: Path
    subject: str
    session: str | None
    files: list[str]  # every visible file name, sorted
    names: dict[str, tuple[dict[str, str], str, str]]  # the BIDS ones, parsed


def discover_fmriprep_runs(
    root: str | os.PathLike,
    space: str,
    task: str | None = None,
    subjects: Sequence[str] = (),
    res: str | None = None,
    cohort: str | None = None,
) -> list[Run]:
    """Find the preprocessed BOLD runs of an fMRIPrep derivatives folder.

    Parameters
    ----------
    root : path-like
        fMRIPrep output folder (holding ``sub-*/[ses-*/]func/``).
    space : str
        Output space label, e.g. ``"MNI152NLin2009cAsym"``.
    task : str or None, default=None
        Keep runs of this task only; ``None`` keeps every task.
    subjects : sequence of str, default=()
        Keep these subjects (labels with or without ``"sub-"``); empty keeps every subject.
    res : str or None, default=None
        Keep this resolution label only (``res-<label>``); :data:`NATIVE_RES` (``"native"``)
        keeps the files without a ``res`` entity (and any ``res-native``); ``None`` accepts
        any, as long as each run has one file in ``space``.
    cohort : str or None, default=None
        Keep this template cohort only (``cohort-<label>``, e.g. of ``MNIPediatricAsym``);
        ``None`` accepts any, as long as each run has one file in ``space``.

    Returns
    -------
    list of Run
        Sorted by run name.

    Raises
    ------
    InputDataError
        One message listing every problem: the root does not exist; no run matches (the tasks,
        spaces, and resolutions or cohorts that were found are listed); a run has several files
        in the space (set ``data.fmriprep.res`` or ``data.fmriprep.cohort``) or no, or several,
        confounds files; a file lies in another subject's or session's folder; a selected
        subject has no matching run.

    Notes
    -----
    The rules (which files count as runs, confounds pairing, mask and sidecar names) are in
    docs/methods/bids.md.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputDataError(f"the fMRIPrep derivatives folder {root} does not exist")
    wanted = set(_subject_labels(subjects))
    filters = _Filters(space, task, res, cohort)
    problems: list[str] = []
    folders = _func_folders(root)
    found = [
        (folder, name, parsed)
        for folder in folders
        for name, parsed in folder.names.items()
        if _is_preproc_bold(parsed)
    ]
    problems += _unparseable_bold(folders)
    problems += _misplaced(found)
    selected = [
        item
        for item in found
        if filters.keep(item[2][0]) and (not wanted or item[2][0].get("sub") in wanted)
    ]
    if not selected:
        problems.insert(0, _no_match(root, found, filters, sorted(wanted)))
        raise InputDataError(_problem_report(root, problems))
    runs = _pair_runs(selected, filters, problems)
    missing = sorted(wanted - _subjects_of(selected))
    problems += [f"sub-{label}: no run matches {filters}" for label in missing]
    if problems:
        raise InputDataError(_problem_report(root, problems))
    return sorted(runs, key=lambda run: run.name)


def _strip_prefix(label: str, key: str) -> str:
    return label[len(key) + 1 :] if label.startswith(f"{key}-") else label


def _subject_labels(subjects: Sequence[str] | str) -> list[str]:
    """Labels without "sub-"; a lone string is one subject, not a sequence of characters."""
    if isinstance(subjects, str):
        subjects = [subjects]
    return [_strip_prefix(str(label), "sub") for label in subjects]


def _func_folders(root: Path) -> list[_Folder]:
    """``sub-*/func`` and ``sub-*/ses-*/func`` folders, each listed and parsed once."""
    folders = []
    for subject_dir in _subfolders(root, "sub"):
        subject = subject_dir.name[len("sub-") :]
        candidates = [(subject_dir / "func", None)]
        candidates += [
            (ses / "func", ses.name[len("ses-") :]) for ses in _subfolders(subject_dir, "ses")
        ]
        folders += [_list_folder(path, subject, ses) for path, ses in candidates if path.is_dir()]
    return folders


def _subfolders(path: Path, key: str) -> list[Path]:
    # fMRIPrep also writes sub-<label>.html reports beside the sub-<label>/ folders
    return sorted(p for p in path.glob(f"{key}-*") if p.is_dir())


def _list_folder(path: Path, subject: str, session: str | None) -> _Folder:
    # hidden files (macOS "._" copies, our own ".tmp-" files) are never data
    files = sorted(name for name in os.listdir(path) if not name.startswith("."))
    names = {}
    for name in files:
        try:
            names[name] = parse_bids_name(name)
        except ValueError:
            continue
    return _Folder(path, subject, session, files, names)


def _is_preproc_bold(parsed: tuple[dict[str, str], str, str]) -> bool:
    entities, suffix, extension = parsed
    return entities.get("desc") == "preproc" and suffix == "bold" and extension in _BOLD_EXTENSIONS


def _unparseable_bold(folders: Sequence[_Folder]) -> list[str]:
    """Names that look like preprocessed BOLD files but are not valid BIDS names."""
    problems = []
    for folder in folders:
        for name in folder.files:
            if _PREPROC_BOLD.fullmatch(name) and name not in folder.names:
                problems.append(f"{folder.path / name} is not a valid BIDS file name")
    return problems


def _misplaced(found) -> list[str]:
    """Files whose sub/ses entities disagree with the folders they are in."""
    problems = []
    for folder, name, (entities, _, _) in found:
        if entities.get("sub") != folder.subject or entities.get("ses") != folder.session:
            where = f"sub-{folder.subject}" + (f"/ses-{folder.session}" if folder.session else "")
            problems.append(f"{folder.path / name} is in the folder of {where}")
    return problems


def _res_label(entities: Mapping[str, str]) -> str:
    """A file's resolution as :func:`discover_fmriprep_runs` selects it (no res: native)."""
    return entities.get("res", NATIVE_RES)


@dataclass(frozen=True)
class _Filters:
    """The selection of runs: ``data.fmriprep`` space, task, res and cohort."""

    space: str
    task: str | None
    res: str | None
    cohort: str | None

    def keep(self, entities: Mapping[str, str]) -> bool:
        return (
            entities.get("space") == self.space
            and (self.task is None or entities.get("task") == self.task)
            and (self.res is None or _res_label(entities) == self.res)
            and (self.cohort is None or entities.get("cohort") == self.cohort)
        )

    def __str__(self) -> str:
        text = f"space-{self.space}"
        text += f", task-{self.task}" if self.task is not None else ""
        text += f", cohort-{self.cohort}" if self.cohort is not None else ""
        if self.res == NATIVE_RES:
            return text + f", res {NATIVE_RES} (no res entity)"
        return text + (f", res-{self.res}" if self.res is not None else "")


def _labels(found, key: str, label=None, **where: str) -> str:
    """Labels of ``key`` among the found files (``label`` reads it, e.g. :func:`_res_label`)."""
    label = label or (lambda entities: entities.get(key, f"(no {key})"))
    labels = {
        label(parsed[0])
        for _, _, parsed in found
        if all(parsed[0].get(k) == v for k, v in where.items())
    }
    return ", ".join(sorted(labels)) or "(none)"


def _no_match(root: Path, found, filters: _Filters, subjects: list[str]) -> str:
    message = f"no *_desc-preproc_bold.nii[.gz] under {root}/sub-*/[ses-*/]func matches {filters}"
    if subjects:
        message += f" for subjects {', '.join(subjects)}"
    if not found:
        return message + "; no preprocessed BOLD file was found at all"
    message += f"; found tasks: {_labels(found, 'task')}; spaces: {_labels(found, 'space')}"
    space = filters.space
    if filters.cohort is not None:
        cohorts = _labels(found, "cohort", space=space)
        message += f"; cohorts in space-{space} (data.fmriprep.cohort): {cohorts}"
    if filters.res is not None:
        resolutions = _labels(found, "res", _res_label, space=space)
        message += f"; resolutions in space-{space} (data.fmriprep.res): {resolutions}"
    if subjects:
        message += f"; subjects: {_labels(found, 'sub')}"
    return message


def _subjects_of(selected) -> set[str]:
    return {parsed[0]["sub"] for _, _, parsed in selected}


def _problem_report(root: Path, problems: Sequence[str]) -> str:
    if len(problems) == 1:
        return problems[0]
    return f"{len(problems)} problems with the fMRIPrep runs in {root}: " + "; ".join(problems)


def _pair_runs(selected, filters: _Filters, problems: list[str]) -> list[Run]:
    """One Run per run name; ambiguous names and missing confounds go to ``problems``."""
    by_run: dict[str, list] = {}
    for item in selected:
        by_run.setdefault(run_name(item[2][0]), []).append(item)
    runs = []
    for name, items in by_run.items():
        if len(items) > 1:
            problems.append(_ambiguous(name, items, filters))
            continue
        folder, bold_name, (entities, _, extension) = items[0]
        confounds = _find_confounds(folder, name, entities, problems)
        if confounds is not None:
            runs.append(_make_run(folder, name, bold_name, entities, extension, confounds))
    return runs


def _ambiguous(name: str, items, filters: _Filters) -> str:
    """Why a run has several files: the settings that would pick one, else duplicates."""
    files = ", ".join(str(folder.path / bold) for folder, bold, _ in items)
    choices = []
    for key, chosen, label in (
        ("cohort", filters.cohort, lambda entities: entities.get("cohort", "(no cohort)")),
        ("res", filters.res, _res_label),
    ):
        labels = sorted({label(parsed[0]) for _, _, parsed in items})
        if chosen is None and len(labels) > 1:
            choices.append(f"data.fmriprep.{key} to one of {', '.join(labels)}")
    if choices:
        return (
            f"{name} has several files in space-{filters.space} ({files}): "
            f"set {' and '.join(choices)}"
        )
    return f"duplicate run name {name}: several files {files}"


def _find_confounds(
    folder: _Folder, name: str, bold: Mapping[str, str], problems: list[str]
) -> Path | None:
    """The confounds table of a BOLD file (docs/methods/bids.md, Confounds pairing)."""
    tables = {
        file: entities
        for file, (entities, suffix, extension) in folder.names.items()
        if entities.get("desc") == "confounds"
        and suffix in _CONFOUNDS_SUFFIXES
        and extension == ".tsv"
    }
    matches = [
        file for file, entities in tables.items() if _confounds_entities_match(entities, bold)
    ]
    if len(matches) == 1:
        return folder.path / matches[0]
    if not matches:
        run_only = [
            (k, v)
            for k, v in bold.items()
            if k in RUN_ENTITIES and k not in _CONFOUNDS_OPTIONAL_RUN_ENTITIES
        ]
        expected = _join([*run_only, ("desc", "confounds")], "timeseries", ".tsv")
        message = f"{name}: confounds file not found: {folder.path / expected}"
        # a table of the same run without acq/rec/... once paired silently; say why it does not
        others = [file for file, entities in tables.items() if _is_subset(entities, bold)]
        if others:
            which = "the table of another run" if len(others) == 1 else "tables of other runs"
            message += f" ({', '.join(others)}: {which}, not used)"
        problems.append(message)
    else:
        problems.append(f"{name}: several confounds files match: {', '.join(matches)}")
    return None


def _is_subset(entities: Mapping[str, str], bold: Mapping[str, str]) -> bool:
    return all(bold.get(key) == label for key, label in entities.items() if key != "desc")


#: Run entities a confounds table may lack: fMRIPrep writes one table for the echoes of a
#: multi-echo run, without ``echo`` (docs/methods/bids.md, Confounds pairing).
_CONFOUNDS_OPTIONAL_RUN_ENTITIES = frozenset({"echo"})


def _confounds_entities_match(table: Mapping[str, str], bold: Mapping[str, str]) -> bool:
    """Whether a confounds table's entities fit a BOLD file's (desc aside).

    The run entities must be equal, so that a table never serves another acquisition or
    reconstruction of the same run; other entities (space, res, ...) may be absent from the
    table, and those present must agree.
    """
    same_run = all(
        table.get(key) == bold.get(key)
        for key in RUN_ENTITIES
        if key not in _CONFOUNDS_OPTIONAL_RUN_ENTITIES
    )
    return same_run and _is_subset(table, bold)


def brain_mask_names(bold_name: str) -> tuple[str, ...]:
    """File names of the brain mask fMRIPrep writes beside a preprocessed BOLD file.

    Parameters
    ----------
    bold_name : str
        A BIDS name (or path) such as ``"sub-01_task-rest_space-X_res-2_desc-preproc_bold.nii.gz"``.

    Returns
    -------
    tuple of str
        The same entities, in the same order, with ``desc-brain`` and suffix ``mask``: the
        ``.nii.gz`` name, then the ``.nii`` one (docs/methods/bids.md, Brain mask and sidecar).

    Raises
    ------
    ValueError
        When ``bold_name`` is not a BIDS file name.
    """
    entities, _, _ = parse_bids_name(bold_name)
    mask_entities = [(k, "brain" if k == "desc" else v) for k, v in entities.items()]
    return tuple(_join(mask_entities, "mask", ext) for ext in _BOLD_EXTENSIONS)


def _make_run(folder, name, bold_name, entities, extension, confounds) -> Run:
    sidecar = bold_name[: -len(extension)] + ".json"
    mask = next((m for m in brain_mask_names(bold_name) if m in folder.names), None)
    return Run(
        name=name,
        subject=entities["sub"],
        session=entities.get("ses"),
        task=entities.get("task"),
        bold=str(folder.path / bold_name),
        confounds=str(confounds),
        sidecar=str(folder.path / sidecar) if sidecar in folder.names else None,
        brain_mask=str(folder.path / mask) if mask else None,
        entities=dict(entities),
    )


# --------------------------------------------------------------------------- sidecars


def read_repetition_time(
    sidecar: str | os.PathLike | None,
    header_t_r: float | None,
    run: str,
    *,
    image: str | os.PathLike | None = None,
) -> tuple[float, list[str]]:
    """Repetition time of a run: the sidecar's, else the NIfTI header's.

    Parameters
    ----------
    sidecar : path-like or None
        The BOLD image's JSON sidecar, or ``None`` when there is none.
    header_t_r : float or None
        TR from the image header, in seconds (as from
        :func:`netregions.io.header_repetition_time`); ``None`` when the header has none. A
        value that is not a positive finite number is not used.
    run : str
        Run name, for messages.
    image : path-like or None, default=None
        The BOLD image, named in messages about its header.

    Returns
    -------
    t_r : float
        Seconds.
    warnings : list of str
        Messages for the caller to log: the header was used, or the two sources disagree by
        more than :data:`TR_TOLERANCE` (the sidecar wins).

    Raises
    ------
    InputDataError
        When the sidecar is missing, not JSON, or has an invalid ``RepetitionTime``; when it
        has ``VolumeTiming`` instead (irregular sampling is not supported); when neither
        source gives a TR, or the header's is needed and is not a positive finite number.

    Notes
    -----
    docs/methods/bids.md, Repetition time.
    """
    header = f"the NIfTI header of {image}" if image is not None else "the NIfTI header"
    sidecar_t_r = _sidecar_repetition_time(sidecar, run) if sidecar is not None else None
    header_ok = _positive_number(header_t_r)
    if sidecar_t_r is None:
        if not header_ok:
            source = f"{sidecar} has no RepetitionTime" if sidecar else "there is no sidecar"
            found = (
                "has none (pixdim[4] is 0, or its unit is not a time unit)"
                if header_t_r is None
                else f"has TR {header_t_r!r} s, not a positive finite number"
            )
            raise InputDataError(
                f"{run}: no repetition time: {source} and {header} {found}; write the TR in "
                "seconds as RepetitionTime in the image's JSON sidecar (its name with .json)"
            )
        where = f"{sidecar} has no RepetitionTime" if sidecar else "no JSON sidecar"
        return float(header_t_r), [f"{run}: {where}; using TR {header_t_r} s from {header}"]
    warnings = []
    if header_ok and abs(header_t_r - sidecar_t_r) > TR_TOLERANCE:
        warnings.append(
            f"{run}: RepetitionTime {sidecar_t_r} s in {sidecar} differs from the TR "
            f"{header_t_r} s of {header}; using {sidecar_t_r} s from the sidecar"
        )
    return sidecar_t_r, warnings


def _positive_number(value) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _sidecar_repetition_time(path: str | os.PathLike, run: str) -> float | None:
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8-sig"))  # a BOM is tolerated
    except FileNotFoundError:
        raise InputDataError(f"{run}: JSON sidecar not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputDataError(f"{run}: {path} is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InputDataError(f"{run}: {path} holds a JSON {type(payload).__name__}, not an object")
    if "RepetitionTime" not in payload:
        if "VolumeTiming" in payload:
            raise InputDataError(
                f"{run}: {path} gives VolumeTiming instead of RepetitionTime; "
                "irregularly sampled runs are not supported"
            )
        return None
    t_r = payload["RepetitionTime"]
    if not _positive_number(t_r):
        raise InputDataError(
            f"{run}: RepetitionTime in {path} must be a positive number of seconds, got {t_r!r}"
        )
    return float(t_r)


# --------------------------------------------------------------------------- participants


def read_participants(
    path: str | os.PathLike, subjects: Sequence[str] | None = None
) -> dict[str, dict[str, str]]:
    """Read a BIDS ``participants.tsv``.

    Parameters
    ----------
    path : path-like
        Tab-separated table with a ``participant_id`` column.
    subjects : sequence of str or None, default=None
        Subject labels (with or without ``"sub-"``) that must be present; only they are
        returned. ``None`` returns every row.

    Returns
    -------
    dict of str to dict of str to str
        Subject label without ``"sub-"`` -> {column: value} for every column (cells stripped
        of surrounding blanks; ``n/a`` kept as the string ``"n/a"``), in file order.

    Raises
    ------
    InputDataError
        When the file is missing, has no ``participant_id`` column, a row with the wrong
        number of cells, an empty or repeated id, or lacks a requested subject.
    """
    rows = _read_tsv_rows(path)
    header = rows[0][1]
    if "participant_id" not in header:
        raise InputDataError(
            f"{path} has no participant_id column; columns found: {', '.join(header)}"
        )
    table: dict[str, dict[str, str]] = {}
    for line, cells in rows[1:]:
        if len(cells) != len(header):
            raise InputDataError(
                f"{path}, line {line}: {len(cells)} cells, but the header has {len(header)}"
            )
        row = dict(zip(header, cells, strict=True))
        label = _strip_prefix(row["participant_id"], "sub")
        if not label:
            raise InputDataError(f"{path}, line {line}: empty participant_id")
        if label in table:
            raise InputDataError(f"{path}, line {line}: participant sub-{label} appears twice")
        table[label] = row
    if subjects is None:
        return table
    return _select_participants(table, subjects, path)


def check_participant_columns(
    path: str | os.PathLike, columns: Sequence[str], setting: str
) -> None:
    """Check that a participants table has the columns a setting names.

    Parameters
    ----------
    path : path-like
        participants.tsv.
    columns : sequence of str
        Columns that must be in its header.
    setting : str
        The config key that names them, for the message (e.g. ``"qcfc.covariates"``).

    Raises
    ------
    InputDataError
        Naming the setting, the file, the columns it lacks and the columns it has (also when
        the file is missing or empty).
    """
    require_columns(_read_tsv_rows(path)[0][1], columns, setting, path)


def require_columns(
    header: Sequence[str], columns: Sequence[str], setting: str, path: str | os.PathLike
) -> None:
    """Raise :class:`InputDataError` naming the setting, the file and the columns it lacks.

    The check of :func:`check_participant_columns` on a header already read (the keys of a
    :func:`read_participants` row).
    """
    unknown = [column for column in columns if column not in header]
    if unknown:
        raise InputDataError(
            f"{setting}: {path} has no column {', '.join(map(repr, unknown))}; its columns are "
            f"{', '.join(header)}"
        )


def _read_tsv_rows(path: str | os.PathLike) -> list[tuple[int, list[str]]]:
    """(line number, stripped cells) of the non-blank lines; the first is the header."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # tolerates a byte-order mark
    except FileNotFoundError:
        raise InputDataError(f"participants file not found: {path}") from None
    rows = [
        (number, [cell.strip() for cell in line.split("\t")])
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]
    if not rows:
        raise InputDataError(f"{path} is empty; expected a header with participant_id")
    return rows


def _select_participants(table, subjects: Sequence[str], path) -> dict[str, dict[str, str]]:
    wanted = _subject_labels(subjects)
    missing = [label for label in wanted if label not in table]
    if missing:
        raise InputDataError(
            f"{path} has no row for subject(s) {', '.join(f'sub-{m}' for m in missing)}"
        )
    wanted_set = set(wanted)
    return {label: row for label, row in table.items() if label in wanted_set}


# --------------------------------------------------------------------------- dataset files


def dataset_description(
    name: str,
    version: str,
    source_datasets: Sequence[str] = (),
    code_url: str | None = None,
) -> dict:
    """Content of a BIDS derivative ``dataset_description.json``.

    Parameters
    ----------
    name : str
        Name of the derivative dataset.
    version : str
        netregions version that produced it.
    source_datasets : sequence of str, default=()
        URLs (or paths) of the input datasets.
    code_url : str or None, default=None
        Where the code lives.

    Returns
    -------
    dict
        ``Name``, ``BIDSVersion``, ``DatasetType`` ("derivative"), ``GeneratedBy`` and, when
        given, ``SourceDatasets``, in that order.
    """
    generated_by = {"Name": "netregions", "Version": version}
    if code_url is not None:
        generated_by["CodeURL"] = code_url
    description = {
        "Name": name,
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [generated_by],
    }
    if source_datasets:
        description["SourceDatasets"] = [{"URL": str(url)} for url in source_datasets]
    return description


def pybids_config() -> str:
    """Path of the pybids configuration that adds our entities to pybids' own.

    Returns
    -------
    str
        ``<netregions>/data/pybids_config.json`` (package data): load the results with
        ``BIDSLayout(results, validate=False, config=["bids", "derivatives", pybids_config()])``
        so that pybids knows the ``stat`` entity of the connectomes (docs/methods/bids.md,
        Reading the results with pybids).
    """
    from importlib.resources import files

    return str(files("netregions.data").joinpath("pybids_config.json"))


def write_json(path: str | os.PathLike, payload: Mapping) -> None:
    """Write JSON atomically: indented, keys in the given order, newline at the end.

    Parameters
    ----------
    path : path-like
        Destination; parent folders are created.
    payload : mapping
        JSON-serialisable content.

    Raises
    ------
    ValueError
        For NaN or infinite numbers, which are not valid JSON.
    TypeError
        For values JSON cannot represent.
    """
    text = json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
