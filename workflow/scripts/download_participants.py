from netregions.steps.download_participants import download_participants
from netregions.workflow import run_step

run_step(snakemake, download_participants)
