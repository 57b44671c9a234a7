"""Time the numba kernels against their numpy/scipy references.

Usage: ``.venv/bin/python benchmarks/kernels.py [--repeats N]``

The references are the ones the tests use (``tests/kernels/reference.py``, registered in
``REFERENCES``). Each case runs kernel and reference once to warm up (compilation, caches),
then alternately ``repeats`` times; the table shows medians and the ratio reference/kernel
(> 1: the kernel is faster). Run it on an otherwise idle machine: the medians of both sides
move together under load, but the absolute numbers do not mean much then.
"""

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
import scipy.ndimage as ndi

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # repo root: tests.kernels

from netregions import kernels  # noqa: E402
from tests.kernels.reference import REFERENCES  # noqa: E402

SHAPE = (50, 59, 50)
N_VOLUMES = 168
AFFINE_4MM = np.diag([4.0, 4.0, 4.0, 1.0])


def make_series(rng: np.random.Generator) -> np.ndarray:
    """Float32 Fortran-ordered (x, y, z, t) series, as nibabel returns BOLD data."""
    data = rng.standard_normal((*SHAPE, N_VOLUMES), dtype=np.float32) * 50 + 500
    return np.asfortranarray(data)


def make_map(rng: np.random.Generator) -> np.ndarray:
    """Smooth random 3D map with blobs of both signs (float32)."""
    return ndi.gaussian_filter(rng.standard_normal(SHAPE), 2.0).astype(np.float32)


def make_brain_mask() -> np.ndarray:
    """Ellipsoid over ~27 % of the grid, about the share of a brain in an EPI field of view."""
    axes = [np.linspace(-1, 1, n) for n in SHAPE]
    x, y, z = np.meshgrid(*axes, indexing="ij")
    return x**2 + y**2 + z**2 <= 0.8**2


def cases(rng: np.random.Generator) -> list[tuple[str, Callable, tuple]]:
    """(description, public kernel, arguments) of every benchmark case."""
    series = make_series(rng)
    blob_map = make_map(rng)
    blobs = blob_map > np.percentile(blob_map, 80)
    noise = rng.random(SHAPE) < 0.3
    brain = ndi.binary_erosion(np.ones(SHAPE, dtype=bool), iterations=4) | noise
    return [
        ("smooth 50x59x50x168 F f32, 6 mm @ 4 mm", kernels.smooth, (series, AFFINE_4MM, 6.0)),
        ("smooth 50x59x50 map", kernels.smooth, (blob_map, AFFINE_4MM, 6.0)),
        (
            "smooth_in_mask series, ellipsoid mask",
            kernels.smooth_in_mask,
            (series, AFFINE_4MM, 6.0, make_brain_mask()),
        ),
        ("label blobs, 26-conn", kernels.label, (blobs, 26)),
        ("label blobs, 6-conn", kernels.label, (blobs, 6)),
        ("label 30 % noise, 26-conn", kernels.label, (noise, 26)),
        ("label_with_sizes blobs, 26", kernels.label_with_sizes, (blobs, 26)),
        ("largest_component brain, 6", kernels.largest_component, (brain, 6)),
        ("peak_local_max 50x59x50", kernels.peak_local_max, (blob_map,)),
    ]


def median_seconds(
    function: Callable, reference: Callable, args: tuple, repeats: int
) -> tuple[float, float]:
    """Median run time of ``function`` and ``reference``, run alternately after a warm-up."""
    function(*args)
    reference(*args)
    times: dict[Callable, list[float]] = {function: [], reference: []}
    for _ in range(repeats):
        for candidate in (function, reference):
            start = time.perf_counter()
            candidate(*args)
            times[candidate].append(time.perf_counter() - start)
    return statistics.median(times[function]), statistics.median(times[reference])


def main() -> None:
    """Run every case and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per side (>= 5)")
    repeats = max(5, parser.parse_args().repeats)
    rng = np.random.default_rng(20261125)
    print(
        f"numba {numba.__version__}, {numba.get_num_threads()} threads, "
        f"load average {os.getloadavg()[0]:.2f}, medians of {repeats} runs"
    )
    header = f"| {'case':40} | {'kernel ms':>9} | {'scipy ms':>9} | {'ratio':>6} |"
    print(header)
    print("|" + "|".join("-" * len(cell) for cell in header.split("|")[1:-1]) + "|")
    for description, function, args in cases(rng):
        kernel, reference = median_seconds(function, REFERENCES[function], args, repeats)
        print(
            f"| {description:40} | {kernel * 1e3:9.2f} | {reference * 1e3:9.2f} "
            f"| {reference / kernel:6.2f} |"
        )
    try:
        print(f"threading layer: {numba.threading_layer()}")
    except ValueError:  # no parallel region ran (single thread)
        print("threading layer: none used")


if __name__ == "__main__":
    main()
