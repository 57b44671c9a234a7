# Thin wrapper: see the rule's docstring for the function it calls.
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # importable under --sdm conda too
from netregions.workflow import run  # noqa: E402

run(
    snakemake,
    "plotting:plot_region_figures",
    components=snakemake.input.components,
    regions=snakemake.input.regions,
    regions_table=snakemake.input.table,
    background=snakemake.input.background,
    network=snakemake.params.network,
    output_regions=snakemake.output.regions,
    output_network_map=snakemake.output.network_map,
    output_network_regions=snakemake.output.network_regions,
)
