from netregions.steps.provenance import provenance
from netregions.workflow import run_step

run_step(snakemake, provenance)
