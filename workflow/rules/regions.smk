# Region extraction (group), then region signals per subject.


rule extract_regions:
    """Split the network maps into regions (netregions.regions.extract_regions)."""
    input:
        components=rules.decompose.output[0],
    output:
        regions=group_path("regions.nii.gz"),
        table=group_path("regions.tsv"),
    log:
        log_path("extract_regions"),
    benchmark:
        bench_path("extract_regions")
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        settings=nrw.region_settings(config),
    script:
        "../scripts/extract_regions.py"


TS = config["timeseries"]


for batch, members in BATCHES.items():

    rule:
        """Region signals of each run, confounds regressed out (netregions.subject.subject_timeseries)."""
        name:
            f"subject_timeseries_{batch}"
        input:
            data=expand_subjects(nrw.timeseries_data_input(config, subject_path), members),
            mask=rules.group_mask.output.mask,
            regions=rules.extract_regions.output.regions,
            confounds=[path for path in batch_confounds(members) if path],
        output:
            tables=expand_subjects(subject_path("timeseries.tsv"), members),
            timings=batch_timings("subject_timeseries", members),
        log:
            batch_log("subject_timeseries", batch),
        benchmark:
            batch_bench("subject_timeseries", batch)
        priority: 1  # the critical path to the connectome, ahead of the region figures
        conda:
            "../../envs/netregions.yaml"
        threads: 1
        resources:
            mem_mb=mem_mb(3, 500, len(members)),
            runtime=runtime_min(5, 200),
        params:
            subjects=members,
            confounds=batch_confounds(members),
            smoothing_fwhm=nrw.timeseries_extra_smoothing(config),
            standardize=TS["standardize"],
            standardize_confounds=TS["standardize_confounds"],
            detrend=TS["detrend"],
            columns=config["confounds"]["columns"],
        script:
            "../scripts/subject_timeseries.py"
