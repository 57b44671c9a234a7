# Connectivity (fan-in: tangent needs the whole group). One job per kind, so that adding a kind
# to connectivity.kinds runs only that kind.


rule connectivity:
    """Connectivity matrices of one kind, every subject and the mean (netregions.connectome)."""
    input:
        timeseries=expand_subjects(subject_path("timeseries.tsv")),
    output:
        subjects=expand(subject_path("connectome_{kind}.tsv"), subject=SUBJECTS, allow_missing=True),
        mean=group_path("connectome_{kind}_mean.tsv"),
    log:
        f"{R}/logs/connectivity/{{kind}}.log",
    benchmark:
        f"{R}/benchmarks/connectivity/{{kind}}.tsv"
    priority: 1
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        subjects=SUBJECTS,
        kind=kind_from_name,
    script:
        "../scripts/connectivity.py"
