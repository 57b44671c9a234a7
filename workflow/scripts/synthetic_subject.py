from netregions.steps.synthetic_subject import synthetic_subject
from netregions.workflow import run_step

run_step(snakemake, synthetic_subject)
