from netregions.steps.tangent_connectome import tangent_connectome
from netregions.workflow import run_step

run_step(snakemake, tangent_connectome)
