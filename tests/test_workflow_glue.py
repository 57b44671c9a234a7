"""The Snakemake glue: a rule's named inputs, outputs and params become a step's arguments."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from snakemake.iocontainers import InputFiles, OutputFiles, Params

from netregions.workflow import run_in_process, step_arguments


def _named(cls, items):
    """A Snakemake container with named entries; a list value becomes a named slice."""
    flat, spans = [], []
    for name, value in items.items():
        start = len(flat)
        flat += value if isinstance(value, list) else [value]
        spans.append((name, start, len(flat) if isinstance(value, list) else None))
    container = cls(flat)
    for name, start, end in spans:
        container._set_name(name, start, end)
    return container


def _rule(inputs=None, outputs=None, params=None):
    inputs = _named(
        InputFiles, inputs or {"means": ["a/mean.nii.gz", "b/mean.nii.gz"], "mask": "m.nii.gz"}
    )
    outputs = _named(OutputFiles, outputs or {"table": "out/table.tsv"})
    params = Params(fromdict=params or {"runs": ["a", "b"], "settings": {"alpha": 1}, "k": 3})
    return dict(inputs.items()), dict(outputs.items()), dict(params.items())


def _step(means, mask, table, *, runs, settings, k=8, threads=1):
    return locals()


def _step_without_threads(means, mask, table, *, runs, settings, k=8):
    return locals()


def test_names_pass_through_and_list_inputs_are_plain_lists():
    kwargs = step_arguments(*_rule(), threads=4, step=_step)
    assert kwargs == {
        "means": ["a/mean.nii.gz", "b/mean.nii.gz"],
        "mask": "m.nii.gz",
        "table": "out/table.tsv",
        "runs": ["a", "b"],
        "settings": {"alpha": 1},
        "k": 3,
        "threads": 4,
    }
    assert type(kwargs["means"]) is list and type(kwargs["runs"]) is list
    assert _step(**kwargs)["means"] == ["a/mean.nii.gz", "b/mean.nii.gz"]


def test_threads_only_for_steps_that_take_it():
    kwargs = step_arguments(*_rule(), threads=4, step=_step_without_threads)
    assert "threads" not in kwargs
    _step_without_threads(**kwargs)


def test_optional_arguments_may_be_left_out():
    inputs, outputs, params = _rule()
    del params["k"]
    kwargs = step_arguments(inputs, outputs, params, threads=1, step=_step)
    assert "k" not in kwargs and _step(**kwargs)["k"] == 8


def test_a_name_used_twice_is_an_error():
    inputs, outputs, params = _rule()
    params["mask"] = "again"
    with pytest.raises(TypeError, match=r"_step: the rule names 'mask' twice"):
        step_arguments(inputs, outputs, params, threads=1, step=_step)


def test_a_missing_required_argument_is_an_error():
    inputs, outputs, params = _rule()
    del inputs["mask"], params["settings"]
    with pytest.raises(TypeError, match=r"_step: the rule does not provide \['mask', 'settings'\]"):
        step_arguments(inputs, outputs, params, threads=1, step=_step)


def test_run_step_sets_up_the_job_and_calls_the_step(tmp_path):
    """In a subprocess: run_step changes process-wide state (logging, NUMBA_NUM_THREADS)."""
    script = textwrap.dedent(
        f"""
        import json, os
        from types import SimpleNamespace
        from snakemake.iocontainers import InputFiles, Log, OutputFiles, Params
        from netregions.workflow import run_step

        inputs = InputFiles(["a.tsv", "b.tsv"])
        inputs._set_name("timeseries", 0, 2)
        outputs = OutputFiles([{str(tmp_path / "out.json")!r}])
        outputs._set_name("result", 0)
        snakemake = SimpleNamespace(
            input=inputs, output=outputs, params=Params(fromdict={{"kind": "correlation"}}),
            threads=3, log=Log([{str(tmp_path / "logs" / "job.log")!r}]),
        )

        def my_step(timeseries, result, *, kind, threads):
            import scipy.linalg  # loads scipy's own BLAS after run_step set the limit
            from threadpoolctl import threadpool_info

            blas = sorted({{lib["num_threads"] for lib in threadpool_info()
                           if lib["user_api"] == "blas"}})
            payload = dict(timeseries=timeseries, kind=kind, threads=threads,
                           numba=os.environ["NUMBA_NUM_THREADS"], blas=blas)
            open(result, "w").write(json.dumps(payload))
            return "done"

        print(run_step(snakemake, my_step))
        """
    )
    # Snakemake sets the BLAS variables to the job's threads (capped by --cores): the maps of
    # the decomposition would then depend on --cores, so run_step keeps BLAS on one thread
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "3", "OMP_NUM_THREADS": "3"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True, text=True, timeout=120, check=True, env=env,
    )  # fmt: skip
    assert result.stdout.strip() == "done"
    payload = json.loads((tmp_path / "out.json").read_text())
    assert payload == {
        "timeseries": ["a.tsv", "b.tsv"],
        "kind": "correlation",
        "threads": 3,
        "numba": "3",
        "blas": [1],
    }
    log = (tmp_path / "logs" / "job.log").read_text()
    assert "my_step(timeseries=['a.tsv', 'b.tsv'], result=" in log and "kind='correlation'" in log
    assert "peak RSS" in log  # the report written when the job ends


_IN_PROCESS = """
import sys, threading
from pathlib import Path
from snakemake.iocontainers import InputFiles, Log, OutputFiles, Params
from netregions.signal import clean
from netregions.workflow import log, run_in_process
import numpy as np

root = Path(sys.argv[1])
both_started = threading.Barrier(2)
errors = {}

def my_step(table, result, *, name):
    both_started.wait(timeout=30)  # the two jobs overlap
    log.info("message of %s", name)
    clean(np.ones((1, 3)))  # the same warning from the same line of netregions, twice
    if name == "bad":
        raise ValueError("the bad job fails")
    Path(result).write_text(name)

def job(name):
    inputs = InputFiles(["in.tsv"]); inputs._set_name("table", 0)
    outputs = OutputFiles([str(root / f"{name}.txt")]); outputs._set_name("result", 0)
    params = Params(fromdict={"name": name})
    try:
        run_in_process(my_step, inputs, outputs, params, Log([str(root / "logs" / f"{name}.log")]))
    except ValueError as error:
        errors[name] = str(error)

threads = [threading.Thread(target=job, args=(n,)) for n in ("good", "bad")]
for t in threads: t.start()
for t in threads: t.join()
print(errors)

from threadpoolctl import threadpool_info
print(sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}))
"""


def test_run_in_process_keeps_each_thread_s_log_and_error(tmp_path):
    """Two jobs as threads of one process (as Snakemake runs ``run:`` jobs), in a subprocess."""
    result = subprocess.run(
        [sys.executable, "-c", _IN_PROCESS, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    errors, blas = result.stdout.strip().splitlines()
    assert errors == "{'bad': 'the bad job fails'}"  # re-raised to the caller (Snakemake)
    assert blas == "[1]"  # every BLAS of the process on one thread
    assert (tmp_path / "good.txt").read_text() == "good"
    good = (tmp_path / "logs" / "good.log").read_text()
    bad = (tmp_path / "logs" / "bad.log").read_text()
    assert "message of good" in good and "message of bad" not in good
    assert "message of bad" in bad and "message of good" not in bad
    # a warning is logged by every job that raises it, not only by the first one
    for text in (good, bad):
        assert text.count("standardization of a single sample is skipped") == 1
    assert "job failed" in bad and "ValueError: the bad job fails" in bad
    assert "job failed" not in good and "done in" in good
    assert "the bad job fails" in result.stderr  # errors also reach Snakemake's output


def test_run_in_process_refuses_a_step_that_takes_threads(tmp_path):
    inputs, outputs, params = _rule()
    with pytest.raises(TypeError, match="_step takes threads: its rule needs a script"):
        run_in_process(_step, inputs, outputs, params)
