"""Connected-component labelling of 3D masks (6-, 18- or 26-connectivity).

Labels are numbered exactly as ``scipy.ndimage.label`` numbers them with
``generate_binary_structure(3, 1 | 2 | 3)``: components in the C raster order (first index
slowest) of their first voxel. Foreground is every non-zero value — NaN included, as scipy
counts it (``NaN != 0``) — and ``-0.0`` is background.

Algorithm: one raster scan over runs of foreground voxels along the last axis, with
union-find over provisional labels (one per run, assigned in raster order). Each run is
joined to the labelled voxels of the already-visited lines that touch it; a union keeps the
smaller root, so every root is the first provisional label of its component. A second pass
numbers the roots in increasing order and counts the voxels of each label. Labelling is
sequential (serial kernel); it is much cheaper than smoothing.
"""

import numpy as np
from numba import njit

__all__ = ["label", "label_with_sizes", "largest_component"]

# Preceding lines (di, dj) whose voxels can touch a run [a, b) of line (i, j), with the
# extension e of the range [a - e, b + e) that holds its neighbours: lines sharing a face with
# (i, j) reach diagonally along k for 18/26, corner lines are neighbours only for 18 (e = 0)
# and 26 (e = 1). Voxels of the same line are joined by the run itself.
_NEIGHBOUR_LINES = {
    6: np.array([(0, -1, 0), (-1, 0, 0)], dtype=np.int64),
    18: np.array([(0, -1, 1), (-1, -1, 0), (-1, 0, 1), (-1, 1, 0)], dtype=np.int64),
    26: np.array([(0, -1, 1), (-1, -1, 1), (-1, 0, 1), (-1, 1, 1)], dtype=np.int64),
}


# --------------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _find_root(parent, a):
    """Root of provisional label ``a``, halving the path on the way (parent[x] <= x always)."""
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


@njit(cache=True, nogil=True)
def _union(parent, root, b):
    """Join root ``root`` with the tree of ``b``; the smaller root wins. Return the new root."""
    other = _find_root(parent, b)
    if other == root:
        return root
    if other < root:
        parent[root] = other
        return other
    parent[other] = root
    return root


@njit(cache=True, nogil=True)
def _join_line(parent, labels, i, j, lo, hi, root):
    """Union the labelled voxels ``labels[i, j, lo:hi]`` with ``root`` (0: nothing joined yet).

    A finished line holds one provisional label per run, so repeats are skipped cheaply.
    Returns the resulting root.
    """
    last = 0
    for k in range(lo, hi):
        neighbour = labels[i, j, k]
        if neighbour == 0 or neighbour == last:
            continue
        last = neighbour
        if root == 0:
            root = _find_root(parent, neighbour)
        elif neighbour != root:
            root = _union(parent, root, neighbour)
    return root


@njit(cache=True, nogil=True)
def _scan(mask, neighbour_lines, labels, parent):
    """First pass over runs of foreground voxels along the last axis.

    Each run [a, b) of line (i, j) is joined with the labelled voxels of the preceding lines
    (i + di, j + dj) in [a - e, b + e) for every row (di, dj, e) of ``neighbour_lines``, then
    gets the resulting root (or a new provisional label) in ``labels``. Returns the number
    of provisional labels + 1 (label 0 is the background).
    """
    nx, ny, nz = mask.shape
    next_label = 1
    for i in range(nx):
        for j in range(ny):
            k = 0
            while k < nz:
                if not mask[i, j, k]:
                    labels[i, j, k] = 0
                    k += 1
                    continue
                start = k
                while k < nz and mask[i, j, k]:
                    k += 1
                root = 0
                for q in range(neighbour_lines.shape[0]):
                    ii = i + neighbour_lines[q, 0]
                    jj = j + neighbour_lines[q, 1]
                    if ii < 0 or jj < 0 or jj >= ny:
                        continue
                    extend = neighbour_lines[q, 2]
                    lo = max(start - extend, 0)
                    hi = min(k + extend, nz)
                    root = _join_line(parent, labels, ii, jj, lo, hi, root)
                if root == 0:
                    root = next_label
                    parent[root] = root
                    next_label += 1
                for kk in range(start, k):
                    labels[i, j, kk] = root
    return next_label


@njit(cache=True, nogil=True)
def _number_roots(parent, n_provisional):
    """Replace ``parent[p]`` by the final label of p; roots numbered in increasing order.

    Valid in one increasing sweep because parent[p] <= p: when p is reached every smaller
    entry already holds its final label. Returns the number of labels.
    """
    n_labels = 0
    for p in range(1, n_provisional):
        q = parent[p]
        if q == p:
            n_labels += 1
            parent[p] = n_labels
        else:
            parent[p] = parent[q]
    return n_labels


@njit(cache=True, nogil=True)
def _label(mask, neighbour_lines, labels, parent, sizes):
    """Label ``mask`` (C-ordered 3D) into ``labels`` (int32, same shape).

    ``parent`` (int32) and ``sizes`` (int64) are scratch arrays of at least
    n_foreground + 1 entries; on return ``sizes[k]`` is the voxel count of label k (k >= 1;
    ``sizes[0]`` counts the background). Returns the number of labels.
    """
    n_provisional = _scan(mask, neighbour_lines, labels, parent)
    n_labels = _number_roots(parent, n_provisional)
    parent[0] = 0  # background maps to itself: the relabelling loop needs no branch
    for k in range(n_labels + 1):
        sizes[k] = 0
    nx, ny, nz = labels.shape
    for i in range(nx):
        for j in range(ny):
            for k in range(nz):
                final = parent[labels[i, j, k]]
                labels[i, j, k] = final
                sizes[final] += 1
    return n_labels


# --------------------------------------------------------------------------------------------
# Wrappers
# --------------------------------------------------------------------------------------------


def _check_connectivity(connectivity: int) -> None:
    """Raise ValueError unless connectivity is 6, 18 or 26."""
    if connectivity not in _NEIGHBOUR_LINES:
        raise ValueError(f"connectivity must be 6, 18 or 26; got {connectivity!r}")


def _foreground(mask: np.ndarray) -> np.ndarray:
    """Return a C-contiguous boolean 3D array of the non-zero voxels of ``mask``."""
    mask = np.asarray(mask)
    if mask.ndim != 3:
        raise ValueError(f"mask must be 3D; got {mask.ndim} dimensions (shape {mask.shape})")
    if mask.dtype == np.bool_:
        return np.ascontiguousarray(mask)
    return np.ascontiguousarray(mask != 0)  # NaN != 0: NaN is foreground, as in scipy


def label_with_sizes(
    mask: np.ndarray, connectivity: int = 26
) -> tuple[np.ndarray, int, np.ndarray]:
    """Label the connected components of a 3D mask and count their voxels.

    Parameters
    ----------
    mask : ndarray of shape (x, y, z)
        Any dtype; non-zero values (NaN included) are foreground.
    connectivity : {6, 18, 26}, default=26
        Neighbourhood: faces (6), faces and edges (18), or faces, edges and corners (26).

    Returns
    -------
    labels : ndarray of shape (x, y, z), int32, C order
        0 for background, 1..n_labels numbered in C raster order of each component's first
        voxel (identical to ``scipy.ndimage.label``).
    n_labels : int
        Number of components.
    sizes : ndarray of shape (n_labels,), int64
        ``sizes[k - 1]`` is the number of voxels with label k.

    Raises
    ------
    ValueError
        If ``mask`` is not 3D or ``connectivity`` is not 6, 18 or 26.
    """
    _check_connectivity(connectivity)
    foreground = _foreground(mask)
    labels = np.empty(foreground.shape, dtype=np.int32)
    # At most one provisional label per run, so per foreground voxel.
    n_foreground = int(np.count_nonzero(foreground))
    parent = np.empty(n_foreground + 1, dtype=np.int32)
    sizes = np.empty(n_foreground + 1, dtype=np.int64)
    lines = _NEIGHBOUR_LINES[connectivity]
    n_labels = _label(foreground, lines, labels, parent, sizes)
    return labels, int(n_labels), sizes[1 : n_labels + 1].copy()


def label(mask: np.ndarray, connectivity: int = 26) -> tuple[np.ndarray, int]:
    """Label the connected components of a 3D mask, like ``scipy.ndimage.label``.

    Parameters
    ----------
    mask : ndarray of shape (x, y, z)
        Any dtype; non-zero values (NaN included) are foreground.
    connectivity : {6, 18, 26}, default=26
        Neighbourhood: faces (6), faces and edges (18), or faces, edges and corners (26);
        scipy's ``generate_binary_structure(3, 1)``, ``(3, 2)`` and ``(3, 3)``.

    Returns
    -------
    labels : ndarray of shape (x, y, z), int32, C order
        0 for background, 1..n_labels numbered in C raster order of each component's first
        voxel.
    n_labels : int
        Number of components.

    Raises
    ------
    ValueError
        If ``mask`` is not 3D or ``connectivity`` is not 6, 18 or 26.
    """
    labels, n_labels, _ = label_with_sizes(mask, connectivity)
    return labels, n_labels


def largest_component(mask: np.ndarray, connectivity: int = 6) -> np.ndarray:
    """Keep only the largest connected component of a 3D mask.

    Parameters
    ----------
    mask : ndarray of shape (x, y, z)
        Any dtype; non-zero values (NaN included) are foreground.
    connectivity : {6, 18, 26}, default=6
        Neighbourhood used to define components (the reference uses 6).

    Returns
    -------
    largest : ndarray of shape (x, y, z), bool
        True on the largest component; ties go to the lowest label (first in raster order).
        All False when the mask is empty.

    Raises
    ------
    ValueError
        If ``mask`` is not 3D or ``connectivity`` is not 6, 18 or 26.
    """
    labels, n_labels, sizes = label_with_sizes(mask, connectivity)
    if n_labels == 0:
        return np.zeros(labels.shape, dtype=bool)
    return labels == np.argmax(sizes) + 1  # argmax: first maximum = lowest label
