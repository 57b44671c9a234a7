from netregions.steps.plot_qc import plot_qc
from netregions.workflow import run_step

run_step(snakemake, plot_qc)
