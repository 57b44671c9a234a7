"""Reading and writing images, confounds and tables, with checks that name the bad input.

Every writer goes through :func:`atomic_path`: data are written to a temporary name in the
destination folder and renamed when complete, so a job killed mid-write leaves no file that
Snakemake could take for a finished output.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from isal import igzip

from netregions.atomic import atomic_path  # noqa: F401 (re-exported)
from netregions.exceptions import InputDataError

if TYPE_CHECKING:  # nibabel is imported where images are read or written: tables do without it
    import nibabel as nib

__all__ = [
    "BoldHeader",
    "atomic_path",
    "check_bold_header",
    "header_repetition_time",
    "iter_image_chunks",
    "load_image",
    "read_table",
    "read_tsv",
    "save_array",
    "save_nifti",
    "write_table",
    "write_tsv",
]


#: gzip level for written images: 1 is much faster than 9 and barely larger for float data.
GZIP_LEVEL = 1


def _where(run: str | None) -> str:
    """Message prefix naming the run (e.g. ``sub-01_task-rest_run-1: ``), if known."""
    return f"{run}: " if run else ""


# --------------------------------------------------------------------------- images


class BoldHeader:
    """What the checks need to know about a 4D image, read from its header only.

    Attributes
    ----------
    path : Path
    shape : tuple of int
    affine : ndarray, shape (4, 4)
    t_r : float or None
        Repetition time from the header's 4th pixdim, converted to seconds from the header's
        time unit (see :func:`header_repetition_time`); ``None`` when the header has none.
        It may be zero, negative or not finite: the caller decides whether it is needed.
    dtype : numpy.dtype or None
        dtype of the decoded data (see :func:`load_image`).
    raw_dtype : numpy.dtype or None
        dtype of the values stored in the file.
    """

    def __init__(
        self,
        path: Path,
        shape: tuple[int, ...],
        affine: np.ndarray,
        t_r,
        dtype=None,
        raw_dtype=None,
    ) -> None:
        self.path = path
        self.shape = shape
        self.affine = affine
        self.t_r = t_r
        self.dtype = dtype
        self.raw_dtype = raw_dtype

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
    import nibabel as nib

    klass = nib.Nifti2Header if sizeof == 540 else nib.Nifti1Header
    return klass.from_fileobj(io.BytesIO(head))


def _open(path: Path):
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return igzip.open(path, "rb") if gzipped else open(path, "rb")


def _read_header(path: Path, run: str | None) -> nib.Nifti1Header:
    import nibabel as nib

    if not path.exists():
        raise InputDataError(f"{_where(run)}file not found: {path}")
    try:
        with _open(path) as f:
            return _nifti_header_from(f)
    except (OSError, EOFError, ValueError, nib.filebasedimages.ImageFileError) as exc:
        raise InputDataError(f"{_where(run)}cannot read a NIfTI header from {path}: {exc}") from exc


def check_bold_header(path: Path | str, run: str | None = None) -> BoldHeader:
    """Read a BOLD run's header and check that it is a 4D image with at least 2 volumes.

    Parameters
    ----------
    path : path-like
        NIfTI-1/2 file, gzipped or not.
    run : str, optional
        Run name used in error messages.

    Returns
    -------
    BoldHeader

    Raises
    ------
    InputDataError
        Missing or unreadable file, not 4D, fewer than 2 volumes, non-finite affine.
    """
    path = Path(path)
    hdr = _read_header(path, run)
    shape = tuple(int(n) for n in hdr.get_data_shape())
    where = _where(run)
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
    t_r = header_repetition_time(hdr)
    return BoldHeader(path, shape, affine, t_r, _decoded_dtype(hdr), hdr.get_data_dtype())


#: Time units of a NIfTI header (``xyzt_units``, as nibabel names them) per second. A header
#: without a unit ("unknown", code 0) is read as seconds, as nibabel and nilearn do.
TIME_UNITS_PER_SECOND: dict[str, float] = {
    "sec": 1.0,
    "msec": 1e3,
    "usec": 1e6,
    "unknown": 1.0,
}


def header_repetition_time(hdr: nib.Nifti1Header) -> float | None:
    """The repetition time a NIfTI header gives, in seconds.

    Parameters
    ----------
    hdr : nibabel.Nifti1Header or nibabel.Nifti2Header
        The header of a 4D image.

    Returns
    -------
    float or None
        ``pixdim[4]`` divided by the header's time units per second
        (:data:`TIME_UNITS_PER_SECOND`: ``msec`` and ``usec`` are converted; ``sec`` and no
        unit are seconds). ``None`` when the image is not 4D, ``pixdim[4]`` is 0 (not set), or
        the unit is a frequency (``hz``, ``ppm``, ``rads``), which makes the fourth axis
        something other than time. Negative and non-finite values are returned as they are,
        for :func:`netregions.bids.read_repetition_time` to reject when it needs them.
    """
    zooms = hdr.get_zooms()
    if len(zooms) < 4 or zooms[3] == 0:
        return None
    # dividing (not multiplying by 1e-3) keeps 720 msec at exactly the double nearest 0.72 s
    per_second = TIME_UNITS_PER_SECOND.get(hdr.get_xyzt_units()[1])
    return None if per_second is None else float(zooms[3]) / per_second


def _apply_scaling(
    data: np.ndarray, hdr: nib.Nifti1Header, out: np.ndarray | None = None
) -> np.ndarray:
    """Image values as native float32, scale factors applied in float32.

    nibabel (and so the reference) returns scaled integer data as float64; image data are
    float32 here from end to end, which halves the memory of a 2 mm run
    (docs/differences.md, Precision). Native float32 data are scaled in place; other data
    are converted into ``out`` (a float32 array of their shape) when given, so that a decoder
    reuses one buffer instead of allocating one per block.
    """
    slope, inter = hdr.get_slope_inter()
    if data.dtype == np.float32 and data.dtype.isnative:
        out = data
    elif out is not None:
        np.copyto(out, data, casting="unsafe")
    else:
        out = data.astype(np.float32)
    if slope not in (None, 1.0):
        out *= np.float32(slope)
    if inter not in (None, 0.0):
        out += np.float32(inter)
    return out


def load_image(path: Path | str, run: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Decode a NIfTI image once, fast, into a Fortran-ordered array (as stored on disk).

    gzip is decoded with ISA-L (faster than zlib) straight into the array's buffer.

    Parameters
    ----------
    path : path-like
    run : str, optional
        Run name used in error messages.

    Returns
    -------
    data : ndarray
        Image data as float32, Fortran order, scale factors applied.
    affine : ndarray, shape (4, 4)

    Raises
    ------
    InputDataError
        Missing, truncated or corrupt file (bad gzip stream, fewer bytes than the header
        announces).
    """
    path = Path(path)
    hdr = _read_header(path, run)
    ((_, data),) = _decode_blocks(path, hdr, run, None)  # one block: the whole image
    return data, hdr.get_best_affine()


def _decode_blocks(
    path: Path, hdr: nib.Nifti1Header, run: str | None, volumes: int | None
) -> Iterator[tuple[int, np.ndarray]]:
    """Decode an image's data ``volumes`` volumes at a time (None: all at once).

    A 4D image is cut along its last axis; any other image is one block. Blocks are
    Fortran-ordered, scaled as :func:`_apply_scaling` does, and share one buffer (each is
    valid until the next is read). The stream is read to its end, so that gzip's CRC is
    checked.
    """
    where = _where(run)
    shape = tuple(int(n) for n in hdr.get_data_shape())
    frame, n_frames = (shape[:3], shape[3]) if len(shape) == 4 else (shape, 1)
    step = max(1, min(volumes or n_frames, n_frames))
    dtype = hdr.get_data_dtype()
    frame_bytes = int(np.prod(frame)) * dtype.itemsize
    raw = np.empty(frame_bytes * step, dtype=np.uint8)
    converted = None if dtype == np.float32 and dtype.isnative else np.empty(0, np.float32)
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
                if converted is not None and converted.shape != block.shape:
                    converted = np.empty(block.shape, dtype=np.float32, order="F")
                yield start, _apply_scaling(block, hdr, converted)
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
    path: Path | str, chunk: int, run: str | None = None
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
    run : str, optional
        Run name used in error messages.

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
    hdr = _read_header(path, run)
    shape = hdr.get_data_shape()
    if len(shape) != 4:
        raise InputDataError(f"{_where(run)}{path} is {len(shape)}D, expected a 4D run")
    yield from _decode_blocks(path, hdr, run, chunk)


def open_decoded(path: Path | str, run: str | None = None) -> np.memmap:
    """Memory map of a run kept decoded (see :func:`create_decoded_copy`), checked.

    Raises
    ------
    InputDataError
        Missing or unreadable file, or not a 4D float32 array.
    """
    where = _where(run)
    try:
        data = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise InputDataError(f"{where}cannot read the decoded run {path}: {exc}") from exc
    if data.ndim != 4 or data.dtype != np.float32:
        raise InputDataError(
            f"{where}{path} holds a {data.ndim}D {data.dtype} array, not a decoded 4D run"
        )
    return data


def iter_decoded_chunks(
    decoded: Path | str | np.ndarray, chunk: int, run: str | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Blocks of ``chunk`` volumes of a run kept decoded (:func:`create_decoded_copy`).

    The counterpart of :func:`iter_image_chunks` for the ``.npy`` copy: the same blocks
    (float32, Fortran-ordered, in order), read from a memory map instead of decoded.
    ``decoded`` is the copy's path, or the map :func:`open_decoded` returned for it.
    """
    data = decoded if isinstance(decoded, np.ndarray) else open_decoded(decoded, run)
    for start in range(0, data.shape[3], chunk):
        yield start, np.asfortranarray(data[..., start : start + chunk])


def create_decoded_copy(path: Path | str, shape: tuple[int, ...]) -> np.memmap:
    """A writable float32 ``.npy`` memory map for a decoded run (see :func:`iter_decoded_chunks`).

    Fortran-ordered like the decoded blocks, so that writing a block of volumes is one
    contiguous write. Open it on a temporary path (:func:`atomic_path`) and flush it.
    """
    return np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float32, shape=tuple(int(n) for n in shape), fortran_order=True
    )


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
    import nibabel as nib

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


def _format_cell(value) -> str:
    """One cell of a mixed table: n/a for None/NaN, true/false, 6 significant digits."""
    if value is None:
        return "n/a"
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return "n/a" if not np.isfinite(value) else f"{float(value):.6g}"
    text = str(value)
    if "\t" in text or "\n" in text:
        raise ValueError(f"a table cell cannot hold tabs or newlines: {text!r}")
    return text


def write_table(
    path: Path | str, rows: Sequence[Mapping[str, object]], columns: Sequence[str]
) -> Path:
    """Write rows of mixed values (text, numbers, booleans, missing) as a TSV, atomically.

    Parameters
    ----------
    path : path-like
    rows : sequence of mapping
        One mapping per row; a column missing from a row is written ``n/a``.
    columns : sequence of str
        Column names, in order.

    Returns
    -------
    Path

    Notes
    -----
    BIDS conventions: ``n/a`` for missing values (None or NaN), ``true``/``false`` for
    booleans; floats with 6 significant digits; a header line, one line per row.
    """
    lines = ["\t".join(columns)]
    lines += ["\t".join(_format_cell(row.get(c)) for c in columns) for row in rows]
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    return Path(path)


def read_table(path: Path | str) -> list[dict[str, str]]:
    """Read a TSV with a header line as a list of ``{column: text}`` rows (values as text)."""
    with open(path, newline="", encoding="utf-8") as f:
        # numbered before blank lines are dropped, so that errors name the file's own lines
        lines = [(n, line.rstrip("\r\n")) for n, line in enumerate(f, start=1) if line.strip()]
    if not lines:
        raise InputDataError(f"{path} is empty")
    columns = lines[0][1].split("\t")
    rows = []
    for number, line in lines[1:]:
        cells = line.split("\t")
        if len(cells) != len(columns):
            raise InputDataError(
                f"line {number} of {path} has {len(cells)} cells, the header has {len(columns)}"
            )
        rows.append(dict(zip(columns, cells, strict=True)))
    return rows
