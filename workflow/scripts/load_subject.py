# Thin wrapper: see the rule's docstring for the function it calls.
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # importable under --sdm conda too
from netregions.workflow import run  # noqa: E402

run(
    snakemake,
    "subject:load_subject",
    bold=snakemake.input.bold,
    subject=snakemake.wildcards.subject,
    mean=snakemake.output.mean,
    cache=snakemake.output.cache,
)
