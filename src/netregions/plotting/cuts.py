"""Where to cut: the reference's cut-coordinate rules and contour levels (no matplotlib here).

:func:`find_xyz_cut_coords` follows the reference's rule step by step (docs/algorithms.md
§8.1), including its fall-back for an all-zero map: the world position of voxel (0, 0, 0),
not (0, 0, 0) mm.
"""

from __future__ import annotations

import warnings

import numpy as np

from netregions.plotting._grid import Grid

__all__ = [
    "atlas_contour_levels",
    "fast_abs_percentile",
    "find_overview_cut_coords",
    "find_probabilistic_atlas_cut_coords",
    "find_xyz_cut_coords",
    "largest_connected_component",
]

#: Fraction of the top |values| kept by the first threshold of the cut finder.
_FIRST_PERCENTILE = 80.0
#: The second, mean-based threshold is applied only if it keeps more voxels than this.
_MIN_SECOND_MASK_VOXELS = 50
#: Lowest contour level: anything below counts as background.
_MIN_LEVEL = 1e-6


def fast_abs_percentile(values: np.ndarray, percentile: float) -> float:
    """Percentile of |values| as the reference: the ``int(n * p / 100)``-th smallest value.

    Parameters
    ----------
    values : ndarray
        Any shape; flattened.
    percentile : float
        In [0, 100].

    Returns
    -------
    float
    """
    flat = np.abs(np.ravel(values))
    if flat.size == 0:
        raise ValueError("percentile of an empty array")
    index = min(int(flat.size * 0.01 * percentile), flat.size - 1)  # p = 100 would overflow
    # Sparse maps are mostly zeros, which sort first; selecting among the nonzeros only is
    # exact and avoids introselect's slow path on masses of ties.
    nonzero = flat[flat != 0]
    n_zeros = flat.size - nonzero.size
    if index < n_zeros:
        return 0.0
    return float(np.partition(nonzero, index - n_zeros)[index - n_zeros])


def largest_connected_component(mask: np.ndarray) -> np.ndarray:
    """Largest 6-connected component of a boolean volume (lowest label wins ties).

    Parameters
    ----------
    mask : ndarray of bool

    Returns
    -------
    ndarray of bool
        Same shape as ``mask``.

    Raises
    ------
    ValueError
        If ``mask`` has no True voxel.
    """
    from scipy import ndimage  # lazily: slow to import, and the connectome figure never needs it

    labels, n_labels = ndimage.label(mask)
    if n_labels == 0:
        raise ValueError("empty mask: no connected component")
    if n_labels == 1:
        return labels.astype(bool)
    counts = np.bincount(labels.ravel())
    counts[0] = 0  # background
    return labels == int(np.argmax(counts))


def _voxel_to_world(affine: np.ndarray, voxel: np.ndarray) -> tuple[float, float, float]:
    world = np.asarray(affine, dtype=np.float64) @ np.append(np.asarray(voxel, float), 1.0)
    return float(world[0]), float(world[1]), float(world[2])


def find_xyz_cut_coords(map3d: np.ndarray, affine: np.ndarray) -> tuple[float, float, float]:
    """Cut coordinates through the main blob of a map, as the reference finds them.

    Steps: keep |values| above the 80th percentile of the non-zero |values|, keep the largest
    6-connected piece of that mask (cropped to its bounding box), then, if more than 50 voxels
    exceed |mean of the map over that piece|, keep only their largest piece; return the centre
    of mass of |map| over what is kept, in world millimetres.

    Parameters
    ----------
    map3d : ndarray, shape (X, Y, Z) or (X, Y, Z, 1)
        One map.
    affine : ndarray, shape (4, 4)
        Voxel-to-world affine (any affine, oblique included).

    Returns
    -------
    tuple of float
        (x, y, z) in mm. For an all-zero map (with a warning): the world position of voxel
        (0, 0, 0), as the reference. If no voxel passes the first threshold (float32 maps whose
        top values are all equal, see below), the centre of mass of |map|, with a warning.

    Notes
    -----
    As in the reference, thresholds are compared in the map's precision: a float32 map keeps
    only voxels strictly above its 80th percentile, a float64 map also the voxels equal to it.
    """
    from scipy import ndimage

    data = np.asarray(map3d)
    if data.dtype.kind != "f":
        data = data.astype(np.float64)
    # float32 maps stay float32, as in the reference: its means and thresholds are computed in
    # the map's precision, and ties at a threshold (symmetric blobs) depend on it
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise ValueError(f"expected a 3D map, got shape {data.shape}")
    if not np.any(data):
        warnings.warn("the map is all zeros: cutting at voxel (0, 0, 0)", stacklevel=2)
        return _voxel_to_world(affine, np.zeros(3))
    threshold = fast_abs_percentile(data[data != 0], _FIRST_PERCENTILE)
    # The reference subtracts 2 float64 eps, then compares in the map's precision: for float32
    # maps the margin rounds away and voxels equal to the percentile are left out.
    cut = np.asarray(threshold - 2 * float(np.finfo(np.float64).eps), dtype=data.dtype)
    mask = np.abs(data) > cut
    if not mask.any():  # e.g. a float32 map whose top 20 % all share one value
        warnings.warn("no voxel above the cut threshold: using the centre of mass", stacklevel=2)
        return _voxel_to_world(affine, np.array(ndimage.center_of_mass(np.abs(data))))
    mask = largest_connected_component(mask)
    box = ndimage.find_objects(mask.astype(np.int8))[0]
    offset = np.array([s.start for s in box], dtype=np.float64)
    cropped = data[box] * mask[box]
    second_threshold = abs(float(np.mean(cropped[mask[box]])))
    second_mask = np.abs(cropped) > second_threshold
    if second_mask.sum() > _MIN_SECOND_MASK_VOXELS:
        cropped = cropped * largest_connected_component(second_mask)
    centre = np.array(ndimage.center_of_mass(np.abs(cropped)))
    return _voxel_to_world(affine, centre + offset)


def find_probabilistic_atlas_cut_coords(maps4d: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """:func:`find_xyz_cut_coords` of every map of a 4D image.

    Parameters
    ----------
    maps4d : ndarray, shape (X, Y, Z, n_maps)
    affine : ndarray, shape (4, 4)

    Returns
    -------
    ndarray, shape (n_maps, 3)
        World coordinates (mm), one row per map.
    """
    maps4d = np.asarray(maps4d)
    if maps4d.ndim != 4:
        raise ValueError(f"expected a 4D image (one map per volume), got shape {maps4d.shape}")
    coords = [find_xyz_cut_coords(maps4d[..., i], affine) for i in range(maps4d.shape[3])]
    return np.array(coords, dtype=np.float64).reshape(-1, 3)


def atlas_contour_levels(maps4d: np.ndarray, correction_factor: float = 0.8) -> np.ndarray:
    """Filled-contour level of each map, as the reference's "auto" threshold.

    The level is the ``100 * (1 - 0.2 * correction_factor / n_maps)`` percentile (98 % for 8
    maps) of |map| over the whole volume (zeros included) plus 1e-5, and at least 1e-6; for
    sparse maps it is ~1e-5, so the filled contour is the map's support.

    Parameters
    ----------
    maps4d : ndarray, shape (X, Y, Z, n_maps)
    correction_factor : float
        0.8 for filled contours (the reference's value; 1.0 for line contours).

    Returns
    -------
    ndarray, shape (n_maps,)
    """
    n_maps = maps4d.shape[3]
    # the reference passes the percentile through "f'{p:f}%'", i.e. rounds it to 6 decimals
    percentile = float(f"{100.0 * (1.0 - 0.2 * correction_factor / n_maps):f}")
    levels = [fast_abs_percentile(maps4d[..., i], percentile) + 1e-5 for i in range(n_maps)]
    return np.maximum(np.array(levels), _MIN_LEVEL)


def find_overview_cut_coords(
    maps4d: np.ndarray, affine: np.ndarray, levels: np.ndarray
) -> tuple[float, float, float]:
    """Cuts that show as many maps as possible, each near its widest section.

    For each world axis, every slice scores the sum over maps of (map area in the slice above
    its level) / (the map's largest area in any slice along that axis), so a slice through the
    widest section of every map would score ``n_maps``. The best slice wins; ties go to the
    slice nearest the grid centre. Used for the all-maps figures, where the reference instead
    cuts through the template's centre of mass, which can miss most networks.

    Parameters
    ----------
    maps4d : ndarray, shape (X, Y, Z, n_maps)
    affine : ndarray, shape (4, 4)
        Axis-aligned affine.
    levels : ndarray, shape (n_maps,)
        Per-map level (see :func:`atlas_contour_levels`).

    Returns
    -------
    tuple of float
        (x, y, z) in mm, at voxel centres.
    """
    grid = Grid.from_affine(affine, maps4d.shape, "maps")
    support = maps4d >= np.asarray(levels)[None, None, None, :]
    coords = []
    for w in range(3):
        axis = grid.voxel_axis[w]
        others = tuple(a for a in range(3) if a != axis)
        areas = support.sum(axis=others, dtype=np.float64)  # (n_slices, n_maps)
        widest = areas.max(axis=0)
        score = (areas[:, widest > 0] / widest[widest > 0]).sum(axis=1)
        centre = (len(score) - 1) / 2.0
        # lexicographic: best score first, then distance to the centre
        best = min(range(len(score)), key=lambda i: (-round(score[i], 9), abs(i - centre)))
        coords.append(grid.coord_of(w, best))
    return coords[0], coords[1], coords[2]
