import json

import nibabel as nib
import numpy as np
import pytest

import netregions
from netregions.exceptions import InputDataError
from netregions.io import read_table, save_nifti
from netregions.regions import NoRegionError
from netregions.steps.extract_regions import extract_regions

# 4 mm voxels; the x offset puts the first region's centre at -0.004 mm, the y offset gives
# centres with 3 decimals (-126.456 mm) that the tables round to 2
AFFINE = np.array([[4.0, 0, 0, -6.004], [0, 4.0, 0, -132.456], [0, 0, 4.0, -78.0], [0, 0, 0, 1.0]])
SHAPE = (10, 10, 10)
SETTINGS = {
    "threshold": 0.1,
    "thresholding_strategy": "img_value",
    "extractor": "connected_components",
    "min_region_size": 100.0,  # mm³: more than 1.56 voxels of 64 mm³
}


def _box(lower, upper):
    out = np.zeros(SHAPE, bool)
    out[tuple(slice(a, b) for a, b in zip(lower, upper, strict=True))] = True
    return out


A, B, C = _box((1, 1, 1), (3, 3, 3)), _box((6, 6, 6), (9, 9, 8)), _box((2, 1, 1), (5, 3, 3))


def _maps():
    """Map 0: boxes A (1.0) and B (0.8); map 1: box C (0.6, overlapping A) and one voxel."""
    maps = np.zeros((*SHAPE, 2), np.float32)
    maps[A, 0], maps[B, 0] = 1.0, 0.8
    maps[C, 1] = 0.6
    maps[8, 1, 8, 1] = 0.7  # a single voxel: smaller than min_region_size, dropped
    return maps


def _expected_regions():
    regions = np.zeros((*SHAPE, 3), np.float32)
    regions[A, 0], regions[B, 1], regions[C, 2] = 1.0, 0.8, 0.6
    return regions


def _mask():
    mask = np.ones(SHAPE, bool)
    mask[:2] = False  # half of region 1 lies outside the group mask
    mask[:, :, 9] = False
    return mask


def _inputs(tmp_path, mask=None):
    components = save_nifti(_maps(), AFFINE, tmp_path / "components.nii.gz")
    mask = _mask() if mask is None else mask
    return components, save_nifti(mask.astype(np.uint8), AFFINE, tmp_path / "mask.nii.gz")


def _outputs(tmp_path):
    out = tmp_path / "out"
    return {
        "regions": out / "regions.nii.gz",
        "table": out / "regions.tsv",
        "atlas": out / "atlas-netregions_dseg.nii.gz",
        "atlas_table": out / "atlas-netregions_dseg.tsv",
        "atlas_json": out / "atlas-netregions_dseg.json",
        "region_maps": out / "region_maps.npy",
    }


def test_regions_image_and_the_maps_inside_the_mask(tmp_path):
    components, mask = _inputs(tmp_path)
    outputs = _outputs(tmp_path)
    extract_regions(components, mask, **outputs, **SETTINGS)
    img = nib.load(outputs["regions"])
    assert img.get_data_dtype() == np.float32
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), _expected_regions())
    np.testing.assert_allclose(img.affine, AFFINE, atol=1e-5)  # float32 header
    region_maps = np.load(outputs["region_maps"])
    assert region_maps.dtype == np.float32 and region_maps.shape == (_mask().sum(), 3)
    np.testing.assert_array_equal(region_maps, _expected_regions()[_mask()])
    assert region_maps[:, 0].sum() == 4.0  # 4 of region 1's 8 voxels are in the mask


def test_region_table_has_integer_ids_and_two_decimal_centres(tmp_path):
    components, mask = _inputs(tmp_path)
    outputs = _outputs(tmp_path)
    extract_regions(components, mask, **outputs, **SETTINGS)
    lines = outputs["table"].read_text().splitlines()
    assert lines[0].split("\t") == ["region", "component", "n_voxels", "volume_mm3", "x", "y", "z"]
    # centres: voxel (1.5, 1.5, 1.5), (7, 7, 6.5) and (3, 1.5, 1.5) through AFFINE
    assert lines[1].split("\t") == ["1", "0", "8", "512", "0.00", "-126.46", "-72.00"]
    assert lines[2].split("\t") == ["2", "0", "18", "1152", "22.00", "-104.46", "-52.00"]
    assert lines[3].split("\t") == ["3", "1", "12", "768", "6.00", "-126.46", "-72.00"]
    assert len(lines) == 4


def test_atlas_is_an_integer_label_image_where_the_strongest_region_wins(tmp_path):
    components, mask = _inputs(tmp_path)
    outputs = _outputs(tmp_path)
    extract_regions(components, mask, **outputs, **SETTINGS)
    img = nib.load(outputs["atlas"])
    assert np.issubdtype(img.get_data_dtype(), np.integer)
    labels = np.asanyarray(img.dataobj)
    expected = np.zeros(SHAPE, np.int64)
    expected[C], expected[A], expected[B] = 3, 1, 2  # A (1.0) beats C (0.6) where they overlap
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_allclose(img.affine, AFFINE, atol=1e-5)  # float32 header
    rows = read_table(outputs["atlas_table"])
    assert list(rows[0]) == ["index", "name", "component", "n_voxels", "x", "y", "z"]
    assert [r["index"] for r in rows] == ["1", "2", "3"]
    assert [r["name"] for r in rows] == [
        "network-00_region-01",
        "network-00_region-02",
        "network-01_region-03",
    ]
    assert [r["component"] for r in rows] == ["0", "0", "1"]
    assert [r["n_voxels"] for r in rows] == ["8", "18", "8"]  # region 3 lost 4 voxels to 1
    # centres of the whole regions (as regions.tsv), 2 decimals
    centres = [[float(r[c]) for c in "xyz"] for r in rows]
    np.testing.assert_array_equal(
        centres, [[0.0, -126.46, -72.0], [22.0, -104.46, -52.0], [6.0, -126.46, -72.0]]
    )


#: What each extra column's description must say.
COLUMN_FACTS = {
    "component": "0-based",
    "n_voxels": "dseg",
    "x": "centre",
    "y": "centre",
    "z": "centre",
}
#: What the atlas' description must say, whatever the space.
LABEL_FACTS = ("index, 1-based", "0 is background", "largest in absolute value")


def _check_atlas_description(sidecar, space_text):
    description = sidecar["Description"]
    assert description.endswith(space_text)
    assert all(fact in description for fact in LABEL_FACTS)
    for column, fact in COLUMN_FACTS.items():
        assert fact in sidecar[column]["Description"], column
    assert all(sidecar[axis]["Units"] == "mm" for axis in "xyz")


def test_atlas_sidecar_names_the_template_and_describes_the_extra_columns(tmp_path):
    components, mask = _inputs(tmp_path)
    outputs = _outputs(tmp_path)
    extract_regions(components, mask, **outputs, space="MNI152NLin2009cAsym", **SETTINGS)
    sidecar = json.loads(outputs["atlas_json"].read_text())
    _check_atlas_description(
        sidecar, "Voxel grid of the input runs, in template space MNI152NLin2009cAsym."
    )
    assert {key: sidecar[key] for key in ("SpatialReference", "Sources", "Software")} == {
        "SpatialReference": "https://github.com/templateflow/tpl-MNI152NLin2009cAsym",
        "Sources": ["bids::group/regions.nii.gz"],
        "Software": "netregions",
    }
    assert sidecar["SoftwareVersion"] == netregions.__version__
    # one description for each column of the table beyond BIDS's index and name
    header = outputs["atlas_table"].read_text().splitlines()[0].split("\t")
    assert header[:2] == ["index", "name"] and set(header[2:]) == set(COLUMN_FACTS)


@pytest.mark.parametrize(
    "space,text,reference",
    [
        (
            None,
            "The runs' space is not known (synthetic data, or local files without a space "
            "entity): the voxel grid is in no template space that netregions can name.",
            None,
        ),
        (
            "MNIPediatricAsym:cohort-2",
            "Voxel grid of the input runs, in template space MNIPediatricAsym (cohort-2).",
            "https://github.com/templateflow/tpl-MNIPediatricAsym",
        ),
        ("T1w", "Voxel grid of the input runs, in their space-T1w: no template.", None),
    ],
)
def test_atlas_sidecar_without_a_known_template(tmp_path, space, text, reference):
    components, mask = _inputs(tmp_path)
    outputs = _outputs(tmp_path)
    extract_regions(components, mask, **outputs, space=space, **SETTINGS)
    sidecar = json.loads(outputs["atlas_json"].read_text())
    _check_atlas_description(sidecar, text)
    assert sidecar.get("SpatialReference") == reference
    assert list(sidecar)[-7:] == ["component", "n_voxels", "x", "y", "z", "Software",
                                  "SoftwareVersion"]  # fmt: skip


def test_atlas_table_never_writes_negative_zero(tmp_path):
    """regions.tsv writes "0.00" for a centre of -0.004 mm; the atlas table must not write -0."""
    components, mask = _inputs(tmp_path)
    outputs = _outputs(tmp_path)
    extract_regions(components, mask, **outputs, **SETTINGS)
    assert read_table(outputs["atlas_table"])[0]["x"] == "0"


def test_nothing_is_left_when_no_region_survives(tmp_path):
    components, mask = _inputs(tmp_path)
    outputs = _outputs(tmp_path)
    settings = {**SETTINGS, "min_region_size": 1e6}
    with pytest.raises(NoRegionError, match=r"no region survived: .*min_region_size=1000000.0"):
        extract_regions(components, mask, **outputs, **settings)
    out = tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == []


def test_mask_on_another_grid_is_an_error_and_nothing_is_written(tmp_path):
    components, mask = _inputs(tmp_path, mask=np.ones((10, 10, 9), bool))
    outputs = _outputs(tmp_path)
    with pytest.raises(InputDataError, match=r"network maps grid \(10, 10, 10\) differs from"):
        extract_regions(components, mask, **outputs, **SETTINGS)
    out = tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == []
