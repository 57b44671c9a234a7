from netregions.steps.qcfc import qcfc
from netregions.workflow import run_step

run_step(snakemake, qcfc)
