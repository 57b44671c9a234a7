import json

import numpy as np
import pytest

from netregions.exceptions import InputDataError
from netregions.io import read_table
from netregions.steps.qc import qc

from .helpers import acompcor_metadata, fmriprep_columns, write_confounds

CONTRACT = ["run", "subject", "n_volumes", "n_censored", "mean_fd", "included", "reason"]
SCRUBBING = {
    "strategy": "scrubbing",
    "columns": None,
    "fd_threshold": None,
    "std_dvars_threshold": None,
}
NO_LIMITS = {"max_mean_fd": None, "max_censored_fraction": None, "min_usable_minutes": None}


def _stats(tmp_path, name, n_volumes, t_r=2.0, tsnr=55.5):
    path = tmp_path / f"{name}_stats.json"
    path.write_text(json.dumps({"n_volumes": n_volumes, "t_r": t_r, "tsnr": tsnr}))
    return str(path)


def _dataset(tmp_path, rng, with_c=True):
    """Run a: 60 volumes, 1 dummy, FD spikes at 20, 23, 40 (0.9 mm): 20-23 and 40 censored by
    'scrubbing'; run b: 50 volumes, no dummy, calm; run c (optional): no confounds file."""
    a = fmriprep_columns(rng, 60, dummy=1, fd_spikes=(20, 23, 40))
    b = fmriprep_columns(rng, 50, dummy=0, fd_level=0.05)
    write_confounds(tmp_path / "a.tsv", a)
    write_confounds(tmp_path / "b.tsv", b)
    runs = {
        "sub-01_task-rest": {
            "subject": "01",
            "session": None,
            "task": "rest",
            "confounds": str(tmp_path / "a.tsv"),
        },
        "sub-02_ses-1_task-rest": {
            "subject": "02",
            "session": "1",
            "task": "rest",
            "confounds": str(tmp_path / "b.tsv"),
        },
    }
    stats = [_stats(tmp_path, "a", 60), _stats(tmp_path, "b", 50, t_r=2.5, tsnr=70.25)]
    if with_c:
        runs["sub-03_task-rest"] = {
            "subject": "03",
            "session": None,
            "task": "rest",
            "confounds": None,
        }
        stats.append(_stats(tmp_path, "c", 30, t_r=1.0))
    return runs, stats, a["framewise_displacement"], b["framewise_displacement"]


def _outputs(tmp_path):
    return {"table": str(tmp_path / "qc.tsv"), "motion": str(tmp_path / "motion.npy")}


def test_qc_table_motion_censoring_and_usable_time(tmp_path, rng):
    runs, stats, fd_a, fd_b = _dataset(tmp_path, rng)
    confounds = [r["confounds"] for r in runs.values() if r["confounds"]]
    qc(
        stats,
        **_outputs(tmp_path),
        runs=runs,
        design=SCRUBBING,
        limits=NO_LIMITS,
        confounds=confounds,
    )
    rows = read_table(tmp_path / "qc.tsv")
    assert list(rows[0])[:7] == CONTRACT
    assert [r["run"] for r in rows] == list(runs)
    assert [r["subject"] for r in rows] == ["01", "02", "03"]
    assert [r["session"] for r in rows] == ["n/a", "1", "n/a"]
    assert [r["included"] for r in rows] == ["true"] * 3
    assert [r["reason"] for r in rows] == [""] * 3
    a, b, c = rows
    # run a: volume 0 is a dummy; FD of volume 1 is measured from it: both left out of the mean
    assert float(a["mean_fd"]) == pytest.approx(np.mean(fd_a[2:]), rel=1e-5)
    assert float(a["max_fd"]) == pytest.approx(0.9)
    assert (a["n_volumes"], a["n_dummy"], a["n_censored"], a["n_kept"]) == ("60", "1", "5", "54")
    assert float(a["censored_fraction"]) == pytest.approx(5 / 59, rel=1e-5)
    assert float(a["usable_minutes"]) == pytest.approx(54 * 2.0 / 60, rel=1e-5)
    assert float(a["tsnr"]) == 55.5 and float(a["t_r"]) == 2.0
    # run b: no dummy, nothing censored; volume 0 (n/a) left out
    assert float(b["mean_fd"]) == pytest.approx(np.mean(fd_b[1:]), rel=1e-5)
    assert (b["n_dummy"], b["n_censored"], b["n_kept"]) == ("0", "0", "50")
    assert float(b["usable_minutes"]) == pytest.approx(50 * 2.5 / 60, rel=1e-5)
    # run c: no confounds file: motion unknown, nothing censored
    assert (c["mean_fd"], c["max_fd"], c["n_censored"], c["n_kept"]) == ("n/a", "n/a", "0", "30")

    motion = np.load(tmp_path / "motion.npy")
    assert motion.shape == (3, 2, 60)
    np.testing.assert_allclose(motion[0, 0], np.nan_to_num(fd_a))
    kept = np.ones(60)
    kept[[0, 20, 21, 22, 23, 40]] = 0
    np.testing.assert_array_equal(motion[0, 1], kept)
    np.testing.assert_array_equal(motion[1, 1, :50], 1)
    assert np.isnan(motion[1, :, 50:]).all() and np.isnan(motion[2, 0, :30]).all()
    np.testing.assert_array_equal(motion[2, 1, :30], 1)


def test_censoring_follows_the_denoising_settings(tmp_path, rng):
    runs, stats, _, _ = _dataset(tmp_path, rng, with_c=False)
    design = {
        "strategy": "columns",
        "columns": ["csf"],
        "fd_threshold": None,
        "std_dvars_threshold": None,
    }
    qc(stats, **_outputs(tmp_path), runs=runs, design=design, limits=NO_LIMITS)
    a = read_table(tmp_path / "qc.tsv")[0]
    assert (a["n_dummy"], a["n_censored"], a["n_kept"]) == ("1", "0", "59")  # no censoring
    qc(
        stats,
        **_outputs(tmp_path),
        runs=runs,
        design={**design, "fd_threshold": 0.5},
        limits=NO_LIMITS,
    )
    a = read_table(tmp_path / "qc.tsv")[0]
    assert (a["n_censored"], a["n_kept"]) == ("5", "54")


@pytest.mark.parametrize(
    ("rule", "limit", "reason"),
    [
        ("max_censored_fraction", 0.05, "8.5% of volumes censored > qc.max_censored_fraction 0.05"),
        ("min_usable_minutes", 1.9, "1.8 usable minutes < qc.min_usable_minutes 1.9"),
    ],
)
def test_exclusion_rules_give_their_reason(tmp_path, rng, rule, limit, reason):
    runs, stats, _, _ = _dataset(tmp_path, rng, with_c=False)
    qc(stats, **_outputs(tmp_path), runs=runs, design=SCRUBBING, limits={**NO_LIMITS, rule: limit})
    a, b = read_table(tmp_path / "qc.tsv")
    assert (a["included"], a["reason"]) == ("false", reason)
    assert (b["included"], b["reason"]) == ("true", "")


def test_mean_fd_rule_gives_its_reason(tmp_path, rng):
    runs, stats, fd_a, fd_b = _dataset(tmp_path, rng, with_c=False)
    mean_a = np.mean(fd_a[2:])
    limit = round((mean_a + np.mean(fd_b[1:])) / 2, 4)  # between the two runs' means
    qc(
        stats,
        **_outputs(tmp_path),
        runs=runs,
        design=SCRUBBING,
        limits={**NO_LIMITS, "max_mean_fd": limit},
    )
    a, b = read_table(tmp_path / "qc.tsv")
    assert (a["included"], a["reason"]) == (
        "false",
        f"mean FD {mean_a:.3g} mm > qc.max_mean_fd {limit}",
    )
    assert b["included"] == "true"


def test_every_broken_rule_is_listed(tmp_path, rng):
    runs, stats, _, _ = _dataset(tmp_path, rng, with_c=False)  # the calm run b stays in
    limits = {"max_mean_fd": None, "max_censored_fraction": 0.05, "min_usable_minutes": 1.9}
    qc(stats, **_outputs(tmp_path), runs=runs, design=SCRUBBING, limits=limits)
    a, b = read_table(tmp_path / "qc.tsv")
    assert a["reason"].count("; ") == 1
    assert "qc.max_censored_fraction 0.05" in a["reason"]
    assert "qc.min_usable_minutes 1.9" in a["reason"]
    assert (b["included"], b["reason"]) == ("true", "")


def test_excluding_every_run_stops_at_qc_with_each_reason(tmp_path, rng):
    runs, stats, _, _ = _dataset(tmp_path, rng, with_c=False)
    limits = {"max_mean_fd": 0.01, "max_censored_fraction": 0.05, "min_usable_minutes": 1.9}
    with pytest.raises(InputDataError) as info:
        qc(stats, **_outputs(tmp_path), runs=runs, design=SCRUBBING, limits=limits)
    first, a, b = str(info.value).splitlines()
    assert first == (
        "the qc.* rules exclude every one of the 2 runs; loosen qc.max_mean_fd, "
        "qc.max_censored_fraction or qc.min_usable_minutes:"
    )
    assert a.startswith("sub-01_task-rest: ") and a.count("; ") == 2
    assert "qc.max_mean_fd 0.01" in a and "qc.min_usable_minutes 1.9" in a
    assert b.startswith("sub-02_ses-1_task-rest: ")
    assert not (tmp_path / "qc.tsv").exists()


def test_participants_columns_follow_the_qc_columns(tmp_path, rng):
    runs, stats, _, _ = _dataset(tmp_path, rng)
    participants = tmp_path / "participants.tsv"
    participants.write_text(
        "participant_id\tage\tgroup\nsub-01\t31\tpatient\nsub-02\t28\tcontrol\nsub-03\tn/a\tcontrol\n"
    )
    qc(
        stats,
        **_outputs(tmp_path),
        runs=runs,
        design=SCRUBBING,
        limits=NO_LIMITS,
        participants=str(participants),
    )
    rows = read_table(tmp_path / "qc.tsv")
    columns = list(rows[0])
    assert columns[:7] == CONTRACT and columns[-2:] == ["age", "group"]
    assert "participant_id" not in columns
    assert [(r["age"], r["group"]) for r in rows] == [
        ("31", "patient"),
        ("28", "control"),
        ("n/a", "control"),
    ]


def test_a_motion_rule_for_a_run_without_confounds_is_an_error(tmp_path, rng):
    runs, stats, _, _ = _dataset(tmp_path, rng)
    with pytest.raises(
        ValueError, match=r"^sub-03_task-rest: the motion rules .* need its confounds file"
    ):
        qc(
            stats,
            **_outputs(tmp_path),
            runs=runs,
            design=SCRUBBING,
            limits={**NO_LIMITS, "max_mean_fd": 0.5},
        )
    assert not (tmp_path / "qc.tsv").exists()


def test_a_rule_on_run_length_needs_no_confounds(tmp_path, rng):
    """min_usable_minutes is not a rule on motion: a run without confounds has all its volumes
    (the time series of such a run are not censored either)."""
    runs, stats, _, _ = _dataset(tmp_path, rng)
    limits = {**NO_LIMITS, "min_usable_minutes": 0.75}
    qc(stats, **_outputs(tmp_path), runs=runs, design=SCRUBBING, limits=limits)
    rows = read_table(tmp_path / "qc.tsv")
    c = rows[2]  # 30 volumes of 1 s: 0.5 minutes
    assert (c["included"], c["reason"]) == (
        "false",
        "0.5 usable minutes < qc.min_usable_minutes 0.75",
    )
    assert [r["included"] for r in rows[:2]] == ["true", "true"]


def test_a_mean_fd_rule_for_a_run_without_motion_columns_is_an_error(tmp_path, rng):
    table = fmriprep_columns(rng, 40, dummy=0)
    write_confounds(tmp_path / "a.tsv", {k: table[k] for k in ("csf", "white_matter")})
    runs = {"sub-01": {"subject": "01", "confounds": str(tmp_path / "a.tsv")}}
    design = {**SCRUBBING, "strategy": "columns", "columns": ["csf", "white_matter"]}
    stats = [_stats(tmp_path, "a", 40)]
    qc(stats, **_outputs(tmp_path), runs=runs, design=design, limits=NO_LIMITS)
    assert read_table(tmp_path / "qc.tsv")[0]["mean_fd"] == "n/a"  # no rule: reported unknown
    with pytest.raises(ValueError, match=r"^sub-01: qc.max_mean_fd needs the run's framewise"):
        qc(
            stats,
            **_outputs(tmp_path),
            runs=runs,
            design=design,
            limits={**NO_LIMITS, "max_mean_fd": 0.2},
        )


def _compcor_without_cosines(tmp_path, rng, t_r):
    """One run of 60 volumes (1 dummy) with 3 aCompCor components and no cosine column."""
    columns = fmriprep_columns(rng, 60, dummy=1, n_cosine=0, n_acompcor=3)
    write_confounds(tmp_path / "a.tsv", columns, acompcor_metadata(3))
    runs = {"sub-01_task-rest": {"subject": "01", "confounds": str(tmp_path / "a.tsv")}}
    stats = [_stats(tmp_path, "a", 60, t_r=t_r)]
    design = {**SCRUBBING, "strategy": "compcor"}
    return stats, {"runs": runs, "design": design, "limits": NO_LIMITS}


def test_compcor_on_a_run_too_short_for_cosines(tmp_path, rng):
    # 59 steady-state volumes x 2 s = 118 s: fMRIPrep writes no cosine under 128 s
    stats, call = _compcor_without_cosines(tmp_path, rng, t_r=2.0)
    qc(stats, **_outputs(tmp_path), **call)
    row = read_table(tmp_path / "qc.tsv")[0]
    # 24 motion terms and 3 aCompCor components; 59 volumes kept
    assert (row["n_confounds"], row["n_kept"], row["degrees_of_freedom"]) == ("27", "59", "32")


def test_compcor_without_cosines_on_a_run_long_enough_for_them(tmp_path, rng):
    # 59 x 2.5 s = 147.5 s: fMRIPrep writes one cosine
    stats, call = _compcor_without_cosines(tmp_path, rng, t_r=2.5)
    with pytest.raises(ValueError, match=r"sub-01_task-rest: .*fMRIPrep writes 1 for 59"):
        qc(stats, **_outputs(tmp_path), **call)
