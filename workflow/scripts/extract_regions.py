from netregions.steps.extract_regions import extract_regions
from netregions.workflow import run_step

run_step(snakemake, extract_regions)
