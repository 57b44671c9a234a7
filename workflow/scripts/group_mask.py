from netregions.steps.group_mask import group_mask
from netregions.workflow import run_step

run_step(snakemake, group_mask)
