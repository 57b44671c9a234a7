"""Reading and writing images, confounds and tables, with checks that name the bad input.

Every writer goes through :func:`atomic_path`: data are written to a temporary name in the
destination folder and renamed when complete, so a job killed mid-write leaves no file that
Snakemake could take for a finished output.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
from isal import igzip

from netregions.atomic import atomic_path  # noqa: F401 (re-exported)
from netregions.exceptions import InputDataError
from netregions.naming import MISSING_VALUES, discover_subjects  # noqa: F401 (re-exported)

__all__ = [
    "BoldHeader",
    "atomic_path",
    "check_bold_header",
    "check_inputs",
    "discover_subjects",
    "iter_image_chunks",
    "iter_volume_chunks",
    "load_image",
    "read_confounds",
    "read_tsv",
    "save_array",
    "save_array_chunks",
    "save_nifti",
    "write_tsv",
]


#: gzip level for written images: 1 is ~5x faster than 9 and barely larger for float data.
GZIP_LEVEL = 1


def _where(path: Path | str, subject: str | None) -> str:
    return f"sub-{subject}: " if subject else ""


# --------------------------------------------------------------------------- images


class BoldHeader:
    """What the checks need to know about a 4D image, read from its header only.

    Attributes
    ----------
    path : Path
    shape : tuple of int
    affine : ndarray, shape (4, 4)
    t_r : float or None
        Repetition time in seconds from the header's 4th pixdim, if set.
    dtype : numpy.dtype or None
        dtype of the decoded data (see :func:`load_image`).
    """

    def __init__(
        self, path: Path, shape: tuple[int, ...], affine: np.ndarray, t_r, dtype=None
    ) -> None:
        self.path = path
        self.shape = shape
        self.affine = affine
        self.t_r = t_r
        self.dtype = dtype

    @property
    def n_volumes(self) -> int:
        """Number of volumes (last axis)."""
        return self.shape[3]


def _nifti_header_from(fileobj) -> nib.Nifti1Header:
    head = fileobj.read(540)
    if len(head) < 348:
        raise ValueError(f"file too short for a NIfTI header ({len(head)} bytes)")
    sizeof = int.from_bytes(head[:4], "little")
    if sizeof not in (348, 540):
        sizeof = int.from_bytes(head[:4], "big")
    klass = nib.Nifti2Header if sizeof == 540 else nib.Nifti1Header
    return klass.from_fileobj(io.BytesIO(head))


def _open(path: Path):
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return igzip.open(path, "rb") if gzipped else open(path, "rb")


def _read_header(path: Path, subject: str | None) -> nib.Nifti1Header:
    if not path.exists():
        raise InputDataError(f"{_where(path, subject)}file not found: {path}")
    try:
        with _open(path) as f:
            return _nifti_header_from(f)
    except (OSError, EOFError, ValueError, nib.filebasedimages.ImageFileError) as exc:
        raise InputDataError(
            f"{_where(path, subject)}cannot read a NIfTI header from {path}: {exc}"
        ) from exc


def check_bold_header(path: Path | str, subject: str | None = None) -> BoldHeader:
    """Read a BOLD run's header and check that it is a 4D image with at least 2 volumes.

    Parameters
    ----------
    path : path-like
        NIfTI-1/2 file, gzipped or not.
    subject : str, optional
        Subject label used in error messages.

    Returns
    -------
    BoldHeader

    Raises
    ------
    InputDataError
        Missing or unreadable file, not 4D, fewer than 2 volumes, non-finite affine.
    """
    path = Path(path)
    hdr = _read_header(path, subject)
    shape = tuple(int(n) for n in hdr.get_data_shape())
    where = _where(path, subject)
    if len(shape) != 4:
        raise InputDataError(
            f"{where}expected a 4D image (x, y, z, time) but {path} has {len(shape)} "
            f"dimensions {shape}"
        )
    if shape[3] < 2:
        raise InputDataError(f"{where}{path} has {shape[3]} volume(s); at least 2 are needed")
    affine = hdr.get_best_affine()
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) == 0:
        raise InputDataError(f"{where}{path} has an invalid affine:\n{affine}")
    zooms = hdr.get_zooms()
    t_r = float(zooms[3]) if len(zooms) > 3 and zooms[3] > 0 else None
    return BoldHeader(path, shape, affine, t_r, _decoded_dtype(hdr))


def _apply_scaling(data: np.ndarray, hdr: nib.Nifti1Header) -> np.ndarray:
    slope, inter = hdr.get_slope_inter()
    scaled = slope not in (None, 1.0) or inter not in (None, 0.0)
    if scaled:
        # nibabel returns scaled integer data as float64; the reference then works in float64
        out = data.astype(np.float64)
        out *= 1.0 if slope is None else slope
        out += 0.0 if inter is None else inter
        return out
    if data.dtype.kind in "iub":
        return data.astype(np.float64 if data.dtype.itemsize == 8 else np.float32)
    return data.astype(data.dtype.newbyteorder("="), copy=False)


def load_image(path: Path | str, subject: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Decode a NIfTI image once, fast, into a Fortran-ordered array (as stored on disk).

    gzip is decoded with ISA-L (about 2x faster than zlib) straight into the array's buffer.

    Parameters
    ----------
    path : path-like
    subject : str, optional
        Subject label used in error messages.

    Returns
    -------
    data : ndarray
        Image data, Fortran order. Float data keep their dtype; integer data become float32
        (8-byte integers float64); data with a scale factor become float64 (as nibabel does).
    affine : ndarray, shape (4, 4)

    Raises
    ------
    InputDataError
        Missing, truncated or corrupt file (bad gzip stream, fewer bytes than the header
        announces).
    """
    path = Path(path)
    hdr = _read_header(path, subject)
    ((_, data),) = _decode_blocks(path, hdr, subject, None)  # one block: the whole image
    return data, hdr.get_best_affine()


def _decode_blocks(
    path: Path, hdr: nib.Nifti1Header, subject: str | None, volumes: int | None
) -> Iterator[tuple[int, np.ndarray]]:
    """Decode an image's data ``volumes`` volumes at a time (None: all at once).

    A 4D image is cut along its last axis; any other image is one block. Blocks are
    Fortran-ordered, scaled as :func:`_apply_scaling` does, and share one buffer (each is
    valid until the next is read). The stream is read to its end, so that gzip's CRC is
    checked.
    """
    where = _where(path, subject)
    shape = tuple(int(n) for n in hdr.get_data_shape())
    frame, n_frames = (shape[:3], shape[3]) if len(shape) == 4 else (shape, 1)
    step = max(1, min(volumes or n_frames, n_frames))
    dtype = hdr.get_data_dtype()
    frame_bytes = int(np.prod(frame)) * dtype.itemsize
    raw = np.empty(frame_bytes * step, dtype=np.uint8)
    total = 0
    try:
        with _open(path) as f:
            f.seek(int(hdr.get_data_offset()))
            for start in range(0, n_frames, step):
                n = min(step, n_frames - start)
                got = _read_into(f, memoryview(raw)[: n * frame_bytes])
                total += got
                if got != n * frame_bytes:
                    break
                block = raw[: n * frame_bytes].view(dtype)
                block = block.reshape((*frame, n) if len(shape) == 4 else shape, order="F")
                yield start, _apply_scaling(block, hdr)
            f.read(1)  # reach the end of the stream so that the gzip CRC is verified
    except (OSError, EOFError, ValueError) as exc:
        raise InputDataError(f"{where}cannot decode image data of {path}: {exc}") from exc
    if total != n_frames * frame_bytes:
        raise InputDataError(
            f"{where}{path} is truncated: {total} of {n_frames * frame_bytes} data bytes present"
        )


def _decoded_dtype(hdr: nib.Nifti1Header) -> np.dtype:
    """The dtype :func:`_apply_scaling` gives data of this header."""
    return _apply_scaling(np.zeros(1, dtype=hdr.get_data_dtype()), hdr).dtype


def iter_image_chunks(
    path: Path | str, chunk: int, subject: str | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Decode a 4D NIfTI image ``chunk`` volumes at a time, in order.

    The streaming form of :func:`load_image` (same values, same dtype rules, same errors): the
    process holds ``chunk`` volumes, not the whole run, whatever the run's length.

    Parameters
    ----------
    path : path-like
        4D NIfTI image (``.nii`` or ``.nii.gz``).
    chunk : int
        Volumes per block.
    subject : str, optional
        Subject label used in error messages.

    Yields
    ------
    start : int
        Index of the block's first volume.
    block : ndarray, shape (x, y, z, n)
        Fortran-ordered; valid until the next block is read (the buffer is reused).

    Raises
    ------
    InputDataError
        Missing, truncated or corrupt file, or not 4D.
    """
    path = Path(path)
    hdr = _read_header(path, subject)
    shape = hdr.get_data_shape()
    if len(shape) != 4:
        raise InputDataError(f"{_where(path, subject)}{path} is {len(shape)}D, expected a 4D run")
    yield from _decode_blocks(path, hdr, subject, chunk)


def _read_into(f, view: memoryview) -> int:
    """Fill ``view`` from ``f`` (one ``readinto`` may return less); return the bytes read."""
    done = 0
    while done < len(view):
        n = f.readinto(view[done:])
        if not n:
            break
        done += n
    return done


def save_nifti(
    data: np.ndarray,
    affine: np.ndarray,
    path: Path | str,
    *,
    t_r: float | None = None,
    dtype: np.dtype | type | None = None,
) -> Path:
    """Write ``data`` as a NIfTI-1 image, atomically; ``.nii.gz`` is compressed with ISA-L.

    Parameters
    ----------
    data : ndarray
        3D or 4D array.
    affine : ndarray, shape (4, 4)
    path : path-like
        Destination ending in ``.nii`` or ``.nii.gz``.
    t_r : float, optional
        Repetition time written in the 4th pixdim (with units seconds).
    dtype : dtype, optional
        Data type on disk; default: that of ``data``.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    data = np.asarray(data) if dtype is None else np.asarray(data, dtype=dtype)
    img = nib.Nifti1Image(data, affine)
    img.header.set_data_dtype(data.dtype)
    img.header.set_xyzt_units("mm", "sec")
    if t_r is not None and data.ndim == 4:
        zooms = img.header.get_zooms()
        img.header.set_zooms((*zooms[:3], float(t_r)))
    payload = img.to_bytes()
    if path.name.endswith(".gz"):
        # mtime=0: identical inputs give byte-identical files
        payload = igzip.compress(payload, compresslevel=GZIP_LEVEL, mtime=0)
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)
    return path


def save_array(array: np.ndarray, path: Path | str) -> Path:
    """Save an array as ``.npy`` atomically (memory layout kept, so it can be memory-mapped)."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array, allow_pickle=False)
    return path


def save_array_chunks(
    path: Path | str, shape: tuple[int, ...], dtype: np.dtype, blocks: Iterator[np.ndarray]
) -> Path:
    """Save a Fortran-ordered array given as consecutive blocks of its last axis, atomically.

    The ``.npy`` equivalent of :func:`save_array` for data that arrive (and are dropped) a
    block at a time, e.g. from :func:`iter_image_chunks`.

    Parameters
    ----------
    path : path-like
    shape : tuple of int
        Shape of the whole array.
    dtype : dtype
    blocks : iterator of ndarray
        Blocks along the last axis, in order; together exactly ``shape``.

    Raises
    ------
    ValueError
        If the blocks do not add up to ``shape``.
    """
    path = Path(path)
    dtype = np.dtype(dtype)
    expected = int(np.prod(shape)) * dtype.itemsize
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": True, "shape": shape}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        written = 0
        for block in blocks:
            block = np.asfortranarray(block, dtype=dtype)
            f.write(memoryview(block.reshape(-1, order="F")).cast("B"))
            written += block.nbytes
        if written != expected:
            raise ValueError(f"{path}: blocks hold {written} bytes, shape {shape} needs {expected}")
    return path


def iter_volume_chunks(path: Path | str, chunk: int) -> Iterator[tuple[int, np.ndarray]]:
    """Read a Fortran-ordered 4D ``.npy`` cache ``chunk`` volumes at a time.

    Volumes are read into one reused buffer instead of memory-mapping the file, so the
    process holds only ``chunk`` volumes (memory-mapped pages count as resident memory once
    touched).

    Parameters
    ----------
    path : path-like
        ``.npy`` file of shape (x, y, z, n_volumes) in Fortran order.
    chunk : int
        Volumes per block.

    Yields
    ------
    start : int
        Index of the block's first volume.
    block : ndarray, shape (x, y, z, n)
        Fortran-ordered; the same buffer is reused for the next block.
    """
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(f)
        if len(shape) != 4 or not fortran:
            raise ValueError(f"{path}: expected a Fortran-ordered 4D array, got {shape}")
        n_volumes = shape[3]
        buffer = np.empty((*shape[:3], min(chunk, n_volumes)), dtype=dtype, order="F")
        for start in range(0, n_volumes, chunk):
            n = min(chunk, n_volumes - start)
            block = buffer[..., :n]
            got = _read_into(f, memoryview(block.reshape(-1, order="F")).cast("B"))
            if got != block.nbytes:
                raise InputDataError(f"{path} is truncated at volume {start}")
            yield start, block


# --------------------------------------------------------------------------- tables


def write_tsv(path: Path | str, array: np.ndarray, header: Sequence[str]) -> Path:
    """Write a 2D numeric table with a header line, atomically.

    Values are written with 9 significant digits, enough to round-trip float32 exactly, in a
    fixed format so that equal arrays give byte-identical files.
    """
    array = np.atleast_2d(np.asarray(array))
    if array.shape[1] != len(header):
        raise ValueError(f"{len(header)} column names for {array.shape[1]} columns")
    with atomic_path(path) as tmp:
        np.savetxt(tmp, array, fmt="%.9g", delimiter="\t", header="\t".join(header), comments="")
    return Path(path)


def read_tsv(path: Path | str) -> tuple[list[str], np.ndarray]:
    """Read a numeric TSV written by :func:`write_tsv`: (column names, float64 array)."""
    path = Path(path)
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
    data = np.loadtxt(path, delimiter="\t", skiprows=1, ndmin=2, dtype=np.float64)
    return header, data


def _parse_cell(token: str) -> float:
    token = token.strip()
    if token.lower() in MISSING_VALUES:
        return np.nan
    return float(token)


def read_confounds(
    path: Path | str,
    columns: Sequence[str] | None = None,
    n_volumes: int | None = None,
    subject: str | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Read an fMRIPrep-style confounds TSV (header line, one row per volume).

    Missing cells (``n/a``, ``nan``, empty) become 0 with a warning naming the columns:
    fMRIPrep writes ``n/a`` in the first row of derivative columns such as
    ``framewise_displacement``, and the reference pipeline would fail on them.

    Parameters
    ----------
    path : path-like
    columns : sequence of str, optional
        Columns to keep, in this order; None keeps every column.
    n_volumes : int, optional
        Expected number of rows (volumes of the matching BOLD run).
    subject : str, optional
        Subject label used in messages.

    Returns
    -------
    confounds : ndarray, shape (n_volumes, n_columns), float64
    names : list of str

    Raises
    ------
    InputDataError
        Missing file, non-numeric cell, unknown column (the message lists the available ones),
        a column that is entirely missing, or a row count that differs from ``n_volumes``.
    """
    path = Path(path)
    where = _where(path, subject)
    if not path.exists():
        raise InputDataError(f"{where}confounds file not found: {path}")
    lines = [line.rstrip("\r\n") for line in path.read_text().splitlines()]
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise InputDataError(f"{where}confounds file is empty: {path}")
    names = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:]]
    for i, row in enumerate(rows, start=2):
        if len(row) != len(names):
            raise InputDataError(
                f"{where}line {i} of {path} has {len(row)} cells, the header has {len(names)}"
            )
    selected = list(names) if columns is None else list(columns)
    unknown = [c for c in selected if c not in names]
    if unknown:
        raise InputDataError(
            f"{where}unknown confound column(s) {unknown} in {path}; available: {names}"
        )
    index = [names.index(c) for c in selected]
    try:
        table = np.array([[_parse_cell(row[j]) for j in index] for row in rows], dtype=float)
    except ValueError as exc:
        raise InputDataError(f"{where}non-numeric confound value in {path}: {exc}") from exc
    table = table.reshape(len(rows), len(selected))
    if n_volumes is not None and table.shape[0] != n_volumes:
        raise InputDataError(
            f"{where}confounds have {table.shape[0]} rows but the BOLD run has {n_volumes} "
            f"volumes ({path})"
        )
    missing = np.isnan(table)
    if missing.any():
        empty = [c for c, m in zip(selected, missing.all(axis=0), strict=True) if m]
        if empty and table.shape[0] > 0:
            raise InputDataError(f"{where}confound column(s) {empty} are entirely n/a in {path}")
        partial = [c for c, m in zip(selected, missing.any(axis=0), strict=True) if m]
        warnings.warn(
            f"{where}missing values in confound column(s) {partial} of {path} replaced by 0",
            stacklevel=2,
        )
        table[missing] = 0.0
    return table, selected


# --------------------------------------------------------------------------- inputs


def _check_subject(subject: str, files: Mapping[str, str | None], columns) -> BoldHeader:
    header = check_bold_header(files["func"], subject)
    if files.get("confounds"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # n/a cells are reported by the jobs that use them
            read_confounds(files["confounds"], columns, header.n_volumes, subject)
    return header


def _grid_mismatch(ref: BoldHeader, other: BoldHeader) -> str | None:
    if ref.shape[:3] != other.shape[:3]:
        return f"grid shape {other.shape[:3]} differs from {ref.shape[:3]}"
    if not np.allclose(ref.affine, other.affine, atol=1e-3):
        return (
            f"affine differs (voxel sizes {_zooms(other.affine)} vs {_zooms(ref.affine)}, "
            f"origin {_origin(other.affine)} vs {_origin(ref.affine)})"
        )
    return None


def _origin(affine: np.ndarray) -> list[float]:
    return affine[:3, 3].round(3).tolist()


def _zooms(affine: np.ndarray) -> list[float]:
    return np.sqrt((affine[:3, :3] ** 2).sum(axis=0)).round(3).tolist()


def check_inputs(
    inputs: Mapping[str, Mapping[str, str | None]],
    output: Path | str,
    columns: Sequence[str] | None = None,
) -> Path:
    """Check every subject's run and confounds before compute; write a manifest.

    Checks, from headers and confound tables only (no image data decoded): each file exists
    and reads, each run is 4D with at least 2 volumes, all runs share grid shape and affine,
    confound rows equal volumes, requested confound columns exist and are not entirely n/a.

    Parameters
    ----------
    inputs : mapping
        ``{subject: {"func": path, "confounds": path or None}}``.
    output : path-like
        Manifest TSV: subject, files, sizes in bytes, volumes, grid, voxel size, TR.
    columns : sequence of str, optional
        Confound columns that later steps use (None = all).

    Returns
    -------
    Path

    Raises
    ------
    InputDataError
        Listing every problem found, one line each, naming subject, file and problem.
    """
    problems: list[str] = []
    headers: dict[str, BoldHeader] = {}
    for subject in sorted(inputs):
        try:
            headers[subject] = _check_subject(subject, inputs[subject], columns)
        except InputDataError as exc:
            problems.append(str(exc))
    if headers:
        ref_subject = next(iter(headers))
        for subject, header in headers.items():
            mismatch = _grid_mismatch(headers[ref_subject], header)
            if mismatch:
                problems.append(
                    f"sub-{subject}: {mismatch} of sub-{ref_subject} ({header.path}); all runs "
                    "must share one grid"
                )
    if problems:
        raise InputDataError(f"{len(problems)} input problem(s):\n" + "\n".join(problems))
    _write_manifest(output, inputs, headers)
    return Path(output)


def _write_manifest(output, inputs, headers: Mapping[str, BoldHeader]) -> None:
    names = ["subject", "func", "func_bytes", "confounds", "confounds_bytes", "n_volumes"]
    names += ["shape", "voxel_size_mm", "t_r"]
    lines = ["\t".join(names)]
    for subject, header in headers.items():
        confounds = inputs[subject].get("confounds")
        row = [
            subject,
            str(inputs[subject]["func"]),
            str(os.path.getsize(header.path)),
            str(confounds or "n/a"),
            str(os.path.getsize(confounds)) if confounds else "n/a",
            str(header.n_volumes),
            "x".join(map(str, header.shape[:3])),
            "x".join(f"{z:g}" for z in _zooms(header.affine)),
            "n/a" if header.t_r is None else f"{header.t_r:g}",
        ]
        lines.append("\t".join(row))
    with atomic_path(output) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
