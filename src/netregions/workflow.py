"""Snakemake glue: job set-up, input discovery and the config-to-params mapping.

This is the only module that knows about the ``snakemake`` object. It is imported by the
Snakemake process itself (``workflow/rules/common.smk``) at every invocation, so it imports
nothing heavy at module level: a no-op rerun must stay fast.
"""

from __future__ import annotations

import atexit
import functools
import gc
import importlib
import logging
import os
import resource
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from netregions.exceptions import ConfigError

__all__ = [
    "check_config",
    "coerce_cli_strings",
    "decomposition_settings",
    "development_confounds_pattern",
    "development_func_pattern",
    "discover_inputs",
    "peak_rss_mb",
    "region_settings",
    "release_scheduler_timers",
    "run",
    "run_per_subject",
    "setup_job",
    "skip_exit_collections",
    "subject_batches",
    "synthetic_confounds_pattern",
    "synthetic_func_pattern",
    "timeseries_data_input",
    "timeseries_extra_smoothing",
    "write_provenance",
    "write_timing",
]

from netregions.naming import FUNC_SUFFIX
from netregions.naming import REDUCED_CONFOUNDS_SUFFIX as CONFOUNDS_SUFFIX

log = logging.getLogger("netregions")


# --------------------------------------------------------------------------- jobs


def setup_job(snakemake: Any) -> logging.Logger:
    """Prepare a workflow job: log file, warnings, thread counts, peak-memory report.

    Must run before numba is imported: numba reads ``NUMBA_NUM_THREADS`` at import, and
    Snakemake sets the BLAS/OpenMP thread variables for a job but not numba's.

    Parameters
    ----------
    snakemake : snakemake.script.Snakemake
        The object Snakemake injects into ``script:`` jobs.

    Returns
    -------
    logging.Logger
        The package logger, writing to the job's log file and to stderr.
    """
    os.environ["NUMBA_NUM_THREADS"] = str(max(1, int(snakemake.threads)))
    log.setLevel(logging.INFO)
    log.handlers.clear()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    if snakemake.log:
        Path(snakemake.log[0]).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(snakemake.log[0], mode="w")
        handler.setFormatter(formatter)
        log.addHandler(handler)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    console.setFormatter(formatter)
    log.addHandler(console)
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").handlers = log.handlers
    warnings.simplefilter("default")
    _install_excepthook()
    atexit.register(_log_peak_memory, time.perf_counter())
    skip_exit_collections()
    return log


def _install_excepthook() -> None:
    """Uncaught errors go to the log file too, with their one-line message on stderr."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        log.error("job failed", exc_info=(kind, value, tb))
        previous(kind, value, tb)

    sys.excepthook = hook


def peak_rss_mb() -> float:
    """Peak resident memory of this process image, in MB.

    On Linux the high-water mark of the current address space (``VmHWM``): unlike
    ``ru_maxrss`` it is not inherited from the parent that forked this process (Snakemake's
    own ~150 MB would otherwise show up in every job).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _log_peak_memory(start: float) -> None:
    log.info("done in %.2f s, peak RSS %.0f MB", time.perf_counter() - start, peak_rss_mb())


def _import_target(target: str) -> Callable:
    module_name, func_name = target.split(":")
    return getattr(importlib.import_module(f"netregions.{module_name}"), func_name)


def _call_repr(target: str, kwargs: Mapping[str, Any]) -> str:
    return f"{target}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def run(snakemake: Any, target: str, **kwargs: Any) -> Any:
    """Set up the job, then call ``target`` ("module:function" in netregions) with kwargs.

    The function is imported only after :func:`setup_job`, so thread settings apply.
    """
    setup_job(snakemake)
    func = _import_target(target)
    log.info("%s", _call_repr(target, kwargs))
    return func(**kwargs)


def run_per_subject(
    snakemake: Any,
    target: str,
    subjects: Sequence[str],
    per_subject: Mapping[str, Sequence[Any]],
    timings: Sequence[str | Path] | None = None,
    **common: Any,
) -> None:
    """Set up a batch job, then call ``target`` once per subject, in order, in this process.

    A batch job pays the process start-up (Python, numpy, scipy, numba) once for all of its
    subjects instead of once per subject.

    Parameters
    ----------
    snakemake : snakemake.script.Snakemake
    target : str
        "module:function" in netregions; called as ``function(subject=s, **kwargs)``.
    subjects : sequence of str
        The batch's subject labels.
    per_subject : mapping of str to sequence
        Arguments that differ between subjects: one value per subject, in ``subjects`` order.
    timings : sequence of path-like, optional
        One benchmark-style TSV per subject (``s``, ``h:m:s``, ``max_rss`` in MB, ``cpu_time``;
        Snakemake's other columns are NA): the subject's own wall and CPU time, and the
        process's peak memory so far. Snakemake's ``benchmark:`` file covers the whole job.
    **common
        Arguments shared by every subject.

    Raises
    ------
    ValueError
        A per-subject argument without exactly one value per subject (a wiring error).
    """
    setup_job(snakemake)
    timings = list(timings or [])
    lengths = {name: len(values) for name, values in per_subject.items()}
    if timings:
        lengths["timings"] = len(timings)
    for name, length in lengths.items():
        if length != len(subjects):
            raise ValueError(f"{target}: {name} has {length} values for {len(subjects)} subjects")
    func = _import_target(target)
    for i, subject in enumerate(subjects):
        kwargs = {"subject": subject, **{k: v[i] for k, v in per_subject.items()}, **common}
        start, cpu_start = time.perf_counter(), time.process_time()
        log.info("%s", _call_repr(target, kwargs))
        func(**kwargs)
        seconds = time.perf_counter() - start
        log.info("sub-%s done in %.2f s", subject, seconds)
        if timings:
            write_timing(timings[i], seconds, time.process_time() - cpu_start, peak_rss_mb())


#: Columns of Snakemake's benchmark files, which the per-subject timing files mimic.
TIMING_COLUMNS = (
    "s",
    "h:m:s",
    "max_rss",
    "max_vms",
    "max_uss",
    "max_pss",
    "io_in",
    "io_out",
    "mean_load",
    "cpu_time",
)


def write_timing(path: str | Path, seconds: float, cpu_seconds: float, max_rss_mb: float) -> Path:
    """Write one subject's timing in the layout of a Snakemake ``benchmark:`` file, atomically.

    Parameters
    ----------
    path : path-like
    seconds : float
        Wall time.
    cpu_seconds : float
        CPU time of the process over the same span.
    max_rss_mb : float
        Peak resident memory (MB).
    """
    import datetime

    from netregions.atomic import atomic_path

    values = {
        "s": f"{seconds:.4f}",
        "h:m:s": str(datetime.timedelta(seconds=round(seconds))),
        "max_rss": f"{max_rss_mb:.2f}",
        "cpu_time": f"{cpu_seconds:.2f}",
    }
    row = "\t".join(values.get(column, "NA") for column in TIMING_COLUMNS)
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\t".join(TIMING_COLUMNS) + "\n" + row + "\n")
    return Path(path)


def subject_batches(subjects: Sequence[str], per_job: int) -> dict[str, list[str]]:
    """Group subjects into the batches that per-subject stages process one job each.

    Consecutive subjects (in the given order) fill batches of ``per_job``; only the last batch
    may be smaller. Adding subjects at the end of the list therefore changes only the last
    batch, and the jobs of the other batches stay up to date.

    Parameters
    ----------
    subjects : sequence of str
        Subject labels, sorted.
    per_job : int
        Subjects per job (>= 1); 1 gives one job per subject.

    Returns
    -------
    dict
        ``{label: [subjects]}``; the label is ``sub-<first>`` for a single subject, else
        ``sub-<first>_to_sub-<last>``.
    """
    if per_job < 1:
        raise ConfigError(f"subjects_per_job={per_job} must be at least 1")
    batches = {}
    for start in range(0, len(subjects), per_job):
        members = list(subjects[start : start + per_job])
        label = f"sub-{members[0]}"
        if len(members) > 1:
            label += f"_to_sub-{members[-1]}"
        batches[label] = members
    return batches


# --------------------------------------------------------------------------- inputs


def synthetic_func_pattern(data_dir: str) -> str:
    """Path pattern (with {subject}) of synthetic BOLD runs."""
    return f"{data_dir}/sub-{{subject}}{FUNC_SUFFIX}"


def synthetic_confounds_pattern(data_dir: str) -> str:
    """Path pattern (with {subject}) of synthetic confounds."""
    return f"{data_dir}/sub-{{subject}}{CONFOUNDS_SUFFIX}"


development_func_pattern = synthetic_func_pattern
development_confounds_pattern = synthetic_confounds_pattern


def discover_inputs(config: Mapping[str, Any]) -> dict[str, dict[str, str | None]]:
    """Subjects and their files for the configured data source.

    Parameters
    ----------
    config : mapping
        The validated workflow configuration.

    Returns
    -------
    dict
        ``{subject: {"func": path, "confounds": path or None}}``.

    Raises
    ------
    ConfigError
        No subject found, or listed subjects without a file.
    """
    data = config["data"]
    source = data["source"]
    if source == "synthetic":
        from netregions.naming import synthetic_subjects

        syn = data["synthetic"]
        subjects = synthetic_subjects(data["n_subjects"])
        func, confounds = (
            synthetic_func_pattern(syn["data_dir"]),
            synthetic_confounds_pattern(syn["data_dir"]),
        )
    elif source == "development":
        from netregions.data.development import fetch_participants, select_subjects

        dev = data["development"]
        participants = fetch_participants(dev["data_dir"], dev["participants_url"])
        subjects = select_subjects(participants, data["n_subjects"], dev["age_group"])
        func, confounds = (
            development_func_pattern(dev["data_dir"]),
            development_confounds_pattern(dev["data_dir"]),
        )
    else:
        from netregions.naming import discover_subjects

        local = data["local"]
        func, confounds = local["func"], local["confounds"]
        subjects = discover_subjects(func, local["subjects"])
    return {
        s: {"func": func.format(subject=s), "confounds": confounds and confounds.format(subject=s)}
        for s in subjects
    }


# --------------------------------------------------------------------------- config


def coerce_cli_strings(config: dict[str, Any], schema_path: str | Path) -> dict[str, Any]:
    """Type the strings that Snakemake's ``--config`` leaves in nested values.

    ``--config decomposition='{alpha: 1}'`` reaches the workflow as ``{"alpha": "1"}`` (nested
    values are parsed without types). A string is replaced by its YAML value only when the
    schema rejects the string and accepts the value, so labels such as subject "01" stay
    strings.

    Parameters
    ----------
    config : dict
        Modified in place and returned.
    schema_path : path-like
        The workflow's JSON schema (YAML).
    """
    import jsonschema
    import yaml

    def valid(value, schema) -> bool:
        return jsonschema.Draft202012Validator(schema).is_valid(value)

    def fix(value, schema):
        if isinstance(value, dict) and "properties" in schema:
            for key, item in value.items():
                if key in schema["properties"]:
                    value[key] = fix(item, schema["properties"][key])
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            value = [fix(item, schema["items"]) for item in value]
        elif isinstance(value, str) and not valid(value, schema):
            try:
                parsed = yaml.safe_load(value)
            except yaml.YAMLError:
                return value
            if not isinstance(parsed, str) and valid(parsed, schema):
                return parsed
        return value

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 1.5 ms, not 15
    schema = yaml.load(Path(schema_path).read_text(), Loader=loader)
    schema.pop("$schema", None)
    return fix(config, schema)


def check_config(config: Mapping[str, Any]) -> None:
    """Checks across keys that the JSON schema cannot express.

    Raises
    ------
    ConfigError
        With the offending key, its value and what is allowed.
    """
    n_components = config["decomposition"]["n_components"]
    network = config["figures"]["network"]
    if network >= n_components:
        raise ConfigError(
            f"figures.network={network} but decomposition.n_components={n_components}: "
            f"allowed networks are 0..{n_components - 1}"
        )
    regions = config["regions"]
    strategy, threshold = regions["thresholding_strategy"], regions["threshold"]
    if strategy == "ratio_n_voxels" and not 0 < threshold <= n_components:
        raise ConfigError(
            f"regions.threshold={threshold} with ratio_n_voxels must be in (0, n_components="
            f"{n_components}]"
        )
    if strategy == "percentile" and not 0 <= threshold <= 100:
        raise ConfigError(f"regions.threshold={threshold} with percentile must be in [0, 100]")
    if strategy == "img_value" and regions["two_sided"] and threshold < 0:
        raise ConfigError(
            f"regions.threshold={threshold}: a negative img_value needs two_sided: false"
        )
    dec = config["decomposition"]
    ratio = dec["canica_threshold"]
    if dec["method"] == "canica" and isinstance(ratio, int | float) and ratio > n_components:
        raise ConfigError(
            f"decomposition.canica_threshold={ratio} must not exceed n_components={n_components}"
        )


def decomposition_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The decomposition keys that change the maps of the configured method (rule params)."""
    dec = config["decomposition"]
    common = ["method", "n_components", "random_state"]
    if dec["method"] == "dictlearning":
        keys = [*common, "alpha", "batch_size", "n_epochs"]
    else:
        keys = [*common, "canica_threshold", "canica_n_init"]
    return {k: dec[k] for k in keys}


def region_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The region-extraction keys that matter for the configured extractor (rule params)."""
    reg = config["regions"]
    keys = ["threshold", "thresholding_strategy", "extractor", "min_region_size", "two_sided"]
    if reg["extractor"] == "local_regions":
        keys.append("smoothing_fwhm")
    return {k: reg[k] for k in keys}


def _same_fwhm(a: float | None, b: float | None) -> bool:
    return (a or 0.0) == (b or 0.0)


def timeseries_data_input(config: Mapping[str, Any], subject_path: Callable[[str], str]) -> str:
    """Per-subject data the time-series job reads.

    With equal FWHMs the decomposition stage's smoothed, in-mask, uncleaned series is exactly
    what region extraction needs, so it is reused; otherwise the decoded run is smoothed again.
    """
    same = _same_fwhm(
        config["decomposition"]["smoothing_fwhm"], config["timeseries"]["smoothing_fwhm"]
    )
    return subject_path("smoothed.npy" if same else "bold.npy")


def timeseries_extra_smoothing(config: Mapping[str, Any]) -> float | None:
    """FWHM the time-series job must still apply (None when it reuses the smoothed series)."""
    ts = config["timeseries"]["smoothing_fwhm"]
    if _same_fwhm(config["decomposition"]["smoothing_fwhm"], ts):
        return None
    return ts


# --------------------------------------------------------------------------- exit


def release_scheduler_timers() -> int:
    """Cancel the job-rate-limiter timers Snakemake leaves behind, so that it exits at once.

    After every scheduling round Snakemake's scheduler starts a non-daemon
    ``threading.Timer`` of ``--max-jobs-per-timespan``'s timespan (1 s by default) to look at
    the queue again; the interpreter waits for the last one before exiting, which adds up to a
    second to every run. Called from ``onsuccess``/``onerror``, when scheduling is over; other
    timers are left alone.

    Returns
    -------
    int
        How many timers were cancelled.
    """
    import threading

    cancelled = 0
    for thread in threading.enumerate():
        function = getattr(thread, "function", None)
        name = getattr(function, "__qualname__", "")
        if isinstance(thread, threading.Timer) and "_schedule_reevalutation" in name:
            thread.cancel()
            cancelled += 1
    return cancelled


@functools.cache  # one exit handler per process, however often it is called
def skip_exit_collections() -> None:
    """Spare this process the garbage collections of interpreter shutdown.

    At exit CPython runs full garbage collections over every object alive, which with
    scikit-learn, matplotlib or Snakemake's DAG loaded takes 0.1-0.3 s per process (measured:
    0.25 s after importing scikit-learn, 0.3 s for Snakemake itself, against 0.03 s with this).
    An exit handler that freezes the heap makes those collections skip it. Every exit
    handler still runs and objects are still freed by reference counting; only unreachable
    reference cycles are left to the operating system, which reclaims the process anyway.
    Called from :func:`setup_job` in jobs and from ``common.smk`` in the Snakemake process.
    """
    atexit.register(gc.freeze)


# --------------------------------------------------------------------------- provenance


def write_provenance(path: str | Path, **kwargs: Any) -> Path:
    """Write ``provenance.json`` (see :func:`netregions.provenance.write_provenance`)."""
    from netregions.provenance import write_provenance as _write

    return _write(path, **kwargs)
