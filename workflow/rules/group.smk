# Group steps (fan-in over the included runs): group mask, decomposition, regions.


rule group_mask:
    """Every run's brain mask and their combination; the mean EPI (netregions.steps.group_mask)."""
    input:
        unpack(group_mask_inputs),
    output:
        mask=group("mask.nii.gz"),
        mean_epi=group("mean_epi.nii.gz"),
    log:
        logs("group_mask"),
    benchmark:
        bench("group_mask")
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=run_memory("group_mask"),
        runtime=30,
    params:
        runs=included_names,
        source=MASK["source"],
        lower_cutoff=MASK["lower_cutoff"],
        upper_cutoff=MASK["upper_cutoff"],
        opening=MASK["opening"],
        threshold=MASK["threshold"],
    run:
        from netregions.steps.group_mask import group_mask

        run_in_process(group_mask, input, output, params, log)


# With decomposition.n_runs > 1 the decomposition runs once per seed (each its own job) and
# the consensus job writes the network maps; otherwise the decomposition writes them.
if N_SEEDS == 1:

    rule decompose:
        """Network maps by dictionary learning or CanICA (netregions.steps.decompose)."""
        input:
            reduced=included_reduced,
            mask=rules.group_mask.output.mask,
        output:
            components=group("components.nii.gz"),
        log:
            logs("decompose"),
        benchmark:
            bench("decompose")
        conda:
            "../../envs/netregions.yaml"
        threads: 2
        resources:
            mem_mb=run_memory("decompose"),
            runtime=120,
        params:
            method=DEC["method"],
            n_components=DEC["n_components"],
            random_state=DEC["random_state"],
            settings=method_settings(),
        script:
            "../scripts/decompose.py"

else:

    rule decompose:
        """One seed's network maps (netregions.steps.decompose)."""
        input:
            reduced=included_reduced,
            mask=rules.group_mask.output.mask,
        output:
            components=f"{R}/work/decompose/seed-{{seed}}.npy",
        log:
            logs("decompose", "seed"),
        benchmark:
            bench("decompose", "seed")
        conda:
            "../../envs/netregions.yaml"
        threads: 2
        resources:
            mem_mb=run_memory("decompose"),
            runtime=120,
        params:
            method=DEC["method"],
            n_components=DEC["n_components"],
            random_state="{seed}",
            settings=method_settings(),
        script:
            "../scripts/decompose.py"

    rule consensus:
        """Stable networks of every seed, ICASSO-style (netregions.steps.consensus)."""
        input:
            seeds=expand(
                rules.decompose.output.components,
                seed=range(DEC["random_state"], DEC["random_state"] + N_SEEDS),
            ),
            mask=rules.group_mask.output.mask,
        output:
            components=group("components.nii.gz"),
            stability=group("stability.tsv"),
        log:
            logs("consensus"),
        benchmark:
            bench("consensus")
        conda:
            "../../envs/netregions.yaml"
        threads: 1
        resources:
            mem_mb=run_memory("consensus"),
            runtime=60,
        params:
            method=DEC["method"],
            n_components=DEC["n_components"],
        script:
            "../scripts/consensus.py"


rule extract_regions:
    """Regions of the network maps, as maps, table and atlas (netregions.steps.extract_regions)."""
    input:
        components=group("components.nii.gz"),
        mask=rules.group_mask.output.mask,
    output:
        regions=group("regions.nii.gz"),
        table=group("regions.tsv"),
        atlas=group("atlas-netregions_dseg.nii.gz"),
        atlas_table=group("atlas-netregions_dseg.tsv"),
        atlas_json=group("atlas-netregions_dseg.json"),
        region_maps=f"{R}/work/regions/region_maps.npy",
    log:
        logs("extract_regions"),
    benchmark:
        bench("extract_regions")
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=run_memory("extract_regions"),
        runtime=60,
    params:
        threshold=REG["threshold"],
        thresholding_strategy=REG["thresholding_strategy"],
        extractor=REG["extractor"],
        min_region_size=REG["min_region_size"],
        two_sided=REG["two_sided"],
        smoothing_fwhm=REG["smoothing_fwhm"] if REG["extractor"] == "local_regions" else None,
        space=inputs.data_space(DATA),  # the atlas' sidecar; changes only with the runs
    run:
        from netregions.steps.extract_regions import extract_regions

        run_in_process(extract_regions, input, output, params, log)
