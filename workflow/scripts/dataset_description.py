from netregions.steps.dataset_description import dataset_description
from netregions.workflow import run_step

run_step(snakemake, dataset_description)
