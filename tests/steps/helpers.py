"""Small synthetic inputs shared by the step tests: runs, confounds tables, references."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import ndimage

from netregions.io import save_nifti

AFFINE = np.diag([4.0, 4.0, 4.0, 1.0])

#: fMRIPrep's six motion parameters.
MOTION = ("trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z")


def ellipsoid(shape=(12, 14, 12)) -> np.ndarray:
    """A head-like ellipsoid filling about a fifth of the grid."""
    grid = np.indices(shape)
    centre = (np.array(shape) - 1) / 2
    radii = np.array(shape) * np.array([0.42, 0.4, 0.3])
    r2 = sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii, strict=True))
    return r2 < 1


def head_run(rng, shape=(12, 14, 12), n_volumes=40) -> tuple[np.ndarray, np.ndarray]:
    """A float32 run: ~1000 inside an ellipsoid (voxel-wise noise levels), ~0 outside."""
    inside = ellipsoid(shape)
    data = np.zeros((*shape, n_volumes), np.float32)
    sd = rng.uniform(2.0, 20.0, int(inside.sum()))[:, None]
    data[inside] = 1000 + sd * rng.standard_normal((int(inside.sum()), n_volumes))
    data[~inside] = rng.normal(0, 1, (int((~inside).sum()), n_volumes))
    return data, inside


def write_run(path: Path, data: np.ndarray, t_r: float | None = 2.0, affine=AFFINE) -> Path:
    return save_nifti(data, affine, path, t_r=t_r)


def smooth_reference(data: np.ndarray, affine: np.ndarray, fwhm: float) -> np.ndarray:
    """scipy's gaussian_filter1d along the three spatial axes (float32, as the reference)."""
    out = np.array(data, dtype=np.float32, order="C")
    voxel = np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(axis=0))
    for axis, size in enumerate(voxel):
        ndimage.gaussian_filter1d(
            out, fwhm / (np.sqrt(8 * np.log(2)) * size), axis=axis, output=out
        )
    return out


def detrend_reference(x: np.ndarray) -> np.ndarray:
    """Remove each column's mean and least-squares line (float64)."""
    t = np.arange(x.shape[0], dtype=np.float64)
    design = np.column_stack([np.ones_like(t), t])
    x = np.asarray(x, dtype=np.float64)
    return x - design @ np.linalg.lstsq(design, x, rcond=None)[0]


def zscore(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)


def _cell(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.10g}"


def write_confounds(
    path: Path, columns: dict[str, np.ndarray], metadata: dict | None = None
) -> Path:
    """A confounds TSV (fMRIPrep layout: header line, one row per volume, n/a for NaN), and
    its JSON sidecar (same name, ``.json``) when ``metadata`` is given."""
    names = list(columns)
    n = len(next(iter(columns.values())))
    lines = ["\t".join(names)]
    lines += ["\t".join(_cell(float(columns[c][i])) for c in names) for i in range(n)]
    Path(path).write_text("\n".join(lines) + "\n")
    if metadata is not None:
        Path(path).with_suffix(".json").write_text(json.dumps(metadata))
    return Path(path)


def acompcor_metadata(n_components: int) -> dict:
    """The sidecar entries of ``n_components`` aCompCor components of the combined mask."""
    return {
        f"a_comp_cor_{k:02d}": {"Method": "aCompCor", "Mask": "combined", "Retained": True}
        for k in range(n_components)
    }


def _derivative(values: np.ndarray) -> np.ndarray:
    out = np.full(values.shape, np.nan)
    out[1:] = np.diff(values)
    return out


def fmriprep_columns(
    rng,
    n_volumes: int,
    *,
    dummy: int = 1,
    fd_spikes: tuple[int, ...] = (),
    fd_level: float = 0.1,
    n_cosine: int = 2,
    n_acompcor: int = 0,
) -> dict[str, np.ndarray]:
    """An fMRIPrep-style confounds table: 24 motion terms, csf/white_matter with expansions,
    framewise_displacement (n/a at 0, 0.9 mm at ``fd_spikes``), std_dvars, cosines,
    ``n_acompcor`` a_comp_cor columns (see :func:`acompcor_metadata`) and one
    non_steady_state_outlier column per dummy volume (the first ``dummy`` volumes)."""
    columns: dict[str, np.ndarray] = {}
    bases = {name: np.cumsum(rng.normal(0, 0.02, n_volumes)) for name in MOTION}
    bases["csf"] = rng.normal(500, 5, n_volumes)
    bases["white_matter"] = rng.normal(800, 5, n_volumes)
    for name, values in bases.items():
        columns[name] = values
        columns[f"{name}_derivative1"] = _derivative(values)
        columns[f"{name}_power2"] = values**2
        columns[f"{name}_derivative1_power2"] = _derivative(values) ** 2
    fd = rng.uniform(0.5, 1.5, n_volumes) * fd_level
    fd[list(fd_spikes)] = 0.9
    fd[0] = np.nan
    columns["framewise_displacement"] = fd
    dvars = rng.uniform(0.8, 1.2, n_volumes)
    dvars[0] = np.nan
    columns["std_dvars"] = dvars
    t = np.arange(n_volumes)
    for k in range(n_cosine):
        columns[f"cosine{k:02d}"] = np.sqrt(2 / n_volumes) * np.cos(
            np.pi * (k + 1) * (2 * t + 1) / (2 * n_volumes)
        )
    for k in range(n_acompcor):
        columns[f"a_comp_cor_{k:02d}"] = rng.normal(0, 0.1, n_volumes)
    for k in range(dummy):
        flag = np.zeros(n_volumes)
        flag[k] = 1.0
        columns[f"non_steady_state_outlier{k:02d}"] = flag
    return columns
