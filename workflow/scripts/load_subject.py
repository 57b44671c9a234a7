from netregions.steps.load_subject import load_subject
from netregions.workflow import run_step

run_step(snakemake, load_subject)
