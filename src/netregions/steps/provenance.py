"""Rule ``provenance``: what produced the results folder."""

from collections.abc import Sequence

from netregions.provenance import write_provenance

__all__ = ["provenance"]


def provenance(results: Sequence[str], manifest: str, provenance: str, *, config: dict) -> None:
    """Write ``provenance.json``: config, versions, inputs, and the results' time span."""
    write_provenance(provenance, config=config, manifest=manifest, results=results)
