"""development_fmri: subject selection and downloads, against a loopback server only."""

from __future__ import annotations

import gzip
import re
import warnings

import numpy as np
import pytest

from netregions.data import development as dev
from netregions.data.synthetic import CONFOUND_COLUMNS
from netregions.exceptions import ConfigError, InputDataError
from netregions.io import save_nifti

# Fast failure handling in tests: few retries, no waiting, short socket timeouts.
FAST = {"retries": 2, "backoff": 0.0, "timeout": 5.0}

PARTICIPANTS_HEADER = "participant_id\tAge\tAgeGroup\tChild_Adult\tGender\tHandedness"

# 7 children and 3 adults, interleaved so that file order is visible
GROUPS = ["child", "adult", "child", "child", "adult", "child", "child", "adult", "child", "child"]


def _participants(path, groups, first=1):
    rows = [PARTICIPANTS_HEADER]
    for i, group in enumerate(groups, start=first):
        age = "8.5" if group == "child" else "24"
        rows.append(f"sub-pixar{i:03d}\t{age}\t{age}yo\t{group}\tF\tR")
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def participants(tmp_path):
    return _participants(tmp_path / "participants.tsv", GROUPS)


@pytest.fixture
def reference_participants(tmp_path):
    """The real proportions: 122 children (pixar001-122) then 33 adults (pixar123-155)."""
    return _participants(tmp_path / "reference.tsv", ["child"] * 122 + ["adult"] * 33)


# --------------------------------------------------------------------------- selection


@pytest.mark.parametrize(
    ("n", "age_group", "expected"),
    [
        (1, "both", ["002"]),  # special case: one adult
        (1, "adult", ["002"]),
        (1, "child", ["001"]),  # round(0.7) children, round(0.3) adults
        (2, "both", ["002", "001"]),  # special case: one of each
        (2, "child", ["001"]),  # 1 child + 1 adult selected, then only the child kept
        (2, "adult", ["002"]),
        (5, "both", ["002", "005", "001", "003", "004", "006"]),  # round(3.5)=4, round(1.5)=2
        (5, "child", ["001", "003", "004", "006"]),
        (10, "both", ["002", "005", "008", "001", "003", "004", "006", "007", "009", "010"]),
    ],
)
def test_selection_counts_and_order(participants, n, age_group, expected):
    assert dev.select_subjects(participants, n, age_group) == [f"pixar{e}" for e in expected]


def test_selection_rounds_half_to_even(tmp_path):
    table = _participants(tmp_path / "p.tsv", ["child", "adult"] * 4)
    # 5/8 of 4 = 2.5 -> 2 of each (rounding half up would give 3 + 3)
    assert dev.select_subjects(table, 5) == ["pixar002", "pixar004", "pixar001", "pixar003"]


def test_selection_with_the_reference_proportions(reference_participants):
    selected = dev.select_subjects(reference_participants, 20)
    # spec section 1.2: 16 children and 4 adults for 20 subjects
    assert selected == [f"pixar{i:03d}" for i in [123, 124, 125, 126, *range(1, 17)]]
    with pytest.raises(ConfigError, match="selects nobody"):
        dev.select_subjects(reference_participants, 2, "adult")  # round(0.43) adults


@pytest.mark.parametrize("n", [0, -3, 11])
def test_invalid_counts_warn_and_select_everyone(participants, n):
    with pytest.warns(UserWarning, match="selecting all 10"):
        assert len(dev.select_subjects(participants, n)) == 10


def test_none_selects_everyone_silently(participants):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(dev.select_subjects(participants, None)) == 10


def test_bad_age_group_and_bad_table(participants, tmp_path):
    with pytest.raises(ValueError, match="age_group"):
        dev.select_subjects(participants, 3, "adults")
    bad = tmp_path / "bad.tsv"
    bad.write_text("participant_id\tAge\nsub-pixar001\t8\n")
    with pytest.raises(InputDataError, match="Child_Adult"):
        dev.select_subjects(bad, 1)


def test_packaged_key_table():
    keys = dev.load_keys()
    assert len(keys) == 155
    assert keys["sub-pixar001"] == ("5c8ff37da743a90018606df1", "5c8ff37c2286e80019c3c102")
    assert keys["sub-pixar001"].bold == "5c8ff37c2286e80019c3c102"


def test_reduced_columns_match_the_synthetic_dataset():
    assert dev.REDUCED_CONFOUNDS == CONFOUND_COLUMNS


# --------------------------------------------------------------------------- downloads


def _nifti_bytes(tmp_path, rng) -> bytes:
    data = rng.standard_normal((8, 8, 8, 20)).astype(np.float32)
    return save_nifti(data, np.eye(4), tmp_path / "served.nii.gz", t_r=2.0).read_bytes()


def _fmriprep_confounds(n_volumes: int = 6) -> bytes:
    extra = ["global_signal", "std_dvars", "dvars", "trans_x_derivative1", "cosine00"]
    names = [*extra[:2], *CONFOUND_COLUMNS[::-1], *extra[2:]]  # other order, extra columns
    lines = ["\t".join(names)]
    for t in range(n_volumes):
        cells = []
        for name in names:
            first_row_missing = name in ("framewise_displacement", "std_dvars", "dvars")
            first_row_missing |= name.endswith("derivative1")
            cells.append("n/a" if t == 0 and first_row_missing else f"{t + len(name) / 100:.6f}")
        lines.append("\t".join(cells))
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def site(server, tmp_path, rng):
    """Two subjects' files on the loopback server and a key table pointing at them."""
    keys = tmp_path / "keys.csv"
    keys.write_text(
        "participant_id,key_r,key_b\nsub-pixar001,conf001,bold001\nsub-pixar002,conf002,bold002\n"
    )
    bold = _nifti_bytes(tmp_path, rng)
    for n in ("001", "002"):
        server.files[f"/download/bold{n}/"] = bold
        server.files[f"/download/conf{n}/"] = _fmriprep_confounds()
    server.files["/participants"] = _participants(tmp_path / "p.tsv", GROUPS).read_bytes()
    options = {"url_template": server.url("/download/{key}/"), "keys_csv": keys, **FAST}
    return server, options


def test_full_download_and_reduced_confounds(site, tmp_path):
    server, options = site
    out = dev.download_subject("pixar001", tmp_path / "data", **options)
    assert (
        out["bold"].name
        == "sub-pixar001_task-pixar_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz"
    )
    assert out["bold"].read_bytes() == server.files["/download/bold001/"]
    raw = tmp_path / "data" / "sub-pixar001_task-pixar_desc-confounds_regressors.tsv"
    assert raw.read_bytes() == server.files["/download/conf001/"]
    assert out["confounds"].name == "sub-pixar001_task-pixar_desc-reducedConfounds_regressors.tsv"
    lines = out["confounds"].read_text().splitlines()
    assert lines[0].split("\t") == list(CONFOUND_COLUMNS)
    assert len(lines) == 7
    first = lines[1].split("\t")
    assert first[6] == "n/a" and first.count("n/a") == 1
    assert lines[2].split("\t")[0] == f"{1 + len('trans_x') / 100:.6f}"  # text copied exactly
    assert server.requests == [("/download/bold001/", None), ("/download/conf001/", None)]
    assert not list((tmp_path / "data").glob("*.part"))


def test_present_files_are_not_downloaded_again(site, tmp_path):
    server, options = site
    first = dev.download_subject("pixar002", tmp_path, **options)
    n_requests = len(server.requests)
    assert dev.download_subject("pixar002", tmp_path, **options) == first
    assert dev.download_file(server.url("/download/bold002/"), first["bold"]) == first["bold"]
    assert len(server.requests) == n_requests


def test_a_partial_file_is_resumed_with_a_range_request(site, tmp_path):
    server, _ = site
    body = server.files["/download/bold001/"]
    dest = tmp_path / "x.nii.gz"
    (tmp_path / "x.nii.gz.part").write_bytes(body[:1000])
    dev.download_file(server.url("/download/bold001/"), dest, **FAST)
    assert server.requests == [("/download/bold001/", "bytes=1000-")]
    assert dest.read_bytes() == body
    assert not (tmp_path / "x.nii.gz.part").exists()


def test_a_server_ignoring_range_restarts_cleanly(site, tmp_path):
    server, _ = site
    body = server.files["/download/bold001/"]
    server.ignore_range.add("/download/bold001/")
    (tmp_path / "x.nii.gz.part").write_bytes(b"\0" * 1000)  # garbage: must not be kept
    dest = dev.download_file(server.url("/download/bold001/"), tmp_path / "x.nii.gz", **FAST)
    assert server.requests == [("/download/bold001/", "bytes=1000-")]
    assert dest.read_bytes() == body


def test_a_complete_part_file_is_finished_without_data(site, tmp_path):
    server, _ = site
    body = server.files["/download/bold001/"]
    (tmp_path / "x.nii.gz.part").write_bytes(body)
    dest = dev.download_file(server.url("/download/bold001/"), tmp_path / "x.nii.gz", **FAST)
    assert dest.read_bytes() == body  # the server answered 416: nothing left to send


def test_a_cut_connection_is_retried_and_resumed(site, tmp_path, capsys):
    server, _ = site
    body = server.files["/download/bold001/"]
    server.cuts["/download/bold001/"] = [len(body) // 3]
    dest = dev.download_file(server.url("/download/bold001/"), tmp_path / "x.nii.gz", **FAST)
    assert dest.read_bytes() == body
    assert server.requests == [
        ("/download/bold001/", None),
        ("/download/bold001/", f"bytes={len(body) // 3}-"),
    ]
    assert "retrying" in capsys.readouterr().err


def test_server_errors_are_retried(site, tmp_path):
    server, _ = site
    server.errors["/download/bold001/"] = [503]
    dest = dev.download_file(server.url("/download/bold001/"), tmp_path / "x.nii.gz", **FAST)
    assert dest.exists() and len(server.requests) == 2


def test_persistent_network_failure_gives_up(site, tmp_path):
    server, _ = site
    server.cuts["/download/bold001/"] = [100] * 10
    with pytest.raises(dev.DownloadError, match="after 3 attempts"):
        dev.download_file(server.url("/download/bold001/"), tmp_path / "x.nii.gz", **FAST)
    assert len(server.requests) == 3  # 1 + retries, bounded
    assert (tmp_path / "x.nii.gz.part").stat().st_size == 300  # kept for a later resume
    assert not (tmp_path / "x.nii.gz").exists()


def test_missing_file_is_not_retried(site, tmp_path):
    server, _ = site
    with pytest.raises(dev.DownloadError, match="404"):
        dev.download_file(server.url("/nothing"), tmp_path / "x.nii.gz", **FAST)
    assert len(server.requests) == 1


def _with_header_field(body: bytes, offset: int, value: int) -> bytes:
    """A .nii.gz whose int16 header field at ``offset`` is set to ``value``."""
    raw = bytearray(gzip.decompress(body))
    raw[offset : offset + 2] = value.to_bytes(2, "little", signed=True)
    return gzip.compress(bytes(raw))


def _corrupt(body: bytes) -> bytes:
    bad = bytearray(body)
    middle = len(bad) // 2
    bad[middle : middle + 16] = bytes(b ^ 0xFF for b in bad[middle : middle + 16])
    return bytes(bad)


@pytest.mark.parametrize(
    ("make_bad", "problem"),
    [
        (_corrupt, "gzip"),
        (lambda body: body[: len(body) * 2 // 3], "gzip"),  # truncated, served complete
        (lambda body: b"<html>Rate limited</html>", "not a gzip file"),
        (lambda body: gzip.compress(b"not an image" * 100), "NIfTI"),
        (lambda body: _with_header_field(body, 70, 9999), "invalid NIfTI header"),  # datatype
        (lambda body: _with_header_field(body, 40, 5), "3D or 4D"),  # dim[0]
        (lambda body: _with_header_field(body, 42, 0), "non-positive"),  # dim[1]
    ],
    ids=["corrupt", "truncated", "html", "not-nifti", "datatype", "5d", "zero-dim"],
)
def test_a_bad_image_raises_and_leaves_nothing(site, tmp_path, make_bad, problem):
    server, _ = site
    server.files["/bad"] = make_bad(server.files["/download/bold001/"])
    url, dest = server.url("/bad"), tmp_path / "x.nii.gz"
    with pytest.raises(InputDataError, match=problem) as info:
        dev.download_file(url, dest, **FAST)
    assert url in str(info.value) and str(dest) in str(info.value)
    assert not dest.exists() and not (tmp_path / "x.nii.gz.part").exists()


def test_truncated_image_data_in_a_valid_gzip(site, tmp_path, rng):
    server, _ = site
    raw = gzip.decompress(server.files["/download/bold001/"])
    server.files["/short"] = gzip.compress(raw[: len(raw) // 2])
    with pytest.raises(InputDataError, match="truncated"):
        dev.download_file(server.url("/short"), tmp_path / "x.nii.gz", **FAST)


def test_a_table_must_have_a_header_line(site, tmp_path):
    server, _ = site
    server.files["/page"] = b"<!DOCTYPE html><html>Sign in</html>\n"
    with pytest.raises(InputDataError, match="HTML"):
        dev.download_file(server.url("/page"), tmp_path / "t.tsv", **FAST)
    assert not (tmp_path / "t.tsv").exists() and not (tmp_path / "t.tsv.part").exists()


def test_progress_line_on_stderr(site, tmp_path, capsys):
    _, options = site
    dev.download_subject("pixar001", tmp_path, **options)
    err = capsys.readouterr().err
    assert re.search(r"^sub-pixar001 bold: \d+\.\d/\d+\.\d MB$", err, re.MULTILINE)
    assert re.search(r"^sub-pixar001 confounds: \d+\.\d/\d+\.\d MB$", err, re.MULTILINE)
    dev.download_subject("pixar002", tmp_path, **options, progress=False)
    assert capsys.readouterr().err == ""


def test_unknown_subject(site, tmp_path):
    _, options = site
    with pytest.raises(InputDataError, match="sub-pixar999"):
        dev.download_subject("pixar999", tmp_path, **options)


def test_fetch_participants(site, tmp_path):
    server, _ = site
    path = dev.fetch_participants(tmp_path, server.url("/participants"), **FAST)
    assert path == tmp_path / "participants.tsv"
    assert dev.select_subjects(path, 3) == ["pixar002", "pixar001", "pixar003"]
    dev.fetch_participants(tmp_path, server.url("/participants"), **FAST)
    assert server.paths_requested() == ["/participants"]


def test_reduce_confounds_names_missing_columns(tmp_path):
    source = tmp_path / "c.tsv"
    source.write_text("trans_x\ttrans_y\n0\t0\n")
    with pytest.raises(InputDataError, match="rot_x"):
        dev.reduce_confounds(source, tmp_path / "out.tsv")
    assert not (tmp_path / "out.tsv").exists()
