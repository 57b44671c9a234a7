# Group comparison (group_comparison.column set): which connectomes tell the groups apart.

COMPARED_KINDS = config["connectivity"]["kinds"]


rule group_comparison:
    """Classification and edge-wise tests per kind (netregions.steps.group_comparison)."""
    input:
        unpack(participants_input),
        timeseries=included_timeseries,
        qc=rules.qc.output.table,
        regions=group("regions.tsv"),
        mask=group("mask.nii.gz"),
    output:
        classification=group("classification.tsv"),
        edges=expand(group("edges_{kind}.tsv"), kind=map(kind_file_name, COMPARED_KINDS)),
        figure=report(
            figure("classification.png"),
            caption="../report/classification.rst",
            category="6. Group comparison",
        ),
        edge_figures=report(
            expand(figure("edges_{kind}.png"), kind=map(kind_file_name, COMPARED_KINDS)),
            caption="../report/edges.rst",
            category="6. Group comparison",
        ),
    log:
        logs("group_comparison"),
    benchmark:
        bench("group_comparison")
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        column=GC["column"],
        kinds=COMPARED_KINDS,
        runs=included_names,
        subjects=included_subjects,
        n_splits=GC["n_splits"],
        n_repeats=GC["n_repeats"],
        n_permutations=GC["n_permutations"],
        alpha=GC["alpha"],
    run:
        from netregions.steps.group_comparison import group_comparison

        run_in_process(group_comparison, input, output, params, log)
