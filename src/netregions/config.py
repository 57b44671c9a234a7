"""Checks of the workflow configuration that its JSON schema cannot express.

The Snakemake process calls these when it parses the workflow, after
``snakemake.utils.validate`` has checked every key against
``workflow/schemas/config.schema.yaml``; only the standard library and PyYAML (which
Snakemake itself imports) are used.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from netregions.bids import Run, brain_mask_names
from netregions.exceptions import ConfigError, InputDataError

__all__ = [
    "check_config",
    "check_participants",
    "check_runs",
    "coerce_cli_strings",
    "load_schema",
]


def load_schema(path: str | Path) -> dict[str, Any]:
    """Read the workflow's JSON schema (written in YAML)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(Path(path).read_text(), Loader=loader)


#: Spellings of YAML's null.
_NULLS = frozenset({"null", "Null", "NULL", "~"})


def coerce_cli_strings(config: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Type the strings that Snakemake's ``--config`` leaves in nested values.

    ``--config decomposition='{alpha: 1}'`` reaches the workflow as ``{"alpha": "1"}`` and
    ``figures='{background: null}'`` as ``{"background": "null"}`` (nested values are parsed
    without types). A string is replaced by its YAML value only when the schema rejects the
    string and accepts the value, so labels such as subject "01" stay strings.

    Parameters
    ----------
    config : dict
        Modified in place and returned.
    schema : mapping
        The workflow's JSON schema.
    """
    import jsonschema
    import yaml

    schema = {k: v for k, v in schema.items() if k != "$schema"}

    def valid(value, part) -> bool:
        return jsonschema.Draft202012Validator(part).is_valid(value)

    def fix(value, part):
        if isinstance(value, dict) and "properties" in part:
            for key, item in value.items():
                if key in part["properties"]:
                    value[key] = fix(item, part["properties"][key])
        elif isinstance(value, list) and isinstance(part.get("items"), dict):
            value = [fix(item, part["items"]) for item in value]
        elif isinstance(value, str) and value.strip() in _NULLS and valid(None, part):
            return None  # "null" on the command line means null where null is allowed
        elif isinstance(value, str) and not valid(value, part):
            try:
                parsed = yaml.safe_load(value)
            except yaml.YAMLError:
                return value
            if (parsed is None or not isinstance(parsed, str)) and valid(parsed, part):
                return parsed
        return value

    return fix(config, schema)


def _check_networks(config: Mapping[str, Any]) -> list[str]:
    n_components = config["decomposition"]["n_components"]
    network = config["figures"]["network"]
    problems = []
    if network >= n_components:
        problems.append(
            f"figures.network={network} but decomposition.n_components={n_components}: "
            f"allowed networks are 0..{n_components - 1}"
        )
    dec = config["decomposition"]
    ratio = dec["canica_threshold"]
    if dec["method"] == "canica" and isinstance(ratio, int | float) and ratio > n_components:
        problems.append(
            f"decomposition.canica_threshold={ratio} must not exceed n_components={n_components}"
        )
    return problems


def _check_regions(config: Mapping[str, Any]) -> list[str]:
    regions = config["regions"]
    n_components = config["decomposition"]["n_components"]
    strategy, threshold = regions["thresholding_strategy"], regions["threshold"]
    if strategy == "ratio_n_voxels" and not 0 < threshold <= n_components:
        return [
            f"regions.threshold={threshold} with ratio_n_voxels must be in (0, n_components="
            f"{n_components}]"
        ]
    if strategy == "percentile" and not 0 <= threshold <= 100:
        return [f"regions.threshold={threshold} with percentile must be in [0, 100]"]
    if strategy == "img_value" and regions["two_sided"] and threshold < 0:
        return [f"regions.threshold={threshold}: a negative img_value needs two_sided: false"]
    return []


def _check_filters(config: Mapping[str, Any]) -> list[str]:
    conf = config["confounds"]
    high, low = conf["high_pass"], conf["low_pass"]
    problems = []
    if high is not None and low is not None and high >= low:
        problems.append(f"confounds.high_pass={high} Hz must be below confounds.low_pass={low} Hz")
    if conf["strategy"] != "columns" and conf["columns"] is not None:
        problems.append(
            f"confounds.columns is only used with strategy 'columns' (strategy is "
            f"{conf['strategy']!r}): remove it or set strategy: columns"
        )
    return problems


def _check_sources(config: Mapping[str, Any]) -> list[str]:
    data = config["data"]
    problems = []
    if data["source"] == "fmriprep" and not data["fmriprep"]["dir"]:
        problems.append("data.source is 'fmriprep' but data.fmriprep.dir is not set")
    if config["mask"]["source"] == "fmriprep" and data["source"] != "fmriprep":
        problems.append(
            f"mask.source 'fmriprep' needs data.source 'fmriprep' (brain masks of the runs); "
            f"data.source is {data['source']!r}"
        )
    column = config["group_comparison"]["column"]
    if column and data["source"] == "local" and not data["participants"]:
        problems.append(
            f"group_comparison.column={column!r} needs a participants table: set data.participants"
        )
    return problems


def check_config(config: Mapping[str, Any]) -> None:
    """Checks across keys that the JSON schema cannot express.

    Raises
    ------
    ConfigError
        Listing every problem, each with the offending keys, their values and what is allowed.
    """
    problems = [
        *_check_networks(config),
        *_check_regions(config),
        *_check_filters(config),
        *_check_sources(config),
    ]
    if problems:
        raise ConfigError("; ".join(problems))


def _column_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that name participants.tsv columns, with their values, when set."""
    named = {
        "group_comparison.column": config["group_comparison"]["column"],
        "qcfc.covariates": config["qcfc"]["covariates"],
    }
    return {setting: value for setting, value in named.items() if value}


def check_participants(config: Mapping[str, Any], participants: str | None) -> None:
    """The settings that name participants.tsv columns need the table, and its columns.

    ``group_comparison.column`` and ``qcfc.covariates``. The columns are checked when the table
    exists already; a table that a job writes or downloads (synthetic, development) is checked
    by the ``check_inputs`` job instead, before any heavy job, and the group sizes always are
    (they depend on the selected subjects).

    Raises
    ------
    ConfigError
        A setting is set but the source has no participants table; or the table lacks a
        column a setting names (naming each setting, the table, the columns it lacks and those
        it has).
    """
    named = _column_settings(config)
    if named and not participants:
        source = f"data.source {config['data']['source']!r} has none"
        raise ConfigError(
            "; ".join(
                f"{setting}={value!r} needs a participants table: set data.participants ({source})"
                for setting, value in named.items()
            )
        )
    if not named or not Path(participants).is_file():
        return
    from netregions.bids import check_participant_columns

    problems = []
    for setting, value in named.items():
        try:
            check_participant_columns(
                participants, [value] if isinstance(value, str) else value, setting
            )
        except InputDataError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("; ".join(problems))


def check_runs(config: Mapping[str, Any], runs: Mapping[str, Run]) -> None:
    """Checks of the configuration against the discovered runs, before any job is planned.

    Parameters
    ----------
    config : mapping
        The validated configuration.
    runs : mapping of str to Run
        The runs of the configured source, by name (as from
        :func:`netregions.inputs.discover_runs`).

    Raises
    ------
    ConfigError
        ``mask.source`` is ``fmriprep`` but some runs have no ``desc-brain_mask`` image; every
        such run is listed, with the file looked for and the alternative setting.
    """
    if config["mask"]["source"] != "fmriprep":
        return
    # the group mask step would otherwise get None among its inputs while Snakemake plans jobs
    missing = [run for run in runs.values() if not run.brain_mask]
    if not missing:
        return
    count = "1 run has" if len(missing) == 1 else f"{len(missing)} runs have"
    first = Path(missing[0].bold)
    expected = first.with_name(brain_mask_names(first.name)[0])
    raise ConfigError(
        f"mask.source: fmriprep takes the group mask from each run's desc-brain_mask image, but "
        f"{count} none: {', '.join(run.name for run in missing)} (for {missing[0].name}, "
        f"{expected} was looked for); add the masks, or set mask.source: epi to compute the "
        "mask from the runs' mean images"
    )
