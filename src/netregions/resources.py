"""Memory requests of the workflow's jobs, from the sizes of their inputs.

Snakemake evaluates a rule's ``mem_mb`` once the job's inputs exist, so the requests below
read image headers and array shapes (never the data) and apply one formula per stage. The
formulas count the arrays each step holds at its peak (docs/performance.md, Memory):

- per-run jobs stream their run ``CHUNK`` volumes at a time: their peak depends on the grid
  (G voxels), the run's length (T), the mask (V voxels) and the regions (R), never on the
  number of runs;
- the group decomposition holds the stacked reductions (rows = runs × components) and a few
  copies of them, plus map-sized arrays: it grows with runs × components × voxels only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["BASE_MB", "CHUNK", "memory_mb", "stage_memory_mb"]

#: Interpreter and libraries (numpy, nibabel, scipy, numba or scikit-learn), MB.
BASE_MB = {"default": 250, "decompose": 450}
#: Volumes decoded at a time by the per-run jobs (load_subject, preprocess_subject).
CHUNK = 16
#: Requests never go below this, MB.
FLOOR_MB = 500


def stage_memory_mb(
    stage: str,
    *,
    grid: int = 0,
    n_volumes: int = 0,
    itemsize: int = 4,
    mask: int = 0,
    regions: int = 0,
    rows: int = 0,
    components: int = 0,
) -> int:
    """Peak memory (MB) of one job of ``stage``, from the sizes of what it holds.

    Parameters
    ----------
    stage : str
        A rule name.
    grid : int
        Voxels of the image grid (G).
    n_volumes : int
        Volumes of the run (T).
    itemsize : int
        Bytes per stored value of the BOLD file.
    mask : int
        Voxels of the group mask (V).
    regions : int
        Regions (R), or network maps for ``extract_regions``.
    rows : int
        Rows of the stacked reductions (runs × components per run), or maps of every seed
        for ``consensus``.
    components : int
        Network maps (K).

    Returns
    -------
    int
        MB, at least the floor.
    """
    chunk = CHUNK * grid * (itemsize + 4)  # raw and float32 blocks of the decoder
    bytes_of = {
        # float32 running mean, float64 sum and sum of squares, tSNR temporaries
        "load_subject": chunk + 52 * grid,
        # scratch volume; in-mask series, its cleaned copy and the reduction's workspace
        "preprocess_subject": chunk + 4 * grid + 12 * n_volumes * mask,
        # float32 series and maps (the float64 products go through blocks of a few MB);
        # with its own smoothing it decodes the run again (grid > 0 only then): the
        # decoder's blocks
        "subject_timeseries": 4 * n_volumes * mask
        + 4 * mask * regions
        + (chunk + 4 * grid if grid else 0),
        # series, cleaned copy and least-squares workspace in float64
        "dual_regression": 4 * n_volumes * mask + 24 * n_volumes * mask + 24 * mask * components,
        # stacked reductions and copies (CanICA's normalised rows, the shuffled samples of
        # the online learning), float64 maps of the ICA and the codes
        "decompose": 16 * rows * mask + 48 * mask * components,
        # maps, thresholded copy, regions and the random walker's per-map graph
        "extract_regions": 48 * grid * regions,
        # every seed's maps (mapped files, the stacked pool, its normalised copy: float32),
        # the pool's similarity and linkage, the consensus maps on the grid
        "consensus": 12 * rows * mask + 40 * rows * rows + 4 * grid * components,
        "group_mask": 40 * grid,
    }.get(stage, 0)
    base = BASE_MB.get(stage, BASE_MB["default"])
    return max(FLOOR_MB, int(base + bytes_of / 1e6))


def _bold_shape(path: str) -> tuple[int, int, int]:
    """(grid voxels, volumes, bytes per value) from a BOLD file's header or decoded copy."""
    import numpy as np

    from netregions.io import check_bold_header

    if path.endswith(".npy"):
        shape = np.load(path, mmap_mode="r").shape
        return int(np.prod(shape[:3])), int(shape[3]), 4

    header = check_bold_header(path)
    itemsize = int(np.dtype(header.raw_dtype).itemsize) if header.raw_dtype else 4
    return int(np.prod(header.shape[:3])), header.n_volumes, itemsize


def _mask_voxels(path: str) -> int:
    import nibabel as nib
    import numpy as np

    return int(np.count_nonzero(np.asanyarray(nib.load(path).dataobj)))


def _grid_voxels(path: str) -> int:
    import nibabel as nib

    shape = nib.load(path).shape
    return int(shape[0] * shape[1] * shape[2])


def _npy_shape(path: str) -> tuple[int, ...]:
    import numpy as np

    return np.load(path, mmap_mode="r").shape


def memory_mb(stage: str, inputs: Mapping[str, str | Sequence[str]]) -> int:
    """Memory request (MB) of a job of ``stage`` from its input files (named as in the rule).

    Reads headers and shapes only: the BOLD file's header (``bold``), the group mask
    (``mask``), the ``.npy`` shapes of ``smoothed``, ``region_maps``, ``reduced`` and
    ``seeds``, the shape of ``components``, the grid of the first of ``means`` or
    ``brain_masks``. Files that do not exist yet (a dry run) count as empty.
    """

    def present(key: str) -> str | None:
        path = inputs.get(key)
        return str(path) if isinstance(path, str) and Path(path).exists() else None

    sizes: dict[str, int] = {}
    if present("bold"):
        sizes["grid"], sizes["n_volumes"], sizes["itemsize"] = _bold_shape(present("bold"))
    if present("mask"):
        sizes["mask"] = _mask_voxels(present("mask"))
    images = [p for key in ("means", "brain_masks") for p in inputs.get(key, [])]
    if images and Path(images[0]).exists():  # group_mask: one grid per run, all alike
        sizes["grid"] = _grid_voxels(str(images[0]))
    seeds = [path for path in inputs.get("seeds", []) if Path(path).exists()]
    if seeds:  # consensus: (components, voxels) maps of each seed
        shapes = [_npy_shape(path) for path in seeds]
        sizes["rows"] = sum(shape[0] for shape in shapes)
        sizes["components"], sizes["mask"] = shapes[0]
        if present("mask"):
            sizes["grid"] = _grid_voxels(present("mask"))
    if present("smoothed"):
        sizes["n_volumes"], sizes["mask"] = _npy_shape(present("smoothed"))
    if present("region_maps"):
        sizes["regions"] = _npy_shape(present("region_maps"))[1]
    reduced = [path for path in inputs.get("reduced", []) if Path(path).exists()]
    if reduced:
        sizes["rows"] = sum(_npy_shape(path)[0] for path in reduced)
    if present("components"):
        import nibabel as nib

        shape = nib.load(present("components")).shape
        sizes["components"] = shape[3] if len(shape) == 4 else 1
        sizes["grid"] = int(shape[0] * shape[1] * shape[2])
        sizes.setdefault("regions", sizes["components"])
    return stage_memory_mb(stage, **sizes)
