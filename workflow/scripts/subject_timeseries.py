from netregions.steps.subject_timeseries import subject_timeseries
from netregions.workflow import run_step

run_step(snakemake, subject_timeseries)
