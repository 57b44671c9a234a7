from netregions.steps.plot_connectome import plot_connectome
from netregions.workflow import run_step

run_step(snakemake, plot_connectome)
