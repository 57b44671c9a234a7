from netregions.steps.synthetic_truth import synthetic_truth
from netregions.workflow import run_step

run_step(snakemake, synthetic_truth)
