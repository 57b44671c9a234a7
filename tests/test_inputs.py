"""Runs of each data source, from file names only."""

import pytest

from netregions.exceptions import ConfigError, InputDataError
from netregions.inputs import (
    CONFOUNDS_SUFFIX,
    FUNC_SIDECAR_SUFFIX,
    FUNC_SUFFIX,
    SOURCES,
    data_space,
    discover_runs,
    local_runs,
    participants_path,
    runs_from_pattern,
    synthetic_runs,
    synthetic_subjects,
)


def test_synthetic_labels_sort_numerically():
    assert synthetic_subjects(3) == ["01", "02", "03"]
    assert synthetic_subjects(100)[:2] == ["001", "002"]
    with pytest.raises(ValueError, match="at least 1"):
        synthetic_subjects(0)


def test_synthetic_runs_are_named_by_their_bids_entities():
    runs = synthetic_runs("data", 2)
    assert [r.name for r in runs] == ["sub-01_task-pixar", "sub-02_task-pixar"]
    assert runs[0].bold == f"data/sub-01{FUNC_SUFFIX}"
    assert runs[0].confounds == f"data/sub-01{CONFOUNDS_SUFFIX}"
    assert runs[0].directory == "sub-01/func" and runs[0].task == "pixar"
    assert runs[0].sidecar == f"data/sub-01{FUNC_SIDECAR_SUFFIX}"
    assert FUNC_SIDECAR_SUFFIX == "_task-pixar_space-MNI152NLin2009cAsym_desc-preproc_bold.json"


def test_pattern_with_repeated_placeholder(tmp_path):
    for label in ("01", "02", "ab3"):
        folder = tmp_path / f"sub-{label}"
        folder.mkdir()
        (folder / f"sub-{label}_bold.nii.gz").touch()
    (tmp_path / "sub-01" / "sub-02_bold.nii.gz").touch()  # placeholders disagree: ignored
    pattern = str(tmp_path / "sub-{subject}" / "sub-{subject}_bold.nii.gz")
    assert list(runs_from_pattern(pattern)) == ["01", "02", "ab3"]
    assert list(runs_from_pattern(pattern, ["sub-02", "01"])) == ["01", "02"]
    with pytest.raises(InputDataError, match="no file matches the pattern"):
        runs_from_pattern(str(tmp_path / "x-{subject}.nii"))
    with pytest.raises(InputDataError, match="no {subject} placeholder"):
        runs_from_pattern(str(tmp_path / "x.nii"))


def test_local_runs_use_the_file_names_entities(tmp_path):
    for label in ("01", "02"):
        (tmp_path / f"sub-{label}_ses-2_task-rest_space-X_desc-preproc_bold.nii.gz").touch()
    func = str(tmp_path / "sub-{subject}_ses-2_task-rest_space-X_desc-preproc_bold.nii.gz")
    runs = local_runs(func, None)
    assert [r.name for r in runs] == ["sub-01_ses-2_task-rest", "sub-02_ses-2_task-rest"]
    assert runs[0].directory == "sub-01/ses-2/func" and runs[0].confounds is None


def test_local_runs_take_the_bold_files_sidecar_when_it_exists(tmp_path):
    for label in ("01", "02", "03"):
        (tmp_path / f"sub-{label}_task-rest_bold.nii{'.gz' if label != '03' else ''}").touch()
    (tmp_path / "sub-01_task-rest_bold.json").touch()
    (tmp_path / "sub-03_task-rest_bold.json").touch()
    (tmp_path / "sub-02_task-rest_bold.nii.json").touch()  # not the sidecar of a .nii.gz
    gz = local_runs(str(tmp_path / "sub-{subject}_task-rest_bold.nii.gz"))
    assert [r.sidecar for r in gz] == [str(tmp_path / "sub-01_task-rest_bold.json"), None]
    (nii,) = local_runs(str(tmp_path / "sub-{subject}_task-rest_bold.nii"))
    assert nii.sidecar == str(tmp_path / "sub-03_task-rest_bold.json")


def test_local_runs_of_non_bids_names_are_named_by_subject(tmp_path):
    (tmp_path / "s01.nii.gz").touch()
    runs = local_runs(str(tmp_path / "s{subject}.nii.gz"), str(tmp_path / "c{subject}.tsv"))
    assert runs[0].name == "sub-01" and runs[0].confounds == str(tmp_path / "c01.tsv")


def test_discover_runs_dispatches_and_checks():
    data = {"source": "synthetic", "n_subjects": 2, "synthetic": {"data_dir": "d"}}
    assert list(discover_runs(data)) == ["sub-01_task-pixar", "sub-02_task-pixar"]
    assert set(SOURCES) == {"synthetic", "development", "local", "fmriprep"}
    with pytest.raises(ValueError, match="participants table first"):
        discover_runs({"source": "development"})
    with pytest.raises(ConfigError, match="data.fmriprep.dir is not set"):
        discover_runs({"source": "fmriprep", "fmriprep": {"dir": None}})


def test_fmriprep_source_passes_res_and_cohort(tmp_path):
    func = tmp_path / "sub-01" / "func"
    func.mkdir(parents=True)
    space = "space-MNIPediatricAsym"
    for entities in ("cohort-1", "cohort-2", "cohort-2_res-2"):
        (func / f"sub-01_task-rest_{space}_{entities}_desc-preproc_bold.nii.gz").touch()
    (func / "sub-01_task-rest_desc-confounds_timeseries.tsv").touch()
    settings = {"dir": str(tmp_path), "space": "MNIPediatricAsym", "task": None, "subjects": []}
    for res, cohort, expected in [
        ("native", "2", "cohort-2"),
        ("native", "1", "cohort-1"),
        ("2", None, "cohort-2_res-2"),
    ]:
        data = {"source": "fmriprep", "fmriprep": {**settings, "res": res, "cohort": cohort}}
        (run,) = discover_runs(data).values()
        assert run.bold == str(
            func / f"sub-01_task-rest_{space}_{expected}_desc-preproc_bold.nii.gz"
        )


def test_participants_path_of_each_source(tmp_path):
    fmriprep = {"dir": str(tmp_path), "space": "X"}
    base = {"participants": None, "synthetic": {"data_dir": "s"}, "development": {"data_dir": "d"}}
    assert participants_path({**base, "source": "synthetic"}) == "s/participants.tsv"
    assert participants_path({**base, "source": "development"}) == "d/participants.tsv"
    assert participants_path({**base, "source": "fmriprep", "fmriprep": fmriprep}) is None
    (tmp_path / "participants.tsv").touch()
    expected = str(tmp_path / "participants.tsv")
    assert participants_path({**base, "source": "fmriprep", "fmriprep": fmriprep}) == expected
    assert participants_path({**base, "source": "local", "participants": "p.tsv"}) == "p.tsv"
    assert participants_path({**base, "source": "local"}) is None


@pytest.mark.parametrize(
    "data,space",
    [
        ({"source": "synthetic"}, None),
        ({"source": "development"}, "MNI152NLin2009cAsym"),
        ({"source": "fmriprep", "fmriprep": {"space": "MNI152NLin6Asym", "cohort": None}},
         "MNI152NLin6Asym"),
        ({"source": "fmriprep", "fmriprep": {"space": "MNIPediatricAsym", "cohort": "2"}},
         "MNIPediatricAsym:cohort-2"),
        ({"source": "local", "local": {"func": "d/sub-{subject}_task-x_space-MNI305_bold.nii"}},
         "MNI305"),
        ({"source": "local", "local": {"func": "d/space-Y/sub-{subject}_task-x_bold.nii.gz"}},
         None),  # a folder is not the file's entity
        ({"source": "local", "local": {"func": "d/{subject}.nii.gz"}}, None),
    ],
)  # fmt: skip
def test_data_space_of_each_source(data, space):
    assert data_space(data) == space
