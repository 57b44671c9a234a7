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

_TMP_PREFIX = ".tmp-"


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

    Notes
    -----
    A killed process (SIGKILL, out of memory, a cluster's time limit) cannot remove its
    temporary file; the next write of the same destination removes such leftovers of
    processes that no longer exist.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(path)
    tmp = path.with_name(f"{_TMP_PREFIX}{os.getpid()}-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _remove_leftovers(path: Path) -> None:
    """Remove temporary files of ``path`` whose writing process no longer exists."""
    for leftover in path.parent.glob(f"{_TMP_PREFIX}*-{path.name}"):
        pid, _, name = leftover.name[len(_TMP_PREFIX) :].partition("-")
        if name == path.name and pid.isdigit() and not _process_exists(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
