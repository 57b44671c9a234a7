"""Small synthetic figure inputs: the reference renderings and the tests draw these.

Everything is defined analytically in world millimetres, so a background can be made on any
grid (another voxel size, a flipped axis) and still line up with the maps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from netregions.io import save_nifti, write_tsv

__all__ = ["DEFAULT_AFFINE", "DEFAULT_SHAPE", "grid_points", "make_demo_inputs"]

#: The workflow's default grid: 4 mm, 50 x 59 x 50, origin (-96, -132, -78).
DEFAULT_SHAPE = (50, 59, 50)
DEFAULT_AFFINE = np.array(
    [[4.0, 0, 0, -96.0], [0, 4.0, 0, -132.0], [0, 0, 4.0, -78.0], [0, 0, 0, 1.0]]
)
REGION_COLUMNS = ["region", "component", "n_voxels", "volume_mm3", "x", "y", "z"]


def grid_points(shape: tuple[int, int, int], affine: np.ndarray) -> np.ndarray:
    """World coordinates (mm) of every voxel centre, shape (*shape, 3)."""
    index = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1)
    return index @ affine[:3, :3].T + affine[:3, 3]


class _Brain:
    """An ellipsoid "brain" in world mm with a plausible EPI-like intensity."""

    def __init__(self, centre: np.ndarray, radii: np.ndarray) -> None:
        self.centre = centre
        self.radii = radii

    def radius(self, points: np.ndarray) -> np.ndarray:
        """Normalised ellipsoid radius (1 on the surface)."""
        return np.sqrt((((points - self.centre) / self.radii) ** 2).sum(axis=-1))

    def intensity(self, points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Bright cortex rim, darker core, dark ventricles, faint noise outside."""
        r = self.radius(points)
        tissue = 650.0 + 150.0 * np.exp(-(((r - 0.9) / 0.06) ** 2)) + 100.0 * (1 - r**2)
        ventricles = np.zeros(r.shape)
        for side in (-1.0, 1.0):
            offset = self.centre + np.array([side * 0.12, 0.05, 0.1]) * self.radii
            v = np.sqrt((((points - offset) / (self.radii * [0.07, 0.3, 0.12])) ** 2).sum(-1))
            ventricles = np.maximum(ventricles, np.clip(1.2 - v, 0, 1))
        value = np.where(r <= 1.0, tissue - 450.0 * ventricles, 0.0)
        value += rng.normal(0.0, 25.0, size=r.shape) * (r <= 1.0)
        value += np.abs(rng.normal(0.0, 8.0, size=r.shape)) * (r > 1.0)  # noise outside
        return ndimage.gaussian_filter(value, 0.6).astype(np.float32)


def _brain_for(shape: tuple[int, int, int], affine: np.ndarray) -> _Brain:
    corners = grid_points((2, 2, 2), affine @ np.diag([*(np.array(shape) - 1), 1.0]))
    low, high = corners.reshape(-1, 3).min(axis=0), corners.reshape(-1, 3).max(axis=0)
    return _Brain((low + high) / 2, 0.42 * (high - low))


def _gaussian(points: np.ndarray, centre: np.ndarray, width: float) -> np.ndarray:
    return np.exp(-((points - centre) ** 2).sum(-1) / (2 * width**2))


def _network_maps(
    points: np.ndarray, brain: _Brain, n_components: int, voxel_mm: float, rng: np.random.Generator
) -> np.ndarray:
    """Sparse maps: 1-3 bilateral pairs of Gaussian blobs each; some have a negative lobe."""
    maps = np.zeros((*points.shape[:3], n_components), dtype=np.float32)
    inside = brain.radius(points) <= 0.95
    width = max(0.09 * brain.radii.mean(), 1.2 * voxel_mm)
    for k in range(n_components):
        value = np.zeros(points.shape[:3])
        for _ in range(rng.integers(1, 4)):
            centre = brain.centre + brain.radii * rng.uniform([0.15, -0.6, -0.4], [0.5, 0.6, 0.5])
            mirror = centre * [-1, 1, 1] + [2 * brain.centre[0], 0, 0]
            strength = rng.uniform(0.6, 1.0)
            value += strength * _gaussian(points, centre, width * rng.uniform(0.8, 1.2))
            value += strength * rng.uniform(0.6, 1.0) * _gaussian(points, mirror, width)
        if k % 3 == 2:  # an anticorrelated lobe: maps can be negative
            far = brain.centre + brain.radii * rng.uniform([-0.2, -0.6, -0.4], [0.2, 0.6, 0.4])
            value -= 0.5 * _gaussian(points, far, 0.8 * width)
        value[np.abs(value) < 0.12] = 0.0  # sparse, as dictionary-learning maps
        maps[..., k] = rng.uniform(2.0, 6.0) * value * inside
    return maps


def _split_regions(
    maps: np.ndarray, affine: np.ndarray, min_voxels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each map's positive blobs (6-connected, above 30 % of its peak) become regions."""
    volumes, rows = [], []
    voxel_mm3 = abs(np.linalg.det(affine[:3, :3]))
    for k in range(maps.shape[3]):
        positive = maps[..., k] > 0.3 * maps[..., k].max()
        labels, n = ndimage.label(positive)
        for label in range(1, n + 1):
            blob = labels == label
            if blob.sum() < min_voxels:
                continue
            region = np.where(blob, maps[..., k], 0).astype(np.float32)
            centre = affine[:3, :3] @ np.array(ndimage.center_of_mass(blob)) + affine[:3, 3]
            volumes.append(region)
            rows.append([len(rows) + 1, k, blob.sum(), blob.sum() * voxel_mm3, *centre])
    return np.stack(volumes, axis=-1), np.array(rows, dtype=np.float64)


def _correlation(component: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A correlation matrix with stronger within-network links (symmetric positive definite)."""
    n = len(component)
    shared = rng.standard_normal((400, component.max() + 1))
    signals = shared[:, component] + rng.standard_normal((400, n)) * rng.uniform(0.6, 1.6, n)
    signals += 0.4 * rng.standard_normal((400, 1)) * rng.choice([-1, 1], n)
    return np.corrcoef(signals, rowvar=False)


def make_demo_inputs(
    folder: Path | str,
    *,
    shape: tuple[int, int, int] = DEFAULT_SHAPE,
    affine: np.ndarray | None = None,
    n_components: int = 8,
    background_shape: tuple[int, int, int] | None = None,
    background_affine: np.ndarray | None = None,
    seed: int = 0,
) -> dict[str, Path]:
    """Write a synthetic set of figure inputs.

    Parameters
    ----------
    folder : path-like
        Output folder (created).
    shape : tuple of int
        Grid of the maps, mask and connectome regions.
    affine : ndarray, optional
        Their affine; default :data:`DEFAULT_AFFINE` (4 mm).
    n_components : int
        Number of network maps.
    background_shape, background_affine : optional
        Grid of the background image; default: the maps' grid.
    seed : int

    Returns
    -------
    dict
        Paths ``components``, ``regions``, ``regions_table``, ``connectome``, ``mask``,
        ``background``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    affine = DEFAULT_AFFINE.copy() if affine is None else np.asarray(affine, float)
    points = grid_points(shape, affine)
    brain = _brain_for(shape, affine)
    voxel_mm = float(np.abs(np.linalg.det(affine[:3, :3])) ** (1 / 3))
    maps = _network_maps(points, brain, n_components, voxel_mm, rng)
    regions, table = _split_regions(maps, affine, min_voxels=2)
    bg_shape = shape if background_shape is None else background_shape
    bg_affine = affine if background_affine is None else np.asarray(background_affine, float)
    background = brain.intensity(grid_points(bg_shape, bg_affine), rng)
    paths = {
        "components": save_nifti(maps, affine, folder / "components.nii.gz"),
        "regions": save_nifti(regions, affine, folder / "regions.nii.gz"),
        "regions_table": write_tsv(folder / "regions.tsv", table, REGION_COLUMNS),
        "mask": save_nifti(
            (brain.radius(points) <= 1.0).astype(np.uint8), affine, folder / "mask.nii.gz"
        ),
        "background": save_nifti(background, bg_affine, folder / "mean_epi.nii.gz"),
    }
    matrix = _correlation(table[:, 1].astype(int), rng)
    ids = [str(int(r)) for r in table[:, 0]]
    paths["connectome"] = write_tsv(folder / "connectome_correlation_mean.tsv", matrix, ids)
    return paths
