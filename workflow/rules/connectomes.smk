# Group connectomes (fan-in: one job per kind, so adding a kind runs only that kind).


rule connectivity:
    """The group connectome of one kind (netregions.steps.connectivity)."""
    input:
        timeseries=included_timeseries,
    output:
        mean=group("connectome_{kind}_mean.tsv"),
        reference=f"{R}/work/connectivity/{{kind}}.npy",
    log:
        logs("connectivity", "kind"),
    benchmark:
        bench("connectivity", "kind")
    priority: 2  # the connectome figure, the longest of the last jobs, waits for it
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        kind=kind_of,
        runs=included_names,
        subjects=included_subjects,
    run:
        from netregions.steps.connectivity import connectivity

        run_in_process(connectivity, input, output, params, log)
