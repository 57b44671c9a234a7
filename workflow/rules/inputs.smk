# Input stage: make or fetch the dataset (synthetic, development), then check every run.

SOURCE = config["data"]["source"]

if SOURCE == "synthetic":
    SYN = config["data"]["synthetic"]

    rule synthetic_truth:
        """Planted network maps of the synthetic dataset (netregions.data.synthetic.write_truth)."""
        output:
            maps=f"{SYN['data_dir']}/truth_networks.nii.gz",
            brain=f"{SYN['data_dir']}/truth_brainmask.nii.gz",
        log:
            log_path("synthetic_truth"),
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
        script:
            "../scripts/synthetic_truth.py"

    rule synthetic_subject:
        """One synthetic subject (netregions.data.synthetic.write_subject)."""
        input:
            maps=rules.synthetic_truth.output.maps,
        output:
            bold=nrw.synthetic_func_pattern(SYN["data_dir"]),
            confounds=nrw.synthetic_confounds_pattern(SYN["data_dir"]),
            truth=f"{SYN['data_dir']}/sub-{{subject}}_task-pixar_desc-truth_timeseries.tsv",
        log:
            log_path("synthetic_subject", per_subject=True),
        conda:
            "../../envs/netregions.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            n_volumes=SYN["n_volumes"],
            t_r=SYN["t_r"],
            noise=SYN["noise"],
            seed=SYN["seed"],
        script:
            "../scripts/synthetic_subject.py"


if SOURCE == "development":
    DEV = config["data"]["development"]

    rule download_subject:
        """Fetch one development_fmri subject (netregions.data.development.download_subject)."""
        output:
            bold=nrw.development_func_pattern(DEV["data_dir"]),
            confounds=nrw.development_confounds_pattern(DEV["data_dir"]),
        log:
            log_path("download_subject", per_subject=True),
        retries: 2
        conda:
            "../../envs/netregions.yaml"
        threads: 1
        resources:
            downloads=1,
            mem_mb=500,
            runtime=30,
        params:
            url=development_url,
        script:
            "../scripts/download_subject.py"


rule check_inputs:
    """Check every run and confounds file before compute (netregions.io.check_inputs)."""
    input:
        all_inputs(),
    output:
        f"{R}/inputs.tsv",
    log:
        log_path("check_inputs"),
    benchmark:
        bench_path("check_inputs")
    priority: 100
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=runtime_min(10, 200),
    params:
        inputs=INPUTS,
        columns=config["confounds"]["columns"],
    script:
        "../scripts/check_inputs.py"
