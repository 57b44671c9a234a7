import json

import netregions
from netregions.steps.dataset_description import dataset_description


def _outputs(tmp_path):
    return {
        "description": str(tmp_path / "results" / "dataset_description.json"),
        "bidsignore": str(tmp_path / "results" / ".bidsignore"),
        "readme": str(tmp_path / "results" / "README.md"),
    }


def test_description_names_the_fmriprep_folder_as_source(tmp_path):
    outputs = _outputs(tmp_path)
    dataset_description(**outputs, source="fmriprep", source_dir="/data/fmriprep")
    description = json.loads((tmp_path / "results" / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative"
    assert description["GeneratedBy"] == [
        {
            "Name": "netregions",
            "Version": netregions.__version__,
            "Description": "data source: fmriprep",
        }
    ]
    assert description["SourceDatasets"] == [{"URL": "file:///data/fmriprep"}]


def test_bidsignore_lists_what_bids_has_no_rule_for(tmp_path):
    dataset_description(**_outputs(tmp_path), source="synthetic")
    # what bids-validator 3.0.2 must skip for a run to pass (measured on a workflow run):
    # root folders anchored with "/" ("group/" is not ignored by that validator)
    assert (tmp_path / "results" / ".bidsignore").read_text() == (
        "/group\n"
        "/figures\n"
        "/benchmarks\n"
        "/logs\n"
        "/work\n"
        "/inputs.tsv\n"
        "/provenance.json\n"
        "/report.html\n"
        "/report.zip\n"
        "*_timeseries.tsv\n"
        "*_timeseries.json\n"
        "*_relmat.tsv\n"
        "*_relmat.json\n"
        "*_components.nii.gz\n"
    )
    assert "SourceDatasets" not in json.loads(
        (tmp_path / "results" / "dataset_description.json").read_text()
    )


def test_readme_is_large_enough_for_the_validator_and_names_the_files(tmp_path):
    dataset_description(**_outputs(tmp_path), source="development")
    text = (tmp_path / "results" / "README.md").read_text()
    assert len(text.encode()) > 150  # the validator warns below (README_FILE_SMALL)
    assert text.startswith("# netregions results\n")
    assert f"netregions {netregions.__version__} (data source: development)" in text
    for name in ["_seg-netregions_timeseries.tsv", "_relmat.tsv", "atlas-netregions_dseg"]:
        assert name in text


def test_no_temporary_file_is_left_beside_the_outputs(tmp_path):
    dataset_description(**_outputs(tmp_path), source="synthetic")
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == [
        ".bidsignore",
        "README.md",
        "dataset_description.json",
    ]
