"""Reading the figure inputs: maps, backgrounds, the regions table and connectome matrices."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from netregions.io import load_image, read_tsv
from netregions.plotting._grid import Grid

__all__ = [
    "Layer",
    "RegionsTable",
    "load_background",
    "load_layer",
    "read_connectome",
    "read_regions_table",
]

#: Columns of regions.tsv that the figures use.
REGION_COLUMNS = ("region", "component", "x", "y", "z")


@dataclass(frozen=True)
class Layer:
    """An image, its affine and its grid."""

    data: np.ndarray
    affine: np.ndarray
    grid: Grid

    def with_data(self, data: np.ndarray) -> Layer:
        """The same grid with other data."""
        return Layer(data, self.affine, self.grid)


@dataclass(frozen=True)
class RegionsTable:
    """The columns of ``regions.tsv`` used by the figures.

    Attributes
    ----------
    region : ndarray of int
        1-based region ids (= volume index + 1 in regions.nii.gz).
    component : ndarray of int
        0-based index of the network each region comes from.
    centres : ndarray, shape (n_regions, 3)
        Region centres, world mm.
    """

    region: np.ndarray
    component: np.ndarray
    centres: np.ndarray

    def labels(self) -> list[str]:
        """Compact labels "N4·R12" (network 4, region 12), one per row."""
        return [region_label(c, r) for c, r in zip(self.component, self.region, strict=True)]


def region_label(component: int, region: int) -> str:
    """Label of a region naming its network: ``N<component>·R<region>``."""
    return f"N{int(component)}\u00b7R{int(region)}"


def load_layer(image: Path | str | Layer, *, ndim: int) -> Layer:
    """Load an image and describe its grid; a :class:`Layer` passes through.

    A step that draws several figures from one image loads it once and passes the layer.

    Parameters
    ----------
    image : path-like or Layer
    ndim : int
        3 for a volume (a 4D image with one volume is accepted), 4 for a stack of maps (a 3D
        image becomes one map).

    Returns
    -------
    Layer

    Raises
    ------
    ValueError
        Wrong number of dimensions or an oblique/invalid affine.
    """
    if isinstance(image, Layer):
        if image.data.ndim != ndim:
            raise ValueError(f"expected a {ndim}D layer, got shape {image.data.shape}")
        return image
    data, affine = load_image(image)
    if ndim == 3 and data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if ndim == 4 and data.ndim == 3:
        data = data[..., None]
    if data.ndim != ndim:
        raise ValueError(f"{image}: expected a {ndim}D image, got shape {data.shape}")
    return Layer(data, affine, Grid.from_affine(affine, data.shape, str(image)))


def load_background(image: Path | str | Layer | None) -> Layer | None:
    """The figure background as a 3D :class:`Layer`, or None when there is none."""
    return None if image is None else load_layer(image, ndim=3)


def read_regions_table(path: Path | str) -> RegionsTable:
    """Read ``regions.tsv`` (region, component, ..., x, y, z).

    Raises
    ------
    ValueError
        If a needed column is missing.
    """
    header, table = _read_table(path)
    missing = [c for c in REGION_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {header}")
    column = {name: table[:, header.index(name)] for name in REGION_COLUMNS}
    order = np.argsort(column["region"], kind="stable")  # volume order, whatever the row order
    return RegionsTable(
        region=np.rint(column["region"][order]).astype(int),
        component=np.rint(column["component"][order]).astype(int),
        centres=np.column_stack([column[c][order] for c in "xyz"]),
    )


def _read_table(path: Path | str) -> tuple[list[str], np.ndarray]:
    """:func:`read_tsv`, also for a table with a header and no rows (no region extracted)."""
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        empty = not f.read().strip()
    if empty:
        return header, np.empty((0, len(header)))
    return read_tsv(path)


def read_connectome(path: Path | str, table: RegionsTable) -> np.ndarray:
    """Read an R x R connectome TSV and check that its header matches the regions table.

    Raises
    ------
    ValueError
        Non-square matrix or region ids that differ from the table's.
    """
    header, matrix = _read_table(path)
    if matrix.shape[0] != matrix.shape[1] or matrix.shape[0] != len(header):
        raise ValueError(f"{path}: expected a square matrix with one column per region")
    ids = [int(float(h)) for h in header]
    if ids != table.region.tolist():
        raise ValueError(
            f"{path}: region ids {ids[:10]}... differ from the regions table "
            f"{table.region.tolist()[:10]}..."
        )
    return matrix


def check_regions_match(regions: Layer, table: RegionsTable, path: Path | str) -> None:
    """Check that the table has one row per region volume, ids 1..R (sorted on reading)."""
    n_volumes = regions.data.shape[3]
    if table.region.tolist() != list(range(1, n_volumes + 1)):
        raise ValueError(
            f"{path}: the regions table should list regions 1..{n_volumes} in order "
            f"(one per volume of the regions image), got {table.region.tolist()[:10]}..."
        )
