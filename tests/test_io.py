import gzip
import os

import nibabel as nib
import numpy as np
import pytest

from netregions.bids import read_repetition_time
from netregions.exceptions import InputDataError
from netregions.io import (
    atomic_path,
    check_bold_header,
    create_decoded_copy,
    iter_decoded_chunks,
    iter_image_chunks,
    load_image,
    read_table,
    read_tsv,
    save_array,
    save_nifti,
    write_table,
    write_tsv,
)

AFFINE = np.diag([4.0, 4.0, 4.0, 1.0])
NAMES = ["trans_x", "framewise_displacement", "csf"]


def _bold(path, rng, shape=(6, 7, 5, 12), affine=AFFINE, dtype=np.float32):
    data = rng.standard_normal(shape).astype(dtype)
    save_nifti(data, affine, path, t_r=2.0)
    return data


def _confounds(path, n_rows, names=NAMES, first_row_na=True):
    lines = ["\t".join(names)]
    for i in range(n_rows):
        cells = [f"{0.1 * i + j:.3f}" for j in range(len(names))]
        if i == 0 and first_row_na and "framewise_displacement" in names:
            cells[names.index("framewise_displacement")] = "n/a"
        lines.append("\t".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def _streamed(path, subject=None, chunk=5):
    """iter_image_chunks' blocks put together (the streaming twin of load_image)."""
    blocks = [block.copy() for _, block in iter_image_chunks(path, chunk, subject)]
    return np.concatenate(blocks, axis=3), check_bold_header(path).affine


#: Both ways of decoding an image must give the same values, dtypes and errors.
READERS = pytest.mark.parametrize("read", [load_image, _streamed], ids=["whole", "chunks"])


# --------------------------------------------------------------------------- images


@READERS
@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
def test_save_and_load_round_trip_fortran(tmp_path, rng, suffix, read):
    path = tmp_path / f"bold{suffix}"
    data = _bold(path, rng)
    loaded, affine = read(path, "01")
    np.testing.assert_array_equal(loaded, data)
    assert loaded.dtype == np.float32 and (read is _streamed or loaded.flags.f_contiguous)
    np.testing.assert_array_equal(affine, AFFINE)
    header = check_bold_header(path, "01")
    assert header.shape == data.shape and header.t_r == 2.0 and header.n_volumes == 12


def _timed_bold(path, pixdim4, time_unit):
    """A small 4D image whose header stores ``pixdim4`` in ``time_unit`` (a NIfTI code)."""
    img = nib.Nifti1Image(np.zeros((3, 3, 3, 4), np.float32), AFFINE)
    img.header["pixdim"][4] = pixdim4
    img.header["xyzt_units"] = 2 | time_unit  # mm, and the time unit's code
    nib.save(img, path)
    return path


@pytest.mark.parametrize(
    "pixdim4,time_unit,expected",
    [
        (2000.0, 16, 2.0),  # msec
        (720.0, 16, 0.72),
        (800000.0, 24, 0.8),  # usec
        (2.0, 8, 2.0),  # sec
        (2.0, 0, 2.0),  # no unit: seconds, as before
        (-2000.0, 16, -2.0),  # kept for read_repetition_time to reject
        (0.0, 16, None),  # not set
        (2.0, 32, None),  # hz: the fourth axis is not time
        (2.0, 40, None),  # ppm
        (2.0, 48, None),  # rad/s
    ],
)
def test_header_tr_is_converted_to_seconds_from_the_headers_time_unit(
    tmp_path, pixdim4, time_unit, expected
):
    path = _timed_bold(tmp_path / "bold.nii.gz", pixdim4, time_unit)
    assert check_bold_header(path, "sub-01").t_r == expected


def test_header_tr_in_msec_without_a_sidecar_is_the_tr_in_seconds(tmp_path):
    path = _timed_bold(tmp_path / "bold.nii", 2000.0, 16)
    header = check_bold_header(path, "sub-01_task-rest")
    t_r, notes = read_repetition_time(None, header.t_r, "sub-01_task-rest", image=str(path))
    assert t_r == 2.0
    assert notes == [
        f"sub-01_task-rest: no JSON sidecar; using TR 2.0 s from the NIfTI header of {path}"
    ]


def test_same_array_gives_identical_bytes(tmp_path, rng):
    data = rng.standard_normal((4, 4, 4, 3)).astype(np.float32)
    save_nifti(data, AFFINE, tmp_path / "a.nii.gz")
    save_nifti(data, AFFINE, tmp_path / "b.nii.gz")
    assert (tmp_path / "a.nii.gz").read_bytes() == (tmp_path / "b.nii.gz").read_bytes()


@READERS
def test_load_scaled_int16_is_float32(tmp_path, rng, read):
    # nibabel decodes scaled integers to float64; image data are float32 here end to end
    data = rng.integers(-30000, 30000, (4, 5, 6, 7)).astype(np.int16)
    img = nib.Nifti1Image(data, AFFINE)
    img.header.set_slope_inter(0.37, 10.0)
    nib.save(img, tmp_path / "s.nii.gz")
    loaded, _ = read(tmp_path / "s.nii.gz")
    expected = data.astype(np.float64) * 0.37 + 10.0
    assert loaded.dtype == np.float32 == check_bold_header(tmp_path / "s.nii.gz").dtype
    assert check_bold_header(tmp_path / "s.nii.gz").raw_dtype == np.int16
    np.testing.assert_allclose(loaded, expected, rtol=2e-7, atol=1e-3)


@READERS
@pytest.mark.parametrize("dtype", [np.int16, np.uint8, ">f4"])
def test_load_integer_or_big_endian_data_becomes_native_float32(tmp_path, rng, read, dtype):
    data = rng.integers(0, 200, (4, 5, 6, 8)).astype(dtype)
    nib.save(nib.Nifti1Image(data, AFFINE), tmp_path / "i.nii.gz")
    loaded, _ = read(tmp_path / "i.nii.gz")
    assert loaded.dtype == np.dtype(np.float32) == check_bold_header(tmp_path / "i.nii.gz").dtype
    np.testing.assert_array_equal(loaded, data)


@READERS
def test_corrupt_gzip_names_subject_and_file(tmp_path, rng, read):
    path = tmp_path / "bold.nii.gz"
    _bold(path, rng)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)  # damage the deflate stream
    path.write_bytes(bytes(raw))
    with pytest.raises(InputDataError, match=r"sub-07_task-x: cannot decode .*bold\.nii\.gz"):
        read(path, "sub-07_task-x")


@READERS
def test_truncated_gzip(tmp_path, rng, read):
    path = tmp_path / "bold.nii.gz"
    _bold(path, rng)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(InputDataError, match="sub-02_task-x"):
        read(path, "sub-02_task-x")


@READERS
def test_truncated_uncompressed_data(tmp_path, rng, read):
    path = tmp_path / "bold.nii"
    _bold(path, rng)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(InputDataError, match=r"^sub-02_run-1: \S+bold\.nii is truncated: \d+ of"):
        read(path, "sub-02_run-1")


@pytest.mark.parametrize("chunk", [1, 5, 12, 50])
def test_image_chunks_cover_the_run_in_order(tmp_path, rng, chunk):
    data = _bold(tmp_path / "bold.nii.gz", rng)
    starts, parts = [], []
    for start, block in iter_image_chunks(tmp_path / "bold.nii.gz", chunk):
        assert block.flags.f_contiguous and block.shape[3] <= chunk
        starts.append(start)
        parts.append(block.copy())
    assert starts == list(range(0, 12, chunk))
    np.testing.assert_array_equal(np.concatenate(parts, axis=3), data)


@pytest.mark.parametrize("chunk", [1, 5, 12])
def test_decoded_copy_gives_the_blocks_of_the_image(tmp_path, rng, chunk):
    data = _bold(tmp_path / "bold.nii.gz", rng)
    copy = create_decoded_copy(tmp_path / "bold.npy", data.shape)
    copy[...] = data
    copy.flush()
    del copy
    decoded = list(iter_decoded_chunks(tmp_path / "bold.npy", chunk))
    for (start, block), (start0, block0) in zip(
        decoded, iter_image_chunks(tmp_path / "bold.nii.gz", chunk), strict=True
    ):
        assert start == start0 and block.flags.f_contiguous and block.dtype == np.float32
        np.testing.assert_array_equal(block, block0)
    assert len(decoded) == -(-12 // chunk)


@pytest.mark.parametrize("array", [np.zeros((4, 4, 4), np.float32), np.zeros((2,) * 4)])
def test_decoded_copy_must_be_a_4d_float32_array(tmp_path, array):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(InputDataError, match="sub-02: .*bad.npy holds a .* not a decoded 4D run"):
        next(iter_decoded_chunks(tmp_path / "bad.npy", 4, "sub-02"))
    with pytest.raises(InputDataError, match="cannot read the decoded run"):
        next(iter_decoded_chunks(tmp_path / "missing.npy", 4, "sub-02"))


def test_image_chunks_reject_a_3d_image(tmp_path, rng):
    save_nifti(rng.standard_normal((4, 4, 4)).astype(np.float32), AFFINE, tmp_path / "a.nii")
    with pytest.raises(InputDataError, match="sub-05: .*is 3D, expected a 4D run"):
        next(iter_image_chunks(tmp_path / "a.nii", 4, "sub-05"))


def test_not_a_nifti(tmp_path):
    path = tmp_path / "bold.nii.gz"
    with gzip.open(path, "wb") as f:
        f.write(b"hello")
    with pytest.raises(InputDataError, match="sub-03: cannot read a NIfTI header"):
        check_bold_header(path, "sub-03")


def test_missing_file(tmp_path):
    with pytest.raises(InputDataError, match="sub-04: file not found"):
        check_bold_header(tmp_path / "nope.nii.gz", "sub-04")


def test_3d_image_is_rejected(tmp_path, rng):
    save_nifti(rng.standard_normal((5, 5, 5)).astype(np.float32), AFFINE, tmp_path / "v.nii.gz")
    with pytest.raises(InputDataError, match="expected a 4D image .* 3 dimensions"):
        check_bold_header(tmp_path / "v.nii.gz", "sub-05")


def test_single_volume_is_rejected(tmp_path, rng):
    _bold(tmp_path / "b.nii.gz", rng, shape=(5, 5, 5, 1))
    with pytest.raises(InputDataError, match="1 volume"):
        check_bold_header(tmp_path / "b.nii.gz", "sub-06")


# --------------------------------------------------------------------------- confounds


# --------------------------------------------------------------------------- tables


def test_write_and_read_tsv_round_trip_float32(tmp_path, rng):
    values = rng.standard_normal((7, 3)).astype(np.float32)
    write_tsv(tmp_path / "t.tsv", values, ["1", "2", "3"])
    header, back = read_tsv(tmp_path / "t.tsv")
    assert header == ["1", "2", "3"]
    np.testing.assert_array_equal(back.astype(np.float32), values)


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out" / "x.npy"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("killed")
    assert not target.exists() and not list(target.parent.iterdir())


def test_atomic_path_removes_what_killed_writers_left(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    dead_pid = int(dead.stdout)
    target = tmp_path / "x.npy"
    killed = tmp_path / f".tmp-{dead_pid}-x.npy"
    running = tmp_path / f".tmp-{os.getppid()}-x.npy"  # a live writer: left alone
    other = tmp_path / f".tmp-{dead_pid}-y-x.npy"  # another destination (y-x.npy): left alone
    for leftover in (killed, running, other):
        leftover.write_bytes(b"partial")
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"complete")
    assert target.read_bytes() == b"complete"
    assert not killed.exists() and running.exists() and other.exists()


def test_save_array_keeps_fortran_layout(tmp_path, rng):
    data = np.asfortranarray(rng.standard_normal((3, 4, 5)))
    save_array(data, tmp_path / "a.npy")
    assert np.load(tmp_path / "a.npy", mmap_mode="r").flags.f_contiguous


def test_write_table_conventions_and_read_table(tmp_path):
    rows = [
        {"run": "sub-01", "n": 3, "fd": 0.123456789, "ok": True, "reason": ""},
        {"run": "sub-02", "n": np.int64(4), "fd": float("nan"), "ok": False, "reason": None},
    ]
    path = write_table(tmp_path / "t.tsv", rows, ["run", "n", "fd", "ok", "reason", "absent"])
    assert path.read_text().splitlines() == [
        "run\tn\tfd\tok\treason\tabsent",
        "sub-01\t3\t0.123457\ttrue\t\tn/a",
        "sub-02\t4\tn/a\tfalse\tn/a\tn/a",
    ]
    assert read_table(path)[1] == {
        "run": "sub-02",
        "n": "4",
        "fd": "n/a",
        "ok": "false",
        "reason": "n/a",
        "absent": "n/a",
    }


def test_write_table_refuses_tabs_and_read_table_ragged_rows(tmp_path):
    with pytest.raises(ValueError, match="tabs or newlines"):
        write_table(tmp_path / "t.tsv", [{"a": "x\ty"}], ["a"])
    assert not (tmp_path / "t.tsv").exists()
    (tmp_path / "r.tsv").write_text("a\tb\n1\n")
    with pytest.raises(InputDataError, match="line 2 of .*r.tsv has 1 cells, the header has 2"):
        read_table(tmp_path / "r.tsv")
    (tmp_path / "blank.tsv").write_text("a\tb\n\n1\t2\n3\n")  # a blank line is skipped
    with pytest.raises(InputDataError, match="line 4 of .*blank.tsv has 1 cells"):
        read_table(tmp_path / "blank.tsv")
