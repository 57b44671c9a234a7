from netregions.steps.preprocess_subject import preprocess_subject
from netregions.workflow import run_step

run_step(snakemake, preprocess_subject)
