import numpy as np
import pytest
from scipy import linalg
from sklearn.covariance import LedoitWolf

from netregions.exceptions import InputDataError
from netregions.io import read_tsv, write_tsv
from netregions.steps.connectivity import connectivity

REGIONS = ["1", "2", "3", "4"]
# subject 01 has two runs, 02 one, 03 two: a mean over runs would weigh the subjects unequally
RUNS = ["sub-01_run-1", "sub-01_run-2", "sub-02_run-1", "sub-03_run-1", "sub-03_run-2"]
SUBJECTS = ["01", "01", "02", "03", "03"]


def _series(rng, n_volumes, n_regions=4):
    mixing = rng.standard_normal((n_regions, n_regions)) + 2 * np.eye(n_regions)
    return (rng.standard_normal((n_volumes, n_regions)) @ mixing).astype(np.float32)


def _write_runs(tmp_path, rng, runs=RUNS):
    paths = []
    for k, run in enumerate(runs):
        path = tmp_path / f"{run}_timeseries.tsv"
        write_tsv(path, _series(rng, 40 + 7 * k), REGIONS)
        paths.append(str(path))
    return paths


def _covariances(paths):
    """sklearn's Ledoit-Wolf covariance of every written series, in float64."""
    return [
        LedoitWolf().fit(read_tsv(p)[1].astype(np.float32).astype(np.float64)).covariance_
        for p in paths
    ]


def _by_subject(values):
    out = {}
    for value, subject in zip(values, SUBJECTS, strict=True):
        out.setdefault(subject, []).append(value)
    return list(out.values())


def _corr(cov):
    d = 1 / np.sqrt(np.diag(cov))
    return cov * d * d[:, None]


def _outputs(tmp_path, kind):
    name = kind.replace(" ", "_")
    return {
        "mean": str(tmp_path / f"connectome_{name}_mean.tsv"),
        "reference": str(tmp_path / f"{name}.npy"),
    }


def _z_mean(matrices):
    """Mean in Fisher z, back to r, unit diagonal."""
    z = np.arctanh(np.clip(np.array(matrices), -1 + 1e-7, 1 - 1e-7))
    out = np.tanh(z.mean(axis=0))
    np.fill_diagonal(out, 1.0)
    return out


def test_correlation_runs_then_subjects_averaged_in_fisher_z(tmp_path, rng):
    paths = _write_runs(tmp_path, rng)
    outputs = _outputs(tmp_path, "correlation")
    connectivity(paths, **outputs, kind="correlation", runs=RUNS, subjects=SUBJECTS)
    per_subject = [_z_mean([_corr(c) for c in covs]) for covs in _by_subject(_covariances(paths))]
    expected = _z_mean(per_subject)
    header, mean = read_tsv(outputs["mean"])
    assert header == REGIONS
    np.testing.assert_allclose(mean, expected, atol=1e-5)
    np.testing.assert_allclose(np.load(outputs["reference"]), expected, atol=1e-5)
    # not the plain mean over runs, nor the z-mean over runs ignoring subjects
    pooled = _z_mean([_corr(c) for c in _covariances(paths)])
    assert np.abs(mean - pooled).max() > 1e-3


def test_covariance_is_the_mean_over_subjects_of_their_mean_over_runs(tmp_path, rng):
    paths = _write_runs(tmp_path, rng)
    outputs = _outputs(tmp_path, "covariance")
    connectivity(paths, **outputs, kind="covariance", runs=RUNS, subjects=SUBJECTS)
    expected = np.mean([np.mean(covs, axis=0) for covs in _by_subject(_covariances(paths))], axis=0)
    _, mean = read_tsv(outputs["mean"])
    np.testing.assert_allclose(mean, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
    assert np.abs(mean - np.mean(_covariances(paths), axis=0)).max() > 1e-3


def test_partial_correlation_is_averaged_in_fisher_z(tmp_path, rng):
    paths = _write_runs(tmp_path, rng)
    outputs = _outputs(tmp_path, "partial correlation")
    connectivity(paths, **outputs, kind="partial correlation", runs=RUNS, subjects=SUBJECTS)

    def partial(cov):
        p = -_corr(linalg.inv(cov))
        np.fill_diagonal(p, 1.0)
        return p

    per_subject = [_z_mean([partial(c) for c in covs]) for covs in _by_subject(_covariances(paths))]
    np.testing.assert_allclose(read_tsv(outputs["mean"])[1], _z_mean(per_subject), atol=1e-5)


def test_tangent_group_is_the_geometric_mean_of_the_subjects_and_reference_its_whitening(
    tmp_path, rng
):
    paths = _write_runs(tmp_path, rng)
    outputs = _outputs(tmp_path, "tangent")
    connectivity(paths, **outputs, kind="tangent", runs=RUNS, subjects=SUBJECTS)
    subject_means = [np.mean(covs, axis=0) for covs in _by_subject(_covariances(paths))]
    header, geometric = read_tsv(outputs["mean"])
    assert header == REGIONS
    # the geometric mean G is where the logs of the whitened subjects' matrices average to 0
    inv_sqrt = linalg.inv(linalg.sqrtm(geometric))
    gradient = np.mean([linalg.logm(inv_sqrt @ c @ inv_sqrt) for c in subject_means], axis=0)
    np.testing.assert_allclose(gradient, 0, atol=2e-5)
    assert np.abs(geometric - np.mean(subject_means, axis=0)).max() > 1e-3  # not arithmetic
    whitening = np.load(outputs["reference"])
    np.testing.assert_allclose(whitening, whitening.T, atol=1e-6)
    np.testing.assert_allclose(whitening @ geometric @ whitening, np.eye(4), atol=1e-5)
    np.testing.assert_allclose(whitening, inv_sqrt, rtol=1e-4, atol=1e-6)


def test_tangent_needs_two_subjects(tmp_path, rng):
    paths = _write_runs(tmp_path, rng, RUNS[:2])
    with pytest.raises(ValueError, match="at least 2 subjects; got 1"):
        connectivity(
            paths,
            **_outputs(tmp_path, "tangent"),
            kind="tangent",
            runs=RUNS[:2],
            subjects=SUBJECTS[:2],
        )


def test_region_columns_that_differ_name_the_run(tmp_path, rng):
    paths = _write_runs(tmp_path, rng)
    write_tsv(paths[3], _series(rng, 30, 3), REGIONS[:3])
    with pytest.raises(
        InputDataError,
        match=r"^sub-03_run-1: region columns of .* differ from those of sub-01_run-1 \(3 vs 4",
    ):
        connectivity(
            paths,
            **_outputs(tmp_path, "correlation"),
            kind="correlation",
            runs=RUNS,
            subjects=SUBJECTS,
        )
    write_tsv(paths[3], _series(rng, 30), ["1", "2", "3", "9"])
    with pytest.raises(InputDataError, match=r"^sub-03_run-1: region columns"):
        connectivity(
            paths,
            **_outputs(tmp_path, "correlation"),
            kind="correlation",
            runs=RUNS,
            subjects=SUBJECTS,
        )
    assert not (tmp_path / "connectome_correlation_mean.tsv").exists()


def test_too_few_volumes_names_the_run(tmp_path, rng):
    paths = _write_runs(tmp_path, rng)
    write_tsv(paths[2], _series(rng, 1), REGIONS)
    with pytest.raises(
        InputDataError, match=r"^sub-02_run-1: .* has 1 volume\(s\); at least 2 needed"
    ):
        connectivity(
            paths,
            **_outputs(tmp_path, "covariance"),
            kind="covariance",
            runs=RUNS,
            subjects=SUBJECTS,
        )
