# Thin wrapper: see the rule's docstring for the function it calls.
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # importable under --sdm conda too
from netregions.workflow import run  # noqa: E402

run(
    snakemake,
    "data.synthetic:write_truth",
    data_dir=snakemake.output.maps.rsplit("/", 1)[0],
    **snakemake.params,
)
