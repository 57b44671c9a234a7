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
        ("import netregions.bids", {*HEAVY, "numpy", "scipy", "nibabel"}),
        ("import netregions.inputs", {*HEAVY, "numpy", "scipy", "nibabel"}),
        ("import netregions.config", {*HEAVY, "numpy", "scipy", "nibabel"}),
        ("import netregions.qc", {*HEAVY, "numpy", "scipy", "nibabel"}),
        ("import netregions.resources", {*HEAVY, "numpy", "scipy", "nibabel"}),
        ("import netregions.confounds", {*HEAVY, "scipy"}),
        ("import netregions.stability", {*HEAVY, "scipy"}),
        ("import netregions.dualreg", {*HEAVY, "scipy"}),
        ("import netregions.masking", HEAVY),
        ("import netregions.decomposition", HEAVY),
        ("import netregions.connectome", HEAVY),
        ("import netregions.regions", {"sklearn", "matplotlib", "skimage"}),
        ("import netregions.signal", {*HEAVY, "scipy"}),
        ("import netregions.io", {*HEAVY, "scipy", "nibabel"}),
        ("import netregions.comparison", {*HEAVY, "scipy"}),
        ("import netregions.qcfc", {*HEAVY, "scipy"}),
        # the per-run steps other than preprocessing: no compiler, no scipy
        ("import netregions.steps.load_subject", {*HEAVY, "scipy", "nibabel"}),
        ("import netregions.steps.subject_timeseries", {*HEAVY, "scipy", "nibabel"}),
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
            "from netregions.inputs import discover_runs as d; "
            "d({'source': 'synthetic', 'n_subjects': 3, 'synthetic': {'data_dir': 'x'}})",
            {"numpy", "scipy", "nibabel"},
        ),
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


def test_step_modules_import_no_kernel_at_module_level():
    # numba reads its thread count when imported: a step must not import it before
    # netregions.workflow.setup_job has set NUMBA_NUM_THREADS from the job's threads
    from netregions.steps import STAGES

    modules = [f"netregions.steps.{stage}" for stage in STAGES]
    statement = "; ".join(
        f"import {m}"
        for m in modules
        if not m.endswith(("plot_components", "plot_regions", "plot_connectome"))
    )
    assert not _imported_after(statement) & {"numba", "sklearn"}
