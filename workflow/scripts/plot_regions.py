# Thin wrapper: see the rule's docstring for the function it calls.
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # importable under --sdm conda too
from netregions.workflow import run  # noqa: E402

run(
    snakemake,
    "plotting:plot_regions",
    regions=snakemake.input.regions,
    regions_table=snakemake.input.table,
    background=snakemake.input.background,
    output=snakemake.output[0],
)
