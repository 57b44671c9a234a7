import json

import numpy as np
import pytest
from scipy import linalg
from sklearn.covariance import LedoitWolf

from netregions.exceptions import InputDataError
from netregions.io import read_tsv, save_array, write_tsv
from netregions.steps.tangent_connectome import tangent_connectome

RUN = "sub-02_task-rest"
REGIONS = ["1", "2", "3", "4", "5"]


def _inputs(tmp_path, rng, n_volumes=50):
    mixing = rng.standard_normal((5, 5)) + 2 * np.eye(5)
    series = (rng.standard_normal((n_volumes, 5)) @ mixing).astype(np.float32)
    write_tsv(tmp_path / "timeseries.tsv", series, REGIONS)
    # the run had 2 dummy scans and 8 censored volumes besides the kept ones
    sidecar = {"NumberOfVolumes": n_volumes + 10, "NumberOfVolumesKept": n_volumes}
    (tmp_path / "timeseries.json").write_text(json.dumps(sidecar))
    a = rng.standard_normal((5, 5))
    group = a @ a.T + 5 * np.eye(5)  # a group geometric mean, SPD
    whitening = linalg.inv(linalg.sqrtm(group)).real
    save_array(whitening, tmp_path / "tangent.npy")
    return series, whitening


def _files(tmp_path):
    return {
        "timeseries": str(tmp_path / "timeseries.tsv"),
        "timeseries_json": str(tmp_path / "timeseries.json"),
        "reference": str(tmp_path / "tangent.npy"),
        "relmat": str(tmp_path / "relmat.tsv"),
        "relmat_json": str(tmp_path / "relmat.json"),
    }


def test_tangent_matrix_is_logm_of_the_whitened_covariance(tmp_path, rng):
    series, whitening = _inputs(tmp_path, rng)
    tangent_connectome(**_files(tmp_path), run=RUN)
    covariance = LedoitWolf().fit(series.astype(np.float64)).covariance_
    expected = linalg.logm(whitening @ covariance @ whitening).real
    header, matrix = read_tsv(tmp_path / "relmat.tsv")
    assert header == REGIONS
    np.testing.assert_allclose(matrix, expected, atol=1e-5)
    np.testing.assert_array_equal(matrix, matrix.T)
    sidecar = json.loads((tmp_path / "relmat.json").read_text())
    assert sidecar["RelationshipMeasure"].startswith("Tangent-space deviation")
    assert sidecar["NodeNames"] == REGIONS
    assert sidecar["NumberOfVolumes"] == 60 and sidecar["NumberOfVolumesKept"] == 50
    assert sidecar["Sources"] == [
        "bids::sub-02/func/sub-02_task-rest_seg-netregions_timeseries.tsv",
        "bids::group/regions.nii.gz",
        "bids::group/atlas-netregions_dseg.nii.gz",
    ]
    assert sidecar["ValidDiagonal"] is True


def test_a_series_of_one_volume_names_the_run(tmp_path, rng):
    _inputs(tmp_path, rng, n_volumes=1)
    with pytest.raises(InputDataError, match=rf"^{RUN}: .* has 1 volume\(s\)"):
        tangent_connectome(**_files(tmp_path), run=RUN)
    assert not (tmp_path / "relmat.tsv").exists()
