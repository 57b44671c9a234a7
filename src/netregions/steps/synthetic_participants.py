"""Rule ``synthetic_participants``: participants.tsv of the synthetic dataset."""

from pathlib import Path

from netregions.data.synthetic import write_participants

__all__ = ["synthetic_participants"]


def synthetic_participants(table: str, *, n_subjects: int, seed: int) -> None:
    """Write the synthetic subjects' table: two groups, with networks 0 and 1 coupled in one."""
    written = write_participants(Path(table).parent, n_subjects, seed)
    if str(written) != str(table):
        raise ValueError(f"participants written to {written}, expected {table}")
