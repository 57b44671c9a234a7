import numpy as np
import pytest

from netregions.exceptions import InputDataError
from netregions.io import read_table, write_table, write_tsv
from netregions.steps.qcfc import qcfc

REGIONS = ["1", "2", "3"]
CENTRES = [(0.0, 0.0, 0.0), (30.0, 0.0, 0.0), (0.0, 60.0, 0.0)]


def _write_series(tmp_path, rng, coupling):
    """One run per subject; regions 1 and 2 share a signal of the subject's ``coupling``."""
    runs = [f"sub-{k + 1:02d}" for k in range(len(coupling))]
    paths = []
    for run, weight in zip(runs, coupling, strict=True):
        shared = rng.standard_normal(200)
        series = rng.standard_normal((200, 3))
        series[:, :2] += weight * shared[:, None]
        paths.append(str(tmp_path / f"{run}_timeseries.tsv"))
        write_tsv(paths[-1], series.astype(np.float32), REGIONS)
    region_rows = [
        {"region": r, "x": x, "y": y, "z": z} for r, (x, y, z) in zip(REGIONS, CENTRES, strict=True)
    ]
    write_table(tmp_path / "regions.tsv", region_rows, ["region", "x", "y", "z"])
    return runs, paths


def _dataset(tmp_path, rng, mean_fd):
    """One run per subject; regions 1 and 2 share a signal whose weight grows with mean FD."""
    coupling = [4.0 * (0.0 if np.isnan(fd) else fd) for fd in mean_fd]
    runs, paths = _write_series(tmp_path, rng, coupling)
    qc_rows = [{"run": r, "mean_fd": fd} for r, fd in zip(runs, mean_fd, strict=True)]
    write_table(tmp_path / "qc.tsv", qc_rows, ["run", "mean_fd"])
    return runs, paths


def test_qcfc_leaves_out_a_subject_without_mean_fd_and_finds_the_planted_motion_edge(tmp_path, rng):
    mean_fd = [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, np.nan]  # sub-08: no motion estimate
    runs, paths = _dataset(tmp_path, rng, mean_fd)
    row, r = _run_qcfc(tmp_path, runs, paths)  # edges (2, 1), (3, 1), (3, 2)
    assert row["n_subjects"] == "7"
    assert r[0] > 0.8  # the planted motion-dependent edge
    distances = np.load(tmp_path / "qcfc.npz")["distances"]
    np.testing.assert_allclose(distances, [30.0, 60.0, np.hypot(30, 60)])


# --------------------------------------------------------------------------- covariates

#: The step reads float32 series and 6-digit mean FDs; the references use float64.
TOLERANCE = 1e-4


def _write_qc_and_participants(tmp_path, runs, mean_fd, columns):
    qc_rows = [{"run": r, "mean_fd": fd} for r, fd in zip(runs, mean_fd, strict=True)]
    write_table(tmp_path / "qc.tsv", qc_rows, ["run", "mean_fd"])
    rows = [
        {"participant_id": r, **{c: v[i] for c, v in columns.items()}} for i, r in enumerate(runs)
    ]
    write_table(tmp_path / "participants.tsv", rows, ["participant_id", *columns])
    return str(tmp_path / "participants.tsv")


def _run_qcfc(tmp_path, runs, paths, participants=None, covariates=()):
    qcfc(
        paths,
        str(tmp_path / "qc.tsv"),
        str(tmp_path / "regions.tsv"),
        str(tmp_path / "qcfc.tsv"),
        str(tmp_path / "qcfc.npz"),
        participants,
        runs=runs,
        subjects=[r[4:] for r in runs],
        kinds=["correlation"],
        covariates=covariates,
    )
    (row,) = read_table(tmp_path / "qcfc.tsv")
    return row, np.load(tmp_path / "qcfc.npz")["correlation"]


def _ledoit_wolf_edges(paths):
    """Each subject's correlation edges (2,1), (3,1), (3,2), from scikit-learn's Ledoit-Wolf."""
    from sklearn.covariance import LedoitWolf

    edges = []
    for path in paths:
        c = LedoitWolf().fit(np.loadtxt(path, skiprows=1)).covariance_
        r = c / np.sqrt(np.outer(np.diag(c), np.diag(c)))
        edges.append([r[1, 0], r[2, 0], r[2, 1]])
    return np.array(edges)


def _partial_correlation(edges, fd, covariates):
    """Pearson r of edges and FD after least squares on [1, z-scored covariates]."""
    z = (covariates - covariates.mean(axis=0)) / covariates.std(axis=0)
    design = np.column_stack([np.ones(len(fd)), z])
    residual = lambda y: y - design @ np.linalg.lstsq(design, y, rcond=None)[0]  # noqa: E731
    f = residual(fd)
    return np.array([np.corrcoef(residual(edges[:, k]), f)[0, 1] for k in range(edges.shape[1])])


def test_age_that_drives_motion_and_an_edge_is_removed(tmp_path, rng):
    # planted: age drives mean FD (the young move more) and the coupling of regions 1 and 2;
    # FD itself has no effect on any edge
    n = 40
    age = rng.uniform(8, 40, n)
    z = (age - age.mean()) / age.std()
    mean_fd = 0.2 - 0.05 * z + 0.01 * rng.standard_normal(n)
    runs, paths = _write_series(tmp_path, rng, 1.0 - 0.5 * z.clip(-1.8, 1.8))
    participants = _write_qc_and_participants(
        tmp_path, runs, mean_fd, {"age": [f"{a:.2f}" for a in age]}
    )
    plain_row, plain = _run_qcfc(tmp_path, runs, paths)
    assert plain[0] > 0.7  # age seen as motion
    assert plain_row["covariates"] == "none" and plain_row["n_missing_covariates"] == "0"
    row, partial = _run_qcfc(tmp_path, runs, paths, participants, ["age"])
    assert abs(partial[0]) < 0.3
    edges = _ledoit_wolf_edges(paths)
    ages = np.array([float(f"{a:.2f}") for a in age])[:, None]
    expected = _partial_correlation(edges, mean_fd, ages)
    np.testing.assert_allclose(partial, expected, atol=TOLERANCE)
    expected_plain = [np.corrcoef(e, mean_fd)[0, 1] for e in edges.T]
    np.testing.assert_allclose(plain, expected_plain, atol=TOLERANCE)
    assert row["covariates"] == "age" and row["n_subjects"] == "40"


def test_sex_as_letters_is_dummy_coded_and_n_a_leaves_the_subject_out(tmp_path, rng, caplog):
    n = 30
    sex = np.array(["M", "F"] * (n // 2))
    male = (sex == "M").astype(float)
    mean_fd = 0.15 + 0.1 * male + 0.02 * rng.standard_normal(n)
    runs, paths = _write_series(tmp_path, rng, 0.5 + 1.0 * male)
    cells = list(sex)
    cells[4] = "n/a"  # sub-05: sex unknown
    participants = _write_qc_and_participants(tmp_path, runs, mean_fd, {"sex": cells})
    _, plain = _run_qcfc(tmp_path, runs, paths)
    assert plain[0] > 0.7
    with caplog.at_level("INFO", logger="netregions"):
        row, partial = _run_qcfc(tmp_path, runs, paths, participants, ["sex"])
    assert "1 subject(s) left out for a missing value (n/a) in sex" in caplog.text
    assert "sex: reference level 'F'" in caplog.text
    assert row["covariates"] == "sex[M]"
    assert row["n_subjects"] == "29" and row["n_missing_covariates"] == "1"
    keep = np.arange(n) != 4
    edges = _ledoit_wolf_edges(paths)[keep]
    expected = _partial_correlation(edges, mean_fd[keep], male[keep, None])
    np.testing.assert_allclose(partial, expected, atol=TOLERANCE)
    assert abs(partial[0]) < 0.3


def test_a_covariate_the_table_lacks_is_an_error_naming_file_and_column(tmp_path, rng):
    runs, paths = _write_series(tmp_path, rng, np.ones(6))
    participants = _write_qc_and_participants(
        tmp_path, runs, np.linspace(0.1, 0.3, 6), {"age": ["8", "9", "10", "11", "12", "13"]}
    )
    with pytest.raises(InputDataError) as info:
        _run_qcfc(tmp_path, runs, paths, participants, ["age", "weight"])
    assert str(info.value) == (
        f"qcfc.covariates: {participants} has no column 'weight'; its columns are "
        "participant_id, age"
    )
    with pytest.raises(InputDataError, match="need a participants table"):
        _run_qcfc(tmp_path, runs, paths, None, ["age"])


def test_a_covariate_constant_among_the_subjects_used_is_an_error(tmp_path, rng):
    # sub-06, the only F, has no mean FD: among the subjects QC-FC uses, sex is constant
    runs, paths = _write_series(tmp_path, rng, np.ones(6))
    mean_fd = [0.1, 0.2, 0.15, 0.3, 0.25, np.nan]
    participants = _write_qc_and_participants(
        tmp_path, runs, mean_fd, {"sex": ["M", "M", "M", "M", "M", "F"]}
    )
    with pytest.raises(InputDataError) as info:
        _run_qcfc(tmp_path, runs, paths, participants, ["sex"])
    assert str(info.value) == (
        f"qcfc.covariates: covariate 'sex' is constant among the 5 subjects: every one is 'M' "
        f"({participants})"
    )
    assert not (tmp_path / "qcfc.tsv").exists()
