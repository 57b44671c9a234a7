"""Rule ``synthetic_truth``: the planted network maps of the synthetic dataset."""

from pathlib import Path

from netregions.data.synthetic import write_truth

__all__ = ["synthetic_truth"]


def synthetic_truth(maps: str, brain: str, *, shape, n_networks: int, seed: int) -> None:
    """Write the planted maps and the brain mask shared by every synthetic subject."""
    written = write_truth(Path(maps).parent, shape=shape, n_networks=n_networks, seed=seed)
    if str(written["maps"]) != str(maps) or str(written["brain"]) != str(brain):
        raise ValueError(f"synthetic truth written to {written}, expected {maps} and {brain}")
