# Thin wrapper: see the rule's docstring for the function it calls.
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # importable under --sdm conda too
from netregions.workflow import run_per_subject  # noqa: E402

params = dict(snakemake.params)
run_per_subject(
    snakemake,
    "subject:preprocess_subject",
    params.pop("subjects"),
    {
        "cache": snakemake.input.cache,
        "reduced": snakemake.output.reduced,
        "smoothed": snakemake.output.smoothed,
    },
    timings=snakemake.output.timings,
    mask=snakemake.input.mask,
    **params,
)
