"""Snakemake glue: how a rule's job calls its step function.

Two kinds of rules (docs/architecture.md):

- ``script:`` rules (the figures, the group decomposition, the downloads) run in a new Python
  process; their two-line script imports the step from :mod:`netregions.steps` and hands it
  to :func:`run_step`, which sets the process up and calls the step with the rule's named
  inputs, outputs and params as keyword arguments;
- ``run:`` rules (every other step: single-threaded, light) call :func:`run_in_process`,
  which does the same inside the process that runs the job: a thread of the Snakemake
  process with ``--force-use-threads`` (the workflow's default profile), or the job's own
  Snakemake process on a cluster. It changes nothing process-wide except what every such job
  needs the same way (below), so jobs running side by side as threads do not interfere.

Nothing heavy is imported here: ``common.smk`` imports this module while the workflow is
parsed.
"""

from __future__ import annotations

import atexit
import inspect
import logging
import os
import resource
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["peak_rss_mb", "run_in_process", "run_step", "setup_job", "step_arguments"]

log = logging.getLogger("netregions")
_FORMATTER = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")


def setup_job(snakemake: Any) -> logging.Logger:
    """Prepare a workflow job: log file, warnings, thread counts, peak-memory report.

    Must run before numba is imported: numba reads ``NUMBA_NUM_THREADS`` at import, and
    Snakemake sets the BLAS/OpenMP thread variables for a job but not numba's. The job's
    threads go to numba; BLAS runs on one thread.

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
    # The job's threads go to the numba kernels, whose results do not depend on them; BLAS
    # rounds differently with its thread count, and Snakemake gives a job fewer threads under
    # a smaller --cores, so BLAS stays on one thread as in the run: jobs.
    _blas_on_one_thread()
    log.setLevel(logging.INFO)
    log.handlers.clear()
    if snakemake.log:
        Path(snakemake.log[0]).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(snakemake.log[0], mode="w")
        handler.setFormatter(_FORMATTER)
        log.addHandler(handler)
    log.addHandler(_stderr_handler())
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").handlers = log.handlers
    warnings.simplefilter("default")
    _install_excepthook()
    atexit.register(_log_peak_memory, time.perf_counter())
    return log


def _stderr_handler() -> logging.Handler:
    """Warnings and errors of the package on stderr, where Snakemake shows them."""
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    console.setFormatter(_FORMATTER)
    return console


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


# --------------------------------------------------------------------------- run: jobs

_JOB_THREADS: set[int] = set()  # threads of this process that are running a job's step
_PREPARED = threading.Lock()
_prepared = False


def run_in_process(
    step: Callable,
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    params: Mapping[str, Any],
    log_files: Any = (),
) -> Any:
    """Call ``step`` for a ``run:`` rule's job, in the process and thread that runs the job.

    The job's log file receives this thread's records only, so jobs that Snakemake runs as
    threads side by side each keep their own log; warnings and errors also go to stderr.
    Every job runs its linear algebra on one thread (as a ``script:`` job with
    ``threads: 1`` does), so results do not depend on how many jobs share the process.

    Parameters
    ----------
    step : callable
        A function of :mod:`netregions.steps` taking no ``threads`` argument.
    inputs, outputs, params : mapping
        The rule's named inputs, outputs and params (``input``, ``output``, ``params`` inside
        a ``run:`` block).
    log_files : sequence of str
        The rule's ``log`` (its first file is the job's log).

    Returns
    -------
    The step's return value.

    Raises
    ------
    Exception
        Whatever the step raises, after it has been written to the job's log.
    """
    if "threads" in inspect.signature(step).parameters:
        raise TypeError(f"{step.__name__} takes threads: its rule needs a script, not run")
    kwargs = step_arguments(
        dict(inputs.items()), dict(outputs.items()), dict(params.items()), 1, step
    )
    _prepare_process()
    _single_threaded_libraries()
    ident = threading.get_ident()
    handler = _job_log_handler(list(log_files), ident)
    _JOB_THREADS.add(ident)
    start = time.perf_counter()
    try:
        log.info("%s(%s)", step.__name__, _describe(kwargs))
        result = step(**kwargs)
        log.info("done in %.2f s (in process %d)", time.perf_counter() - start, os.getpid())
        return result
    except BaseException:
        log.error("job failed", exc_info=True)
        raise
    finally:
        _JOB_THREADS.discard(ident)
        if handler is not None:
            log.removeHandler(handler)
            handler.close()


class _ThreadFilter(logging.Filter):
    """Pass the records of one thread only."""

    def __init__(self, ident: int) -> None:
        super().__init__()
        self.ident = ident

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self.ident


def _job_log_handler(log_files: list, ident: int) -> logging.Handler | None:
    """A handler writing the records of thread ``ident`` to the job's log file."""
    if not log_files:
        return None
    path = Path(str(log_files[0]))
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(_FORMATTER)
    handler.addFilter(_ThreadFilter(ident))
    log.addHandler(handler)
    return handler


def _prepare_process() -> None:
    """Once per process: the package logger's level and stderr handler, warnings routed."""
    global _prepared
    with _PREPARED:
        if _prepared:
            return
        log.setLevel(logging.INFO)
        log.addHandler(_stderr_handler())
        # every run's warnings in its own log, not only the first job's ("default" shows a
        # warning once per code location and process)
        warnings.filterwarnings("always", module="netregions")
        warnings.showwarning = _warning_router(warnings.showwarning)
        _prepared = True


def _warning_router(original: Callable) -> Callable:
    """``warnings.showwarning`` that logs a job thread's warnings to its job's log."""

    def show(message, category, filename, lineno, file=None, line=None):
        if threading.get_ident() not in _JOB_THREADS:
            return original(message, category, filename, lineno, file, line)
        text = warnings.formatwarning(message, category, filename, lineno, line)
        log.warning("%s", text.rstrip())

    return show


#: The thread-count variables of the BLAS libraries numpy and scipy may load.
_BLAS_THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def _blas_on_one_thread() -> None:
    """BLAS on one thread in this process: the libraries loaded so far, and those loaded later.

    For a script job's process. The environment reaches the BLAS libraries that load later
    (scipy's, for instance), so nothing is imported only to limit it; OpenMP, which numba's
    kernels may use, keeps the job's threads.
    """
    for variable in _BLAS_THREAD_VARIABLES:
        os.environ[variable] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _single_threaded_libraries() -> None:
    """BLAS and OpenMP on one thread in this process, for the libraries loaded so far.

    Called at the start of every ``run:`` job, as a step may load a library the previous ones
    did not; every caller sets the same limit, so concurrent jobs cannot undo each other's.
    """
    # numpy's and scipy's BLAS (scipy ships its own) are loaded before they are limited
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
