"""Conventional, addressable rules; the workflow as a Snakemake module; one source of names."""

from __future__ import annotations

import re
import subprocess

import yaml

from netregions import confounds, connectome, decomposition, inputs, regions
from netregions.steps import STAGES
from netregions.steps.group_mask import MASK_SOURCES

from .conftest import REPO, SNAKEMAKE, TINY, planned_jobs, snakemake, write_config

N = TINY["data"]["n_subjects"]


def test_force_a_stage_by_its_rule_name(tiny_run):
    jobs = planned_jobs(tiny_run, "-R", "preprocess_subject")
    assert jobs["preprocess_subject"] == N and jobs["decompose"] == 1
    assert "load_subject" not in jobs


def test_run_until_a_stage(tmp_path):
    write_config(tmp_path)
    jobs = planned_jobs(tmp_path, "--until", "decompose")
    assert jobs["decompose"] == 1 and jobs["preprocess_subject"] == N
    assert not {"extract_regions", "subject_timeseries", "connectivity"} & set(jobs)


def test_resources_set_per_stage_from_the_command_line(tmp_path):
    write_config(tmp_path)
    out = snakemake(tmp_path, "-n", "--set-resources", "preprocess_subject:mem_mb=8000")
    blocks = re.findall(r"rule preprocess_subject:.*?resources: ([^\n]*)", out.stdout, re.S)
    assert len(blocks) == N and all("mem_mb=8000" in b for b in blocks)


def test_workflow_as_a_module(tmp_path):
    write_config(tmp_path)
    (tmp_path / "Snakefile").write_text(
        "configfile: 'config.yaml'\n\n\n"
        "module netregions:\n"
        f"    snakefile:\n        '{REPO / 'workflow' / 'Snakefile'}'\n"
        "    config:\n        config\n\n\n"
        "use rule * from netregions as nr_*\n\n\n"
        "rule all:\n    default_target: True\n    input:\n        rules.nr_all.input,\n"
    )
    result = subprocess.run(
        [SNAKEMAKE, "-n", "--directory", str(tmp_path), "-s", str(tmp_path / "Snakefile")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(rf"nr_preprocess_subject\s+{N}\b", result.stdout)
    assert re.search(r"nr_provenance\s+1\b", result.stdout)
    # the run: rules' blocks work from the module's namespace (as threads, as users are told)
    result = subprocess.run(
        [SNAKEMAKE, "--directory", str(tmp_path), "-s", str(tmp_path / "Snakefile")]
        + ["--cores", "2", "--force-use-threads", "--until", "nr_check_inputs"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert len((tmp_path / "results" / "inputs.tsv").read_text().splitlines()) == N + 1


def _rules(tmp_path, override=None):
    tmp_path.mkdir()
    write_config(tmp_path, override)
    lines = snakemake(tmp_path, "--list-rules").stdout.splitlines()
    return {line.split()[0] for line in lines if line.strip()}


def test_stage_names_are_the_rules_of_the_workflow(tmp_path):
    rules = _rules(tmp_path / "synthetic")
    rules |= _rules(tmp_path / "seeds", {"decomposition": {"n_runs": 2}})
    dev = {"data": {"source": "development"}}
    rules |= _rules(tmp_path / "development", dev)
    assert rules - {"all", "default"} == set(STAGES)


def _enum(schema, *path):
    node = schema
    for key in path:
        node = node["properties"][key]
    return node["items"]["enum"] if "items" in node else node["enum"]


def test_schema_choices_are_the_registries():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert _enum(schema, "decomposition", "method") == list(decomposition.METHODS)
    assert _enum(schema, "regions", "thresholding_strategy") == list(
        regions.THRESHOLDING_STRATEGIES
    )
    assert _enum(schema, "regions", "extractor") == list(regions.EXTRACTORS)
    assert _enum(schema, "connectivity", "kinds") == list(connectome.KINDS)
    assert _enum(schema, "confounds", "strategy") == list(confounds.STRATEGIES)
    assert _enum(schema, "mask", "source") == list(MASK_SOURCES)
    assert _enum(schema, "data", "source") == list(inputs.SOURCES)


def _rule_blocks() -> dict[str, str]:
    """Each rule's text in workflow/rules/*.smk, by rule name."""
    blocks = {}
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        parts = re.split(r"^\s*(?:rule|checkpoint) (\w+):\n", path.read_text(), flags=re.M)
        blocks.update(zip(parts[1::2], parts[2::2], strict=True))
    return blocks


def test_each_stage_runs_its_own_step_as_a_thread_or_a_script():
    blocks = _rule_blocks()
    assert set(STAGES) <= set(blocks)
    in_process = set()
    for stage in STAGES:
        block = blocks[stage]
        if "run:\n" in block:
            # a thread of the Snakemake process: one thread, the step named after the rule
            in_process.add(stage)
            assert "threads:" not in block or re.search(r"threads: 1\n", block), stage
            assert f"from netregions.steps.{stage} import {stage}\n" in block, stage
            assert f"run_in_process({stage}, input, output, params, log)" in block, stage
        else:
            script = REPO / "workflow" / "scripts" / f"{stage}.py"
            assert re.search(rf'script:\n\s+"\.\./scripts/{stage}\.py"', block), stage
            assert script.read_text() == (
                f"from netregions.steps.{stage} import {stage}\n"
                "from netregions.workflow import run_step\n\n"
                f"run_step(snakemake, {stage})\n"
            )
    # the multi-threaded and memory-heavy group steps and matplotlib keep their own processes
    assert not in_process & {"decompose", "consensus", "plot_regions", "plot_qc"}
    assert {"load_subject", "preprocess_subject", "subject_timeseries"} <= in_process
