import gzip
import os

import nibabel as nib
import numpy as np
import pytest

from netregions.exceptions import InputDataError
from netregions.io import (
    atomic_path,
    check_bold_header,
    check_inputs,
    discover_subjects,
    iter_image_chunks,
    iter_volume_chunks,
    load_image,
    read_confounds,
    read_tsv,
    save_array,
    save_array_chunks,
    save_nifti,
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


def test_same_array_gives_identical_bytes(tmp_path, rng):
    data = rng.standard_normal((4, 4, 4, 3)).astype(np.float32)
    save_nifti(data, AFFINE, tmp_path / "a.nii.gz")
    save_nifti(data, AFFINE, tmp_path / "b.nii.gz")
    assert (tmp_path / "a.nii.gz").read_bytes() == (tmp_path / "b.nii.gz").read_bytes()


@READERS
def test_load_scaled_int16_is_float64_like_nibabel(tmp_path, rng, read):
    data = rng.integers(-100, 100, (4, 5, 6, 7)).astype(np.int16)
    img = nib.Nifti1Image(data, AFFINE)
    img.header.set_slope_inter(0.5, 10.0)
    nib.save(img, tmp_path / "s.nii.gz")
    loaded, _ = read(tmp_path / "s.nii.gz")
    expected = np.asanyarray(nib.load(tmp_path / "s.nii.gz").dataobj)
    assert loaded.dtype == np.float64 == check_bold_header(tmp_path / "s.nii.gz").dtype
    np.testing.assert_allclose(loaded, expected)


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
    with pytest.raises(InputDataError, match=r"sub-07: cannot decode .*bold\.nii\.gz"):
        read(path, "07")


@READERS
def test_truncated_gzip(tmp_path, rng, read):
    path = tmp_path / "bold.nii.gz"
    _bold(path, rng)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(InputDataError, match="sub-02"):
        read(path, "02")


@READERS
def test_truncated_uncompressed_data(tmp_path, rng, read):
    path = tmp_path / "bold.nii"
    _bold(path, rng)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(InputDataError, match=r"^sub-02: \S+bold\.nii is truncated: \d+ of"):
        read(path, "02")


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


def test_image_chunks_reject_a_3d_image(tmp_path, rng):
    save_nifti(rng.standard_normal((4, 4, 4)).astype(np.float32), AFFINE, tmp_path / "a.nii")
    with pytest.raises(InputDataError, match="sub-05: .*is 3D, expected a 4D run"):
        next(iter_image_chunks(tmp_path / "a.nii", 4, "05"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_array_chunks_writes_what_save_array_writes(tmp_path, rng, dtype):
    data = np.asfortranarray(rng.standard_normal((3, 4, 5, 9)).astype(dtype))
    save_array(data, tmp_path / "whole.npy")
    blocks = (data[..., i : i + 4] for i in range(0, 9, 4))
    save_array_chunks(tmp_path / "chunks.npy", data.shape, data.dtype, blocks)
    assert (tmp_path / "chunks.npy").read_bytes() == (tmp_path / "whole.npy").read_bytes()


def test_save_array_chunks_leaves_nothing_when_blocks_are_missing(tmp_path, rng):
    data = rng.standard_normal((3, 4, 5, 9)).astype(np.float32)
    with pytest.raises(ValueError, match="blocks hold"):
        save_array_chunks(tmp_path / "a.npy", data.shape, data.dtype, iter([data[..., :4]]))
    assert list(tmp_path.iterdir()) == []


def test_not_a_nifti(tmp_path):
    path = tmp_path / "bold.nii.gz"
    with gzip.open(path, "wb") as f:
        f.write(b"hello")
    with pytest.raises(InputDataError, match="sub-03: cannot read a NIfTI header"):
        check_bold_header(path, "03")


def test_missing_file(tmp_path):
    with pytest.raises(InputDataError, match="sub-04: file not found"):
        check_bold_header(tmp_path / "nope.nii.gz", "04")


def test_3d_image_is_rejected(tmp_path, rng):
    save_nifti(rng.standard_normal((5, 5, 5)).astype(np.float32), AFFINE, tmp_path / "v.nii.gz")
    with pytest.raises(InputDataError, match="expected a 4D image .* 3 dimensions"):
        check_bold_header(tmp_path / "v.nii.gz", "05")


def test_single_volume_is_rejected(tmp_path, rng):
    _bold(tmp_path / "b.nii.gz", rng, shape=(5, 5, 5, 1))
    with pytest.raises(InputDataError, match="1 volume"):
        check_bold_header(tmp_path / "b.nii.gz", "06")


# --------------------------------------------------------------------------- confounds


def test_read_confounds_fills_na_with_warning_naming_column(tmp_path):
    path = _confounds(tmp_path / "c.tsv", 12)
    with pytest.warns(UserWarning, match=r"framewise_displacement.*replaced by 0"):
        table, names = read_confounds(path, None, 12, "01")
    assert names == NAMES and table.shape == (12, 3)
    assert table[0, 1] == 0 and np.isfinite(table).all()


def test_read_confounds_selects_columns_in_order(tmp_path):
    path = _confounds(tmp_path / "c.tsv", 5, first_row_na=False)
    table, names = read_confounds(path, ["csf", "trans_x"], 5)
    assert names == ["csf", "trans_x"]
    np.testing.assert_allclose(table[:, 1], [0.0, 0.1, 0.2, 0.3, 0.4])


@pytest.mark.parametrize("missing", ["n/a", "nan", "NaN", ""])
def test_missing_value_spellings(tmp_path, missing):
    path = tmp_path / "c.tsv"
    path.write_text(f"a\tb\n1\t{missing}\n2\t3\n")
    with pytest.warns(UserWarning, match="'b'"):
        table, _ = read_confounds(path)
    np.testing.assert_array_equal(table, [[1, 0], [2, 3]])


def test_unknown_column_lists_available(tmp_path):
    path = _confounds(tmp_path / "c.tsv", 5)
    expected = r"sub-01: unknown confound column\(s\) \['csv'\].*available"
    with pytest.raises(InputDataError, match=expected):
        read_confounds(path, ["csv"], 5, "01")


def test_row_count_must_match_volumes(tmp_path):
    path = _confounds(tmp_path / "c.tsv", 11)
    expected = "sub-03: confounds have 11 rows but the BOLD run has 12"
    with pytest.raises(InputDataError, match=expected):
        read_confounds(path, None, 12, "03")


def test_entirely_missing_column_is_an_error(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("a\tb\n1\tn/a\n2\tn/a\n")
    with pytest.raises(InputDataError, match=r"\['b'\] are entirely n/a"):
        read_confounds(path, None, 2, "01")


def test_ragged_and_non_numeric_rows(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("a\tb\n1\t2\n3\n")
    with pytest.raises(InputDataError, match="line 3"):
        read_confounds(path)
    path.write_text("a\tb\n1\tx\n")
    with pytest.raises(InputDataError, match="non-numeric"):
        read_confounds(path)


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


# --------------------------------------------------------------------------- inputs


def test_discover_subjects_with_repeated_placeholder(tmp_path):
    for sub in ["01", "02", "ab3"]:
        folder = tmp_path / f"sub-{sub}" / "func"
        folder.mkdir(parents=True)
        (folder / f"sub-{sub}_task-pixar_bold.nii.gz").touch()
    (tmp_path / "sub-01" / "func" / "sub-02_task-pixar_bold.nii.gz").touch()  # mismatch
    (tmp_path / "sub-x_y").mkdir()
    pattern = str(tmp_path / "sub-{subject}" / "func" / "sub-{subject}_task-pixar_bold.nii.gz")
    assert discover_subjects(pattern) == ["01", "02", "ab3"]
    assert discover_subjects(pattern, ["02", "01"]) == ["01", "02"]


def test_discover_subjects_nothing_found(tmp_path):
    with pytest.raises(InputDataError, match="no file matches"):
        discover_subjects(str(tmp_path / "sub-{subject}.nii.gz"))


def _inputs(tmp_path, rng, subjects=("01", "02"), **kwargs):
    inputs = {}
    for s in subjects:
        _bold(tmp_path / f"{s}.nii.gz", rng, **kwargs)
        _confounds(tmp_path / f"{s}.tsv", 12)
        inputs[s] = {"func": str(tmp_path / f"{s}.nii.gz"), "confounds": str(tmp_path / f"{s}.tsv")}
    return inputs


def test_check_inputs_writes_manifest(tmp_path, rng):
    inputs = _inputs(tmp_path, rng)
    out = check_inputs(inputs, tmp_path / "inputs.tsv", ["csf"])
    lines = out.read_text().splitlines()
    assert lines[0].split("\t")[:3] == ["subject", "func", "func_bytes"]
    assert len(lines) == 3 and lines[1].split("\t")[5] == "12"
    assert lines[1].split("\t")[2] == str(os.path.getsize(inputs["01"]["func"]))


def test_check_inputs_reports_every_problem(tmp_path, rng):
    inputs = _inputs(tmp_path, rng, subjects=("01", "02", "03", "04"))
    _bold(tmp_path / "02.nii.gz", rng, shape=(6, 7, 6, 12))  # other grid
    _bold(tmp_path / "03.nii.gz", rng, affine=np.diag([3.0, 3.0, 3.0, 1.0]))  # other affine
    _confounds(tmp_path / "04.tsv", 10)  # wrong length
    with pytest.raises(InputDataError) as info:
        check_inputs(inputs, tmp_path / "inputs.tsv")
    message = str(info.value)
    assert message.startswith("3 input problem(s)")
    assert "sub-02: grid shape (6, 7, 6) differs from (6, 7, 5) of sub-01" in message
    assert "sub-03: affine differs (voxel sizes [3.0, 3.0, 3.0] vs [4.0, 4.0, 4.0]" in message
    assert "sub-04: confounds have 10 rows but the BOLD run has 12 volumes" in message
    assert not (tmp_path / "inputs.tsv").exists()


def test_check_inputs_without_confounds(tmp_path, rng):
    inputs = _inputs(tmp_path, rng, subjects=("01",))
    inputs["01"]["confounds"] = None
    assert check_inputs(inputs, tmp_path / "m.tsv").exists()


def test_iter_volume_chunks_reads_every_volume_once(tmp_path, rng):
    data = np.asfortranarray(rng.standard_normal((3, 4, 5, 10)).astype(np.float32))
    save_array(data, tmp_path / "c.npy")
    seen = []
    for start, block in iter_volume_chunks(tmp_path / "c.npy", 4):
        assert block.flags.f_contiguous
        np.testing.assert_array_equal(block, data[..., start : start + block.shape[3]])
        seen.append((start, block.shape[3]))
    assert seen == [(0, 4), (4, 4), (8, 2)]


def test_iter_volume_chunks_rejects_c_order_and_truncation(tmp_path, rng):
    save_array(np.zeros((2, 2, 2, 3), dtype=np.float32), tmp_path / "c.npy")
    with pytest.raises(ValueError, match="Fortran-ordered 4D"):
        next(iter_volume_chunks(tmp_path / "c.npy", 2))
    save_array(np.asfortranarray(np.zeros((2, 2, 2, 3), np.float32)), tmp_path / "f.npy")
    raw = (tmp_path / "f.npy").read_bytes()
    (tmp_path / "f.npy").write_bytes(raw[:-8])
    with pytest.raises(InputDataError, match="truncated"):
        list(iter_volume_chunks(tmp_path / "f.npy", 2))
