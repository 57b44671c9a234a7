"""Atomic file writes: a failed or killed job never leaves a partial output behind.

Standard library only: the Snakemake process uses it too (``provenance.json``), and must
not pay for numpy or nibabel.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path"]


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    Parameters
    ----------
    path : path-like
        Final destination. Parent folders are created.

    Yields
    ------
    Path
        Temporary file name in the same folder (same file system, so the rename is atomic).
        It keeps the destination's suffixes so that format detection by extension still works.
        On error it is removed and the exception propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
