"""Compile every kernel into numba's on-disk cache: ``python -m netregions.kernels``.

Run once after installing (``make install`` does), so that the first workflow run does not
compile the same kernels in several parallel jobs. Each call below uses the argument types
the workflow passes (float32 volumes in C and Fortran order, read-only memory maps, boolean
masks), because numba compiles one specialisation per type signature.
"""

import time

import numpy as np

from netregions import kernels


def _variants(shape: tuple[int, ...]) -> list[np.ndarray]:
    base = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    read_only = np.asfortranarray(base)
    read_only.flags.writeable = False
    return [base, np.asfortranarray(base), read_only, base.astype(np.float64)]


def warm_up() -> float:
    """Call every public kernel on small inputs; return the seconds it took."""
    start = time.perf_counter()
    affine = np.diag([4.0, 4.0, 4.0, 1.0])
    for data in _variants((6, 7, 5, 3)) + _variants((6, 7, 5)):
        kernels.smooth(data, affine, 6.0)
        kernels.smooth_in_mask(data, affine, 6.0, data[..., 0] > 0 if data.ndim == 4 else data > 0)
    for volume in _variants((6, 7, 5)):
        kernels.peak_local_max(volume)
        mask = volume > 0
        for connectivity in (6, 18, 26):
            kernels.label(mask, connectivity)
            kernels.label_with_sizes(mask, connectivity)
        kernels.largest_component(mask, 6)
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        dictionary = rng.standard_normal((3, 12)).astype(dtype)
        voxels = rng.standard_normal((3000, 12)).astype(dtype)  # the parallel kernel too
        kernels.lasso_codes(voxels, dictionary, 1.0)
        kernels.lasso_codes(np.asfortranarray(voxels), dictionary, 1.0)
    return time.perf_counter() - start


if __name__ == "__main__":
    print(f"numba kernels compiled and cached in {warm_up():.1f} s")
