"""Voxel grids with axis-aligned affines: cuts and projections in world millimetres.

Figures draw every layer with ``imshow``/``contourf`` in world coordinates, so images on
different grids (the data's 4 mm grid, a 1 mm template) line up without resampling. This only
needs, per world axis, which voxel axis runs along it, its signed step and its origin; oblique
affines (rotations, shears) are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DISPLAY_AXES", "Grid"]

#: World axes shown (horizontal, vertical) on a panel cut or projected along world axis 0, 1, 2:
#: sagittal (y, z), coronal (x, z), axial (x, y).
DISPLAY_AXES: dict[int, tuple[int, int]] = {0: (1, 2), 1: (0, 2), 2: (0, 1)}

#: Off-axis affine entries smaller than this fraction of the voxel size count as zero.
_OBLIQUE_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Grid:
    """An axis-aligned voxel grid, described per world axis (x, y, z).

    Attributes
    ----------
    shape : tuple of int
        Spatial shape of the image (first three axes).
    voxel_axis : tuple of int
        ``voxel_axis[w]`` is the voxel axis that runs along world axis ``w``.
    step : ndarray, shape (3,)
        Signed millimetres per voxel index along each world axis.
    origin : ndarray, shape (3,)
        World coordinate of voxel index 0 along each world axis.
    """

    shape: tuple[int, int, int]
    voxel_axis: tuple[int, int, int]
    step: np.ndarray
    origin: np.ndarray

    @classmethod
    def from_affine(cls, affine: np.ndarray, shape: tuple[int, ...], name: str = "image") -> Grid:
        """Describe the grid of an image, refusing oblique affines.

        Parameters
        ----------
        affine : ndarray, shape (4, 4)
            Voxel-to-world (mm) affine.
        shape : tuple of int
            Image shape; only the first three entries are used.
        name : str
            Image name for error messages.

        Returns
        -------
        Grid

        Raises
        ------
        ValueError
            If the affine is not finite, is singular, or is oblique (a voxel axis is not
            parallel to a world axis).
        """
        affine = np.asarray(affine, dtype=np.float64)
        if len(shape) < 3:
            raise ValueError(f"{name}: expected a 3D or 4D image, got shape {tuple(shape)}")
        linear = affine[:3, :3]
        if not np.all(np.isfinite(affine)) or abs(np.linalg.det(linear)) == 0:
            raise ValueError(f"{name}: invalid (non-finite or singular) affine:\n{affine}")
        world_of_voxel = np.argmax(np.abs(linear), axis=0)  # which world axis each column moves
        sizes = np.abs(linear[world_of_voxel, [0, 1, 2]])
        off_axis = np.abs(linear).copy()
        off_axis[world_of_voxel, [0, 1, 2]] = 0
        if sorted(world_of_voxel) != [0, 1, 2] or np.any(
            off_axis > _OBLIQUE_TOLERANCE * sizes[None, :]
        ):
            raise ValueError(
                f"{name}: oblique affine (voxel axes not parallel to world axes) is not "
                f"supported by the figures; resample the image to an axis-aligned grid "
                f"first. Affine:\n{np.array2string(affine, precision=4)}"
            )
        voxel_axis = tuple(int(np.flatnonzero(world_of_voxel == w)[0]) for w in range(3))
        step = np.array([linear[w, voxel_axis[w]] for w in range(3)])
        return cls(tuple(int(n) for n in shape[:3]), voxel_axis, step, affine[:3, 3].copy())

    def size(self, world_axis: int) -> int:
        """Number of voxels along a world axis."""
        return self.shape[self.voxel_axis[world_axis]]

    def index_at(self, world_axis: int, coord: float) -> int | None:
        """Index of the voxel nearest to ``coord`` mm along a world axis, None if outside."""
        position = (coord - self.origin[world_axis]) / self.step[world_axis]
        index = int(np.floor(position + 0.5))
        return index if 0 <= index < self.size(world_axis) else None

    def coord_of(self, world_axis: int, index: float) -> float:
        """World coordinate (mm) of a (possibly fractional) voxel index along a world axis."""
        return float(self.origin[world_axis] + self.step[world_axis] * index)

    def bounds(self, world_axis: int) -> tuple[float, float]:
        """Outer edges (mm) of the grid along a world axis, lowest first."""
        ends = [
            self.coord_of(world_axis, -0.5),
            self.coord_of(world_axis, self.size(world_axis) - 0.5),
        ]
        return min(ends), max(ends)

    def centres(self, world_axis: int) -> np.ndarray:
        """Voxel-centre coordinates (mm) along a world axis, increasing."""
        coords = self.origin[world_axis] + self.step[world_axis] * np.arange(self.size(world_axis))
        return np.sort(coords)

    def extent(self, cut_axis: int) -> tuple[float, float, float, float]:
        """``imshow`` extent (left, right, bottom, top) of a panel cut along ``cut_axis``."""
        horizontal, vertical = DISPLAY_AXES[cut_axis]
        return (*self.bounds(horizontal), *self.bounds(vertical))

    def cut(self, data: np.ndarray, cut_axis: int, coord: float) -> np.ndarray | None:
        """The slice nearest to ``coord`` mm, oriented for display.

        Parameters
        ----------
        data : ndarray, shape (*grid.shape) or (*grid.shape, n)
            Volume(s) on this grid.
        cut_axis : int
            World axis perpendicular to the cut (0 sagittal, 1 coronal, 2 axial).
        coord : float
            World coordinate of the cut, mm.

        Returns
        -------
        ndarray or None
            Shape (n_vertical, n_horizontal[, n]) with world coordinates increasing along both
            display axes (row 0 at the bottom for ``origin="lower"``); None if the cut misses
            the grid.
        """
        index = self.index_at(cut_axis, coord)
        if index is None:
            return None
        plane = np.take(data, index, axis=self.voxel_axis[cut_axis])
        return self._orient(plane, cut_axis)

    def project(self, data: np.ndarray, cut_axis: int) -> np.ndarray:
        """Maximum projection along a world axis, oriented for display like :meth:`cut`."""
        plane = np.max(data, axis=self.voxel_axis[cut_axis])
        return self._orient(plane, cut_axis)

    def _orient(self, plane: np.ndarray, cut_axis: int) -> np.ndarray:
        """Reorder the two remaining voxel axes to (vertical, horizontal) and flip to increase."""
        horizontal, vertical = DISPLAY_AXES[cut_axis]
        remaining = [a for a in range(3) if a != self.voxel_axis[cut_axis]]
        order = [
            remaining.index(self.voxel_axis[vertical]),
            remaining.index(self.voxel_axis[horizontal]),
        ]
        plane = np.moveaxis(plane, order, [0, 1])
        if self.step[vertical] < 0:
            plane = plane[::-1]
        if self.step[horizontal] < 0:
            plane = plane[:, ::-1]
        return plane

    def world(self, voxel: np.ndarray) -> np.ndarray:
        """World coordinates (mm) of voxel indices given in array-axis order, shape (..., 3)."""
        voxel = np.asarray(voxel, dtype=np.float64)
        out = np.empty_like(voxel)
        for w in range(3):
            out[..., w] = self.origin[w] + self.step[w] * voxel[..., self.voxel_axis[w]]
        return out
