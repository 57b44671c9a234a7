from netregions.steps.plot_stability import plot_stability
from netregions.workflow import run_step

run_step(snakemake, plot_stability)
