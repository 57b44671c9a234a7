"""The Snakemake glue: a rule's named inputs, outputs and params become a step's arguments."""

import json
import subprocess
import sys
import textwrap

import pytest
from snakemake.iocontainers import InputFiles, OutputFiles, Params

from netregions.workflow import step_arguments


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
            payload = dict(timeseries=timeseries, kind=kind, threads=threads,
                           numba=os.environ["NUMBA_NUM_THREADS"])
            open(result, "w").write(json.dumps(payload))
            return "done"

        print(run_step(snakemake, my_step))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "done"
    payload = json.loads((tmp_path / "out.json").read_text())
    assert payload == {
        "timeseries": ["a.tsv", "b.tsv"],
        "kind": "correlation",
        "threads": 3,
        "numba": "3",
    }
    log = (tmp_path / "logs" / "job.log").read_text()
    assert "my_step(timeseries=['a.tsv', 'b.tsv'], result=" in log and "kind='correlation'" in log
    assert "peak RSS" in log  # the report written when the job ends
