# What a run of the workflow leaves beside its results: provenance and a BIDS description.


rule dataset_description:
    """The results as a BIDS derivative dataset (netregions.steps.dataset_description)."""
    output:
        description=f"{R}/dataset_description.json",
        bidsignore=f"{R}/.bidsignore",
        readme=f"{R}/README.md",
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
    run:
        from netregions.steps.dataset_description import dataset_description

        run_in_process(dataset_description, input, output, params, log)


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
    run:
        from netregions.steps.provenance import provenance

        run_in_process(provenance, input, output, params, log)
