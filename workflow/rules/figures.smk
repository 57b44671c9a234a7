# Figures (matplotlib, no nilearn); each PNG is a report item with a caption.

NETWORK = FIG["network"]


rule plot_components:
    """All network maps as contours, and one network's map (netregions.steps.plot_components)."""
    input:
        components=group("components.nii.gz"),
        background=figure_background(),
    output:
        figure=report(
            figure("components.png"), caption="../report/components.rst", category="1. Networks"
        ),
        network_map=report(
            figure(f"network_{NETWORK}.png"),
            caption="../report/network.rst",
            category="1. Networks",
        ),
    log:
        logs("plot_components"),
    benchmark:
        bench("plot_components")
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        network=NETWORK,
    script:
        "../scripts/plot_components.py"


rule plot_regions:
    """All regions, and the regions of one network (netregions.steps.plot_regions)."""
    input:
        components=group("components.nii.gz"),
        regions=rules.extract_regions.output.regions,
        table=rules.extract_regions.output.table,
        background=figure_background(),
    output:
        regions_figure=report(
            figure("regions.png"), caption="../report/regions.rst", category="2. Regions"
        ),
        network_regions=report(
            figure(f"network_{NETWORK}_regions.png"),
            caption="../report/network_regions.rst",
            category="2. Regions",
        ),
    log:
        logs("plot_regions"),
    benchmark:
        bench("plot_regions")
    priority: 2  # its own process, on one core while the time-series threads use the other
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        network=NETWORK,
    script:
        "../scripts/plot_regions.py"


rule plot_connectome:
    """Group mean correlation as a matrix and on a glass brain (netregions.steps.plot_connectome)."""
    input:
        connectome=group("connectome_correlation_mean.tsv"),
        table=rules.extract_regions.output.table,
        mask=rules.group_mask.output.mask,
    output:
        matrix_figure=report(
            figure("matrix.png"), caption="../report/matrix.rst", category="3. Connectome"
        ),
        connectome_figure=report(
            figure("connectome.png"), caption="../report/connectome.rst", category="3. Connectome"
        ),
    log:
        logs("plot_connectome"),
    benchmark:
        bench("plot_connectome")
    priority: 2  # the longest job after the time series
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        edge_threshold=FIG["edge_threshold"],
    script:
        "../scripts/plot_connectome.py"


rule plot_motion:
    """Motion of every run (netregions.steps.plot_motion)."""
    input:
        qc=rules.qc.output.table,
        motion=rules.qc.output.motion,
    output:
        motion_figure=report(
            figure("qc_motion.png"),
            caption="../report/qc_motion.rst",
            category="4. Quality control",
        ),
    log:
        logs("plot_motion"),
    benchmark:
        bench("plot_motion")
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        fd_threshold=config["confounds"]["fd_threshold"],
        max_mean_fd=config["qc"]["max_mean_fd"],
    script:
        "../scripts/plot_motion.py"


rule plot_qc:
    """QC-FC of every connectivity kind (netregions.steps.plot_qc)."""
    input:
        qcfc=rules.qcfc.output.table,
        values=rules.qcfc.output.values,
    output:
        qcfc_figure=report(
            figure("qcfc.png"), caption="../report/qcfc.rst", category="4. Quality control"
        ),
    log:
        logs("plot_qc"),
    benchmark:
        bench("plot_qc")
    priority: 1
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/plot_qc.py"


rule plot_stability:
    """Stability index of each consensus network (netregions.steps.plot_stability)."""
    input:
        stability=group("stability.tsv"),
    output:
        figure=report(
            figure("stability.png"), caption="../report/stability.rst", category="1. Networks"
        ),
    log:
        logs("plot_stability"),
    benchmark:
        bench("plot_stability")
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    script:
        "../scripts/plot_stability.py"
