# Figures (matplotlib, no nilearn); each PNG is a report item with a caption.

FIG = config["figures"]
NETWORK = FIG["network"]


rule plot_components:
    """All network maps as filled contours (netregions.plotting.plot_components)."""
    input:
        components=rules.decompose.output[0],
        background=figure_background(),
    output:
        report(
            f"{R}/figures/components.png",
            caption="../report/components.rst",
            category="1. Networks",
        ),
    log:
        log_path("plot_components"),
    benchmark:
        bench_path("plot_components")
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    script:
        "../scripts/plot_components.py"


rule plot_regions:
    """All regions, and one network with its regions (netregions.plotting.plot_region_figures)."""
    input:
        components=rules.decompose.output[0],
        regions=rules.extract_regions.output.regions,
        table=rules.extract_regions.output.table,
        background=figure_background(),
    output:
        regions=report(
            f"{R}/figures/regions.png",
            caption="../report/regions.rst",
            category="2. Regions",
        ),
        network_map=report(
            f"{R}/figures/network_{NETWORK}.png",
            caption="../report/network.rst",
            category="1. Networks",
        ),
        network_regions=report(
            f"{R}/figures/network_{NETWORK}_regions.png",
            caption="../report/network_regions.rst",
            category="2. Regions",
        ),
    log:
        log_path("plot_regions"),
    benchmark:
        bench_path("plot_regions")
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    params:
        network=NETWORK,
    script:
        "../scripts/plot_regions.py"


rule plot_connectome:
    """Group mean correlation as a matrix and on a glass brain (netregions.plotting)."""
    input:
        connectome=group_path("connectome_correlation_mean.tsv"),
        table=rules.extract_regions.output.table,
        mask=rules.group_mask.output.mask,
    output:
        matrix=report(
            f"{R}/figures/matrix.png",
            caption="../report/matrix.rst",
            category="3. Connectome",
        ),
        connectome=report(
            f"{R}/figures/connectome.png",
            caption="../report/connectome.rst",
            category="3. Connectome",
        ),
    log:
        log_path("plot_connectome"),
    benchmark:
        bench_path("plot_connectome")
    priority: 1
    conda:
        "../../envs/netregions.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    params:
        edge_threshold=FIG["edge_threshold"],
    script:
        "../scripts/plot_connectome.py"
