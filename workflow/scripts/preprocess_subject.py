# Thin wrapper: see the rule's docstring for the function it calls.
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # importable under --sdm conda too
from netregions.workflow import run  # noqa: E402

run(
    snakemake,
    "subject:preprocess_subject",
    cache=snakemake.input.cache,
    mask=snakemake.input.mask,
    reduced=snakemake.output.reduced,
    smoothed=snakemake.output.smoothed,
    subject=snakemake.wildcards.subject,
    **snakemake.params,
)
