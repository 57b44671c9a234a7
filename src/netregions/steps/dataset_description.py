"""Rule ``dataset_description``: the results folder as a BIDS derivative dataset."""

import netregions
from netregions.bids import dataset_description as describe
from netregions.bids import write_json

__all__ = ["dataset_description"]


def dataset_description(description: str, *, source: str, source_dir: str | None = None) -> None:
    """Write ``dataset_description.json`` (DatasetType derivative, GeneratedBy netregions)."""
    sources = [f"file://{source_dir}"] if source_dir else []
    payload = describe("netregions", netregions.__version__, source_datasets=sources)
    payload["GeneratedBy"][0]["Description"] = f"data source: {source}"
    write_json(description, payload)
