"""Import costs are part of every workflow job: heavy libraries load only where they are used."""

import subprocess
import sys

import pytest

HEAVY = frozenset({"numba", "sklearn", "matplotlib", "skimage"})


def _imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in out.stdout.split()}


@pytest.mark.parametrize(
    "statement,forbidden",
    [
        ("import netregions", {*HEAVY, "numpy", "scipy", "nibabel"}),
        ("import netregions.workflow", {*HEAVY, "numpy", "scipy", "nibabel"}),
        ("import netregions.subject", HEAVY),
        ("import netregions.masking", HEAVY),
        ("import netregions.decomposition", HEAVY),
        ("import netregions.connectome", HEAVY),
        ("import netregions.regions", {"sklearn", "matplotlib", "skimage"}),
        ("import netregions.signal", HEAVY),
        ("import netregions.io", HEAVY),
        ("import netregions.data", HEAVY),
        ("import netregions.kernels", {"sklearn", "matplotlib", "skimage", "nibabel"}),
    ],
)
def test_module_does_not_import_heavy_libraries(statement, forbidden):
    assert not _imported_after(statement) & forbidden


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize(
    "statement,forbidden",
    [
        # what the Snakemake process runs at every invocation, no-op reruns included
        (
            "from netregions.workflow import discover_inputs as d; "
            "d({'data': {'source': 'synthetic', 'n_subjects': 3, "
            "'synthetic': {'data_dir': 'x'}}})",
            {"numpy", "scipy", "nibabel"},
        ),
        # ... and at the end of every run that executed jobs
        ("from netregions.provenance import write_provenance", {"numpy", "nibabel"}),
        # the connectome figure and correlation-only jobs do without these
        ("import netregions.plotting", {"scipy.ndimage"}),
        ("import netregions.connectome", {"scipy.linalg"}),
        # region extraction labels with the numba kernel, not scipy.ndimage (0.2 s)
        ("import netregions.regions", {"scipy.ndimage"}),
    ],
)
def test_lean_paths_stay_lean(statement, forbidden):
    assert not _modules_after(statement) & forbidden
