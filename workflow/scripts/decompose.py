# Thin wrapper: see the rule's docstring for the function it calls.
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # importable under --sdm conda too
from netregions.workflow import run  # noqa: E402

run(
    snakemake,
    "decomposition:decompose",
    reduced=snakemake.input.reduced,
    mask=snakemake.input.mask,
    output=snakemake.output[0],
    n_jobs=snakemake.threads,
    **snakemake.params.settings,
)
