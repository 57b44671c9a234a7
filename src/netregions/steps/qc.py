"""Rule ``qc``: per-run quality control, and which runs the group analyses use."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from netregions.exceptions import InputDataError
from netregions.io import save_array, write_table
from netregions.qc import exclusion_reasons, fd_summary
from netregions.steps._common import by_run, read_json

__all__ = ["QC_COLUMNS", "qc"]

log = logging.getLogger("netregions")

#: Runs listed in the error when every run is excluded.
MAX_RUNS_SHOWN = 10

#: Columns of ``group/qc.tsv`` before the participants' columns (the contract's first).
QC_COLUMNS = (
    "run",
    "subject",
    "n_volumes",
    "n_censored",
    "mean_fd",
    "included",
    "reason",
    "session",
    "task",
    "n_dummy",
    "n_kept",
    "censored_fraction",
    "max_fd",
    "usable_minutes",
    "n_confounds",
    "degrees_of_freedom",
    "tsnr",
    "t_r",
)


def _check_motion_known(
    run: str, confounds: str | None, mean_fd: float, rules: Mapping[str, float | None]
) -> None:
    """Refuse motion rules for a run whose motion is unknown (no table, or no FD in it)."""
    if confounds is None and any(v is not None for v in rules.values()):
        raise ValueError(f"{run}: the motion rules {rules} need its confounds file; it has none")
    if rules.get("max_mean_fd") is not None and not np.isfinite(mean_fd):
        raise ValueError(
            f"{run}: qc.max_mean_fd needs the run's framewise displacement, but {confounds} "
            "has neither a framewise_displacement column nor the six motion parameters"
        )


def _run_row(run: str, info: Mapping, stats: Mapping, design) -> dict:
    n_volumes = int(stats["n_volumes"])
    n_dummy = 0 if design is None else int(design.n_dummy)
    mean_fd, max_fd = (np.nan, np.nan) if design is None else fd_summary(design.fd, n_dummy)
    n_censored = 0 if design is None else int(design.censored.sum())
    n_kept = n_volumes - n_dummy - n_censored
    n_confounds = 0 if design is None or design.confounds is None else design.confounds.shape[1]
    return {
        "run": run,
        "subject": info["subject"],
        "session": info.get("session"),
        "task": info.get("task"),
        "n_volumes": n_volumes,
        "n_dummy": n_dummy,
        "n_censored": n_censored,
        "n_kept": n_kept,
        "censored_fraction": n_censored / max(n_volumes - n_dummy, 1),
        "mean_fd": mean_fd,
        "max_fd": max_fd,
        "usable_minutes": n_kept * float(stats["t_r"]) / 60.0,
        "n_confounds": n_confounds,
        "degrees_of_freedom": n_kept - n_confounds,
        "tsnr": stats.get("tsnr"),
        "t_r": float(stats["t_r"]),
    }


def qc(
    stats: Sequence[str],
    table: str,
    motion: str,
    *,
    runs: Mapping[str, Mapping[str, str | None]],
    design: Mapping,
    limits: Mapping[str, float | None],
    confounds: Sequence[str] = (),
    participants: str | None = None,
) -> None:
    """Quality of every run, and the exclusion rules applied: ``group/qc.tsv``.

    Parameters
    ----------
    stats : sequence of path-like
        Each run's statistics JSON (``load_subject``), in the order of ``runs``.
    table : path-like
        Output TSV: :data:`QC_COLUMNS`, then the participant's columns of each run's subject.
        ``included`` is false when a rule of ``limits`` excludes the run; ``reason`` says
        which (empty when included).
    motion : path-like
        Output ``.npy`` (n_runs, 2, max_volumes): each run's framewise displacement and kept
        volumes (1/0; NaN beyond a run's end), for the QC figure.
    runs : mapping
        ``{run: {"subject": ..., "session": ..., "task": ..., "confounds": path or None}}``.
    design : mapping
        Keyword arguments of :func:`netregions.confounds.build_design` (``strategy``,
        ``columns``, ``fd_threshold``, ``std_dvars_threshold``): censoring is counted as the
        time series will apply it.
    limits : mapping
        ``max_mean_fd`` (mm), ``max_censored_fraction``, ``min_usable_minutes``; None = no rule.
    confounds : sequence of path-like
        Every run's confounds table (inputs of the rule; their runs are named in ``runs``).
    participants : path-like, optional
        The participants table: its columns are added to each run's row.

    Raises
    ------
    ValueError
        An exclusion rule on motion for a run without a confounds file.
    """
    from netregions.bids import read_participants
    from netregions.confounds import load_design

    table_of = read_participants(participants) if participants else {}
    motion_rules = {k: limits.get(k) for k in ("max_mean_fd", "max_censored_fraction")}
    rows, traces = [], []
    stats_of = by_run(stats, list(runs), "stats files")
    for run, info in runs.items():
        run_stats = read_json(stats_of[run])
        n_volumes = int(run_stats["n_volumes"])
        table_path = info.get("confounds")  # a run without a table: motion reported n/a
        t_r = float(run_stats["t_r"])
        run_design = (
            load_design(table_path, n_volumes, run, **design, t_r=t_r) if table_path else None
        )
        row = _run_row(run, info, run_stats, run_design)
        _check_motion_known(run, table_path, row["mean_fd"], motion_rules)
        reasons = exclusion_reasons(row, limits)
        row.update(included=not reasons, reason="; ".join(reasons))
        for column, value in table_of.get(info["subject"], {}).items():
            if column != "participant_id" and column not in row:
                row[column] = value
        rows.append(row)
        traces.append(_trace(run_design, row["n_volumes"]))
    _report(rows)
    _check_some_run_left(rows)
    extra = [c for c in rows[0] if c not in QC_COLUMNS] if rows else []
    write_table(table, rows, [*QC_COLUMNS, *extra])
    save_array(_pad(traces), motion)


def _check_some_run_left(rows: Sequence[Mapping]) -> None:
    """Stop here when the rules exclude every run: the group steps would have nothing to use."""
    if not rows or any(row["included"] for row in rows):
        return
    shown = [f"{row['run']}: {row['reason']}" for row in rows[:MAX_RUNS_SHOWN]]
    more = len(rows) - len(shown)
    raise InputDataError(
        f"the qc.* rules exclude every one of the {len(rows)} runs; loosen qc.max_mean_fd, "
        "qc.max_censored_fraction or qc.min_usable_minutes:\n"
        + "\n".join(shown)
        + (f"\n... and {more} more" if more else "")
    )


def _trace(design, n_volumes: int) -> np.ndarray:
    if design is None:
        return np.vstack([np.full(n_volumes, np.nan), np.ones(n_volumes)])
    return np.vstack([design.fd, design.sample_mask.astype(float)])


def _pad(traces: Sequence[np.ndarray]) -> np.ndarray:
    longest = max(t.shape[1] for t in traces)
    out = np.full((len(traces), 2, longest), np.nan)
    for i, trace in enumerate(traces):
        out[i, :, : trace.shape[1]] = trace
    return out


def _report(rows: Sequence[Mapping]) -> None:
    """Log every exclusion, and the subjects left without any run."""
    for row in rows:
        if not row["included"]:
            log.warning("%s excluded: %s", row["run"], row["reason"])
    subjects: dict[str, bool] = {}
    for row in rows:
        subjects[row["subject"]] = subjects.get(row["subject"], False) or row["included"]
    lost = sorted(s for s, kept in subjects.items() if not kept)
    if lost:
        log.warning("every run of sub-%s is excluded", ", sub-".join(lost))
    log.info(
        "%d of %d runs included (%d of %d subjects)",
        sum(r["included"] for r in rows),
        len(rows),
        len(subjects) - len(lost),
        len(subjects),
    )
