from netregions.steps.check_inputs import check_inputs
from netregions.workflow import run_step

run_step(snakemake, check_inputs)
