# Glue only: config validation, run discovery, path helpers and input functions.
# Anything with logic lives in the netregions package (netregions.config, netregions.inputs).

import os

from snakemake.utils import validate

from netregions import bids, inputs
from netregions import config as settings
from netregions.naming import kind_file_name
from netregions.workflow import run_in_process

settings.coerce_cli_strings(
    config, settings.load_schema(workflow.source_path("../schemas/config.schema.yaml"))
)


validate(config, schema="../schemas/config.schema.yaml")
settings.check_config(config)

R = config["results_dir"]
DATA = config["data"]
SOURCE = DATA["source"]
# the development source learns its subjects from a participants table a job downloads
RUNS = {} if SOURCE == "development" else inputs.discover_runs(DATA)
settings.check_runs(config, RUNS)
PARTICIPANTS = inputs.participants_path(DATA)
settings.check_participants(config, PARTICIPANTS)
COVARIATES = config["qcfc"]["covariates"]
EXCLUDING = any(limit is not None for limit in config["qc"].values())
# the figures show the mean correlation, so it is always computed
KINDS = list(dict.fromkeys([*config["connectivity"]["kinds"], "correlation"]))
RUN_KINDS = [kind for kind in KINDS if kind != "tangent"]
N_SEEDS = config["decomposition"]["n_runs"]
COMPARE = config["group_comparison"]["column"]
DEC, TS, CONF = config["decomposition"], config["timeseries"], config["confounds"]
KEEP_DECODED = config["storage"]["keep_decoded_runs"]
MASK, REG, FIG, GC = (
    config["mask"],
    config["regions"],
    config["figures"],
    config["group_comparison"],
)


wildcard_constraints:
    run="sub-[A-Za-z0-9]+(_[a-z]+-[A-Za-z0-9]+)*",
    rundir="sub-[A-Za-z0-9]+(/ses-[A-Za-z0-9]+)?/func",
    subject="[A-Za-z0-9]+",
    kind="[a-z_]+",
    seed="[0-9]+",


def kind_stat(kind):
    """A kind in BIDS stat entities: no separator ('partialcorrelation')."""
    return kind.replace(" ", "")


# --------------------------------------------------------------------------- runs


def all_runs():
    """Every run of the configured source: {name: netregions.bids.Run}."""
    if SOURCE != "development":
        return RUNS
    from netregions.data.development import select_subjects

    table = checkpoints.download_participants.get().output.table
    dev = DATA["development"]
    subjects = select_subjects(table, DATA["n_subjects"], dev["age_group"])
    runs = inputs.development_runs(dev["data_dir"], subjects)
    return {r.name: r for r in sorted(runs, key=lambda r: r.name)}


def included_runs():
    """The runs that the group steps use: every run, less those excluded by the qc rules."""
    runs = all_runs()
    if not EXCLUDING:
        return runs
    from netregions.qc import included_runs as read_included

    kept = read_included(checkpoints.qc.get().output.table)
    return {name: run for name, run in runs.items() if name in kept}


def run_of(wildcards):
    return all_runs()[wildcards.run]


def run_files(*keys):
    """Input function: the named files of the job's run that exist (e.g. no sidecar)."""

    def files(wildcards):
        run = run_of(wildcards)
        return {key: getattr(run, key) for key in keys if getattr(run, key)}

    return files


def for_runs(pattern, runs):
    """A {run}/{rundir} path pattern for each of the given runs."""
    names = list(runs)
    dirs = [runs[name].directory for name in names]
    return expand(pattern, zip, run=names, rundir=dirs)


def run_table(runs):
    """Run name -> subject, session, task and files, for steps that need them (params)."""
    return {
        name: {
            "subject": run.subject,
            "session": run.session,
            "task": run.task,
            "bold": run.bold,
            "confounds": run.confounds,
            "sidecar": run.sidecar,
        }
        for name, run in runs.items()
    }


# --------------------------------------------------------------------------- paths


def work(name):
    """Per-run intermediate file (not a result), under results_dir/work/<run>/."""
    return f"{R}/work/{{run}}/{name}"


def group(name):
    return f"{R}/group/{name}"


def figure(name):
    return f"{R}/figures/{name}"


def derivative(suffix, extension, **entities):
    """Per-run BIDS-derivative result: results_dir/sub-<l>/[ses-<l>/]func/<run>_..."""
    name = bids.format_bids_name({"sub": "RUN", **entities}, suffix, extension)
    return f"{R}/{{rundir}}/{{run}}{name.removeprefix('sub-RUN')}"


def job_name(*wildcards):
    """A job's file name in logs/ and benchmarks/: its wildcards as folders, or 'job'."""
    return os.path.join(*(f"{{{w}}}" for w in wildcards)) if wildcards else "job"


def logs(rule, *wildcards):
    """Log file of a rule's job (one per wildcard combination)."""
    return f"{R}/logs/{rule}/{job_name(*wildcards)}.log"


def bench(rule, *wildcards):
    """Snakemake benchmark file of a rule's job."""
    return f"{R}/benchmarks/{rule}/{job_name(*wildcards)}.tsv"


def run_memory(stage):
    """mem_mb of a job of ``stage``, from its inputs' headers and shapes, more on retries."""

    def mem_mb(wildcards, input, attempt):
        from netregions.resources import memory_mb

        return memory_mb(stage, dict(input.items())) * attempt

    return mem_mb


def run_runtime(minutes):
    """runtime (minutes) of a job, more on retries."""

    def runtime(wildcards, attempt):
        return minutes * attempt

    return runtime


def settings_of(section, keys):
    """Some keys of a config section as a param, in a fixed order: params are compared as
    text, so the order the config file lists them in must not matter."""
    return {key: config[section][key] for key in keys}


def design_settings():
    """The denoising settings that decide confounds and censoring (params)."""
    return settings_of("confounds", ("strategy", "columns", "fd_threshold", "std_dvars_threshold"))


def qc_limits():
    """The exclusion rules (params)."""
    return settings_of("qc", ("max_mean_fd", "max_censored_fraction", "min_usable_minutes"))


def participants_input(wildcards=None):
    """The participants table as an input, when the source has one."""
    return {"participants": PARTICIPANTS} if PARTICIPANTS else {}


def covariates_input(wildcards=None):
    """The participants table as an input of the QC-FC, only when it removes covariates."""
    return participants_input() if COVARIATES else {}


def covariates_param():
    """qcfc.covariates as a param, only when set: an empty list adds no param, so results
    made before the setting existed are not rerun."""
    return {"covariates": COVARIATES} if COVARIATES else {}


# --------------------------------------------------------------------------- targets


def timeseries_outputs(runs):
    return for_runs(derivative("timeseries", ".tsv", seg="netregions"), runs)


def relmat(kind, extension=".tsv"):
    """Path pattern of a run's connectome of one kind (or of its sidecar)."""
    return derivative("relmat", extension, seg="netregions", stat=kind_stat(kind))


def relmat_outputs(runs, kinds):
    return [path for kind in kinds for path in for_runs(relmat(kind), runs)]


def final_outputs(wildcards):
    """Every result of the workflow (the default target)."""
    runs = included_runs()
    network = config["figures"]["network"]
    outputs = [
        f"{R}/inputs.tsv",
        f"{R}/dataset_description.json",
        f"{R}/.bidsignore",
        f"{R}/README.md",
        group("qc.tsv"),
        group("mask.nii.gz"),
        group("components.nii.gz"),
        group("regions.nii.gz"),
        group("regions.tsv"),
        group("atlas-netregions_dseg.nii.gz"),
        group("atlas-netregions_dseg.tsv"),
        group("atlas-netregions_dseg.json"),
        group("qcfc.tsv"),
        *expand(group("connectome_{kind}_mean.tsv"), kind=map(kind_file_name, KINDS)),
        *timeseries_outputs(runs),
        *relmat_outputs(runs, KINDS),
        *figure_outputs(network),
    ]
    if N_SEEDS > 1:
        outputs += [group("stability.tsv"), figure("stability.png")]
    if config["dual_regression"]:
        for suffix, extension in [
            ("components", ".nii.gz"),
            ("timeseries", ".tsv"),
            ("timeseries", ".json"),
        ]:
            outputs += for_runs(derivative(suffix, extension, desc="dualreg"), runs)
    if COMPARE:
        outputs += [group("classification.tsv"), figure("classification.png")]
        outputs += expand(
            group("edges_{kind}.tsv"), kind=map(kind_file_name, config["connectivity"]["kinds"])
        )
    return outputs


def figure_outputs(network):
    return [
        figure("components.png"),
        figure("regions.png"),
        figure("matrix.png"),
        figure("connectome.png"),
        figure(f"network_{network}.png"),
        figure(f"network_{network}_regions.png"),
        figure("qc_motion.png"),
        figure("qcfc.png"),
    ]


def figure_background():
    """Figure background: a user template if given, else the data's mean EPI."""
    return config["figures"]["background"] or group("mean_epi.nii.gz")


# --------------------------------------------------------------------------- input functions


def download_url(wildcards):
    """The URL template (a function, so that Snakemake leaves its {key} alone)."""
    return DATA["development"]["url"]


def check_inputs_files(wildcards):
    runs = all_runs().values()
    return {
        "bold": [run.bold for run in runs],
        "confounds": [run.confounds for run in runs if run.confounds],
        **participants_input(),
    }


def check_inputs_runs(wildcards):
    return run_table(all_runs())


def same_smoothing():
    """The time series reuse the decomposition's smoothed series when the FWHMs agree."""
    return (DEC["smoothing_fwhm"] or 0) == (TS["smoothing_fwhm"] or 0)


def decoded_run(wildcards):
    """The run to decode: its BOLD file, or the decoded copy load_subject kept."""
    if KEEP_DECODED:
        return {"bold": f"{R}/work/{wildcards.run}/decoded.npy"}
    return run_files("bold")(wildcards)


def timeseries_inputs(wildcards):
    """The run's kept series, or the run itself when the smoothing differs."""
    files = run_files("confounds")(wildcards)
    if not same_smoothing():
        files.update(decoded_run(wildcards), mask=group("mask.nii.gz"))
    return files


def qc_inputs(wildcards):
    runs = all_runs()
    return {
        "stats": [f"{R}/work/{name}/stats.json" for name in runs],
        "confounds": [run.confounds for run in runs.values() if run.confounds],
        **participants_input(),
    }


def included_timeseries(wildcards):
    return timeseries_outputs(included_runs())


def included_subjects(wildcards):
    return [run.subject for run in included_runs().values()]


def included_names(wildcards):
    return list(included_runs())


def group_mask_inputs(wildcards):
    runs = included_runs()
    files = {"means": [f"{R}/work/{name}/mean.nii.gz" for name in runs]}
    if MASK["source"] == "fmriprep":
        files["brain_masks"] = [run.brain_mask for run in runs.values()]
    return files


def included_reduced(wildcards):
    return [f"{R}/work/{name}/reduced.npy" for name in included_runs()]


def method_settings():
    """The decomposition keys that change the maps of the configured method (params)."""
    keys = {
        "dictlearning": ("alpha", "batch_size", "n_epochs"),
        "canica": ("canica_threshold", "canica_n_init"),
    }
    return {key: DEC[key] for key in keys[DEC["method"]]}


def kind_of(wildcards):
    """The connectivity kind of a {kind} file name ('partial_correlation' -> 'partial correlation')."""
    return wildcards.kind.replace("_", " ")
