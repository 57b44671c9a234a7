"""Quality control of runs: motion summaries and the exclusion rules (``qc.*``).

Used by the ``qc`` step and, for :func:`included_runs`, by the Snakemake process when it
plans the group steps after the QC table exists (standard library only at import).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping

__all__ = ["exclusion_reasons", "fd_summary", "included_runs"]


def fd_summary(fd, n_dummy: int) -> tuple[float, float]:
    """Mean and maximum framewise displacement after the dummy volumes.

    Parameters
    ----------
    fd : ndarray, shape (n_volumes,)
        Framewise displacement (mm); the first volume's is undefined (0 or NaN) and is left
        out, as are the ``n_dummy`` non-steady-state volumes and the first volume after them
        (its displacement is measured from a dummy volume).
    n_dummy : int

    Returns
    -------
    mean_fd, max_fd : float
        NaN when nothing is left or the FD is unknown.
    """
    import numpy as np

    values = np.asarray(fd, dtype=float)[max(n_dummy, 0) + 1 :]
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    return float(values.mean()), float(values.max())


def exclusion_reasons(row: Mapping[str, float], limits: Mapping[str, float | None]) -> list[str]:
    """Why a run is excluded by the rules in ``limits`` (empty list: included).

    Parameters
    ----------
    row : mapping
        The run's ``mean_fd`` (mm), ``censored_fraction`` and ``usable_minutes``.
    limits : mapping
        ``max_mean_fd``, ``max_censored_fraction``, ``min_usable_minutes``; None = no rule.

    Returns
    -------
    list of str
        One sentence per broken rule, with the run's value and the limit.
    """
    reasons = []
    limit = limits.get("max_mean_fd")
    if limit is not None and row["mean_fd"] > limit:
        reasons.append(f"mean FD {row['mean_fd']:.3g} mm > qc.max_mean_fd {limit}")
    limit = limits.get("max_censored_fraction")
    if limit is not None and row["censored_fraction"] > limit:
        reasons.append(
            f"{row['censored_fraction']:.1%} of volumes censored > qc.max_censored_fraction {limit}"
        )
    limit = limits.get("min_usable_minutes")
    if limit is not None and row["usable_minutes"] < limit:
        reasons.append(
            f"{row['usable_minutes']:.3g} usable minutes < qc.min_usable_minutes {limit}"
        )
    return reasons


def included_runs(table: str) -> set[str]:
    """Names of the runs marked ``included`` in a ``group/qc.tsv``."""
    with open(table, newline="", encoding="utf-8") as f:
        return {
            row["run"] for row in csv.DictReader(f, delimiter="\t") if row["included"] == "true"
        }
