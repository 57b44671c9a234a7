"""Rule ``download_participants``: the development dataset's participants table."""

from pathlib import Path

from netregions.data.development import fetch_participants

__all__ = ["download_participants"]


def download_participants(table: str, *, url: str) -> None:
    """Download the participants table (skipped when present)."""
    fetch_participants(Path(table).parent, url)
