"""Quality-control figures: head motion per run, QC-FC, and network stability.

Every ``draw_*`` function takes arrays and returns a :class:`~matplotlib.figure.Figure`
(no pyplot state), so tests can inspect what was drawn; the rule's step writes it with
:func:`netregions.plotting.save_figure` (one PNG, atomically). How to read each figure:
docs/methods/figures.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import PolyCollection
from matplotlib.colors import Normalize, to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from netregions.plotting._draw import PANEL_FONT, arrange_grid, new_figure

__all__ = [
    "MAX_TRACE_RUNS",
    "QCFC_SUMMARY_KEYS",
    "draw_motion_overview",
    "draw_qcfc",
    "draw_stability",
]

#: Up to this many runs the motion figure shows one FD trace per run; beyond, a heat map.
MAX_TRACE_RUNS = 12
#: Keys a QC-FC summary may hold (see :func:`draw_qcfc`).
QCFC_SUMMARY_KEYS = (
    "median_abs_qcfc",
    "percent_significant",
    "percent_significant_fdr",
    "distance_rho",
)
#: The Icasso display range of the stability index (docs/methods/figures.md, Stability).
ICASSO_RANGE = (0.8, 0.9)
#: At most this many run names are written along the heat map's axis.
_MAX_RUN_LABELS = 40
#: Above this many edges, QC-FC against distance is a hexbin density instead of a scatter.
_MAX_SCATTER_EDGES = 3000

_FONT = PANEL_FONT + 1
_TRACE_COLOUR = "#1f5a96"
_EXCLUDED_COLOUR = "#8c8c8c"
_CENSORED_COLOUR = "#e8474c"
_THRESHOLD_COLOUR = "#b2182b"
_BAR_COLOUR = "#3a78b5"


# --------------------------------------------------------------------------- shared helpers


def _format_mm(value: float) -> str:
    return f"{value:.2f} mm" if np.isfinite(value) else "n/a"


def _nanmean(values: np.ndarray) -> float:
    """Mean of the finite values, NaN (without a warning) when there are none."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _rectangles(
    starts: np.ndarray, stops: np.ndarray, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """Vertices (n, 4, 2) of axis-aligned rectangles [start, stop] x [low, high]."""
    return np.stack(
        [
            np.column_stack([starts, low]),
            np.column_stack([stops, low]),
            np.column_stack([stops, high]),
            np.column_stack([starts, high]),
        ],
        axis=1,
    )


def _runs_of_true(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last index of each block of consecutive True values."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    change = np.diff(padded)
    return np.flatnonzero(change == 1), np.flatnonzero(change == -1) - 1


def _thinned_ticks(n: int, max_labels: int) -> np.ndarray:
    return np.arange(0, n, max(1, int(np.ceil(n / max_labels))))


# --------------------------------------------------------------------------- motion


@dataclass(frozen=True)
class _Motion:
    """The checked inputs of the motion figure (see :func:`draw_motion_overview`)."""

    runs: Sequence[str]
    fd: list[np.ndarray]
    kept: list[np.ndarray]
    included: np.ndarray
    fd_threshold: float | None
    max_mean_fd: float | None
    t_r: Sequence[float] | None
    reasons: Sequence[str] | None


def _check_motion_inputs(
    runs: Sequence[str],
    fd: Sequence[np.ndarray],
    kept: Sequence[np.ndarray],
    included: Sequence[bool],
    t_r: Sequence[float] | None,
    reasons: Sequence[str] | None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """FD as float arrays and kept flags as bool arrays, after checking every length."""
    n = len(runs)
    if n == 0:
        raise ValueError("motion overview: no runs given")
    others = {"fd": fd, "kept": kept, "included": included}
    others |= {"t_r": t_r} if t_r is not None else {}
    others |= {"reasons": reasons} if reasons is not None else {}
    for name, values in others.items():
        if len(values) != n:
            raise ValueError(
                f"motion overview: {n} runs but {len(values)} entries in {name!r}; "
                "expected one per run"
            )
    fd_arrays, kept_arrays = [], []
    for run, run_fd, run_kept in zip(runs, fd, kept, strict=True):
        run_fd = np.asarray(run_fd, dtype=np.float64).ravel()
        run_kept = np.asarray(run_kept).ravel()
        if run_kept.shape != run_fd.shape:
            raise ValueError(
                f"motion overview: run {run!r} has {run_fd.size} FD values but "
                f"{run_kept.size} kept flags; expected one flag per volume"
            )
        fd_arrays.append(run_fd)
        kept_arrays.append(run_kept.astype(bool))
    if t_r is not None and not all(np.isfinite(t) and t > 0 for t in t_r):
        raise ValueError(f"motion overview: t_r must be positive seconds per run, got {t_r}")
    return fd_arrays, kept_arrays


def _exclusion_label(mean_fd: float, max_mean_fd: float | None, reason: str | None) -> str:
    """Why a run is excluded, as short as possible."""
    if reason:
        return f"excluded: {reason}"
    if max_mean_fd is not None and mean_fd > max_mean_fd:
        return f"excluded: mean FD > {max_mean_fd:g} mm"
    return "excluded"


def _motion_summary(motion: _Motion) -> str:
    """One line: runs, exclusions and censoring, with the thresholds used."""
    fd, kept, included = motion.fd, motion.kept, motion.included
    fd_threshold, max_mean_fd = motion.fd_threshold, motion.max_mean_fd
    n_volumes = sum(k.size for k in kept)
    n_censored = sum(int(np.count_nonzero(~k)) for k in kept)
    percent = 100.0 * n_censored / n_volumes if n_volumes else 0.0
    censoring = (
        f"censoring at FD > {fd_threshold:g} mm" if fd_threshold is not None else "no FD threshold"
    )
    exclusion = (
        f"exclusion at mean FD > {max_mean_fd:g} mm"
        if max_mean_fd is not None
        else "no mean-FD exclusion"
    )
    n_excluded = int(np.count_nonzero(~included))
    return (
        f"{len(fd)} run{'s' if len(fd) != 1 else ''}, {n_excluded} excluded; "
        f"{n_censored} of {n_volumes} volumes censored ({percent:.1f} %); "
        f"{censoring}; {exclusion}"
    )


def _fd_display_top(fd: list[np.ndarray], fd_threshold: float | None) -> float:
    """Upper FD limit shared by the traces: the threshold and typical motion in view.

    A single large jump must not squash every trace: the limit is 5 x the 95th percentile
    (at least 1.3 x the threshold), or just above the largest value if that is lower.
    """
    finite = np.concatenate([f[np.isfinite(f)] for f in fd])
    if finite.size == 0:
        return 1.3 * fd_threshold if fd_threshold else 1.0
    typical = max(5.0 * float(np.percentile(finite, 95)), 1.3 * (fd_threshold or 0.0))
    return max(min(1.05 * float(finite.max()), typical), 0.05)


def _draw_fd_trace(
    ax: Axes,
    time: np.ndarray,
    fd: np.ndarray,
    kept: np.ndarray,
    top: float,
    fd_threshold: float | None,
    colour: str,
) -> None:
    """FD over time, censored volumes shaded, values above ``top`` as triangles at the top."""
    step = float(time[1] - time[0]) if time.size > 1 else 1.0
    starts, stops = _runs_of_true(~kept)
    if starts.size:
        shading = _rectangles(
            time[starts] - step / 2,
            time[stops] + step / 2,
            np.zeros(starts.size),
            np.ones(starts.size),
        )
        ax.add_collection(
            PolyCollection(
                shading,
                facecolors=_CENSORED_COLOUR,
                edgecolors="none",
                alpha=0.3,
                transform=ax.get_xaxis_transform(),  # x in data, y spans the panel
                zorder=1,
            ),
            autolim=False,
        )
    ax.plot(time, np.minimum(fd, top), color=colour, linewidth=0.9, zorder=2)
    clipped = np.isfinite(fd) & (fd > top)
    if clipped.any():
        ax.scatter(
            time[clipped],
            np.full(clipped.sum(), top),
            marker="^",
            s=16,
            color=colour,
            clip_on=False,
            zorder=3,
        )
    if fd_threshold is not None:
        ax.axhline(fd_threshold, color=_THRESHOLD_COLOUR, linestyle="--", linewidth=0.9, zorder=2)
    ax.set_xlim(time[0] - step / 2 if time.size else 0, time[-1] + step / 2 if time.size else 1)
    ax.set_ylim(0, top)


def _motion_legend_handles(fd_threshold: float | None, any_excluded: bool) -> list:
    handles = [
        Line2D([], [], color=_TRACE_COLOUR, linewidth=1.2, label="FD"),
        Patch(facecolor=_CENSORED_COLOUR, alpha=0.3, label="censored volumes"),
        Line2D([], [], marker="^", linestyle="none", color=_TRACE_COLOUR, label="FD above axis"),
    ]
    if fd_threshold is not None:
        handles.append(
            Line2D([], [], color=_THRESHOLD_COLOUR, linestyle="--", label=f"FD {fd_threshold:g} mm")
        )
    if any_excluded:
        handles.append(Patch(facecolor="0.9", edgecolor="0.6", label="excluded run"))
    return handles


def _draw_motion_traces(fig: Figure, motion: _Motion) -> None:
    """One small FD trace per run, in one or two columns."""
    runs, fd, kept, included = motion.runs, motion.fd, motion.kept, motion.included
    fd_threshold, max_mean_fd = motion.fd_threshold, motion.max_mean_fd
    t_r, reasons = motion.t_r, motion.reasons
    n = len(runs)
    n_cols = 1 if n <= 4 else 2
    n_rows = int(np.ceil(n / n_cols))
    axes = fig.subplots(n_rows, n_cols, squeeze=False, sharey=True)
    top = _fd_display_top(fd, fd_threshold)
    for i, ax in enumerate(axes.ravel()):
        if i >= n:
            ax.set_visible(False)
            continue
        time = np.arange(fd[i].size) * (t_r[i] if t_r is not None else 1.0)
        colour = _TRACE_COLOUR if included[i] else _EXCLUDED_COLOUR
        _draw_fd_trace(ax, time, fd[i], kept[i], top, fd_threshold, colour)
        mean_fd = _nanmean(fd[i])
        n_censored = int(np.count_nonzero(~kept[i]))
        ax.set_title(str(runs[i]), loc="left", fontsize=_FONT, pad=2)
        status = (
            f"mean FD {_format_mm(mean_fd)}, {n_censored}/{kept[i].size} censored"
            if included[i]
            else _exclusion_label(mean_fd, max_mean_fd, reasons[i] if reasons is not None else None)
            + f" (mean FD {_format_mm(mean_fd)})"
        )
        ax.set_title(
            status,
            loc="right",
            fontsize=_FONT - 1,
            pad=2,
            color="black" if included[i] else _THRESHOLD_COLOUR,
        )
        if not included[i]:
            ax.set_facecolor("0.9")
        ax.tick_params(labelsize=_FONT - 1)
        if i % n_cols == 0:
            ax.set_ylabel("FD (mm)", fontsize=_FONT)
        if i >= n - n_cols:
            ax.set_xlabel("time (s)" if t_r is not None else "volume", fontsize=_FONT)
    handles = _motion_legend_handles(fd_threshold, not included.all())
    _bottom_legend(fig, handles)


def _bottom_legend(fig: Figure, handles: list) -> None:
    """One row of legend entries under the panels."""
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=len(handles),
        fontsize=_FONT - 1,
        frameon=False,
    )


def _fd_image(
    fd: list[np.ndarray],
    kept: list[np.ndarray],
    included: np.ndarray,
    vmax: float,
) -> tuple[np.ndarray, Normalize]:
    """RGBA image (runs, volumes): FD colour, censored volumes red, excluded runs faded."""
    n_volumes = max(1, *(f.size for f in fd))
    values = np.zeros((len(fd), n_volumes))
    censored = np.zeros(values.shape, dtype=bool)
    padding = np.ones(values.shape, dtype=bool)  # past the end of a shorter run
    for i, (run_fd, run_kept) in enumerate(zip(fd, kept, strict=True)):
        values[i, : run_fd.size] = np.nan_to_num(run_fd, nan=0.0)  # FD n/a of volume 0
        censored[i, : run_kept.size] = ~run_kept
        padding[i, : run_fd.size] = False
    norm = Normalize(0.0, vmax)
    rgba = colormaps["YlGnBu"](norm(values))
    rgba[censored] = to_rgba(_CENSORED_COLOUR)
    rgba[padding] = (1.0, 1.0, 1.0, 1.0)
    fade = ~included
    rgba[fade, :, :3] = 0.35 * rgba[fade, :, :3] + 0.65  # blend with white
    return rgba, norm


def _draw_mean_fd_strip(
    ax: Axes,
    runs: Sequence[str],
    mean_fd: np.ndarray,
    included: np.ndarray,
    max_mean_fd: float | None,
) -> None:
    """Horizontal bars of mean FD per run (one collection), the exclusion threshold as a line."""
    n = len(runs)
    y = np.arange(n)
    widths = np.nan_to_num(mean_fd, nan=0.0)
    bars = _rectangles(np.zeros(n), widths, y - 0.45, y + 0.45)
    colours = np.where(included[:, None], to_rgba(_BAR_COLOUR), to_rgba(_THRESHOLD_COLOUR))
    ax.add_collection(PolyCollection(bars, facecolors=colours, edgecolors="none"))
    right = max(float(widths.max()) if n else 0.0, max_mean_fd or 0.0) * 1.1 or 1.0
    if max_mean_fd is not None:
        ax.axvline(max_mean_fd, color="black", linestyle="--", linewidth=0.9)
    ax.set_xlim(0, right)
    ax.set_xlabel("mean FD (mm)", fontsize=_FONT)
    ax.tick_params(labelsize=_FONT - 1, labelleft=False)
    ax.set_title("mean FD per run", fontsize=_FONT)


def _draw_motion_heatmap(fig: Figure, motion: _Motion) -> None:
    """Runs x volumes heat map of FD, censored volumes in red, and a mean-FD strip."""
    runs, fd, kept, included = motion.runs, motion.fd, motion.kept, motion.included
    fd_threshold, max_mean_fd, t_r = motion.fd_threshold, motion.max_mean_fd, motion.t_r
    heat, strip = fig.subplots(1, 2, sharey=True, width_ratios=[4.5, 1.2])
    finite = np.concatenate([f[np.isfinite(f)] for f in fd])
    vmax = fd_threshold or (float(np.percentile(finite, 99)) if finite.size else 0.0) or 1.0
    rgba, norm = _fd_image(fd, kept, included, vmax)
    n_runs, n_volumes = rgba.shape[:2]
    same_tr = t_r is not None and np.allclose(t_r, t_r[0])
    scale = float(t_r[0]) if same_tr else 1.0
    heat.imshow(
        rgba,
        aspect="auto",
        interpolation="antialiased",
        interpolation_stage="rgba",
        extent=(-0.5 * scale, (n_volumes - 0.5) * scale, n_runs - 0.5, -0.5),
    )
    ticks = _thinned_ticks(n_runs, _MAX_RUN_LABELS)
    fontsize = float(np.clip(0.8 * 6.0 * 72 / max(len(ticks), 1), 4.0, _FONT - 1))
    heat.set_yticks(ticks, [str(runs[i]) for i in ticks], fontsize=fontsize)
    heat.tick_params(axis="x", labelsize=_FONT - 1)
    heat.set_xlabel("time (s)" if same_tr else "volume", fontsize=_FONT)
    note = f" (one name in {ticks[1] - ticks[0]})" if len(ticks) > 1 and ticks[1] > 1 else ""
    heat.set_ylabel(f"run{note}", fontsize=_FONT)
    heat.set_title("framewise displacement per volume", fontsize=_FONT)
    mean_fd = np.array([_nanmean(f) for f in fd])
    _draw_mean_fd_strip(strip, runs, mean_fd, included, max_mean_fd)
    strip.set_ylim(n_runs - 0.5, -0.5)
    colorbar = fig.colorbar(
        ScalarMappable(norm=norm, cmap=colormaps["YlGnBu"]),
        ax=strip,
        extend="max",
        fraction=0.08,
        pad=0.04,
    )
    colorbar.set_label("FD (mm)", fontsize=_FONT)
    colorbar.ax.tick_params(labelsize=_FONT - 1)
    handles = _heatmap_legend_handles(max_mean_fd)
    _bottom_legend(fig, handles)


def _heatmap_legend_handles(max_mean_fd: float | None) -> list:
    handles = [
        Patch(facecolor=_CENSORED_COLOUR, label="censored volume"),
        Patch(facecolor="white", edgecolor="0.6", label="no volume (shorter run)"),
        Patch(facecolor="0.85", label="excluded run (faded)"),
        Patch(facecolor=_BAR_COLOUR, label="mean FD, included"),
        Patch(facecolor=_THRESHOLD_COLOUR, label="mean FD, excluded"),
    ]
    if max_mean_fd is not None:
        handles.append(
            Line2D([], [], color="black", linestyle="--", label=f"exclusion {max_mean_fd:g} mm")
        )
    return handles


def draw_motion_overview(
    runs: Sequence[str],
    fd: Sequence[np.ndarray],
    kept: Sequence[np.ndarray],
    included: Sequence[bool],
    *,
    fd_threshold: float | None,
    max_mean_fd: float | None,
    t_r: Sequence[float] | None = None,
    reasons: Sequence[str] | None = None,
) -> Figure:
    """Framewise displacement of every run: traces for few runs, a heat map for many.

    Parameters
    ----------
    runs : sequence of str
        Run names, in display order.
    fd : sequence of ndarray, each shape (n_volumes,)
        Framewise displacement (mm) per volume; NaN (the first volume) is left out.
    kept : sequence of ndarray of bool, each shape (n_volumes,)
        False for volumes left out of the analysis (censored, or dummy volumes).
    included : sequence of bool
        False for runs excluded from the group analysis.
    fd_threshold : float or None
        Censoring threshold (mm), drawn as a line; None: no FD censoring.
    max_mean_fd : float or None
        Run exclusion threshold on mean FD (mm); None: no such exclusion.
    t_r : sequence of float or None, default=None
        Repetition time (s) per run: the time axis is in seconds (the heat map's only when
        every run has the same t_r), otherwise in volumes.
    reasons : sequence of str or None, default=None
        Why each excluded run was excluded (shown on its trace); empty for included runs.

    Returns
    -------
    Figure
        Up to :data:`MAX_TRACE_RUNS` runs: one panel per run (1 or 2 columns, shared FD
        axis), 1100 pixels wide; more runs: a runs x volumes heat map and a mean-FD strip,
        1100 x 750 pixels.

    Raises
    ------
    ValueError
        No runs, or per-run inputs of mismatched lengths (the message names the run).
    """
    fd_arrays, kept_arrays = _check_motion_inputs(runs, fd, kept, included, t_r, reasons)
    flags = np.asarray(included, dtype=bool)
    motion = _Motion(runs, fd_arrays, kept_arrays, flags, fd_threshold, max_mean_fd, t_r, reasons)
    if len(runs) <= MAX_TRACE_RUNS:
        n_rows = int(np.ceil(len(runs) / (1 if len(runs) <= 4 else 2)))
        fig = new_figure((11.0, max(3.2, 1.0 + 1.15 * n_rows)))
        _draw_motion_traces(fig, motion)
    else:
        fig = new_figure((11.0, 7.5))
        _draw_motion_heatmap(fig, motion)
    summary = _motion_summary(motion)
    fig.suptitle(f"Head motion: framewise displacement (FD)\n{summary}", fontsize=_FONT + 2)
    return fig


# --------------------------------------------------------------------------- QC-FC


def _edge_vector(values: np.ndarray, name: str) -> np.ndarray:
    """Strict lower triangle (row-major) of a square matrix, or a 1D edge vector as is."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 2 and values.shape[0] == values.shape[1]:
        return values[np.tril_indices(values.shape[0], k=-1)]
    if values.ndim == 1:
        return values
    raise ValueError(
        f"QC-FC figure: {name} should be a square (n_regions, n_regions) matrix or a vector of "
        f"edges, got shape {values.shape}"
    )


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given their average rank."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    first = np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]])
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, values.size))
    ranks = np.empty(values.size)
    ranks[order] = starts[group] + (counts[group] + 1) / 2
    return ranks


def _spearman_rho(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation over the pairs where both are finite; NaN below 3 pairs.

    Parameters
    ----------
    x, y : ndarray, shape (n,)

    Returns
    -------
    float
        Pearson correlation of the ranks (ties ranked by their average); NaN when fewer than
        3 finite pairs remain or either variable is constant.
    """
    finite = np.isfinite(x) & np.isfinite(y)
    if np.count_nonzero(finite) < 3:
        return float("nan")
    rx, ry = _ranks(x[finite]), _ranks(y[finite])
    rx -= rx.mean()
    ry -= ry.mean()
    denominator = np.sqrt((rx @ rx) * (ry @ ry))
    return float(rx @ ry / denominator) if denominator > 0 else float("nan")


def _check_summaries(
    summaries: Mapping[str, Mapping[str, float]] | None, kinds: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Each kind's summary (possibly empty), refusing unknown kinds and keys."""
    summaries = dict(summaries or {})
    unknown_kinds = set(summaries) - set(kinds)
    if unknown_kinds:
        raise ValueError(
            f"QC-FC figure: summaries for {sorted(unknown_kinds)} but QC-FC values only for "
            f"{list(kinds)}"
        )
    checked = {}
    for kind in kinds:
        summary = dict(summaries.get(kind, {}))
        unknown = set(summary) - set(QCFC_SUMMARY_KEYS)
        if unknown:
            raise ValueError(
                f"QC-FC figure: unknown summary key(s) {sorted(unknown)} for {kind!r}; "
                f"expected some of {list(QCFC_SUMMARY_KEYS)}"
            )
        checked[kind] = {k: float(v) for k, v in summary.items()}
    return checked


def _qcfc_legend(ax: Axes, values: np.ndarray, n_edges: int, summary: dict[str, float]) -> None:
    """Summary numbers as a legend without symbols."""
    median = summary.get("median_abs_qcfc", float(np.median(np.abs(values))))
    lines = [f"median |QC-FC| = {median:.3f}"]
    if "percent_significant" in summary:
        lines.append(f"p < 0.05: {summary['percent_significant']:.1f} % of edges")
    if "percent_significant_fdr" in summary:
        lines.append(f"FDR q ≤ 0.05: {summary['percent_significant_fdr']:.1f} %")
    finite_note = f" of {n_edges}" if values.size != n_edges else ""
    lines.append(f"{values.size}{finite_note} edges")
    handles = [Patch(facecolor="none", edgecolor="none", label=text) for text in lines]
    ax.legend(
        handles=handles,
        loc="upper left",
        fontsize=_FONT - 1,
        handlelength=0,
        handletextpad=0,
        frameon=True,
        framealpha=0.85,
    )


def _no_values(ax: Axes, text: str) -> None:
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=_FONT,
        color="0.35",
        bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "0.7"},
    )


def _draw_qcfc_histogram(
    ax: Axes, values: np.ndarray, limit: float, summary: dict[str, float]
) -> None:
    finite = values[np.isfinite(values)]
    ax.set_xlim(-limit, limit)
    ax.axvline(0.0, color="0.4", linewidth=0.8)
    ax.set_xlabel("QC-FC (r of edge strength with mean FD)", fontsize=_FONT)
    ax.set_ylabel("number of edges", fontsize=_FONT)
    ax.tick_params(labelsize=_FONT - 1)
    if finite.size == 0:
        _no_values(ax, f"no finite QC-FC value\n({values.size} edges, all NaN)")
        return
    ax.hist(finite, bins=np.linspace(-limit, limit, 41), color=_BAR_COLOUR, edgecolor="white")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, ax.get_ylim()[1] * 1.45)  # room for the legend above the bars
    _qcfc_legend(ax, finite, values.size, summary)


def _draw_qcfc_distance(
    ax: Axes, values: np.ndarray, distances: np.ndarray, limit: float, rho: float
) -> None:
    """QC-FC against edge length: scatter for few edges, hexbin density for many."""
    finite = np.isfinite(values) & np.isfinite(distances)
    ax.set_ylim(-limit, limit)
    ax.axhline(0.0, color="0.4", linewidth=0.8)
    ax.set_xlabel("distance between region centres (mm)", fontsize=_FONT)
    ax.set_ylabel("QC-FC (r)", fontsize=_FONT)
    ax.tick_params(labelsize=_FONT - 1)
    if not finite.any():
        _no_values(ax, "no finite QC-FC value")
        return
    x, y = distances[finite], values[finite]
    if x.size > _MAX_SCATTER_EDGES:
        ax.hexbin(x, y, gridsize=35, mincnt=1, cmap="Blues", linewidths=0.1, bins="log")
    else:
        size = float(np.clip(3000 / x.size, 6, 25))  # few edges: larger dots
        ax.scatter(x, y, s=size, color=_BAR_COLOUR, alpha=0.6, edgecolors="none")
    text = f"Spearman \u03c1 = {rho:.3f}" if np.isfinite(rho) else "Spearman \u03c1 = n/a"
    ax.text(
        0.98,
        0.96,
        text,
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=_FONT,
        bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "alpha": 0.85},
    )


def _qcfc_title(covariates: Sequence[str]) -> str:
    removed = f"\npartial correlation removing {', '.join(covariates)}" if covariates else ""
    return (
        "QC-FC: edge-wise correlation of connectivity with mean FD across subjects"
        f"{removed}\n(closer to 0 is better; distance dependence: \u03c1 near 0 is better)"
    )


def draw_qcfc(
    qcfc: Mapping[str, np.ndarray],
    *,
    distances: np.ndarray | None = None,
    summaries: Mapping[str, Mapping[str, float]] | None = None,
    covariates: Sequence[str] = (),
) -> Figure:
    """QC-FC per connectivity kind: histogram, and QC-FC against edge distance.

    Parameters
    ----------
    qcfc : mapping of str to ndarray
        Per connectivity kind, the QC-FC value of each edge (correlation across subjects of
        the edge's connectivity with mean FD): shape (n_regions, n_regions) (its strict lower
        triangle is used) or (n_edges,). NaN edges are left out.
    distances : ndarray or None, default=None
        Distance (mm) between the region centres of each edge, shaped like the QC-FC values;
        given, a second row plots QC-FC against distance.
    summaries : mapping of str to mapping, default=None
        Per kind, numbers computed by the QC step, with keys among
        :data:`QCFC_SUMMARY_KEYS`: ``median_abs_qcfc``, ``percent_significant``
        (% edges with p < 0.05 uncorrected), ``percent_significant_fdr`` (% after BH-FDR at
        0.05), ``distance_rho`` (Spearman rho of QC-FC with distance). Missing median and
        rho are computed from the values; missing percentages are not shown.
    covariates : sequence of str, default=()
        Regressors the QC-FC removed (e.g. ``["age", "sex[M]"]``); given, the title says
        the values are partial correlations removing them.

    Returns
    -------
    Figure
        One column per kind, 380 x 340 pixels per panel (at least 700 pixels wide).

    Raises
    ------
    ValueError
        No kind, a badly shaped array, distances that do not match the edges, or summaries
        with unknown kinds or keys.
    """
    if not qcfc:
        raise ValueError("QC-FC figure: no connectivity kind given")
    kinds = list(qcfc)
    values = {kind: _edge_vector(qcfc[kind], f"QC-FC of {kind!r}") for kind in kinds}
    checked = _check_summaries(summaries, kinds)
    edge_distances = None if distances is None else _edge_vector(distances, "distances")
    for kind, v in values.items():
        if edge_distances is not None and edge_distances.size != v.size:
            raise ValueError(
                f"QC-FC figure: {edge_distances.size} edge distances but {v.size} QC-FC values "
                f"for {kind!r}"
            )
    every = np.concatenate([v[np.isfinite(v)] for v in values.values()])
    limit = max(0.2, 1.1 * float(np.max(np.abs(every)))) if every.size else 1.0
    limit = min(limit, 1.0)
    n_rows = 1 if edge_distances is None else 2
    fig = new_figure((max(7.0, 3.8 * len(kinds)), 0.7 + 3.4 * n_rows), layout=None)
    axes = fig.subplots(n_rows, len(kinds), squeeze=False)
    for column, kind in enumerate(kinds):
        axes[0, column].set_title(kind, fontsize=_FONT + 1)
        _draw_qcfc_histogram(axes[0, column], values[kind], limit, checked[kind])
        if edge_distances is not None:
            rho = checked[kind].get("distance_rho")
            if rho is None:
                rho = _spearman_rho(edge_distances, values[kind])
            _draw_qcfc_distance(axes[1, column], values[kind], edge_distances, limit, rho)
    title = fig.suptitle(_qcfc_title(covariates), fontsize=_FONT + 2)
    arrange_grid(fig, axes, title)
    return fig


# --------------------------------------------------------------------------- stability


def _check_stability(
    stability: np.ndarray, sizes: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    stability = np.asarray(stability, dtype=np.float64).ravel()
    if sizes is not None:
        sizes = np.asarray(sizes).ravel()
        if sizes.size != stability.size:
            raise ValueError(
                f"stability figure: {sizes.size} cluster sizes for {stability.size} networks"
            )
    return stability, sizes


def _annotate_bars(
    ax: Axes,
    stability: np.ndarray,
    sizes: np.ndarray | None,
    n_runs: int | None,
    bottom: float,
) -> None:
    """Cluster size above each bar (red when it differs from the number of runs); NaN marked."""
    fontsize = float(np.clip(260 / max(stability.size, 1), 5.0, _FONT - 1))
    for k, value in enumerate(stability):
        if not np.isfinite(value):
            ax.text(
                k,
                bottom + 0.02,
                "n/a",
                ha="center",
                va="bottom",
                fontsize=fontsize,
                color=_THRESHOLD_COLOUR,
                rotation=90 if stability.size > 30 else 0,
            )
        if sizes is None:
            continue
        mismatch = n_runs is not None and sizes[k] != n_runs
        y = (value if np.isfinite(value) else bottom + 0.12) + 0.015
        ax.text(
            k,
            max(y, 0.015),
            f"{int(sizes[k])}",
            ha="center",
            va="bottom",
            fontsize=fontsize,
            color=_THRESHOLD_COLOUR if mismatch else "0.2",
            fontweight="bold" if mismatch else "normal",
        )


def draw_stability(
    stability: np.ndarray,
    *,
    sizes: np.ndarray | None = None,
    n_runs: int | None = None,
) -> Figure:
    """Bar chart of the ICASSO stability index per network, with the Icasso display range.

    Parameters
    ----------
    stability : ndarray, shape (n_networks,)
        Stability index per network: ICASSO's cluster quality Iq times the fraction of runs
        that found the network (:func:`netregions.stability.consensus`), nominally in [0, 1];
        NaN (a singleton cluster) is marked "n/a".
    sizes : ndarray of int, shape (n_networks,), optional
        Number of estimates in each network's cluster, written above its bar.
    n_runs : int, optional
        Number of decomposition runs; cluster sizes that differ from it are shown in red.

    Returns
    -------
    Figure
        4 inches high, 6 to 14 inches wide depending on the number of networks.

    Raises
    ------
    ValueError
        If ``sizes`` does not have one entry per network.
    """
    stability, sizes = _check_stability(stability, sizes)
    n = stability.size
    fig = new_figure((float(np.clip(2.0 + 0.3 * n, 6.0, 14.0)), 4.0))
    ax = fig.add_subplot()
    finite = stability[np.isfinite(stability)]
    bottom = min(0.0, float(finite.min()) - 0.05) if finite.size else 0.0
    ax.axhspan(*ICASSO_RANGE, color="#7fbf7b", alpha=0.3, linewidth=0, zorder=0)
    for level in ICASSO_RANGE:  # the band's edges stay visible across the bars
        ax.axhline(level, color="#1b7837", linewidth=0.8, linestyle=":", zorder=3)
    ax.bar(np.arange(n), np.nan_to_num(stability, nan=0.0), width=0.75, color=_BAR_COLOUR, zorder=2)
    _annotate_bars(ax, stability, sizes, n_runs, bottom)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylim(bottom, 1.08)
    ticks = _thinned_ticks(n, 40)
    ax.set_xticks(ticks, [str(k) for k in ticks], fontsize=_FONT - 1)
    ax.tick_params(axis="y", labelsize=_FONT - 1)
    ax.set_xlabel("network (component index)", fontsize=_FONT)
    ax.set_ylabel("stability (Iq \u00d7 coverage)", fontsize=_FONT)
    handles = [
        Patch(
            facecolor="#7fbf7b",
            alpha=0.4,
            edgecolor="#1b7837",
            linestyle=":",
            label="Icasso display range 0.8\u20130.9",
        )
    ]
    if sizes is not None:
        label = "number: estimates in the cluster"
        if n_runs is not None:
            label += f" (red: \u2260 {n_runs} runs)"
        handles.append(Patch(facecolor="none", edgecolor="none", label=label))
    _bottom_legend(fig, handles)
    runs_note = f" over {n_runs} decomposition runs" if n_runs is not None else ""
    mean = f"mean {finite.mean():.2f}" if finite.size else "no finite value"
    fig.suptitle(
        f"Network stability (ICASSO){runs_note}\n{n} networks, {mean}, "
        f"{int(np.count_nonzero(finite >= ICASSO_RANGE[0]))} at or above {ICASSO_RANGE[0]}",
        fontsize=_FONT + 2,
    )
    return fig
