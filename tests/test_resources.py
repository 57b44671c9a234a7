"""Memory requests: the formulas of docs/performance.md, read from the inputs' headers."""

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from netregions.resources import BASE_MB, memory_mb, stage_memory_mb

GRID, T, V, R = (30, 40, 20), 50, 700, 6
G = 30 * 40 * 20


@pytest.fixture
def files(tmp_path):
    bold = nib.Nifti1Image(np.zeros((*GRID, T), dtype=np.int16), np.eye(4))
    bold.header.set_slope_inter(0.5, 0)
    nib.save(bold, tmp_path / "bold.nii.gz")
    mask = np.zeros(GRID, dtype=np.uint8)
    mask.flat[:V] = 1
    nib.save(nib.Nifti1Image(mask, np.eye(4)), tmp_path / "mask.nii.gz")
    np.save(tmp_path / "smoothed.npy", np.zeros((T, V), np.float32))
    np.save(tmp_path / "maps.npy", np.zeros((V, R), np.float32))
    for i in range(3):
        np.save(tmp_path / f"reduced{i}.npy", np.zeros((8, V), np.float32))
    np.save(tmp_path / "decoded.npy", np.zeros((*GRID, T), np.float32))
    return {k: str(tmp_path / f) for k, f in [
        ("bold", "bold.nii.gz"), ("mask", "mask.nii.gz"), ("smoothed", "smoothed.npy"),
        ("region_maps", "maps.npy"), ("decoded", "decoded.npy"),
    ]} | {"reduced": [str(tmp_path / f"reduced{i}.npy") for i in range(3)]}  # fmt: skip


def test_formulas_in_bytes_above_the_base():
    # large sizes, so that no request is at the 500 MB floor: bytes as docs/performance.md
    g, t, v, r, k, n = 2_000_000, 300, 250_000, 40, 20, 2_000
    mb = lambda stage, nbytes: BASE_MB.get(stage, 250) + int(nbytes / 1e6)  # noqa: E731
    assert stage_memory_mb("preprocess_subject", grid=g, n_volumes=t, itemsize=2, mask=v) == mb(
        "preprocess_subject", 16 * g * 6 + 4 * g + 12 * t * v
    )
    assert stage_memory_mb("load_subject", grid=g, itemsize=2) == mb(
        "load_subject", 16 * g * 6 + 52 * g
    )
    assert stage_memory_mb("subject_timeseries", n_volumes=t, mask=v, regions=r) == mb(
        "subject_timeseries", 4 * t * v + 4 * v * r
    )
    assert stage_memory_mb("decompose", rows=n, mask=v, components=k) == mb(
        "decompose", 16 * n * v + 48 * v * k
    )
    assert stage_memory_mb("extract_regions", grid=g, regions=r) == mb(
        "extract_regions", 48 * g * r
    )


def test_small_jobs_get_the_floor():
    assert stage_memory_mb("load_subject", grid=10, itemsize=2) == 500
    assert stage_memory_mb("unknown_rule") == 500


def test_sizes_are_read_from_headers_and_shapes(files):
    assert memory_mb("preprocess_subject", files) == stage_memory_mb(
        "preprocess_subject", grid=G, n_volumes=T, itemsize=2, mask=V
    )
    assert memory_mb("subject_timeseries", files) == stage_memory_mb(
        "subject_timeseries", n_volumes=T, mask=V, regions=R
    )
    assert memory_mb("decompose", files) == stage_memory_mb(
        "decompose", rows=24, mask=V, n_volumes=T, grid=G, itemsize=2, regions=R
    )
    # the decoded copy of a run is read like the run (float32)
    decoded = {**files, "bold": files["decoded"]}
    assert memory_mb("preprocess_subject", decoded) == stage_memory_mb(
        "preprocess_subject", grid=G, n_volumes=T, itemsize=4, mask=V
    )


def test_missing_inputs_count_as_empty(tmp_path):
    assert memory_mb("preprocess_subject", {"bold": str(tmp_path / "missing.nii.gz")}) == 500


def test_the_decomposition_request_grows_linearly_with_the_stacked_rows():
    def request(n_runs: int) -> int:
        return stage_memory_mb("decompose", rows=8 * n_runs, mask=200_000, components=8)

    small, medium, large = request(100), request(200), request(400)
    assert large - medium == pytest.approx(2 * (medium - small), abs=2)
    assert medium - small == pytest.approx(16 * 800 * 200_000 / 1e6, abs=1)


def test_the_group_mask_request_reads_the_grid_of_the_mean_images(tmp_path):
    grid = (200, 200, 160)  # 6.4 million voxels: 40 bytes each is above the floor
    for name in ("mean0.nii.gz", "mean1.nii.gz"):
        nib.save(nib.Nifti1Image(np.zeros(grid, dtype=np.uint8), np.eye(4)), tmp_path / name)
    means = [str(tmp_path / "mean0.nii.gz"), str(tmp_path / "mean1.nii.gz")]
    assert memory_mb("group_mask", {"means": means}) == 250 + int(40 * 6_400_000 / 1e6)
    assert memory_mb("group_mask", {"brain_masks": means[:1]}) == 506


def test_time_series_that_decode_the_run_again_count_the_decoder(files):
    without = memory_mb("subject_timeseries", {k: files[k] for k in ("smoothed", "region_maps")})
    assert without == stage_memory_mb("subject_timeseries", n_volumes=T, mask=V, regions=R)
    # with the bold file as input (its own smoothing) the decoder's blocks are counted
    assert memory_mb("subject_timeseries", files) == stage_memory_mb(
        "subject_timeseries", grid=G, n_volumes=T, itemsize=2, mask=V, regions=R
    )
    g = 5 * 10**6  # large enough to be above the floor
    assert stage_memory_mb(
        "subject_timeseries", grid=g, n_volumes=T, itemsize=2, mask=V, regions=R
    ) == 250 + int((4 * T * V + 4 * V * R + 16 * g * (2 + 4) + 4 * g) / 1e6)


def test_the_consensus_request_reads_the_seeds_and_the_mask_grid(tmp_path, files):
    seeds = []
    for i in range(4):  # 4 seeds of 5 maps over V voxels
        np.save(tmp_path / f"seed{i}.npy", np.zeros((5, V), np.float32))
        seeds.append(str(tmp_path / f"seed{i}.npy"))
    n, k = 20, 5
    assert memory_mb("consensus", {"seeds": seeds, "mask": files["mask"]}) == stage_memory_mb(
        "consensus", rows=n, mask=V, grid=G, components=k
    )
    # bytes: 12 per pooled map value, 40 per pair of maps, 4 per output voxel and map
    rows, mask, grid, maps = 1000, 230_000, 900_000, 20
    assert stage_memory_mb(
        "consensus", rows=rows, mask=mask, grid=grid, components=maps
    ) == 250 + int((12 * rows * mask + 40 * rows**2 + 4 * grid * maps) / 1e6)
    # it used to be a fixed 2,000 MB, short of what 50 seeds of 20 maps at 2 mm hold
    assert stage_memory_mb("consensus", rows=rows, mask=mask, grid=grid, components=maps) > 2000


def _peak_rss_of_job(folder: Path, code: str) -> float:
    """Peak RSS (MB) of ``code`` run by a fresh interpreter in ``folder``."""
    script = folder / "job.py"
    script.write_text(f"{code}from netregions.workflow import peak_rss_mb\nprint(peak_rss_mb())\n")
    out = subprocess.run(
        [sys.executable, str(script)], cwd=folder, capture_output=True, text=True, check=True
    )
    return float(out.stdout.split()[-1])


@pytest.mark.slow
def test_the_consensus_request_covers_the_measured_peak(tmp_path):
    # a real consensus job in a fresh interpreter: its peak RSS must stay under the request,
    # sized above the floor (600 maps of 104,544 voxels: 1,029 MB)
    peak = _peak_rss_of_job(
        tmp_path,
        "import sys, numpy as np, nibabel as nib\n"
        "from netregions.steps.consensus import consensus\n"
        "rng = np.random.default_rng(0)\n"
        "mask = np.zeros((50, 60, 50), np.uint8); mask[3:47, 3:57, 3:47] = 1\n"
        "nib.save(nib.Nifti1Image(mask, np.eye(4)), 'mask.nii.gz')\n"
        "truth = rng.standard_normal((20, int(mask.sum()))).astype(np.float32)\n"
        "for s in range(30):\n"
        "    noise = rng.standard_normal(truth.shape).astype(np.float32)\n"
        "    np.save(f's{s}.npy', truth[rng.permutation(20)] + noise)\n"
        "del truth, noise\n"
        "consensus([f's{s}.npy' for s in range(30)], 'mask.nii.gz', 'c.nii.gz', 's.tsv',\n"
        "          n_components=20)\n",
    )
    seeds = [str(tmp_path / f"s{s}.npy") for s in range(30)]
    request = memory_mb("consensus", {"seeds": seeds, "mask": str(tmp_path / "mask.nii.gz")})
    assert request == 1029
    assert peak < request


def test_the_time_series_request_covers_the_measured_peak(tmp_path):
    # a real time-series job in a fresh interpreter, sized above the floor (300 volumes of
    # 230,000 in-mask voxels, 20 regions: 544 MB): a float64 copy of the series (552 MB)
    # would not fit
    n_volumes, n_voxels, n_regions = 300, 230_000, 20
    rng = np.random.default_rng(0)
    np.save(tmp_path / "smoothed.npy", rng.standard_normal((n_volumes, n_voxels), np.float32))
    maps = np.zeros((n_voxels, n_regions), np.float32)
    for r in range(n_regions):
        maps[r * 10_000 : r * 10_000 + 12_000, r] = 1.0
    np.save(tmp_path / "maps.npy", maps)
    (tmp_path / "stats.json").write_text('{"n_volumes": 300, "t_r": 2.0}')
    peak = _peak_rss_of_job(
        tmp_path,
        "from netregions.steps.subject_timeseries import subject_timeseries\n"
        "subject_timeseries('smoothed.npy', 'maps.npy', 'stats.json', 'ts.tsv', 'ts.json',\n"
        "                   ['r.tsv'], ['r.json'], run='sub-01', kinds=['correlation'])\n",
    )
    inputs = {"smoothed": str(tmp_path / "smoothed.npy"), "region_maps": str(tmp_path / "maps.npy")}
    request = memory_mb("subject_timeseries", inputs)
    assert request == 544
    assert peak < request
