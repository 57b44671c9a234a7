import json
import os
import re

import nibabel as nib
import numpy as np
import pytest

from netregions.exceptions import InputDataError
from netregions.io import read_table, save_nifti
from netregions.steps.check_inputs import check_inputs

from .helpers import AFFINE, acompcor_metadata, fmriprep_columns, write_confounds

N_VOLUMES = 40
SIMPLE = {"strategy": "simple", "columns": None, "fd_threshold": None, "std_dvars_threshold": None}


def _bold(path, rng, shape=(6, 7, 5, N_VOLUMES), affine=AFFINE, t_r=2.0):
    img = nib.Nifti1Image(rng.standard_normal(shape).astype(np.float32), affine)
    zooms = np.sqrt((affine[:3, :3] ** 2).sum(axis=0)).tolist()
    img.header.set_zooms((*zooms, t_r)[: len(shape)])
    nib.save(img, path)
    return str(path)


def _runs(tmp_path, rng, subjects=("01", "02"), sidecar_t_r=None, n_volumes=N_VOLUMES):
    runs = {}
    for s in subjects:
        name = f"sub-{s}_task-rest"
        bold = _bold(tmp_path / f"{name}_bold.nii.gz", rng, shape=(6, 7, 5, n_volumes))
        confounds = write_confounds(
            tmp_path / f"{name}_confounds.tsv", fmriprep_columns(rng, n_volumes)
        )
        sidecar = None
        if sidecar_t_r is not None:
            sidecar = tmp_path / f"{name}_bold.json"
            sidecar.write_text(json.dumps({"RepetitionTime": sidecar_t_r}))
        runs[name] = {
            "subject": s,
            "session": None,
            "task": "rest",
            "bold": bold,
            "confounds": str(confounds),
            "sidecar": None if sidecar is None else str(sidecar),
        }
    return runs


def _call(tmp_path, runs, design=SIMPLE, participants=None, covariates=(), **comparison):
    check_inputs(
        [r["bold"] for r in runs.values()],
        tmp_path / "inputs.tsv",
        runs=runs,
        design=design,
        confounds=[r["confounds"] for r in runs.values() if r["confounds"]],
        participants=participants,
        covariates=covariates,
        **comparison,
    )


def test_a_high_pass_at_the_nyquist_frequency_is_refused(tmp_path, rng):
    runs = _runs(tmp_path, rng, sidecar_t_r=2.5)  # Nyquist 0.5 / 2.5 = 0.2 Hz
    with pytest.raises(InputDataError) as info:
        _call(tmp_path, runs, high_pass=0.2)
    assert str(info.value).splitlines()[1:] == [
        f"{run}: confounds.high_pass=0.2 Hz is at or above the Nyquist frequency 0.2 Hz of its "
        "repetition time 2.5 s, so the filter would remove everything; lower confounds.high_pass"
        for run in runs
    ]
    assert not (tmp_path / "inputs.tsv").exists()
    _call(tmp_path, runs, high_pass=0.19)
    assert (tmp_path / "inputs.tsv").exists()


def test_manifest_of_every_run(tmp_path, rng):
    runs = _runs(tmp_path, rng, sidecar_t_r=2.5)
    participants = tmp_path / "participants.tsv"
    participants.write_text("participant_id\tage\nsub-01\t30\nsub-02\t40\nsub-09\t50\n")
    _call(tmp_path, runs, participants=str(participants))
    rows = read_table(tmp_path / "inputs.tsv")
    assert list(rows[0]) == [
        "run", "subject", "session", "task", "bold", "bold_bytes", "confounds",
        "n_volumes", "shape", "voxel_size_mm", "t_r",
    ]  # fmt: skip
    assert [r["run"] for r in rows] == list(runs)
    first = rows[0]
    files = runs["sub-01_task-rest"]
    assert (first["subject"], first["session"], first["task"]) == ("01", "n/a", "rest")
    assert first["bold"] == files["bold"] and first["confounds"] == files["confounds"]
    assert first["bold_bytes"] == str(os.path.getsize(files["bold"]))
    assert (first["n_volumes"], first["shape"], first["voxel_size_mm"]) == ("40", "6x7x5", "4x4x4")
    assert first["t_r"] == "2.5"  # the sidecar's, not the header's 2.0


def test_a_run_without_confounds_or_sidecar_uses_the_header(tmp_path, rng):
    runs = _runs(tmp_path, rng, subjects=("01",))
    runs["sub-01_task-rest"]["confounds"] = None
    _call(tmp_path, runs, design={**SIMPLE, "strategy": "columns"})  # the reference: no table
    row = read_table(tmp_path / "inputs.tsv")[0]
    assert (row["confounds"], row["t_r"]) == ("n/a", "2")


def test_a_header_tr_in_milliseconds_is_written_in_seconds(tmp_path, rng):
    runs = _runs(tmp_path, rng, subjects=("01",))
    bold = runs["sub-01_task-rest"]["bold"]
    img = nib.load(bold)
    img.header.set_xyzt_units("mm", "msec")
    img.header["pixdim"][4] = 1500.0
    nib.save(nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine, img.header), bold)
    _call(tmp_path, runs)
    assert read_table(tmp_path / "inputs.tsv")[0]["t_r"] == "1.5"


def test_a_preset_for_a_run_without_confounds_is_refused_before_any_job(tmp_path, rng):
    runs = _runs(tmp_path, rng, subjects=("01", "02"))
    runs["sub-02_task-rest"]["confounds"] = None
    with pytest.raises(InputDataError, match=r"sub-02_task-rest: confounds.strategy='simple'"):
        _call(tmp_path, runs)
    censoring = {**SIMPLE, "strategy": "columns", "fd_threshold": 0.5}
    with pytest.raises(InputDataError, match="sub-02_task-rest: .*censoring threshold"):
        _call(tmp_path, runs, design=censoring)
    assert not (tmp_path / "inputs.tsv").exists()


def test_every_problem_is_listed_naming_run_and_file(tmp_path, rng):
    runs = _runs(tmp_path, rng, subjects=("01", "02", "03", "04", "05", "06", "07"))
    # 02: missing file; 03: a 3D image; 04: confounds of 10 rows; 05: another grid;
    # 06: no TR anywhere; 07: a table without the columns of the 'simple' strategy
    os.remove(runs["sub-02_task-rest"]["bold"])
    save_nifti(np.zeros((6, 7, 5), np.float32), AFFINE, runs["sub-03_task-rest"]["bold"])
    write_confounds(runs["sub-04_task-rest"]["confounds"], fmriprep_columns(rng, 10))
    _bold(runs["sub-05_task-rest"]["bold"], rng, shape=(6, 7, 6, N_VOLUMES))
    _bold(runs["sub-06_task-rest"]["bold"], rng, t_r=0.0)
    columns = fmriprep_columns(rng, N_VOLUMES)
    del columns["white_matter"]
    write_confounds(runs["sub-07_task-rest"]["confounds"], columns)
    participants = tmp_path / "participants.tsv"
    participants.write_text(
        "participant_id\tage\n" + "".join(f"sub-0{i}\t3{i}\n" for i in range(1, 7))
    )
    with pytest.raises(InputDataError) as info:
        _call(tmp_path, runs, participants=str(participants))
    lines = str(info.value).splitlines()
    assert lines[0] == "7 input problem(s):"
    problems = "\n".join(lines[1:])
    assert len(lines) == 8
    assert f"sub-02_task-rest: file not found: {runs['sub-02_task-rest']['bold']}" in problems
    assert "sub-03_task-rest: expected a 4D image (x, y, z, time) but" in problems
    assert "sub-04_task-rest: confounds have 10 rows but the BOLD run has 40 volumes" in problems
    assert (
        "sub-05_task-rest: grid 6x7x6 voxels of 4x4x4 mm, origin (0, 0, 0) of "
        f"{runs['sub-05_task-rest']['bold']} differs from sub-01_task-rest's grid "
        f"6x7x5 voxels of 4x4x4 mm, origin (0, 0, 0) ({runs['sub-01_task-rest']['bold']})"
    ) in problems
    assert (
        "sub-06_task-rest: no repetition time: there is no sidecar and the NIfTI header" in problems
    )
    assert (
        "sub-07_task-rest: strategy 'simple' needs column(s) ['white_matter'], missing from"
        in problems
    )
    assert "has no row for subject(s) sub-07" in problems
    assert not (tmp_path / "inputs.tsv").exists()


def test_grids_differing_by_affine_name_both_grids(tmp_path, rng):
    runs = _runs(tmp_path, rng)
    shifted = AFFINE.copy()
    shifted[:3, 3] = [-10.0, 2.5, 0.0]
    _bold(runs["sub-02_task-rest"]["bold"], rng, affine=shifted)
    with pytest.raises(InputDataError, match=r"^1 input problem") as info:
        _call(tmp_path, runs)
    assert "sub-02_task-rest: grid 6x7x5 voxels of 4x4x4 mm, origin (-10, 2.5, 0) of" in str(
        info.value
    )
    assert "sub-01_task-rest's grid 6x7x5 voxels of 4x4x4 mm, origin (0, 0, 0)" in str(info.value)


def test_columns_strategy_with_an_unknown_column(tmp_path, rng):
    runs = _runs(tmp_path, rng, subjects=("01",))
    design = {**SIMPLE, "strategy": "columns", "columns": ["csf", "global_signal"]}
    with pytest.raises(
        InputDataError, match=r"sub-01_task-rest: unknown confound column\(s\) \['global_signal'\]"
    ):
        _call(tmp_path, runs, design=design)


def test_more_confound_columns_than_volumes_is_refused_before_compute(tmp_path, rng):
    n_volumes = 30
    runs = _runs(tmp_path, rng, subjects=("01",), n_volumes=n_volumes)
    # every column but the dummy flag; one dummy volume left out
    n_columns = len(fmriprep_columns(rng, n_volumes)) - 1
    assert n_columns >= n_volumes - 2  # too few degrees of freedom left
    design = {**SIMPLE, "strategy": "columns"}
    with pytest.raises(
        InputDataError,
        match=rf"sub-01_task-rest: {n_columns} confound columns of .*confounds.tsv for "
        rf"{n_volumes - 1} volumes leave too few degrees of freedom; choose a denoising preset",
    ):
        _call(tmp_path, runs, design=design)
    _call(tmp_path, runs, design={**design, "columns": ["csf", "white_matter"]})


@pytest.mark.parametrize(("n_columns", "refused"), [(18, True), (17, False)])
def test_confound_columns_must_leave_two_dimensions(tmp_path, rng, n_columns, refused):
    # 20 volumes, no dummy: 18 columns and the mean leave 1 dimension (every |r| = 1), 17 two
    runs = _runs(tmp_path, rng, subjects=("01",), n_volumes=20)
    columns = {f"c{i}": rng.standard_normal(20) for i in range(n_columns)}
    write_confounds(runs["sub-01_task-rest"]["confounds"], columns)
    design = {**SIMPLE, "strategy": "columns"}
    if refused:
        with pytest.raises(InputDataError, match=r"18 confound columns .* for 20 volumes leave"):
            _call(tmp_path, runs, design=design)
    else:
        _call(tmp_path, runs, design=design)
        assert (tmp_path / "inputs.tsv").exists()


def test_compcor_without_cosines_is_judged_by_the_run_length(tmp_path, rng):
    # 60 volumes, 1 dummy, no cosine column: 59 x 2 s (the header's TR) = 118 s, for which
    # fMRIPrep writes no cosine; at the sidecar's 2.5 s, 147.5 s, for which it writes one
    runs = _runs(tmp_path, rng, subjects=("01",), n_volumes=60)
    confounds = runs["sub-01_task-rest"]["confounds"]
    columns = fmriprep_columns(rng, 60, dummy=1, n_cosine=0, n_acompcor=3)
    write_confounds(confounds, columns, acompcor_metadata(3))
    compcor = {**SIMPLE, "strategy": "compcor"}
    _call(tmp_path, runs, design=compcor)
    assert read_table(tmp_path / "inputs.tsv")[0]["t_r"] == "2"
    (tmp_path / "inputs.tsv").unlink()
    sidecar = tmp_path / "sub-01_task-rest_bold.json"
    sidecar.write_text(json.dumps({"RepetitionTime": 2.5}))
    runs["sub-01_task-rest"]["sidecar"] = str(sidecar)
    with pytest.raises(
        InputDataError,
        match=r"sub-01_task-rest: strategy 'compcor' needs the cosine high-pass columns .*"
        r"fMRIPrep writes 1 for 59 steady-state volumes at TR 2.5 s \(147.5 s\), and there are "
        rf"none in {confounds}",
    ):
        _call(tmp_path, runs, design=compcor)
    assert not (tmp_path / "inputs.tsv").exists()


@pytest.mark.parametrize(
    ("strategy", "n_volumes", "n_cosine", "n_acompcor", "message"),
    [
        # fMRIPrep run with --return-all-components: every combined component is in the table
        (
            "compcor",
            60,
            1,
            40,
            r"takes 65 confound columns of .* \(24 motion, 40 a_comp_cor, 1 cosine\) for 59 "
            r"steady-state volumes, which leaves too few degrees of freedom; the 40 a_comp_cor "
            r"columns .*--return-all-components.*: use tables written without that option, "
            r"choose confounds.strategy: simple, or list the columns to use "
            r"\(confounds.strategy: columns, with confounds.columns\)$",
        ),
        (
            "scrubbing",
            30,
            2,
            0,
            r"takes 34 confound columns of .* \(24 motion, 8 csf/white_matter, 2 cosine\) for "
            r"29 steady-state volumes, .*; choose confounds.strategy: simple \(2 csf/white_matter "
            r"columns, not 8\), or list the columns to use",
        ),
        (
            "simple",
            25,
            2,
            0,
            r"takes 28 confound columns of .* \(24 motion, 2 csf/white_matter, 2 cosine\) for "
            r"24 steady-state volumes, .*; the run is too short for this preset: list the columns "
            r"to use \(confounds.strategy: columns, with confounds.columns\)$",
        ),
    ],
)
def test_too_many_preset_columns_are_counted_by_group(
    tmp_path, rng, strategy, n_volumes, n_cosine, n_acompcor, message
):
    runs = _runs(tmp_path, rng, subjects=("01",), n_volumes=n_volumes)
    columns = fmriprep_columns(rng, n_volumes, n_cosine=n_cosine, n_acompcor=n_acompcor)
    write_confounds(runs["sub-01_task-rest"]["confounds"], columns, acompcor_metadata(n_acompcor))
    with pytest.raises(InputDataError) as info:
        _call(tmp_path, runs, design={**SIMPLE, "strategy": strategy})
    problem = str(info.value).splitlines()[1]
    assert problem.startswith(f"sub-01_task-rest: strategy '{strategy}' takes ")
    assert re.search(message, problem), problem
    assert "choose a denoising preset" not in problem  # a preset is chosen already


# --------------------------------------------------------------------------- group column


def _participants(tmp_path, groups, column="group"):
    """participants.tsv with one row per subject: ``{subject: value}``."""
    path = tmp_path / "participants.tsv"
    rows = "".join(f"sub-{s}\t{value}\t3{i}\n" for i, (s, value) in enumerate(groups.items()))
    path.write_text(f"participant_id\t{column}\tage\n{rows}")
    return str(path)


def test_group_column_counts_the_selected_subjects_with_a_value(tmp_path, rng):
    runs = _runs(tmp_path, rng, subjects=("01", "02", "03", "04", "05"))
    # sub-05 has no value and sub-09 has no run: neither counts, so two groups of 2
    table = _participants(
        tmp_path, {"01": "a", "02": "b", "03": "a", "04": "b", "05": "n/a", "09": "c"}
    )
    _call(tmp_path, runs, participants=table, group_column="group", n_splits=2)
    assert (tmp_path / "inputs.tsv").exists()
    (tmp_path / "inputs.tsv").unlink()
    with pytest.raises(InputDataError) as info:
        _call(tmp_path, runs, participants=table, group_column="group", n_splits=3)
    assert str(info.value).splitlines()[1:] == [
        f"{table}: group 'a' has 2 subjects; group 'b' has 2 subjects, 3 are needed for 3-fold "
        "stratified cross-validation (group_comparison.column='group'), among the 5 selected "
        "subjects, 1 of them without a value; lower group_comparison.n_splits or add subjects"
    ]
    assert not (tmp_path / "inputs.tsv").exists()


@pytest.mark.parametrize(
    ("groups", "found"),
    [
        (
            {"01": "a", "02": "b", "03": "c", "04": "a", "05": "b"},
            "found 3: 'a' (2 subjects), 'b' (2 subjects), 'c' (1 subject), among the 5 "
            "selected subjects;",
        ),
        (
            {"01": "a", "02": "a", "03": "a", "04": "n/a", "05": "a"},
            "found 1: 'a' (4 subjects), among the 5 selected subjects, 1 of them without a value;",
        ),
        (
            {"01": "n/a", "02": "n/a", "03": "", "04": "n/a", "05": "n/a"},
            "found 0: no subjects, among the 5 selected subjects, 5 of them without a value;",
        ),
    ],
)
def test_group_column_without_two_groups_is_refused_before_compute(tmp_path, rng, groups, found):
    runs = _runs(tmp_path, rng, subjects=tuple(groups))
    table = _participants(tmp_path, groups)
    with pytest.raises(InputDataError) as info:
        _call(tmp_path, runs, participants=table, group_column="group", n_splits=2)
    problem = str(info.value).splitlines()[1]
    assert problem == (
        f"{table}: group_comparison.column='group' must define exactly two groups; {found} "
        "set group_comparison.column to a column with two values (n/a for the subjects to "
        "leave out)"
    )


def test_a_group_column_missing_from_the_table_is_refused_with_every_other_problem(tmp_path, rng):
    runs = _runs(tmp_path, rng)
    table = _participants(tmp_path, {"01": "a", "02": "b"}, column="Child_Adult")
    _call(tmp_path, runs, participants=table)  # no comparison: the column is not needed
    os.remove(runs["sub-02_task-rest"]["bold"])
    with pytest.raises(InputDataError) as info:
        _call(tmp_path, runs, participants=table, group_column="group", n_splits=2)
    lines = str(info.value).splitlines()
    assert lines[0] == "2 input problem(s):"
    assert lines[2] == (
        f"group_comparison.column='group' is not a column of {table}; it has ['Child_Adult', "
        "'age', 'participant_id']: set group_comparison.column to the one that holds the groups"
    )


def test_qcfc_covariates_are_checked_before_compute(tmp_path, rng):
    runs = _runs(tmp_path, rng, subjects=("01", "02", "03"))
    participants = tmp_path / "participants.tsv"
    participants.write_text(
        "participant_id\tage\tsex\tsite\nsub-01\t8\tM\tA\nsub-02\tn/a\tM\tA\nsub-03\t30\tn/a\tA\n"
    )
    _call(tmp_path, runs, participants=str(participants), covariates=["age"])
    assert (tmp_path / "inputs.tsv").exists()  # an n/a cell is allowed: its subject is left out
    (tmp_path / "inputs.tsv").unlink()
    with pytest.raises(InputDataError) as info:
        _call(tmp_path, runs, participants=str(participants), covariates=["age", "weight"])
    assert str(info.value).splitlines()[1:] == [
        f"qcfc.covariates: {participants} has no column 'weight'; its columns are "
        "participant_id, age, sex, site"
    ]
    with pytest.raises(InputDataError) as info:
        _call(tmp_path, runs, participants=str(participants), covariates=["site", "sex"])
    assert str(info.value).splitlines()[1:] == [
        f"qcfc.covariates: covariate 'site' is constant among the 3 subjects: every one is 'A' "
        f"({participants})",
        f"qcfc.covariates: covariate 'sex' is constant among the 2 subjects: every one is 'M' "
        f"({participants})",
    ]
    assert not (tmp_path / "inputs.tsv").exists()
    with pytest.raises(InputDataError, match="need a participants table"):
        _call(tmp_path, runs, covariates=["age"])
