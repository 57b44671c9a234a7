# Per-subject stages before the group decomposition: decode once; smooth, mask, clean, reduce.
# One job per batch of `subjects_per_job` subjects (BATCHES, common.smk), each writing the
# same per-subject files as a one-subject job would.

DEC = config["decomposition"]


for batch, members in BATCHES.items():

    rule:
        """Decode each run once, cache it, write its mean image (netregions.subject.load_subject)."""
        name:
            f"load_subject_{batch}"
        input:
            bold=batch_funcs(members),
        output:
            mean=expand_subjects(subject_path("mean.nii.gz"), members),
            cache=expand_subjects(subject_path("bold.npy"), members),
            timings=batch_timings("load_subject", members),
        log:
            batch_log("load_subject", batch),
        benchmark:
            batch_bench("load_subject", batch)
        conda:
            "../../envs/netregions.yaml"
        threads: 1
        resources:
            mem_mb=mem_mb(4, 500, len(members)),
            runtime=runtime_min(5, 20),
        params:
            subjects=members,
        script:
            "../scripts/load_subject.py"

    rule:
        """Smooth, mask, clean and reduce each run (netregions.subject.preprocess_subject)."""
        name:
            f"preprocess_subject_{batch}"
        input:
            cache=expand_subjects(subject_path("bold.npy"), members),
            mask=group_path("mask.nii.gz"),
        output:
            reduced=expand_subjects(subject_path("reduced.npy"), members),
            smoothed=expand_subjects(subject_path("smoothed.npy"), members),
            timings=batch_timings("preprocess_subject", members),
        log:
            batch_log("preprocess_subject", batch),
        benchmark:
            batch_bench("preprocess_subject", batch)
        conda:
            "../../envs/netregions.yaml"
        threads: 1
        resources:
            mem_mb=mem_mb(3, 500, len(members)),
            runtime=runtime_min(5, 50),
        params:
            subjects=members,
            smoothing_fwhm=DEC["smoothing_fwhm"],
            detrend=DEC["detrend"],
            standardize=DEC["standardize"],
            n_components=DEC["n_components"],
            random_state=DEC["random_state"],
        script:
            "../scripts/preprocess_subject.py"
