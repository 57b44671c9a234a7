"""Rule ``extract_regions``: regions of the network maps, as 4D maps, a table and an atlas."""

from __future__ import annotations

import numpy as np

from netregions.io import atomic_path, load_image, save_array, save_nifti, write_table
from netregions.steps._common import check_grid, read_mask

__all__ = ["extract_regions", "region_name"]


def region_name(component: int, region: int) -> str:
    """Label of a region in the atlas table: ``network-03_region-12``."""
    return f"network-{component:02d}_region-{region:02d}"


def _write_region_table(path: str, table: np.ndarray) -> None:
    """regions.tsv: ids and counts as integers, volume with 9 digits, centres in mm (2 dp)."""
    from netregions.regions import REGION_COLUMNS

    lines = ["\t".join(REGION_COLUMNS)]
    for row in table:
        ids = [str(int(row[name])) for name in REGION_COLUMNS[:3]]
        volume = f"{row['volume_mm3']:.9g}"
        # + 0.0 turns -0.0 into 0.0 so that "-0.00" never appears
        centre = [f"{round(float(row[c]), 2) + 0.0:.2f}" for c in "xyz"]
        lines.append("\t".join([*ids, volume, *centre]))
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def _atlas_rows(table: np.ndarray, labels: np.ndarray) -> list[dict]:
    """One row per region of the label image (overlaps lost to a stronger region shrink it)."""
    counts = np.bincount(labels.ravel(), minlength=len(table) + 1)
    return [
        {
            "index": int(row["region"]),
            "name": region_name(int(row["component"]), int(row["region"])),
            "component": int(row["component"]),
            "n_voxels": int(counts[int(row["region"])]),
            # + 0.0 turns -0.0 into 0.0
            **{c: round(float(row[c]), 2) + 0.0 for c in "xyz"},
        }
        for row in table
    ]


def extract_regions(
    components: str,
    mask: str,
    regions: str,
    table: str,
    atlas: str,
    atlas_table: str,
    region_maps: str,
    **settings,
) -> None:
    """Threshold the network maps, split them into regions, write every form of the regions.

    Parameters
    ----------
    components : path-like
        4D NIfTI of the network maps.
    mask : path-like
        Group mask: the voxels of ``region_maps``.
    regions : path-like
        Output 4D NIfTI (float32), one region per volume, thresholded values kept.
    table : path-like
        Output TSV with the columns :data:`netregions.regions.REGION_COLUMNS`.
    atlas, atlas_table : path-like
        Outputs: the regions as a 3D integer label image (0 = background; where regions
        overlap, the one with the largest |value|) and its table (``index``, ``name``,
        ``component``, ``n_voxels`` in the label image, ``x``, ``y``, ``z``), as a BIDS
        ``dseg`` atlas other tools can use.
    region_maps : path-like
        Output ``.npy``: the region maps inside the group mask, (n_voxels, n_regions) float32,
        what every run's time-series job needs (so that they do not decode NIfTI images).
    **settings
        ``threshold``, ``thresholding_strategy``, ``extractor``, ``min_region_size``,
        ``two_sided``, ``smoothing_fwhm``: see :func:`netregions.regions.extract_regions`.
    """
    from netregions.regions import atlas_labels, region_table
    from netregions.regions import extract_regions as split

    maps, affine = load_image(components)
    mask_data, _ = read_mask(mask)
    check_grid(maps.shape, mask_data, "network maps", None)
    found, index = split(maps, affine, **settings)
    info = region_table(found, affine, index)
    labels = atlas_labels(found)
    save_nifti(found, affine, regions, dtype=np.float32)
    _write_region_table(table, info)
    save_nifti(labels.astype(np.int16 if len(index) < 32768 else np.int32), affine, atlas)
    columns = ["index", "name", "component", "n_voxels", "x", "y", "z"]
    write_table(atlas_table, _atlas_rows(info, labels), columns)
    save_array(np.ascontiguousarray(found[mask_data], dtype=np.float32), region_maps)
