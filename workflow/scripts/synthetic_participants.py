from netregions.steps.synthetic_participants import synthetic_participants
from netregions.workflow import run_step

run_step(snakemake, synthetic_participants)
