# Glue only: config validation, subject discovery, path helpers and input functions.
# Anything with logic lives in the netregions package (netregions.workflow).

import datetime

from snakemake.utils import validate

from netregions import workflow as nrw

RUN_START = datetime.datetime.now(datetime.timezone.utc)
nrw.skip_exit_collections()  # else exit spends 0.3 s collecting the DAG (netregions.workflow)

nrw.coerce_cli_strings(config, f"{workflow.current_basedir}/../schemas/config.schema.yaml")
validate(config, schema="../schemas/config.schema.yaml")
nrw.check_config(config)

R = config["results_dir"]
INPUTS = nrw.discover_inputs(config)
SUBJECTS = sorted(INPUTS)
# per-subject stages run one job per batch of subjects: {"sub-01_to_sub-10": ["01", ...], ...}
BATCHES = nrw.subject_batches(SUBJECTS, config["subjects_per_job"])
# the figures show the mean correlation, so it is always computed
KINDS = list(dict.fromkeys([*config["connectivity"]["kinds"], "correlation"]))


wildcard_constraints:
    subject="[A-Za-z0-9]+",
    kind="|".join(k.replace(" ", "_") for k in KINDS),


def subject_path(name):
    """Per-subject output path (with the {subject} wildcard)."""
    return f"{R}/subjects/sub-{{subject}}/{name}"


def group_path(name):
    """Group-level output path."""
    return f"{R}/group/{name}"


def log_path(rule_name, per_subject=False):
    """Log file of a rule (one per subject for fan-out rules)."""
    return (
        f"{R}/logs/{rule_name}/sub-{{subject}}.log" if per_subject else f"{R}/logs/{rule_name}.log"
    )


def bench_path(rule_name, per_subject=False):
    """Snakemake benchmark file of a rule, as the contract names it."""
    if per_subject:
        return f"{R}/benchmarks/{rule_name}/sub-{{subject}}.tsv"
    return f"{R}/benchmarks/{rule_name}.tsv"


def expand_subjects(pattern, subjects=None):
    """A per-subject path for every subject (or for the given ones)."""
    return expand(pattern, subject=SUBJECTS if subjects is None else subjects)


def batch_log(rule_name, batch):
    """Log file of one batch job of a per-subject stage."""
    return f"{R}/logs/{rule_name}/{batch}.log"


def batch_bench(rule_name, batch):
    """Benchmark file of one batch job (sub-{subject}.tsv when a batch is one subject)."""
    return f"{R}/benchmarks/{rule_name}/{batch}.tsv"


def batch_timings(rule_name, subjects):
    """Per-subject timing files of a batch job, as the contract names benchmark files.

    A one-subject batch has none: its Snakemake benchmark file already has that name.
    """
    if len(subjects) == 1:
        return []
    return [f"{R}/benchmarks/{rule_name}/sub-{s}.tsv" for s in subjects]


def batch_funcs(subjects):
    return [INPUTS[s]["func"] for s in subjects]


def batch_confounds(subjects):
    """Confounds file per subject, None for a subject without one."""
    return [INPUTS[s]["confounds"] for s in subjects]


def development_url(wildcards):
    """Download URL template (a function, so that Snakemake leaves its {key} alone)."""
    return config["data"]["development"]["url"]


def all_inputs():
    """Every BOLD run and confounds file (for the input check)."""
    paths = [INPUTS[s]["func"] for s in SUBJECTS]
    return paths + [INPUTS[s]["confounds"] for s in SUBJECTS if INPUTS[s]["confounds"]]


def kind_name(kind):
    """File-name form of a connectivity kind ('partial correlation' -> partial_correlation)."""
    return kind.replace(" ", "_")


def kind_from_name(wildcards):
    """Connectivity kind of a {kind} wildcard (the inverse of kind_name)."""
    return wildcards.kind.replace("_", " ")


def connectome_outputs():
    """Per-subject connectome files of every kind."""
    return expand(
        subject_path("connectome_{kind}.tsv"), subject=SUBJECTS, kind=map(kind_name, KINDS)
    )


def mean_connectome_outputs():
    return expand(group_path("connectome_{kind}_mean.tsv"), kind=map(kind_name, KINDS))


def mem_mb(factor, floor, n_subjects=1):
    """Memory request: `factor` x the input size (MB), at least `floor`, more on retries.

    Batch jobs hold one subject at a time: their input size is divided by `n_subjects`.
    """

    def request(wildcards, input, attempt):
        return max(int(factor * input.size_mb / n_subjects), floor) * attempt

    return request


def runtime_min(base, mb_per_minute):
    """Time request (minutes): `base` plus one minute per `mb_per_minute` MB of input."""

    def request(wildcards, input, attempt):
        return (base + int(input.size_mb / mb_per_minute)) * attempt

    return request


def all_outputs():
    """Every final output of the workflow (the default target)."""
    network = config["figures"]["network"]
    return [
        f"{R}/inputs.tsv",
        group_path("mask.nii.gz"),
        group_path("components.nii.gz"),
        group_path("regions.nii.gz"),
        group_path("regions.tsv"),
        *expand_subjects(subject_path("timeseries.tsv")),
        *connectome_outputs(),
        *mean_connectome_outputs(),
        *figure_outputs(network),
    ]


def figure_background():
    """Figure background: a user template if given, else the data's mean EPI."""
    return config["figures"]["background"] or group_path("mean_epi.nii.gz")


def figure_outputs(network):
    return [
        f"{R}/figures/components.png",
        f"{R}/figures/regions.png",
        f"{R}/figures/matrix.png",
        f"{R}/figures/connectome.png",
        f"{R}/figures/network_{network}.png",
        f"{R}/figures/network_{network}_regions.png",
    ]


onsuccess:
    nrw.write_provenance(
        f"{R}/provenance.json",
        config=config,
        inputs=INPUTS,
        start=RUN_START,
        workflow_dir=workflow.basedir,
    )
    nrw.release_scheduler_timers()  # else exit waits up to 1 s (netregions.workflow)


onerror:
    nrw.release_scheduler_timers()
