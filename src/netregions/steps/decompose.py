"""Rule ``decompose``: network maps from every included run's reduced data."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from netregions.io import save_array, save_nifti
from netregions.steps._common import read_mask

__all__ = ["decompose", "load_reduced"]


def load_reduced(reduced: Sequence[str], n_voxels: int) -> np.ndarray:
    """Stack the runs' reduced arrays (Fortran order), checking them against the mask."""
    from netregions.decomposition import stack_reduced

    blocks = [np.load(path) for path in reduced]
    for path, block in zip(reduced, blocks, strict=True):
        if block.ndim != 2 or block.shape[1] != n_voxels:
            raise ValueError(f"{path}: shape {block.shape}, the group mask has {n_voxels} voxels")
    return stack_reduced(blocks)


def decompose(
    reduced: Sequence[str],
    mask: str,
    components: str,
    *,
    method: str = "dictlearning",
    n_components: int = 8,
    random_state: int = 0,
    settings: dict | None = None,
    threads: int = 1,
) -> None:
    """Decompose the stacked reductions into network maps (one seed).

    Parameters
    ----------
    reduced : sequence of path-like
        ``reduced.npy`` of each included run, (k, n_voxels), in run order.
    mask : path-like
        Group mask (the voxels and the grid).
    components : path-like
        Output: a ``.nii.gz`` (4D float32, one volume per component) or, for one seed of a
        consensus, a ``.npy`` of the in-mask maps (n_components, n_voxels).
    method : {"dictlearning", "canica"}
    n_components : int
    random_state : int
        Seed of this decomposition (the rule's ``{seed}`` wildcard arrives as a string).
    settings : dict, optional
        The method's other settings (``alpha``, ``batch_size``, ``n_epochs`` or
        ``canica_threshold``, ``canica_n_init``).
    threads : int, default=1
        Threads of the final sparse coding (the maps do not depend on it).
    """
    from netregions.decomposition import decompose as decompose_data
    from netregions.masking import unmask

    mask_data, affine = read_mask(mask)
    data = load_reduced(reduced, int(mask_data.sum()))
    maps = decompose_data(
        data,
        method,
        n_components,
        random_state=int(random_state),
        n_threads=threads,
        **(settings or {}),
    ).astype(np.float32)
    if str(components).endswith(".npy"):
        save_array(maps, components)
    else:
        save_nifti(unmask(maps, mask_data), affine, components)
