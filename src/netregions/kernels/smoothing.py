"""Separable Gaussian smoothing of 3D volumes and 4D series (time last).

The result matches the reference's ``smooth_array``: non-finite values set to 0, then
``scipy.ndimage.gaussian_filter1d`` along spatial axis 0, 1 and 2 with scipy's defaults
(``truncate=4``, ``mode="reflect"``). Each pass computes every line in float64 and rounds to
the output dtype before the next axis, exactly as scipy does, so float32 results are
bit-identical to the reference (same weights, same operation order, no FMA contraction).

The data are smoothed block by block, each block all three passes at once while it sits in
the cache:

- Fortran-ordered ``(x, y, z, t)`` series (what nibabel returns): a block is one contiguous
  volume;
- C-ordered series: one block holds every time point of every voxel (time is innermost and
  never smoothed, so the lines sit side by side and filter as one slab);
- a single 3D volume is one block.

Inside a block, a pass along an axis sees the data as (outer, n, inner) and filters along the
middle axis: lines (inner == 1) are laid end to end in a reflect-extended buffer and
filtered as one long line; otherwise up to ``_BUFFER_TARGET`` values of neighbouring lines are
filtered side by side. Either way the inner loops are long and vectorised.

:func:`smooth_in_mask` returns only the values inside a mask (what the workflow keeps): each
pass then filters only the boxes of lines, and the part of each line, that the next pass
reads, worked back from the mask; every value it computes is computed as above.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

__all__ = ["InMaskSmoother", "fwhm_to_sigma", "smooth", "smooth_in_mask"]

# Ratio FWHM / sigma of a Gaussian, sqrt(8 ln 2).
_FWHM_OVER_SIGMA = np.sqrt(8 * np.log(2))
# scipy's default truncate: the kernel radius is int(4 * sigma + 0.5).
_TRUNCATE = 4.0
# Values per work-item buffer: lines (or slab columns) are grouped until the reflect-extended
# float64 buffer holds about this many values, so the inner loops are long (vectorised) while
# the two buffers (2 x 64 KiB) stay in L1/L2.
_BUFFER_TARGET = 8192


# --------------------------------------------------------------------------------------------
# Kernels. Arrays are flat (numba's reshape is slow to compile); shapes travel as scalars.
# --------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _copy_finite_range(src, dst, start, stop):
    """dst[start:stop] = src[start:stop] cast to dst's dtype, non-finite values set to 0."""
    for i in range(start, stop):
        dst[i] = src[i]
        if not np.isfinite(dst[i]):
            dst[i] = 0


@njit(cache=True, nogil=True)
def _correlate_flat(ext, acc, m, step, half_weights, radius):
    """Symmetric correlation of a flat buffer with a stride of ``step`` between taps.

    For f < m, with b_k = ext[f + (r - k) * step] and a_k = ext[f + (r + k) * step]:
    ``acc[f] = ext[f + r*step] * w[0] + sum over k = r..1 of (b_k + a_k) * w[k]``
    in float64, accumulated left to right in this order (centre first, then the pairs from
    the outermost inwards), which is the order of scipy's symmetric 1D correlation. The
    first sweep adds up to three pairs (radius <= 3, the usual case, takes one sweep), later
    sweeps one pair each. Slices indexed by ``range`` variables avoid numba's
    negative-index wraparound branch and let LLVM vectorise.
    """
    out = acc[:m]
    centre = ext[radius * step : radius * step + m]
    w0 = half_weights[0]
    n_first = min(radius, 3)
    _first_sweep(ext, out, centre, m, step, half_weights, radius, n_first, w0)
    for k in range(radius - n_first, 0, -1):
        wk = half_weights[k]
        below = ext[(radius - k) * step : (radius - k) * step + m]
        above = ext[(radius + k) * step : (radius + k) * step + m]
        for f in range(m):
            out[f] = out[f] + (below[f] + above[f]) * wk


@njit(cache=True, nogil=True)
def _first_sweep(ext, out, centre, m, step, half_weights, radius, n_pairs, w0):
    """Set ``out`` to centre*w0 plus the pairs radius, radius-1, ... (``n_pairs``, 0 to 3)."""
    k2 = max(radius - 1, 0)
    k3 = max(radius - 2, 0)
    b1 = ext[0:m]
    a1 = ext[2 * radius * step : 2 * radius * step + m]
    b2 = ext[(radius - k2) * step : (radius - k2) * step + m]
    a2 = ext[(radius + k2) * step : (radius + k2) * step + m]
    b3 = ext[(radius - k3) * step : (radius - k3) * step + m]
    a3 = ext[(radius + k3) * step : (radius + k3) * step + m]
    w1, w2, w3 = half_weights[radius], half_weights[k2], half_weights[k3]
    if n_pairs == 0:
        for f in range(m):
            out[f] = centre[f] * w0
    elif n_pairs == 1:
        for f in range(m):
            out[f] = centre[f] * w0 + (b1[f] + a1[f]) * w1
    elif n_pairs == 2:
        for f in range(m):
            out[f] = centre[f] * w0 + (b1[f] + a1[f]) * w1 + (b2[f] + a2[f]) * w2
    else:
        for f in range(m):
            out[f] = (
                centre[f] * w0 + (b1[f] + a1[f]) * w1 + (b2[f] + a2[f]) * w2 + (b3[f] + a3[f]) * w3
            )


@njit(cache=True, nogil=True)
def _filter_lines(data, n, o0, o1, i0, i1, half_weights, radius, table, ext, acc):
    """Filter positions [i0, i1) of the contiguous lines ``data[o*n:(o+1)*n]``, o0 <= o < o1.

    In place. The reflect-extended spans (length i1 - i0 + 2r each) are laid end to end in
    ``ext`` and filtered as one long line; the 2r results straddling two spans are computed
    and dropped. Positions outside [i0, i1) keep their values.
    """
    span = i1 - i0
    length = span + 2 * radius
    for j in range(o1 - o0):
        line = data[(o0 + j) * n : (o0 + j + 1) * n]
        ext_line = ext[j * length : (j + 1) * length]
        for p in range(radius):
            ext_line[p] = line[table[i0 + p]]
            ext_line[length - 1 - p] = line[table[i0 + length - 1 - p]]
        middle = ext_line[radius : radius + span]
        inside = line[i0:i1]
        for i in range(span):
            middle[i] = inside[i]
    _correlate_flat(ext, acc, (o1 - o0) * length - 2 * radius, 1, half_weights, radius)
    for j in range(o1 - o0):
        line = data[(o0 + j) * n + i0 : (o0 + j) * n + i1]
        result = acc[j * length : j * length + span]
        for i in range(span):
            line[i] = result[i]


@njit(cache=True, nogil=True)
def _filter_slab(data, n, inner, o, c0, c1, i0, i1, half_weights, radius, table, ext, acc):
    """Filter positions [i0, i1) of the lines (o, :, c), ``c0 <= c < c1``, of ``data``.

    In place. ``data`` is flat, seen as (outer, n, inner); the lines sit side by side in
    ``ext`` so every loop runs over c.
    """
    width = c1 - c0
    for p in range(i1 - i0 + 2 * radius):
        start = (o * n + table[i0 + p]) * inner + c0
        row = data[start : start + width]
        ext_row = ext[p * width : (p + 1) * width]
        for c in range(width):
            ext_row[c] = row[c]
    _correlate_flat(ext, acc, (i1 - i0) * width, width, half_weights, radius)
    for i in range(i1 - i0):
        start = (o * n + i0 + i) * inner + c0
        row = data[start : start + width]
        result = acc[i * width : (i + 1) * width]
        for c in range(width):
            row[c] = result[c]


@njit(cache=True, nogil=True)
def _filter_pass(data, outer, n, inner, target, half_weights, radius, table, ext, acc):
    """Filter ``data``, seen as (outer, n, inner), along n in place."""
    length = n + 2 * radius
    if inner == 1:  # contiguous lines: groups of lines filling about `target` values
        group = max(1, target // length)
        for o0 in range(0, outer, group):
            o1 = min(o0 + group, outer)
            _filter_lines(data, n, o0, o1, 0, n, half_weights, radius, table, ext, acc)
        return
    width = max(1, target // length)  # slabs of about `target` values
    for o in range(outer):
        for c0 in range(0, inner, width):
            c1 = min(c0 + width, inner)
            _filter_slab(data, n, inner, o, c0, c1, 0, n, half_weights, radius, table, ext, acc)


@njit(cache=True, nogil=True)
def _smooth_block(src, dst, shape, m, axes, half_weights, radii, tables, target, ext, acc):
    """Copy (non-finite → 0) and smooth one flat C-ordered block along ``axes``, in order.

    The block has shape (shape[0], shape[1], shape[2], m): one volume (m = 1) or every time
    point of a C-ordered series (time innermost, never smoothed).
    """
    _copy_finite_range(src, dst, 0, src.size)
    for a in range(3):
        axis = axes[a]
        if radii[a] == 0:
            continue  # a one-tap kernel of weight 1 is the identity
        outer = 1
        for d in range(axis):
            outer *= shape[d]
        inner = m
        for d in range(axis + 1, 3):
            inner *= shape[d]
        _filter_pass(
            dst, outer, shape[axis], inner, target, half_weights[a], radii[a], tables[a], ext, acc
        )


@njit(cache=True, nogil=True)
def _smooth_blocks(src, dst, shape, m, axes, half_weights, radii, tables, target, ext, acc):
    """:func:`_smooth_block` for every row of ``src``/``dst`` (n_blocks, block_size)."""
    for block in range(src.shape[0]):
        _smooth_block(
            src[block], dst[block], shape, m, axes, half_weights, radii, tables, target, ext, acc
        )


# --------------------------------------------------------------------------------------------
# Smoothing restricted to a mask: each pass computes only what the next one reads.
# --------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _lines_in_boxes(volume, n, boxes, half_weights, radius, table, target, ext, acc):
    """Filter contiguous lines box by box; a box row is (o0, o1, i0, i1)."""
    for b in range(boxes.shape[0]):
        o0, o1, i0, i1 = boxes[b, 0], boxes[b, 1], boxes[b, 2], boxes[b, 3]
        group = max(1, target // (i1 - i0 + 2 * radius))
        for g0 in range(o0, o1, group):
            g1 = min(g0 + group, o1)
            _filter_lines(volume, n, g0, g1, i0, i1, half_weights, radius, table, ext, acc)


@njit(cache=True, nogil=True)
def _slabs_in_boxes(volume, n, inner, boxes, half_weights, radius, table, target, ext, acc):
    """Filter strided lines box by box; a box row is (o, c0, c1, i0, i1)."""
    for b in range(boxes.shape[0]):
        o, c0, c1, i0, i1 = boxes[b, 0], boxes[b, 1], boxes[b, 2], boxes[b, 3], boxes[b, 4]
        width = max(1, target // (i1 - i0 + 2 * radius))
        for g0 in range(c0, c1, width):
            g1 = min(g0 + width, c1)
            _filter_slab(volume, n, inner, o, g0, g1, i0, i1, half_weights, radius, table, ext, acc)


@njit(cache=True, nogil=True)
def _smooth_volumes_in_boxes(
    src, out, shape, half_weights, radii, tables, x_boxes, y_boxes, z_boxes, voxels, target,
    volume, ext, acc,
):  # fmt: skip
    """Smooth every volume inside the boxes and gather the mask's voxels.

    ``src`` is (n_volumes, nx*ny*nz), each row a Fortran-ordered volume; ``out`` is
    (n_volumes, n_voxels); ``voxels`` are the flat (Fortran) indices of the mask's voxels;
    ``volume`` is a scratch volume.
    """
    nx, ny, nz = shape[0], shape[1], shape[2]
    for t in range(src.shape[0]):
        _copy_finite_range(src[t], volume, 0, volume.size)
        if radii[0] > 0:
            _lines_in_boxes(
                volume, nx, x_boxes, half_weights[0], radii[0], tables[0], target, ext, acc
            )
        if radii[1] > 0:
            _slabs_in_boxes(
                volume, ny, nx, y_boxes, half_weights[1], radii[1], tables[1], target, ext, acc
            )
        if radii[2] > 0:
            _slabs_in_boxes(
                volume, nz, nx * ny, z_boxes, half_weights[2], radii[2], tables[2], target, ext, acc
            )
        row = out[t]
        for j in range(voxels.size):
            row[j] = volume[voxels[j]]


# --------------------------------------------------------------------------------------------
# Parameter helpers
# --------------------------------------------------------------------------------------------


def _check_affine(affine: np.ndarray) -> np.ndarray:
    """Return the finite 3×3 linear part of a 4×4 (or 3×3) affine, else raise ValueError."""
    affine = np.asarray(affine, dtype=np.float64)
    if affine.ndim != 2 or affine.shape[0] < 3 or affine.shape[1] < 3:
        raise ValueError(f"affine must be a 4x4 (or 3x3) matrix; got shape {affine.shape}")
    linear = affine[:3, :3]
    if not np.all(np.isfinite(linear)):
        raise ValueError("affine must be finite; got non-finite entries in affine[:3, :3]")
    return linear


def _check_fwhm(fwhm: float | Sequence[float | None] | None) -> np.ndarray:
    """Return the FWHM as 3 finite non-negative floats (None entries → 0), else raise."""
    if fwhm is None:
        return np.zeros(3)
    values = np.ravel(np.asarray(fwhm, dtype=object))
    if values.size == 1:
        values = np.repeat(values, 3)
    if values.size != 3:
        raise ValueError(f"fwhm must be a scalar or have 3 values (one per axis); got {fwhm!r}")
    try:
        out = np.array([0.0 if v is None else float(v) for v in values])
    except (TypeError, ValueError):
        raise ValueError(f"fwhm must be a number in mm or None; got {fwhm!r}") from None
    if not np.all(np.isfinite(out)) or np.any(out < 0):
        raise ValueError(f"fwhm must be finite and >= 0 (mm); got {fwhm!r}")
    return out


def fwhm_to_sigma(fwhm: float | Sequence[float | None] | None, affine: np.ndarray) -> np.ndarray:
    """Convert a FWHM in mm to the Gaussian sigma in voxels along each spatial axis.

    Parameters
    ----------
    fwhm : float or sequence of 3 floats or None
        Full width at half maximum in mm, one value for all axes or one per axis.
        None (or None entries) means no smoothing (sigma 0).
    affine : ndarray of shape (4, 4)
        Voxel-to-world affine; voxel sizes are the column norms of ``affine[:3, :3]``.

    Returns
    -------
    sigma : ndarray of shape (3,)
        ``fwhm / (sqrt(8 ln 2) * voxel_size)`` per axis, in voxels (float64).

    Raises
    ------
    ValueError
        If the FWHM is negative, non-finite or of the wrong length, or the affine is not a
        finite matrix with non-zero voxel sizes.
    """
    fwhm_mm = _check_fwhm(fwhm)
    voxel_size = np.sqrt(np.sum(_check_affine(affine) ** 2, axis=0))
    if np.any(voxel_size == 0):
        raise ValueError(f"affine has a zero voxel size; got voxel sizes {voxel_size}")
    return fwhm_mm / (_FWHM_OVER_SIGMA * voxel_size)


def _gaussian_half_weights(sigma: float) -> np.ndarray:
    """Return w[0..r] of the normalised Gaussian kernel of radius r = int(4 sigma + 0.5).

    The full kernel is exp(-x² / (2 sigma²)) for x = -r..r divided by its sum, evaluated
    with the same float64 operations as scipy so the weights are bit-identical.
    """
    radius = int(_TRUNCATE * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 / (sigma * sigma) * x**2)
    weights = weights / weights.sum()
    return np.ascontiguousarray(weights[radius:])


def _reflect_table(n: int, radius: int) -> np.ndarray:
    """Source index of every position -radius..n+radius-1 of a reflect-extended line.

    Half-sample symmetric extension (d c b a | a b c d | d c b a), repeated with period 2n
    when the radius exceeds the line length — the same values scipy's "reflect" mode uses.
    """
    m = np.mod(np.arange(-radius, n + radius), 2 * n)
    return np.where(m < n, m, 2 * n - 1 - m).astype(np.int64)


def _pass_parameters(
    sigma: np.ndarray, lengths: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pack weights, radii and reflect tables of the three passes into padded arrays."""
    half = [_gaussian_half_weights(s) if s > 0 else np.ones(1) for s in sigma]
    radii = np.array([h.size - 1 for h in half], dtype=np.int64)
    weights = np.zeros((3, radii.max() + 1))
    tables = np.zeros((3, max(lengths) + 2 * radii.max()), dtype=np.int64)
    for a in range(3):
        weights[a, : half[a].size] = half[a]
        table = _reflect_table(lengths[a], int(radii[a]))
        tables[a, : table.size] = table
    return weights, radii, tables


def _output_dtype(dtype: np.dtype) -> np.dtype:
    """float64 stays float64 (the reference's scaled-integer case); everything else float32."""
    return (
        np.dtype(np.float64) if dtype.kind == "f" and dtype.itemsize == 8 else np.dtype(np.float32)
    )


def _readable_by_kernel(data: np.ndarray) -> np.ndarray:
    """Return ``data`` itself if the kernel reads its dtype, else a converted copy.

    Integers, float32 and float64 in native byte order are cast value by value inside the
    kernel (no extra copy of a 4D series); big-endian data (some NIfTI files) are swapped to
    native order; other dtypes (bool masks, float16, longdouble) are converted to float32,
    which saves compiling a kernel specialisation for each of them.
    """
    dtype = data.dtype
    if dtype.kind in "iu" or (dtype.kind == "f" and dtype.itemsize in (4, 8)):
        return data if dtype.isnative else data.astype(dtype.newbyteorder("="), order="K")
    return data.astype(np.float32, order="K")


def _spans(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row of a 2D boolean array: any set, first set index, last set index + 1."""
    n = flags.shape[1]
    return flags.any(axis=1), flags.argmax(axis=1), n - flags[:, ::-1].argmax(axis=1)


def _read_span(table: np.ndarray, radius: int, i0: int, i1: int) -> tuple[int, int]:
    """[first, last + 1) of the positions that outputs i0..i1-1 of a line read (reflect)."""
    read = table[i0 : i1 + 2 * radius]
    return int(read.min()), int(read.max()) + 1


def _boxes(rows: list[tuple[int, ...]], width: int) -> np.ndarray:
    return np.array(rows, dtype=np.int64).reshape(len(rows), width)


def _mask_boxes(
    mask: np.ndarray, radii: np.ndarray, tables: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes of the x, y and z passes that produce the smoothed values inside ``mask``.

    Worked out backwards: the z pass computes, for each y, the x range and z range holding
    mask voxels; what it reads (its z range widened by the kernel, reflected at the borders)
    is what the y pass must compute, per z; what that reads, the x pass must compute. Every
    value computed is computed exactly as by the full smoothing, so the result inside the
    mask is bit-identical. Box rows: x pass (o0, o1, x0, x1) over the lines o = z*ny + y;
    y pass (z, x0, x1, y0, y1); z pass (0, y*nx + x0, y*nx + x1, z0, z1).
    """
    nx, ny, nz = mask.shape
    need = mask
    z_rows: list[tuple[int, ...]] = []
    if radii[2] > 0:
        reads = np.zeros(mask.shape, dtype=bool)
        has, x0, x1 = _spans(need.any(axis=2).T)  # per y, over x
        _, z0, z1 = _spans(need.any(axis=0))  # per y, over z
        for y in np.flatnonzero(has):
            z_rows.append((0, y * nx + x0[y], y * nx + x1[y], z0[y], z1[y]))
            r0, r1 = _read_span(tables[2], int(radii[2]), z0[y], z1[y])
            reads[x0[y] : x1[y], y, r0:r1] = True
        need = reads
    y_rows: list[tuple[int, ...]] = []
    if radii[1] > 0:
        reads = np.zeros(mask.shape, dtype=bool)
        has, x0, x1 = _spans(need.any(axis=1).T)  # per z, over x
        _, y0, y1 = _spans(need.any(axis=0).T)  # per z, over y
        for z in np.flatnonzero(has):
            y_rows.append((z, x0[z], x1[z], y0[z], y1[z]))
            r0, r1 = _read_span(tables[1], int(radii[1]), y0[z], y1[z])
            reads[x0[z] : x1[z], r0:r1, z] = True
        need = reads
    x_rows: list[tuple[int, ...]] = []
    if radii[0] > 0:
        has, y0, y1 = _spans(need.any(axis=0).T)  # per z, over y
        _, x0, x1 = _spans(need.any(axis=1).T)  # per z, over x
        for z in np.flatnonzero(has):
            x_rows.append((z * ny + y0[z], z * ny + y1[z], x0[z], x1[z]))
    return _boxes(x_rows, 4), _boxes(y_rows, 5), _boxes(z_rows, 5)


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------


def _scratch(line_length: int) -> tuple[np.ndarray, np.ndarray]:
    """float64 buffers for reflect-extended lines and accumulators.

    A work item needs at most max(target, longest extended line) values in each buffer.
    """
    size = max(_BUFFER_TARGET, line_length)
    return np.empty(size), np.empty(size)


def _run(
    data: np.ndarray, out: np.ndarray, weights: np.ndarray, radii: np.ndarray, tables: np.ndarray
) -> None:
    """Describe ``data``/``out`` as flat blocks and run the kernel."""
    if not data.flags.c_contiguous:  # memory order (t, z, y, x): volumes are blocks, axes reversed
        n_blocks = data.shape[3] if data.ndim == 4 else 1
        shape, m, axes = data.shape[2::-1], 1, [2, 1, 0]
        src, dst = data.T.reshape(n_blocks, -1), out.T.reshape(n_blocks, -1)
    else:  # memory order (x, y, z, t): one block, time innermost
        shape, m, axes = data.shape[:3], data.shape[3] if data.ndim == 4 else 1, [0, 1, 2]
        src, dst = data.reshape(1, -1), out.reshape(1, -1)
    ext, acc = _scratch(max(shape) + 2 * int(radii.max()))
    _smooth_blocks(
        src, dst, np.array(shape, dtype=np.int64), m, np.array(axes, dtype=np.int64),
        weights, radii, tables, _BUFFER_TARGET, ext, acc,
    )  # fmt: skip


@dataclass(frozen=True)
class InMaskSmoother:
    """Smoothing restricted to a mask, planned once and applied to any number of volumes.

    A run is smoothed a block of volumes at a time with the same mask: the boxes of the
    three passes and the gathered voxel indices are worked out once, here, and passed to
    every call. Calling it gives what :func:`smooth_in_mask` gives.

    Parameters
    ----------
    mask : ndarray of bool, shape (x, y, z)
    affine : ndarray of shape (4, 4)
    fwhm : float or sequence of 3 floats or None
        Full width at half maximum in mm; 0 or None: no smoothing (values only gathered).
    """

    mask: np.ndarray
    sigma: np.ndarray
    weights: np.ndarray
    radii: np.ndarray
    tables: np.ndarray
    boxes: tuple[np.ndarray, np.ndarray, np.ndarray]
    voxels: np.ndarray

    @classmethod
    def plan(
        cls, mask: np.ndarray, affine: np.ndarray, fwhm: float | Sequence[float | None] | None
    ) -> "InMaskSmoother":
        """Work out the passes, boxes and voxel indices of ``mask`` for ``fwhm``."""
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim != 3:
            raise ValueError(f"mask must be 3D; got shape {mask.shape}")
        sigma = fwhm_to_sigma(fwhm, affine)
        weights, radii, tables = _pass_parameters(sigma, mask.shape)
        voxels = np.ravel_multi_index(np.nonzero(mask), mask.shape, order="F")
        boxes = _mask_boxes(mask, radii, tables)
        return cls(mask, sigma, weights, radii, tables, boxes, voxels)

    def __call__(self, data: np.ndarray) -> np.ndarray:
        """Smoothed in-mask values (n_volumes, n_voxels), or (n_voxels,) for a 3D ``data``."""
        checked = _check_data(data)
        if checked.shape[:3] != self.mask.shape:
            raise ValueError(
                f"mask grid {self.mask.shape} differs from the data grid {checked.shape[:3]}"
            )
        volumes = checked if checked.ndim == 4 else checked[..., np.newaxis]
        if not np.any(self.sigma > 0):
            out = np.ascontiguousarray(volumes[self.mask].T)
        else:
            out = self._smooth(_readable_by_kernel(volumes))
        return out if checked.ndim == 4 else out[0]

    def _smooth(self, volumes: np.ndarray) -> np.ndarray:
        if not volumes.flags.f_contiguous:
            volumes = np.asfortranarray(volumes)  # one copy; decoded NIfTI data is Fortran-ordered
        n_volumes = volumes.shape[3]
        out = np.empty((n_volumes, self.voxels.size), dtype=_output_dtype(volumes.dtype))
        if out.size == 0:
            return out
        src = volumes.T.reshape(n_volumes, -1)  # (t, z*y*x), a view
        ext, acc = _scratch(max(self.mask.shape) + 2 * int(self.radii.max()))
        volume = np.empty(src.shape[1], dtype=out.dtype)
        _smooth_volumes_in_boxes(
            src, out, np.array(self.mask.shape, dtype=np.int64), self.weights, self.radii,
            self.tables, *self.boxes, self.voxels, _BUFFER_TARGET, volume, ext, acc,
        )  # fmt: skip
        return out


def smooth_in_mask(
    data: np.ndarray,
    affine: np.ndarray,
    fwhm: float | Sequence[float | None] | None,
    mask: np.ndarray,
) -> np.ndarray:
    """Smoothed values inside a mask, computing only what they depend on.

    Equal, bit for bit, to ``smooth(data, affine, fwhm)[mask].T`` (the layout of
    ``netregions.masking.apply_mask``), but each pass of the separable filter runs only
    over the lines, and the part of each line, that the next pass reads, and no smoothed 4D
    array is allocated. To smooth many blocks with the same mask, plan once with
    :meth:`InMaskSmoother.plan` and call the planned smoother on each block.

    Parameters
    ----------
    data : ndarray of shape (x, y, z) or (x, y, z, n_volumes)
        Image data, as for :func:`smooth`. Never modified.
    affine : ndarray of shape (4, 4)
        Voxel-to-world affine.
    fwhm : float or sequence of 3 floats or None
        Full width at half maximum in mm. 0 or None: no smoothing.
    mask : ndarray of bool, shape (x, y, z)
        Voxels to return, in C order of their (x, y, z) index.

    Returns
    -------
    ndarray of shape (n_volumes, n_voxels), or (n_voxels,) for a 3D ``data``
        C-contiguous; dtype as :func:`smooth` (``data``'s own dtype when not smoothing).

    Raises
    ------
    ValueError
        As :func:`smooth`, or if ``mask`` is not on the grid of ``data``.
    """
    mask = np.asarray(mask, dtype=bool)
    grid = _check_data(data).shape[:3]
    if mask.shape != grid:
        raise ValueError(f"mask grid {mask.shape} differs from the data grid {grid}")
    return InMaskSmoother.plan(mask, affine, fwhm)(data)


def _check_data(data: np.ndarray) -> np.ndarray:
    """Return ``data`` as a numeric ndarray of 3 or 4 dimensions, else raise ValueError."""
    data = np.asarray(data)
    if data.ndim not in (3, 4):
        raise ValueError(
            f"data must be a 3D volume or a 4D series (x, y, z, t); got {data.ndim} dimensions"
        )
    if not (np.issubdtype(data.dtype, np.number) or data.dtype == np.bool_):
        raise ValueError(f"data must be numeric; got dtype {data.dtype}")
    if np.issubdtype(data.dtype, np.complexfloating):
        raise ValueError(f"data must be real; got dtype {data.dtype}")
    return data


def smooth(
    data: np.ndarray,
    affine: np.ndarray,
    fwhm: float | Sequence[float | None] | None,
) -> np.ndarray:
    """Smooth a 3D volume or every volume of a 4D series with a Gaussian kernel.

    Parameters
    ----------
    data : ndarray of shape (x, y, z) or (x, y, z, n_volumes)
        Image data; C- or Fortran-ordered. Never modified.
    affine : ndarray of shape (4, 4)
        Voxel-to-world affine; only the voxel sizes (column norms of ``affine[:3, :3]``) matter.
    fwhm : float or sequence of 3 floats or None
        Full width at half maximum in mm, for all axes or per axis. 0 or None: no smoothing.

    Returns
    -------
    smoothed : ndarray, same shape and memory layout as ``data``
        float64 for float64 input, float32 otherwise. When ``fwhm`` is None or all zeros,
        ``data`` itself is returned (same object, not finite-ized).

    Raises
    ------
    ValueError
        On a wrong number of dimensions, a non-numeric dtype, a negative / non-finite FWHM
        or a degenerate affine.

    Notes
    -----
    sigma_i = fwhm_i / (sqrt(8 ln 2) * voxel_size_i) voxels; non-finite values are set to 0,
    then a normalised Gaussian of radius int(4 sigma + 0.5) is applied along axis 0, 1 and 2
    (the time axis is never smoothed) with half-sample symmetric ("reflect") borders, as
    ``scipy.ndimage.gaussian_filter1d``. Each pass is computed in float64 and rounded to the
    output dtype. Axes with sigma 0 are skipped.
    """
    checked = _check_data(data)
    sigma = fwhm_to_sigma(fwhm, affine)
    if not np.any(sigma > 0):
        return data
    data = _readable_by_kernel(checked)
    if not (data.flags.c_contiguous or data.flags.f_contiguous):
        data = np.ascontiguousarray(data)  # strided views: one extra copy, rare
    order = "F" if data.flags.f_contiguous and not data.flags.c_contiguous else "C"
    out = np.empty(data.shape, dtype=_output_dtype(data.dtype), order=order)
    if out.size == 0:
        return out
    weights, radii, tables = _pass_parameters(sigma, data.shape[:3])
    _run(data, out, weights, radii, tables)
    return out
