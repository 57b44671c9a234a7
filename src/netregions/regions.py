"""Splitting network maps into regions (the reference's ``RegionExtractor``), arrays only.

The recipe (docs/algorithms.md, Region extraction):

1. threshold the 4D maps with one of :data:`THRESHOLDING_STRATEGIES` (ratio of voxels,
   percentile or value);
2. split each map into regions with one of :data:`EXTRACTORS`: the reference's
   ``local_regions`` (smooth the map, find its peaks, share the map's non-zero voxels among the
   peaks with a :func:`random_walker`) or plain 6-connected components;
3. drop regions of at most ``min_region_size`` mm³, keep the thresholded values inside each
   region (not binarised) and stack the regions in map order, then label order.

Also here: the table of regions (:func:`region_table`) and the regions as a label image
(:func:`atlas_labels`); the least-squares signals of region maps are
:func:`netregions.signal.region_signals`.
Reading and writing files is the job of :mod:`netregions.steps.extract_regions`.
"""

from __future__ import annotations

import logging
import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import cg

from netregions import kernels

__all__ = [
    "EXTRACTORS",
    "REGION_COLUMNS",
    "THRESHOLDING_STRATEGIES",
    "NoRegionError",
    "atlas_labels",
    "connected_regions",
    "random_walker",
    "region_table",
    "split_maps",
    "threshold_maps",
    "threshold_percentile",
    "threshold_ratio_n_voxels",
    "threshold_value",
    "voxel_volume",
]

log = logging.getLogger("netregions")

ThresholdingStrategy = Literal["ratio_n_voxels", "percentile", "img_value"]
Extractor = Literal["local_regions", "connected_components"]

#: Columns of ``regions.tsv``, in order.
REGION_COLUMNS: tuple[str, ...] = ("region", "component", "n_voxels", "volume_mm3", "x", "y", "z")

#: Peak finding of ``local_regions`` (the reference's defaults; distances in voxels).
PEAK_MIN_DISTANCE = 10
PEAK_THRESHOLD_REL = 0.1
#: Random-walker settings of ``local_regions`` (the reference's values).
WALKER_BETA = 130.0
WALKER_TOL = 1e-3
#: Added to every edge weight so that the graph stays connected where weights underflow.
EDGE_EPSILON = 1e-10

NO_REGION_MESSAGE = "No supra threshold regions was found"

#: The reference's error text for a bad ratio (the values follow).
RATIO_ERROR = (
    "threshold given as ratio to the number of voxels must be Real number and should be "
    "positive and between 0 and total number of maps i.e. n_maps="
)


class NoRegionError(ValueError):
    """No region survived thresholding and the size filter."""


# --------------------------------------------------------------------------- thresholding
#
# Every strategy returns a thresholded copy in which non-finite values (and values outside
# an optional mask) are 0; float32 and float64 are kept, other dtypes become float32. Cuts
# follow scipy.stats.scoreatpercentile and are compared as float64 numpy scalars, so ties
# against the cut fall on the same side as in the reference (docs/algorithms.md, §4.1).


def _finite_copy(maps: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """4D float copy of ``maps`` (3D → one map), non-finite and outside-mask entries → 0."""
    maps = _as_4d(maps)
    dtype = np.float64 if maps.dtype.kind == "f" and maps.dtype.itemsize == 8 else np.float32
    work = np.array(maps, dtype=dtype, order="K", copy=True)
    keep = np.isfinite(work)
    if mask is not None:
        keep &= _check_mask(mask, work.shape[:3])[..., np.newaxis]
    work[~keep] = 0
    return work


def _score_at_percentile(values: np.ndarray, percentile: float) -> np.float64:
    """Linear-interpolated percentile of a 1D array, as ``scipy.stats.scoreatpercentile``.

    With h = p / 100 * (n - 1), i = floor(h): the order statistic v_i when h is an integer,
    else (v_i * (i + 1 - h) + v_{i+1} * (h - i)) / ((i + 1 - h) + (h - i)), in float64.
    NaN for an empty array.
    """
    n = values.size
    if n == 0:
        return np.float64(np.nan)
    h = percentile / 100.0 * (n - 1)
    i = int(h)
    # two order statistics in one partition (many ties: the zeros of sparse maps)
    kth = [i, i + 1] if i + 1 < n else [max(i - 1, 0), i]
    ordered = np.partition(values, kth)
    if i == h:
        return np.float64(ordered[i])
    low, high = float(ordered[i]), float(ordered[i + 1])
    weights = ((i + 1) - h, h - i)
    return np.float64((low * weights[0] + high * weights[1]) / (weights[0] + weights[1]))


def _apply_cut(work: np.ndarray, cut: np.float64, two_sided: bool) -> np.ndarray:
    """Zero the entries beyond a threshold_img cut, in place (docs/algorithms.md, §4.1)."""
    if two_sided:
        work[(-cut < work) & (work < cut)] = 0
    elif cut >= 0:
        work[work < cut] = 0
    else:  # a negative one-sided cut keeps the values below it (a NaN cut zeroes nothing)
        work[work > cut] = 0
    return work


def _is_real(value: object) -> bool:
    """True for real numbers (Python or numpy), False for bools, strings and others."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _as_input_shape(work: np.ndarray, maps: np.ndarray) -> np.ndarray:
    return work[..., 0] if np.ndim(maps) == 3 else work


def threshold_ratio_n_voxels(
    maps: np.ndarray, ratio: float, two_sided: bool = True, mask: np.ndarray | None = None
) -> np.ndarray:
    """Keep about ``ratio`` × n_voxels entries with the largest |value| over all maps.

    Parameters
    ----------
    maps : ndarray of shape (x, y, z, n_maps) or (x, y, z)
        Stack of maps, maps on the last axis (3D input is one map). Never modified.
    ratio : float
        Real number in (0, n_maps].
    two_sided, mask
        Ignored, as in the reference: this strategy always keeps both signs and counts every
        voxel of the grid.

    Returns
    -------
    ndarray, same shape as ``maps``
        Copy with non-finite values and entries with ``|x| < cut`` set to 0.

    Raises
    ------
    ValueError
        If ``ratio`` is not a real number in (0, n_maps], or ``maps`` is not 3D/4D.

    Notes
    -----
    ``cut`` is the linear-interpolated percentile ``100 - (100 / n_maps) * ratio`` of |x| over
    every entry of the 4D array, zeros outside the brain and outside each map included.
    """
    work = _finite_copy(maps, None)
    n_maps = work.shape[3]
    if not _is_real(ratio) or not 0 < ratio <= n_maps:
        raise ValueError(f"{RATIO_ERROR}{n_maps}. You provided {ratio}")
    cut = _score_at_percentile(np.abs(work).ravel(order="K"), 100.0 - (100.0 / n_maps) * ratio)
    work[np.abs(work) < cut] = 0
    return _as_input_shape(work, maps)


def threshold_percentile(
    maps: np.ndarray, percentile: float, two_sided: bool = False, mask: np.ndarray | None = None
) -> np.ndarray:
    """Zero the values below a percentile of the data (the reference's ``threshold_img``).

    Parameters
    ----------
    maps : ndarray
        As for :func:`threshold_ratio_n_voxels`.
    percentile : float
        Percentile in [0, 100].
    two_sided : bool, default=False
        If True the percentile is taken over |x| and values with ``-cut < x < cut`` are
        zeroed; otherwise over the non-negative values (zeros included) and values below
        the cut (all negative values for a non-negative cut) are zeroed.
    mask : ndarray of shape (x, y, z), optional
        Values outside the mask (mask == 0) are zeroed and excluded from the percentile.

    Returns
    -------
    ndarray, same shape as ``maps``

    Raises
    ------
    ValueError
        If ``percentile`` is not in [0, 100], or the maps or mask have the wrong shape.

    Notes
    -----
    ``cut = scoreatpercentile(D, percentile) + 1e-5`` with D the in-mask values (|x| if
    two-sided, else the values >= 0). An empty D gives a NaN cut, which zeroes nothing.
    """
    if not _is_real(percentile) or not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be a number in [0, 100]; got {percentile!r}")
    work = _finite_copy(maps, mask)
    values = (
        work.ravel(order="K") if mask is None else work[_check_mask(mask, work.shape[:3])].ravel()
    )
    sample = np.abs(values) if two_sided else values[values >= 0]
    cut = _score_at_percentile(sample, float(percentile)) + np.float64(1e-5)
    return _as_input_shape(_apply_cut(work, cut, two_sided), maps)


def threshold_value(
    maps: np.ndarray, value: float, two_sided: bool = False, mask: np.ndarray | None = None
) -> np.ndarray:
    """Zero the values beyond a given value (the reference's ``threshold_img`` with a number).

    Parameters
    ----------
    maps : ndarray, 4D (maps on the last axis) or 3D (one map)
        Never modified.
    value : float
        The cut, used as is.
    two_sided : bool, default=False
        If True values with ``-value < x < value`` are zeroed (``value`` must be >= 0);
        otherwise values ``x < value`` for a non-negative value, ``x > value`` for a negative
        one.
    mask : ndarray of shape (x, y, z), optional
        Values outside the mask (mask == 0) are zeroed.

    Returns
    -------
    ndarray, same shape as ``maps``
        Copy with non-finite values and the values beyond the cut set to 0.

    Raises
    ------
    ValueError
        If ``value`` is not a finite real number, is negative with ``two_sided=True``, or the
        maps or mask have the wrong shape.
    """
    if not _is_real(value) or not np.isfinite(value):
        raise ValueError(f"threshold value must be a finite real number; got {value!r}")
    if two_sided and value < 0:
        raise ValueError(f"threshold value must be non-negative when two_sided=True; got {value!r}")
    work = _finite_copy(maps, mask)
    return _as_input_shape(_apply_cut(work, np.float64(value), two_sided), maps)


#: Thresholding strategies by config name (``regions.thresholding_strategy``); each is
#: ``f(maps, threshold, two_sided=..., mask=...) -> thresholded copy``.
THRESHOLDING_STRATEGIES: dict[str, Callable[..., np.ndarray]] = {
    "ratio_n_voxels": threshold_ratio_n_voxels,
    "percentile": threshold_percentile,
    "img_value": threshold_value,
}


def threshold_maps(
    maps: np.ndarray,
    threshold: float,
    strategy: ThresholdingStrategy,
    two_sided: bool = False,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Threshold network maps with one of :data:`THRESHOLDING_STRATEGIES`.

    Parameters
    ----------
    maps : ndarray, shape (x, y, z, n_maps) or (x, y, z)
        Maps on the last axis; a 3D array is one map. Not modified.
    threshold : float
        ``ratio_n_voxels``: ratio in (0, n_maps]; ``percentile``: percentile in [0, 100];
        ``img_value``: value.
    strategy : {"ratio_n_voxels", "percentile", "img_value"}
    two_sided : bool, default=False
        ``percentile`` and ``img_value`` only (``ratio_n_voxels`` always keeps both signs).
    mask : ndarray of bool, shape (x, y, z), optional
        ``percentile`` and ``img_value`` only (as in the reference).

    Returns
    -------
    ndarray
        Thresholded copy, same shape as ``maps``.

    Raises
    ------
    ValueError
        Unknown strategy ("'thresholding_strategy' must be one of ..."), a threshold that is
        None or a string ("The given input to threshold is not valid. ..."), or a threshold out
        of range for the strategy.
    """
    _check_choice("thresholding_strategy", strategy, tuple(THRESHOLDING_STRATEGIES))
    _check_threshold_is_number(threshold)
    return THRESHOLDING_STRATEGIES[strategy](maps, threshold, two_sided=two_sided, mask=mask)


def _check_choice(name: str, value: object, allowed: Sequence[str]) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"'{name}' must be one of {tuple(allowed)}; got {value!r}.")


def _check_threshold_is_number(threshold: object) -> None:
    # The reference rejects None and strings ("30%") here; bools are numbers in Python but
    # never a meaningful threshold, so they are rejected too.
    if not _is_real(threshold):
        raise ValueError(
            "The given input to threshold is not valid. Give a number: a ratio for "
            "'ratio_n_voxels', a percentile in [0, 100] for 'percentile' or a value for "
            f"'img_value'; got {threshold!r}."
        )


# --------------------------------------------------------------------------- random walker


def random_walker(
    data: np.ndarray, labels: np.ndarray, beta: float = WALKER_BETA, tol: float = WALKER_TOL
) -> np.ndarray:
    """Share unlabeled voxels among seeds with a random walk on the 6-neighbour grid graph.

    Each unlabeled voxel gets the label of the seed that a random walker started there reaches
    first with the highest probability; the walk prefers edges between similar values
    (Grady's random walker, as the reference uses it).

    Parameters
    ----------
    data : ndarray, shape (x, y, z)
        Values that set the edge weights (up to 3 dimensions).
    labels : ndarray of int, shape (x, y, z)
        Seeds > 0, unlabeled voxels 0, inactive voxels < 0 (left out of the graph).
        Not modified.
    beta : float, default=130
        Edge weight ``exp(-β' (d_i - d_j)²) + 1e-10`` with ``β' = beta / (10 · std(data))``
        (population std over the whole array). Voxel spacing is ignored (always 1).
    tol : float, default=1e-3
        Relative tolerance of the conjugate-gradient solves.

    Returns
    -------
    ndarray, same shape and dtype as ``labels``
        Seeds keep their label and unlabeled voxels get one, both renumbered 1, 2, ... when the
        label values have gaps; inactive voxels keep their value. Unlabeled voxels that no seed
        can reach, and seeds that reach no unlabeled voxel, become -1. When no unlabeled voxel
        can be reached from a seed at all, ``labels`` is returned unchanged (with a warning).

    Notes
    -----
    For each label ``l`` it solves ``L_UU x_l = -L_US 1[seed = l]`` (``L`` the graph
    Laplacian, ``U`` unlabeled, ``S`` seed voxels) with scipy's unpreconditioned conjugate
    gradient (``rtol=tol``, ``x0 = 0``), then takes the argmax over labels (first label on
    ties).

    This is our own implementation rather than ``skimage.segmentation.random_walker``
    (scikit-image 0.26), which agrees with it when solved exactly (mode ``"bf"``) on ordinary
    inputs but differs from the reference where it matters here (checked in
    ``tests/test_regions.py``):

    - a seed that touches no unlabeled voxel keeps its label in scikit-image but is dropped
      (-1) by the reference; and when such a seed has no active neighbour at all,
      scikit-image's node numbering shifts and whole blobs get wrong labels;
    - a label image without seeds raises in scikit-image; the reference returns it unchanged;
    - at ``tol=1e-3`` the solves are not converged enough to settle every argmax: the labels
      of some voxels depend on the exact CG iterates, hence on one-ulp details of the
      Laplacian (see :func:`_grid_laplacian`). Ours reproduced the reference's labels exactly
      on all our test maps and on real 8-map DictLearning output; scikit-image's ``"cg"``
      mode missed a few voxels.
    """
    data = np.asarray(data)
    labels = np.asarray(labels)
    if data.shape != labels.shape:
        raise ValueError(f"data shape {data.shape} differs from labels shape {labels.shape}")
    # the voxels >= 0 stay the same set below (renumbering keeps it): label them once
    components = _components(labels >= 0)
    if not _any_unlabeled_reachable(labels, components):
        warnings.warn(
            "random_walker: no unlabeled voxel (label 0) is connected to a seed (label > 0); "
            "labels returned unchanged.",
            UserWarning,
            stacklevel=2,
        )
        return labels.copy()
    out = _renumber_without_gaps(labels)
    _deactivate_unreachable(out, components)
    active = out >= 0
    node_labels = out[active].astype(np.int64)
    laplacian = _grid_laplacian(data, active, beta)
    probabilities = _arrival_probabilities(laplacian, node_labels, tol)
    unlabeled = node_labels == 0
    # first maximum wins on ties, as in the reference
    node_labels[unlabeled] = np.argmax(probabilities, axis=0) + 1
    out[active] = node_labels
    return out


def _any_unlabeled_reachable(labels: np.ndarray, components: np.ndarray) -> bool:
    """True if some 0-voxel is 6-connected to a seed through voxels ≥ 0.

    ``components``: :func:`_components` of ``labels >= 0``.
    """
    unlabeled = labels == 0
    if not unlabeled.any() or not (labels > 0).any():
        return False
    return bool((_reached_from(labels > 0, components) & unlabeled).any())


def _components(allowed: np.ndarray) -> np.ndarray:
    """6-connected components of a boolean array of up to 3 dimensions (0 outside).

    The numba labelling kernel, so this job never imports scipy.ndimage (a slow import).
    """
    shape = allowed.shape
    grid = shape + (1,) * (3 - allowed.ndim)  # a 2D cross is the 3D cross on a flat grid
    components, _ = kernels.label(allowed.reshape(grid), connectivity=6)
    return components.reshape(shape)


def _reached_from(start: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Voxels of the components (of :func:`_components`) that hold a voxel of ``start``.

    ``scipy.ndimage.binary_propagation(start, mask=allowed)`` for ``start`` inside
    ``allowed``, with ``components = _components(allowed)``.
    """
    touched = np.zeros(components.max() + 1, dtype=bool)
    touched[components[start]] = True
    touched[0] = False  # start voxels outside the allowed ones reach nothing
    return touched[components]


def _renumber_without_gaps(labels: np.ndarray) -> np.ndarray:
    """Copy of ``labels`` with the values ≥ 0 renumbered 0, 1, 2, ... if they have gaps."""
    out = labels.copy()
    active = out >= 0
    values = np.unique(out[active])
    if values[-1] != values.size - 1:
        out[active] = np.searchsorted(values, out[active])
    return out


def _deactivate_unreachable(labels: np.ndarray, components: np.ndarray) -> None:
    """Set to -1, in place, unlabeled voxels no seed reaches and seeds reaching no 0-voxel.

    ``components``: :func:`_components` of ``labels >= 0``.
    """
    from_seeds = _reached_from(labels > 0, components)
    from_unlabeled = _reached_from(labels == 0, components)
    lost = ((labels == 0) & ~from_seeds) | ((labels > 0) & ~from_unlabeled)
    labels[lost] = -1


def _grid_laplacian(data: np.ndarray, active: np.ndarray, beta: float) -> sparse.csr_array:
    """Laplacian ``D - W`` of the 6-neighbour graph on the active voxels (C-order numbering)."""
    n_nodes = int(active.sum())
    node = np.full(active.shape, -1, dtype=np.int64)
    node[active] = np.arange(n_nodes)
    scale = _weight_scale(data, beta)
    rows, cols, weights = [], [], []
    # last axis first, as the reference enumerates its edges (z-edges, then y, then x)
    for axis in reversed(range(data.ndim)):
        lower, upper = _neighbour_slices(data.ndim, axis)
        both = active[lower] & active[upper]
        step = (data[upper] - data[lower])[both].astype(np.float64)
        rows.append(node[lower][both])
        cols.append(node[upper][both])
        weights.append(np.exp(-scale * step**2) + EDGE_EPSILON)
    i, j, w = (np.concatenate(parts) for parts in (rows, cols, weights))
    # Degrees summed edge by edge in this order (each node's edges to its upper neighbours,
    # then to its lower ones): at tol=1e-3 the CG iterates, hence some labels, change with
    # one-ulp differences in the diagonal, and this order reproduced the reference's labels.
    degree = np.bincount(np.concatenate([i, j]), weights=np.concatenate([w, w]), minlength=n_nodes)
    diagonal = np.arange(n_nodes)
    laplacian = sparse.coo_array(
        (
            np.concatenate([-w, -w, degree]),
            (np.concatenate([i, j, diagonal]), np.concatenate([j, i, diagonal])),
        ),
        shape=(n_nodes, n_nodes),
    )
    return laplacian.tocsr()


def _weight_scale(data: np.ndarray, beta: float):
    """β' = beta / (10 · std(data)), in the data's precision as the reference computes it."""
    std = data.std()
    # constant data: every step is 0, any finite scale gives the same weights
    return beta / (10 * std) if std > 0 else 0.0


def _neighbour_slices(ndim: int, axis: int) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """Index pairs (voxel, next voxel along ``axis``)."""
    lower = [slice(None)] * ndim
    upper = [slice(None)] * ndim
    lower[axis] = slice(None, -1)
    upper[axis] = slice(1, None)
    return tuple(lower), tuple(upper)


def _arrival_probabilities(
    laplacian: sparse.csr_array, node_labels: np.ndarray, tol: float
) -> np.ndarray:
    """Probabilities (n_labels, n_unlabeled) that a walk from each unlabeled node hits label l."""
    unlabeled = np.flatnonzero(node_labels == 0)
    seeds = np.flatnonzero(node_labels > 0)
    rows = laplacian[unlabeled]
    l_uu = rows[:, unlabeled]
    l_us = rows[:, seeds]
    n_labels = int(node_labels.max())
    probabilities = np.empty((n_labels, unlabeled.size))
    not_converged = []
    for label in range(1, n_labels + 1):
        rhs = -(l_us @ (node_labels[seeds] == label).astype(np.float64))
        probabilities[label - 1], info = cg(l_uu, rhs, rtol=tol, atol=0.0)
        if info > 0:
            not_converged.append(label)
    if not_converged:
        warnings.warn(
            f"random_walker: conjugate gradient did not reach tol={tol} for label(s) "
            f"{not_converged}; their voxels may be misassigned.",
            UserWarning,
            stacklevel=3,
        )
    return probabilities


# --------------------------------------------------------------------------- regions


def connected_regions(
    maps: np.ndarray,
    affine: np.ndarray,
    min_region_size: float = 1350,
    extract_type: Extractor = "local_regions",
    smoothing_fwhm: float | None = 6.0,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, list[int]] | tuple[None, None]:
    """Split each (thresholded) map into regions and drop the small ones.

    Parameters
    ----------
    maps : ndarray, shape (x, y, z, n_maps) or (x, y, z)
        Thresholded maps (zero = background). Not modified. Non-finite values count as 0
        (the reference keeps NaN voxels as foreground and returns NaN-valued regions; our
        thresholding already zeroes them, so this only matters for direct calls).
    affine : ndarray, shape (4, 4)
        Voxel-to-world affine of the maps (mm); sets the voxel volume and the smoothing.
    min_region_size : float, default=1350
        mm³. A region is kept iff its voxel count is strictly greater than
        ``min_region_size / |det(affine[:3, :3])|``.
    extract_type : {"local_regions", "connected_components"}, default="local_regions"
        ``local_regions``: smooth the map (``smoothing_fwhm``), take its peaks
        (maximum in a 21-voxel box, above 10 % of the highest peak) as seeds, 6-connected peak
        voxels forming one seed; seeds on zero voxels of the map are dropped; the map's
        non-zero voxels are then shared among the seeds by :func:`random_walker` run on the
        unsmoothed map. Blobs without a seed are dropped.
        ``connected_components``: each 6-connected blob of non-zero voxels (either sign) is a
        region.
    smoothing_fwhm : float or None, default=6.0
        mm; ``local_regions`` only. None: peaks of the unsmoothed map.
    mask : ndarray of bool, shape (x, y, z), optional
        Map values outside are set to 0 first. Must be on the maps' grid.

    Returns
    -------
    regions : ndarray, shape (x, y, z, n_regions), or None
        One region per volume, maps' dtype; the map's values inside the region (negative
        values stay negative), 0 elsewhere. Order: maps in order; within a map, by label id,
        i.e. the C-order position of the first voxel of each seed (``local_regions``) or of
        each blob (``connected_components``).
    index : list of int, or None
        0-based source map of each region.
        Both are None, with a ``UserWarning`` "No supra threshold regions was found", when no
        region survives.

    Raises
    ------
    ValueError
        Unknown ``extract_type`` ("'extract_type' must be one of ..."), bad shapes.

    Notes
    -----
    Like the reference, ``local_regions`` stops the random walk's CG solves at a relative
    residual of 1e-3. Where a blob's values jump steeply (relative to the map's std) the
    walk's weights are tiny and some voxels remain undecided: their label can then come from
    another blob's seed, so a region can include voxels not connected to it. This is kept on
    purpose, for parity; ``connected_components`` has no such effect.
    """
    regions, index = split_maps(maps, affine, min_region_size, extract_type, smoothing_fwhm, mask)
    if not index:
        warnings.warn(NO_REGION_MESSAGE, UserWarning, stacklevel=2)
        return None, None
    return regions, index


def split_maps(
    maps: np.ndarray,
    affine: np.ndarray,
    min_region_size: float = 1350,
    extract_type: Extractor = "local_regions",
    smoothing_fwhm: float | None = 6.0,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, list[int]]:
    """:func:`connected_regions` without its warning: ``(regions, index)``; index may be [].

    Parameters and returns as :func:`connected_regions`, except that an empty result is an
    array with no volume and an empty list.
    """
    _check_choice("extract_type", extract_type, tuple(EXTRACTORS))
    maps4d = _as_4d(maps)
    affine = np.asarray(affine, dtype=np.float64)
    mask = _check_mask(mask, maps4d.shape[:3])
    min_vox = min_region_size / voxel_volume(affine)
    kept: list[tuple[int, np.ndarray]] = []
    for k in range(maps4d.shape[3]):
        m = _clean_map(maps4d[..., k], mask)
        labels = EXTRACTORS[extract_type](m, affine, smoothing_fwhm)
        kept.extend((k, region) for region in _large_regions(labels, min_vox))
    regions = np.zeros((*maps4d.shape[:3], len(kept)), dtype=maps4d.dtype, order="F")
    for r, (k, region) in enumerate(kept):
        regions[..., r][region] = maps4d[..., k][region]
    return regions, [k for k, _ in kept]


def _as_4d(maps: np.ndarray) -> np.ndarray:
    maps = np.asarray(maps)
    if maps.ndim == 3:
        return maps[..., np.newaxis]
    if maps.ndim != 4:
        raise ValueError(f"maps must be 3D or 4D (x, y, z, n_maps); got shape {maps.shape}")
    return maps


def _check_mask(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(
            f"mask shape {mask.shape} differs from the maps' grid {shape}; resample it first"
        )
    return mask.astype(bool)


def voxel_volume(affine: np.ndarray) -> float:
    """Volume of one voxel in mm³: ``|det(affine[:3, :3])|``.

    Parameters
    ----------
    affine : ndarray, shape (4, 4)

    Returns
    -------
    float
    """
    return float(abs(np.linalg.det(np.asarray(affine, dtype=np.float64)[:3, :3])))


def _clean_map(m: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Copy of one map with non-finite values and values outside ``mask`` set to 0."""
    # Non-finite values would be foreground (NaN != 0) and poison the walker's weights.
    m = np.where(np.isfinite(m), m, 0).astype(m.dtype, copy=False)
    if mask is not None:
        m[~mask] = 0
    return m


def _connected_component_labels(m: np.ndarray, affine: np.ndarray, fwhm) -> np.ndarray:
    """Each 6-connected blob of non-zero voxels of one map (numbered in C order)."""
    labels, _ = kernels.label(m != 0, connectivity=6)
    return labels


def _local_region_labels(m: np.ndarray, affine: np.ndarray, fwhm) -> np.ndarray:
    """Peaks of the smoothed map as seeds, grown over the map's non-zero voxels."""
    seeds = _peak_seeds(m, affine, fwhm)
    if not (seeds > 0).any():
        return np.zeros(m.shape, dtype=np.int32)
    with warnings.catch_warnings():
        # a map whose blobs are all seeds (or have none) is legitimately left as it is
        warnings.filterwarnings("ignore", "random_walker: no unlabeled", UserWarning)
        labels = random_walker(m, seeds, beta=WALKER_BETA, tol=WALKER_TOL)
    labels[labels < 0] = 0
    return labels


def _peak_seeds(m: np.ndarray, affine: np.ndarray, fwhm) -> np.ndarray:
    """Seed labels: 6-connected clusters of peaks 1..K (C order), -1 where the map is 0."""
    smoothed = m if fwhm is None else kernels.smooth(m, affine, fwhm)
    peaks = kernels.peak_local_max(
        smoothed, min_distance=PEAK_MIN_DISTANCE, threshold_rel=PEAK_THRESHOLD_REL
    )
    seeds, _ = kernels.label(peaks, connectivity=6)
    seeds[m == 0] = -1
    return seeds


def _large_regions(labels: np.ndarray, min_vox: float) -> list[np.ndarray]:
    """Boolean masks of the labels with more than ``min_vox`` voxels, by increasing label."""
    sizes = np.bincount(labels.ravel())
    keep = np.flatnonzero(sizes > min_vox)
    keep = keep[keep > 0]
    return [labels == lab for lab in keep]


#: Region extractors by config name (``regions.extractor``); each labels one map:
#: ``f(map, affine, smoothing_fwhm) -> int labels`` (0 = no region), in the reference's order.
EXTRACTORS: dict[str, Callable[[np.ndarray, np.ndarray, float | None], np.ndarray]] = {
    "local_regions": _local_region_labels,
    "connected_components": _connected_component_labels,
}


# --------------------------------------------------------------------------- table


def region_table(regions: np.ndarray, affine: np.ndarray, index: Sequence[int]) -> np.ndarray:
    """One row per region: ids, size and centre.

    Parameters
    ----------
    regions : ndarray, shape (x, y, z, n_regions)
        Output of :func:`connected_regions`; a region is its non-zero voxels.
    affine : ndarray, shape (4, 4)
    index : sequence of int
        0-based source map of each region.

    Returns
    -------
    ndarray, structured, shape (n_regions,)
        Fields :data:`REGION_COLUMNS`: ``region`` (1-based id = volume index + 1),
        ``component`` (0-based map index), ``n_voxels``, ``volume_mm3`` (``n_voxels`` × voxel
        volume), and ``x, y, z``: the region's centre in world mm, i.e. the centre of mass of
        ``|values|`` over the region's voxels (voxel indices) mapped through ``affine``.
    """
    regions = _as_4d(regions)
    n_regions = regions.shape[3]
    if len(index) != n_regions:
        raise ValueError(f"index has {len(index)} entries for {n_regions} regions")
    table = np.zeros(n_regions, dtype=_table_dtype())
    table["region"] = np.arange(1, n_regions + 1)
    table["component"] = np.asarray(index, dtype=np.int64)
    affine = np.asarray(affine, dtype=np.float64)
    for r in range(n_regions):
        voxels, weights = _region_voxels(regions[..., r])
        table["n_voxels"][r] = len(weights)
        centre = _world_centre(voxels, weights, affine)
        table["x"][r], table["y"][r], table["z"][r] = centre
    table["volume_mm3"] = table["n_voxels"] * voxel_volume(affine)
    return table


def _table_dtype() -> np.dtype:
    ints = [(name, np.int64) for name in REGION_COLUMNS[:3]]
    return np.dtype(ints + [(name, np.float64) for name in REGION_COLUMNS[3:]])


def _region_voxels(volume: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices (n, 3) and ``|values|`` (n,) of the non-zero voxels of one region."""
    voxels = np.argwhere(volume != 0)
    return voxels, np.abs(volume[tuple(voxels.T)]).astype(np.float64)


def _world_centre(voxels: np.ndarray, weights: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """World coordinates (mm) of the ``weights``-weighted centre of the voxel indices."""
    if weights.size == 0:
        return np.full(3, np.nan)
    centre = weights @ voxels / weights.sum()
    return affine[:3, :3] @ centre + affine[:3, 3]


def atlas_labels(regions: np.ndarray) -> np.ndarray:
    """The regions as one label image: each voxel takes the region of largest |value|.

    Parameters
    ----------
    regions : ndarray, shape (x, y, z, n_regions)
        Region maps (0 outside each region); regions of different networks may overlap.

    Returns
    -------
    ndarray of int32, shape (x, y, z)
        0 where no region has a non-zero value, else the 1-based region id (volume index + 1);
        overlaps go to the region with the largest |value| (the first one on ties).
    """
    regions = _as_4d(regions)
    magnitude = np.abs(regions)
    labels = np.argmax(magnitude, axis=3).astype(np.int32) + 1
    labels[~np.any(magnitude > 0, axis=3)] = 0
    return labels


def extract_regions(
    maps: np.ndarray,
    affine: np.ndarray,
    *,
    threshold: float = 0.5,
    thresholding_strategy: ThresholdingStrategy = "ratio_n_voxels",
    extractor: Extractor = "local_regions",
    min_region_size: float = 1350,
    two_sided: bool = False,
    smoothing_fwhm: float | None = 6.0,
) -> tuple[np.ndarray, list[int]]:
    """Threshold network maps and split them into regions (the reference's ``fit``).

    Parameters
    ----------
    maps : ndarray, shape (x, y, z, n_maps)
    affine : ndarray, shape (4, 4)
    threshold, thresholding_strategy, two_sided
        See :func:`threshold_maps`.
    extractor, min_region_size, smoothing_fwhm
        See :func:`connected_regions` (``extract_type``).

    Returns
    -------
    regions : ndarray, shape (x, y, z, n_regions)
    index : list of int
        0-based source map of each region.

    Raises
    ------
    NoRegionError
        No region survived, with the settings and the voxel count a region needs, since an
        empty atlas would only make the later steps fail.
    """
    thresholded = threshold_maps(maps, threshold, thresholding_strategy, two_sided=two_sided)
    regions, index = split_maps(thresholded, affine, min_region_size, extractor, smoothing_fwhm)
    if not index:
        raise NoRegionError(
            f"no region survived: thresholding_strategy={thresholding_strategy!r}, "
            f"threshold={threshold!r}, two_sided={two_sided!r}, extractor={extractor!r}, "
            f"min_region_size={min_region_size!r} mm³ (more than "
            f"{min_region_size / voxel_volume(affine):.4g} voxels needed); lower "
            "regions.threshold or regions.min_region_size"
        )
    log.info(
        "%d regions from %d maps (per map: %s)", len(index), _as_4d(maps).shape[3], _counts(index)
    )
    return regions, index


def _counts(index: Sequence[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for k in index:
        counts[int(k)] = counts.get(int(k), 0) + 1
    return counts
