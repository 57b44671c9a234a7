"""Dual regression: subject-specific time courses and maps from group maps, one run at a time.

Stage 1 regresses every volume on the group maps (a spatial regression) to get one time course
per network; stage 2 regresses every voxel's series on those time courses (a temporal
regression) to get the subject's own maps. The demeaning and normalisation follow FSL's
``dual_regression`` (``fsl_glm --demean``, optionally ``--des_norm`` in stage 2). Arrays in,
arrays out, float64.

See docs/methods/stability.md, "Dual regression", for the formulas and the choices made here.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DES_NORM_DDOF",
    "GRAND_MEAN",
    "RANK_RCOND",
    "dual_regression",
    "grand_mean_scale",
    "stage1",
    "stage2",
]

#: Delta degrees of freedom of the standard deviation used by ``des_norm`` (sample SD).
DES_NORM_DDOF = 1

#: The mean intensity a run is scaled to before dual regression (:func:`grand_mean_scale`).
GRAND_MEAN = 100.0


def grand_mean_scale(data: np.ndarray, target: float = GRAND_MEAN) -> np.ndarray:
    """Scale a run so that its mean over every voxel and volume is ``target``.

    One factor for the whole run (FEAT's grand-mean scaling, with 100 instead of 10000): each
    voxel keeps its variance relative to the others, so dual-regression maps carry amplitude
    in percent of the run's mean intensity, comparable between runs and scanners.

    Parameters
    ----------
    data : ndarray, shape (n_volumes, n_voxels)
        In-mask series of one run, in the scanner's units (not demeaned).
    target : float, default=100.0

    Returns
    -------
    ndarray, float64, same shape

    Raises
    ------
    ValueError
        If the data are not a finite 2-D array, or their mean is not positive: at most 1 % of
        their mean absolute value (data already demeaned or standardised have no intensity
        to scale to).
    """
    values = _as_float64_2d(data, "data")
    mean = float(values.mean())
    # demeaned data have a mean of rounding size: no intensity to scale to
    if mean <= 0.01 * float(np.abs(values).mean()):
        raise ValueError(
            f"the mean intensity of the data is {mean:g}: grand-mean scaling needs a positive "
            "mean (the series of an fMRI run before any demeaning)"
        )
    return values * (target / mean)


def dual_regression(
    data: np.ndarray, group_maps: np.ndarray, *, des_norm: bool = True, demean: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Both stages of dual regression for one run.

    Parameters
    ----------
    data : ndarray, shape (n_volumes, n_voxels)
        In-mask series of one run.
    group_maps : ndarray, shape (n_components, n_voxels)
        Group-level spatial maps on the same voxels.
    des_norm : bool, default=True
        Scale each stage-1 time course to unit standard deviation before stage 2, so that the
        stage-2 maps carry the network's amplitude (see :func:`stage2`).
    demean : bool, default=True
        Demean maps and volumes over voxels in stage 1, time courses and voxel series over time
        in stage 2.

    Returns
    -------
    timecourses : ndarray, shape (n_volumes, n_components), float64
        Stage-1 time courses (not normalised).
    maps : ndarray, shape (n_components, n_voxels), float64
        Stage-2 subject maps (regression coefficients).

    Raises
    ------
    ValueError
        If the shapes disagree, an input is not finite, the demeaned group maps or the time
        courses are linearly dependent, or (with ``des_norm``) a time course is constant.
    """
    timecourses = stage1(data, group_maps, demean=demean)
    maps = stage2(data, timecourses, des_norm=des_norm, demean=demean)
    return timecourses, maps


def stage1(data: np.ndarray, group_maps: np.ndarray, *, demean: bool = True) -> np.ndarray:
    """Spatial regression of every volume on the group maps.

    Parameters
    ----------
    data, group_maps : ndarray
        As for :func:`dual_regression`.
    demean : bool, default=True
        Remove each map's and each volume's mean over voxels before the regression.

    Returns
    -------
    ndarray, shape (n_volumes, n_components), float64
        Least-squares coefficients ``A`` minimising ``||Y - A G||`` (demeaned ``Y`` and ``G``).

    Raises
    ------
    ValueError
        If the shapes disagree, an input is not finite, or the (demeaned) maps are linearly
        dependent (this includes ``n_voxels <= n_components`` after demeaning).

    Notes
    -----
    The maps are demeaned but not variance-normalised, so each time course is in the units of
    the data per unit of map value.
    """
    y, g = _paired_inputs(data, group_maps, "group_maps", axis=1, demean=demean)
    coef = _least_squares(g.T, y.T, "stage1: the group maps (after demeaning over voxels)")
    return coef.T


def stage2(
    data: np.ndarray, timecourses: np.ndarray, *, des_norm: bool = True, demean: bool = True
) -> np.ndarray:
    """Temporal regression of every voxel's series on the time courses.

    Parameters
    ----------
    data : ndarray, shape (n_volumes, n_voxels)
        In-mask series of one run.
    timecourses : ndarray, shape (n_volumes, n_components)
        Regressors, normally the output of :func:`stage1`.
    des_norm : bool, default=True
        Divide each (demeaned) time course by its standard deviation with
        ``ddof=DES_NORM_DDOF`` (1) before the regression.
    demean : bool, default=True
        Remove each time course's and each voxel's mean over time before the regression.

    Returns
    -------
    ndarray, shape (n_components, n_voxels), float64
        Least-squares coefficients ``M`` minimising ``||Y - T M||`` (demeaned and normalised
        as requested).

    Raises
    ------
    ValueError
        If the shapes disagree, an input is not finite, a time course is constant while
        ``des_norm`` is set, or the time courses are linearly dependent (this includes
        ``n_volumes <= n_components`` after demeaning).

    Notes
    -----
    With ``des_norm`` a map is the network's amplitude (SD of its time course) times its shape;
    without it the amplitude stays in the time course and the map is the shape alone
    (docs/methods/stability.md, "Dual regression").
    """
    y, t = _paired_inputs(data, timecourses, "timecourses", axis=0, demean=demean)
    if des_norm:
        t = _unit_sd(t)
    return _least_squares(t, y, "stage2: the time courses")


#: Per regression stage (the axis that data and the other input share): its name, the shared
#: dimension, and the other input's expected shape.
_STAGES = {
    1: ("stage1", "voxels", "(n_components, n_voxels)"),
    0: ("stage2", "volumes", "(n_volumes, n_components)"),
}


def _paired_inputs(
    data: np.ndarray, other: np.ndarray, name: str, *, axis: int, demean: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``data`` and ``other`` as float64 2D arrays sharing ``axis``, demeaned along it if asked.

    Stage 1 regresses over voxels (axis 1), stage 2 over volumes (axis 0).
    """
    y = _as_float64_2d(data, "data")
    x = _as_float64_2d(other, name)
    if x.shape[axis] != y.shape[axis]:
        stage, dimension, expected = _STAGES[axis]
        raise ValueError(
            f"{stage}: {name} have {x.shape[axis]} {dimension} but data has {y.shape[axis]} "
            f"(expected data (n_volumes, n_voxels) and {name} {expected})"
        )
    if demean:
        x = x - x.mean(axis=axis, keepdims=True)
        y = y - y.mean(axis=axis, keepdims=True)
    return y, x


def _unit_sd(timecourses: np.ndarray) -> np.ndarray:
    """Scale every column to unit standard deviation (ddof=DES_NORM_DDOF)."""
    if timecourses.shape[0] <= DES_NORM_DDOF:
        raise ValueError(
            f"stage2: des_norm needs more than {DES_NORM_DDOF} volume(s), "
            f"got {timecourses.shape[0]}"
        )
    sd = timecourses.std(axis=0, ddof=DES_NORM_DDOF)
    constant = np.flatnonzero(sd == 0)
    if constant.size:
        raise ValueError(
            f"stage2: des_norm cannot scale constant time course(s) {constant.tolist()} "
            "(expected a non-zero standard deviation)"
        )
    return timecourses / sd


#: Singular values of a design below this fraction of its largest count as zero: maps and
#: series stored in float32 determine no finer direction, and with float64's default dependent
#: maps written to float32 pass as independent (docs/methods/stability.md, Dual regression).
RANK_RCOND = 1e-6


def _least_squares(design: np.ndarray, target: np.ndarray, what: str) -> np.ndarray:
    """``argmin_B ||target - design @ B||`` by SVD, refusing rank-deficient designs."""
    coef, _, rank, _ = np.linalg.lstsq(design, target, rcond=RANK_RCOND)
    if rank < design.shape[1]:
        raise ValueError(
            f"{what} are linearly dependent: rank {rank} for {design.shape[1]} regressors "
            f"over {design.shape[0]} samples"
        )
    return coef


def _as_float64_2d(array: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(array, dtype=np.float64)
    if x.ndim != 2 or 0 in x.shape:
        raise ValueError(f"{name}: expected a non-empty 2-D array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: expected finite values, found NaN or inf")
    return x
