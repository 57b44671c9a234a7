# Thin wrapper: see the rule's docstring for the function it calls.
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # importable under --sdm conda too
from netregions.workflow import run  # noqa: E402

run(
    snakemake,
    "io:check_inputs",
    inputs=snakemake.params.inputs,
    columns=snakemake.params.columns,
    output=snakemake.output[0],
)
