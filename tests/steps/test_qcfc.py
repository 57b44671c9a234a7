import numpy as np

from netregions.io import read_table, write_table, write_tsv
from netregions.steps.qcfc import qcfc

REGIONS = ["1", "2", "3"]
CENTRES = [(0.0, 0.0, 0.0), (30.0, 0.0, 0.0), (0.0, 60.0, 0.0)]


def _dataset(tmp_path, rng, mean_fd):
    """One run per subject; regions 1 and 2 share a signal whose weight grows with mean FD."""
    runs = [f"sub-{k + 1:02d}" for k in range(len(mean_fd))]
    paths = []
    for run, fd in zip(runs, mean_fd, strict=True):
        shared = rng.standard_normal(200)
        series = rng.standard_normal((200, 3))
        series[:, :2] += (4.0 * (0.0 if np.isnan(fd) else fd)) * shared[:, None]
        paths.append(str(tmp_path / f"{run}_timeseries.tsv"))
        write_tsv(paths[-1], series.astype(np.float32), REGIONS)
    qc_rows = [{"run": r, "mean_fd": fd} for r, fd in zip(runs, mean_fd, strict=True)]
    write_table(tmp_path / "qc.tsv", qc_rows, ["run", "mean_fd"])
    region_rows = [
        {"region": r, "x": x, "y": y, "z": z} for r, (x, y, z) in zip(REGIONS, CENTRES, strict=True)
    ]
    write_table(tmp_path / "regions.tsv", region_rows, ["region", "x", "y", "z"])
    return runs, paths


def test_qcfc_leaves_out_a_subject_without_mean_fd_and_finds_the_planted_motion_edge(tmp_path, rng):
    mean_fd = [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, np.nan]  # sub-08: no motion estimate
    runs, paths = _dataset(tmp_path, rng, mean_fd)
    qcfc(
        paths,
        str(tmp_path / "qc.tsv"),
        str(tmp_path / "regions.tsv"),
        str(tmp_path / "qcfc.tsv"),
        str(tmp_path / "qcfc.npz"),
        runs=runs,
        subjects=[r[4:] for r in runs],
        kinds=["correlation"],
    )
    (row,) = read_table(tmp_path / "qcfc.tsv")
    assert row["n_subjects"] == "7"
    values = np.load(tmp_path / "qcfc.npz")
    r = values["correlation"]  # edges (2, 1), (3, 1), (3, 2)
    assert r[0] > 0.8  # the planted motion-dependent edge
    np.testing.assert_allclose(values["distances"], [30.0, 60.0, np.hypot(30, 60)])
