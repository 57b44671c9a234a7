from netregions.steps.decompose import decompose
from netregions.workflow import run_step

run_step(snakemake, decompose)
