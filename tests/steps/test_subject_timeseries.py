import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import linalg, signal
from sklearn.covariance import LedoitWolf

import netregions
from netregions.io import read_tsv, save_array, save_nifti
from netregions.steps.subject_timeseries import subject_timeseries

from .helpers import (
    AFFINE,
    MOTION,
    acompcor_metadata,
    fmriprep_columns,
    smooth_reference,
    write_confounds,
    write_run,
    zscore,
)

RUN = "sub-01_task-rest"
KINDS = ["correlation", "partial correlation", "covariance", "precision"]


def _region_maps(n_voxels=90, n_regions=3):
    """Disjoint regions of unequal weights, (n_voxels, n_regions)."""
    maps = np.zeros((n_voxels, n_regions), np.float32)
    size = n_voxels // n_regions
    for r in range(n_regions):
        maps[r * size : (r + 1) * size, r] = 1.0 / (r + 1)
    return maps


def _write_inputs(tmp_path, signals, t_r=2.0):
    """smoothed.npy whose region signals are exactly ``signals``; region maps; stats.json."""
    maps = _region_maps(n_regions=signals.shape[1])
    # each voxel carries its region's signal divided by the region's squared norm: the least-
    # squares signals of these maps are the planted ones
    series = signals @ (maps.T / (maps.T**2).sum(axis=1, keepdims=True))
    save_array(series.astype(np.float32), tmp_path / "smoothed.npy")
    save_array(maps, tmp_path / "region_maps.npy")
    (tmp_path / "stats.json").write_text(json.dumps({"t_r": t_r, "n_volumes": len(signals)}))


def _files(tmp_path, kinds=("correlation",)):
    names = [k.replace(" ", "") for k in kinds]
    return {
        "smoothed": str(tmp_path / "smoothed.npy"),
        "region_maps": str(tmp_path / "region_maps.npy"),
        "stats": str(tmp_path / "stats.json"),
        "timeseries": str(tmp_path / "out" / "timeseries.tsv"),
        "timeseries_json": str(tmp_path / "out" / "timeseries.json"),
        "relmats": [str(tmp_path / "out" / f"stat-{n}_relmat.tsv") for n in names],
        "relmat_jsons": [str(tmp_path / "out" / f"stat-{n}_relmat.json") for n in names],
        "kinds": list(kinds),
    }


def _read_outputs(files):
    header, ts = read_tsv(files["timeseries"])
    sidecar = json.loads(Path(files["timeseries_json"]).read_text())
    return header, ts, sidecar


def _residual(signals, confounds):
    """Signals without their least-squares fit on the z-scored confounds."""
    x = zscore(confounds)
    return signals - x @ np.linalg.lstsq(x, signals, rcond=None)[0]


# --------------------------------------------------------------------------- "columns"


def _injected(tmp_path, rng, n_volumes=60):
    planted = rng.standard_normal((n_volumes, 2))
    confound = rng.standard_normal(n_volumes)
    _write_inputs(tmp_path, planted + 3.0 * confound[:, None])
    fd = np.full(n_volumes, 0.1)
    fd[0] = np.nan
    write_confounds(tmp_path / "confounds.tsv", {"motion": confound, "framewise_displacement": fd})
    return planted, confound, fd


def test_injected_confound_is_removed_and_the_planted_signal_recovered(tmp_path, rng):
    planted, confound, _ = _injected(tmp_path, rng)
    files = _files(tmp_path)
    subject_timeseries(
        **files, run=RUN, confounds=str(tmp_path / "confounds.tsv"), columns=["motion"]
    )
    header, ts, sidecar = _read_outputs(files)
    assert header == ["1", "2"] and ts.shape == (60, 2)
    np.testing.assert_allclose(ts.std(axis=0, ddof=1), 1, atol=1e-5)
    c = (confound - confound.mean()) / np.linalg.norm(confound - confound.mean())
    np.testing.assert_allclose(c @ ts, 0, atol=1e-4)  # the confound is gone exactly
    residual = planted - np.outer(c, c @ planted)
    expected = (residual - residual.mean(0)) / residual.std(0, ddof=1)
    np.testing.assert_allclose(ts, expected, atol=1e-4)
    assert sidecar["ConfoundStrategy"] == "columns"
    assert sidecar["ConfoundColumns"] == ["motion"]
    assert sidecar["VolumesKept"] == list(range(60)) and sidecar["NumberOfVolumesKept"] == 60
    assert sidecar["CensoredVolumes"] == [] and sidecar["DummyVolumes"] == 0
    assert sidecar["SamplingFrequency"] == 0.5 and sidecar["RepetitionTime"] == 2.0
    assert sidecar["NodeNames"] == ["1", "2"]
    assert sidecar["Sources"] == [
        "bids::group/regions.nii.gz",
        "bids::group/atlas-netregions_dseg.nii.gz",
    ]
    assert sidecar["SoftwareVersion"] == netregions.__version__


def test_columns_strategy_regresses_every_column_with_missing_values_as_zero(tmp_path, rng):
    planted, confound, fd = _injected(tmp_path, rng)
    files = _files(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an n/a first row is fMRIPrep's convention: no warning
        subject_timeseries(**files, run=RUN, confounds=str(tmp_path / "confounds.tsv"))
    _, ts, sidecar = _read_outputs(files)
    confounds = np.column_stack([confound, np.nan_to_num(fd, nan=0.0)])
    expected = zscore(_residual(planted + 3.0 * confound[:, None], confounds))
    np.testing.assert_allclose(ts, expected, atol=1e-4)
    assert sidecar["ConfoundColumns"] == ["motion", "framewise_displacement"]


def test_without_confounds_the_signals_are_only_standardised(tmp_path, rng):
    planted = rng.standard_normal((30, 3)) * [1.0, 5.0, 0.2] + 7.0
    _write_inputs(tmp_path, planted)
    files = _files(tmp_path)
    subject_timeseries(**files, run=RUN, detrend=True)
    _, ts, sidecar = _read_outputs(files)
    t = np.column_stack([np.ones(30), np.arange(30)])
    detrended = planted - t @ np.linalg.lstsq(t, planted, rcond=None)[0]
    np.testing.assert_allclose(ts, zscore(detrended), atol=1e-5)
    assert sidecar["ConfoundColumns"] == [] and sidecar["Detrend"] is True


# --------------------------------------------------------------------------- "scrubbing"

N_VOLUMES = 80
FD_SPIKES = (20, 23, 50)
DVARS_SPIKE = 60
# outliers 20, 23, 50 (FD) and 60 (DVARS); 21-22 form a segment shorter than 5: censored too
CENSORED = [20, 21, 22, 23, 50, 60]


def _scrubbing_inputs(tmp_path, rng, t_r=2.5):
    columns = fmriprep_columns(rng, N_VOLUMES, dummy=1, fd_spikes=FD_SPIKES)
    columns["std_dvars"][DVARS_SPIKE] = 2.0
    write_confounds(tmp_path / "confounds.tsv", columns)
    signals = rng.standard_normal((N_VOLUMES, 3))
    # the signals carry some of the motion and CSF terms, which the strategy must remove
    signals += 20 * columns["trans_x"][:, None] + 0.1 * columns["csf"][:, None]
    _write_inputs(tmp_path, signals, t_r=t_r)
    keep = np.ones(N_VOLUMES, bool)
    keep[[0, *CENSORED]] = False
    return columns, signals, keep


def _scrubbing_reference(columns, signals, keep):
    """The 'scrubbing' preset written out: 24 motion + 8 WM/CSF terms + cosines, sorted,
    row-0 n/a taking the row-1 value, demeaned over kept volumes; censored rows dropped."""
    names = sorted(
        name
        for name in columns
        if name.startswith(("trans_", "rot_", "csf", "white_matter", "cosine"))
    )
    assert len(names) == 24 + 8 + 2
    x = np.column_stack([columns[n] for n in names])
    x[0] = np.where(np.isnan(x[0]), x[1], x[0])
    x -= x[keep].mean(axis=0)
    return names, zscore(_residual(signals[keep], x[keep]))


def test_scrubbing_strategy_drops_dummy_and_censored_volumes(tmp_path, rng):
    columns, signals, keep = _scrubbing_inputs(tmp_path, rng)
    files = _files(tmp_path)
    subject_timeseries(
        **files, run=RUN, confounds=str(tmp_path / "confounds.tsv"), strategy="scrubbing"
    )
    header, ts, sidecar = _read_outputs(files)
    names, expected = _scrubbing_reference(columns, signals, keep)
    assert ts.shape == (N_VOLUMES - 1 - len(CENSORED), 3) == (73, 3)
    np.testing.assert_allclose(ts, expected, atol=1e-4)
    assert sidecar["VolumesKept"] == np.flatnonzero(keep).tolist()
    assert sidecar["NumberOfVolumesKept"] == 73 and sidecar["NumberOfVolumes"] == N_VOLUMES
    assert sidecar["CensoredVolumes"] == CENSORED
    assert sidecar["DummyVolumes"] == 1
    assert sidecar["ConfoundStrategy"] == "scrubbing"
    assert sidecar["ConfoundColumns"] == names
    assert (
        sidecar["SamplingFrequency"] == pytest.approx(1 / 2.5) and sidecar["RepetitionTime"] == 2.5
    )


def test_filters_use_the_repetition_time_of_the_stats(tmp_path, rng):
    planted = rng.standard_normal((100, 3))
    results = {}
    for t_r in (2.0, 1.0):
        _write_inputs(tmp_path, planted, t_r=t_r)
        files = _files(tmp_path)
        subject_timeseries(**files, run=RUN, high_pass=0.01, low_pass=0.08)
        _, ts, sidecar = _read_outputs(files)
        sos = signal.butter(5, [0.01, 0.08], "bandpass", output="sos", fs=1 / t_r)
        expected = zscore(signal.sosfiltfilt(sos, planted, axis=0, padtype="odd"))
        np.testing.assert_allclose(ts, expected, atol=1e-4)
        assert sidecar["HighPass"] == 0.01 and sidecar["LowPass"] == 0.08
        assert sidecar["SamplingFrequency"] == 1 / t_r
        results[t_r] = ts
    assert not np.allclose(results[2.0], results[1.0], atol=1e-2)


def test_filtering_with_censoring_writes_the_kept_volumes_only(tmp_path, rng):
    _, _, keep = _scrubbing_inputs(tmp_path, rng)
    files = _files(tmp_path)
    subject_timeseries(
        **files, run=RUN, confounds=str(tmp_path / "confounds.tsv"), strategy="scrubbing",
        high_pass=0.01,
    )  # fmt: skip
    _, ts, sidecar = _read_outputs(files)
    assert ts.shape == (keep.sum(), 3)
    assert sidecar["VolumesKept"] == np.flatnonzero(keep).tolist()


def _compcor_without_cosines(tmp_path, rng, t_r):
    """60 volumes, 1 dummy, 3 combined aCompCor components and no cosine column."""
    columns = fmriprep_columns(rng, 60, dummy=1, n_cosine=0, n_acompcor=3)
    write_confounds(tmp_path / "confounds.tsv", columns, acompcor_metadata(3))
    signals = rng.standard_normal((60, 3)) + 20 * columns["trans_x"][:, None]
    _write_inputs(tmp_path, signals, t_r=t_r)
    return columns, signals


def test_compcor_on_a_run_too_short_for_cosines(tmp_path, rng):
    # 59 steady-state volumes at 2 s = 118 s, under fMRIPrep's 128 s: it writes no cosine
    columns, signals = _compcor_without_cosines(tmp_path, rng, t_r=2.0)
    files = _files(tmp_path)
    subject_timeseries(
        **files, run=RUN, confounds=str(tmp_path / "confounds.tsv"), strategy="compcor"
    )
    _, ts, sidecar = _read_outputs(files)
    motion24 = [f"{m}{e}" for m in MOTION for e in ("", "_derivative1", "_power2",
                                                   "_derivative1_power2")]  # fmt: skip
    names = sorted([*motion24, "a_comp_cor_00", "a_comp_cor_01", "a_comp_cor_02"])
    assert sidecar["ConfoundColumns"] == names
    keep = np.arange(60) > 0
    x = np.column_stack([columns[n] for n in names])
    x[0] = np.where(np.isnan(x[0]), x[1], x[0])
    x -= x[keep].mean(axis=0)
    np.testing.assert_allclose(ts, zscore(_residual(signals[keep], x[keep])), atol=1e-4)


def test_compcor_without_cosines_on_a_run_long_enough_for_them(tmp_path, rng):
    # the same table, at the stats' TR 2.5 s: 147.5 s, for which fMRIPrep writes one cosine
    _compcor_without_cosines(tmp_path, rng, t_r=2.5)
    files = _files(tmp_path)
    with pytest.raises(
        ValueError,
        match=rf"^{RUN}: strategy 'compcor' needs the cosine .*fMRIPrep writes 1 for 59 "
        r"steady-state volumes at TR 2.5 s",
    ):
        subject_timeseries(
            **files, run=RUN, confounds=str(tmp_path / "confounds.tsv"), strategy="compcor"
        )
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- connectomes

MEASURES = {
    "correlation": "Pearson correlation coefficient",
    "partial correlation": "Partial correlation coefficient",
    "covariance": "Covariance",
    "precision": "Precision (inverse covariance)",
}


def test_relmats_of_every_kind_are_ledoit_wolf_of_the_written_series(tmp_path, rng):
    _, _, keep = _scrubbing_inputs(tmp_path, rng)
    files = _files(tmp_path, KINDS)
    subject_timeseries(
        **files, run=RUN, confounds=str(tmp_path / "confounds.tsv"), strategy="scrubbing"
    )
    _, ts, _ = _read_outputs(files)
    covariance = LedoitWolf().fit(ts.astype(np.float32).astype(np.float64)).covariance_
    scale = 1 / np.sqrt(np.diag(covariance))
    precision = linalg.inv(covariance)
    pscale = 1 / np.sqrt(np.diag(precision))
    partial = -precision * pscale * pscale[:, None]
    np.fill_diagonal(partial, 1.0)
    expected = {
        "correlation": covariance * scale * scale[:, None],
        "partial correlation": partial,
        "covariance": covariance,
        "precision": precision,
    }
    for kind, matrix_path, json_path in zip(
        KINDS, files["relmats"], files["relmat_jsons"], strict=True
    ):
        header, matrix = read_tsv(matrix_path)
        assert header == ["1", "2", "3"]
        np.testing.assert_allclose(matrix, expected[kind], rtol=1e-4, atol=1e-6, err_msg=kind)
        sidecar = json.loads(Path(json_path).read_text())
        assert sidecar["RelationshipMeasure"] == MEASURES[kind]
        assert sidecar["NodeNames"] == ["1", "2", "3"]
        # acquired, as in the time series' sidecar; kept: 80 less 1 dummy and 6 censored
        assert sidecar["NumberOfVolumes"] == 80 and sidecar["NumberOfVolumesKept"] == 73
        assert sidecar["Sources"] == [
            "bids::sub-01/func/sub-01_task-rest_seg-netregions_timeseries.tsv",
            "bids::group/regions.nii.gz",
            "bids::group/atlas-netregions_dseg.nii.gz",
        ]
        assert sidecar["ValidDiagonal"] is (kind in ("covariance", "precision"))
        assert sidecar["CovarianceEstimator"] == "Ledoit-Wolf"
        assert sidecar["Weighted"] is True and sidecar["Directed"] is False
    np.testing.assert_allclose(np.diag(read_tsv(files["relmats"][0])[1]), 1.0)


# --------------------------------------------------------------------------- re-smoothing


def test_other_smoothing_decodes_and_smooths_the_run_again(tmp_path, rng):
    shape = (12, 14, 10)
    data = rng.standard_normal((*shape, 30)).astype(np.float32)
    inside = np.zeros(shape, bool)
    inside[2:10, 2:12, 2:8] = True
    write_run(tmp_path / "bold.nii.gz", data)
    save_nifti(inside.astype(np.uint8), AFFINE, tmp_path / "mask.nii.gz")
    x = np.indices(shape)[0][inside]
    maps = np.column_stack([x < 6, x >= 6]).astype(np.float32)
    save_array(maps, tmp_path / "region_maps.npy")
    (tmp_path / "stats.json").write_text(json.dumps({"t_r": 2.0}))
    files = _files(tmp_path)
    files["smoothed"] = str(tmp_path / "absent.npy")  # not read on this path
    subject_timeseries(
        **files,
        run=RUN,
        bold=str(tmp_path / "bold.nii.gz"),
        mask=str(tmp_path / "mask.nii.gz"),
        smoothing_fwhm=8.0,
    )
    series = smooth_reference(data, AFFINE, 8.0)[inside].T
    signals = np.linalg.lstsq(maps.astype(np.float64), series.T.astype(np.float64), rcond=None)[0].T
    _, ts, _ = _read_outputs(files)
    np.testing.assert_allclose(ts, zscore(signals), atol=1e-4)


# --------------------------------------------------------------------------- errors


def test_region_maps_that_do_not_fit_the_series_name_the_run(tmp_path, rng):
    _write_inputs(tmp_path, rng.standard_normal((20, 3)))
    save_array(_region_maps(n_voxels=87), tmp_path / "region_maps.npy")
    files = _files(tmp_path)
    with pytest.raises(ValueError, match=rf"^{RUN}: 90 in-mask voxels in the series, 87 in the"):
        subject_timeseries(**files, run=RUN)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "settings", [{"strategy": "scrubbing"}, {"strategy": "columns", "fd_threshold": 0.5}]
)
def test_a_strategy_needing_confounds_without_a_confounds_file(tmp_path, rng, settings):
    _write_inputs(tmp_path, rng.standard_normal((20, 3)))
    files = _files(tmp_path)
    with pytest.raises(
        ValueError, match=rf"^{RUN}: .*needs a confounds file, and this run has none"
    ):
        subject_timeseries(**files, run=RUN, **settings)
    assert not (tmp_path / "out").exists()


def _few_volumes(tmp_path, rng, n_volumes, n_confounds=4):
    signals = rng.standard_normal((n_volumes, 3))
    _write_inputs(tmp_path, signals)
    columns = {f"c{i}": rng.standard_normal(n_volumes) for i in range(n_confounds)}
    write_confounds(tmp_path / "confounds.tsv", columns)
    return signals, np.column_stack(list(columns.values()))


@pytest.mark.parametrize("detrend", [False, True])
def test_a_run_left_with_one_dimension_is_refused(tmp_path, rng, detrend):
    # 4 confounds, the mean and (detrending) a trend leave one dimension: every |r| is 1
    n_volumes = 4 + 2 + int(detrend)
    signals, confounds = _few_volumes(tmp_path, rng, n_volumes)
    t = np.arange(n_volumes, dtype=float)
    design = np.column_stack([np.ones(n_volumes), confounds] + ([t] if detrend else []))
    left = signals - design @ np.linalg.lstsq(design, signals, rcond=None)[0]
    np.testing.assert_allclose(np.abs(np.corrcoef(left.T)), 1.0, atol=1e-8)
    files = _files(tmp_path)
    with pytest.raises(
        ValueError, match=rf"^{RUN}: {n_volumes} volumes kept .*4 confound columns.* leave 1 dim"
    ):
        subject_timeseries(
            **files, run=RUN, confounds=str(tmp_path / "confounds.tsv"), detrend=detrend
        )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("detrend", [False, True])
def test_a_run_left_with_two_dimensions_is_cleaned(tmp_path, rng, detrend):
    n_volumes = 4 + 3 + int(detrend)
    _few_volumes(tmp_path, rng, n_volumes)
    files = _files(tmp_path)
    subject_timeseries(**files, run=RUN, confounds=str(tmp_path / "confounds.tsv"), detrend=detrend)
    _, relmat = read_tsv(files["relmats"][0])
    assert np.all(np.abs(relmat[np.triu_indices(3, 1)]) < 1 - 1e-6)


def test_too_few_volumes_to_filter_name_the_run(tmp_path, rng):
    _write_inputs(tmp_path, rng.standard_normal((20, 3)))
    files = _files(tmp_path)
    with pytest.raises(ValueError, match=rf"^{RUN}: Butterworth filter: a series of 20 samples"):
        subject_timeseries(**files, run=RUN, high_pass=0.01, low_pass=0.08)
    assert not (tmp_path / "out").exists()


def test_one_relmat_output_per_kind(tmp_path, rng):
    _write_inputs(tmp_path, rng.standard_normal((20, 3)))
    files = {**_files(tmp_path, KINDS), "kinds": KINDS[:2]}
    with pytest.raises(ValueError, match="4 relmat outputs for kinds"):
        subject_timeseries(**files, run=RUN)
