"""Rule ``consensus``: the stable networks of repeated decompositions (ICASSO-style)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from netregions.io import save_nifti, write_table
from netregions.steps._common import read_mask

__all__ = ["consensus"]

log = logging.getLogger("netregions")

#: Sign convention of each method's maps, applied to the consensus maps too.
SIGN_OF_METHOD = {"dictlearning": "mostly_positive", "canica": "positive_peak"}


def _seed_maps(path: str, n_voxels: int) -> np.ndarray:
    """One seed's in-mask maps, memory-mapped, checked against the group mask."""
    maps = np.load(path, mmap_mode="r")
    if maps.ndim != 2 or maps.shape[1] != n_voxels:
        raise ValueError(
            f"{path}: maps of shape {maps.shape}, the group mask has {n_voxels} voxels"
        )
    return maps


def consensus(
    seeds: Sequence[str],
    mask: str,
    components: str,
    stability: str,
    *,
    method: str = "dictlearning",
    n_components: int = 8,
) -> None:
    """Cluster the maps of every seed; write the centrotypes and their stability index.

    Parameters
    ----------
    seeds : sequence of path-like
        In-mask maps ``(n_components, n_voxels)`` of each seed's decomposition (``.npy``).
    mask : path-like
        Group mask.
    components : path-like
        Output: 4D float32 NIfTI of the consensus maps (each cluster's centrotype), most
        stable first.
    stability : path-like
        Output TSV: ``component`` (0-based volume of ``components``), ``stability`` (in
        [0, 1]: ``quality_index`` times ``coverage``), ``quality_index`` (ICASSO's Iq clipped
        to [0, 1]), ``coverage`` (fraction of the seeds with a member in the cluster),
        ``size`` (members of the cluster), ``n_runs`` (seeds).
    method : {"dictlearning", "canica"}
        Sets the sign convention of the maps.
    n_components : int
        Clusters kept.
    """
    from netregions.masking import unmask
    from netregions.stability import consensus as cluster

    mask_data, affine = read_mask(mask)
    # mapped, not read: the pool that clustering stacks is then the only copy in memory
    runs = [_seed_maps(path, int(mask_data.sum())) for path in seeds]
    # the clustering's messages number the decompositions ("run i") in this order
    log.info("decomposition runs: %s", ", ".join(f"{i} = {p}" for i, p in enumerate(seeds)))
    result = cluster(runs, n_clusters=n_components, sign=SIGN_OF_METHOD[method])
    log.info(
        "the %d most stable of %d clusters of %d estimates from %d seeds; stability %s",
        len(result.stability),
        result.n_cut,
        sum(r.shape[0] for r in runs),
        len(runs),
        np.round(result.stability, 3).tolist(),
    )
    save_nifti(unmask(result.maps.astype(np.float32), mask_data), affine, components)
    rows = [
        {
            "component": k,
            "stability": result.stability[k],
            "quality_index": result.quality[k],
            "coverage": result.coverage[k],
            "size": int(result.sizes[k]),
            "n_runs": len(runs),
        }
        for k in range(len(result.stability))
    ]
    columns = ["component", "stability", "quality_index", "coverage", "size", "n_runs"]
    write_table(stability, rows, columns)
