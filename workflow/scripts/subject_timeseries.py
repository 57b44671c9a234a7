# Thin wrapper: see the rule's docstring for the function it calls.
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # importable under --sdm conda too
from netregions.workflow import run  # noqa: E402

run(
    snakemake,
    "subject:subject_timeseries",
    data=snakemake.input.data,
    mask=snakemake.input.mask,
    regions=snakemake.input.regions,
    confounds=snakemake.input.confounds[0] if snakemake.input.confounds else None,
    output=snakemake.output[0],
    subject=snakemake.wildcards.subject,
    **snakemake.params,
)
