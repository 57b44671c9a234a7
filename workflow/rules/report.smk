# What a run of the workflow leaves beside its results: provenance and a BIDS description.


rule dataset_description:
    """dataset_description.json of the results, a BIDS derivative (netregions.steps.dataset_description)."""
    output:
        description=f"{R}/dataset_description.json",
    log:
        logs("dataset_description"),
    localrule: True
    conda:
        "../../envs/netregions.yaml"
    resources:
        runtime=5,
    params:
        source=SOURCE,
        source_dir=DATA["fmriprep"]["dir"] if SOURCE == "fmriprep" else None,
    script:
        "../scripts/dataset_description.py"


rule provenance:
    """provenance.json: config, versions, inputs and times of the run that made the results."""
    input:
        results=final_outputs,
        manifest=f"{R}/inputs.tsv",
    output:
        provenance=f"{R}/provenance.json",
    log:
        logs("provenance"),
    localrule: True
    conda:
        "../../envs/netregions.yaml"
    resources:
        runtime=5,
    params:
        config=config,
    script:
        "../scripts/provenance.py"
