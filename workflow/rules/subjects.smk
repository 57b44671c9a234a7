# Per-subject fan-out before and after the group mask: decode once; smooth, mask, clean, reduce.

DEC = config["decomposition"]


rule load_subject:
    """Decode the run once, cache it, write its mean image (netregions.subject.load_subject)."""
    input:
        bold=get_func,
    output:
        mean=subject_path("mean.nii.gz"),
        cache=subject_path("bold.npy"),
    log:
        log_path("load_subject", per_subject=True),
    benchmark:
        bench_path("load_subject", per_subject=True)
    group:
        "load_subject"
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(4, 500),
        runtime=runtime_min(5, 20),
    script:
        "../scripts/load_subject.py"


rule preprocess_subject:
    """Smooth, mask, clean and reduce one run (netregions.subject.preprocess_subject)."""
    input:
        cache=rules.load_subject.output.cache,
        mask=group_path("mask.nii.gz"),
    output:
        reduced=subject_path("reduced.npy"),
        smoothed=subject_path("smoothed.npy"),
    log:
        log_path("preprocess_subject", per_subject=True),
    benchmark:
        bench_path("preprocess_subject", per_subject=True)
    group:
        "preprocess_subject"
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(3, 500),
        runtime=runtime_min(5, 50),
    params:
        smoothing_fwhm=DEC["smoothing_fwhm"],
        detrend=DEC["detrend"],
        standardize=DEC["standardize"],
        n_components=DEC["n_components"],
        random_state=DEC["random_state"],
    script:
        "../scripts/preprocess_subject.py"
