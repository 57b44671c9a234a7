"""Rule ``extract_regions``: regions of the network maps, as 4D maps, a table and an atlas."""

from __future__ import annotations

import numpy as np

import netregions
from netregions.bids import REGION_MAPS_PATH, bids_uri, write_json
from netregions.io import atomic_path, load_image, save_array, save_nifti, write_table
from netregions.steps._common import check_grid, read_mask

__all__ = ["ATLAS_COLUMNS", "atlas_sidecar", "extract_regions", "region_name"]

#: Columns of the atlas table, in order: BIDS's ``index`` and ``name``, then ours, described
#: in the atlas' sidecar.
ATLAS_COLUMNS: tuple[str, ...] = ("index", "name", "component", "n_voxels", "x", "y", "z")

_CENTRE = (
    "World coordinate (mm, the image's affine) of the region's centre: the centre of mass of "
    "the absolute values of its whole map in group/regions.nii.gz, as in group/regions.tsv"
)
_COLUMN_DESCRIPTIONS = {
    "component": {
        "Description": "The network the region comes from: 0-based volume of "
        "group/components.nii.gz, as in group/regions.tsv and the dual-regression columns "
        "network_<k>"
    },
    "n_voxels": {
        "Description": "Voxels with this label in the dseg image; fewer than the region's map "
        "has (regions.tsv) where an overlapping stronger region took voxels"
    },
    **{axis: {"Description": f"{axis}: {_CENTRE}", "Units": "mm"} for axis in "xyz"},
}

#: Spaces of fMRIPrep outputs that are not templates (each run's or participant's own).
_NATIVE_SPACES = frozenset({"T1w", "T2w", "anat", "func", "boldref", "run", "sbref", "orig"})


def atlas_sidecar(columns, space: str | None) -> dict:
    """Sidecar of the atlas (``atlas-netregions_dseg.json``), for its image and its table.

    Parameters
    ----------
    columns : sequence of str
        The atlas table's columns; each beyond ``index`` and ``name`` is described.
    space : str or None
        The runs' template space (:func:`netregions.inputs.data_space`), e.g.
        ``"MNI152NLin2009cAsym"`` or ``"MNIPediatricAsym:cohort-2"``; ``None`` when unknown
        (synthetic data).

    Returns
    -------
    dict
        ``Description``, ``SpatialReference`` (TemplateFlow's repository of the template;
        left out when the space is unknown or not a template), ``Sources``, the columns'
        descriptions, ``Software``, ``SoftwareVersion``.
    """
    description = (
        "netregions' regions as a label atlas: label i (the table's index, 1-based) is region "
        "i of group/regions.nii.gz, the node i of every time series and connectome (NodeNames); "
        "0 is background. Where regions overlap, a voxel takes the label of the region whose "
        "map is largest in absolute value. "
    )
    payload: dict = {}
    template, _, modifier = (space or "").partition(":")
    if not space:
        description += (
            "The runs' space is not known (synthetic data, or local files without a space "
            "entity): the voxel grid is in no template space that netregions can name."
        )
    elif template in _NATIVE_SPACES:
        description += f"Voxel grid of the input runs, in their space-{template}: no template."
    else:
        cohort = f" ({modifier})" if modifier else ""
        description += f"Voxel grid of the input runs, in template space {template}{cohort}."
        payload["SpatialReference"] = f"https://github.com/templateflow/tpl-{template}"
    payload = {"Description": description, **payload, "Sources": [bids_uri(REGION_MAPS_PATH)]}
    payload.update({column: _COLUMN_DESCRIPTIONS[column] for column in columns[2:]})
    payload.update(Software="netregions", SoftwareVersion=netregions.__version__)
    return payload


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
    atlas_json: str,
    region_maps: str,
    *,
    space: str | None = None,
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
    atlas, atlas_table, atlas_json : path-like
        Outputs: the regions as a 3D integer label image (0 = background; where regions
        overlap, the one with the largest |value|), its table (:data:`ATLAS_COLUMNS`:
        ``index``, ``name``, ``component``, ``n_voxels`` in the label image, ``x``, ``y``,
        ``z``) and its sidecar (:func:`atlas_sidecar`), as a BIDS ``dseg`` atlas other tools
        can use.
    region_maps : path-like
        Output ``.npy``: the region maps inside the group mask, (n_voxels, n_regions) float32,
        what every run's time-series job needs (so that they do not decode NIfTI images).
    space : str or None, default=None
        The runs' template space, for the atlas' sidecar.
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
    write_table(atlas_table, _atlas_rows(info, labels), list(ATLAS_COLUMNS))
    write_json(atlas_json, atlas_sidecar(ATLAS_COLUMNS, space))
    save_array(np.ascontiguousarray(found[mask_data], dtype=np.float32), region_maps)
