# Thin wrapper: see the rule's docstring for the function it calls.
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # importable under --sdm conda too
from netregions.workflow import run  # noqa: E402

run(
    snakemake,
    "plotting:plot_connectome_figures",
    connectome=snakemake.input.connectome,
    regions_table=snakemake.input.table,
    mask=snakemake.input.mask,
    output_matrix=snakemake.output.matrix,
    output_connectome=snakemake.output.connectome,
    edge_threshold=snakemake.params.edge_threshold,
)
