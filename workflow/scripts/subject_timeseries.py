# Thin wrapper: see the rule's docstring for the function it calls.
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # importable under --sdm conda too
from netregions.workflow import run_per_subject  # noqa: E402

params = dict(snakemake.params)
run_per_subject(
    snakemake,
    "subject:subject_timeseries",
    params.pop("subjects"),
    {
        "data": snakemake.input.data,
        "confounds": params.pop("confounds"),
        "output": snakemake.output.tables,
    },
    timings=snakemake.output.timings,
    mask=snakemake.input.mask,
    regions=snakemake.input.regions,
    **params,
)
