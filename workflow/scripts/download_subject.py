# Thin wrapper: see the rule's docstring for the function it calls.
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # importable under --sdm conda too
from netregions.workflow import run  # noqa: E402

run(
    snakemake,
    "data.development:download_subject",
    subject=snakemake.wildcards.subject,
    data_dir=snakemake.output.bold.rsplit("/", 1)[0],
    url_template=snakemake.params.url,
)
