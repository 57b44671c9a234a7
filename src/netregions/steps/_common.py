"""Small file helpers shared by the steps (not part of the public API)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from netregions.exceptions import InputDataError


def read_mask(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """A 3D mask image as (bool array, affine)."""
    import nibabel as nib

    img = nib.load(path)
    mask = np.asanyarray(img.dataobj).astype(bool)
    if mask.ndim != 3:
        raise InputDataError(f"{path}: expected a 3D mask, got shape {mask.shape}")
    return mask, np.asarray(img.affine)


def read_json(path: str | Path) -> dict[str, Any]:
    """A JSON file as a dict."""
    with open(path) as f:
        return json.load(f)


def check_grid(shape: Sequence[int], mask: np.ndarray, what: str, run: str | None) -> None:
    """Raise when an image's grid differs from the group mask's."""
    if tuple(shape[:3]) != mask.shape:
        where = f"{run}: " if run else ""
        raise InputDataError(
            f"{where}{what} grid {tuple(shape[:3])} differs from the group mask {mask.shape}"
        )


def by_run(values: Sequence[Any], runs: Sequence[str], what: str) -> dict[str, Any]:
    """Pair a rule's list of per-run files with its list of run names (same order)."""
    if len(values) != len(runs):
        raise ValueError(f"{len(values)} {what} for {len(runs)} runs: a wiring error")
    return dict(zip(runs, values, strict=True))


def json_safe(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Convert numpy scalars and arrays to plain Python values, NaN to None."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple | np.ndarray):
            return [plain(v) for v in value]
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not np.isfinite(value):
            return None
        return value

    return plain(dict(payload))


def dummy_volumes_of(confounds: str | None, n_volumes: int, run: str) -> np.ndarray:
    """Non-steady-state volumes flagged in a run's confounds file (none without a file)."""
    if not confounds:
        return np.zeros(n_volumes, dtype=bool)
    from netregions.confounds import dummy_volumes, read_confounds_table

    return dummy_volumes(read_confounds_table(confounds, n_volumes, run))
