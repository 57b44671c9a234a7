"""BIDS names, fMRIPrep run discovery, TR and participants rules (docs/methods/bids.md).

The fMRIPrep trees below use file names as fMRIPrep writes them (its writer puts ``dir`` before
``rec`` in functional names); expected values are typed by hand.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from netregions.bids import (
    ENTITY_ORDER,
    RUN_ENTITIES,
    Run,
    bids_uri,
    brain_mask_names,
    dataset_description,
    derivative_path,
    discover_fmriprep_runs,
    format_bids_name,
    parse_bids_name,
    read_participants,
    read_repetition_time,
    run_directory,
    run_name,
    write_json,
)
from netregions.exceptions import InputDataError

MNI = "MNI152NLin2009cAsym"


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name,entities,suffix,extension",
    [
        (
            "sub-01_task-rest_run-2_space-X_desc-preproc_bold.nii.gz",
            {"sub": "01", "task": "rest", "run": "2", "space": "X", "desc": "preproc"},
            "bold",
            ".nii.gz",
        ),
        (
            "sub-01_ses-1_task-rest_run-1_space-fsLR_den-91k_bold.dtseries.nii",
            {"sub": "01", "ses": "1", "task": "rest", "run": "1", "space": "fsLR", "den": "91k"},
            "bold",
            ".dtseries.nii",
        ),
        (
            "sub-pixar001_task-pixar_desc-reducedConfounds_regressors.tsv",
            {"sub": "pixar001", "task": "pixar", "desc": "reducedConfounds"},
            "regressors",
            ".tsv",
        ),
        ("atlas-netregions_dseg.nii.gz", {"atlas": "netregions"}, "dseg", ".nii.gz"),
    ],
)
def test_parse_bids_name(name, entities, suffix, extension):
    assert parse_bids_name(name) == (entities, suffix, extension)


def test_parse_bids_name_keeps_the_order_of_the_name_and_accepts_paths():
    entities, _, _ = parse_bids_name(
        "/data/sub-02/func/sub-02_task-rest_acq-mb4_dir-PA_rec-nordic_run-1_desc-preproc_bold.nii"
    )
    assert list(entities) == ["sub", "task", "acq", "dir", "rec", "run", "desc"]


@pytest.mark.parametrize(
    "name",
    [
        "participants.tsv",
        "dataset_description.json",
        "sub-01_task-rest.nii.gz",  # no suffix
        "sub-01_task-rest_bold",  # no extension
        "sub-01__bold.nii.gz",
        "sub-01_task_bold.nii.gz",
        "sub-01_task-rest-1_bold.nii.gz",
        "sub-01_task-re.st_bold.nii.gz",
        "sub-01_run-1_run-2_bold.nii.gz",
        "sub-01_task-rest_bold.nii.",
    ],
)
def test_parse_bids_name_rejects_non_bids_names(name):
    with pytest.raises(ValueError, match=re.escape(repr(name))):
        parse_bids_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "sub-01_ses-1_task-rest_acq-mb4_ce-gd_rec-nordic_dir-PA_run-2_echo-1_part-mag"
        "_space-MNI152NLin2009cAsym_res-2_desc-preproc_bold.nii.gz",
        "sub-01_task-rest_run-1_hemi-L_space-fsaverage5_bold.func.gii",
        "sub-01_task-rest_run-1_space-fsLR_den-91k_bold.dtseries.nii",
        "sub-01_task-rest_space-MNIPediatricAsym_cohort-2_res-2_desc-brain_mask.nii.gz",
        "sub-01_task-rest_run-2_seg-netregions_stat-correlation_relmat.tsv",
        "sub-01_space-MNI152NLin6Asym_res-2_label-GM_probseg.nii.gz",
        "sub-01_space-X_atlas-Schaefer_seg-net7_res-2_den-91k_label-L_stat-mean_desc-a_x.tsv",
    ],
)
def test_format_inverts_parse_for_names_in_bids_order(name):
    assert format_bids_name(*parse_bids_name(name)) == name


def test_format_writes_entities_in_bids_order():
    entities = {
        "desc": "preproc",
        "stat": "correlation",
        "res": "2",
        "space": "T1w",
        "seg": "netregions",
        "run": "3",
        "dir": "PA",
        "rec": "nordic",
        "task": "rest",
        "label": "GM",
        "ses": "2",
        "sub": "01",
    }
    assert format_bids_name(entities, "bold", ".nii.gz") == (
        "sub-01_ses-2_task-rest_rec-nordic_dir-PA_run-3_space-T1w_seg-netregions_res-2"
        "_label-GM_stat-correlation_desc-preproc_bold.nii.gz"
    )


def test_format_puts_rec_before_dir_in_an_fmriprep_name():
    name = "sub-02_task-rest_acq-mb4_dir-PA_rec-nordic_run-1_desc-confounds_timeseries.tsv"
    assert format_bids_name(*parse_bids_name(name)) == (
        "sub-02_task-rest_acq-mb4_rec-nordic_dir-PA_run-1_desc-confounds_timeseries.tsv"
    )


def test_format_leaves_out_none_labels():
    entities = {"sub": "01", "ses": None, "task": "rest"}
    assert format_bids_name(entities, "bold", ".json") == "sub-01_task-rest_bold.json"


@pytest.mark.parametrize(
    "entities,suffix,extension,message",
    [
        (
            {"sub": "01", "foo": "1", "bar": "2"},
            "bold",
            ".tsv",
            r"unknown BIDS entities \['bar', 'foo'\]",
        ),
        ({"sub": "01", "task": "rest_1"}, "bold", ".tsv", "the task label 'rest_1'"),
        ({"sub": "01", "task": ""}, "bold", ".tsv", "the task label ''"),
        ({"sub": "01"}, "time_series", ".tsv", "suffix 'time_series'"),
        ({"sub": "01"}, "bold", "tsv", "extension 'tsv'"),
    ],
)
def test_format_rejects_bad_input(entities, suffix, extension, message):
    with pytest.raises(ValueError, match=message):
        format_bids_name(entities, suffix, extension)


def test_entity_order_follows_the_bids_schema_with_cohort_and_stat_placed():
    # relative order in the BIDS 1.10 schema (rules/entities.yaml), typed by hand
    schema = ["sub", "ses", "task", "acq", "ce", "rec", "dir", "run", "echo", "part", "hemi",
              "space", "atlas", "seg", "res", "den", "label", "desc"]  # fmt: skip
    assert [key for key in ENTITY_ORDER if key in schema] == schema
    assert ENTITY_ORDER[-2:] == ("stat", "desc")
    assert ENTITY_ORDER.index("cohort") == ENTITY_ORDER.index("space") + 1
    assert RUN_ENTITIES == ("sub", "ses", "task", "acq", "ce", "rec", "dir", "run", "echo", "part")
    assert ENTITY_ORDER[: len(RUN_ENTITIES)] == RUN_ENTITIES


# --------------------------------------------------------------------------- runs


def test_run_name_keeps_run_entities_in_bids_order():
    entities = {
        "part": "mag",
        "space": "T1w",
        "echo": "1",
        "run": "2",
        "dir": "AP",
        "rec": "nordic",
        "ce": "gd",
        "acq": "mb4",
        "task": "rest",
        "ses": "1",
        "sub": "01",
        "res": "2",
        "desc": "preproc",
    }
    assert (
        run_name(entities)
        == "sub-01_ses-1_task-rest_acq-mb4_ce-gd_rec-nordic_dir-AP_run-2_echo-1_part-mag"
    )


@pytest.mark.parametrize(
    "name,expected_run,expected_directory",
    [
        (
            f"sub-01_task-pixar_space-{MNI}_desc-preproc_bold.nii.gz",
            "sub-01_task-pixar",
            "sub-01/func",
        ),
        ("sub-01.nii.gz".replace(".nii.gz", "_bold.nii.gz"), "sub-01", "sub-01/func"),
        (
            f"sub-01_ses-1_task-rest_run-2_space-{MNI}_res-2_desc-preproc_bold.nii.gz",
            "sub-01_ses-1_task-rest_run-2",
            "sub-01/ses-1/func",
        ),  # fmt: skip
    ],
)
def test_run_name_and_directory_of_a_file(name, expected_run, expected_directory):
    entities, _, _ = parse_bids_name(name)
    assert run_name(entities) == expected_run
    assert run_directory(entities) == expected_directory
    assert run_directory(expected_run) == expected_directory


@pytest.mark.parametrize(
    "bad", ["task-rest_run-1", "task-rest_sub-01", "sub-01_space-T1w", "sub-01_bold"]
)
def test_run_directory_rejects_what_is_not_a_run_name(bad):
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        run_directory(bad)


def test_run_name_needs_a_subject():
    with pytest.raises(ValueError, match="needs a subject"):
        run_name({"task": "rest"})
    with pytest.raises(ValueError, match="needs a subject"):
        run_directory({"task": "rest"})


# --------------------------------------------------------------------------- derivative paths


def test_derivative_path_examples():
    run = "sub-01_ses-1_task-rest_run-2"
    assert derivative_path(run, "timeseries", ".tsv", seg="netregions") == (
        "sub-01/ses-1/func/sub-01_ses-1_task-rest_run-2_seg-netregions_timeseries.tsv"
    )
    assert derivative_path(run, "relmat", ".tsv", stat="correlation", seg="netregions") == (
        "sub-01/ses-1/func/sub-01_ses-1_task-rest_run-2_seg-netregions_stat-correlation_relmat.tsv"
    )
    assert derivative_path(run, "components", ".nii.gz", desc="dualreg") == (
        "sub-01/ses-1/func/sub-01_ses-1_task-rest_run-2_desc-dualreg_components.nii.gz"
    )
    assert derivative_path("sub-01_task-pixar", "timeseries", ".tsv", seg="netregions") == (
        "sub-01/func/sub-01_task-pixar_seg-netregions_timeseries.tsv"
    )
    assert derivative_path("sub-07", "relmat", ".tsv", seg="netregions", stat="tangent") == (
        "sub-07/func/sub-07_seg-netregions_stat-tangent_relmat.tsv"
    )


def test_derivative_path_rejects_run_entities_and_bad_run_names():
    with pytest.raises(ValueError, match=r"\['run'\] are run entities"):
        derivative_path("sub-01_task-rest", "timeseries", ".tsv", run="2")
    with pytest.raises(ValueError, match="'task-rest_sub-01' is not a run name"):
        derivative_path("task-rest_sub-01", "timeseries", ".tsv")
    with pytest.raises(ValueError, match=r"unknown BIDS entities \['meas'\]"):
        derivative_path("sub-01", "relmat", ".tsv", meas="r")


# --------------------------------------------------------------------------- fMRIPrep trees


def _touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _bold_in_space(func: Path, run: str, space: str, t_r: float = 2.0) -> None:
    """What fMRIPrep writes for one run in one volumetric space (``space`` may carry res)."""
    _touch(func / f"{run}_space-{space}_desc-preproc_bold.nii.gz")
    _touch(
        func / f"{run}_space-{space}_desc-preproc_bold.json", json.dumps({"RepetitionTime": t_r})
    )
    _touch(func / f"{run}_space-{space}_desc-brain_mask.nii.gz")
    _touch(func / f"{run}_space-{space}_desc-brain_mask.json", "{}")
    _touch(func / f"{run}_space-{space}_boldref.nii.gz")


def _fmriprep_run(func: Path, run: str, spaces, confounds: str = "timeseries") -> None:
    """One run as fMRIPrep 25 writes it: volumetric spaces, CIFTI, GIFTI, confounds, xfm."""
    for space in spaces:
        _bold_in_space(func, run, space)
    _touch(func / f"{run}_space-fsLR_den-91k_bold.dtseries.nii")
    _touch(func / f"{run}_space-fsLR_den-91k_bold.json", '{"RepetitionTime": 2.0}')
    _touch(func / f"{run}_hemi-L_space-fsaverage5_bold.func.gii")
    _touch(func / f"{run}_desc-confounds_{confounds}.tsv", "trans_x\n0\n")
    _touch(func / f"{run}_desc-confounds_{confounds}.json", "{}")
    _touch(func / f"{run}_desc-coreg_boldref.nii.gz")
    _touch(func / f"{run}_from-boldref_to-T1w_mode-image_desc-coreg_xfm.txt")


@pytest.fixture
def fmriprep(tmp_path) -> Path:
    """Four subjects: sessions, runs, two tasks, acq/dir/rec, old confounds, multi-echo."""
    root = tmp_path / "fmriprep"
    _touch(root / "dataset_description.json", '{"Name": "fMRIPrep"}')
    _touch(root / "logs" / "CITATION.md")
    for label in ("01", "02", "03", "04"):
        _touch(root / f"sub-{label}.html")
    _touch(root / "sub-01" / "anat" / f"sub-01_space-{MNI}_res-2_desc-preproc_T1w.nii.gz")
    _touch(root / "sub-01" / "figures" / "sub-01_ses-1_task-rest_run-1_desc-carpetplot_bold.svg")

    ses1 = root / "sub-01" / "ses-1" / "func"
    six = ["MNI152NLin6Asym_res-1", "MNI152NLin6Asym_res-2"]
    _fmriprep_run(ses1, "sub-01_ses-1_task-rest_run-1", [f"{MNI}_res-2", "T1w", *six])
    _fmriprep_run(ses1, "sub-01_ses-1_task-rest_run-2", [f"{MNI}_res-2", "T1w"])
    _fmriprep_run(ses1, "sub-01_ses-1_task-nback_acq-mb4_run-1", [f"{MNI}_res-2", "T1w"])
    ses2 = root / "sub-01" / "ses-2" / "func"
    _fmriprep_run(ses2, "sub-01_ses-2_task-rest_run-1", [f"{MNI}_res-2", "T1w"])

    func2 = root / "sub-02" / "func"  # fMRIPrep writes dir before rec in func names
    _fmriprep_run(
        func2, "sub-02_task-rest_acq-mb4_dir-PA_rec-nordic_run-1", [f"{MNI}_res-2", "T1w"]
    )
    _fmriprep_run(func2, "sub-02_task-nback_acq-mb4_dir-PA_rec-nordic_run-1", [f"{MNI}_res-2"])

    func3 = root / "sub-03" / "func"  # fMRIPrep 20.1: no res entity, regressors suffix
    _touch(func3 / f"sub-03_task-rest_space-{MNI}_desc-preproc_bold.nii.gz")
    _touch(func3 / "sub-03_task-rest_desc-confounds_regressors.tsv", "trans_x\n0\n")
    _touch(func3 / "sub-03_task-rest_desc-confounds_regressors.json", "{}")

    func4 = root / "sub-04" / "func"  # multi-echo: combined run plus per-echo native files
    _bold_in_space(func4, "sub-04_task-rest", f"{MNI}_res-2")
    for echo in (1, 2, 3):
        _touch(func4 / f"sub-04_task-rest_echo-{echo}_desc-preproc_bold.nii.gz")
        _touch(func4 / f"sub-04_task-rest_echo-{echo}_desc-preproc_bold.json", "{}")
    _touch(func4 / "sub-04_task-rest_desc-confounds_timeseries.tsv", "trans_x\n0\n")
    _touch(func4 / "sub-04_task-rest_desc-confounds_timeseries.json", "{}")
    _touch(func4 / ".DS_Store")
    _touch(func4 / f"._sub-04_task-rest_space-{MNI}_res-2_desc-preproc_bold.nii.gz")
    return root


ALL_MNI_RUNS = [
    "sub-01_ses-1_task-nback_acq-mb4_run-1",
    "sub-01_ses-1_task-rest_run-1",
    "sub-01_ses-1_task-rest_run-2",
    "sub-01_ses-2_task-rest_run-1",
    "sub-02_task-nback_acq-mb4_rec-nordic_dir-PA_run-1",
    "sub-02_task-rest_acq-mb4_rec-nordic_dir-PA_run-1",
    "sub-03_task-rest",
    "sub-04_task-rest",
]


def _names(runs):
    return [run.name for run in runs]


def test_discovery_finds_every_run_of_the_space_sorted(fmriprep):
    assert _names(discover_fmriprep_runs(fmriprep, MNI)) == ALL_MNI_RUNS


def test_discovery_pairs_each_run_with_its_files(fmriprep):
    runs = {run.name: run for run in discover_fmriprep_runs(fmriprep, MNI)}
    func = fmriprep / "sub-01" / "ses-1" / "func"
    run = runs["sub-01_ses-1_task-rest_run-2"]
    assert run == Run(
        name="sub-01_ses-1_task-rest_run-2",
        subject="01",
        session="1",
        task="rest",
        bold=str(func / f"sub-01_ses-1_task-rest_run-2_space-{MNI}_res-2_desc-preproc_bold.nii.gz"),
        confounds=str(func / "sub-01_ses-1_task-rest_run-2_desc-confounds_timeseries.tsv"),
        sidecar=str(
            func / f"sub-01_ses-1_task-rest_run-2_space-{MNI}_res-2_desc-preproc_bold.json"
        ),
        brain_mask=str(
            func / f"sub-01_ses-1_task-rest_run-2_space-{MNI}_res-2_desc-brain_mask.nii.gz"
        ),
        entities={
            "sub": "01",
            "ses": "1",
            "task": "rest",
            "run": "2",
            "space": MNI,
            "res": "2",
            "desc": "preproc",
        },  # fmt: skip
    )
    assert run.directory == "sub-01/ses-1/func"
    assert len({run, run}) == 1  # hashable despite the entities dict


def test_discovery_pairs_fmriprep_dir_rec_order_old_confounds_and_multi_echo(fmriprep):
    runs = {run.name: run for run in discover_fmriprep_runs(fmriprep, MNI)}
    run2 = runs["sub-02_task-rest_acq-mb4_rec-nordic_dir-PA_run-1"]
    assert run2.session is None
    assert run2.directory == "sub-02/func"
    prefix = fmriprep / "sub-02/func/sub-02_task-rest_acq-mb4_dir-PA_rec-nordic_run-1"
    assert run2.confounds == f"{prefix}_desc-confounds_timeseries.tsv"
    assert run2.brain_mask == f"{prefix}_space-{MNI}_res-2_desc-brain_mask.nii.gz"
    assert run2.sidecar == f"{prefix}_space-{MNI}_res-2_desc-preproc_bold.json"
    run3 = runs["sub-03_task-rest"]
    assert run3.confounds == str(
        fmriprep / "sub-03/func/sub-03_task-rest_desc-confounds_regressors.tsv"
    )
    assert (run3.sidecar, run3.brain_mask) == (None, None)
    run4 = runs["sub-04_task-rest"]
    assert run4.bold == str(
        fmriprep / f"sub-04/func/sub-04_task-rest_space-{MNI}_res-2_desc-preproc_bold.nii.gz"
    )
    assert run4.confounds == str(
        fmriprep / "sub-04/func/sub-04_task-rest_desc-confounds_timeseries.tsv"
    )


def test_discovery_in_another_space(fmriprep):
    runs = discover_fmriprep_runs(fmriprep, "T1w")
    assert _names(runs) == [
        "sub-01_ses-1_task-nback_acq-mb4_run-1",
        "sub-01_ses-1_task-rest_run-1",
        "sub-01_ses-1_task-rest_run-2",
        "sub-01_ses-2_task-rest_run-1",
        "sub-02_task-rest_acq-mb4_rec-nordic_dir-PA_run-1",
    ]
    assert runs[1].bold.endswith("sub-01_ses-1_task-rest_run-1_space-T1w_desc-preproc_bold.nii.gz")
    assert runs[1].brain_mask.endswith(
        "sub-01_ses-1_task-rest_run-1_space-T1w_desc-brain_mask.nii.gz"
    )
    # the same confounds table serves every space
    assert runs[1].confounds.endswith("sub-01_ses-1_task-rest_run-1_desc-confounds_timeseries.tsv")


def test_discovery_filters_by_task(fmriprep):
    assert _names(discover_fmriprep_runs(fmriprep, MNI, task="nback")) == [
        "sub-01_ses-1_task-nback_acq-mb4_run-1",
        "sub-02_task-nback_acq-mb4_rec-nordic_dir-PA_run-1",
    ]
    assert _names(discover_fmriprep_runs(fmriprep, MNI, task="rest")) == [
        name for name in ALL_MNI_RUNS if "task-rest" in name
    ]


def test_discovery_takes_a_lone_string_as_one_subject(fmriprep):
    assert _names(discover_fmriprep_runs(fmriprep, MNI, subjects="sub-04")) == ["sub-04_task-rest"]
    assert list(read_participants(_touch(fmriprep / "p.tsv", "participant_id\n04\n"), "04")) == [
        "04"
    ]


@pytest.mark.parametrize("subjects", [["sub-02", "04"], ("04", "02"), ["02", "sub-04"]])
def test_discovery_filters_by_subject_with_or_without_prefix(fmriprep, subjects):
    assert _names(discover_fmriprep_runs(fmriprep, MNI, subjects=subjects)) == [
        "sub-02_task-nback_acq-mb4_rec-nordic_dir-PA_run-1",
        "sub-02_task-rest_acq-mb4_rec-nordic_dir-PA_run-1",
        "sub-04_task-rest",
    ]


def test_discovery_filters_by_resolution(fmriprep):
    # sub-03 (fMRIPrep 20.1) has no res entity
    assert _names(discover_fmriprep_runs(fmriprep, MNI, res="2")) == [
        name for name in ALL_MNI_RUNS if not name.startswith("sub-03")
    ]
    runs = discover_fmriprep_runs(fmriprep, "MNI152NLin6Asym", res="1")
    assert _names(runs) == ["sub-01_ses-1_task-rest_run-1"]
    assert runs[0].bold.endswith("_space-MNI152NLin6Asym_res-1_desc-preproc_bold.nii.gz")
    assert runs[0].brain_mask.endswith("_space-MNI152NLin6Asym_res-1_desc-brain_mask.nii.gz")


def test_discovery_combines_filters(fmriprep):
    runs = discover_fmriprep_runs(fmriprep, MNI, task="rest", subjects=["01"], res="2")
    assert _names(runs) == [
        "sub-01_ses-1_task-rest_run-1",
        "sub-01_ses-1_task-rest_run-2",
        "sub-01_ses-2_task-rest_run-1",
    ]


def test_brain_mask_names_keep_the_bold_files_entities_in_their_order():
    bold = f"sub-02_task-rest_dir-PA_rec-nordic_space-{MNI}_res-2_desc-preproc_bold.nii"
    assert brain_mask_names(f"/data/sub-02/func/{bold}") == (
        f"sub-02_task-rest_dir-PA_rec-nordic_space-{MNI}_res-2_desc-brain_mask.nii.gz",
        f"sub-02_task-rest_dir-PA_rec-nordic_space-{MNI}_res-2_desc-brain_mask.nii",
    )


def test_discovery_accepts_uncompressed_nifti(tmp_path):
    func = tmp_path / "sub-01" / "func"
    _touch(func / f"sub-01_task-rest_space-{MNI}_desc-preproc_bold.nii")
    _touch(func / f"sub-01_task-rest_space-{MNI}_desc-brain_mask.nii")
    _touch(func / f"sub-01_task-rest_space-{MNI}_desc-preproc_bold.json", "{}")
    _touch(func / "sub-01_task-rest_desc-confounds_timeseries.tsv")
    (run,) = discover_fmriprep_runs(str(tmp_path), MNI)
    assert run.bold == str(func / f"sub-01_task-rest_space-{MNI}_desc-preproc_bold.nii")
    assert run.brain_mask == str(func / f"sub-01_task-rest_space-{MNI}_desc-brain_mask.nii")
    assert run.sidecar == str(func / f"sub-01_task-rest_space-{MNI}_desc-preproc_bold.json")


# --------------------------------------------------------------------------- discovery errors


def test_discovery_error_root_missing(tmp_path):
    with pytest.raises(
        InputDataError, match=f"folder {re.escape(str(tmp_path / 'nope'))} does not exist"
    ):
        discover_fmriprep_runs(tmp_path / "nope", MNI)


def test_discovery_error_empty_root(tmp_path):
    with pytest.raises(InputDataError, match="no preprocessed BOLD file was found at all"):
        discover_fmriprep_runs(tmp_path, MNI)


def test_discovery_error_no_match_lists_tasks_and_spaces(fmriprep):
    with pytest.raises(InputDataError) as info:
        discover_fmriprep_runs(fmriprep, MNI, task="motor")
    message = str(info.value)
    assert f"matches space-{MNI}, task-motor;" in message
    assert "found tasks: nback, rest;" in message
    # sub-04's per-echo files have no space entity
    assert f"spaces: (no space), {MNI}, MNI152NLin6Asym, T1w" in message


def test_discovery_error_no_match_lists_resolutions(fmriprep):
    with pytest.raises(
        InputDataError,
        match=r"resolutions in space-MNI152NLin6Asym \(data.fmriprep.res\): 1, 2$",
    ):
        discover_fmriprep_runs(fmriprep, "MNI152NLin6Asym", res="3")
    # sub-03 (fMRIPrep 20.1) has no res entity: it is listed as native
    with pytest.raises(
        InputDataError, match=rf"resolutions in space-{MNI} \(data.fmriprep.res\): 2, native$"
    ):
        discover_fmriprep_runs(fmriprep, MNI, res="1")


def test_discovery_error_several_resolutions_asks_for_res(fmriprep):
    prefix = fmriprep / "sub-01/ses-1/func/sub-01_ses-1_task-rest_run-1_space-MNI152NLin6Asym"
    files = f"{prefix}_res-1_desc-preproc_bold.nii.gz, {prefix}_res-2_desc-preproc_bold.nii.gz"
    with pytest.raises(InputDataError) as info:
        discover_fmriprep_runs(fmriprep, "MNI152NLin6Asym")
    assert str(info.value) == (
        f"sub-01_ses-1_task-rest_run-1 has several files in space-MNI152NLin6Asym ({files}): "
        "set data.fmriprep.res to one of 1, 2"
    )


def _native_and_res2(tmp_path: Path) -> Path:
    """One run written at native resolution (no res entity) and at res-2."""
    func = tmp_path / "sub-01" / "func"
    _touch(func / f"sub-01_task-rest_space-{MNI}_desc-preproc_bold.nii.gz")
    _touch(func / f"sub-01_task-rest_space-{MNI}_desc-brain_mask.nii.gz")
    _touch(func / f"sub-01_task-rest_space-{MNI}_res-2_desc-preproc_bold.nii.gz")
    _touch(func / f"sub-01_task-rest_space-{MNI}_res-2_desc-brain_mask.nii.gz")
    _touch(func / "sub-01_task-rest_desc-confounds_timeseries.tsv")
    return func


def test_discovery_res_native_selects_the_files_without_res(tmp_path):
    func = _native_and_res2(tmp_path)
    (run,) = discover_fmriprep_runs(tmp_path, MNI, res="native")
    assert run.bold == str(func / f"sub-01_task-rest_space-{MNI}_desc-preproc_bold.nii.gz")
    assert run.brain_mask == str(func / f"sub-01_task-rest_space-{MNI}_desc-brain_mask.nii.gz")
    (run,) = discover_fmriprep_runs(tmp_path, MNI, res="2")
    assert run.bold == str(func / f"sub-01_task-rest_space-{MNI}_res-2_desc-preproc_bold.nii.gz")


def test_discovery_res_native_in_the_fixture_is_the_fmriprep_20_1_run(fmriprep):
    (run,) = discover_fmriprep_runs(fmriprep, MNI, res="native")
    assert run.name == "sub-03_task-rest"


def test_discovery_error_native_and_res2_asks_for_res_native_or_2(tmp_path):
    func = _native_and_res2(tmp_path)
    with pytest.raises(InputDataError) as info:
        discover_fmriprep_runs(tmp_path, MNI)
    assert str(info.value) == (
        f"sub-01_task-rest has several files in space-{MNI} "
        f"({func}/sub-01_task-rest_space-{MNI}_desc-preproc_bold.nii.gz, "
        f"{func}/sub-01_task-rest_space-{MNI}_res-2_desc-preproc_bold.nii.gz): "
        "set data.fmriprep.res to one of 2, native"
    )


def _cohorts(tmp_path: Path) -> Path:
    """One run in MNIPediatricAsym cohorts 1 and 2, as fMRIPrep names them."""
    func = tmp_path / "sub-01" / "func"
    for cohort in (1, 2):
        space = f"space-MNIPediatricAsym_cohort-{cohort}_res-2"
        _touch(func / f"sub-01_task-rest_{space}_desc-preproc_bold.nii.gz")
        _touch(func / f"sub-01_task-rest_{space}_desc-brain_mask.nii.gz")
    _touch(func / "sub-01_task-rest_desc-confounds_timeseries.tsv")
    return func


@pytest.mark.parametrize("res", [None, "2"])
def test_discovery_cohort_selects_one_cohort(tmp_path, res):
    func = _cohorts(tmp_path)
    (run,) = discover_fmriprep_runs(tmp_path, "MNIPediatricAsym", res=res, cohort="2")
    prefix = func / "sub-01_task-rest_space-MNIPediatricAsym_cohort-2_res-2"
    assert (run.name, run.bold, run.brain_mask) == (
        "sub-01_task-rest",
        f"{prefix}_desc-preproc_bold.nii.gz",
        f"{prefix}_desc-brain_mask.nii.gz",
    )
    assert run.entities["cohort"] == "2"


def test_discovery_error_several_cohorts_asks_for_cohort(tmp_path):
    func = _cohorts(tmp_path)
    prefix = func / "sub-01_task-rest_space-MNIPediatricAsym"
    with pytest.raises(InputDataError) as info:
        discover_fmriprep_runs(tmp_path, "MNIPediatricAsym", res="2")
    assert str(info.value) == (
        f"sub-01_task-rest has several files in space-MNIPediatricAsym "
        f"({prefix}_cohort-1_res-2_desc-preproc_bold.nii.gz, "
        f"{prefix}_cohort-2_res-2_desc-preproc_bold.nii.gz): "
        "set data.fmriprep.cohort to one of 1, 2"
    )


def test_discovery_error_several_cohorts_and_resolutions_asks_for_both(tmp_path):
    _cohorts(tmp_path)
    func = tmp_path / "sub-01" / "func"
    _touch(func / "sub-01_task-rest_space-MNIPediatricAsym_cohort-1_res-1_desc-preproc_bold.nii.gz")
    with pytest.raises(
        InputDataError,
        match="set data.fmriprep.cohort to one of 1, 2 and data.fmriprep.res to one of 1, 2$",
    ):
        discover_fmriprep_runs(tmp_path, "MNIPediatricAsym")


def test_discovery_error_no_match_lists_cohorts(tmp_path):
    _cohorts(tmp_path)
    with pytest.raises(
        InputDataError,
        match=(
            r"matches space-MNIPediatricAsym, cohort-3; .*"
            r"cohorts in space-MNIPediatricAsym \(data.fmriprep.cohort\): 1, 2$"
        ),
    ):
        discover_fmriprep_runs(tmp_path, "MNIPediatricAsym", cohort="3")


def test_discovery_error_subject_without_a_native_run_names_the_filter(fmriprep):
    with pytest.raises(
        InputDataError, match=rf"^sub-01: no run matches space-{MNI}, res native \(no res entity\)$"
    ):
        discover_fmriprep_runs(fmriprep, MNI, subjects=["01", "03"], res="native")


def test_discovery_error_duplicate_run_name(tmp_path):
    func = tmp_path / "sub-01" / "func"
    _touch(func / f"sub-01_task-rest_space-{MNI}_desc-preproc_bold.nii")
    _touch(func / f"sub-01_task-rest_space-{MNI}_desc-preproc_bold.nii.gz")
    _touch(func / "sub-01_task-rest_desc-confounds_timeseries.tsv")
    with pytest.raises(
        InputDataError,
        match=r"^duplicate run name sub-01_task-rest: several files .*bold\.nii, .*bold\.nii\.gz$",
    ):
        discover_fmriprep_runs(tmp_path, MNI)


def test_discovery_error_missing_confounds_names_the_expected_file(fmriprep):
    func = fmriprep / "sub-02" / "func"
    expected = (
        func / "sub-02_task-rest_acq-mb4_dir-PA_rec-nordic_run-1_desc-confounds_timeseries.tsv"
    )
    expected.unlink()
    with pytest.raises(
        InputDataError,
        match=(
            "sub-02_task-rest_acq-mb4_rec-nordic_dir-PA_run-1: confounds file not found: "
            + re.escape(str(expected))
        ),
    ):
        discover_fmriprep_runs(fmriprep, MNI, task="rest")


def test_discovery_error_several_confounds(fmriprep):
    func = fmriprep / "sub-03" / "func"
    _touch(func / "sub-03_task-rest_desc-confounds_timeseries.tsv")
    with pytest.raises(
        InputDataError,
        match=(
            "sub-03_task-rest: several confounds files match: "
            "sub-03_task-rest_desc-confounds_regressors.tsv, "
            "sub-03_task-rest_desc-confounds_timeseries.tsv"
        ),
    ):
        discover_fmriprep_runs(fmriprep, MNI, subjects=["03"])


def test_discovery_does_not_pair_confounds_of_another_run(tmp_path):
    func = tmp_path / "sub-01" / "func"
    _touch(func / f"sub-01_task-rest_run-1_space-{MNI}_desc-preproc_bold.nii.gz")
    _touch(func / "sub-01_task-rest_run-2_desc-confounds_timeseries.tsv")
    _touch(func / "sub-01_task-nback_run-1_desc-confounds_timeseries.tsv")
    _touch(func / "sub-01_task-rest_run-1_desc-reducedConfounds_timeseries.tsv")
    _touch(func / "sub-01_task-rest_run-1_desc-confounds_timeseries.json")
    _touch(func / "task-rest_run-1_desc-confounds_timeseries.tsv")  # no subject
    with pytest.raises(InputDataError, match="sub-01_task-rest_run-1: confounds file not found"):
        discover_fmriprep_runs(tmp_path, MNI)


def test_discovery_pairs_each_reconstruction_with_its_own_confounds(tmp_path):
    # fMRIPrep writes a table per reconstruction; the original run's table lacks rec only
    func = tmp_path / "sub-01" / "func"
    for run in ("sub-01_task-rest_run-1", "sub-01_task-rest_rec-nordic_run-1"):
        _touch(func / f"{run}_space-{MNI}_desc-preproc_bold.nii.gz")
        _touch(func / f"{run}_desc-confounds_timeseries.tsv")
    runs = discover_fmriprep_runs(tmp_path, MNI)
    assert [(run.name, Path(run.confounds).name) for run in runs] == [
        (
            "sub-01_task-rest_rec-nordic_run-1",
            "sub-01_task-rest_rec-nordic_run-1_desc-confounds_timeseries.tsv",
        ),
        ("sub-01_task-rest_run-1", "sub-01_task-rest_run-1_desc-confounds_timeseries.tsv"),
    ]


def test_discovery_error_run_without_its_own_confounds_is_not_given_another_runs(tmp_path):
    func = tmp_path / "sub-01" / "func"
    _touch(func / f"sub-01_task-rest_run-1_space-{MNI}_desc-preproc_bold.nii.gz")
    _touch(func / "sub-01_task-rest_run-1_desc-confounds_timeseries.tsv")
    # a second acquisition of run 1 whose table is missing
    _touch(func / f"sub-01_task-rest_acq-mb4_run-1_space-{MNI}_desc-preproc_bold.nii.gz")
    expected = func / "sub-01_task-rest_acq-mb4_run-1_desc-confounds_timeseries.tsv"
    with pytest.raises(InputDataError) as info:
        discover_fmriprep_runs(tmp_path, MNI)
    assert str(info.value) == (
        f"sub-01_task-rest_acq-mb4_run-1: confounds file not found: {expected} "
        "(sub-01_task-rest_run-1_desc-confounds_timeseries.tsv: the table of another run, "
        "not used)"
    )


def test_discovery_pairs_an_echo_run_with_the_table_without_echo(tmp_path):
    # fMRIPrep writes one confounds table for a multi-echo run, without the echo entity
    func = tmp_path / "sub-01" / "func"
    for echo in (1, 2):
        _touch(func / f"sub-01_task-rest_echo-{echo}_space-{MNI}_desc-preproc_bold.nii.gz")
    table = _touch(func / "sub-01_task-rest_desc-confounds_timeseries.tsv")
    runs = discover_fmriprep_runs(tmp_path, MNI)
    assert [(run.name, run.confounds) for run in runs] == [
        ("sub-01_task-rest_echo-1", str(table)),
        ("sub-01_task-rest_echo-2", str(table)),
    ]
    # a table with an echo entity serves that echo only: echo-2 pairs, echo-1 is the one problem
    _touch(func / "sub-01_task-rest_echo-2_desc-confounds_timeseries.tsv")
    table.unlink()
    with pytest.raises(InputDataError) as info:
        discover_fmriprep_runs(tmp_path, MNI)
    assert str(info.value) == f"sub-01_task-rest_echo-1: confounds file not found: {table}"


def test_discovery_error_subject_without_matching_run(fmriprep):
    with pytest.raises(InputDataError, match=f"^sub-05: no run matches space-{MNI}, task-nback$"):
        discover_fmriprep_runs(fmriprep, MNI, task="nback", subjects=["01", "sub-05"])
    # sub-03 exists but has no nback run
    with pytest.raises(InputDataError, match=f"^sub-03: no run matches space-{MNI}, task-nback$"):
        discover_fmriprep_runs(fmriprep, MNI, task="nback", subjects=["01", "03"])


def test_discovery_error_file_in_another_subjects_folder(tmp_path):
    func = tmp_path / "sub-01" / "func"
    _touch(func / f"sub-02_task-rest_space-{MNI}_desc-preproc_bold.nii.gz")
    _touch(func / "sub-02_task-rest_desc-confounds_timeseries.tsv")
    _touch(
        tmp_path
        / "sub-03"
        / "ses-1"
        / "func"
        / f"sub-03_task-rest_space-{MNI}_desc-preproc_bold.nii.gz"
    )
    _touch(
        tmp_path / "sub-03" / "ses-1" / "func" / "sub-03_task-rest_desc-confounds_timeseries.tsv"
    )
    with pytest.raises(InputDataError) as info:
        discover_fmriprep_runs(tmp_path, MNI)
    message = str(info.value)
    assert message.startswith("2 problems with the fMRIPrep runs in")
    assert (
        f"sub-02_task-rest_space-{MNI}_desc-preproc_bold.nii.gz is in the folder of sub-01"
        in message
    )
    assert (
        f"sub-03_task-rest_space-{MNI}_desc-preproc_bold.nii.gz is in the folder of sub-03/ses-1"
        in message
    )


def test_discovery_error_invalid_bids_name(tmp_path):
    func = tmp_path / "sub-01" / "func"
    bad = func / f"sub-01_task-rest-eyes_space-{MNI}_desc-preproc_bold.nii.gz"
    _touch(bad)
    _touch(func / f"sub-01_task-rest_space-{MNI}_desc-preproc_bold.nii.gz")
    _touch(func / "sub-01_task-rest_desc-confounds_timeseries.tsv")
    with pytest.raises(
        InputDataError, match=f"^{re.escape(str(bad))} is not a valid BIDS file name$"
    ):
        discover_fmriprep_runs(tmp_path, MNI)


def test_discovery_lists_every_problem_in_one_message(fmriprep):
    (
        fmriprep / "sub-01/ses-1/func/sub-01_ses-1_task-rest_run-2_desc-confounds_timeseries.tsv"
    ).unlink()
    (
        fmriprep / "sub-01/ses-2/func/sub-01_ses-2_task-rest_run-1_desc-confounds_timeseries.tsv"
    ).unlink()
    with pytest.raises(InputDataError) as info:
        discover_fmriprep_runs(fmriprep, MNI, task="rest", subjects=["01", "02", "09"])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"3 problems with the fMRIPrep runs in {fmriprep}: ")
    assert "sub-01_ses-1_task-rest_run-2: confounds file not found" in message
    assert "sub-01_ses-2_task-rest_run-1: confounds file not found" in message
    assert "sub-09: no run matches" in message


# --------------------------------------------------------------------------- repetition time


def _sidecar(tmp_path: Path, payload) -> str:
    return str(
        _touch(tmp_path / "sub-01_task-rest_space-X_desc-preproc_bold.json", json.dumps(payload))
    )


@pytest.mark.parametrize("header_t_r", [2.0, None, 0.0, 2.0005])
def test_tr_from_the_sidecar_without_warning(tmp_path, header_t_r):
    sidecar = _sidecar(tmp_path, {"RepetitionTime": 2, "SliceTimingCorrected": True})
    t_r, warnings = read_repetition_time(sidecar, header_t_r, "sub-01_task-rest")
    assert (t_r, warnings) == (2.0, [])
    assert isinstance(t_r, float)


def test_tr_sidecar_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "sub-01_task-rest_space-X_desc-preproc_bold.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"RepetitionTime": 2.5}).encode())
    assert read_repetition_time(str(path), None, "sub-01_task-rest") == (2.5, [])


def test_tr_sidecar_wins_over_a_different_header(tmp_path):
    sidecar = _sidecar(tmp_path, {"RepetitionTime": 0.8})
    t_r, warnings = read_repetition_time(sidecar, 2.0, "sub-01_task-rest")
    assert t_r == 0.8
    (warning,) = warnings
    assert warning.startswith("sub-01_task-rest: RepetitionTime 0.8 s in ")
    assert sidecar in warning
    assert "2.0 s" in warning


def test_tr_from_the_header_without_a_sidecar(tmp_path):
    t_r, warnings = read_repetition_time(None, 1.5, "sub-01_task-rest", image="bold.nii.gz")
    assert t_r == 1.5
    assert warnings == [
        "sub-01_task-rest: no JSON sidecar; using TR 1.5 s from the NIfTI header of bold.nii.gz"
    ]


def test_tr_from_the_header_when_the_sidecar_has_none(tmp_path):
    sidecar = _sidecar(tmp_path, {"SkullStripped": False})
    t_r, warnings = read_repetition_time(sidecar, 1.5, "sub-01_task-rest")
    assert t_r == 1.5
    assert warnings == [
        f"sub-01_task-rest: {sidecar} has no RepetitionTime; using TR 1.5 s from the NIfTI header"
    ]


@pytest.mark.parametrize(
    "header_t_r,found",
    [
        (None, "has none (pixdim[4] is 0, or its unit is not a time unit)"),
        (0.0, "has TR 0.0 s, not a positive finite number"),
        (0, "has TR 0 s, not a positive finite number"),
        (-2.0, "has TR -2.0 s, not a positive finite number"),
        (float("nan"), "has TR nan s, not a positive finite number"),
        (float("inf"), "has TR inf s, not a positive finite number"),
    ],
)
def test_tr_error_when_neither_source_has_one(tmp_path, header_t_r, found):
    with pytest.raises(InputDataError) as info:
        read_repetition_time(None, header_t_r, "sub-01_task-rest", image="b.nii")
    assert str(info.value) == (
        f"sub-01_task-rest: no repetition time: there is no sidecar and the NIfTI header of "
        f"b.nii {found}; write the TR in seconds as RepetitionTime in the image's JSON sidecar "
        "(its name with .json)"
    )
    sidecar = _sidecar(tmp_path, {})
    with pytest.raises(
        InputDataError,
        match=f"^sub-01_task-rest: no repetition time: {re.escape(sidecar)} has no RepetitionTime",
    ):
        read_repetition_time(sidecar, header_t_r, "sub-01_task-rest")


def test_tr_error_volume_timing_is_not_supported(tmp_path):
    sidecar = _sidecar(tmp_path, {"VolumeTiming": [0, 2, 4.5], "SliceTimingCorrected": False})
    with pytest.raises(
        InputDataError, match=r"sub-01_task-rest: .* gives VolumeTiming.*not supported"
    ):
        read_repetition_time(sidecar, 2.0, "sub-01_task-rest")


@pytest.mark.parametrize("value", ["2", -1, 0, None, True, [2.0]])
def test_tr_error_invalid_repetition_time(tmp_path, value):
    sidecar = _sidecar(tmp_path, {"RepetitionTime": value})
    with pytest.raises(
        InputDataError, match=f"RepetitionTime in {re.escape(sidecar)} must be a positive number"
    ):
        read_repetition_time(sidecar, 2.0, "sub-01_task-rest")


def test_tr_error_unreadable_sidecar(tmp_path):
    broken = _touch(tmp_path / "broken.json", "{RepetitionTime: 2}")
    with pytest.raises(InputDataError, match=f"sub-01: {re.escape(str(broken))} is not valid JSON"):
        read_repetition_time(str(broken), 2.0, "sub-01")
    listed = _touch(tmp_path / "list.json", "[2.0]")
    with pytest.raises(InputDataError, match="holds a JSON list, not an object"):
        read_repetition_time(listed, 2.0, "sub-01")
    with pytest.raises(InputDataError, match="sub-01: JSON sidecar not found: .*missing.json"):
        read_repetition_time(tmp_path / "missing.json", 2.0, "sub-01")


# --------------------------------------------------------------------------- participants


def test_participants_with_sub_prefix_keeps_na(tmp_path):
    text = "participant_id\tAge\tChild_Adult\nsub-01\t8\tchild\nsub-02\tn/a\tadult\n"
    path = _touch(tmp_path / "participants.tsv", text)
    assert read_participants(path) == {
        "01": {"participant_id": "sub-01", "Age": "8", "Child_Adult": "child"},
        "02": {"participant_id": "sub-02", "Age": "n/a", "Child_Adult": "adult"},
    }


def test_participants_without_prefix_bom_crlf_and_blank_lines(tmp_path):
    path = tmp_path / "participants.tsv"
    path.write_bytes(b"\xef\xbb\xbfparticipant_id\tgroup\r\n01\ta \r\n\r\n02\tb\r\n\r\n")
    assert read_participants(str(path)) == {
        "01": {"participant_id": "01", "group": "a"},
        "02": {"participant_id": "02", "group": "b"},
    }


def test_participants_selects_subjects(tmp_path):
    path = _touch(
        tmp_path / "participants.tsv", "participant_id\tg\nsub-01\ta\nsub-02\tb\nsub-03\tc\n"
    )
    assert read_participants(path, ["sub-03", "01"]) == {
        "01": {"participant_id": "sub-01", "g": "a"},
        "03": {"participant_id": "sub-03", "g": "c"},
    }
    assert read_participants(path, []) == {}


def test_participants_error_missing_subjects(tmp_path):
    path = _touch(tmp_path / "participants.tsv", "participant_id\tg\nsub-01\ta\n")
    with pytest.raises(
        InputDataError,
        match=f"^{re.escape(str(path))} has no row for subject\\(s\\) sub-03, sub-04$",
    ):
        read_participants(path, ["01", "sub-03", "04"])


def test_participants_error_no_participant_id_column(tmp_path):
    path = _touch(tmp_path / "participants.tsv", "subject\tage\n01\t8\n")
    with pytest.raises(
        InputDataError,
        match=f"^{re.escape(str(path))} has no participant_id column; columns found: subject, age$",
    ):
        read_participants(path)


@pytest.mark.parametrize(
    "text,message",
    [
        ("participant_id\tg\nsub-01\ta\n01\tb\n", "line 3: participant sub-01 appears twice"),
        ("participant_id\tg\nsub-01\ta\nsub-02\n", "line 3: 1 cells, but the header has 2"),
        ("participant_id\tg\n\tb\n", "line 2: empty participant_id"),
        ("", "is empty; expected a header with participant_id"),
    ],
)
def test_participants_error_bad_rows(tmp_path, text, message):
    path = _touch(tmp_path / "participants.tsv", text)
    with pytest.raises(InputDataError, match=re.escape(str(path)) + ".*" + message):
        read_participants(path)


def test_participants_error_missing_file(tmp_path):
    with pytest.raises(InputDataError, match="participants file not found: .*participants.tsv"):
        read_participants(tmp_path / "participants.tsv")


# --------------------------------------------------------------------------- dataset files


def test_bids_uri_is_relative_to_the_current_dataset():
    assert bids_uri("group/regions.nii.gz") == "bids::group/regions.nii.gz"
    with pytest.raises(ValueError, match="relative to the dataset's root"):
        bids_uri("/results/group/regions.nii.gz")


def test_dataset_description():
    description = dataset_description(
        "netregions",
        "0.1.0",
        ["https://openneuro.org/datasets/ds000228"],
        code_url="https://example.org/netregions",
    )
    assert description == {
        "Name": "netregions",
        "BIDSVersion": "1.10.0",
        "DatasetType": "derivative",
        "GeneratedBy": [
            {"Name": "netregions", "Version": "0.1.0", "CodeURL": "https://example.org/netregions"}
        ],
        "SourceDatasets": [{"URL": "https://openneuro.org/datasets/ds000228"}],
    }
    assert list(description) == [
        "Name",
        "BIDSVersion",
        "DatasetType",
        "GeneratedBy",
        "SourceDatasets",
    ]
    assert dataset_description("x", "1.0") == {
        "Name": "x",
        "BIDSVersion": "1.10.0",
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "netregions", "Version": "1.0"}],
    }


def test_write_json_is_indented_ordered_and_ends_with_a_newline(tmp_path):
    path = tmp_path / "out" / "dataset_description.json"
    write_json(path, {"Name": "réseaux", "BIDSVersion": "1.10.0", "A": [1, 2]})
    assert path.read_text(encoding="utf-8") == (
        '{\n  "Name": "réseaux",\n  "BIDSVersion": "1.10.0",\n  "A": [\n    1,\n    2\n  ]\n}\n'
    )
    assert sorted(p.name for p in path.parent.iterdir()) == ["dataset_description.json"]


def test_write_json_refuses_nan_and_leaves_the_old_file(tmp_path):
    path = tmp_path / "a.json"
    write_json(path, {"x": 1})
    with pytest.raises(ValueError, match="Out of range float"):
        write_json(path, {"x": float("nan")})
    assert path.read_text() == '{\n  "x": 1\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


# --------------------------------------------------------------------------- import cost


def test_import_is_standard_library_only():
    code = "import sys, netregions.bids; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = {name.split(".")[0] for name in out.stdout.split()}
    assert not modules & {"numpy", "scipy", "nibabel", "snakemake", "numba", "sklearn"}
