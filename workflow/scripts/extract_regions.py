# Thin wrapper: see the rule's docstring for the function it calls.
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # importable under --sdm conda too
from netregions.workflow import run  # noqa: E402

run(
    snakemake,
    "regions:extract_regions",
    components=snakemake.input.components,
    regions=snakemake.output.regions,
    table=snakemake.output.table,
    **snakemake.params.settings,
)
