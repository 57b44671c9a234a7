"""Parity of the whole chain with nilearn 0.14.1 (issue 4), on one small synthetic dataset.

Our workflow steps (``netregions.steps``: load_subject, group_mask, preprocess_subject,
decompose, extract_regions, subject_timeseries; and :func:`subject_connectivity`) and nilearn
(one subprocess in ``.venv-nilearn``, see :mod:`tests.parity_helpers`) process the same
files (4 subjects, 30x36x30 voxels of 4 mm, 80 volumes, 5 planted networks, 5 components):

1. group EPI mask (and every subject's mask): identical voxels;
2. per-subject reduced data (6 mm smoothing, mask, detrend, z-score, randomized SVD):
   bit-identical;
3. DictLearning and CanICA maps, matched by a Hungarian assignment on |spatial correlation|
   (component order is chaotic, docs/algorithms.md §2.9 and §11);
4. regions of nilearn's DictLearning maps; one subject's region time series (6 mm smoothing,
   least squares, confounds, z-score) and Ledoit-Wolf correlation connectome given the same
   regions image.

Each step is also compared on *identical inputs* (nilearn's own intermediate arrays fed to
our functions), which tells a step's own error from the error it inherits. Parity means
agreement to float rounding; bit-identity, where we have it, is checked separately
(``test_bit_identical``), and each deliberate exception (a faster computation that rounds
differently: docs/differences.md) is a strict xfail naming its cause.

nilearn cannot handle ``n/a`` in confounds (docs/algorithms.md §5.3), so it reads a copy of the
TSV with ``n/a`` replaced by 0, which is what our reader does to the original file.
Measured numbers are printed (``pytest -s``) and appear in every assertion message.
"""

from __future__ import annotations

import json
import warnings

import nibabel as nib
import numpy as np
import pytest

from netregions.confounds import build_design, read_confounds_table
from netregions.connectome import subject_connectivity
from netregions.data.synthetic import make_dataset, synthetic_subjects
from netregions.decomposition import canica, dict_learning, reduce_data
from netregions.io import load_image, read_tsv
from netregions.masking import apply_mask, compute_epi_mask
from netregions.signal import clean, region_signals
from netregions.steps.decompose import decompose
from netregions.steps.extract_regions import extract_regions
from netregions.steps.group_mask import group_mask
from netregions.steps.load_subject import load_subject
from netregions.steps.preprocess_subject import preprocess_subject
from netregions.steps.subject_timeseries import subject_timeseries

from .parity_helpers import abs_correlations, match_maps, max_diffs, needs_nilearn, run_nilearn

pytestmark = [pytest.mark.parity, needs_nilearn]

N_SUBJECTS = 4
SHAPE = (30, 36, 30)
N_VOLUMES = 80
N_NETWORKS = 5
N_COMPONENTS = 5
FWHM = 6.0
MIN_REGION_SIZE = 1350.0  # mm³, the example's value (21 voxels of 64 mm³)

# Tolerances. Inputs are float32 (eps32 = 1.2e-7); a step's own error is a few ulps, and an
# SVD / ICA amplifies an input error by up to 1/gap of the spectrum. Measured on this dataset
# (x86-64, OpenBLAS) the worst cases are 10-100x below these bounds.
REDUCED_RTOL = 1e-4  # reduced data, relative to each subject's max |value| (measured 8.3e-6)
MAP_MIN_CORR = 0.999  # matched maps (measured >= 0.99972; unmatched pairs |corr| <= 0.03)
DL_MAP_ATOL = 1e-4  # DictLearning maps have unit norm (measured 1.8e-7)
SERIES_ATOL = 1e-3  # z-scored region series (measured 6.1e-5)
CONNECTOME_ATOL = 1e-4  # correlations (measured 6.2e-6)
STAGE_RTOL = 1e-5  # one step on identical inputs, relative to max |value| (measured <= 1.2e-7)


def _print(label: str, **numbers) -> None:
    print(f"[parity] {label}: " + ", ".join(f"{k}={v}" for k, v in numbers.items()))


def _numbers(ours, theirs) -> str:
    diff, rel = max_diffs(ours, theirs)
    return f"max |diff| {diff:.3g} (relative {rel:.3g}), identical {np.array_equal(ours, theirs)}"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity_data")
    paths = make_dataset(
        root, N_SUBJECTS, shape=SHAPE, n_networks=N_NETWORKS, n_volumes=N_VOLUMES, seed=0
    )
    subjects = synthetic_subjects(N_SUBJECTS)
    filled = root / "sub-01_confounds_filled.tsv"
    original = paths["01"]["confounds"].read_text()
    assert "n/a" in original  # the case nilearn cannot read
    filled.write_text(original.replace("n/a", "0"))
    return {
        "subjects": subjects,
        "bold": [paths[s]["bold"] for s in subjects],
        "confounds": paths["01"]["confounds"],
        "confounds_filled": filled,
    }


@pytest.fixture(scope="module")
def ours(dataset, tmp_path_factory):
    """Our workflow steps, chained as the Snakefile chains them."""
    out = tmp_path_factory.mktemp("parity_ours")
    runs = [f"sub-{s}_task-pixar" for s in dataset["subjects"]]
    means = [out / f"{r}_mean.nii.gz" for r in runs]
    stats = [out / f"{r}_stats.json" for r in runs]
    for run, bold, mean, stat in zip(runs, dataset["bold"], means, stats, strict=True):
        load_subject(bold, mean, stat, run=run)
    mask = out / "group_mask.nii.gz"
    group_mask(means, mask, out / "group_mean.nii.gz", runs=runs)
    reduced = [out / f"{r}_reduced.npy" for r in runs]
    smoothed = [out / f"{r}_smoothed.npy" for r in runs]
    for run, bold, red, smo in zip(runs, dataset["bold"], reduced, smoothed, strict=True):
        preprocess_subject(
            bold, mask, smo, red, run=run, smoothing_fwhm=FWHM, n_components=N_COMPONENTS
        )
    components = {}
    for method in ("dictlearning", "canica"):
        components[method] = out / f"{method}.nii.gz"
        decompose(reduced, mask, components[method], method=method, n_components=N_COMPONENTS)
    return {
        "runs": runs,
        "group_mask": mask,
        "means": means,
        "stats": stats,
        "reduced": reduced,
        "smoothed": smoothed,
        "components": components,
    }


NILEARN_SCRIPT = """
    import json
    import nibabel as nib
    import numpy as np
    from nilearn import signal
    from nilearn.connectome import ConnectivityMeasure
    from nilearn.decomposition import CanICA, DictLearning
    from nilearn.decomposition._base import _fast_svd, _mask_and_reduce
    from nilearn.image import smooth_img
    from nilearn.maskers import MultiNiftiMasker, NiftiMasker
    from nilearn.masking import compute_epi_mask, compute_multi_epi_mask
    from nilearn.regions import RegionExtractor
    from nilearn.regions.signal_extraction import img_to_signals_maps
    from sklearn.utils import check_random_state

    cfg = json.load(open("config.json"))
    files, k, fwhm = cfg["files"], cfg["n_components"], cfg["fwhm"]
    mask = nib.load(cfg["mask"])  # our group mask: steps 2-4 start from the same voxels

    def save(name, array):
        np.save(f"out_{name}.npy", np.asarray(array))

    # 1. masks: each subject's, and the group's through both entry points
    for i, f in enumerate(files):
        save(f"epi_mask_{i}", np.asarray(compute_epi_mask(f).dataobj) > 0)
    save("mask_masker", np.asarray(
        MultiNiftiMasker(mask_strategy="epi").fit(files).mask_img_.dataobj) > 0)
    save("mask_multi_epi", np.asarray(compute_multi_epi_mask(files).dataobj) > 0)

    # 2. per-subject reduction, as DictLearning.fit does it; sub-01's intermediate arrays
    masker = MultiNiftiMasker(mask_img=mask, smoothing_fwhm=fwhm, standardize="zscore_sample",
                              standardize_confounds=True, detrend=True).fit()
    save("reduced", _mask_and_reduce(masker, files, n_components=k, random_state=0))
    plain = NiftiMasker(mask_img=mask, smoothing_fwhm=fwhm, standardize=None, detrend=False)
    smoothed = plain.fit().transform(files[0])
    cleaned = signal.clean(smoothed, detrend=True, standardize="zscore_sample",
                           standardize_confounds=True, t_r=None)
    u, s, _ = _fast_svd(cleaned.T, k, random_state=check_random_state(0))
    save("stage_smoothed", smoothed)
    save("stage_cleaned", cleaned)
    save("stage_reduced", u.T.copy() * s[:, np.newaxis])

    # 3. decompositions
    common = dict(n_components=k, smoothing_fwhm=fwhm, random_state=0,
                  standardize="zscore_sample", mask=mask)
    dl = DictLearning(**common).fit(files)
    save("dictlearning", dl.components_)
    dl.components_img_.to_filename("nilearn_dictlearning.nii.gz")
    save("canica", CanICA(**common).fit(files).components_)

    # 4. regions of nilearn's DictLearning maps, one subject's series and connectome
    extractor = RegionExtractor(dl.components_img_, threshold=0.5,
                                thresholding_strategy="ratio_n_voxels",
                                extractor="local_regions", standardize="zscore_sample",
                                standardize_confounds=True, min_region_size=cfg["min_size"])
    extractor.fit()
    extractor.regions_img_.to_filename("nilearn_regions.nii.gz")
    save("regions", extractor.regions_img_.get_fdata(dtype=np.float32))
    save("index", extractor.index_)
    series = extractor.transform(files[0], confounds=cfg["confounds"])
    save("series", series)
    measure = ConnectivityMeasure(kind="correlation", standardize="zscore_sample")
    save("correlation", measure.fit_transform([series])[0])
    raw = img_to_signals_maps(smooth_img(files[0], fwhm), extractor.regions_img_)[0]
    save("stage_raw_signals", raw)
    save("stage_series", signal.clean(raw, detrend=False, standardize="zscore_sample",
                                      confounds=[cfg["confounds"]],
                                      standardize_confounds=True, t_r=None))
"""


@pytest.fixture(scope="module")
def nilearn(dataset, ours, tmp_path_factory):
    """Everything nilearn computes, in one subprocess (about 10 s on 2 cores)."""
    workdir = tmp_path_factory.mktemp("parity_nilearn")
    config = {
        "files": [str(p) for p in dataset["bold"]],
        "n_components": N_COMPONENTS,
        "fwhm": FWHM,
        "mask": str(ours["group_mask"]),
        "min_size": MIN_REGION_SIZE,
        "confounds": str(dataset["confounds_filled"]),
    }
    (workdir / "config.json").write_text(json.dumps(config))
    out = run_nilearn(workdir, NILEARN_SCRIPT)
    out["dir"] = workdir
    return out


def _mask(path) -> np.ndarray:
    return np.asanyarray(nib.load(path).dataobj).astype(bool)


def _masked_maps(path, mask) -> np.ndarray:
    return apply_mask(np.asanyarray(nib.load(path).dataobj), mask)


@pytest.fixture(scope="module")
def end_to_end(ours, nilearn):
    """(ours, nilearn) pairs of the chained steps, on the same files."""
    mask = _mask(ours["group_mask"])
    pairs = {"reduced": (np.concatenate([np.load(p) for p in ours["reduced"]]), nilearn["reduced"])}
    for method in ("dictlearning", "canica"):
        pairs[method] = (_masked_maps(ours["components"][method], mask), nilearn[method])
    return pairs


@pytest.fixture(scope="module")
def stages(ours, nilearn, dataset):
    """(ours, nilearn) pairs of one step each, our function fed nilearn's input to that step."""
    confounds = build_design(read_confounds_table(dataset["confounds_filled"]), "columns").confounds
    mask = _mask(ours["group_mask"])
    regions = _masked_maps(nilearn["dir"] / "nilearn_regions.nii.gz", mask).T
    smoothed = nilearn["stage_smoothed"]
    reduced_f = np.asfortranarray(nilearn["reduced"])  # stacked as nilearn stacks it
    return {
        "smooth_and_mask": (np.load(ours["smoothed"][0]), smoothed),
        "clean": (
            clean(smoothed, detrend=True, standardize="zscore_sample"),
            nilearn["stage_cleaned"],
        ),
        "reduce": (
            reduce_data(nilearn["stage_cleaned"], N_COMPONENTS, 0),
            nilearn["stage_reduced"],
        ),
        "dictlearning": (dict_learning(reduced_f, N_COMPONENTS), nilearn["dictlearning"]),
        "canica": (canica(reduced_f, N_COMPONENTS), nilearn["canica"]),
        "region_signals": (
            region_signals(smoothed, np.ascontiguousarray(regions, dtype=smoothed.dtype)),
            nilearn["stage_raw_signals"],
        ),
        "clean_confounds": (
            clean(nilearn["stage_raw_signals"], confounds=confounds, standardize="zscore_sample"),
            nilearn["stage_series"],
        ),
        "connectome": (
            subject_connectivity(nilearn["series"], "correlation"),
            nilearn["correlation"],
        ),
    }


# --------------------------------------------------------------------------- 1. masks


def test_group_and_subject_masks_are_identical(ours, nilearn):
    mask = _mask(ours["group_mask"])
    assert 1000 < mask.sum() < mask.size / 2, mask.sum()
    for i, path in enumerate(ours["means"]):
        epi = compute_epi_mask(load_image(path)[0])  # what the group-mask step computes
        n_diff = int(np.count_nonzero(epi != nilearn[f"epi_mask_{i}"]))
        _print(f"EPI mask sub-{i + 1:02d}", voxels=int(epi.sum()), differing=n_diff)
        assert n_diff == 0, f"sub-{i + 1:02d}: {n_diff} EPI-mask voxels differ"
    for name in ("mask_masker", "mask_multi_epi"):
        theirs = nilearn[name]
        n_diff = int(np.count_nonzero(mask != theirs))
        _print(name, ours=int(mask.sum()), nilearn=int(theirs.sum()), differing=n_diff)
        assert n_diff == 0, (
            f"{name}: {n_diff} voxels differ (ours {mask.sum()}, nilearn {theirs.sum()} voxels)"
        )


# --------------------------------------------------------------------------- 2. reduction


def test_reduced_data_agree_to_float32_precision(end_to_end):
    mine, theirs = end_to_end["reduced"]
    assert mine.shape == theirs.shape == (N_SUBJECTS * N_COMPONENTS, mine.shape[1])
    assert mine.dtype == theirs.dtype == np.float32
    for i in range(N_SUBJECTS):
        rows = slice(i * N_COMPONENTS, (i + 1) * N_COMPONENTS)
        diff, rel = max_diffs(mine[rows], theirs[rows])
        _print(f"reduced sub-{i + 1:02d}", numbers=_numbers(mine[rows], theirs[rows]))
        assert rel < REDUCED_RTOL, (
            f"sub-{i + 1:02d}: reduced data: {_numbers(mine[rows], theirs[rows])}; "
            f"tolerance {REDUCED_RTOL} relative"
        )


# --------------------------------------------------------------------------- 3. components


def _check_maps(method: str, mine: np.ndarray, theirs: np.ndarray, label: str) -> None:
    assert mine.shape == theirs.shape == (N_COMPONENTS, mine.shape[1])
    order, matched = match_maps(mine, theirs)
    aligned = theirs[order]
    others = abs_correlations(mine, theirs)
    others[np.arange(N_COMPONENTS), order] = 0
    nonzero = (mine != 0) & (aligned != 0)
    one_sided = int(np.count_nonzero((mine != 0) ^ (aligned != 0)))
    common = float(np.abs(mine - aligned)[nonzero].max())
    message = (
        f"{method} ({label}): order {order.tolist()}, matched |corr| "
        f"{np.round(matched, 6).tolist()}, best unmatched |corr| {others.max():.3f}, "
        f"{_numbers(mine, aligned)}, max |diff| where both non-zero {common:.3g}, "
        f"entries zero on one side only {one_sided}"
    )
    print(f"[parity] {message}")
    assert matched.min() > MAP_MIN_CORR, message
    # each method's sign convention applied to the same map gives the same sign
    assert np.all(np.sum(mine * aligned, axis=1) > 0), message
    if method == "dictlearning":  # no thresholding: the maps themselves agree
        assert max_diffs(mine, aligned)[0] < DL_MAP_ATOL, message


@pytest.mark.parametrize("method", ["dictlearning", "canica"])
def test_components_match_after_hungarian_assignment(end_to_end, method):
    _check_maps(method, *end_to_end[method], "end to end")


# --------------------------------------------------------------------------- 4. regions, series


def _extract(components, mask, folder):
    names = "regions.nii.gz regions.tsv atlas.nii.gz atlas.tsv atlas.json region_maps.npy"
    paths = [folder / name for name in names.split()]
    extract_regions(components, mask, *paths, min_region_size=MIN_REGION_SIZE)
    return paths


def test_regions_of_nilearn_maps_are_identical(ours, nilearn, tmp_path):
    components = nilearn["dir"] / "nilearn_dictlearning.nii.gz"
    out = _extract(components, ours["group_mask"], tmp_path)[0]
    regions = np.asanyarray(nib.load(out).dataobj)
    _, table = read_tsv(tmp_path / "regions.tsv")
    _print(
        "regions",
        ours=regions.shape[-1],
        nilearn=nilearn["regions"].shape[-1],
        index=nilearn["index"].tolist(),
    )
    assert regions.shape[-1] >= 3
    np.testing.assert_array_equal(table[:, 1].astype(int), nilearn["index"])
    np.testing.assert_array_equal(regions, nilearn["regions"])


@pytest.mark.parametrize("source", ["smoothed_series", "bold"])
def test_region_series_and_connectome_agree(dataset, ours, nilearn, tmp_path, source):
    # regions of nilearn's maps: the series compare for identical regions
    maps = _extract(nilearn["dir"] / "nilearn_dictlearning.nii.gz", ours["group_mask"], tmp_path)
    out = tmp_path / "timeseries.tsv"
    resmooth = {}
    if source == "bold":  # the workflow's path when the two FWHMs differ: smooth the run here
        resmooth = {"bold": dataset["bold"][0], "mask": ours["group_mask"], "smoothing_fwhm": FWHM}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*missing values in confound")
        subject_timeseries(
            ours["smoothed"][0],
            maps[-1],  # region_maps.npy
            ours["stats"][0],
            out,
            tmp_path / "timeseries.json",
            [],
            [],
            run=ours["runs"][0],
            kinds=[],
            confounds=dataset["confounds"],  # the original, with n/a
            standardize="zscore_sample",
            standardize_confounds=True,
            **resmooth,
        )
    _, series = read_tsv(out)
    series = series.astype(np.float32)  # written with 9 digits: float32 round-trips exactly
    theirs = nilearn["series"]
    assert series.shape == theirs.shape == (N_VOLUMES, nilearn["regions"].shape[-1])
    diff, _ = max_diffs(series, theirs)
    correlation = subject_connectivity(series, "correlation")
    cdiff, _ = max_diffs(correlation, nilearn["correlation"])
    message = (
        f"region series: {_numbers(series, theirs)}; "
        f"correlations: {_numbers(correlation, nilearn['correlation'])}"
    )
    print(f"[parity] {source}: {message}")
    assert diff < SERIES_ATOL, message
    assert cdiff < CONNECTOME_ATOL, message


# --------------------------------------------------------------------------- each step alone


STAGE_NAMES = [
    "smooth_and_mask",
    "clean",
    "reduce",
    "dictlearning",
    "canica",
    "region_signals",
    "clean_confounds",
    "connectome",
]


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_step_on_identical_inputs(stages, stage):
    mine, theirs = stages[stage]
    assert mine.shape == theirs.shape and mine.dtype == theirs.dtype, (mine.dtype, theirs.dtype)
    if stage in ("dictlearning", "canica"):
        _check_maps(stage, mine, theirs, "nilearn's reduced data")
        return
    _, rel = max_diffs(mine, theirs)
    print(f"[parity] step {stage}: {_numbers(mine, theirs)}")
    assert rel < STAGE_RTOL, f"{stage}: {_numbers(mine, theirs)}"


# --------------------------------------------------------------------------- bit-identity


def _known(reason: str):
    """A known, deliberate source of round-off (strict: the test fails if it goes away)."""
    return pytest.mark.xfail(strict=True, reason=reason)


LSTSQ = _known(
    "signal.region_signals solves the least squares through the small Gram matrix in "
    "float64 (much faster); the reference runs LAPACK gelsd on the whole grid in float32"
)
SHRINKAGE = _known(
    "connectome.ledoit_wolf sums the shrinkage's moments in float64; scikit-learn sums float32 "
    "squares, so the two shrinkage intensities can differ in their last float32 bit (they do "
    "on this dataset: 0.0978374 against 0.0978375)"
)
SPARSE_CODING = _known(
    "the final sparse coding of dictionary learning runs in a numba coordinate descent in "
    "float64 (much faster); scikit-learn's Lasso computes float32 problems in float32"
)


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("stage", "smooth_and_mask"),
        ("stage", "clean"),
        ("stage", "reduce"),
        pytest.param("stage", "dictlearning", marks=SPARSE_CODING),
        ("stage", "canica"),
        pytest.param("stage", "region_signals", marks=LSTSQ),
        ("stage", "clean_confounds"),
        pytest.param("stage", "connectome", marks=SHRINKAGE),
        ("end_to_end", "reduced"),
        pytest.param("end_to_end", "dictlearning", marks=SPARSE_CODING),
        ("end_to_end", "canica"),
    ],
)
def test_bit_identical(stages, end_to_end, kind, name):
    """Identical arrays in the same order (what docs/algorithms.md reports as achievable)."""
    mine, theirs = (stages if kind == "stage" else end_to_end)[name]
    assert np.array_equal(mine, theirs), f"{kind} {name}: {_numbers(mine, theirs)}"
