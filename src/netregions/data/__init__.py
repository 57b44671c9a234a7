"""Data sources: an offline synthetic dataset and nilearn's development_fmri download.

The names below are re-exported lazily (PEP 562), so that ``import netregions.data`` stays
cheap: the workflow imports this package while Snakemake parses the rules.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "synthetic": (
        "CONFOUND_COLUMNS",
        "make_brain",
        "make_dataset",
        "make_network_maps",
        "make_subject",
        "make_truth",
        "place_networks",
        "synthetic_subjects",
        "write_subject",
        "write_truth",
    ),
    "development": (
        "DownloadError",
        "download_file",
        "download_subject",
        "fetch_participants",
        "load_keys",
        "reduce_confounds",
        "select_subjects",
    ),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        module = importlib.import_module(f"{__name__}.{_MODULE_OF[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
