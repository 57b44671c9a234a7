"""Rule ``download_subject``: one development subject's run and confounds."""

from pathlib import Path

from netregions.data.development import download_subject as fetch

__all__ = ["download_subject"]


def download_subject(bold: str, confounds: str, *, subject: str, url: str) -> None:
    """Download the subject's BOLD run and confounds, and reduce the confounds table."""
    fetch(subject, Path(bold).parent, url_template=url)
