# Connectivity of every subject and the group means (fan-in: tangent needs the whole group).


rule connectivity:
    """Connectivity matrices of every kind (netregions.connectome.compute_connectomes)."""
    input:
        timeseries=expand_subjects(rules.subject_timeseries.output[0]),
    output:
        subjects=list(connectome_outputs().values()),
        means=list(mean_connectome_outputs().values()),
    log:
        log_path("connectivity"),
    benchmark:
        bench_path("connectivity")
    conda:
        "../../envs/netregions.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        subjects=SUBJECTS,
        kinds=KINDS,
    script:
        "../scripts/connectivity.py"
