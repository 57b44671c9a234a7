"""Rule ``dataset_description``: the results folder as a BIDS derivative dataset."""

import netregions
from netregions.atomic import atomic_path
from netregions.bids import dataset_description as describe
from netregions.bids import write_json

__all__ = ["BIDSIGNORE", "dataset_description"]

#: Lines of the results' ``.bidsignore``: what the BIDS validator must not check, because
#: BIDS has no rule for it (docs/methods/bids.md, The results as a BIDS dataset). Folders are
#: anchored at the root (``/group``): validator 3.0.2 does not ignore ``group/``.
BIDSIGNORE: tuple[str, ...] = (
    "/group",
    "/figures",
    "/benchmarks",
    "/logs",
    "/work",
    "/inputs.tsv",
    "/provenance.json",
    "/report.html",
    "/report.zip",
    "*_timeseries.tsv",
    "*_timeseries.json",
    "*_relmat.tsv",
    "*_relmat.json",
    "*_components.nii.gz",
)


def dataset_description(
    description: str,
    bidsignore: str,
    readme: str,
    *,
    source: str,
    source_dir: str | None = None,
) -> None:
    """Write the files that make the results a BIDS derivative dataset.

    Parameters
    ----------
    description : path-like
        Output ``dataset_description.json`` (DatasetType derivative, GeneratedBy netregions).
    bidsignore : path-like
        Output ``.bidsignore``: :data:`BIDSIGNORE`, one pattern a line.
    readme : path-like
        Output ``README.md``: what the folder holds and where it is documented.
    source : str
        ``data.source``.
    source_dir : str or None, default=None
        The fMRIPrep folder, listed in ``SourceDatasets``.
    """
    sources = [f"file://{source_dir}"] if source_dir else []
    payload = describe("netregions", netregions.__version__, source_datasets=sources)
    payload["GeneratedBy"][0]["Description"] = f"data source: {source}"
    write_json(description, payload)
    _write_text(bidsignore, "\n".join(BIDSIGNORE) + "\n")
    _write_text(readme, _readme(source))


def _write_text(path: str, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _readme(source: str) -> str:
    return f"""\
# netregions results

Brain networks, their regions and the functional connectomes of each run, written by
netregions {netregions.__version__} (data source: {source}). A BIDS derivative dataset: see
`dataset_description.json`.

- `sub-<label>/[ses-<label>/]func/`: per run, the region signals
  (`*_seg-netregions_timeseries.tsv`, one column per region, one row per kept volume), the
  connectomes (`*_seg-netregions_stat-<kind>_relmat.tsv`) and, with dual regression, the run's
  network maps and time courses (`*_desc-dualreg_components.nii.gz`,
  `*_desc-dualreg_timeseries.tsv`); each table has a JSON sidecar.
- `group/`: group mask, network maps (`components.nii.gz`), region maps (`regions.nii.gz`,
  `regions.tsv`), the regions as a label atlas (`atlas-netregions_dseg.*`), group mean
  connectomes, QC tables.
- `figures/`, `provenance.json` (config, versions, inputs), `inputs.tsv`, and the workflow's
  own `logs/`, `benchmarks/` and `work/` (intermediates).

Region ids (the tables' headers, the sidecars' NodeNames) are the atlas table's `index` column,
1-based; network (component) indices are 0-based. `.bidsignore` lists what the BIDS validator
skips: files and folders that BIDS has no rule for. netregions' documentation
(docs/methods/bids.md) describes every file, its sidecar and how to read the dataset with pybids.
"""
