from netregions.steps.consensus import consensus
from netregions.workflow import run_step

run_step(snakemake, consensus)
