"""Rule ``check_inputs``: every run checked from headers and tables before any heavy job."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

import numpy as np

from netregions.confounds import (
    MIN_RESIDUAL_DIMENSIONS,
    Design,
    load_design,
    preset_column_groups,
    residual_dimensions,
)
from netregions.exceptions import InputDataError
from netregions.io import BoldHeader, check_bold_header, write_table

__all__ = ["check_inputs"]

log = logging.getLogger("netregions")


def _zooms(affine: np.ndarray) -> str:
    return "x".join(f"{z:g}" for z in np.sqrt((affine[:3, :3] ** 2).sum(axis=0)).round(3))


def _grid(header: BoldHeader) -> str:
    origin = ", ".join(f"{v:g}" for v in header.affine[:3, 3].round(3))
    shape = "x".join(map(str, header.shape[:3]))
    return f"{shape} voxels of {_zooms(header.affine)} mm, origin ({origin})"


def _same_grid(a: BoldHeader, b: BoldHeader) -> bool:
    return a.shape[:3] == b.shape[:3] and np.allclose(a.affine, b.affine, atol=1e-3)


def _check_run(
    run: str, files: Mapping[str, str | None], design: Mapping
) -> tuple[BoldHeader, float]:
    """Header, TR and denoising design of one run (raising InputDataError on any problem)."""
    from netregions.bids import read_repetition_time

    header = check_bold_header(files["bold"], run)
    t_r, notes = read_repetition_time(files.get("sidecar"), header.t_r, run, image=files["bold"])
    for note in notes:
        log.warning("%s", note)
    run_design = load_design(files.get("confounds"), header.n_volumes, run, **design, t_r=t_r)
    if run_design is not None:
        _check_confound_count(run_design, files["confounds"], run)
    return header, t_r


def _check_confound_count(design: Design, path: str, run: str) -> None:
    """Refuse more confound columns than the run's steady-state volumes can carry.

    Censoring is left to the QC step (it may exclude the run); this catches a strategy whose
    columns alone leave too few degrees of freedom, such as every column of a full fMRIPrep
    table: fewer than two dimensions once the columns and the mean are removed (the rule of
    the time-series step, :func:`netregions.confounds.residual_dimensions`).
    """
    if design.confounds is None:
        return
    n_usable = len(design.sample_mask) - design.n_dummy
    n_confounds = design.confounds.shape[1]
    # the time-series step's own rule, before censoring and without a detrend
    if residual_dimensions(n_usable, n_confounds) >= MIN_RESIDUAL_DIMENSIONS:
        return
    if design.strategy == "columns":
        raise InputDataError(
            f"{run}: {n_confounds} confound columns of {path} for {n_usable} volumes leave too "
            "few degrees of freedom; choose a denoising preset (confounds.strategy: simple, "
            "scrubbing or compcor) or list the columns to use (confounds.columns)"
        )
    groups = preset_column_groups(design.names)
    described = ", ".join(f"{count} {group}" for group, count in groups.items())
    raise InputDataError(
        f"{run}: strategy {design.strategy!r} takes {n_confounds} confound columns of {path} "
        f"({described}) for {n_usable} steady-state volumes, which leaves too few degrees of "
        f"freedom; {_fewer_columns(design.strategy, groups)}"
    )


def _fewer_columns(strategy: str, groups: Mapping[str, int]) -> str:
    """What to change when a preset takes more columns than a run can carry."""
    listed = "list the columns to use (confounds.strategy: columns, with confounds.columns)"
    if strategy == "compcor":
        return (
            f"the {groups.get('a_comp_cor', 0)} a_comp_cor columns are every component of the "
            "combined mask in the table's JSON sidecar, which holds all of them when fMRIPrep "
            "ran with --return-all-components (otherwise those explaining 50 % of the "
            "variance): use tables written without that option, choose confounds.strategy: "
            f"simple, or {listed}"
        )
    if strategy == "scrubbing":
        return f"choose confounds.strategy: simple (2 csf/white_matter columns, not 8), or {listed}"
    return f"the run is too short for this preset: {listed}"


def check_inputs(
    bold: Sequence[str],
    manifest: str,
    *,
    runs: Mapping[str, Mapping[str, str | None]],
    design: Mapping,
    confounds: Sequence[str] = (),
    participants: str | None = None,
    group_column: str | None = None,
    n_splits: int = 5,
    covariates: Sequence[str] = (),
    high_pass: float | None = None,
) -> None:
    """Check every run before compute; write a manifest of the inputs.

    Checks, from headers and tables only (no image data decoded): each BOLD file exists and
    reads, is 4D with at least 2 volumes and a valid affine; its repetition time is known
    (sidecar or header); every run shares the first run's grid; each confounds table has one
    row per volume and the columns the denoising strategy needs; the participants table has
    ``participant_id`` and every subject; for a group comparison, ``group_column`` with two
    groups of at least ``n_splits`` of the runs' subjects; the QC-FC covariates, each varying
    across the subjects with a value; a high-pass cut-off below each run's Nyquist frequency.

    Parameters
    ----------
    bold : sequence of path-like
        Every run's BOLD file (the rule's input, for the workflow's bookkeeping).
    manifest : path-like
        Output TSV: run, subject, session, task, files, size in bytes, volumes, grid, voxel
        size, TR.
    runs : mapping
        ``{run: {"subject", "session", "task", "bold", "confounds", "sidecar"}}``.
    design : mapping
        Keyword arguments of :func:`netregions.confounds.build_design`.
    confounds : sequence of path-like
        Every run's confounds table (inputs of the rule; their runs are named in ``runs``).
    participants : path-like, optional
    group_column : str, optional
        ``group_comparison.column`` (None: no comparison): checked as
        :func:`netregions.steps.group_comparison.check_group_column` does.
    n_splits : int, default=5
        ``group_comparison.n_splits``, the smallest group size the comparison accepts.
    covariates : sequence of str
        ``qcfc.covariates``: participants.tsv columns the QC-FC removes.
    high_pass : float, optional
        ``confounds.high_pass`` (Hz).

    Raises
    ------
    InputDataError
        Listing every problem found, one per line, each naming the run, the file and what is
        wrong.
    """
    problems: list[str] = []
    checked: dict[str, tuple[BoldHeader, float]] = {}
    for run, files in runs.items():
        try:
            checked[run] = _check_run(run, files, design)
        except InputDataError as exc:
            problems.append(str(exc))
    problems += _grid_problems(checked)
    problems += _high_pass_problems(checked, high_pass)
    subjects = sorted({f["subject"] for f in runs.values()})
    problems += _participant_problems(participants, subjects, group_column, n_splits, covariates)
    if problems:
        raise InputDataError(f"{len(problems)} input problem(s):\n" + "\n".join(problems))
    rows = [_manifest_row(run, runs[run], *checked[run]) for run in runs]
    columns = ["run", "subject", "session", "task", "bold", "bold_bytes", "confounds"]
    write_table(manifest, rows, [*columns, "n_volumes", "shape", "voxel_size_mm", "t_r"])
    log.info("%d runs checked", len(rows))


def _high_pass_problems(
    checked: Mapping[str, tuple[BoldHeader, float]], high_pass: float | None
) -> list[str]:
    """One line per run whose Nyquist frequency the high-pass cut-off reaches.

    Such a filter removes every frequency the run has (a low-pass cut-off at or above Nyquist
    is only moved below it, as the reference does, and filters nothing).
    """
    if high_pass is None:
        return []
    return [
        f"{run}: confounds.high_pass={high_pass:g} Hz is at or above the Nyquist frequency "
        f"{0.5 / t_r:g} Hz of its repetition time {t_r:g} s, so the filter would remove "
        "everything; lower confounds.high_pass"
        for run, (_, t_r) in checked.items()
        if high_pass >= 0.5 / t_r
    ]


def _participant_problems(
    participants: str | None,
    subjects: Sequence[str],
    group_column: str | None,
    n_splits: int,
    covariates: Sequence[str],
) -> list[str]:
    """What is wrong with the participants table: rows, the comparison's groups, covariates."""
    if not participants:
        return (
            [f"qcfc.covariates {list(covariates)} need a participants table"] if covariates else []
        )
    from netregions.bids import read_participants

    try:
        table = read_participants(participants, subjects)
    except InputDataError as exc:
        return [str(exc)]
    problems = []
    if group_column:
        from netregions.steps.group_comparison import check_group_column

        try:
            check_group_column(table, group_column, subjects, n_splits, participants)
        except InputDataError as exc:
            problems.append(str(exc))
    if covariates:
        from netregions.steps.qcfc import covariate_problems

        problems += covariate_problems(table, covariates, subjects, participants)
    return problems


def _grid_problems(checked: Mapping[str, tuple[BoldHeader, float]]) -> list[str]:
    """One line per run whose grid differs from the first run's, naming both grids."""
    if not checked:
        return []
    first, (reference, _) = next(iter(checked.items()))
    return [
        f"{run}: grid {_grid(header)} of {header.path} differs from {first}'s grid "
        f"{_grid(reference)} ({reference.path}); all runs must share one grid"
        for run, (header, _) in checked.items()
        if not _same_grid(reference, header)
    ]


def _manifest_row(run: str, files: Mapping, header: BoldHeader, t_r: float) -> dict:
    return {
        "run": run,
        "subject": files["subject"],
        "session": files.get("session"),
        "task": files.get("task"),
        "bold": files["bold"],
        "bold_bytes": os.path.getsize(files["bold"]),
        "confounds": files.get("confounds"),
        "n_volumes": header.n_volumes,
        "shape": "x".join(map(str, header.shape[:3])),
        "voxel_size_mm": _zooms(header.affine),
        "t_r": t_r,
    }
