import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from netregions.confounds import (
    STRATEGIES,
    ConfoundsTable,
    _parse_plain_table,
    build_design,
    censoring_mask,
    dummy_volumes,
    fmriprep_cosine_count,
    framewise_displacement,
    preset_column_groups,
    read_confounds_table,
)
from netregions.exceptions import InputDataError

from .parity_helpers import needs_nilearn, run_nilearn

N_VOLUMES = 40
BOLD_NAME = "sub-01_task-rest_run-1_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz"
CONFOUNDS_NAME = "sub-01_task-rest_run-1_desc-confounds_timeseries.tsv"
MOTION = ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"]
# planted outliers of the fMRIPrep-style table (volume indices)
FD_SPIKES = {12: 0.9, 25: 0.6, 38: 0.3}  # 0.3 only exceeds a custom threshold
DVARS_SPIKES = {20: 2.0, 31: 1.3}  # 1.3 only exceeds a custom threshold
DUMMY = (0, 1)
# a_comp_cor masks in the JSON: the compcor preset keeps the "combined" ones
ACOMPCOR_MASKS = ["CSF", "combined", "WM", "combined", "combined", "CSF"]


# --------------------------------------------------------------------------- fixtures


def _with_expansions(name: str, base: np.ndarray) -> dict[str, np.ndarray]:
    derivative = np.concatenate([[np.nan], np.diff(base)])
    return {
        name: base,
        f"{name}_derivative1": derivative,
        f"{name}_power2": base**2,
        f"{name}_derivative1_power2": derivative**2,
    }


def _fmriprep_columns(rng: np.random.Generator, n: int = N_VOLUMES) -> dict[str, np.ndarray]:
    """An fMRIPrep-like table; every column distinct, n/a where fMRIPrep writes it."""
    columns: dict[str, np.ndarray] = {}
    for name in MOTION:
        scale = 0.05 if name.startswith("trans") else 0.001
        columns.update(_with_expansions(name, np.cumsum(rng.normal(0, scale, n))))
    for name in ("csf", "white_matter", "global_signal"):
        columns.update(_with_expansions(name, 100 + rng.normal(0, 3, n)))
    fd = rng.uniform(0.02, 0.2, n)
    dvars = rng.uniform(0.8, 1.1, n)
    for index, value in FD_SPIKES.items():
        fd[index] = value
    for index, value in DVARS_SPIKES.items():
        dvars[index] = value
    for name, values in (
        ("framewise_displacement", fd),
        ("std_dvars", dvars),
        ("dvars", dvars * 20),
        ("rmsd", fd / 2),
    ):
        values[0] = np.nan
        columns[name] = values
    time = np.arange(n)
    for k in range(4):
        columns[f"cosine{k:02d}"] = np.sqrt(2 / n) * np.cos(np.pi * (time + 0.5) * (k + 1) / n)
    for prefix, count in (("a", 6), ("c", 2), ("w", 2), ("t", 3)):
        for k in range(count):
            columns[f"{prefix}_comp_cor_{k:02d}"] = rng.normal(0, 0.1, n)
    for k, index in enumerate(DUMMY):
        columns[f"non_steady_state_outlier{k:02d}"] = (time == index).astype(float)
    spikes = sorted(
        i for i in range(1, n) if columns["framewise_displacement"][i] > 0.5 or dvars[i] > 1.5
    )
    for k, index in enumerate(spikes):
        columns[f"motion_outlier{k:02d}"] = (time == index).astype(float)
    return columns


def _metadata() -> dict:
    meta = {
        f"a_comp_cor_{k:02d}": {"Method": "aCompCor", "Mask": mask, "Retained": True}
        for k, mask in enumerate(ACOMPCOR_MASKS)
    }
    meta |= {f"c_comp_cor_{k:02d}": {"Method": "aCompCor", "Mask": "CSF"} for k in range(2)}
    meta |= {f"w_comp_cor_{k:02d}": {"Method": "aCompCor", "Mask": "WM"} for k in range(2)}
    meta |= {f"t_comp_cor_{k:02d}": {"Method": "tCompCor"} for k in range(3)}
    # a dropped component is described in the JSON only
    meta["dropped_0"] = {"Method": "aCompCor", "Mask": "combined", "Retained": False}
    return meta


def _write_table(
    directory: Path,
    columns: dict[str, np.ndarray],
    metadata: dict | None = None,
    name: str = CONFOUNDS_NAME,
) -> Path:
    names = list(columns)
    rows = ["\t".join(names)]
    for i in range(len(columns[names[0]])):
        cells = [columns[c][i] for c in names]
        rows.append("\t".join("n/a" if np.isnan(v) else repr(float(v)) for v in cells))
    path = directory / name
    path.write_text("\n".join(rows) + "\n")
    if metadata is not None:
        path.with_suffix(".json").write_text(json.dumps(metadata))
    return path


def _table(names: list[str], values, metadata: dict | None = None) -> ConfoundsTable:
    return ConfoundsTable(names, np.asarray(values, float), metadata or {}, "confounds.tsv")


@pytest.fixture
def fmriprep_tsv(tmp_path, rng) -> Path:
    columns = _fmriprep_columns(rng)
    names = list(columns)
    order = rng.permutation(len(names))  # file order must not matter for the presets
    path = _write_table(tmp_path, {names[i]: columns[names[i]] for i in order}, _metadata())
    return path


def _keep(n: int, removed) -> np.ndarray:
    keep = np.ones(n, dtype=bool)
    keep[list(removed)] = False
    return keep


# --------------------------------------------------------------------------- presets vs nilearn

NILEARN_PRESETS = """
import json, shutil
from pathlib import Path
import numpy as np
from nilearn.interfaces.fmriprep import load_confounds_strategy
import nilearn.interfaces.fmriprep as fmriprep_module

def save(tag, bold, **kwargs):
    frame, mask = load_confounds_strategy(bold, **kwargs)
    n = len(frame)
    keep = np.ones(n, bool) if mask is None else np.isin(np.arange(n), mask)
    np.save(f"out_{tag}_values.npy", frame.to_numpy(dtype=float))
    np.save(f"out_{tag}_keep.npy", keep)
    Path(f"{tag}_names.json").write_text(json.dumps(list(frame.columns)))

bold = "BOLD"
save("simple", bold, denoise_strategy="simple")
save("scrubbing", bold, denoise_strategy="scrubbing")
save("compcor", bold, denoise_strategy="compcor")
save("custom", bold, denoise_strategy="scrubbing", fd_threshold=0.25, std_dvars_threshold=1.2)

# the reference's own packaged fMRIPrep test table
data = Path(fmriprep_module.__file__).parent / "data"
Path("packaged").mkdir()
shutil.copy(data / "test_desc-confounds_regressors.tsv",
            "packaged/sub-02_task-rest_desc-confounds_regressors.tsv")
shutil.copy(data / "test_desc-confounds_regressors.json",
            "packaged/sub-02_task-rest_desc-confounds_regressors.json")
packaged_bold = "packaged/sub-02_task-rest_desc-preproc_bold.nii.gz"
Path(packaged_bold).touch()
save("packaged_simple", packaged_bold, denoise_strategy="simple")
save("packaged_scrubbing", packaged_bold, denoise_strategy="scrubbing")
save("packaged_compcor", packaged_bold, denoise_strategy="compcor")
"""


@pytest.fixture(scope="module")
def nilearn_presets(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("presets")
    columns = _fmriprep_columns(np.random.default_rng(20261125))
    tsv = _write_table(workdir, columns, _metadata())
    # nilearn finds the confounds file from the BOLD file's name (it does not read the image)
    (workdir / BOLD_NAME).touch()
    out = run_nilearn(workdir, NILEARN_PRESETS.replace('"BOLD"', repr(BOLD_NAME)))
    names = {p.name[: -len("_names.json")]: json.loads(p.read_text())
             for p in workdir.glob("*_names.json")}  # fmt: skip
    packaged = next((workdir / "packaged").glob("*.tsv"))
    return {"tsv": tsv, "packaged": packaged, "out": out, "names": names}


@needs_nilearn
@pytest.mark.parity
@pytest.mark.parametrize(
    "tag,strategy,thresholds,source",
    [
        ("simple", "simple", {}, "tsv"),
        ("scrubbing", "scrubbing", {}, "tsv"),
        ("compcor", "compcor", {}, "tsv"),
        ("custom", "scrubbing", {"fd_threshold": 0.25, "std_dvars_threshold": 1.2}, "tsv"),
        ("packaged_simple", "simple", {}, "packaged"),
        ("packaged_scrubbing", "scrubbing", {}, "packaged"),
        ("packaged_compcor", "compcor", {}, "packaged"),
    ],
)
def test_presets_match_nilearn(nilearn_presets, tag, strategy, thresholds, source):
    table = read_confounds_table(nilearn_presets[source])
    design = build_design(table, strategy, **thresholds)
    out = nilearn_presets["out"]
    assert design.names == nilearn_presets["names"][tag]
    if tag.startswith("packaged_"):  # 4 cosines + 24 motion + 2 or 8 wm_csf, or + aCompCor
        assert len(design.names) == {"simple": 30, "scrubbing": 36}.get(strategy, len(design.names))
    np.testing.assert_array_equal(design.sample_mask, out[f"{tag}_keep"])
    np.testing.assert_allclose(design.confounds, out[f"{tag}_values"], rtol=1e-10, atol=1e-12)


def test_preset_column_selection(fmriprep_tsv):
    table = read_confounds_table(fmriprep_tsv)
    motion24 = {f"{m}{s}" for m in MOTION for s in ("", "_derivative1", "_power2",
                                                   "_derivative1_power2")}  # fmt: skip
    cosines = {f"cosine{k:02d}" for k in range(4)}
    simple = build_design(table, "simple")
    assert set(simple.names) == cosines | motion24 | {"csf", "white_matter"}
    assert simple.names == sorted(simple.names)
    scrubbing = build_design(table, "scrubbing")
    wm_csf8 = {f"{b}{s}" for b in ("csf", "white_matter")
               for s in ("", "_derivative1", "_power2", "_derivative1_power2")}  # fmt: skip
    assert set(scrubbing.names) == cosines | motion24 | wm_csf8
    compcor = build_design(table, "compcor")
    assert set(compcor.names) == cosines | motion24 | {"a_comp_cor_01", "a_comp_cor_03",
                                                        "a_comp_cor_04"}  # fmt: skip
    for design in (simple, scrubbing, compcor):
        assert design.confounds.shape == (N_VOLUMES, len(design.names))
        # demeaned over the kept volumes
        np.testing.assert_allclose(design.confounds[design.sample_mask].mean(axis=0), 0,
                                   atol=1e-12)  # fmt: skip
        assert not any("outlier" in name for name in design.names)


def test_preset_first_row_takes_second_row_value(fmriprep_tsv):
    table = read_confounds_table(fmriprep_tsv)
    design = build_design(table, "simple")
    j = design.names.index("trans_x_derivative1")
    raw = table.column("trans_x_derivative1")
    mean = np.r_[raw[1], raw[1:]][design.sample_mask].mean()
    np.testing.assert_allclose(design.confounds[0, j], raw[1] - mean)
    np.testing.assert_allclose(design.confounds[1:, j], raw[1:] - mean)


def test_scrubbing_preset_masks_planted_outliers(fmriprep_tsv):
    design = build_design(read_confounds_table(fmriprep_tsv), "scrubbing")
    # FD > 0.5 at 12 and 25, std_dvars > 1.5 at 20: the kept run 13-19 (7 volumes) stays,
    # 21-24 (4 < 5 volumes) goes; dummy volumes 0 and 1 are not "censored"
    expected_censored = {12, 20, 21, 22, 23, 24, 25}
    assert set(np.flatnonzero(design.censored)) == expected_censored
    assert design.n_dummy == 2
    np.testing.assert_array_equal(design.sample_mask, _keep(N_VOLUMES, expected_censored | {0, 1}))


def test_user_thresholds_override_preset_and_turn_on_censoring(fmriprep_tsv):
    table = read_confounds_table(fmriprep_tsv)
    # only the FD threshold changes: std_dvars keeps the preset's 1.5
    design = build_design(table, "scrubbing", fd_threshold=0.25)
    outliers = {12, 25, 38, 20}
    # 38 leaves 1 volume at the end; 21-24 is a short segment
    assert set(np.flatnonzero(design.censored)) == outliers | {21, 22, 23, 24, 39}
    # simple has no censoring of its own; a threshold turns it on
    assert not build_design(table, "simple").censored.any()
    simple = build_design(table, "simple", std_dvars_threshold=1.5)
    assert set(np.flatnonzero(simple.censored)) == {20}
    # np.inf turns a preset's criterion off
    no_dvars = build_design(table, "scrubbing", std_dvars_threshold=np.inf)
    assert set(np.flatnonzero(no_dvars.censored)) == {12, 25}


def test_design_counts_add_up(fmriprep_tsv):
    table = read_confounds_table(fmriprep_tsv)
    for strategy in STRATEGIES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "columns" fills the n/a of row 0
            design = build_design(table, strategy, fd_threshold=0.25)
        assert design.strategy == strategy
        total = design.n_dummy + design.censored.sum() + design.sample_mask.sum()
        assert total == N_VOLUMES
        assert not (design.censored & dummy_volumes(table)).any()


def test_strategies_registry():
    assert set(STRATEGIES) == {"columns", "simple", "scrubbing", "compcor"}


# --------------------------------------------------------------------------- the "columns" strategy


def _tsv_columns_with_zeros(path: Path, columns: list[str]) -> np.ndarray:
    """What the workflow's confounds reader has always given: the cells, n/a -> 0."""
    header, *rows = [line.split("\t") for line in path.read_text().splitlines()]
    index = [header.index(c) for c in columns]
    return np.array([[0.0 if row[j] == "n/a" else float(row[j]) for j in index] for row in rows])


def test_columns_strategy_matches_todays_reader(fmriprep_tsv):
    columns = ["trans_x", "framewise_displacement", "csf_derivative1", "a_comp_cor_00"]
    table = read_confounds_table(fmriprep_tsv)
    expected = _tsv_columns_with_zeros(fmriprep_tsv, columns)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # fMRIPrep's n/a first rows are expected: no warning
        design = build_design(table, "columns", columns=columns)
    assert design.names == columns
    np.testing.assert_array_equal(design.confounds, expected)
    # no censoring without thresholds; the two dummy volumes still go
    assert not design.censored.any()
    np.testing.assert_array_equal(design.sample_mask, _keep(N_VOLUMES, DUMMY))
    assert design.n_dummy == 2


def test_columns_strategy_all_columns_skips_dummy_flags(fmriprep_tsv):
    table = read_confounds_table(fmriprep_tsv)
    design = build_design(table, "columns")
    assert not any("non_steady_state" in name for name in design.names)
    assert len(design.names) == len(table.names) - len(DUMMY)
    for j, name in enumerate(design.names):
        np.testing.assert_array_equal(design.confounds[:, j], np.nan_to_num(table.column(name)))


def test_missing_values_after_the_first_row_are_zeroed_with_a_warning(tmp_path):
    gappy = np.array([np.nan, 1.0, np.nan, 3.0])
    path = _write_table(tmp_path, {"csf": np.arange(4.0), "framewise_displacement": gappy})
    table = read_confounds_table(path)
    with pytest.warns(UserWarning, match=r"after the first row .*\['framewise_displacement'\]"):
        design = build_design(table, "columns", run="sub-03_task-rest")
    np.testing.assert_array_equal(design.confounds[:, 1], [0.0, 1.0, 0.0, 3.0])


def test_columns_strategy_without_dummy_columns_keeps_everything(tmp_path):
    path = _write_table(tmp_path, {"a": np.arange(6.0), "b": np.ones(6)})
    design = build_design(read_confounds_table(path), "columns")
    assert design.sample_mask.all() and design.n_dummy == 0
    np.testing.assert_array_equal(design.confounds, np.column_stack([np.arange(6.0), np.ones(6)]))
    assert np.isnan(design.fd).all()  # no motion information


def test_columns_strategy_censors_with_thresholds(fmriprep_tsv):
    table = read_confounds_table(fmriprep_tsv)
    design = build_design(table, "columns", columns=["csf"], fd_threshold=0.5)
    assert set(np.flatnonzero(design.censored)) == {12, 25}
    np.testing.assert_array_equal(design.fd, np.nan_to_num(table.column("framewise_displacement")))
    assert design.fd[0] == 0


def test_empty_column_list_gives_no_confounds(fmriprep_tsv):
    design = build_design(read_confounds_table(fmriprep_tsv), "columns", columns=[])
    assert design.confounds is None and design.names == []


# --------------------------------------------------------------------------- censoring rule


@pytest.mark.parametrize(
    "outliers,removed",
    [
        ({7}, {7}),
        ({3, 10}, {0, 1, 2, 3, 10}),
        ({5, 9}, {5, 6, 7, 8, 9}),
        ({5, 11}, {5, 11}),
        ({16}, {16, 17, 18, 19}),
    ],
)
def test_scrub_rule_worked_examples(outliers, removed):
    fd = np.full(20, 0.1)
    fd[list(outliers)] = 0.9
    np.testing.assert_array_equal(censoring_mask(fd, None, 0.5, None), _keep(20, removed))


def test_scrub_rule_with_dummy_and_dvars():
    # n=30: dummy 0, FD outlier 5, std_dvars outlier 27 -> {0, 5, 27, 28, 29};
    # volumes 1-4 survive: the dummy volume is not part of the segment logic
    fd = np.full(30, 0.1)
    fd[0] = np.nan
    fd[5] = 0.8
    dvars = np.full(30, 1.0)
    dvars[0] = np.nan
    dvars[27] = 2.0
    dummy = _keep(30, set(range(1, 30)))
    keep = censoring_mask(fd, dvars, 0.5, 1.5, dummy=dummy)
    np.testing.assert_array_equal(keep, _keep(30, {0, 5, 27, 28, 29}))


def test_scrub_rule_same_case_through_a_table(tmp_path):
    fd = np.full(30, 0.1)
    fd[5] = 0.8
    dvars = np.full(30, 1.0)
    dvars[27] = 2.0
    fd[0] = dvars[0] = np.nan
    path = _write_table(
        tmp_path,
        {
            "framewise_displacement": fd,
            "std_dvars": dvars,
            "csf": np.arange(30.0),
            "non_steady_state_outlier00": (np.arange(30) == 0).astype(float),
        },
    )
    table = read_confounds_table(path)
    design = build_design(
        table, "columns", columns=["csf"], fd_threshold=0.5, std_dvars_threshold=1.5
    )
    np.testing.assert_array_equal(design.sample_mask, _keep(30, {0, 5, 27, 28, 29}))
    np.testing.assert_array_equal(np.flatnonzero(design.censored), [5, 27, 28, 29])
    assert design.n_dummy == 1


def test_censoring_is_strict_nan_never_flags_and_scrub_zero_is_plain():
    fd = np.array([np.nan, 0.5, 0.50001, 0.1, 0.1, 0.1, 0.1, 0.1])
    np.testing.assert_array_equal(censoring_mask(fd, None, 0.5, None, scrub=0), _keep(8, {2}))
    # the same with scrub=5 also takes the 2 volumes before the outlier
    np.testing.assert_array_equal(censoring_mask(fd, None, 0.5, None), _keep(8, {0, 1, 2}))
    # no thresholds: nothing but the dummy volumes
    dummy = _keep(8, set(range(1, 8)))
    np.testing.assert_array_equal(censoring_mask(fd, None, None, None, dummy=dummy), ~dummy)


def test_censoring_mask_errors():
    fd = np.zeros(10)
    with pytest.raises(ValueError, match="scrub"):
        censoring_mask(fd, None, 0.5, None, scrub=-1)
    with pytest.raises(ValueError, match="std_dvars_threshold=1.5 is given but std_dvars"):
        censoring_mask(fd, None, 0.5, 1.5)
    with pytest.raises(ValueError, match=r"std_dvars has shape \(9,\)"):
        censoring_mask(fd, np.zeros(9), 0.5, 1.5)
    with pytest.raises(ValueError, match=r"dummy has shape"):
        censoring_mask(fd, None, 0.5, None, dummy=np.zeros(3, bool))
    with pytest.raises(ValueError, match="run length"):
        censoring_mask(None, None, None, None)


def test_dummy_volumes_by_substring():
    table = _table(
        ["csf", "non_steady_state_outlier00", "non_steady_state_outlier01"],
        [[1, 1, 0], [2, 0, 1], [3, 0, 0], [4, 0, 0]],
    )
    np.testing.assert_array_equal(dummy_volumes(table), [True, True, False, False])
    assert not dummy_volumes(_table(["csf"], [[1], [2]])).any()


# --------------------------------------------------------------------------- framewise displacement


def test_fd_of_a_translation_step():
    motion = np.zeros((5, 6))
    motion[2:, 0] = 1.0  # 1 mm step in x at volume 2
    np.testing.assert_allclose(framewise_displacement(motion), [0, 0, 1, 0, 0])


def test_fd_of_a_rotation_step_is_arc_length_on_50mm():
    motion = np.zeros((3, 6))
    motion[1:, 4] = 0.01  # 0.01 rad about y
    np.testing.assert_allclose(framewise_displacement(motion), [0, 0.5, 0])
    np.testing.assert_allclose(framewise_displacement(motion, radius=35.0), [0, 0.35, 0])


def test_fd_sums_absolute_changes(rng):
    motion = rng.normal(size=(6, 6))
    steps = np.abs(motion[1:] - motion[:-1])
    expected = [0.0] + [s[:3].sum() + 50 * s[3:].sum() for s in steps]
    np.testing.assert_allclose(framewise_displacement(motion), expected)


def test_fd_errors():
    with pytest.raises(ValueError, match=r"\(n_volumes, 6\)"):
        framewise_displacement(np.zeros((5, 5)))
    with pytest.raises(ValueError, match="radius"):
        framewise_displacement(np.zeros((5, 6)), radius=0)


def test_design_fd_from_motion_when_file_has_no_fd_column(tmp_path, rng):
    motion = rng.normal(size=(8, 6))
    path = _write_table(tmp_path, dict(zip(MOTION, motion.T, strict=True)))
    design = build_design(read_confounds_table(path), "columns")
    np.testing.assert_allclose(design.fd, framewise_displacement(motion))


# --------------------------------------------------------------------------- reading


def test_confounds_sidecar_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("a\n1\n")
    path.with_suffix(".json").write_bytes(b"\xef\xbb\xbf" + b'{"a": {"Mask": "combined"}}')
    assert read_confounds_table(path, n_volumes=1).metadata == {"a": {"Mask": "combined"}}


def test_read_table_values_nan_and_metadata(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("a\tb\tc\n1\tn/a\t\n2.5\t-3e-2\tNaN\n\n")
    path.with_suffix(".json").write_text('{"a": {"Mask": "combined"}}')
    table = read_confounds_table(path, n_volumes=2)
    assert table.names == ["a", "b", "c"]
    np.testing.assert_array_equal(table.values, [[1, np.nan, np.nan], [2.5, -0.03, np.nan]])
    assert table.values.dtype == np.float64
    assert table.metadata == {"a": {"Mask": "combined"}}
    assert table.path == str(path)
    assert (
        read_confounds_table(_write_table(tmp_path, {"x": np.ones(2)}, name="d.tsv")).metadata == {}
    )


@pytest.mark.parametrize("fmt", [repr, "{:.6g}".format, "{:.10e}".format, "{: .4f} ".format])
def test_read_table_values_equal_pythons_float_of_each_cell(tmp_path, rng, fmt):
    values = rng.normal(size=(40, 7)) * 10.0 ** rng.integers(-9, 5, size=(40, 7))
    cells = [[fmt(float(v)) for v in row] for row in values]
    cells[0][:3] = ["n/a", "n/a", "n/a"]  # fMRIPrep's first row of derivatives and FD
    cells[17][5] = "n/a"
    path = tmp_path / "c.tsv"
    path.write_text("\n".join("\t".join(row) for row in [list("abcdefg"), *cells]) + "\n")
    expected = [[np.nan if c == "n/a" else float(c) for c in row] for row in cells]
    np.testing.assert_array_equal(read_confounds_table(path).values, expected)


@pytest.mark.parametrize("cell", ["", " ", "NA", "na", " N/A ", "nan", "1e400", "-inf", "x"])
def test_only_plain_tables_take_the_fast_parser(cell):
    # the other cells go through the checks of the loop over cells (same values, or its errors)
    plain = ["1.5\tn/a\t-2", "3\t4e-3\t5"]
    np.testing.assert_array_equal(
        _parse_plain_table(plain, 3), [[1.5, np.nan, -2.0], [3.0, 0.004, 5.0]]
    )
    parsed = _parse_plain_table([f"1\t{cell}\t2", "3\t4\t5"], 3)
    assert parsed is None or (cell.strip().lower() == "nan" and np.isnan(parsed[0, 1]))
    assert _parse_plain_table(["1\t2", "3\t4\t5"], 3) is None


def test_read_table_accepts_every_spelling_of_a_missing_value(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("a\tb\tc\td\te\n1\t\t NA \tN/A\tnan\n2\t3\t4\t5\t6\n")
    np.testing.assert_array_equal(
        read_confounds_table(path).values, [[1, np.nan, np.nan, np.nan, np.nan], [2, 3, 4, 5, 6]]
    )


@pytest.mark.parametrize(
    "content,n_volumes,match",
    [
        (None, None, "confounds file not found"),
        ("", None, "confounds file is empty"),
        ("a\tb\n1\t2\n3\n", None, "line 3 of .* has 1 cells, the header has 2"),
        ("a\tb\n1\tx\n", None, "non-numeric confound value 'x' in column 'b', line 2"),
        ("a\tb\n1\tinf\n", None, "non-numeric confound value 'inf'"),
        ("a\tb\n1\t2\n", 3, "confounds have 1 rows but the BOLD run has 3 volumes"),
        ("a\ta\n1\t2\n", None, r"repeated column name\(s\) \['a'\]"),
    ],
)
def test_read_table_errors_name_run_and_file(tmp_path, content, n_volumes, match):
    path = tmp_path / "sub-01_desc-confounds_timeseries.tsv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputDataError, match=match) as error:
        read_confounds_table(path, n_volumes=n_volumes, run="sub-01_run-1")
    assert str(error.value).startswith("sub-01_run-1: ")
    assert str(path) in str(error.value)


def test_read_table_ignores_a_byte_order_mark(tmp_path):
    # spreadsheet programs save "UTF-8 with BOM"; the mark must not join the first name
    path = tmp_path / "c.tsv"
    path.write_bytes(b"\xef\xbb\xbftrans_x\tframewise_displacement\r\n1\tn/a\r\n2\t0.1\r\n")
    table = read_confounds_table(path, n_volumes=2)
    assert table.names == ["trans_x", "framewise_displacement"]
    np.testing.assert_array_equal(table.values, [[1.0, np.nan], [2.0, 0.1]])
    design = build_design(table, "columns", columns=["trans_x"])
    np.testing.assert_array_equal(design.confounds, [[1.0], [2.0]])


def test_read_table_error_not_utf8(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_bytes("trans_x\tcsf\n1\t2\n".encode("utf-16"))
    with pytest.raises(InputDataError, match=rf"^r1: {re.escape(str(path))} is not UTF-8 text"):
        read_confounds_table(path, run="r1")


def test_read_table_invalid_json(tmp_path):
    path = _write_table(tmp_path, {"a": np.ones(3)})
    path.with_suffix(".json").write_text("{not json")
    with pytest.raises(InputDataError, match=r"r1: invalid JSON in .*\.json"):
        read_confounds_table(path, run="r1")


# --------------------------------------------------------------------------- design errors


def _drop(columns: dict, *names: str) -> dict:
    return {k: v for k, v in columns.items() if k not in names}


def test_unknown_strategy_and_columns_with_preset(fmriprep_tsv):
    table = read_confounds_table(fmriprep_tsv)
    with pytest.raises(ValueError, match="unknown denoising strategy 'aroma'"):
        build_design(table, "aroma")
    with pytest.raises(ValueError, match="applies only to strategy 'columns'"):
        build_design(table, "simple", columns=["csf"])


def test_unknown_column_lists_available(fmriprep_tsv):
    with pytest.raises(
        InputDataError, match=r"r1: unknown confound column\(s\) \['nope'\].*available"
    ):
        build_design(read_confounds_table(fmriprep_tsv), "columns", columns=["nope"], run="r1")


@pytest.mark.parametrize(
    "strategy,dropped,missing",
    [
        ("simple", MOTION, "'trans_x', 'trans_y'"),  # base columns absent
        ("simple", ("rot_z_derivative1_power2",), r"\['rot_z_derivative1_power2'\]"),
        ("simple", ("white_matter",), r"\['white_matter'\]"),
        ("scrubbing", ("csf_power2",), r"\['csf_power2'\]"),  # partial wm_csf expansion
        ("compcor", ("a_comp_cor_03",), r"\['a_comp_cor_03'\]"),  # in the JSON, not the TSV
    ],
)
def test_missing_columns_are_named(tmp_path, rng, strategy, dropped, missing):
    columns = _drop(_fmriprep_columns(rng), *dropped)
    path = _write_table(tmp_path, columns, _metadata())
    with pytest.raises(
        InputDataError, match=rf"sub-01: strategy '{strategy}' needs column\(s\) .*{missing}"
    ) as error:
        build_design(read_confounds_table(path), strategy, run="sub-01")
    assert str(path) in str(error.value)


def test_censoring_needs_its_columns(tmp_path, rng):
    columns = _fmriprep_columns(rng)
    path = _write_table(tmp_path, _drop(columns, "std_dvars"), _metadata())
    with pytest.raises(
        InputDataError, match=r"'scrubbing' with motion censoring needs column\(s\) \['std_dvars'\]"
    ):
        build_design(read_confounds_table(path), "scrubbing")
    path = _write_table(tmp_path, _drop(columns, "framewise_displacement"), _metadata())
    with pytest.raises(InputDataError, match=r"\['framewise_displacement'\]"):
        build_design(read_confounds_table(path), "columns", columns=["csf"], fd_threshold=0.5)


def test_compcor_errors(tmp_path, rng):
    columns = _fmriprep_columns(rng)
    no_json = _write_table(tmp_path, columns, None, name="a.tsv")
    with pytest.raises(InputDataError, match="needs the JSON sidecar"):
        build_design(read_confounds_table(no_json), "compcor")
    meta = {k: v for k, v in _metadata().items() if v.get("Mask") != "combined"}
    no_combined = _write_table(tmp_path, columns, meta, name="b.tsv")
    with pytest.raises(InputDataError, match="no a_comp_cor component with Mask 'combined'"):
        build_design(read_confounds_table(no_combined), "compcor")
    no_cosine = {k: v for k, v in columns.items() if not k.startswith("cosine")}
    path = _write_table(tmp_path, no_cosine, _metadata(), name="c.tsv")
    # 38 steady-state volumes at 4 s = 152 s: fMRIPrep writes floor(2 * 152 / 128) - 1 = 1
    with pytest.raises(
        InputDataError,
        match=r"r1: strategy 'compcor' needs the cosine high-pass columns .*: fMRIPrep writes 1 "
        r"for 38 steady-state volumes at TR 4 s \(152 s\), and there are none in .*c\.tsv; .*"
        r"confounds.strategy simple or scrubbing",
    ):
        build_design(read_confounds_table(path), "compcor", t_r=4.0, run="r1")
    # without the repetition time, how long the run is cannot be told
    with pytest.raises(InputDataError, match=r"none in .*c\.tsv, .* repetition time \(t_r\)"):
        build_design(read_confounds_table(path), "compcor")
    # the other presets do without cosines
    assert not any("cosine" in n for n in build_design(read_confounds_table(path), "simple").names)


@pytest.mark.parametrize(
    ("n_volumes", "t_r", "expected"),
    [
        (0, 2.0, 0),
        (31, 2.0, 0),  # 62 s: nipype's basis is the constant alone
        (60, 2.0, 0),  # 120 s: under the 128 s period, only the constant and nothing to drop
        (63, 2.0, 0),
        (64, 2.0, 1),  # 128 s exactly: floor(2) - 1
        (95, 2.0, 1),
        (96, 2.0, 2),  # 192 s
        (168, 2.0, 4),  # fMRIPrep's 4 (nilearn would make 5)
        (150, 0.8, 0),  # 120 s at a short TR
        (160, 0.8, 1),  # 128 s
    ],
)
def test_fmriprep_cosine_count(n_volumes, t_r, expected):
    assert fmriprep_cosine_count(n_volumes, t_r) == expected


@pytest.mark.parametrize("t_r", [0.0, -2.0, float("nan")])
def test_fmriprep_cosine_count_needs_a_positive_tr(t_r):
    with pytest.raises(ValueError, match="t_r must be a positive number of seconds"):
        fmriprep_cosine_count(60, t_r)


def test_fmriprep_cosine_count_agrees_with_the_synthetic_tables():
    from netregions.data.synthetic_fmriprep import cosine_basis

    for n_volumes in range(2, 400, 7):
        for t_r in (0.72, 1.0, 2.0, 2.5, 3.0):
            count = cosine_basis(n_volumes, t_r).shape[1]
            assert fmriprep_cosine_count(n_volumes, t_r) == count, (n_volumes, t_r)


def test_compcor_accepts_a_run_too_short_for_cosines(tmp_path, rng, caplog):
    columns = _fmriprep_columns(rng)  # 40 volumes, 2 of them dummy volumes
    no_cosine = {k: v for k, v in columns.items() if not k.startswith("cosine")}
    path = _write_table(tmp_path, no_cosine, _metadata())
    # 38 steady-state volumes at 3.3 s = 125.4 s, under 128 s: fMRIPrep writes no cosine
    # (the 40 volumes with the dummy ones would be 132 s, for which it writes one)
    with caplog.at_level("INFO", logger="netregions"):
        design = build_design(read_confounds_table(path), "compcor", t_r=3.3, run="r1")
    motion24 = {f"{m}{s}" for m in MOTION for s in ("", "_derivative1", "_power2",
                                                     "_derivative1_power2")}  # fmt: skip
    combined = {"a_comp_cor_01", "a_comp_cor_03", "a_comp_cor_04"}
    assert design.names == sorted(motion24 | combined)
    assert design.confounds.shape == (40, 27)
    assert (
        "r1: strategy 'compcor' without cosine columns: fMRIPrep writes none for 38 "
        "steady-state volumes at TR 3.3 s (125.4 s)" in caplog.text
    )
    assert str(path) in caplog.text


def test_all_volumes_removed(tmp_path):
    fd = np.full(6, 0.9)
    path = _write_table(tmp_path, {"framewise_displacement": fd, "csf": np.arange(6.0)})
    with pytest.raises(InputDataError, match="r2: strategy 'columns' removes all 6 volumes"):
        build_design(read_confounds_table(path), "columns", fd_threshold=0.5, run="r2")


def test_missing_values_the_strategy_cannot_handle(tmp_path, rng):
    columns = _fmriprep_columns(rng)
    columns["csf"][7] = np.nan
    path = _write_table(tmp_path, columns, _metadata())
    table = read_confounds_table(path)
    with pytest.raises(InputDataError, match=r"\['csf'\] .* missing values beyond the first row"):
        build_design(table, "simple")
    columns["white_matter"][:] = np.nan
    path = _write_table(tmp_path, columns, _metadata())
    with pytest.raises(InputDataError, match=r"\['white_matter'\] are entirely n/a"):
        build_design(read_confounds_table(path), "columns", columns=["white_matter"])


def test_no_warning_when_nothing_is_missing(tmp_path):
    path = _write_table(tmp_path, {"a": np.arange(4.0)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_design(read_confounds_table(path), "columns")


def test_preset_column_groups(fmriprep_tsv):
    table = read_confounds_table(fmriprep_tsv)
    assert preset_column_groups(build_design(table, "compcor").names) == {
        "motion": 24,
        "a_comp_cor": 3,
        "cosine": 4,
    }
    assert preset_column_groups(build_design(table, "scrubbing").names) == {
        "motion": 24,
        "csf/white_matter": 8,
        "cosine": 4,
    }
    names = ["global_signal", "cosine00", "c_comp_cor_00", "rot_z_power2", "csf", "a_comp_cor_12"]
    assert list(preset_column_groups(names).items()) == [
        ("motion", 1),
        ("csf/white_matter", 1),
        ("a_comp_cor", 1),
        ("cosine", 1),
        ("other", 2),
    ]
    assert preset_column_groups([]) == {}
