"""Subject batches: how the per-subject stages group subjects into jobs, and the batch runner."""

from __future__ import annotations

import logging
import sys
import warnings
from types import SimpleNamespace

import pytest

from netregions.exceptions import ConfigError
from netregions.workflow import run_per_subject, subject_batches


@pytest.mark.parametrize("n_subjects", [1, 2, 9, 10, 11, 20, 21, 155])
@pytest.mark.parametrize("per_job", [1, 3, 10])
def test_batches_cover_every_subject_once_in_order(n_subjects, per_job):
    subjects = [f"{i:03d}" for i in range(1, n_subjects + 1)]
    batches = subject_batches(subjects, per_job)
    flat = [s for members in batches.values() for s in members]
    assert flat == subjects
    sizes = [len(m) for m in batches.values()]
    assert all(size == per_job for size in sizes[:-1]) and 1 <= sizes[-1] <= per_job
    assert len(batches) == -(-n_subjects // per_job)


def test_batch_labels_name_first_and_last_subject():
    batches = subject_batches(["01", "02", "03", "04", "05"], 2)
    assert batches == {
        "sub-01_to_sub-02": ["01", "02"],
        "sub-03_to_sub-04": ["03", "04"],
        "sub-05": ["05"],
    }


def test_adding_subjects_at_the_end_keeps_earlier_batches():
    before = subject_batches([f"{i:02d}" for i in range(1, 14)], 5)
    after = subject_batches([f"{i:02d}" for i in range(1, 17)], 5)
    changed = {label for label in after if before.get(label) != after[label]}
    assert changed == {"sub-11_to_sub-15", "sub-16"}
    assert set(before) - set(after) == {"sub-11_to_sub-13"}


def test_subjects_per_job_must_be_positive():
    with pytest.raises(ConfigError, match="subjects_per_job=0 must be at least 1"):
        subject_batches(["01"], 0)


@pytest.fixture
def job(tmp_path, monkeypatch):
    """What Snakemake hands a script job; the job's log handlers are closed afterwards."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr("atexit.register", lambda *args: None)
    monkeypatch.setattr(warnings, "filters", warnings.filters[:])
    yield SimpleNamespace(threads=1, log=[str(tmp_path / "job.log")])
    logger = logging.getLogger("netregions")
    for handler in logger.handlers:
        handler.close()
    logger.handlers.clear()
    logging.captureWarnings(False)


def test_runner_calls_the_step_once_per_subject_with_its_own_arguments(job, tmp_path, monkeypatch):
    calls = []
    module = SimpleNamespace(step=lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr("importlib.import_module", lambda name: module)
    run_per_subject(
        job,
        "fake:step",
        ["01", "02"],
        {"bold": ["a.nii.gz", "b.nii.gz"], "out": ["a.npy", "b.npy"]},
        fwhm=6.0,
    )
    assert calls == [
        {"subject": "01", "bold": "a.nii.gz", "out": "a.npy", "fwhm": 6.0},
        {"subject": "02", "bold": "b.nii.gz", "out": "b.npy", "fwhm": 6.0},
    ]
    text = (tmp_path / "job.log").read_text()
    assert "sub-01 done in" in text and "sub-02 done in" in text


def test_runner_writes_one_benchmark_style_timing_per_subject(job, tmp_path, monkeypatch):
    monkeypatch.setattr(
        "importlib.import_module", lambda name: SimpleNamespace(step=lambda **kwargs: None)
    )
    paths = [tmp_path / "sub-01.tsv", tmp_path / "sub-02.tsv"]
    run_per_subject(job, "fake:step", ["01", "02"], {}, timings=paths)
    for path in paths:
        header, row = (line.split("\t") for line in path.read_text().splitlines())
        assert header[:3] == ["s", "h:m:s", "max_rss"] and len(row) == len(header) == 10
        values = dict(zip(header, row, strict=True))
        assert float(values["s"]) >= 0 and float(values["max_rss"]) > 0
        assert float(values["cpu_time"]) >= 0 and values["io_in"] == "NA"


def test_runner_rejects_mismatched_per_subject_lists(job):
    with pytest.raises(ValueError, match="out has 1 values for 2 subjects"):
        run_per_subject(job, "subject:load_subject", ["01", "02"], {"out": ["a"]})
    with pytest.raises(ValueError, match="timings has 3 values for 2 subjects"):
        run_per_subject(job, "subject:load_subject", ["01", "02"], {}, timings=["a"] * 3)


def test_runner_stops_at_the_first_failing_subject(job, monkeypatch):
    seen = []

    def step(subject):
        seen.append(subject)
        if subject == "02":
            raise ValueError("sub-02: broken")

    monkeypatch.setattr("importlib.import_module", lambda name: SimpleNamespace(step=step))
    with pytest.raises(ValueError, match="sub-02: broken"):
        run_per_subject(job, "fake:step", ["01", "02", "03"], {})
    assert seen == ["01", "02"]
