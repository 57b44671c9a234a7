# Input stage: make or fetch the dataset (synthetic, development), then check every run.

if SOURCE == "synthetic":
    SYN = DATA["synthetic"]

    rule synthetic_truth:
        """Planted network maps of the synthetic dataset (netregions.steps.synthetic_truth)."""
        output:
            maps=f"{SYN['data_dir']}/truth_networks.nii.gz",
            brain=f"{SYN['data_dir']}/truth_brainmask.nii.gz",
        log:
            logs("synthetic_truth"),
        conda:
            "../../envs/netregions.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            shape=SYN["shape"],
            n_networks=SYN["n_networks"],
            seed=SYN["seed"],
        run:
            from netregions.steps.synthetic_truth import synthetic_truth

            run_in_process(synthetic_truth, input, output, params, log)

    rule synthetic_participants:
        """participants.tsv of the synthetic dataset (netregions.steps.synthetic_participants)."""
        output:
            table=PARTICIPANTS,
        log:
            logs("synthetic_participants"),
        conda:
            "../../envs/netregions.yaml"
        threads: 1
        resources:
            mem_mb=500,
            runtime=5,
        params:
            n_subjects=DATA["n_subjects"],
            seed=SYN["seed"],
        run:
            from netregions.steps.synthetic_participants import synthetic_participants

            run_in_process(synthetic_participants, input, output, params, log)

    rule synthetic_subject:
        """One synthetic subject's run (netregions.steps.synthetic_subject)."""
        input:
            maps=rules.synthetic_truth.output.maps,
        output:
            bold=f"{SYN['data_dir']}/sub-{{subject}}{inputs.FUNC_SUFFIX}",
            sidecar=f"{SYN['data_dir']}/sub-{{subject}}{inputs.FUNC_SIDECAR_SUFFIX}",
            confounds=f"{SYN['data_dir']}/sub-{{subject}}{inputs.CONFOUNDS_SUFFIX}",
            truth=f"{SYN['data_dir']}/sub-{{subject}}_task-pixar_desc-truth_timeseries.tsv",
        log:
            logs("synthetic_subject", "subject"),
        conda:
            "../../envs/netregions.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            subject="{subject}",
            n_volumes=SYN["n_volumes"],
            t_r=SYN["t_r"],
            noise=SYN["noise"],
            seed=SYN["seed"],
        run:
            from netregions.steps.synthetic_subject import synthetic_subject

            run_in_process(synthetic_subject, input, output, params, log)


if SOURCE == "development":
    DEV = DATA["development"]

    checkpoint download_participants:
        """Fetch the development dataset's participants table (a local rule: needs internet)."""
        output:
            table=PARTICIPANTS,
        log:
            logs("download_participants"),
        retries: 2
        localrule: True
        conda:
            "../../envs/netregions.yaml"
        params:
            url=DEV["participants_url"],
        script:
            "../scripts/download_participants.py"

    rule download_subject:
        """Fetch one development subject's run and confounds (a local rule: needs internet)."""
        output:
            bold=f"{DEV['data_dir']}/sub-{{subject}}{inputs.FUNC_SUFFIX}",
            confounds=f"{DEV['data_dir']}/sub-{{subject}}{inputs.CONFOUNDS_SUFFIX}",
        log:
            logs("download_subject", "subject"),
        retries: 2
        localrule: True
        conda:
            "../../envs/netregions.yaml"
        resources:
            downloads=1,
        params:
            subject="{subject}",
            url=download_url,
        script:
            "../scripts/download_subject.py"


rule check_inputs:
    """Check every run and table before compute (netregions.steps.check_inputs)."""
    input:
        unpack(check_inputs_files),
    output:
        manifest=f"{R}/inputs.tsv",
    log:
        logs("check_inputs"),
    benchmark:
        bench("check_inputs")
    priority: 100
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=30,
    params:
        runs=check_inputs_runs,
        design=design_settings(),
        group_column=GC["column"],
        n_splits=GC["n_splits"],
        high_pass=config["confounds"]["high_pass"],
        covariates=COVARIATES,
    run:
        from netregions.steps.check_inputs import check_inputs

        run_in_process(check_inputs, input, output, params, log)
