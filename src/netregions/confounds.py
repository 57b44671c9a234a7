"""fMRIPrep confounds -> the design of one run: confound columns, kept volumes, motion summary.

A run's ``*_desc-confounds_timeseries.tsv`` (and its ``.json``) is read once into a
:class:`ConfoundsTable`; a denoising strategy turns it into a :class:`Design`: the confound
matrix over all volumes, the boolean mask of the volumes to keep (dummy volumes and
motion-censored volumes removed) and the framewise displacement. The strategies are

``columns``
    The listed columns as they are (the workflow's historical behaviour).
``simple``, ``scrubbing``, ``compcor``
    The reference's denoising presets of the same names.

The facts behind each rule (column groups, expansions, scrub rule, demeaning) are written in
docs/methods/denoising.md; comments below cite its sections.
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from netregions.exceptions import InputDataError
from netregions.naming import MISSING_VALUES

__all__ = [
    "STRATEGIES",
    "ConfoundsTable",
    "Design",
    "build_design",
    "censoring_mask",
    "dummy_volumes",
    "fmriprep_cosine_count",
    "framewise_displacement",
    "load_design",
    "preset_column_groups",
    "read_confounds_table",
    "residual_dimensions",
]

log = logging.getLogger("netregions")

#: Motion parameters in fMRIPrep's names: translations (mm), then rotations (radians).
MOTION_COLUMNS = ("trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z")
#: Mean signals in the white matter and the CSF.
WM_CSF_COLUMNS = ("csf", "white_matter")
#: The expansions of a base column that "full" adds (the derivative, the square, both).
FULL_EXPANSIONS = ("derivative1", "power2", "derivative1_power2")
#: Substring of the one-hot columns that flag non-steady-state (dummy) volumes.
DUMMY_SUBSTRING = "non_steady_state_outlier"
#: Substring of the discrete-cosine high-pass columns.
COSINE_SUBSTRING = "cosine"
#: fMRIPrep's high-pass cut-off as a period (s): it writes the cosines that remove slower drifts.
FMRIPREP_HIGH_PASS_PERIOD = 128.0
#: Minimal length of a kept segment between censored volumes (the reference's default).
SCRUB_SEGMENT = 5
#: The ``scrubbing`` preset's thresholds: FD in mm, standardised DVARS.
SCRUBBING_FD_THRESHOLD = 0.5
SCRUBBING_STD_DVARS_THRESHOLD = 1.5

_ACOMPCOR = re.compile(r"a_comp_cor_(\d+)")


@dataclass(frozen=True, eq=False)
class ConfoundsTable:
    """One run's fMRIPrep confounds file, as read.

    Attributes
    ----------
    names : list of str
        Column names, in file order.
    values : ndarray, shape (n_volumes, n_columns)
        float64; NaN where the file says ``n/a`` (or the cell is empty).
    metadata : dict
        The ``.json`` next to the ``.tsv`` (CompCor ``Mask`` etc.); ``{}`` if there is none.
    path : str
        The ``.tsv`` file.
    """

    names: list[str]
    values: np.ndarray
    metadata: dict
    path: str

    def column(self, name: str) -> np.ndarray:
        """Values of one column, shape (n_volumes,); KeyError if absent."""
        if name not in self.names:
            raise KeyError(f"no column {name!r} in {self.path}")
        return self.values[:, self.names.index(name)]


@dataclass(frozen=True, eq=False)
class Design:
    """What the time-series step needs for one run.

    Attributes
    ----------
    confounds : ndarray, shape (n_volumes, n_confounds), or None
        float64, over all volumes (rows of dropped volumes included); None when no column
        is used.
    names : list of str
        The confound columns, in the order of ``confounds``.
    sample_mask : ndarray of bool, shape (n_volumes,)
        True = kept.
    n_dummy : int
        Number of non-steady-state volumes dropped.
    censored : ndarray of bool, shape (n_volumes,)
        True = censored for motion (dummy volumes are not counted here), so that
        ``n_dummy + censored.sum() + sample_mask.sum() == n_volumes``.
    fd : ndarray, shape (n_volumes,)
        Framewise displacement in mm for QC, 0 at volume 0: the file's
        ``framewise_displacement`` column (n/a -> 0), else computed from the six motion
        columns, else all NaN (unknown).
    strategy : str
    """

    confounds: np.ndarray | None
    names: list[str]
    sample_mask: np.ndarray
    n_dummy: int
    censored: np.ndarray
    fd: np.ndarray
    strategy: str


# --------------------------------------------------------------------------- reading


def _where(run: str | None) -> str:
    return f"{run}: " if run else ""


def _parse_cell(token: str) -> float:
    token = token.strip()
    if token.lower() in MISSING_VALUES:
        return np.nan
    value = float(token)
    if not np.isfinite(value):
        raise ValueError(f"non-finite value {token!r}")
    return value


def _read_metadata(tsv: Path, run: str | None) -> dict:
    sidecar = tsv.with_suffix(".json")
    if not sidecar.exists():
        return {}
    try:
        metadata = json.loads(sidecar.read_text(encoding="utf-8-sig"))  # a BOM is tolerated
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputDataError(f"{_where(run)}invalid JSON in {sidecar}: {exc}") from exc
    if not isinstance(metadata, dict):
        raise InputDataError(f"{_where(run)}{sidecar} must hold a JSON object")
    return metadata


def _parse_plain_table(lines: list[str], n_columns: int) -> np.ndarray | None:
    """The values of a table of plain numbers and ``n/a`` cells, by numpy's parser.

    ``None`` when a cell needs :func:`_parse_rows` (another spelling of a missing value,
    an empty, non-numeric or infinite cell): the values are the same either way, this only
    takes the common case out of a loop over the cells, which long and wide fMRIPrep
    tables make slow.
    """
    text = "\n".join(lines).replace("n/a", "nan")
    try:
        values = np.loadtxt(
            io.StringIO(text), delimiter="\t", dtype=np.float64, ndmin=2, comments=None
        )
    except ValueError:
        return None
    if values.shape != (len(lines), n_columns) or np.isinf(values).any():
        return None
    return values


def _parse_rows(rows: list[list[str]], names: list[str], where: str, path: Path) -> np.ndarray:
    values = np.empty((len(rows), len(names)))
    for i, row in enumerate(rows):
        for j, token in enumerate(row):
            try:
                values[i, j] = _parse_cell(token)
            except ValueError:
                raise InputDataError(
                    f"{where}non-numeric confound value {token!r} in column {names[j]!r}, "
                    f"line {i + 2} of {path}"
                ) from None
    return values


def read_confounds_table(
    path: Path | str, n_volumes: int | None = None, run: str | None = None
) -> ConfoundsTable:
    """Read an fMRIPrep confounds TSV (header line, one row per volume) and its JSON.

    Parameters
    ----------
    path : path-like
        ``*_desc-confounds_timeseries.tsv``; the sidecar is the same path with ``.json``.
    n_volumes : int, optional
        Expected number of rows (volumes of the matching BOLD run).
    run : str, optional
        Run label used in messages (e.g. ``"sub-01_task-rest_run-1"``).

    Returns
    -------
    ConfoundsTable
        ``values`` has shape (n_volumes, n_columns), NaN for ``n/a``, ``nan`` or empty cells.

    Raises
    ------
    InputDataError
        Missing, empty or non-UTF-8 file, a row with a different number of cells than the header,
        repeated column names, a non-numeric or infinite cell, invalid JSON, or a row count
        that differs from ``n_volumes``.
    """
    path = Path(path)
    where = _where(run)
    if not path.is_file():
        raise InputDataError(f"{where}confounds file not found: {path}")
    try:
        # utf-8-sig drops a leading byte-order mark, which would otherwise become part of the
        # first column's name
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{where}{path} is not UTF-8 text: {exc}") from None
    lines = [line.rstrip("\r\n") for line in text.splitlines()]
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise InputDataError(f"{where}confounds file is empty: {path}")
    names = [name.strip() for name in lines[0].split("\t")]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputDataError(f"{where}repeated column name(s) {repeated} in {path}")
    rows = lines[1:]
    for i, row in enumerate(rows, start=2):
        n_cells = row.count("\t") + 1
        if n_cells != len(names):
            raise InputDataError(
                f"{where}line {i} of {path} has {n_cells} cells, the header has {len(names)}"
            )
    if n_volumes is not None and len(rows) != n_volumes:
        raise InputDataError(
            f"{where}confounds have {len(rows)} rows but the BOLD run has {n_volumes} "
            f"volumes ({path})"
        )
    values = _parse_plain_table(rows, len(names)) if rows else None
    if values is None:
        values = _parse_rows([row.split("\t") for row in rows], names, where, path)
    return ConfoundsTable(names, values, _read_metadata(path, run), str(path))


# --------------------------------------------------------------------------- motion, censoring


def framewise_displacement(motion: np.ndarray, radius: float = 50.0) -> np.ndarray:
    """Framewise displacement (Power et al. 2012) from the six rigid-body parameters.

    Parameters
    ----------
    motion : ndarray, shape (n_volumes, 6)
        ``trans_x, trans_y, trans_z`` in mm, then ``rot_x, rot_y, rot_z`` in radians.
    radius : float, default=50.0
        Head radius in mm that turns rotations into arc lengths.

    Returns
    -------
    ndarray, shape (n_volumes,)
        FD in mm; ``FD[0] = 0`` (fMRIPrep writes ``n/a`` there: there is no previous volume).

    Raises
    ------
    ValueError
        ``motion`` not of shape (n_volumes, 6), or a non-positive radius.

    Notes
    -----
    ``FD_t = sum_i |Δtrans_i| + radius * sum_i |Δrot_i|`` with ``Δ`` the change from volume
    ``t - 1`` to ``t`` (docs/methods/denoising.md, "Framewise displacement").
    """
    motion = np.asarray(motion, dtype=np.float64)
    if motion.ndim != 2 or motion.shape[1] != 6:
        raise ValueError(f"motion must have shape (n_volumes, 6), got {motion.shape}")
    if not radius > 0:
        raise ValueError(f"radius must be a positive length in mm, got {radius}")
    fd = np.zeros(motion.shape[0])
    steps = np.abs(np.diff(motion, axis=0))
    fd[1:] = steps[:, :3].sum(axis=1) + radius * steps[:, 3:].sum(axis=1)
    return fd


def dummy_volumes(table: ConfoundsTable) -> np.ndarray:
    """Non-steady-state (dummy) volumes flagged by the file's one-hot columns.

    Parameters
    ----------
    table : ConfoundsTable

    Returns
    -------
    ndarray of bool, shape (n_volumes,)
        True where any column whose name contains ``non_steady_state_outlier`` is non-zero;
        all False when there is no such column.
    """
    columns = [j for j, name in enumerate(table.names) if DUMMY_SUBSTRING in name]
    if not columns:
        return np.zeros(table.values.shape[0], dtype=bool)
    return np.nansum(np.abs(table.values[:, columns]), axis=1) != 0


def fmriprep_cosine_count(n_volumes: int, t_r: float) -> int:
    """Number of ``cosineXX`` high-pass columns fMRIPrep writes for a run.

    Parameters
    ----------
    n_volumes : int
        Steady-state volumes of the run (fMRIPrep builds the cosines without the dummy
        volumes).
    t_r : float
        Repetition time in seconds.

    Returns
    -------
    int
        ``max(floor(2 * n_volumes * t_r / 128) - 1, 0)``: nipype's discrete cosine basis for
        a 128 s cut-off, less its constant column. 0 for runs shorter than 128 s (e.g. 60
        volumes at 2 s), 1 from 128 s to 192 s, and so on.

    Raises
    ------
    ValueError
        A negative number of volumes or a repetition time that is not a positive number.
    """
    if n_volumes < 0:
        raise ValueError(f"n_volumes must be >= 0, got {n_volumes}")
    if not (np.isfinite(t_r) and t_r > 0):
        raise ValueError(f"t_r must be a positive number of seconds, got {t_r!r}")
    # nipype's order, computed as it does (2 * N * dt / period), so a run exactly at a
    # boundary gets the count fMRIPrep wrote
    order = math.floor(2 * n_volumes * (1.0 / FMRIPREP_HIGH_PASS_PERIOD) * t_r)
    return max(order - 1, 0)


def _outliers(values: np.ndarray | None, threshold: float | None, name: str, n: int) -> np.ndarray:
    if threshold is None:
        return np.zeros(n, dtype=bool)
    if values is None:
        raise ValueError(f"{name}_threshold={threshold} is given but {name} is None")
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (n,):
        raise ValueError(f"{name} has shape {values.shape}, expected ({n},)")
    with np.errstate(invalid="ignore"):
        return values > threshold  # NaN compares False: never flags


def _remove_short_segments(outliers: np.ndarray, scrub: int) -> np.ndarray:
    """Also flag every run of kept volumes shorter than ``scrub`` (ends included)."""
    flagged = outliers.copy()
    index = np.flatnonzero(outliers)
    if scrub <= 0 or index.size == 0:
        return flagged
    n = outliers.size
    if index[0] < scrub:
        flagged[: index[0]] = True
    if n - 1 - index[-1] < scrub:
        flagged[index[-1] :] = True
    for start, stop in zip(index[:-1], index[1:], strict=True):
        if 1 < stop - start <= scrub:
            flagged[start + 1 : stop] = True
    return flagged


def censoring_mask(
    fd: np.ndarray | None,
    std_dvars: np.ndarray | None,
    fd_threshold: float | None,
    std_dvars_threshold: float | None,
    scrub: int = SCRUB_SEGMENT,
    dummy: np.ndarray | None = None,
) -> np.ndarray:
    """Volumes to keep after motion censoring and dummy-volume removal.

    Parameters
    ----------
    fd : ndarray, shape (n_volumes,), or None
        Framewise displacement (mm); may be None when ``fd_threshold`` is None.
    std_dvars : ndarray, shape (n_volumes,), or None
        Standardised DVARS; may be None when ``std_dvars_threshold`` is None.
    fd_threshold, std_dvars_threshold : float or None
        A volume is an outlier if its value is strictly above the threshold; NaN never
        flags; None = that criterion is not used.
    scrub : int, default=5
        Kept segments shorter than this are censored too; 0 turns the rule off.
    dummy : ndarray of bool, shape (n_volumes,), optional
        Non-steady-state volumes: removed after (and independently of) the segment rule.

    Returns
    -------
    ndarray of bool, shape (n_volumes,)
        True = kept.

    Raises
    ------
    ValueError
        Arrays of different lengths, a threshold without its values, or a negative ``scrub``.

    Notes
    -----
    The segment rule (docs/methods/denoising.md, "Censoring"): when any volume is an outlier,
    the volumes before the first outlier are censored if they are fewer than ``scrub``, the
    volumes from the last outlier to the end if fewer than ``scrub`` follow it, and every run
    of 1 to ``scrub - 1`` kept volumes between two outliers. Neighbours of outliers are not
    otherwise expanded.
    """
    if scrub < 0:
        raise ValueError(f"scrub must be >= 0 volumes, got {scrub}")
    n = next((np.shape(a)[0] for a in (fd, std_dvars, dummy) if a is not None), None)
    if n is None:
        raise ValueError("censoring_mask needs fd, std_dvars or dummy to know the run length")
    outliers = _outliers(fd, fd_threshold, "fd", n) | _outliers(
        std_dvars, std_dvars_threshold, "std_dvars", n
    )
    keep = ~_remove_short_segments(outliers, scrub)
    if dummy is not None:
        dummy = np.asarray(dummy, dtype=bool)
        if dummy.shape != (n,):
            raise ValueError(f"dummy has shape {dummy.shape}, expected ({n},)")
        keep &= ~dummy
    return keep


# --------------------------------------------------------------------------- designs


def _expand(bases: Sequence[str], full: bool) -> list[str]:
    names = list(bases)
    if full:
        names += [f"{base}_{suffix}" for base in bases for suffix in FULL_EXPANSIONS]
    return names


def preset_column_groups(names: Sequence[str]) -> dict[str, int]:
    """How many of a design's columns fall in each group the presets are made of.

    Parameters
    ----------
    names : sequence of str
        Confound columns (e.g. :attr:`Design.names`).

    Returns
    -------
    dict of str to int
        ``motion`` (the six parameters and their expansions), ``csf/white_matter`` (with
        their expansions), ``a_comp_cor``, ``cosine`` and ``other`` (anything else), in that
        order; groups without a column are left out. ``simple`` on a table with 4 cosines
        gives ``{"motion": 24, "csf/white_matter": 2, "cosine": 4}``.
    """
    motion, wm_csf = set(_expand(MOTION_COLUMNS, True)), set(_expand(WM_CSF_COLUMNS, True))
    counts = dict.fromkeys(("motion", "csf/white_matter", "a_comp_cor", "cosine", "other"), 0)
    for name in names:
        if name in motion:
            counts["motion"] += 1
        elif name in wm_csf:
            counts["csf/white_matter"] += 1
        elif _ACOMPCOR.fullmatch(name):
            counts["a_comp_cor"] += 1
        elif COSINE_SUBSTRING in name:
            counts["cosine"] += 1
        else:
            counts["other"] += 1
    return {group: count for group, count in counts.items() if count}


def _require(table: ConfoundsTable, names: Sequence[str], what: str, run: str | None) -> list[str]:
    missing = [name for name in names if name not in table.names]
    if missing:
        raise InputDataError(
            f"{_where(run)}{what} needs column(s) {missing}, missing from {table.path}"
        )
    return list(names)


def _combined_acompcor(table: ConfoundsTable, run: str | None) -> list[str]:
    """``a_comp_cor_XX`` columns whose JSON ``Mask`` is "combined" (all of them)."""
    if not table.metadata:
        raise InputDataError(
            f"{_where(run)}strategy 'compcor' needs the JSON sidecar of {table.path} "
            "(its CompCor 'Mask' entries); none found"
        )
    selected = [
        key
        for key, entry in table.metadata.items()
        if _ACOMPCOR.fullmatch(key) and isinstance(entry, dict) and entry.get("Mask") == "combined"
    ]
    if not selected:
        raise InputDataError(
            f"{_where(run)}strategy 'compcor': no a_comp_cor component with Mask 'combined' "
            f"in the JSON sidecar of {table.path}"
        )
    return selected


def _motion_fd(table: ConfoundsTable) -> np.ndarray:
    """FD for QC: the file's column (n/a -> 0), else from the motion columns, else NaN."""
    if "framewise_displacement" in table.names:
        return np.nan_to_num(table.column("framewise_displacement"), nan=0.0)
    if all(name in table.names for name in MOTION_COLUMNS):
        motion = np.column_stack([table.column(name) for name in MOTION_COLUMNS])
        return framewise_displacement(np.nan_to_num(motion, nan=0.0))
    return np.full(table.values.shape[0], np.nan)


def _motion_outliers(
    table: ConfoundsTable,
    fd_threshold: float | None,
    std_dvars_threshold: float | None,
    strategy: str,
    run: str | None,
) -> np.ndarray:
    """Volumes flagged for motion (segment rule applied; dummy volumes play no part)."""
    what = f"strategy {strategy!r} with motion censoring"
    fd = dvars = None
    if fd_threshold is not None:
        fd = table.column(_require(table, ["framewise_displacement"], what, run)[0])
    if std_dvars_threshold is not None:
        dvars = table.column(_require(table, ["std_dvars"], what, run)[0])
    if fd is None and dvars is None:
        return np.zeros(table.values.shape[0], dtype=bool)
    return ~censoring_mask(fd, dvars, fd_threshold, std_dvars_threshold, SCRUB_SEGMENT)


def _volume_masks(
    table: ConfoundsTable,
    fd_threshold: float | None,
    std_dvars_threshold: float | None,
    strategy: str,
    run: str | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dummy, censored, keep) masks; InputDataError when no volume is left."""
    dummy = dummy_volumes(table)
    censored = _motion_outliers(table, fd_threshold, std_dvars_threshold, strategy, run)
    censored &= ~dummy
    keep = ~(dummy | censored)
    if not keep.any():
        raise InputDataError(
            f"{_where(run)}strategy {strategy!r} removes all {keep.size} volumes "
            f"({int(dummy.sum())} dummy, {int(censored.sum())} censored for motion) "
            f"of {table.path}"
        )
    return dummy, censored, keep


def _columns_as_given(
    table: ConfoundsTable, columns: Sequence[str] | None, run: str | None
) -> list[str]:
    if columns is None:
        return [name for name in table.names if DUMMY_SUBSTRING not in name]
    unknown = [name for name in columns if name not in table.names]
    if unknown:
        raise InputDataError(
            f"{_where(run)}unknown confound column(s) {unknown} in {table.path}; "
            f"available: {table.names}"
        )
    return [name for name in columns if DUMMY_SUBSTRING not in name]


def _fill_missing_with_zero(
    table: ConfoundsTable, names: list[str], values: np.ndarray, run: str | None
) -> None:
    missing = np.isnan(values)
    if not missing.any():
        return
    empty = [name for name, m in zip(names, missing.all(axis=0), strict=True) if m]
    if empty:
        raise InputDataError(
            f"{_where(run)}confound column(s) {empty} are entirely n/a in {table.path}"
        )
    # fMRIPrep leaves the first row of derivatives, FD and DVARS n/a (nothing to compare
    # with): expected, so filled silently; n/a anywhere else is worth a warning
    unexpected = missing[1:].any(axis=0)
    if unexpected.any():
        partial = [name for name, m in zip(names, unexpected, strict=True) if m]
        warnings.warn(
            f"{_where(run)}missing values after the first row in confound column(s) "
            f"{partial} of {table.path} replaced by 0",
            stacklevel=4,
        )
    values[missing] = 0.0


def _columns_design(
    table: ConfoundsTable,
    *,
    columns: Sequence[str] | None = None,
    fd_threshold: float | None = None,
    std_dvars_threshold: float | None = None,
    run: str | None = None,
    t_r: float | None = None,  # unused: every builder takes the same keywords
) -> Design:
    """Strategy ``columns``: the listed columns as they are, n/a -> 0."""
    names = _columns_as_given(table, columns, run)
    dummy, censored, keep = _volume_masks(table, fd_threshold, std_dvars_threshold, "columns", run)
    confounds = None
    if names:
        confounds = np.column_stack([table.column(name) for name in names])
        _fill_missing_with_zero(table, names, confounds, run)
    fd = _motion_fd(table)
    return Design(confounds, names, keep, int(dummy.sum()), censored, fd, "columns")


@dataclass(frozen=True)
class _Preset:
    """Column groups and censoring thresholds of one of the reference's presets."""

    name: str
    wm_csf: str | None  # None, "basic" (2 columns) or "full" (8 columns)
    compcor: bool
    fd_threshold: float | None = None
    std_dvars_threshold: float | None = None


def _check_compcor_without_cosines(
    table: ConfoundsTable, t_r: float | None, run: str | None
) -> None:
    """Accept a table without cosines only for a run too short for fMRIPrep to write any.

    fMRIPrep high-passes the data before CompCor and writes the cosines it used; a run
    shorter than its 128 s cut-off gets none (docs/methods/denoising.md, "CompCor without
    cosines").
    """
    needs = (
        f"{_where(run)}strategy 'compcor' needs the cosine high-pass columns "
        "(CompCor is computed on high-passed data)"
    )
    if t_r is None:
        raise InputDataError(
            f"{needs}; there are none in {table.path}, and whether the run is too short for "
            "fMRIPrep to write any cannot be told without its repetition time (t_r)"
        )
    n_steady = table.values.shape[0] - int(dummy_volumes(table).sum())
    expected = fmriprep_cosine_count(n_steady, t_r)
    length = f"{n_steady} steady-state volumes at TR {t_r:g} s ({n_steady * t_r:g} s)"
    if expected:
        raise InputDataError(
            f"{needs}: fMRIPrep writes {expected} for {length}, and there are none in "
            f"{table.path}; use the confounds table fMRIPrep wrote for this run, or choose "
            "confounds.strategy simple or scrubbing"
        )
    log.info(
        "%sstrategy 'compcor' without cosine columns: fMRIPrep writes none for %s, shorter "
        "than its %g s high-pass period, and %s has none",
        _where(run), length, FMRIPREP_HIGH_PASS_PERIOD, table.path,
    )  # fmt: skip


def _preset_columns(
    table: ConfoundsTable, preset: _Preset, run: str | None, t_r: float | None = None
) -> list[str]:
    """The preset's columns, sorted alphabetically (docs/methods/denoising.md, "Presets")."""
    what = f"strategy {preset.name!r}"
    names = [name for name in table.names if COSINE_SUBSTRING in name]
    if preset.compcor and not names:
        _check_compcor_without_cosines(table, t_r, run)
    names += _require(table, _expand(MOTION_COLUMNS, full=True), what, run)
    if preset.wm_csf is not None:
        names += _require(table, _expand(WM_CSF_COLUMNS, preset.wm_csf == "full"), what, run)
    if preset.compcor:
        names += _require(table, _combined_acompcor(table, run), what, run)
    return sorted(set(names))


def _fill_first_row(
    table: ConfoundsTable, names: list[str], values: np.ndarray, run: str | None
) -> None:
    """Row-0 n/a (derivative columns) takes the row-1 value; other n/a is an error."""
    if values.shape[0] > 1:
        first = np.isnan(values[0])
        values[0, first] = values[1, first]
    bad = [name for name, m in zip(names, np.isnan(values).any(axis=0), strict=True) if m]
    if bad:
        raise InputDataError(
            f"{_where(run)}confound column(s) {bad} of {table.path} have missing values "
            "beyond the first row"
        )


def _preset_design(
    table: ConfoundsTable,
    *,
    preset: _Preset,
    columns: Sequence[str] | None = None,
    fd_threshold: float | None = None,
    std_dvars_threshold: float | None = None,
    run: str | None = None,
    t_r: float | None = None,
) -> Design:
    """Strategies ``simple``, ``scrubbing``, ``compcor``: the reference's preset of the name."""
    if columns is not None:
        raise ValueError(
            f"columns={list(columns)} applies only to strategy 'columns', not {preset.name!r}"
        )
    # None keeps the preset's value, as in the reference
    fd_threshold = preset.fd_threshold if fd_threshold is None else fd_threshold
    if std_dvars_threshold is None:
        std_dvars_threshold = preset.std_dvars_threshold
    names = _preset_columns(table, preset, run, t_r)
    dummy, censored, keep = _volume_masks(
        table, fd_threshold, std_dvars_threshold, preset.name, run
    )
    confounds = np.column_stack([table.column(name) for name in names])
    _fill_first_row(table, names, confounds, run)
    confounds -= confounds[keep].mean(axis=0)
    fd = _motion_fd(table)
    return Design(confounds, names, keep, int(dummy.sum()), censored, fd, preset.name)


_SIMPLE = _Preset("simple", wm_csf="basic", compcor=False)
_SCRUBBING = _Preset(
    "scrubbing",
    wm_csf="full",
    compcor=False,
    fd_threshold=SCRUBBING_FD_THRESHOLD,
    std_dvars_threshold=SCRUBBING_STD_DVARS_THRESHOLD,
)
_COMPCOR = _Preset("compcor", wm_csf=None, compcor=True)

#: Strategy name -> builder
#: ``(table, *, columns, fd_threshold, std_dvars_threshold, run, t_r) -> Design``.
STRATEGIES: dict[str, Callable[..., Design]] = {
    "columns": _columns_design,
    "simple": partial(_preset_design, preset=_SIMPLE),
    "scrubbing": partial(_preset_design, preset=_SCRUBBING),
    "compcor": partial(_preset_design, preset=_COMPCOR),
}


def build_design(
    table: ConfoundsTable,
    strategy: str,
    *,
    columns: Sequence[str] | None = None,
    fd_threshold: float | None = None,
    std_dvars_threshold: float | None = None,
    run: str | None = None,
    t_r: float | None = None,
) -> Design:
    """Confounds, kept volumes and motion summary of one run under a denoising strategy.

    Parameters
    ----------
    table : ConfoundsTable
        From :func:`read_confounds_table`.
    strategy : {"columns", "simple", "scrubbing", "compcor"}
        ``columns``: the listed columns as they are (n/a -> 0, with a warning after the first
        row; no expansion, no demeaning). The others are the reference's presets of those
        names: the cosine high-pass columns and the 24 motion parameters, plus ``csf`` and
        ``white_matter`` (simple), those two with their 6 expansions (scrubbing), or every
        anatomical CompCor component of the combined mask (compcor); columns sorted
        alphabetically, row-0 n/a replaced by the row-1 value, demeaned over the kept volumes.
    columns : sequence of str, optional
        Strategy ``columns`` only: the columns to use (None = every column but the
        non-steady-state flags).
    fd_threshold : float, optional
        Censor volumes whose ``framewise_displacement`` exceeds this (mm). Overrides the
        preset's value (0.5 for scrubbing); with ``columns``, ``simple`` or ``compcor`` it
        turns censoring on.
    std_dvars_threshold : float, optional
        The same for ``std_dvars`` (1.5 for scrubbing). None keeps a preset's value, as in
        the reference; ``np.inf`` turns the criterion off.
    run : str, optional
        Run label for messages (e.g. ``"sub-01_task-rest_run-1"``).
    t_r : float, optional
        The run's repetition time in seconds. Strategy ``compcor`` only, for a table without
        cosine columns: accepted (with a logged note) when the run is too short for fMRIPrep
        to write any (:func:`fmriprep_cosine_count` is 0), refused otherwise or when None.

    Returns
    -------
    Design
        Dummy volumes (non-steady-state flags) are always dropped and their flag columns are
        never confounds; censoring applies the segment rule with segments of at least 5
        volumes.

    Raises
    ------
    ValueError
        Unknown strategy, or ``columns`` with a preset.
    InputDataError
        Unknown or missing columns (named, with the run and file), a partially present
        expansion, CompCor without its JSON ``Mask`` entries, CompCor without cosine columns
        on a run long enough for fMRIPrep to write them (or of unknown ``t_r``), missing
        values the strategy cannot handle, or every volume removed.

    Notes
    -----
    The reference ignores thresholds given to its ``simple`` and ``compcor`` presets (with
    a warning); here they censor, as the keyword says (docs/methods/denoising.md, "Presets").
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown denoising strategy {strategy!r}; known: {sorted(STRATEGIES)}")
    return STRATEGIES[strategy](
        table,
        columns=columns,
        fd_threshold=fd_threshold,
        std_dvars_threshold=std_dvars_threshold,
        run=run,
        t_r=t_r,
    )


def load_design(
    path: str | Path | None,
    n_volumes: int,
    run: str,
    *,
    strategy: str = "columns",
    columns: Sequence[str] | None = None,
    fd_threshold: float | None = None,
    std_dvars_threshold: float | None = None,
    t_r: float | None = None,
) -> Design | None:
    """The design of a run from its confounds file (None: no file, nothing to regress).

    Every step that needs a run's design (the input check, the QC table, the time series)
    reads it here, so they agree on what a run without a confounds file means.

    Parameters
    ----------
    path : path-like or None
        The run's confounds table, or None when the run has none.
    n_volumes : int
        Volumes of the run (the table must have one row per volume).
    run : str
        Run label for messages.
    strategy, columns, fd_threshold, std_dvars_threshold, t_r
        See :func:`build_design`.

    Returns
    -------
    Design or None

    Raises
    ------
    InputDataError
        No file while a preset or a censoring threshold needs one; and see
        :func:`read_confounds_table` and :func:`build_design`.
    """
    if not path:
        if strategy != "columns" or fd_threshold is not None or std_dvars_threshold is not None:
            raise InputDataError(
                f"{run}: confounds.strategy={strategy!r} (or a censoring threshold) needs a "
                "confounds file, and this run has none"
            )
        return None
    table = read_confounds_table(path, n_volumes, run)
    return build_design(
        table,
        strategy,
        columns=None if columns is None else list(columns),
        fd_threshold=fd_threshold,
        std_dvars_threshold=std_dvars_threshold,
        run=run,
        t_r=t_r,
    )


#: Fewest dimensions a run's cleaned series may keep for its connectomes: with one left, every
#: correlation is +1 or -1.
MIN_RESIDUAL_DIMENSIONS = 2


def residual_dimensions(n_kept: int, n_confounds: int, detrend: bool = False) -> int:
    """Dimensions left in a run's cleaned series, on which its connectomes are estimated.

    Each confound column takes one; the mean one more (the z-scored confounds are centred, so
    they do not remove it, but the standardisation and every connectivity estimate do); a
    linear trend one more when detrending.

    Parameters
    ----------
    n_kept : int
        Volumes kept (after dummy volumes and censoring).
    n_confounds : int
        Confound columns regressed out.
    detrend : bool, default=False
        Whether a linear trend is removed as well.

    Returns
    -------
    int
        May be zero or negative: nothing is left.
    """
    return int(n_kept) - int(n_confounds) - 1 - int(bool(detrend))
