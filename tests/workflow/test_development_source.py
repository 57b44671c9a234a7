"""``data.source: development`` through the workflow, against a loopback server."""

from __future__ import annotations

import numpy as np

from netregions.data.development import load_keys
from netregions.io import save_nifti

from ..data.conftest import server  # noqa: F401 - the loopback server fixture
from ..data.test_development import PARTICIPANTS_HEADER, _fmriprep_confounds
from .conftest import planned_jobs, snakemake, write_config


def test_development_source_downloads_then_checks(server, tmp_path, rng):  # noqa: F811
    keys = load_keys()
    bold = save_nifti(
        rng.standard_normal((8, 8, 8, 20)).astype(np.float32), np.eye(4), tmp_path / "b.nii.gz"
    ).read_bytes()
    for pid in ("sub-pixar001", "sub-pixar002"):
        server.files[f"/download/{keys[pid].bold}/"] = bold
        server.files[f"/download/{keys[pid].confounds}/"] = _fmriprep_confounds(20)
    rows = [
        PARTICIPANTS_HEADER,
        "sub-pixar001\t8\t8yo\tchild\tF\tR",
        "sub-pixar002\t25\tAdult\tadult\tM\tR",
    ]
    server.files["/participants"] = ("\n".join(rows) + "\n").encode()
    development = {
        "data_dir": str(tmp_path / "dev"),
        "url": server.url("/download/{key}/"),
        "participants_url": server.url("/participants"),
    }
    write_config(
        tmp_path, {"data": {"source": "development", "n_subjects": 2, "development": development}}
    )

    # the subjects come from the participants table: nothing is fetched while planning, and
    # the plan goes as far as the download of that table (a checkpoint)
    assert planned_jobs(tmp_path, "results/inputs.tsv") == {
        "download_participants": 1,
        "check_inputs": 1,
    }
    assert server.requests == []
    snakemake(tmp_path, "--cores", "2", "results/inputs.tsv")
    manifest = (tmp_path / "results" / "inputs.tsv").read_text().splitlines()
    runs = [line.split("\t")[0] for line in manifest[1:]]
    assert runs == ["sub-pixar001_task-pixar", "sub-pixar002_task-pixar"]
    reduced = tmp_path / "dev" / "sub-pixar001_task-pixar_desc-reducedConfounds_regressors.tsv"
    assert reduced.read_text().split("\n")[0].split("\t")[:3] == ["trans_x", "trans_y", "trans_z"]
    n_requests = len(server.requests)
    assert planned_jobs(tmp_path, "results/inputs.tsv") == {}  # present files: nothing to do
    assert len(server.requests) == n_requests
