# Thin wrapper: see the rule's docstring for the function it calls.
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # importable under --sdm conda too
from netregions.workflow import run  # noqa: E402

run(
    snakemake,
    "connectome:compute_connectomes",
    timeseries=dict(zip(snakemake.params.subjects, snakemake.input.timeseries, strict=True)),
    kinds=[snakemake.params.kind],
    subject_outputs=snakemake.output.subjects,
    mean_outputs=[snakemake.output.mean],
)
