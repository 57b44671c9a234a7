"""Snakemake glue: the one module that knows the ``snakemake`` object of ``script:`` jobs.

Every workflow script is two lines: import its step function from :mod:`netregions.steps`
and hand it to :func:`run_step`, which sets the job up and calls the step with the rule's
named inputs, outputs and params as keyword arguments. Nothing heavy is imported here.
"""

from __future__ import annotations

import atexit
import inspect
import logging
import os
import resource
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["peak_rss_mb", "run_step", "setup_job", "step_arguments"]

log = logging.getLogger("netregions")


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
        The package logger, writing to the job's log file and (warnings and errors) to stderr.
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
    ``ru_maxrss`` it is not inherited from the Snakemake process that started the job.
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


def _plain(value: Any) -> Any:
    """Snakemake's named lists as plain lists; strings and other values as they are."""
    if isinstance(value, str | int | float | bool | type(None) | dict):
        return value
    if isinstance(value, list | tuple) or hasattr(value, "__iter__"):
        return [_plain(v) for v in value]
    return value


def step_arguments(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    params: Mapping[str, Any],
    threads: int,
    step: Callable,
) -> dict[str, Any]:
    """Keyword arguments of a step: the rule's named inputs, outputs and params.

    ``threads`` is passed when the step takes it. A name used twice, or a required argument
    of the step that the rule does not provide, is a wiring error.
    """
    kwargs: dict[str, Any] = {}
    for group in (inputs, outputs, params):
        for name, value in group.items():
            if name in kwargs:
                raise TypeError(f"{step.__name__}: the rule names {name!r} twice")
            kwargs[name] = _plain(value)
    signature = inspect.signature(step)
    if "threads" in signature.parameters:
        kwargs["threads"] = threads
    missing = [
        name
        for name, p in signature.parameters.items()
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and name not in kwargs
    ]
    if missing:
        raise TypeError(f"{step.__name__}: the rule does not provide {missing}")
    return kwargs


def _describe(kwargs: Mapping[str, Any]) -> str:
    def short(value: Any) -> str:
        if isinstance(value, list) and len(value) > 4:
            return f"[{value[0]!r}, ... {len(value)} items]"
        return repr(value)

    return ", ".join(f"{k}={short(v)}" for k, v in kwargs.items())


def run_step(snakemake: Any, step: Callable) -> Any:
    """Set up the job, then call ``step`` with the rule's named inputs, outputs and params.

    Parameters
    ----------
    snakemake : snakemake.script.Snakemake
    step : callable
        A function of :mod:`netregions.steps` whose parameter names are the rule's input,
        output and params names.

    Returns
    -------
    The step's return value.
    """
    setup_job(snakemake)
    kwargs = step_arguments(
        dict(snakemake.input.items()),
        dict(snakemake.output.items()),
        dict(snakemake.params.items()),
        int(snakemake.threads),
        step,
    )
    log.info("%s(%s)", step.__name__, _describe(kwargs))
    return step(**kwargs)
