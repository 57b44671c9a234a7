"""nilearn's ``development_fmri`` dataset: movie watching, 155 subjects, 4 mm MNI, TR 2 s.

Files come from OSF, one download per file, with the keys of the packaged table
``development_fmri.csv`` (``participant_id,key_r,key_b``: ``key_r`` the fMRIPrep confounds,
``key_b`` the preprocessed BOLD run). What is fetched and how subjects are chosen follows
nilearn's ``fetch_development_fmri`` (docs/algorithms.md §1),
with two documented differences: the selected subjects are returned adults first, then
children, each in participants-file order (the reference's unstable sort scrambles the order
within each group), and missing confound values are written as ``n/a`` (not ``nan``).

Downloads use only the standard library. They resume an interrupted ``.part`` file with an
HTTP Range request, retry network errors with exponential back-off, verify the file (gzip
CRC and NIfTI header for images, a header line for tables) before renaming it into place, and
print a one-line progress report on stderr.
"""

from __future__ import annotations

import csv
import functools
import http.client
import importlib.resources
import io
import os
import re
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from netregions.exceptions import ConfigError, InputDataError
from netregions.naming import (
    FMRIPREP_CONFOUNDS_SUFFIX,
    FUNC_SUFFIX,
    MISSING_VALUES,
    REDUCED_CONFOUND_COLUMNS,
    REDUCED_CONFOUNDS_SUFFIX,
)

__all__ = [
    "AGE_GROUPS",
    "FILE_URL_TEMPLATE",
    "PARTICIPANTS_URL",
    "REDUCED_CONFOUNDS",
    "DownloadError",
    "SubjectKeys",
    "download_file",
    "download_subject",
    "fetch_participants",
    "load_keys",
    "reduce_confounds",
    "select_subjects",
    "subject_paths",
    "verify_nifti",
    "verify_tsv",
]

PARTICIPANTS_URL = "https://osf.io/yr3av/download"
FILE_URL_TEMPLATE = "https://osf.io/download/{key}/"
PARTICIPANTS_NAME = "participants.tsv"
PARTICIPANTS_COLUMNS = ("participant_id", "Age", "AgeGroup", "Child_Adult", "Gender", "Handedness")
AGE_GROUPS = ("both", "child", "adult")
T_R = 2.0

BOLD_SUFFIX = FUNC_SUFFIX
CONFOUNDS_SUFFIX = FMRIPREP_CONFOUNDS_SUFFIX
REDUCED_SUFFIX = REDUCED_CONFOUNDS_SUFFIX

#: Columns kept from fMRIPrep's confounds, in this order (nilearn's ``_reduce_confounds``).
REDUCED_CONFOUNDS = REDUCED_CONFOUND_COLUMNS
MISSING_CELLS = MISSING_VALUES

#: HTTP statuses worth retrying (timeouts, rate limiting, server trouble).
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
CHUNK_BYTES = 1 << 20


class DownloadError(OSError):
    """A file could not be downloaded (network failure after retries, or an HTTP error)."""


class _Retry(Exception):
    """A transient failure of one attempt (the next attempt resumes the .part file)."""


# --------------------------------------------------------------------------- subjects


class SubjectKeys(NamedTuple):
    """OSF keys of one subject's files."""

    confounds: str
    bold: str


def load_keys(path: Path | str | None = None) -> dict[str, SubjectKeys]:
    """Read the per-subject OSF keys.

    Parameters
    ----------
    path : path-like, optional
        CSV with header ``participant_id,key_r,key_b``; default: the packaged
        ``netregions/data/development_fmri.csv`` (155 subjects).

    Returns
    -------
    dict
        ``{"sub-pixar001": SubjectKeys(confounds=key_r, bold=key_b), ...}``.

    Raises
    ------
    InputDataError
        When the header lacks a column.
    """
    if path is None:
        return dict(_packaged_keys())
    return _parse_keys(Path(path).read_text(), str(path))


@functools.cache
def _packaged_keys() -> tuple[tuple[str, SubjectKeys], ...]:
    resource = importlib.resources.files("netregions.data").joinpath("development_fmri.csv")
    return tuple(_parse_keys(resource.read_text(), "development_fmri.csv").items())


def _parse_keys(text: str, where: str) -> dict[str, SubjectKeys]:
    reader = csv.DictReader(io.StringIO(text))
    missing = {"participant_id", "key_r", "key_b"} - set(reader.fieldnames or ())
    if missing:
        raise InputDataError(f"key table {where} lacks column(s) {sorted(missing)}")
    return {
        row["participant_id"].strip(): SubjectKeys(row["key_r"].strip(), row["key_b"].strip())
        for row in reader
    }


def _read_participants(path: Path) -> list[tuple[str, str]]:
    """(participant_id, Child_Adult) of every row, in file order."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t")
        missing = {"participant_id", "Child_Adult"} - set(reader.fieldnames or ())
        if missing:
            raise InputDataError(
                f"participants table {path} lacks column(s) {sorted(missing)}; "
                f"it has {reader.fieldnames}"
            )
        return [(row["participant_id"].strip(), row["Child_Adult"].strip()) for row in reader]


def _group_counts(n_subjects: int, total: int, n_children: int, n_adults: int, age_group: str):
    """How many children and adults to take (nilearn's proportional rule)."""
    fraction = n_subjects / total
    # round() is round-half-to-even, like numpy.round in the reference
    n_child, n_adult = round(fraction * n_children), round(fraction * n_adults)
    if age_group != "child" and n_subjects == 1:
        n_child, n_adult = 0, 1
    if age_group == "both" and n_subjects == 2:
        n_child, n_adult = 1, 1
    return n_child, n_adult


def select_subjects(
    participants_tsv: Path | str, n_subjects: int | None, age_group: str = "both"
) -> list[str]:
    """Choose subjects as nilearn's ``fetch_development_fmri`` does.

    The child/adult proportions of the whole table are kept: with ``p = n_subjects / total``,
    ``round(p * n_children)`` children and ``round(p * n_adults)`` adults (round half to even)
    are taken, the first ones in file order. Special cases: ``n_subjects == 1`` gives one
    adult unless ``age_group == "child"``; ``n_subjects == 2`` with ``"both"`` gives one adult
    and one child. ``age_group`` then keeps only that group of the selection (so
    ``"child"`` with 20 subjects gives the 16 children of the proportional selection).

    Parameters
    ----------
    participants_tsv : path-like
        Tab-separated table with ``participant_id`` and ``Child_Adult`` columns.
    n_subjects : int or None
        None, or a value below 1 or above the number of participants (with a warning) selects
        everyone.
    age_group : {"both", "child", "adult"}

    Returns
    -------
    list of str
        Labels without the ``sub-`` prefix (e.g. ``"pixar123"``): adults first, then
        children, each in participants-file order.

    Raises
    ------
    ValueError
        Unknown ``age_group``.
    ConfigError
        When the selection is empty (e.g. ``age_group="adult"`` with ``n_subjects=2``: the
        proportional rule then picks two children and no adult).
    InputDataError
        When the table lacks a needed column.
    """
    if age_group not in AGE_GROUPS:
        raise ValueError(f"age_group must be one of {AGE_GROUPS}, got {age_group!r}")
    rows = _read_participants(Path(participants_tsv))
    children = [pid for pid, group in rows if group == "child"]
    adults = [pid for pid, group in rows if group == "adult"]
    total = len(rows)
    if n_subjects is None:
        n_subjects = total
    elif not 1 <= n_subjects <= total:
        warnings.warn(
            f"n_subjects={n_subjects} is not between 1 and {total}: selecting all {total} subjects",
            stacklevel=2,
        )
        n_subjects = total
    n_child, n_adult = _group_counts(n_subjects, total, len(children), len(adults), age_group)
    selected = (adults[:n_adult] if age_group != "child" else []) + (
        children[:n_child] if age_group != "adult" else []
    )
    if not selected:
        raise ConfigError(
            f"n_subjects={n_subjects} with age_group={age_group!r} selects nobody: the "
            f"proportional rule picks {n_child} child(ren) and {n_adult} adult(s)"
        )
    return [pid.removeprefix("sub-") for pid in selected]


def subject_paths(data_dir: Path | str, subject: str) -> dict[str, Path]:
    """Paths of a subject's files: ``bold``, ``raw_confounds`` (fMRIPrep) and ``confounds``."""
    pid = "sub-" + subject.removeprefix("sub-")
    data_dir = Path(data_dir)
    return {
        "bold": data_dir / f"{pid}{BOLD_SUFFIX}",
        "raw_confounds": data_dir / f"{pid}{CONFOUNDS_SUFFIX}",
        "confounds": data_dir / f"{pid}{REDUCED_SUFFIX}",
    }


# --------------------------------------------------------------------------- fetchers


def fetch_participants(
    data_dir: Path | str,
    url: str = PARTICIPANTS_URL,
    *,
    progress: bool = True,
    retries: int = 4,
    backoff: float = 2.0,
    timeout: float = 60.0,
) -> Path:
    """Download the participants table as ``data_dir/participants.tsv`` (skipped if present).

    Parameters
    ----------
    data_dir : path-like
    url : str
        Default: nilearn's OSF address.
    progress, retries, backoff, timeout
        See :func:`download_file`.

    Returns
    -------
    Path
    """
    return download_file(
        url,
        Path(data_dir) / PARTICIPANTS_NAME,
        verify=_verify_participants,
        progress=progress,
        label="participants",
        retries=retries,
        backoff=backoff,
        timeout=timeout,
    )


def download_subject(
    subject: str,
    data_dir: Path | str,
    *,
    url_template: str = FILE_URL_TEMPLATE,
    keys_csv: Path | str | None = None,
    progress: bool = True,
    retries: int = 4,
    backoff: float = 2.0,
    timeout: float = 60.0,
) -> dict[str, Path]:
    """Fetch one subject's BOLD run and confounds, and write the reduced confounds.

    Each file is skipped when already present. The reduced confounds (the 15
    :data:`REDUCED_CONFOUNDS` columns) are written next to fMRIPrep's full table.

    Parameters
    ----------
    subject : str
        Label without ``sub-`` (e.g. ``"pixar001"``).
    data_dir : path-like
    url_template : str
        Download URL with a ``{key}`` placeholder (default: OSF).
    keys_csv : path-like, optional
        Key table (default: the packaged one).
    progress, retries, backoff, timeout
        See :func:`download_file`.

    Returns
    -------
    dict
        ``bold`` and ``confounds`` (the reduced table) paths.

    Raises
    ------
    InputDataError
        Unknown subject, or a corrupt download.
    DownloadError
        Network failure after the retries, or an HTTP error such as 404.
    """
    pid = "sub-" + subject.removeprefix("sub-")
    keys = load_keys(keys_csv)
    if pid not in keys:
        raise InputDataError(
            f"{pid} is not in the development_fmri key table ({len(keys)} subjects, e.g. "
            f"{', '.join(list(keys)[:3])})"
        )
    paths = subject_paths(data_dir, subject)
    options = {"progress": progress, "retries": retries, "backoff": backoff, "timeout": timeout}
    url = url_template.format(key=keys[pid].bold)
    download_file(url, paths["bold"], label=f"{pid} bold", **options)
    if not paths["confounds"].exists():
        url = url_template.format(key=keys[pid].confounds)
        download_file(url, paths["raw_confounds"], label=f"{pid} confounds", **options)
        reduce_confounds(paths["raw_confounds"], paths["confounds"])
    return {"bold": paths["bold"], "confounds": paths["confounds"]}


def reduce_confounds(source: Path | str, dest: Path | str) -> Path:
    """Keep the 15 :data:`REDUCED_CONFOUNDS` columns of an fMRIPrep confounds table.

    Cells are copied as text (no loss of precision); missing values (``n/a``, ``nan``, empty)
    are written as ``n/a``. The output is tab-separated with a header line, written
    atomically.

    Parameters
    ----------
    source : path-like
        fMRIPrep ``desc-confounds_regressors.tsv``.
    dest : path-like

    Returns
    -------
    Path

    Raises
    ------
    InputDataError
        Missing columns (the message lists them) or a row with the wrong number of cells.
    """
    from netregions.io import atomic_path

    source = Path(source)
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        raise InputDataError(f"confounds file is empty: {source}")
    header = lines[0].split("\t")
    missing = [c for c in REDUCED_CONFOUNDS if c not in header]
    if missing:
        raise InputDataError(
            f"confounds file {source} lacks column(s) {missing} (it has {len(header)} columns)"
        )
    index = [header.index(c) for c in REDUCED_CONFOUNDS]
    out = ["\t".join(REDUCED_CONFOUNDS)]
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(header):
            raise InputDataError(
                f"line {number} of {source} has {len(cells)} cells, the header has {len(header)}"
            )
        out.append("\t".join(_missing_as_na(cells[i]) for i in index))
    with atomic_path(dest) as tmp:
        tmp.write_text("\n".join(out) + "\n", encoding="utf-8")
    return Path(dest)


def _missing_as_na(cell: str) -> str:
    cell = cell.strip()
    return "n/a" if cell.lower() in MISSING_CELLS else cell


# --------------------------------------------------------------------------- verification


def verify_nifti(path: Path | str, *, gzipped: bool | None = None) -> None:
    """Check a downloaded NIfTI file (gzipped or not) without holding it in memory.

    The whole stream is decoded in chunks, so a gzip file's CRC and length are checked; the
    header must describe a 3D or 4D image with positive dimensions and a known data type, and
    the data must be complete.

    Parameters
    ----------
    path : path-like
    gzipped : bool, optional
        True: the file must be gzip-compressed (``.nii.gz``); False: it must not be; None:
        decide from the file's first bytes.

    Raises
    ------
    ValueError
        Describing the problem.
    """
    from isal import igzip, isal_zlib

    path = Path(path)
    with open(path, "rb") as probe:
        is_gzip = probe.read(2) == b"\x1f\x8b"
    if gzipped and not is_gzip:
        raise ValueError("not a gzip file (the server may have sent an error page)")
    if gzipped is False and is_gzip:
        raise ValueError("gzip-compressed data in a file named .nii")
    try:
        with igzip.open(path, "rb") if is_gzip else open(path, "rb") as f:
            head = f.read(540)
            expected = _expected_nifti_size(head)
            size = len(head)
            while chunk := f.read(CHUNK_BYTES):
                size += len(chunk)
    except (OSError, EOFError, isal_zlib.error) as exc:
        raise ValueError(f"corrupt or truncated gzip stream ({exc})") from exc
    if size < expected:
        raise ValueError(f"image data truncated: {size} of {expected} bytes")


def _expected_nifti_size(head: bytes) -> int:
    """Header checks; returns the number of bytes the header announces."""
    import nibabel as nib
    import numpy as np

    if len(head) < 348:
        raise ValueError(f"too short for a NIfTI header ({len(head)} bytes)")
    sizes = {int.from_bytes(head[:4], order) for order in ("little", "big")}
    if 540 in sizes:
        header_class = nib.Nifti2Header
    elif 348 in sizes:
        header_class = nib.Nifti1Header
    else:
        raise ValueError("not a NIfTI file (bad header size field)")
    try:
        hdr = header_class.from_fileobj(io.BytesIO(head), check=False)
        dtype = hdr.get_data_dtype()
    except Exception as exc:  # nibabel raises several types for unknown codes
        raise ValueError(f"invalid NIfTI header ({exc})") from exc
    magic = bytes(hdr["magic"].item())
    if magic[:3] not in (b"n+1", b"ni1", b"n+2", b"ni2"):
        raise ValueError(f"bad NIfTI magic {magic!r}")
    dim = [int(d) for d in hdr["dim"]]
    if dim[0] not in (3, 4):
        raise ValueError(f"expected a 3D or 4D image, header says {dim[0]} dimensions")
    shape = dim[1 : dim[0] + 1]
    if min(shape) < 1:
        raise ValueError(f"non-positive image dimensions {shape}")
    return int(hdr["vox_offset"]) + int(np.prod(shape)) * dtype.itemsize


def verify_tsv(path: Path | str) -> None:
    """Check that a downloaded table starts with a tab-separated header line.

    Raises
    ------
    ValueError
        Empty file, binary or HTML content, or a first line without a tab.
    """
    with open(path, "rb") as f:
        first = f.readline(1 << 16)
    try:
        line = first.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise ValueError("not a text file") from exc
    if not line:
        raise ValueError("empty file or empty header line")
    if line.startswith("<"):
        raise ValueError("HTML or XML content instead of a table (an error page?)")
    if "\t" not in line:
        raise ValueError(f"the header line has no tab: {line[:80]!r}")


def _verify_participants(path: Path) -> None:
    verify_tsv(path)
    with open(path, encoding="utf-8") as f:
        names = f.readline().strip().split("\t")
    missing = [c for c in ("participant_id", "Child_Adult") if c not in names]
    if missing:
        raise ValueError(f"participants table lacks column(s) {missing}")


def _default_verifier(dest: Path) -> Callable[[Path], None] | None:
    name = dest.name
    if name.endswith((".nii.gz", ".nii")):
        return functools.partial(verify_nifti, gzipped=name.endswith(".gz"))
    if name.endswith(".tsv"):
        return verify_tsv
    return None


# --------------------------------------------------------------------------- downloads


class _Progress:
    """One-line progress report on stderr, throttled.

    On a terminal the line is redrawn in place; otherwise (log files) a line is printed at
    most every ``log_interval`` seconds, plus the final one.
    """

    def __init__(
        self, label: str, enabled: bool, interval: float = 0.25, log_interval: float = 10.0
    ):
        self.label = label
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()
        self.interval = interval if self.tty else log_interval
        self.last = time.monotonic()  # the first report waits one interval

    def _line(self, done: int, total: int | None) -> str:
        size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        return f"{self.label}: {size}"

    def update(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if self.enabled and now - self.last >= self.interval:
            self.last = now
            end = "" if self.tty else "\n"
            print(("\r" if self.tty else "") + self._line(done, total), end=end, file=sys.stderr)

    def finish(self, done: int, total: int | None) -> None:
        if self.enabled:
            print(("\r" if self.tty else "") + self._line(done, total), file=sys.stderr)


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) of a ``Content-Range: bytes a-b/total`` header."""
    match = re.fullmatch(r"bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", (value or "").strip())
    if not match:
        return None, None
    start, total = match.groups()
    return (int(start) if start else None), (None if total == "*" else int(total))


def _open(url: str, offset: int, timeout: float):
    headers = {"User-Agent": "netregions (development_fmri fetcher)"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _fetch_once(url: str, part: Path, report: _Progress, timeout: float) -> int:
    """One attempt: continue ``part`` from its size; returns the final size.

    Raises _Retry for transient problems (short read, unexpected range).
    """
    offset = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, offset, timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # nothing left to send: complete, or the file changed
            _, total = _content_range(err.headers.get("Content-Range"))
            if total == offset:
                return offset
            part.unlink()
            raise _Retry("the server cannot resume the partial file; restarting") from err
        raise
    with response:
        start, total = _content_range(response.headers.get("Content-Range"))
        if offset and response.status == 206:
            if start != offset:
                part.unlink()
                raise _Retry(f"the server resumed at byte {start}, not {offset}; restarting")
            mode = "ab"
        else:  # 200: a full response (the server ignored the Range header): start over
            offset, mode = 0, "wb"
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        done = offset
        with open(part, mode) as f:
            while chunk := response.read(CHUNK_BYTES):
                f.write(chunk)
                done += len(chunk)
                report.update(done, total)
    if total is not None and done < total:
        # http.client returns b"" (no error) when the peer closes early: check the size
        raise _Retry(f"connection closed after {done} of {total} bytes")
    report.finish(done, total)
    return done


def _is_transient(exc: BaseException) -> bool:
    """Network trouble worth another attempt (not: HTTP 404, local disk errors)."""
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code in RETRY_STATUSES
    transient = (_Retry, urllib.error.URLError, http.client.HTTPException, ConnectionError)
    return isinstance(exc, (*transient, TimeoutError))


def _fetch_with_retries(
    url: str, part: Path, report: _Progress, *, retries: int, backoff: float, timeout: float
) -> int:
    for attempt in range(retries + 1):
        try:
            return _fetch_once(url, part, report, timeout)
        except (_Retry, OSError, http.client.HTTPException) as exc:
            if isinstance(exc, urllib.error.HTTPError) and not _is_transient(exc):
                raise DownloadError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from exc
            if not _is_transient(exc):
                raise  # e.g. the disk is full: not a download problem
            if attempt == retries:
                raise DownloadError(
                    f"cannot download {url} after {retries + 1} attempts: {exc} (the partial "
                    f"file {part} is kept; a new run resumes it)"
                ) from exc
            delay = backoff * 2**attempt
            print(f"{report.label}: {exc}; retrying in {delay:g} s", file=sys.stderr)
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def download_file(
    url: str,
    dest: Path | str,
    *,
    verify: Callable[[Path], None] | None = None,
    progress: bool = True,
    label: str | None = None,
    retries: int = 4,
    backoff: float = 2.0,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest``: resumable, retried, verified, atomic.

    Data go to ``dest`` + ``.part``; an existing ``.part`` is continued with an HTTP Range
    request (a server that ignores it and sends the whole file makes the download restart
    cleanly). When complete, the file is verified and renamed to ``dest``. Nothing is done
    when ``dest`` exists.

    Parameters
    ----------
    url : str
    dest : path-like
    verify : callable, optional
        ``verify(path)`` raises ValueError (or OSError) describing a problem. Default by
        extension: :func:`verify_nifti` for ``.nii``/``.nii.gz``, :func:`verify_tsv` for
        ``.tsv``, none otherwise.
    progress : bool
        Print a one-line progress report on stderr (``label: 12.3/48.0 MB``).
    label : str, optional
        Name in the progress line (default: the file name).
    retries : int
        Further attempts after a network error, waiting ``backoff * 2**k`` seconds before
        attempt k + 1. Each attempt resumes the partial file.
    backoff : float
        First wait in seconds.
    timeout : float
        Socket timeout of each request in seconds.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    InputDataError
        The complete download is corrupt (the message names the URL, the file and the
        problem); neither ``dest`` nor the ``.part`` file is left behind.
    DownloadError
        HTTP error (e.g. 404), or network errors after all retries (the ``.part`` is kept).
    """
    dest = Path(dest)
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    check = _default_verifier(dest) if verify is None else verify
    report = _Progress(label or dest.name, progress)
    _fetch_with_retries(url, part, report, retries=retries, backoff=backoff, timeout=timeout)
    if check is not None:
        try:
            check(part)
        except (ValueError, OSError, EOFError) as exc:
            part.unlink(missing_ok=True)  # a retry must start from scratch
            raise InputDataError(f"corrupt download of {url} into {dest}: {exc}") from exc
    os.replace(part, dest)
    return dest
