from netregions.steps.plot_components import plot_components
from netregions.workflow import run_step

run_step(snakemake, plot_components)
