from netregions.steps.dual_regression import dual_regression
from netregions.workflow import run_step

run_step(snakemake, dual_regression)
