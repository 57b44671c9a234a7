from netregions.steps.group_comparison import group_comparison
from netregions.workflow import run_step

run_step(snakemake, group_comparison)
