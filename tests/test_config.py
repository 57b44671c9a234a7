"""Cross-key checks of the configuration and the typing of command-line strings."""

import copy

import pytest
import yaml

from netregions.bids import Run
from netregions.config import (
    check_config,
    check_participants,
    check_runs,
    coerce_cli_strings,
    load_schema,
)
from netregions.exceptions import ConfigError

from .workflow.conftest import REPO

SCHEMA = load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml")
DEFAULT = yaml.safe_load((REPO / "config.yaml").read_text())


def test_default_config_passes():
    check_config(DEFAULT)


def _schema_defaults(node: dict, path: tuple = ()) -> dict:
    """Every leaf key of the schema with its default, by its path of keys."""
    defaults = {}
    for key, part in node["properties"].items():
        if "properties" in part:
            defaults.update(_schema_defaults(part, (*path, key)))
        else:
            defaults[(*path, key)] = part.get("default", "(no default)")
    return defaults


def _leaves(config: dict, path: tuple = ()) -> dict:
    leaves = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            leaves.update(_leaves(value, (*path, key)))
        else:
            leaves[(*path, key)] = value
    return leaves


def test_config_yaml_lists_every_schema_key_with_its_default():
    assert _leaves(DEFAULT) == _schema_defaults(SCHEMA)


def test_cli_strings_are_typed_only_where_the_schema_wants_another_type():
    config = copy.deepcopy(DEFAULT)
    config["decomposition"] = {"alpha": "2.5", "n_components": "3"}
    config["figures"] = {"background": "null", "edge_threshold": "80%"}
    config["data"]["fmriprep"] = {"subjects": ["01", "02"], "task": "rest"}
    coerce_cli_strings(config, SCHEMA)
    assert config["decomposition"] == {"alpha": 2.5, "n_components": 3}
    assert config["figures"] == {"background": None, "edge_threshold": "80%"}
    assert config["data"]["fmriprep"] == {"subjects": ["01", "02"], "task": "rest"}


@pytest.mark.parametrize(
    "change,message",
    [
        ({"figures": {"network": 8}}, "figures.network=8 but decomposition.n_components=8"),
        ({"regions": {"thresholding_strategy": "percentile", "threshold": 101}}, "[0, 100]"),
        ({"confounds": {"high_pass": 0.1, "low_pass": 0.08}}, "high_pass=0.1 Hz must be below"),
        ({"confounds": {"strategy": "simple", "columns": ["csf"]}}, "only used with strategy"),
        ({"mask": {"source": "fmriprep"}}, "needs data.source 'fmriprep'"),
    ],
)
def test_cross_key_problems_name_the_keys(change, message):
    config = copy.deepcopy(DEFAULT)
    for section, values in change.items():
        config[section].update(values)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        check_config(config)


def test_group_comparison_needs_a_participants_table():
    config = copy.deepcopy(DEFAULT)
    config["group_comparison"]["column"] = "group"
    check_participants(config, "data/synthetic/participants.tsv")
    with pytest.raises(ConfigError, match="group_comparison.column='group' needs a participants"):
        check_participants(config, None)


def test_qcfc_covariates_need_a_participants_table():
    config = copy.deepcopy(DEFAULT)
    assert config["qcfc"]["covariates"] == []
    check_participants(config, None)  # the default removes nothing
    config["qcfc"]["covariates"] = ["age", "sex"]
    check_participants(config, "data/synthetic/participants.tsv")
    with pytest.raises(ConfigError, match=r"qcfc.covariates=\['age', 'sex'\] needs a participants"):
        check_participants(config, None)


def _with_columns(group_column=None, covariates=()):
    config = copy.deepcopy(DEFAULT)
    config["group_comparison"]["column"] = group_column
    config["qcfc"]["covariates"] = list(covariates)
    return config


def test_participant_columns_missing_from_an_existing_table_fail_at_parse_time(tmp_path):
    table = tmp_path / "participants.tsv"
    table.write_text("participant_id\tAge\tGender\tChild_Adult\nsub-01\t8\tF\tchild\n")
    check_participants(_with_columns("Child_Adult", ["Age", "Gender"]), str(table))
    with pytest.raises(ConfigError) as info:
        check_participants(_with_columns("group", ["Age", "sex"]), str(table))
    columns = "its columns are participant_id, Age, Gender, Child_Adult"
    assert str(info.value) == (
        f"group_comparison.column: {table} has no column 'group'; {columns}; "
        f"qcfc.covariates: {table} has no column 'sex'; {columns}"
    )
    # a table a job has not written yet is checked by check_inputs, not here
    check_participants(_with_columns("group", ["sex"]), str(tmp_path / "not_yet.tsv"))
    check_participants(_with_columns(), str(table))


def _run(name: str, mask: bool) -> Run:
    folder = "/data/fmriprep/" + name.split("_")[0] + "/func"
    space = "space-MNI152NLin2009cAsym_res-2"
    return Run(
        name=name,
        subject=name.split("_")[0][len("sub-") :],
        session=None,
        task="rest",
        bold=f"{folder}/{name}_{space}_desc-preproc_bold.nii.gz",
        confounds=f"{folder}/{name}_desc-confounds_timeseries.tsv",
        sidecar=None,
        brain_mask=f"{folder}/{name}_{space}_desc-brain_mask.nii.gz" if mask else None,
        entities={},
    )


def test_fmriprep_mask_source_needs_every_runs_brain_mask():
    config = copy.deepcopy(DEFAULT)
    config["data"]["source"] = "fmriprep"
    config["mask"]["source"] = "fmriprep"
    runs = {
        name: _run(name, mask)
        for name, mask in [
            ("sub-01_task-rest", True),
            ("sub-02_task-rest", False),
            ("sub-03_task-rest", False),
        ]
    }
    with pytest.raises(ConfigError) as info:
        check_runs(config, runs)
    assert str(info.value) == (
        "mask.source: fmriprep takes the group mask from each run's desc-brain_mask image, but "
        "2 runs have none: sub-02_task-rest, sub-03_task-rest (for sub-02_task-rest, "
        "/data/fmriprep/sub-02/func/"
        "sub-02_task-rest_space-MNI152NLin2009cAsym_res-2_desc-brain_mask.nii.gz was looked "
        "for); add the masks, or set mask.source: epi to compute the mask from the runs' mean "
        "images"
    )
    del runs["sub-02_task-rest"], runs["sub-03_task-rest"]
    check_runs(config, runs)  # every run has its mask
    config["mask"]["source"] = "epi"
    check_runs(config, {"sub-02_task-rest": _run("sub-02_task-rest", False)})  # masks unused
