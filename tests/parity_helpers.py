"""Helpers of the ``parity`` tests: run nilearn in ``.venv-nilearn`` and compare its output.

The project never imports nilearn; parity tests run it as a subprocess with the reference
environment's Python, exchanging arrays through ``.npy`` / ``.nii.gz`` files in a temporary
directory. Tests using :data:`needs_nilearn` are skipped only when that environment is absent
(CI builds it); a broken environment makes them fail, with nilearn's traceback.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest

NILEARN_PYTHON = Path(__file__).resolve().parents[1] / ".venv-nilearn" / "bin" / "python"
needs_nilearn = pytest.mark.skipif(
    not NILEARN_PYTHON.exists(), reason="no .venv-nilearn to compare with"
)

_PRELUDE = "import warnings\nwarnings.simplefilter('ignore')\n"


def run_nilearn(
    workdir: Path,
    script: str,
    arrays: dict[str, np.ndarray] | None = None,
    timeout: float = 600,
) -> dict[str, np.ndarray]:
    """Run ``script`` with nilearn's Python in ``workdir``; return its ``out_*.npy`` files.

    Parameters
    ----------
    workdir : Path
        Working directory of the script; ``arrays`` are saved there as ``{name}.npy`` first.
    script : str
        Python code (dedented here); it writes its results as ``out_{name}.npy``.
    arrays : dict of str to ndarray, optional
    timeout : float, default=600
        Seconds.

    Returns
    -------
    dict
        ``{name: array}`` for every ``out_{name}.npy`` in ``workdir``.

    Raises
    ------
    AssertionError
        The script failed; the message holds the end of its stderr.
    """
    workdir = Path(workdir)
    for name, array in (arrays or {}).items():
        np.save(workdir / f"{name}.npy", array)
    code = _PRELUDE + textwrap.dedent(script)
    done = subprocess.run(
        [str(NILEARN_PYTHON), "-c", code],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"the nilearn script failed (exit {done.returncode}):\n{done.stderr[-4000:]}"
        )
    return {p.stem[4:]: np.load(p) for p in sorted(workdir.glob("out_*.npy"))}


def abs_correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|Pearson correlation| between the rows of ``a`` (n, V) and the rows of ``b`` (m, V)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    a /= np.maximum(np.linalg.norm(a, axis=1, keepdims=True), np.finfo(float).tiny)
    b /= np.maximum(np.linalg.norm(b, axis=1, keepdims=True), np.finfo(float).tiny)
    return np.abs(a @ b.T)


def match_maps(ours: np.ndarray, theirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pair maps by a Hungarian assignment maximising the total |spatial correlation|.

    The order of decomposition components is arbitrary (and chaotic: tiny perturbations
    permute it), so maps are compared after matching, never by index.

    Parameters
    ----------
    ours, theirs : ndarray, shape (n_maps, n_voxels)

    Returns
    -------
    order : ndarray of int, shape (n_maps,)
        ``theirs[order[i]]`` is matched to ``ours[i]``.
    matched : ndarray, shape (n_maps,)
        |correlation| of each matched pair.
    """
    from scipy.optimize import linear_sum_assignment

    corr = abs_correlations(ours, theirs)
    rows, cols = linear_sum_assignment(corr, maximize=True)
    order = np.empty(len(rows), dtype=int)
    order[rows] = cols
    return order, corr[rows, cols][np.argsort(rows)]


def max_diffs(ours: np.ndarray, theirs: np.ndarray) -> tuple[float, float]:
    """Max absolute difference, and the same relative to max |theirs|."""
    diff = float(np.max(np.abs(np.asarray(ours, float) - np.asarray(theirs, float))))
    scale = float(np.max(np.abs(theirs)))
    return diff, diff / scale if scale else diff
