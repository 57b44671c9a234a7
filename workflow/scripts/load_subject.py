# Thin wrapper: see the rule's docstring for the function it calls.
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # importable under --sdm conda too
from netregions.workflow import run_per_subject  # noqa: E402

run_per_subject(
    snakemake,
    "subject:load_subject",
    snakemake.params.subjects,
    {"bold": snakemake.input.bold, "mean": snakemake.output.mean, "cache": snakemake.output.cache},
    timings=snakemake.output.timings,
)
