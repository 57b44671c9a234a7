"""Numba kernels for the voxel-wise work: smoothing, labelling, peak finding, sparse coding.

Each module pairs private ``_name`` kernels (arrays and scalars in, nothing allocated that
can be passed in, no validation, no module globals read) with public wrappers that validate
their arguments, convert once to a fixed dtype and layout, allocate the output and call the
kernels. Plain numpy/scipy references for every public function live in
``tests/kernels/reference.py`` and are shared by the tests and ``benchmarks/kernels.py``.

Numba policy (applies to every kernel in this package):

- ``@njit(cache=True)`` everywhere, without explicit signatures: compilation is lazy
  (nothing is compiled when this package is imported) and cached in ``__pycache__`` next to
  the sources, so workflow jobs reuse the machine code of the first run. Editing a module
  invalidates the cache of that module's kernels only; a kernel and its callees live in the
  same module because the cache does not notice edits to callees in other files.
- ``parallel=True`` only where a rule runs the kernel with several threads and a ``prange``
  loop writes disjoint parts of the output: the sparse coding of the group decomposition
  (one voxel per iteration). No floating-point value is reduced across threads, so results
  are bit-identical for any thread count (``numba.set_num_threads``). Every other kernel runs
  in single-threaded per-run jobs and is serial.
- ``nogil=True`` on the kernels of the smoothing, labelling and peak modules: the workflow
  runs its light jobs as threads of the Snakemake process (docs/architecture.md), and a
  kernel that held the GIL would stop the other jobs' threads while it runs.
- ``fastmath`` is off: the kernels reproduce scipy's float64 operation order exactly and
  handle NaN/inf explicitly.
- Compile time is budgeted too (a cold compile is paid by the first job of each kind):
  kernels take flat arrays with shapes as scalars, because numba's ``reshape`` and slice
  assignment are slow to compile; wrappers convert unusual dtypes once (bool, float16,
  big-endian) instead of compiling a specialisation for each; every compiled entry point
  re-optimises its callees, so there are few of them.
- ``njit`` rather than ``guvectorize`` (the GUFunc cache is racy when several jobs compile
  at once, numba issue #10128).
"""

from netregions.kernels.labeling import label, label_with_sizes, largest_component
from netregions.kernels.lasso import lasso_codes
from netregions.kernels.peaks import peak_local_max
from netregions.kernels.smoothing import InMaskSmoother, fwhm_to_sigma, smooth, smooth_in_mask

__all__ = [
    "InMaskSmoother",
    "fwhm_to_sigma",
    "label",
    "label_with_sizes",
    "largest_component",
    "lasso_codes",
    "peak_local_max",
    "smooth",
    "smooth_in_mask",
]
