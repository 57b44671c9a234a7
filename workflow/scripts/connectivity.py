from netregions.steps.connectivity import connectivity
from netregions.workflow import run_step

run_step(snakemake, connectivity)
