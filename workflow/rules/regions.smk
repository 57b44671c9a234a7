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


rule subject_timeseries:
    """Region signals of one run, confounds regressed out (netregions.subject.subject_timeseries)."""
    input:
        data=nrw.timeseries_data_input(config, subject_path),
        mask=rules.group_mask.output.mask,
        regions=rules.extract_regions.output.regions,
        confounds=get_confounds,
    output:
        subject_path("timeseries.tsv"),
    log:
        log_path("subject_timeseries", per_subject=True),
    benchmark:
        bench_path("subject_timeseries", per_subject=True)
    group:
        "subject_timeseries"
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(3, 500),
        runtime=10,
    params:
        smoothing_fwhm=nrw.timeseries_extra_smoothing(config),
        standardize=config["timeseries"]["standardize"],
        standardize_confounds=config["timeseries"]["standardize_confounds"],
        detrend=config["timeseries"]["detrend"],
        columns=config["confounds"]["columns"],
    script:
        "../scripts/subject_timeseries.py"
