from netregions.steps.download_subject import download_subject
from netregions.workflow import run_step

run_step(snakemake, download_subject)
