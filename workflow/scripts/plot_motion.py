from netregions.steps.plot_motion import plot_motion
from netregions.workflow import run_step

run_step(snakemake, plot_motion)
