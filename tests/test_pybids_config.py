"""The pybids configuration shipped as package data (docs/methods/bids.md, Reading the results
with pybids), checked with plain ``re`` against our output names: pybids is not a dependency.

pybids matches each entity's pattern with ``re.search`` over a file's whole path and keeps the
first group; a path pattern (``default_path_patterns``) is text with ``[optional parts]``,
``{entity}`` and ``{entity<value|value>|default}`` fields.
"""

import json
import re
import tomllib
from pathlib import Path

import pytest

import netregions.data
from netregions.bids import derivative_path, pybids_config

REPO = Path(__file__).resolve().parents[1]
CONFIG = json.loads(Path(pybids_config()).read_text())

#: Entities of pybids' own "bids" and "derivatives" configs that our names use, by the name
#: pybids gives them (seg is "segmentation" in pybids' derivatives config).
PYBIDS_ENTITIES = {
    "subject",
    "session",
    "task",
    "acquisition",
    "ceagent",
    "reconstruction",
    "direction",
    "run",
    "echo",
    "part",
    "datatype",
    "suffix",
    "extension",
    "atlas",
    "segmentation",
    "desc",
}

#: Our output names (relative to the results) and the entities pybids should read in them.
NAMES = {
    "sub-01/ses-1/func/sub-01_ses-1_task-rest_run-2_seg-netregions_stat-partialcorrelation_relmat.tsv": {  # noqa: E501
        "subject": "01",
        "session": "1",
        "task": "rest",
        "run": "2",
        "segmentation": "netregions",
        "stat": "partialcorrelation",
        "suffix": "relmat",
        "extension": ".tsv",
    },
    "sub-01/func/sub-01_task-pixar_seg-netregions_stat-correlation_relmat.json": {
        "subject": "01",
        "task": "pixar",
        "segmentation": "netregions",
        "stat": "correlation",
        "suffix": "relmat",
        "extension": ".json",
    },
    "sub-01/func/sub-01_task-pixar_seg-netregions_timeseries.tsv": {
        "subject": "01",
        "task": "pixar",
        "segmentation": "netregions",
        "suffix": "timeseries",
        "extension": ".tsv",
    },
    "sub-02/ses-1/func/sub-02_ses-1_task-rest_run-1_desc-dualreg_timeseries.json": {
        "subject": "02",
        "session": "1",
        "task": "rest",
        "run": "1",
        "desc": "dualreg",
        "suffix": "timeseries",
        "extension": ".json",
    },
    "sub-02/ses-1/func/sub-02_ses-1_task-rest_run-1_desc-dualreg_components.nii.gz": {
        "subject": "02",
        "session": "1",
        "task": "rest",
        "run": "1",
        "desc": "dualreg",
        "suffix": "components",
        "extension": ".nii.gz",
    },
    "group/atlas-netregions_dseg.json": {
        "atlas": "netregions",
        "suffix": "dseg",
        "extension": ".json",
    },
}


def test_the_names_are_those_the_workflow_writes():
    run = "sub-01_ses-1_task-rest_run-2"
    assert derivative_path(run, "relmat", ".tsv", seg="netregions", stat="partialcorrelation") in (
        NAMES
    )
    assert derivative_path("sub-01_task-pixar", "timeseries", ".tsv", seg="netregions") in NAMES
    dualreg = derivative_path(
        "sub-02_ses-1_task-rest_run-1", "components", ".nii.gz", desc="dualreg"
    )
    assert dualreg in NAMES


def test_the_config_is_installed_package_data():
    path = Path(pybids_config())
    assert path.name == "pybids_config.json"
    assert path.parent == Path(netregions.data.__file__).parent
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "data/*.json" in pyproject["tool"]["setuptools"]["package-data"]["netregions"]


def test_it_adds_only_what_pybids_lacks():
    # an entity that "bids" or "derivatives" already defines (seg is their "segmentation")
    # stops BIDSLayout with a sqlite UNIQUE constraint error when defined again
    assert CONFIG["name"] == "netregions"
    assert [entity["name"] for entity in CONFIG["entities"]] == ["stat"]


def _entity(name: str, path: str) -> str | None:
    pattern = next(e["pattern"] for e in CONFIG["entities"] if e["name"] == name)
    match = re.search(pattern, path)
    return match.group(1) if match else None


@pytest.mark.parametrize("name", NAMES)
def test_the_stat_entity_tells_the_connectomes_apart(name):
    # searched over the absolute path, as pybids does; a folder must not be taken for it
    path = f"/data/stat-study/results/{name}"
    assert _entity("stat", path) == NAMES[name].get("stat")


def _regex(path_pattern: str) -> str:
    """A pybids path pattern as a regular expression with a group per entity."""
    out, seen = [], set()
    for token in re.split(r"(\[|\]|\{[^}]*\})", path_pattern):
        if token == "[":
            out.append("(?:")
        elif token == "]":
            out.append(")?")
        elif token.startswith("{"):
            name, values = re.fullmatch(r"\{(\w+)(?:<([^>]*)>)?(?:\|[^}]*)?\}", token).groups()
            if name in seen:
                out.append(f"(?P={name})")
                continue
            seen.add(name)
            alternatives = (
                "|".join(map(re.escape, values.split("|"))) if values else "[a-zA-Z0-9+]+"
            )
            out.append(f"(?P<{name}>{alternatives})")
        else:
            out.append(re.escape(token))
    return "".join(out)


def test_path_patterns_use_known_entities():
    known = PYBIDS_ENTITIES | {"stat"}
    for pattern in CONFIG["default_path_patterns"]:
        names = set(re.findall(r"\{(\w+)", pattern))
        assert names <= known, pattern


@pytest.mark.parametrize("name", NAMES)
def test_each_output_name_has_one_path_pattern_that_rebuilds_it(name):
    matches = [
        re.fullmatch(_regex(pattern), name)
        for pattern in CONFIG["default_path_patterns"]
        if re.fullmatch(_regex(pattern), name)
    ]
    assert len(matches) == 1
    entities = {key: value for key, value in matches[0].groupdict().items() if value is not None}
    assert entities == {**NAMES[name], **({"datatype": "func"} if "/func/" in name else {})}
