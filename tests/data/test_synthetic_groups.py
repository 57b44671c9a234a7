"""Groups of the default synthetic dataset: participants.tsv and the planted coupling."""

from __future__ import annotations

import csv
import filecmp

import numpy as np
import pytest

from netregions.data import synthetic as syn
from netregions.io import read_tsv

TINY = {"shape": (20, 24, 20), "n_networks": 4}


def _read_participants(path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Six tiny subjects of 168 volumes (enough frequencies for stable correlations)."""
    root = tmp_path_factory.mktemp("groups")
    return root, syn.make_dataset(root, 6, **TINY, n_volumes=168, seed=11)


# --------------------------------------------------------------------------- participants


def test_participants_tsv_columns_and_values(tmp_path):
    path = syn.write_participants(tmp_path, 5, seed=3)
    assert path == tmp_path / "participants.tsv"
    assert path.read_text().splitlines()[0] == "participant_id\tgroup\tage\tsex"
    rows = _read_participants(path)
    assert [r["participant_id"] for r in rows] == [f"sub-0{k}" for k in range(1, 6)]
    assert [r["group"] for r in rows] == ["child", "adult", "child", "adult", "child"]
    for row in rows:
        age = float(row["age"])
        assert (3.5 <= age <= 12.0) if row["group"] == "child" else (18.0 <= age <= 39.0)
        assert row["age"] == f"{age:.2f}"
        assert row["sex"] in {"M", "F"}


def test_participants_are_deterministic_and_seed_dependent(tmp_path):
    a = syn.write_participants(tmp_path / "a", 8, seed=3)
    b = syn.write_participants(tmp_path / "b", 8, seed=3)
    c = syn.write_participants(tmp_path / "c", 8, seed=4)
    assert filecmp.cmp(a, b, shallow=False)
    rows_a, rows_c = _read_participants(a), _read_participants(c)
    assert [r["group"] for r in rows_a] == [r["group"] for r in rows_c]  # groups ignore the seed
    assert [r["age"] for r in rows_a] != [r["age"] for r in rows_c]


def test_group_depends_only_on_the_label():
    assert syn.subject_group("01") == "child" and syn.subject_group("02") == "adult"
    assert syn.subject_group("007") == syn.subject_group("7") == "child"
    assert syn.subject_group("120") == "adult"
    assert syn.subject_group("pilot") in syn.GROUPS  # non-numeric labels get a group too
    forward = syn.participants_rows(["01", "02", "03", "04"], seed=5)
    backward = syn.participants_rows(["04", "03", "02", "01"], seed=5)
    assert forward == backward[::-1]
    alone = syn.participants_rows(["03"], seed=5)
    assert alone == [forward[2]]


def test_a_small_dataset_lists_a_prefix_of_a_large_one(tmp_path):
    small = syn.write_participants(tmp_path / "small", 3, seed=2).read_text().splitlines()
    large = syn.write_participants(tmp_path / "large", 9, seed=2).read_text().splitlines()
    assert large[: len(small)] == small
    many = syn.write_participants(tmp_path, 120).read_text().splitlines()
    assert [line.split("\t")[0] for line in many[1:3]] == ["sub-001", "sub-002"]  # as the files


def test_make_dataset_writes_participants(dataset):
    root, paths = dataset
    assert paths["truth"]["participants"] == root / "participants.tsv"
    rows = _read_participants(root / "participants.tsv")
    assert [r["participant_id"] for r in rows] == [f"sub-0{k}" for k in range(1, 7)]
    assert rows == syn.participants_rows([f"0{k}" for k in range(1, 7)], seed=11)


# --------------------------------------------------------------------------- coupling


def _truth(paths, subject) -> np.ndarray:
    names, timecourses = read_tsv(paths[subject]["truth"])
    assert names[:2] == ["network_00", "network_01"]
    return timecourses


def test_coupled_networks_correlate_at_the_target_in_group_b_only(dataset):
    _, paths = dataset
    assert syn.COUPLED_NETWORKS == (0, 1) and syn.GROUP_COUPLING == 0.5
    group_a = []
    for subject in ("01", "02", "03", "04", "05", "06"):
        r = np.corrcoef(_truth(paths, subject)[:, :2].T)[0, 1]
        if syn.subject_group(subject) == "adult":
            assert r == pytest.approx(0.5, abs=1e-6)  # exact by construction, 9 digits written
        else:
            assert abs(r) < 0.45  # independent signals with ~30 frequencies: sd ~0.13
            group_a.append(r)
    assert abs(np.mean(group_a)) < 0.25


def test_coupling_keeps_the_signal_budget(dataset):
    _, paths = dataset
    for subject in ("02", "04"):
        sd = _truth(paths, subject).std(axis=0)
        assert np.all((sd >= 2.0 - 1e-6) & (sd <= 3.0 + 1e-6))  # NETWORK_AMPLITUDE, in %
        band = np.fft.rfftfreq(168, d=2.0)
        power = np.abs(np.fft.rfft(_truth(paths, subject)[:, :2], axis=0)) ** 2
        outside = ~((band >= 0.01) & (band <= 0.1))
        assert power[outside].sum() / power.sum() < 1e-12  # still band-limited


def test_coupling_changes_only_the_pair_of_group_b():
    brain, maps = syn.make_truth(TINY["shape"], 4, seed=2)
    kwargs = {"n_volumes": 60, "seed": 2}
    coupled = syn.make_subject(brain, maps, "02", **kwargs)
    plain = syn.make_subject(brain, maps, "02", coupling=0.0, **kwargs)
    np.testing.assert_array_equal(coupled.timecourses[:, 2:], plain.timecourses[:, 2:])
    assert not np.allclose(coupled.timecourses[:, :2], plain.timecourses[:, :2])
    np.testing.assert_array_equal(coupled.confounds[:, :13], plain.confounds[:, :13])
    child = syn.make_subject(brain, maps, "01", **kwargs)
    child_plain = syn.make_subject(brain, maps, "01", coupling=0.0, **kwargs)
    np.testing.assert_array_equal(child.bold, child_plain.bold)  # group A never coupled


def test_subjects_are_generated_independently_of_order(dataset, tmp_path):
    root, paths = dataset
    truth = syn.write_truth(tmp_path, **TINY, seed=11)
    alone = syn.write_subject(tmp_path, "04", truth_maps_path=truth["maps"], n_volumes=168, seed=11)
    for key in ("bold", "truth"):
        assert filecmp.cmp(alone[key], paths["04"][key], shallow=False)


def test_couple_timecourses_by_hand(rng):
    signals = syn.band_limited_timecourses(120, 3, 2.0, rng)
    shared = syn.band_limited_timecourses(120, 1, 2.0, rng)[:, 0]
    for c in (0.2, 0.5, 0.9, 1.0):
        out = syn.couple_timecourses(signals, shared, c, pair=(2, 0))
        np.testing.assert_allclose(np.corrcoef(out[:, 0], out[:, 2])[0, 1], c, atol=1e-12)
        np.testing.assert_allclose(out[:, [0, 2]].std(axis=0), 1.0)
        np.testing.assert_array_equal(out[:, 1], signals[:, 1])
        assert np.corrcoef(out[:, 0], shared)[0, 1] == pytest.approx(np.sqrt(c), abs=1e-12)
    np.testing.assert_array_equal(syn.couple_timecourses(signals, shared, 0.0), signals)
    with pytest.raises(ValueError, match=r"coupling must be in \[0, 1\]"):
        syn.couple_timecourses(signals, shared, 1.5)
    with pytest.raises(ValueError, match="two distinct columns"):
        syn.couple_timecourses(signals, shared, 0.5, pair=(1, 1))
