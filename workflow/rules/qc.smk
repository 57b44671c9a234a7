# Quality control: a table of every run, the exclusion rules (qc.*), and QC-FC.


# A checkpoint: when qc.* rules are set, the group steps are planned once it has run.
checkpoint qc:
    """Per-run QC and the exclusions (netregions.steps.qc)."""
    input:
        unpack(qc_inputs),
    output:
        table=group("qc.tsv"),
        motion=f"{R}/work/qc/motion.npy",
    log:
        logs("qc"),
    benchmark:
        bench("qc")
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        runs=check_inputs_runs,
        design=design_settings(),
        limits=qc_limits(),
    run:
        from netregions.steps.qc import qc

        run_in_process(qc, input, output, params, log)


rule qcfc:
    """How much connectivity still tracks motion, per kind (netregions.steps.qcfc)."""
    input:
        unpack(covariates_input),
        timeseries=included_timeseries,
        qc=rules.qc.output.table,
        regions=group("regions.tsv"),
    output:
        table=group("qcfc.tsv"),
        values=f"{R}/work/qc/qcfc.npz",
    log:
        logs("qcfc"),
    benchmark:
        bench("qcfc")
    priority: 1
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        **covariates_param(),
        runs=included_names,
        subjects=included_subjects,
        kinds=KINDS,
    run:
        from netregions.steps.qcfc import qcfc

        run_in_process(qcfc, input, output, params, log)
