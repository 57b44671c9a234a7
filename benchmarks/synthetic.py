"""Time synthetic.write_subject at the default size (50 x 59 x 50 x 168).

Usage: python benchmarks/synthetic.py [--repeats N] [--out DIR]

Prints each run, the median, and the median of the two halves that dominate: generating the
data in memory (make_subject) and writing the gzipped image.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from netregions.data import synthetic as syn
from netregions.io import load_image, save_nifti


def _time(func, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="folder (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        truth = syn.write_truth(tmp)
        labels = iter(syn.synthetic_subjects(3 * args.repeats + 1))
        syn.write_subject(tmp, next(labels), truth_maps_path=truth["maps"])  # warm-up

        total = _time(
            lambda: syn.write_subject(tmp, next(labels), truth_maps_path=truth["maps"]),
            args.repeats,
        )
        maps, affine = load_image(truth["maps"])
        brain = syn.make_brain(maps.shape[:3], affine)
        generate = _time(lambda: syn.make_subject(brain, maps, next(labels)), args.repeats)
        run = syn.make_subject(brain, maps, "99")
        write = _time(
            lambda: save_nifti(run.bold, affine, Path(tmp) / "bold.nii.gz", t_r=2.0), args.repeats
        )
    print("write_subject runs (s):", " ".join(f"{t:.3f}" for t in total))
    print(f"write_subject median: {statistics.median(total):.3f} s per subject")
    print(f"  make_subject (in memory) median: {statistics.median(generate):.3f} s")
    print(f"  save_nifti (gzip) median:        {statistics.median(write):.3f} s")


if __name__ == "__main__":
    main()
