# Group steps (fan-in): group mask and the decomposition into network maps.

MASK = config["mask"]


rule group_mask:
    """EPI mask of every subject, their intersection, the mean EPI (netregions.masking)."""
    input:
        means=expand_subjects(subject_path("mean.nii.gz")),
    output:
        mask=group_path("mask.nii.gz"),
        mean=group_path("mean_epi.nii.gz"),
        subject_masks=expand_subjects(subject_path("mask.nii.gz")),
    log:
        log_path("group_mask"),
    benchmark:
        bench_path("group_mask")
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(10, 500),
        runtime=10,
    params:
        subjects=SUBJECTS,
        lower_cutoff=MASK["lower_cutoff"],
        upper_cutoff=MASK["upper_cutoff"],
        opening=MASK["opening"],
        threshold=MASK["threshold"],
    script:
        "../scripts/group_mask.py"


rule decompose:
    """Network maps by dictionary learning or CanICA (netregions.decomposition.decompose)."""
    input:
        reduced=expand_subjects(subject_path("reduced.npy")),
        mask=rules.group_mask.output.mask,
    output:
        group_path("components.nii.gz"),
    log:
        log_path("decompose"),
    benchmark:
        bench_path("decompose")
    conda:
        "../../envs/netregions.yaml"
    threads: 2
    resources:
        mem_mb=mem_mb(8, 1000),
        runtime=runtime_min(10, 10),
    params:
        settings=nrw.decomposition_settings(config),
    script:
        "../scripts/decompose.py"
