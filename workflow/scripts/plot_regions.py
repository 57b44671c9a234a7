from netregions.steps.plot_regions import plot_regions
from netregions.workflow import run_step

run_step(snakemake, plot_regions)
