from netregions.steps.qc import qc
from netregions.workflow import run_step

run_step(snakemake, qc)
