# Per-run stages: one job per BOLD file. The run's name ({run}) is its BIDS entities;
# its results go to results_dir/sub-<l>/[ses-<l>/]func/ ({rundir}), intermediates to work/.


rule load_subject:
    """Decode a run once: its mean image and statistics (netregions.steps.load_subject)."""
    input:
        unpack(run_files("bold", "sidecar")),
    output:
        mean=work("mean.nii.gz"),
        stats=work("stats.json"),
        decoded=work("decoded.npy") if KEEP_DECODED else [],
    log:
        logs("load_subject", "run"),
    benchmark:
        bench("load_subject", "run")
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=run_memory("load_subject"),
        runtime=run_runtime(2),
    params:
        run="{run}",
    run:
        from netregions.steps.load_subject import load_subject

        run_in_process(load_subject, input, output, params, log)


rule preprocess_subject:
    """Smooth, mask, clean and reduce a run (netregions.steps.preprocess_subject)."""
    input:
        unpack(decoded_run),
        unpack(run_files("confounds")),
        mask=group("mask.nii.gz"),
    output:
        smoothed=work("smoothed.npy"),
        reduced=work("reduced.npy"),
    log:
        logs("preprocess_subject", "run"),
    benchmark:
        bench("preprocess_subject", "run")
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=run_memory("preprocess_subject"),
        runtime=run_runtime(5),
    params:
        run="{run}",
        smoothing_fwhm=DEC["smoothing_fwhm"],
        detrend=DEC["detrend"],
        standardize=DEC["standardize"],
        n_components=DEC["n_components"],
        random_state=DEC["random_state"],
    run:
        from netregions.steps.preprocess_subject import preprocess_subject

        run_in_process(preprocess_subject, input, output, params, log)


rule subject_timeseries:
    """Region signals of a run, denoised, and its connectomes (netregions.steps.subject_timeseries)."""
    input:
        unpack(timeseries_inputs),
        smoothed=work("smoothed.npy"),
        region_maps=f"{R}/work/regions/region_maps.npy",
        stats=work("stats.json"),
    output:
        timeseries=derivative("timeseries", ".tsv", seg="netregions"),
        timeseries_json=derivative("timeseries", ".json", seg="netregions"),
        relmats=[relmat(kind) for kind in RUN_KINDS],
        relmat_jsons=[relmat(kind, ".json") for kind in RUN_KINDS],
    log:
        logs("subject_timeseries", "rundir", "run"),
    benchmark:
        bench("subject_timeseries", "rundir", "run")
    priority: 1  # the path to the connectomes, ahead of the other figures
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=run_memory("subject_timeseries"),
        runtime=run_runtime(2),
    params:
        run="{run}",
        kinds=RUN_KINDS,
        smoothing_fwhm=None if same_smoothing() else TS["smoothing_fwhm"],
        strategy=CONF["strategy"],
        columns=CONF["columns"],
        fd_threshold=CONF["fd_threshold"],
        std_dvars_threshold=CONF["std_dvars_threshold"],
        high_pass=CONF["high_pass"],
        low_pass=CONF["low_pass"],
        detrend=TS["detrend"],
        standardize=TS["standardize"],
        standardize_confounds=TS["standardize_confounds"],
    run:
        from netregions.steps.subject_timeseries import subject_timeseries

        run_in_process(subject_timeseries, input, output, params, log)


rule tangent_connectome:
    """A run's connectome in the group's tangent space (netregions.steps.tangent_connectome)."""
    input:
        timeseries=derivative("timeseries", ".tsv", seg="netregions"),
        timeseries_json=derivative("timeseries", ".json", seg="netregions"),
        reference=f"{R}/work/connectivity/tangent.npy",
    output:
        relmat=relmat("tangent"),
        relmat_json=relmat("tangent", ".json"),
    log:
        logs("tangent_connectome", "rundir", "run"),
    benchmark:
        bench("tangent_connectome", "rundir", "run")
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        run="{run}",
    run:
        from netregions.steps.tangent_connectome import tangent_connectome

        run_in_process(tangent_connectome, input, output, params, log)


rule dual_regression:
    """A run's own network maps and time courses (netregions.steps.dual_regression)."""
    input:
        unpack(run_files("confounds")),
        smoothed=work("smoothed.npy"),
        components=group("components.nii.gz"),
        mask=group("mask.nii.gz"),
        stats=work("stats.json"),
    output:
        maps=derivative("components", ".nii.gz", desc="dualreg"),
        timecourses=derivative("timeseries", ".tsv", desc="dualreg"),
        timecourses_json=derivative("timeseries", ".json", desc="dualreg"),
    log:
        logs("dual_regression", "rundir", "run"),
    benchmark:
        bench("dual_regression", "rundir", "run")
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=run_memory("dual_regression"),
        runtime=run_runtime(2),
    params:
        run="{run}",
        detrend=DEC["detrend"],
    run:
        from netregions.steps.dual_regression import dual_regression

        run_in_process(dual_regression, input, output, params, log)
