"""fMRIPrep-like derivatives with planted truths, deterministic from a seed.

:func:`make_fmriprep_dataset` writes a small derivatives tree named exactly as fMRIPrep names
its outputs (preprocessed BOLD in a template space, brain mask, BOLD sidecar, full confounds
table and its JSON), built from the brain model and signal sources of
:mod:`netregions.data.synthetic`, with truths planted for the tests of real-data features:

- **groups and coupling**: subjects alternate between ``"child"`` and ``"adult"``
  (:func:`netregions.data.synthetic.subject_group`); in adults the true time courses of
  networks 0 and 1 correlate exactly ``coupling``.
- **subject-specific maps**: each subject's networks are the group networks with every blob
  moved by a displacement of at most ``subject_shift_mm`` (one per subject and network) and
  slightly reshaped, for dual regression.
- **high-motion runs**: every run of ``high_motion_subjects`` moves in bursts (mean FD
  ~0.6-0.9 mm, about half the volumes above 0.5 mm); other runs stay near 0.1 mm.
- **motion spikes**: ``n_spikes`` volumes per run with FD > 1 mm (size drawn per subject) and a
  spin-history-like artefact: a global intensity jump plus an edge pattern, whose amplitude
  grows with FD above 0.5 mm and has a random sign. Every volume with FD > 0.5 mm carries
  such an artefact, which is not a fixed linear function of the realignment parameters:
  connectivity therefore tracks motion across subjects until those volumes are censored.
- **dummy scans**: the first ``n_dummy`` volumes are brighter (long-T1 tissue most) and
  flagged by the ``non_steady_state_outlierXX`` columns.

The confounds are computed from the generated data as fMRIPrep and nipype define them
(framewise displacement, RMS displacement, DVARS and standardised DVARS, tissue means with
their expansions, cosine high-pass basis, a/c/w/tCompCor as PCAs of high-passed tissue data,
outlier columns). Every rule and formula is in docs/methods/synthetic_data.md.

Runs are generated one at a time, a few volumes at a time, so a 2 mm template-sized run
(97 x 115 x 97 x 150) needs about 1 GB of memory.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from netregions.confounds import MOTION_COLUMNS
from netregions.data import synthetic as syn
from netregions.io import atomic_path, save_nifti, write_tsv

__all__ = [
    "ARTEFACT_GAIN",
    "DVARS_SPIKE_THRESHOLD",
    "FD_SPIKE_THRESHOLD",
    "HIGH_PASS_PERIOD",
    "PlantedDataset",
    "PlantedRun",
    "cosine_basis",
    "dvars",
    "make_fmriprep_dataset",
    "read_planted",
    "relative_rms",
]

#: fMRIPrep's default motion-outlier thresholds (``--fd-spike-threshold``,
#: ``--dvars-spike-threshold``).
FD_SPIKE_THRESHOLD = 0.5
DVARS_SPIKE_THRESHOLD = 1.5

#: Period (s) of the DCT high-pass basis written as ``cosineXX`` and used before CompCor.
HIGH_PASS_PERIOD = 128.0

#: CompCor keeps components up to this cumulative fraction of variance.
COMPCOR_VARIANCE = 0.5

#: tCompCor uses the voxels of the brain mask with this top fraction of temporal SD.
TCOMPCOR_FRACTION = 0.02

#: Radius (mm) of the sphere averaged by the RMS displacement (Jenkinson 1999, FSL mcflirt).
RMSD_RADIUS_MM = 80.0

#: Standard deviation of one volume-to-volume step of a calm run: translations (mm), rotations
#: (rad); mean FD ~0.1 mm.
MOTION_STEP_SD = np.array([0.02, 0.02, 0.03, 0.0004, 0.0003, 0.0003])

#: High-motion runs: this fraction of the volumes lies in bursts whose steps are
#: HIGH_MOTION_FACTOR times larger (FD ~1.4 mm per burst volume).
HIGH_MOTION_BURSTS = 0.5
HIGH_MOTION_FACTOR = 15.0

#: Range (mm) of a subject's spike size (FD at a spike volume), drawn once per subject.
SPIKE_FD = (1.2, 2.5)
SPIKE_MARGIN = 6  # no spike in the first or last 6 volumes
SPIKE_SPACING = 8  # spikes at least 8 volumes apart

#: Largest subject-specific displacement (canonical mm) of a network: blobs stay in the brain.
MAX_SUBJECT_SHIFT_MM = 30.0

#: Spin-history-like artefact of a volume: ARTEFACT_GAIN % of the baseline per mm of FD above
#: ARTEFACT_ONSET_MM (global jump), plus an edge pattern: the intensity change of a shift by
#: ARTEFACT_EDGE_MM per % of jump.
ARTEFACT_ONSET_MM = FD_SPIKE_THRESHOLD
ARTEFACT_GAIN = 1.5
ARTEFACT_EDGE_MM = 0.05

#: Dummy scans: excess brightness of each tissue in the first volume (relative to the steady
#: state, larger for longer T1) and its decay per volume.
NSS_EXCESS = {syn.GREY: 0.3, syn.WHITE: 0.1, syn.CSF: 1.5}
NSS_DECAY = 0.5

#: Base columns expanded with derivatives and squares, as fMRIPrep writes them.
TISSUE_COLUMNS = ("global_signal", "csf", "white_matter")

#: CompCor column prefixes and the ``Mask`` written in their JSON entries.
COMPCOR_MASK_NAMES = {
    "t_comp_cor_": None,
    "c_comp_cor_": "CSF",
    "w_comp_cor_": "WM",
    "a_comp_cor_": "combined",
}

FMRIPREP_VERSION = "25.2.0"
GZIP_LEVEL = 1
TRUTH_DIR = "truth"
PLANTED_JSON = "planted.json"
_LABEL = re.compile(r"[A-Za-z0-9]+")
_CHUNK = 32768  # voxels processed at a time by the confound computations
_SUBJECT_STREAMS = ("scale", "maps", "spikes")
_RUN_STREAMS = (
    "timecourses",
    "coupling",
    "amplitudes",
    "motion",
    "spikes",
    "physio",
    "drift",
    "noise",
    "artefact",
)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PlantedRun:
    """One written run and what was planted in it.

    Attributes
    ----------
    name : str
        Entities before ``space``, e.g. ``"sub-01_ses-1_task-rest_run-1"``.
    subject, session, task, run : str or None
        Labels (``session`` and ``run`` None when the entity is absent).
    bold, sidecar, mask, confounds, confounds_sidecar : Path
        ``..._desc-preproc_bold.nii.gz`` and its ``.json``, ``..._desc-brain_mask.nii.gz``,
        ``..._desc-confounds_timeseries.tsv`` and its ``.json``.
    high_motion : bool
        A run of a high-motion subject.
    spikes : tuple of int
        Volume indices of the planted motion spikes.
    n_dummy : int
        Leading non-steady-state volumes.
    mean_fd : float
        Mean framewise displacement (mm) over volumes 1.. (row 0 is ``n/a``).
    censored_fraction : float
        Fraction of the volumes with FD > 0.5 mm.
    spike_fd : tuple of float
        Planted FD (mm) of each spike.
    timeseries : Path
        True network time courses (% of baseline at map value 1), ``truth/<name>_...tsv``.
    """

    name: str
    subject: str
    session: str | None
    task: str
    run: str | None
    bold: Path
    confounds: Path
    sidecar: Path
    mask: Path
    high_motion: bool
    spikes: tuple[int, ...]
    n_dummy: int
    mean_fd: float
    confounds_sidecar: Path
    censored_fraction: float
    spike_fd: tuple[float, ...]
    timeseries: Path


@dataclass(frozen=True)
class PlantedDataset:
    """A written derivatives tree and its planted truths.

    Attributes
    ----------
    root : Path
    runs : list of PlantedRun
        In generation order (subject, session, task, run).
    participants : Path
        ``participants.tsv`` (``participant_id``, ``group``, ``age``, ``sex``).
    group : dict
        Subject label -> ``"child"`` or ``"adult"``.
    coupled_networks : (int, int)
        Networks coupled in the adult group.
    network_maps : Path
        Group maps, 4D float32 (one volume per network).
    subject_maps : dict
        Subject label -> that subject's shifted maps.
    t_r : float
    coupling : float
        Correlation of the coupled networks' true time courses in adults.
    high_motion_subjects : tuple of str
    n_dummy : int
    compcor_masks : dict
        ``"CSF"``, ``"WM"``, ``"combined"`` -> the aCompCor masks (uint8 NIfTI).
    truth : Path
        ``truth/planted.json`` (everything above, readable by :func:`read_planted`).
    """

    root: Path
    runs: list[PlantedRun]
    participants: Path
    group: dict[str, str]
    coupled_networks: tuple[int, int]
    network_maps: Path
    subject_maps: dict[str, Path]
    t_r: float
    coupling: float
    high_motion_subjects: tuple[str, ...]
    n_dummy: int
    compcor_masks: dict[str, Path]
    truth: Path

    @property
    def subjects(self) -> list[str]:
        """Subject labels, sorted."""
        return sorted(self.group)

    def runs_of(self, subject: str | None = None, task: str | None = None) -> list[PlantedRun]:
        """Runs of one subject and/or one task (None: any)."""
        return [
            r
            for r in self.runs
            if (subject is None or r.subject == subject) and (task is None or r.task == task)
        ]


# --------------------------------------------------------------------------- confounds maths


def cosine_basis(n_volumes: int, t_r: float, period: float = HIGH_PASS_PERIOD) -> np.ndarray:
    """DCT-II high-pass regressors as fMRIPrep writes them (``cosineXX``).

    Parameters
    ----------
    n_volumes : int
        Steady-state volumes (dummy scans excluded).
    t_r : float
    period : float
        Cut-off period (s).

    Returns
    -------
    ndarray, shape (n_volumes, n_cosines)
        Columns ``sqrt(2/N) cos(pi k (t + 0.5) / N)``, k = 1 .. n_cosines, with
        n_cosines = max(floor(2 N TR / period), 1) - 1 (nipype's count minus the constant).
    """
    order = max(int(math.floor(2 * n_volumes * t_r / period)), 1)
    t = np.arange(n_volumes) + 0.5
    k = np.arange(1, order)
    return math.sqrt(2.0 / n_volumes) * np.cos(np.pi / n_volumes * np.outer(t, k))


def relative_rms(
    motion: np.ndarray, centre: Sequence[float], radius: float = RMSD_RADIUS_MM
) -> np.ndarray:
    """RMS displacement between consecutive volumes within a sphere (Jenkinson 1999).

    Parameters
    ----------
    motion : ndarray, shape (n_volumes, 6)
        Translations (mm) then rotations (rad); the rotation matrix is ``Rx @ Ry @ Rz``.
    centre : sequence of 3 float
        Centre of the sphere (world mm).
    radius : float

    Returns
    -------
    ndarray, shape (n_volumes,)
        NaN at volume 0. With ``M = A_t A_{t-1}^-1 - I`` (4 x 4 rigid transforms) and ``t``
        its translation column: ``sqrt(radius^2 / 5 tr(M_3^T M_3) + |t + M_3 c|^2)``.
    """
    transforms = np.array([_rigid(p) for p in np.asarray(motion, dtype=float)])
    out = np.full(len(transforms), np.nan)
    centre = np.asarray(centre, dtype=float)
    for t in range(1, len(transforms)):
        relative = transforms[t] @ np.linalg.inv(transforms[t - 1]) - np.eye(4)
        m = relative[:3, :3]
        shift = relative[:3, 3] + m @ centre
        out[t] = math.sqrt(radius**2 / 5 * np.trace(m.T @ m) + shift @ shift)
    return out


def _rigid(params: np.ndarray) -> np.ndarray:
    cx, cy, cz = np.cos(params[3:])
    sx, sy, sz = np.sin(params[3:])
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    out = np.eye(4)
    out[:3, :3] = rx @ ry @ rz
    out[:3, 3] = params[:3]
    return out


def dvars(data: np.ndarray, chunk: int = _CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """DVARS and standardised DVARS (Nichols 2013) as nipype's ``compute_dvars`` makes them.

    Parameters
    ----------
    data : ndarray, shape (n_volumes, n_voxels)
        Brain-mask voxels.
    chunk : int
        Voxels processed at a time (memory).

    Returns
    -------
    dvars : ndarray, shape (n_volumes,)
        RMS over voxels of the backward difference, after scaling all values to a median
        of 1000; NaN at volume 0.
    std_dvars : ndarray, shape (n_volumes,)
        ``dvars`` divided by the mean over voxels of the predicted SD of a difference,
        ``IQR / 1.349 * sqrt(2 (1 - AR1))`` (percentiles with "lower" interpolation, AR1 by
        Yule-Walker); voxels with a robust SD <= 1e-7 are left out of both.
    """
    scale = np.float32(1000.0 / np.median(data))
    n_volumes = data.shape[0]
    squares = np.zeros(n_volumes - 1)
    sd_sum, n_used = 0.0, 0
    for start in range(0, data.shape[1], chunk):
        block = data[:, start : start + chunk] * scale
        low, high = np.percentile(block, [25, 75], axis=0, method="lower")
        robust_sd = (high - low) / 1.349
        keep = robust_sd > 1e-7
        block, robust_sd = block[:, keep].astype(np.float64), robust_sd[keep]
        centred = block - block.mean(axis=0)
        ar1 = (centred[1:] * centred[:-1]).sum(axis=0) / (centred**2).sum(axis=0)
        sd_sum += float((np.sqrt(2 * (1 - ar1)) * robust_sd).sum())
        n_used += block.shape[1]
        squares += (np.diff(block, axis=0) ** 2).sum(axis=1)
    raw = np.concatenate([[np.nan], np.sqrt(squares / n_used)])
    return raw, raw / (sd_sum / n_used)


def _expand(name: str, values: np.ndarray, order: Sequence[str]) -> dict[str, np.ndarray]:
    """A column with its fMRIPrep expansions (derivative: backward difference, n/a at 0)."""
    derivative = np.concatenate([[np.nan], np.diff(values)])
    columns = {
        "": values,
        "_derivative1": derivative,
        "_power2": values**2,
        "_derivative1_power2": derivative**2,
    }
    return {name + suffix: columns[suffix] for suffix in order}


def _orthonormal_highpass(basis: np.ndarray) -> np.ndarray:
    """Orthonormal columns spanning the cosines plus a constant (nipype removes both)."""
    q, _ = np.linalg.qr(np.column_stack([basis, np.ones(basis.shape[0])]))
    return q


def _highpass(block: np.ndarray, projector: np.ndarray) -> np.ndarray:
    """float64 residuals of ``block`` (n_steady, n) after the cosines and the constant."""
    block = block.astype(np.float64)
    return block - projector @ (projector.T @ block)


@dataclass(frozen=True)
class _Components:
    """CompCor of one mask: time courses of the retained components and all metadata."""

    columns: np.ndarray  # (n_steady, n_retained)
    singular_values: np.ndarray  # all components
    retained: int


def _compcor_gram(
    data: np.ndarray, index: np.ndarray, n_dummy: int, projector: np.ndarray
) -> np.ndarray:
    """Gram matrix (n_steady, n_steady) of high-passed, variance-normalised voxel series.

    Uses the steady-state rows of ``data[:, index]``, a chunk of voxels at a time (no copy of
    all voxels). Voxels without variance keep their (zero) series, as nipype does.
    """
    n_steady = data.shape[0] - n_dummy
    gram = np.zeros((n_steady, n_steady))
    for start in range(0, index.size, _CHUNK):
        block = _highpass(data[n_dummy:, index[start : start + _CHUNK]], projector)
        sd = block.std(axis=0)
        sd[sd == 0] = 1.0
        block /= sd
        gram += block @ block.T
    return gram


def _compcor(gram: np.ndarray) -> _Components:
    """PCA (nipype CompCor) from the Gram matrix of the normalised voxel series.

    Its eigenvectors are the left singular vectors of the (n_steady, n_voxels) data and the
    square roots of its eigenvalues the singular values. Components are kept up to
    COMPCOR_VARIANCE of the variance (the first one reaching it included); each column has
    unit norm and the sign that makes its largest absolute value positive.
    """
    eigenvalues, u = np.linalg.eigh(gram)
    eigenvalues, u = eigenvalues[::-1], u[:, ::-1]
    rank = int(np.sum(eigenvalues > eigenvalues[0] * 1e-12)) if eigenvalues[0] > 0 else 0
    s, u = np.sqrt(eigenvalues[:rank]), u[:, :rank]
    cumulative = np.cumsum(s**2) / np.sum(s**2)
    retained = min(int(np.searchsorted(cumulative, COMPCOR_VARIANCE)) + 1, rank)
    signs = np.sign(u[np.abs(u).argmax(axis=0), np.arange(rank)])
    return _Components(u[:, :retained] * signs[:retained], s, retained)


def _compcor_metadata(
    components: dict[str, _Components], masks: dict[str, str | None]
) -> dict[str, dict[str, Any]]:
    """JSON entries of every component: retained as ``<prefix>XX``, others ``dropped_N``."""
    meta: dict[str, dict[str, Any]] = {}
    dropped = 0
    for prefix, comp in components.items():
        variance = comp.singular_values**2 / np.sum(comp.singular_values**2)
        cumulative = np.cumsum(variance)
        for k, s in enumerate(comp.singular_values):
            entry: dict[str, Any] = {
                "Method": "tCompCor" if prefix == "t_comp_cor_" else "aCompCor",
                "SingularValue": float(s),
                "VarianceExplained": float(variance[k]),
                "CumulativeVarianceExplained": float(cumulative[k]),
                "Retained": k < comp.retained,
            }
            if masks[prefix] is not None:
                entry["Mask"] = masks[prefix]
            if k < comp.retained:
                meta[f"{prefix}{k:02d}"] = entry
            else:
                meta[f"dropped_{dropped}"] = entry
                dropped += 1
    return meta


# --------------------------------------------------------------------------- the dataset


@dataclass(frozen=True)
class _RunSpec:
    subject: str
    session: str | None
    task: str
    run: str | None

    @property
    def name(self) -> str:
        parts = [f"sub-{self.subject}"]
        if self.session is not None:
            parts.append(f"ses-{self.session}")
        parts.append(f"task-{self.task}")
        if self.run is not None:
            parts.append(f"run-{self.run}")
        return "_".join(parts)

    def func_dir(self, root: Path) -> Path:
        folder = root / f"sub-{self.subject}"
        if self.session is not None:
            folder = folder / f"ses-{self.session}"
        return folder / "func"


@dataclass(frozen=True)
class _Grid:
    """Everything shared by the runs: brain, masks, unit spatial patterns."""

    brain: syn.Brain
    region: Any  # syn._Region: voxels with structured signal
    mask_index: np.ndarray  # brain-mask voxels (Fortran order)
    tissue_index: dict[str, np.ndarray]  # CSF, WM, combined
    motion_unit: np.ndarray  # (6, n_region) float32, for a global scale of 1
    edge_unit: np.ndarray  # (n_region,) |grad baseline| (intensity per mm)
    nss_ratio: np.ndarray  # (n_region,) excess brightness of the first volume
    centre: np.ndarray  # brain centroid, world mm

    @property
    def n_voxels(self) -> int:
        return int(np.prod(self.brain.shape))


@dataclass(frozen=True)
class _Subject:
    label: str
    scale: float
    maps: np.ndarray
    spike_fd: float
    shifts: np.ndarray  # (n_networks, 3) canonical mm


@dataclass(frozen=True)
class _Settings:
    n_volumes: int
    t_r: float
    n_dummy: int
    n_spikes: int
    coupling: float
    noise: float
    seed: int


def make_fmriprep_dataset(
    root: Path | str,
    *,
    n_subjects: int = 6,
    sessions: Sequence[str | None] = (None,),
    tasks: Sequence[str] = ("rest",),
    runs: Sequence[int | str | None] = (1,),
    extra_task: str | None = None,
    shape: Sequence[int] = (20, 24, 20),
    n_volumes: int = 80,
    t_r: float = 2.0,
    n_networks: int = 4,
    high_motion_subjects: Sequence[str] = (),
    n_spikes: int = 0,
    n_dummy: int = 0,
    coupling: float = 0.0,
    subject_shift_mm: float = 0.0,
    dtype: Literal["float32", "int16"] = "float32",
    space: str = "MNI152NLin2009cAsym",
    res: str | None = None,
    voxel_mm: float | None = None,
    noise: float = 1.0,
    seed: int = 0,
) -> PlantedDataset:
    """Write an fMRIPrep-like derivatives tree with planted truths.

    Parameters
    ----------
    root : path-like
        Derivatives folder (created).
    n_subjects : int, default=6
        Labels ``01``, ``02``, ...; odd ones are children, even ones adults.
    sessions : sequence of str or None, default=(None,)
        Session labels; ``(None,)`` writes no ``ses`` entity.
    tasks : sequence of str, default=("rest",)
    runs : sequence of int, str or None, default=(1,)
        Run labels (``run-1``); ``(None,)`` writes no ``run`` entity.
    extra_task : str, optional
        Another task with the same sessions and runs (for task filtering).
    shape : sequence of 3 int, default=(20, 24, 20)
    n_volumes : int, default=80
    t_r : float, default=2.0
    n_networks : int, default=4
    high_motion_subjects : sequence of str, default=()
        Labels (with or without ``sub-``) whose runs all move a lot.
    n_spikes : int, default=0
        Motion spikes per run.
    n_dummy : int, default=0
        Leading non-steady-state volumes per run.
    coupling : float, default=0.0
        Correlation of networks 0 and 1 in adults, in [0, 1].
    subject_shift_mm : float, default=0.0
        Largest displacement (canonical mm) of a subject's network from the group network,
        at most 30.
    dtype : {"float32", "int16"}, default="float32"
        On-disk type of the BOLD runs; int16 is scaled (``scl_slope``, ``scl_inter``).
    space : str, default="MNI152NLin2009cAsym"
    res : str, optional
        ``res`` entity (e.g. ``"2"``); none by default.
    voxel_mm : float, optional
        Voxel size; default ``float(res)`` when ``res`` is a number (templateflow's MNI
        resolutions are millimetres), else 4 mm.
    noise : float, default=1.0
        Scale of the Gaussian noise (as :func:`netregions.data.synthetic.make_subject`).
    seed : int, default=0

    Returns
    -------
    PlantedDataset

    Raises
    ------
    ValueError
        On a bad label, an unknown high-motion subject, a coupling outside [0, 1], or spikes
        and dummy scans that do not fit in ``n_volumes``.

    Notes
    -----
    Every run depends only on (seed, its entities, the parameters), so a dataset generated in
    another order, or with more subjects, has the same runs. See
    docs/methods/synthetic_data.md for the planted truths and the confound definitions.
    """
    root = Path(root)
    subjects = syn.synthetic_subjects(n_subjects)
    high_motion = _check_arguments(
        subjects, sessions, tasks, runs, extra_task, high_motion_subjects, space, res
    )
    settings = _Settings(n_volumes, float(t_r), n_dummy, n_spikes, float(coupling), noise, seed)
    _check_settings(settings, shape, dtype, subject_shift_mm)
    voxel = voxel_mm if voxel_mm is not None else _voxel_from_res(res)
    affine = syn.grid_affine(shape, voxel)
    grid = _make_grid(syn.make_brain(shape, affine))
    networks = syn.place_networks(n_networks, syn._truth_rng(seed))
    truth_dir = root / TRUTH_DIR
    group_maps = syn.make_network_maps(grid.brain, networks)
    paths = _write_dataset_files(root, grid, group_maps, subjects, seed)

    entity = f"space-{space}" + (f"_res-{res}" if res is not None else "")
    all_tasks = [*tasks, *([extra_task] if extra_task else [])]
    planted_runs: list[PlantedRun] = []
    subject_maps: dict[str, Path] = {}
    shifts: dict[str, list[list[float]]] = {}
    for label in subjects:
        subject = _make_subject(grid, networks, label, subject_shift_mm, seed)
        subject_maps[label] = save_nifti(
            subject.maps, affine, truth_dir / f"sub-{label}_desc-truth_networks.nii.gz"
        )
        shifts[label] = subject.shifts.round(3).tolist()
        for spec in _run_specs(label, sessions, all_tasks, runs):
            moving = label in high_motion
            planted_runs.append(
                _write_run(root, grid, subject, spec, moving, settings, entity, dtype)
            )
    dataset = PlantedDataset(
        root=root,
        runs=planted_runs,
        participants=paths["participants"],
        group={label: syn.subject_group(label) for label in subjects},
        coupled_networks=syn.COUPLED_NETWORKS,
        network_maps=paths["maps"],
        subject_maps=subject_maps,
        t_r=float(t_r),
        coupling=float(coupling),
        high_motion_subjects=tuple(sorted(high_motion)),
        n_dummy=n_dummy,
        compcor_masks=paths["compcor"],
        truth=truth_dir / PLANTED_JSON,
    )
    _write_json(dataset.truth, _planted_json(dataset, settings, subject_shift_mm, shifts))
    return dataset


def _run_specs(subject: str, sessions, tasks, runs) -> list[_RunSpec]:
    """The runs of one subject, in order: session, task, run."""
    return [
        _RunSpec(subject, session, task, None if run is None else str(run))
        for session in sessions
        for task in tasks
        for run in runs
    ]


def _check_arguments(subjects, sessions, tasks, runs, extra_task, high_motion, space, res):
    """Check the labels; return the high-motion subject labels (without ``sub-``)."""
    labels = {
        "sessions": [s for s in sessions if s is not None],
        "tasks": list(tasks),
        "runs": [str(r) for r in runs if r is not None],
        "extra_task": [extra_task] if extra_task is not None else [],
        "space": [space],
        "res": [res] if res is not None else [],
    }
    for what, values in labels.items():
        bad = [v for v in values if not _LABEL.fullmatch(str(v))]
        if bad:
            raise ValueError(f"{what}: BIDS labels are letters and digits only, got {bad}")
    for what, values in (("sessions", sessions), ("tasks", tasks), ("runs", runs)):
        if len(values) == 0 or len(set(values)) != len(values):
            raise ValueError(f"{what} must be non-empty and distinct, got {list(values)}")
    if (None in sessions and len(sessions) > 1) or (None in runs and len(runs) > 1):
        raise ValueError("None (no entity) must be the only session / run label")
    if extra_task is not None and extra_task in tasks:
        raise ValueError(f"extra_task {extra_task!r} is already one of the tasks {list(tasks)}")
    chosen = {str(s).removeprefix("sub-") for s in high_motion}
    unknown = sorted(chosen - set(subjects))
    if unknown:
        raise ValueError(f"high_motion_subjects {unknown} are not among {subjects}")
    return chosen


def _check_settings(settings: _Settings, shape, dtype, subject_shift_mm) -> None:
    if dtype not in ("float32", "int16"):
        raise ValueError(f"dtype must be 'float32' or 'int16', got {dtype!r}")
    if len(shape) != 3 or min(shape) < 4:
        raise ValueError(f"shape must be 3 sizes of at least 4 voxels, got {tuple(shape)}")
    if not 0.0 <= settings.coupling <= 1.0:
        raise ValueError(f"coupling must be in [0, 1], got {settings.coupling}")
    if not 0 <= subject_shift_mm <= MAX_SUBJECT_SHIFT_MM:
        raise ValueError(
            f"subject_shift_mm must be in [0, {MAX_SUBJECT_SHIFT_MM}] (blobs must stay in the "
            f"brain), got {subject_shift_mm}"
        )
    if not 0 <= settings.n_dummy <= settings.n_volumes - 10:
        raise ValueError(
            f"n_dummy must leave at least 10 steady volumes of {settings.n_volumes}, "
            f"got {settings.n_dummy}"
        )
    _spike_window(settings)  # raises when the spikes do not fit


def _voxel_from_res(res: str | None) -> float:
    if res is not None and res.isdigit() and int(res) > 0:
        return float(res)
    return syn.VOXEL_MM


def _spike_window(settings: _Settings) -> tuple[int, int]:
    """First allowed spike volume and the number of free slots once the spacing is reserved."""
    first = max(SPIKE_MARGIN, settings.n_dummy)
    last = settings.n_volumes - 1 - SPIKE_MARGIN
    slots = last - first + 1 - (SPIKE_SPACING - 1) * max(settings.n_spikes - 1, 0)
    if settings.n_spikes < 0 or (settings.n_spikes > 0 and slots < settings.n_spikes):
        raise ValueError(
            f"{settings.n_spikes} spikes {SPIKE_SPACING} volumes apart do not fit between "
            f"volumes {first} and {last} of {settings.n_volumes}"
        )
    return first, slots


# --------------------------------------------------------------------------- shared parts


def _make_grid(brain: syn.Brain) -> _Grid:
    from scipy import ndimage

    region = syn._Region(ndimage.binary_dilation(brain.baseline > 0))
    motion = syn._motion_patterns(brain.baseline, brain.affine)
    motion_unit = np.stack([region.take(p) for p in motion]).astype(np.float32)
    del motion
    voxel = np.sqrt((brain.affine[:3, :3] ** 2).sum(axis=0))
    edge = np.sqrt(sum(g**2 for g in np.gradient(brain.baseline, *voxel)))
    excess = sum(NSS_EXCESS[k] * syn.TISSUE_INTENSITY[k] * f for k, f in _fractions(brain))
    plain = sum(syn.TISSUE_INTENSITY[k] * f for k, f in _fractions(brain))
    ratio = np.divide(excess, plain, out=np.zeros_like(plain), where=plain > 0)
    mask = brain.mask
    coords = syn._world_coordinates(brain.shape, brain.affine)
    return _Grid(
        brain=brain,
        region=region,
        mask_index=np.flatnonzero(mask.ravel(order="F")),
        tissue_index=_compcor_masks(brain),
        motion_unit=motion_unit,
        edge_unit=region.take(edge).astype(np.float32),
        nss_ratio=region.take(ratio).astype(np.float32),
        centre=coords[:, mask].mean(axis=1),
    )


def _fractions(brain: syn.Brain):
    return ((syn.GREY, brain.grey), (syn.WHITE, brain.white), (syn.CSF, brain.csf))


def _compcor_masks(brain: syn.Brain, minimum: int = 5) -> dict[str, np.ndarray]:
    """CSF (ventricles, fraction >= 0.75) and eroded pure-WM masks, and their union.

    Each mask falls back to the ``minimum`` voxels richest in the tissue when too few voxels
    qualify (tiny test grids).
    """
    from scipy import ndimage

    inside = brain.mask
    wm = ndimage.binary_erosion(brain.white >= 0.999) & inside
    masks = {"CSF": (brain.csf >= 0.75) & inside, "WM": wm}
    fractions = {"CSF": brain.csf, "WM": brain.white}
    out = {}
    for name, mask in masks.items():
        if mask.sum() < minimum:
            order = np.argsort(-fractions[name].ravel(order="F"), kind="stable")
            flat = np.zeros(mask.size, dtype=bool)
            flat[order[:minimum]] = True
            out[name] = np.flatnonzero(flat)
        else:
            out[name] = np.flatnonzero(mask.ravel(order="F"))
    out["WM"] = np.setdiff1d(out["WM"], out["CSF"])  # disjoint: a voxel is CSF or WM
    out["combined"] = np.union1d(out["CSF"], out["WM"])
    return out


def _make_subject(grid: _Grid, networks, label: str, shift_mm: float, seed: int) -> _Subject:
    """A subject's global scale, shifted networks and spike size (from (seed, label))."""
    root = np.random.SeedSequence(entropy=seed, spawn_key=(2, syn._subject_number(label)))
    rng = dict(zip(_SUBJECT_STREAMS, map(np.random.default_rng, root.spawn(3)), strict=True))
    scale = math.exp(rng["scale"].normal(0.0, 0.1))
    shifted, shifts = [], []
    for network in networks:
        n_blobs = len(network.centres)
        direction = rng["maps"].standard_normal(3)
        direction /= np.linalg.norm(direction)
        shift = direction * shift_mm * rng["maps"].random() ** (1 / 3)  # uniform in the ball
        fwhm = rng["maps"].uniform(0.9, 1.1, n_blobs)
        weights = rng["maps"].uniform(0.85, 1.0, n_blobs)
        if shift_mm > 0:
            network = syn.Network(
                network.centres + shift, network.fwhm * fwhm, network.weights * weights
            )
        shifted.append(network)
        shifts.append(shift if shift_mm > 0 else np.zeros(3))
    maps = syn.make_network_maps(grid.brain, shifted)
    spike_fd = float(rng["spikes"].uniform(*SPIKE_FD))
    return _Subject(label, scale, maps, spike_fd, np.array(shifts))


def _write_dataset_files(root: Path, grid: _Grid, maps: np.ndarray, subjects, seed: int):
    """dataset_description.json, participants.tsv, .bidsignore, group maps, CompCor masks."""
    affine = grid.brain.affine
    description = {
        "Name": "netregions synthetic fMRIPrep derivatives",
        "BIDSVersion": "1.9.0",
        "DatasetType": "derivative",
        "GeneratedBy": [
            {
                "Name": "fMRIPrep",
                "Version": FMRIPREP_VERSION,
                "Description": "imitated by netregions.data.synthetic_fmriprep "
                "(synthetic data with planted truths, not an fMRIPrep run)",
            }
        ],
    }
    _write_json(root / "dataset_description.json", description)
    with atomic_path(root / ".bidsignore") as tmp:
        tmp.write_text(f"{TRUTH_DIR}/\n")
    participants = syn._write_participants_table(
        root / syn.PARTICIPANTS_NAME, syn.participants_rows(subjects, seed)
    )
    truth = root / TRUTH_DIR
    compcor = {}
    for name, index in grid.tissue_index.items():
        volume = np.zeros(grid.n_voxels, dtype=np.uint8)
        volume[index] = 1
        volume = volume.reshape(grid.brain.shape, order="F")
        compcor[name] = save_nifti(volume, affine, truth / f"label-{name}_desc-compcor_mask.nii.gz")
    return {
        "participants": participants,
        "maps": save_nifti(maps, affine, truth / "desc-group_networks.nii.gz"),
        "compcor": compcor,
    }


# --------------------------------------------------------------------------- one run


def _run_streams(seed: int, name: str) -> dict[str, np.random.SeedSequence]:
    root = np.random.SeedSequence(entropy=seed, spawn_key=(3, zlib.crc32(name.encode())))
    return dict(zip(_RUN_STREAMS, root.spawn(len(_RUN_STREAMS)), strict=True))


def _spike_volumes(settings: _Settings, rng: np.random.Generator) -> np.ndarray:
    """``n_spikes`` sorted volumes, SPIKE_MARGIN from both ends, SPIKE_SPACING apart."""
    if settings.n_spikes == 0:
        return np.zeros(0, dtype=int)
    first, slots = _spike_window(settings)
    picks = np.sort(rng.choice(slots, settings.n_spikes, replace=False))
    return first + picks + (SPIKE_SPACING - 1) * np.arange(settings.n_spikes)


def _bursts(n_volumes: int, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of motion bursts (segments of 3-8 volumes) covering about half the run."""
    burst = np.zeros(n_volumes, dtype=bool)
    target = round(HIGH_MOTION_BURSTS * (n_volumes - 1))
    while burst[1:].sum() < target:
        start, length = rng.integers(1, n_volumes), rng.integers(3, 9)
        burst[start : start + length] = True
    return burst


def _power_norm(step: np.ndarray) -> float:
    return float(np.abs(step[:3]).sum() + syn.FD_RADIUS_MM * np.abs(step[3:]).sum())


def _planted_motion(
    n_volumes: int,
    rng: np.random.Generator,
    high_motion: bool,
    spikes: np.ndarray,
    spike_fd: np.ndarray,
) -> np.ndarray:
    """Realignment parameters (n_volumes, 6): a random walk, bursts, and spikes (steps).

    A spike replaces the step into its volume by a random direction of Power norm
    ``spike_fd``: the head jumps and stays, so the FD of that volume is the spike size.
    """
    level = math.exp(rng.uniform(-0.2, 0.2))
    steps = rng.standard_normal((n_volumes, 6)) * MOTION_STEP_SD * level
    if high_motion:
        steps[_bursts(n_volumes, rng)] *= HIGH_MOTION_FACTOR
    for t, fd in zip(spikes, spike_fd, strict=True):
        direction = rng.standard_normal(6) * MOTION_STEP_SD
        steps[t] = direction * fd / _power_norm(direction)
    steps[0] = 0.0
    drift = np.outer(np.linspace(0.0, 1.0, n_volumes), rng.normal(0.0, 1.0, 6))
    return np.cumsum(steps, axis=0) + drift * MOTION_STEP_SD * 5 / n_volumes


def _artefact_amplitude(fd: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Spin-history jump (% of baseline) per volume: gain x (FD - onset)+, random sign."""
    excess = np.clip(np.nan_to_num(fd) - ARTEFACT_ONSET_MM, 0.0, None)
    return ARTEFACT_GAIN * excess * rng.choice([-1.0, 1.0], fd.size)


@dataclass(frozen=True)
class _Run:
    data: np.ndarray  # (T, V) float32, voxels in Fortran order
    timecourses: np.ndarray  # (T, K) percent
    motion: np.ndarray  # (T, 6)
    spikes: np.ndarray
    spike_fd: np.ndarray


def _generate_run(
    grid: _Grid, subject: _Subject, spec: _RunSpec, high_motion: bool, settings: _Settings
) -> _Run:
    """Generate one run's data a few volumes at a time (low-rank signal + noise)."""
    streams = _run_streams(settings.seed, spec.name)
    rng = {k: np.random.default_rng(v) for k, v in streams.items() if k != "noise"}
    n, t_r = settings.n_volumes, settings.t_r
    spikes = _spike_volumes(settings, rng["spikes"])
    spike_fd = subject.spike_fd * rng["spikes"].uniform(0.95, 1.05, spikes.size)
    motion = _planted_motion(n, rng["motion"], high_motion, spikes, spike_fd)
    artefact = _artefact_amplitude(syn.framewise_displacement(motion), rng["artefact"])
    coupling = syn._group_coupling(subject.label, settings.coupling)
    n_networks = subject.maps.shape[-1]
    amplitudes = rng["amplitudes"].uniform(*syn.NETWORK_AMPLITUDE, n_networks)
    timecourses = amplitudes * syn._network_timecourses(n, n_networks, t_r, rng, coupling)
    temporal, spatial, baseline = _sources(
        grid, subject, rng, (timecourses, motion, artefact), settings
    )
    data = np.empty((n, grid.n_voxels), dtype=np.float32)
    noise_rng = np.random.Generator(np.random.SFC64(streams["noise"]))
    sigma = settings.noise * (syn.NOISE_FLOOR + syn.NOISE_FRACTION * grid.brain.baseline)
    sigma = sigma.ravel(order="F").astype(np.float32)
    block = max(1, 8_000_000 // grid.n_voxels)  # ~32 MB of volumes at a time
    for start in range(0, n, block):
        chunk = data[start : start + block]
        if settings.noise > 0:
            noise_rng.standard_normal(dtype=np.float32, out=chunk)
            chunk *= sigma
        else:
            chunk[:] = 0.0
        signal = temporal[start : start + block] @ spatial
        signal += baseline
        chunk[:, grid.region.index] += signal
    return _Run(data, timecourses, motion, spikes, spike_fd)


def _sources(grid, subject, rng, signals, settings):
    """Time courses (T, k) and spatial patterns (k, n_region) of every structured source.

    ``signals`` are the network time courses, the motion and the artefact amplitudes; the
    physiological and drift sources are drawn here.
    """
    timecourses, motion, artefact = signals
    n, t_r = settings.n_volumes, settings.t_r
    physio = syn._orthonormal(syn._lowpass_noise(n, 6, t_r, 0.2, rng["physio"]))
    csf = syn._lowpass_noise(n, 1, t_r, 0.5 / t_r, rng["physio"])[:, 0]
    white_matter = syn._lowpass_noise(n, 1, t_r, 0.05, rng["physio"])[:, 0]
    t = np.linspace(-1.0, 1.0, n)
    percent = np.column_stack(
        [timecourses, physio * math.sqrt(n), csf, white_matter, t, 1.5 * t**2 - 0.5]
    )
    baseline = (subject.scale * grid.region.take(grid.brain.baseline)).astype(np.float32)
    patterns = syn._percent_patterns(grid.brain, subject.maps, grid.region, rng)
    nss = np.where(np.arange(n) < settings.n_dummy, NSS_DECAY ** np.arange(n), 0.0)
    temporal = np.column_stack(
        [percent, syn.MOTION_RESIDUAL * (motion - motion.mean(axis=0)), artefact, nss]
    ).astype(np.float32)
    spatial = np.concatenate(
        [
            patterns * (baseline / np.float32(100.0)),
            subject.scale * grid.motion_unit,
            _artefact_pattern(baseline, subject.scale * grid.edge_unit)[None],
            (baseline * grid.nss_ratio)[None],
        ]
    ).astype(np.float32)
    return temporal, spatial, baseline


def _artefact_pattern(baseline: np.ndarray, edge: np.ndarray) -> np.ndarray:
    """Intensity change per % of artefact: 1 % of the baseline plus an edge term."""
    return baseline / np.float32(100.0) + np.float32(ARTEFACT_EDGE_MM) * edge


# --------------------------------------------------------------------------- confounds


def _confounds(grid: _Grid, run: _Run, settings: _Settings):
    """The full confounds table (names, (T, n) array with NaN) and its JSON metadata."""
    data, n_dummy = run.data, settings.n_dummy
    n = data.shape[0]
    steady = n - n_dummy
    cosines = cosine_basis(steady, settings.t_r)
    projector = _orthonormal_highpass(cosines)
    masked = data[:, grid.mask_index]
    means = {
        "global_signal": masked.mean(axis=1, dtype=np.float64),
        "csf": data[:, grid.tissue_index["CSF"]].mean(axis=1, dtype=np.float64),
        "white_matter": data[:, grid.tissue_index["WM"]].mean(axis=1, dtype=np.float64),
        "csf_wm": data[:, grid.tissue_index["combined"]].mean(axis=1, dtype=np.float64),
    }
    t_index = grid.mask_index[_tcompcor_voxels(masked, n_dummy, projector)]
    means["tcompcor"] = data[:, t_index].mean(axis=1, dtype=np.float64)
    grams = {
        "t_comp_cor_": _compcor_gram(data, t_index, n_dummy, projector),
        "c_comp_cor_": _compcor_gram(data, grid.tissue_index["CSF"], n_dummy, projector),
        "w_comp_cor_": _compcor_gram(data, grid.tissue_index["WM"], n_dummy, projector),
    }
    # the CSF and WM masks are disjoint (_compcor_masks): the union's Gram matrix is the sum
    grams["a_comp_cor_"] = grams["c_comp_cor_"] + grams["w_comp_cor_"]
    components = {prefix: _compcor(gram) for prefix, gram in grams.items()}
    raw_dvars, std_dvars = dvars(masked)
    del masked
    fd = syn.framewise_displacement(run.motion)
    columns: dict[str, np.ndarray] = {}
    order = ("", "_derivative1", "_derivative1_power2", "_power2")
    for name in TISSUE_COLUMNS:
        columns.update(_expand(name, means[name], order))
    columns.update({"csf_wm": means["csf_wm"], "tcompcor": means["tcompcor"]})
    columns.update({"std_dvars": std_dvars, "dvars": raw_dvars, "framewise_displacement": fd})
    columns["rmsd"] = relative_rms(run.motion, grid.centre)
    for prefix, comp in components.items():
        for k in range(comp.retained):
            columns[f"{prefix}{k:02d}"] = _pad(comp.columns[:, k], n_dummy)
    for k in range(cosines.shape[1]):
        columns[f"cosine{k:02d}"] = _pad(cosines[:, k], n_dummy)
    columns.update(_one_hot("non_steady_state_outlier", np.arange(n_dummy), n))
    motion_order = ("", "_derivative1", "_power2", "_derivative1_power2")
    for k, name in enumerate(MOTION_COLUMNS):
        columns.update(_expand(name, run.motion[:, k], motion_order))
    columns.update(_one_hot("motion_outlier", _motion_outliers(fd, std_dvars), n))
    metadata = _compcor_metadata(components, COMPCOR_MASK_NAMES)
    for name in (*TISSUE_COLUMNS, "csf_wm", "tcompcor"):
        metadata[name] = {"Method": "Mean"}
    return list(columns), np.column_stack(list(columns.values())), metadata


def _motion_outliers(fd: np.ndarray, std_dvars: np.ndarray) -> np.ndarray:
    """Volumes with FD > 0.5 mm or std_dvars > 1.5 (NaN never flags)."""
    fd_high = np.nan_to_num(fd) > FD_SPIKE_THRESHOLD
    return np.flatnonzero(fd_high | (np.nan_to_num(std_dvars) > DVARS_SPIKE_THRESHOLD))


def _tcompcor_voxels(masked: np.ndarray, n_dummy: int, projector: np.ndarray) -> np.ndarray:
    """Columns of ``masked`` with the top TCOMPCOR_FRACTION high-passed temporal SD."""
    sd = np.empty(masked.shape[1])
    for start in range(0, sd.size, _CHUNK):
        block = _highpass(masked[n_dummy:, start : start + _CHUNK], projector)
        sd[start : start + block.shape[1]] = block.std(axis=0)
    n_keep = max(2, int(round(TCOMPCOR_FRACTION * sd.size)))
    return np.sort(np.argsort(-sd, kind="stable")[:n_keep])


def _pad(values: np.ndarray, n_dummy: int) -> np.ndarray:
    """Zeros in the rows of the dummy scans, as fMRIPrep writes CompCor and cosines."""
    return np.concatenate([np.zeros(n_dummy), values])


def _one_hot(prefix: str, volumes: np.ndarray, n: int) -> dict[str, np.ndarray]:
    out = {}
    for k, t in enumerate(volumes):
        column = np.zeros(n)
        column[t] = 1.0
        out[f"{prefix}{k:02d}"] = column
    return out


# --------------------------------------------------------------------------- writing


def _write_run(
    root: Path,
    grid: _Grid,
    subject: _Subject,
    spec: _RunSpec,
    high_motion: bool,
    settings: _Settings,
    entity: str,
    dtype: str,
) -> PlantedRun:
    run = _generate_run(grid, subject, spec, high_motion, settings)
    names, table, metadata = _confounds(grid, run, settings)
    folder = spec.func_dir(root)
    stem = f"{folder / spec.name}_{entity}"
    bold = Path(f"{stem}_desc-preproc_bold.nii.gz")
    _write_bold(bold, run.data, grid.brain, settings.t_r, dtype)
    sidecar = _write_json(
        bold.with_name(bold.name.replace(".nii.gz", ".json")),
        {
            "RepetitionTime": settings.t_r,
            "TaskName": spec.task,
            "SkullStripped": False,
            "SliceTimingCorrected": False,
        },
    )
    mask = save_nifti(
        grid.brain.mask.astype(np.uint8), grid.brain.affine, f"{stem}_desc-brain_mask.nii.gz"
    )
    confounds = syn.write_confounds(
        folder / f"{spec.name}_desc-confounds_timeseries.tsv", table, names
    )
    confounds_json = _write_json(confounds.with_suffix(".json"), metadata)
    truth = write_tsv(
        root / TRUTH_DIR / f"{spec.name}_desc-truth_timeseries.tsv",
        run.timecourses,
        [f"network_{k:02d}" for k in range(run.timecourses.shape[1])],
    )
    fd = table[:, names.index("framewise_displacement")]
    return PlantedRun(
        name=spec.name,
        subject=spec.subject,
        session=spec.session,
        task=spec.task,
        run=spec.run,
        bold=bold,
        confounds=confounds,
        sidecar=sidecar,
        mask=mask,
        high_motion=high_motion,
        spikes=tuple(int(t) for t in run.spikes),
        n_dummy=settings.n_dummy,
        mean_fd=float(np.nanmean(fd)),
        confounds_sidecar=confounds_json,
        censored_fraction=float(np.mean(np.nan_to_num(fd) > FD_SPIKE_THRESHOLD)),
        spike_fd=tuple(float(f) for f in run.spike_fd),
        timeseries=truth,
    )


def _write_bold(path: Path, data: np.ndarray, brain: syn.Brain, t_r: float, dtype: str) -> None:
    """Stream a (T, V) run to ``.nii.gz``; int16 gets nibabel's scl_slope / scl_inter."""
    import nibabel as nib
    from isal import igzip

    volumes = data.T.reshape((*brain.shape, data.shape[0]), order="F")  # a view, no copy
    img = nib.Nifti1Image(volumes, brain.affine)
    img.header.set_data_dtype(np.dtype(dtype))
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_zooms((*img.header.get_zooms()[:3], float(t_r)))
    code = "mni" if "MNI" in path.name else "aligned"
    img.set_qform(brain.affine, code=code)
    img.set_sform(brain.affine, code=code)
    with (
        atomic_path(path) as tmp,
        igzip.IGzipFile(tmp, "wb", compresslevel=GZIP_LEVEL, mtime=0) as f,
    ):
        img.to_stream(f)


def _write_json(path: Path | str, payload: dict) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return path


# --------------------------------------------------------------------------- truth file


def _planted_json(dataset: PlantedDataset, settings: _Settings, shift_mm, shifts) -> dict:
    root = dataset.root

    def rel(path: Path) -> str:
        return path.relative_to(root).as_posix()

    return {
        "seed": settings.seed,
        "n_volumes": settings.n_volumes,
        "t_r": dataset.t_r,
        "n_dummy": dataset.n_dummy,
        "coupling": dataset.coupling,
        "coupled_networks": list(dataset.coupled_networks),
        "group": dataset.group,
        "high_motion_subjects": list(dataset.high_motion_subjects),
        "subject_shift_mm": shift_mm,
        "subject_shifts_mm": shifts,
        "participants": rel(dataset.participants),
        "network_maps": rel(dataset.network_maps),
        "subject_maps": {s: rel(p) for s, p in dataset.subject_maps.items()},
        "compcor_masks": {k: rel(p) for k, p in dataset.compcor_masks.items()},
        "runs": [
            {
                key: (rel(value) if isinstance(value, Path) else value)
                for key, value in vars(run).items()
            }
            for run in dataset.runs
        ],
    }


def read_planted(root: Path | str) -> PlantedDataset:
    """Reload the :class:`PlantedDataset` of a tree written by :func:`make_fmriprep_dataset`.

    Parameters
    ----------
    root : path-like
        The derivatives folder (``truth/planted.json`` inside).

    Returns
    -------
    PlantedDataset
    """
    root = Path(root)
    truth = root / TRUTH_DIR / PLANTED_JSON
    info = json.loads(truth.read_text())
    path_fields = {
        "bold",
        "confounds",
        "sidecar",
        "mask",
        "confounds_sidecar",
        "timeseries",
    }
    runs = []
    for entry in info["runs"]:
        values = {k: (root / v if k in path_fields else v) for k, v in entry.items()}
        values["spikes"] = tuple(values["spikes"])
        values["spike_fd"] = tuple(values["spike_fd"])
        runs.append(PlantedRun(**values))
    return PlantedDataset(
        root=root,
        runs=runs,
        participants=root / info["participants"],
        group=info["group"],
        coupled_networks=tuple(info["coupled_networks"]),
        network_maps=root / info["network_maps"],
        subject_maps={s: root / p for s, p in info["subject_maps"].items()},
        t_r=info["t_r"],
        coupling=info["coupling"],
        high_motion_subjects=tuple(info["high_motion_subjects"]),
        n_dummy=info["n_dummy"],
        compcor_masks={k: root / p for k, p in info["compcor_masks"].items()},
        truth=truth,
    )
