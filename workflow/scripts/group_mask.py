# Thin wrapper: see the rule's docstring for the function it calls.
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # importable under --sdm conda too
from netregions.workflow import run  # noqa: E402

run(
    snakemake,
    "masking:make_group_mask",
    means=snakemake.input.means,
    mask=snakemake.output.mask,
    mean=snakemake.output.mean,
    subject_masks=snakemake.output.subject_masks,
    **snakemake.params,
)
