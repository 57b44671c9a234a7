"""An offline, development-like fMRI dataset, deterministic from a seed.

Each subject is one 4D float32 run on a 4 mm MNI-like grid (default 50 x 59 x 50 voxels,
affine diag(4, 4, 4) with origin (-96, -132, -78), 168 volumes, TR 2 s) with:

- a brain-shaped baseline image (two hemispheres split by a mid-line fissure, cortex, white
  matter, deep grey nuclei, ventricles, cerebellum and brainstem; EPI-like intensities: CSF
  brighter than grey matter, grey brighter than white matter; signal drop-out near the sinuses;
  zero outside the brain);
- ``n_networks`` planted networks: each 3 or 4 smooth Gaussian blobs (FWHM 12-16 mm) centred in
  grey matter, often mirrored across x = 0, identical for all subjects, with band-limited
  (0.01-0.1 Hz) time courses, independent across subjects and networks (except the planted
  group difference below), of 2-3 % of the local baseline (standard deviation at the blob peak);
- nuisance signals with plausible spatial patterns, also written to an fMRIPrep-like confounds
  table: residual motion artefacts at intensity edges (6 realignment parameters and the
  framewise displacement), physiological noise (6 orthonormal aCompCor-like components), CSF
  pulsation and a white-matter signal (``csf`` and ``white_matter`` are the mean signals of
  those tissues, as fMRIPrep computes them), a slow drift, and Gaussian noise scaled by
  ``noise`` (about 1 % of the grey-matter baseline at ``noise=1``, temporal SNR ~100).

Signal budget (calibrated with nilearn's DictLearning, 8 components, 20 default subjects, seeds
0-4: all 8 planted networks found, spatial r ~0.85 each). Two things matter:

- A decomposition of z-scored, smoothed data (every voxel weighs the same) picks the sources
  that explain most variance summed over voxels. Spatially extended nuisance (white matter,
  drift, motion edges, ventricles) beats compact networks even at a fraction of a percent, so
  the nuisance sources are deliberately weaker than in real data (``*_AMPLITUDE`` constants).
- The online dictionary learning starts from batches of 20 random voxels and re-draws an atom
  at random when no voxel of the batch uses it. A network must therefore touch many voxels,
  not only be strong: each blob has a faint (20 %) halo 2.5 times wider than its Gaussian core,
  and networks have 3-4 blobs. Without the halo, 1 or 2 networks of 8 were lost per run.

Geometry. The brain model is written in "canonical" millimetres, i.e. MNI-like world
coordinates of the default grid. Any other grid sees the same brain scaled to its field of
view, so a tiny test grid (e.g. 20 x 24 x 20) holds a miniature of the default brain.

Groups (a planted group difference). Subjects alternate between two groups by their number:
odd labels ("01", "03", ...) are ``"child"`` (group A), even labels are ``"adult"`` (group B);
:func:`write_participants` writes them to ``participants.tsv`` with a plausible age and sex. In
group B the true time courses of networks :data:`COUPLED_NETWORKS` (0 and 1) share a common
band-limited signal: their correlation is exactly :data:`GROUP_COUPLING` (0.5) in every group-B
subject, while in group A they are independent (sample correlation ~0 +- 0.13 at 168 volumes).
Each coupled time course keeps unit variance, so the signal budget is unchanged; group-A
subjects are identical to what they were before groups existed. See
docs/methods/synthetic_data.md.

Determinism. Subject data depend only on (seed, subject label, parameters): every random
quantity is drawn from its own stream derived with :class:`numpy.random.SeedSequence` from the
seed and the subject's number, so subjects can be generated in any order or number, and the
noise level does not change the time courses or the motion. The group follows from the label
alone, age and sex from (seed, label).
"""

from __future__ import annotations

import csv
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from netregions.bids import write_json
from netregions.io import atomic_path, load_image, save_nifti, write_tsv
from netregions.naming import (  # noqa: F401 (synthetic_subjects re-exported)
    FUNC_SIDECAR_SUFFIX,
    FUNC_SUFFIX,
    REDUCED_CONFOUND_COLUMNS,
    REDUCED_CONFOUNDS_SUFFIX,
    synthetic_subjects,
)

__all__ = [
    "CONFOUND_COLUMNS",
    "COUPLED_NETWORKS",
    "DEFAULT_SHAPE",
    "GROUPS",
    "GROUP_COUPLING",
    "Brain",
    "Network",
    "Nuisance",
    "SyntheticSubject",
    "band_limited_timecourses",
    "canonical_coordinates",
    "couple_timecourses",
    "framewise_displacement",
    "grid_affine",
    "make_brain",
    "make_confounds",
    "make_dataset",
    "make_motion",
    "make_network_maps",
    "make_subject",
    "make_truth",
    "participants_rows",
    "place_networks",
    "subject_group",
    "subject_paths",
    "synthetic_subjects",
    "tissue_labels",
    "truth_paths",
    "write_confounds",
    "write_participants",
    "write_subject",
    "write_truth",
]

DEFAULT_SHAPE = (50, 59, 50)
VOXEL_MM = 4.0
MNI_ORIGIN = (-96.0, -132.0, -78.0)

#: The development dataset's reduced confounds, in this order.
CONFOUND_COLUMNS = REDUCED_CONFOUND_COLUMNS

#: Frequency band (Hz) of the network time courses (resting-state / movie BOLD fluctuations).
NETWORK_BAND = (0.01, 0.1)

#: Radius (mm) that turns rotations into arc lengths for the framewise displacement (Power 2012).
FD_RADIUS_MM = 50.0

# Tissue labels returned by tissue_labels().
BACKGROUND, GREY, WHITE, CSF = 0, 1, 2, 3

#: Canonical bounding box (mm, rows x, y, z) that contains every tissue of the brain model.
BRAIN_BOX = np.array([[-72.0, 72.0], [-108.0, 74.0], [-70.0, 80.0]])

# Baseline EPI intensities (T2*-weighted: CSF > grey > white), around 1000.
TISSUE_INTENSITY = {GREY: 1000.0, WHITE: 820.0, CSF: 1350.0}

# BOLD sensitivity of each tissue: networks live in grey matter; white matter gets half as much
# (at 4 mm most voxels mix both tissues).
NETWORK_TISSUE_WEIGHT = {GREY: 1.0, WHITE: 0.5}

# Amplitudes: standard deviation over time in % of the local baseline unless noted. Networks
# must dominate the spatially extended nuisance sources, or a decomposition of z-scored data
# (every voxel weighs the same) finds the nuisance patterns instead.
NETWORK_AMPLITUDE = (2.0, 3.0)  # uniform range, per subject and network, at map value 1
BLOB_FWHM = (11.0, 14.4)  # mm, Gaussian core; with the halo the FWHM is 12.2-16 mm
BLOB_HALO = (0.2, 2.5)  # relative height and width of a faint halo around each blob
COMPCOR_AMPLITUDE = 0.1  # first physiological component; each next one x 0.75
CSF_AMPLITUDE = 0.25  # pulsation in pure CSF voxels
WHITE_MATTER_AMPLITUDE = 0.03  # slow signal in pure white-matter voxels
DRIFT_AMPLITUDE = (0.02, 0.02)  # coefficient of each Legendre polynomial: global, varying part
MOTION_RESIDUAL = 0.015  # fraction of the motion-induced intensity change left by realignment
# Gaussian noise at noise=1: a thermal floor (intensity units, also outside the brain) plus a
# part proportional to the baseline; about 1 % of grey matter (temporal SNR ~100).
NOISE_FLOOR = 4.0
NOISE_FRACTION = 0.006

# Random streams of one subject (indices into SeedSequence.spawn); fixed so that adding a
# stream never changes the others (new streams go at the end).
_STREAMS = (
    "scale",
    "timecourses",
    "motion",
    "physio",
    "drift",
    "noise",
    "amplitudes",
    "coupling",
    "participant",
)

#: The two groups: group A (networks independent), group B (networks coupled).
GROUPS = ("child", "adult")

#: Networks whose true time courses share a common signal in group B.
COUPLED_NETWORKS = (0, 1)

#: Correlation of the coupled networks' true time courses in group B.
GROUP_COUPLING = 0.5

#: Age range (years) drawn uniformly for each group (the development dataset's children are
#: 3-12, its adults 18-39).
GROUP_AGES = {"child": (3.5, 12.0), "adult": (18.0, 39.0)}

FUNC_TEMPLATE = "sub-{subject}" + FUNC_SUFFIX
SIDECAR_TEMPLATE = "sub-{subject}" + FUNC_SIDECAR_SUFFIX
CONFOUNDS_TEMPLATE = "sub-{subject}" + REDUCED_CONFOUNDS_SUFFIX
TRUTH_TIMESERIES_TEMPLATE = "sub-{subject}_task-pixar_desc-truth_timeseries.tsv"
TRUTH_MAPS_NAME = "truth_networks.nii.gz"
TRUTH_BRAIN_NAME = "truth_brainmask.nii.gz"
PARTICIPANTS_NAME = "participants.tsv"


# --------------------------------------------------------------------------- labels, paths


def truth_paths(data_dir: Path | str) -> dict[str, Path]:
    """Paths of the ground-truth files shared by all subjects (keys ``maps``, ``brain``)."""
    data_dir = Path(data_dir)
    return {"maps": data_dir / TRUTH_MAPS_NAME, "brain": data_dir / TRUTH_BRAIN_NAME}


def subject_paths(data_dir: Path | str, subject: str) -> dict[str, Path]:
    """Paths of one subject's files (keys ``bold``, ``sidecar``, ``confounds``, ``truth``)."""
    data_dir = Path(data_dir)
    return {
        "bold": data_dir / FUNC_TEMPLATE.format(subject=subject),
        "sidecar": data_dir / SIDECAR_TEMPLATE.format(subject=subject),
        "confounds": data_dir / CONFOUNDS_TEMPLATE.format(subject=subject),
        "truth": data_dir / TRUTH_TIMESERIES_TEMPLATE.format(subject=subject),
    }


def _subject_number(subject: str) -> int:
    """Stable integer of a label: "07" -> 7; other labels -> a CRC32 above 2**32."""
    if subject.isdigit():
        return int(subject)
    # offset so that non-numeric labels never collide with numeric ones
    return 2**32 + zlib.crc32(subject.encode())


def _subject_streams(seed: int, subject: str) -> dict[str, np.random.SeedSequence]:
    root = np.random.SeedSequence(entropy=seed, spawn_key=(1, _subject_number(subject)))
    return dict(zip(_STREAMS, root.spawn(len(_STREAMS)), strict=True))


def _truth_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(0,)))


# --------------------------------------------------------------------------- groups


def subject_group(subject: str) -> str:
    """The planted group of a subject label.

    Groups alternate by subject number, so that any number of subjects is balanced (within
    one) and a subject's group never depends on the other subjects or on the seed.

    Parameters
    ----------
    subject : str
        Label without ``sub-``, e.g. ``"07"``; non-numeric labels use a CRC32 of the label.

    Returns
    -------
    str
        ``"child"`` (group A, odd numbers) or ``"adult"`` (group B, even numbers; networks
        :data:`COUPLED_NETWORKS` coupled).
    """
    return GROUPS[1] if _subject_number(subject) % 2 == 0 else GROUPS[0]


def participants_rows(subjects: Sequence[str], seed: int = 0) -> list[dict[str, str]]:
    """BIDS ``participants.tsv`` rows of synthetic subjects: id, group, age, sex.

    Parameters
    ----------
    subjects : sequence of str
        Labels without ``sub-``.
    seed : int
        Dataset seed; with the label it selects the subject's age and sex.

    Returns
    -------
    list of dict
        Keys ``participant_id`` (``sub-<label>``), ``group`` (:func:`subject_group`), ``age``
        (years, 2 decimals, uniform in :data:`GROUP_AGES` of the group) and ``sex`` (``M`` or
        ``F``, equally likely).
    """
    rows = []
    for subject in subjects:
        group = subject_group(subject)
        rng = np.random.default_rng(_subject_streams(seed, subject)["participant"])
        age = rng.uniform(*GROUP_AGES[group])
        sex = "F" if rng.random() < 0.5 else "M"
        rows.append(
            {"participant_id": f"sub-{subject}", "group": group, "age": f"{age:.2f}", "sex": sex}
        )
    return rows


def write_participants(data_dir: Path | str, n_subjects: int, seed: int = 0) -> Path:
    """Write ``participants.tsv`` (BIDS) for the first ``n_subjects`` synthetic subjects.

    Parameters
    ----------
    data_dir : path-like
    n_subjects : int
        At least 1; labels as :func:`synthetic_subjects`.
    seed : int

    Returns
    -------
    Path
        ``<data_dir>/participants.tsv`` with columns ``participant_id``, ``group``, ``age``,
        ``sex`` (see :func:`participants_rows`).
    """
    return _write_participants_table(
        Path(data_dir) / PARTICIPANTS_NAME,
        participants_rows(synthetic_subjects(n_subjects), seed),
    )


def _write_participants_table(path: Path, rows: Sequence[dict[str, str]]) -> Path:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def couple_timecourses(
    timecourses: np.ndarray,
    shared: np.ndarray,
    coupling: float,
    pair: tuple[int, int] = COUPLED_NETWORKS,
) -> np.ndarray:
    """Make two columns share a common signal, with an exact correlation and unit variance.

    The shared signal and the two columns are orthonormalised (Gram-Schmidt, in that order);
    each column becomes ``sqrt(c) * shared + sqrt(1 - c) * own`` with its own part orthogonal
    to the shared one and to the other column's own part, so that the two columns correlate
    exactly ``c``. Linear combinations of band-limited signals stay in the band.

    Parameters
    ----------
    timecourses : ndarray, shape (n_volumes, n_networks)
        Zero-mean columns (e.g. :func:`band_limited_timecourses`).
    shared : ndarray, shape (n_volumes,)
        Zero-mean common signal, independent of the columns.
    coupling : float
        Target correlation ``c`` in [0, 1]; 0 returns a copy of ``timecourses``.
    pair : (int, int)
        The two columns to couple.

    Returns
    -------
    ndarray, shape (n_volumes, n_networks), float64
        Other columns unchanged; the pair with standard deviation 1 (ddof 0).

    Raises
    ------
    ValueError
        If ``coupling`` is outside [0, 1] or the pair is not two distinct columns.
    """
    out = np.array(timecourses, dtype=float)
    if not 0.0 <= coupling <= 1.0:
        raise ValueError(f"coupling must be in [0, 1], got {coupling}")
    i, j = pair
    if i == j or not (0 <= i < out.shape[1] and 0 <= j < out.shape[1]):
        raise ValueError(f"pair must be two distinct columns of {out.shape[1]}, got {pair}")
    if coupling == 0.0:
        return out
    q, r = np.linalg.qr(np.column_stack([shared, out[:, i], out[:, j]]))
    q = q * np.sign(np.diag(r))  # keep each direction's sign (R with a positive diagonal)
    scale = math.sqrt(out.shape[0])  # unit-norm, zero-mean column -> standard deviation 1
    out[:, i] = scale * (math.sqrt(coupling) * q[:, 0] + math.sqrt(1 - coupling) * q[:, 1])
    out[:, j] = scale * (math.sqrt(coupling) * q[:, 0] + math.sqrt(1 - coupling) * q[:, 2])
    return out


# --------------------------------------------------------------------------- geometry


def grid_affine(shape: Sequence[int], voxel_mm: float = VOXEL_MM) -> np.ndarray:
    """The voxel-to-world affine of a synthetic grid (4 mm voxels unless told).

    The default shape gets the MNI152 4 mm origin (-96, -132, -78). Other shapes (or voxel
    sizes) keep world (0, 0, 0) at about the same relative position in the field of view
    (origin in whole mm), with x = 0 on a voxel centre so that the mid-line is sampled.

    Parameters
    ----------
    shape : sequence of 3 int
    voxel_mm : float, default=4.0
        Isotropic voxel size (mm).

    Returns
    -------
    ndarray, shape (4, 4)
    """
    fov = np.asarray(shape[:3], dtype=float) * voxel_mm
    scale = fov / (np.asarray(DEFAULT_SHAPE) * VOXEL_MM)
    # whole millimetres: the NIfTI header stores the affine in float32, exactly
    origin = np.round(np.asarray(MNI_ORIGIN) * scale)
    origin[0] = voxel_mm * np.round(origin[0] / voxel_mm)
    affine = np.diag([voxel_mm, voxel_mm, voxel_mm, 1.0])
    affine[:3, 3] = origin
    return affine


def _fov_scale(shape: Sequence[int], affine: np.ndarray) -> np.ndarray:
    """Per-axis ratio of this grid's field of view to the default one."""
    voxel_sizes = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    return np.asarray(shape[:3]) * voxel_sizes / (np.asarray(DEFAULT_SHAPE) * VOXEL_MM)


def canonical_coordinates(
    shape: Sequence[int], affine: np.ndarray, offset: Sequence[float] = (0.0, 0.0, 0.0)
) -> np.ndarray:
    """Canonical (default-grid MNI) millimetres of every voxel centre, plus a sub-voxel offset.

    Parameters
    ----------
    shape : sequence of 3 int
    affine : ndarray, shape (4, 4)
    offset : sequence of 3 float
        Offset in voxels (used to sample partial volumes).

    Returns
    -------
    ndarray, shape (3, *shape), float64
    """
    return _world_coordinates(shape, affine, offset) / _fov_scale(shape, affine).reshape(3, 1, 1, 1)


def _world_coordinates(
    shape: Sequence[int], affine: np.ndarray, offset: Sequence[float] = (0.0, 0.0, 0.0)
) -> np.ndarray:
    """World millimetres (3, *shape) of voxel centres (+ offset in voxels)."""
    # broadcasting three 1D index vectors is much faster than a (3, 3) x (3, N) product
    axes = [np.arange(n, dtype=float) + o for n, o in zip(shape[:3], offset, strict=True)]
    i, j, k = np.meshgrid(*axes, indexing="ij", sparse=True)
    out = np.empty((3, *shape[:3]))
    for c in range(3):
        out[c] = affine[c, 0] * i + affine[c, 1] * j + affine[c, 2] * k + affine[c, 3]
    return out


def _ellipsoid_radius(x, y, z, centre, radii) -> np.ndarray:
    """Normalised ellipsoid radius (< 1 inside)."""
    return np.sqrt(
        ((x - centre[0]) / radii[0]) ** 2
        + ((y - centre[1]) / radii[1]) ** 2
        + ((z - centre[2]) / radii[2]) ** 2
    )


def _cerebrum(x, y, z) -> tuple[np.ndarray, np.ndarray]:
    """Inside-cerebrum flag and depth below its surface (mm) at canonical points."""
    # Each hemisphere is an ellipsoid centred 18 mm off the mid-line (|x| mirrors it); the
    # lower half is flatter than the upper one (temporal lobes end higher than the vertex).
    rz = np.where(z > 10.0, 68.0, 55.0)
    rho = np.sqrt(((np.abs(x) - 18) / 52) ** 2 + ((y + 17) / 88) ** 2 + ((z - 10) / rz) ** 2)
    depth = (1.0 - rho) * 50.0
    # Inter-hemispheric fissure: open above the corpus callosum and in front of / behind it.
    fissure = (z > 22.0) | (y > 32.0) | (y < -44.0)
    depth = np.where(fissure, np.minimum(depth, np.abs(x) - 3.0), depth)
    # Flat base: orbitofrontal surface, and between the temporal lobes (sinuses, pituitary).
    base = (y > 22.0) | ((y > -8.0) & (np.abs(x) < 28.0))
    depth = np.where(base, np.minimum(depth, z + 26.0), depth)
    # Occipital lobes rest on the tentorium, above the cerebellum.
    depth = np.where(y < -44.0, np.minimum(depth, z + 12.0), depth)
    return depth > 0, depth


def _cerebellum(x, y, z) -> np.ndarray:
    """Normalised radius of the cerebellum (two hemispheres and the vermis; < 1 inside)."""
    lobes = _ellipsoid_radius(np.abs(x), y, z, (22.0, -62.0, -36.0), (27.0, 25.0, 19.0))
    vermis = _ellipsoid_radius(x, y, z, (0.0, -60.0, -32.0), (10.0, 22.0, 18.0))
    return np.minimum(lobes, vermis)


def _ventricles(x, y, z) -> np.ndarray:
    lateral = _ellipsoid_radius(np.abs(x), y, z, (12.0, -8.0, 17.0), (6.5, 28.0, 9.0)) < 1
    third = _ellipsoid_radius(x, y, z, (0.0, -14.0, 2.0), (2.5, 14.0, 9.0)) < 1
    fourth = _ellipsoid_radius(x, y, z, (0.0, -47.0, -30.0), (5.0, 5.0, 6.0)) < 1
    return lateral | third | fourth


def _deep_grey(x, y, z) -> np.ndarray:
    thalamus = _ellipsoid_radius(np.abs(x), y, z, (11.0, -18.0, 6.0), (9.0, 13.0, 9.0)) < 1
    striatum = _ellipsoid_radius(np.abs(x), y, z, (21.0, 5.0, 3.0), (9.0, 16.0, 11.0)) < 1
    return thalamus | striatum


def tissue_labels(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Tissue class at canonical MNI-like points (mm): the analytic brain model.

    Parameters
    ----------
    x, y, z : ndarray
        Coordinates in canonical millimetres (same shape).

    Returns
    -------
    ndarray of int8
        0 background, 1 grey matter, 2 white matter, 3 CSF (ventricles).
    """
    inside, depth = _cerebrum(x, y, z)
    labels = np.where(inside, np.where(depth < 9.0, GREY, WHITE), BACKGROUND).astype(np.int8)
    cerebellum = _cerebellum(x, y, z)
    labels[cerebellum < 1] = np.where(cerebellum[cerebellum < 1] > 0.5, GREY, WHITE)
    brainstem = _ellipsoid_radius(x, y, z, (0.0, -27.0, -34.0), (12.0, 14.0, 32.0)) < 1
    labels[brainstem] = WHITE
    labels[_deep_grey(x, y, z)] = GREY
    labels[_ventricles(x, y, z) & (labels != BACKGROUND)] = CSF
    return labels


@dataclass(frozen=True)
class Brain:
    """The synthetic brain on one grid.

    Attributes
    ----------
    affine : ndarray, shape (4, 4)
    grey, white, csf : ndarray, float32, grid shape
        Partial-volume fraction of each tissue in each voxel.
    baseline : ndarray, float32, grid shape
        Mean EPI intensity (before the subject's global scale); 0 outside the brain.
    """

    affine: np.ndarray
    grey: np.ndarray
    white: np.ndarray
    csf: np.ndarray
    baseline: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        """Grid shape."""
        return self.grey.shape

    @property
    def mask(self) -> np.ndarray:
        """Voxels at least half filled with brain tissue."""
        return (self.grey + self.white + self.csf) >= 0.5


def _partial_volumes(shape: Sequence[int], affine: np.ndarray) -> dict[int, np.ndarray]:
    """Tissue fractions from 2 x 2 x 2 sub-samples per voxel (smooth, realistic edges)."""
    scale = _fov_scale(shape, affine)
    coords = canonical_coordinates(shape, affine)
    # Only voxels near the brain's bounding box can hold tissue: skip the rest (~60 %).
    margin = (np.abs(affine[:3, :3]).sum(axis=1) / scale)[:, None]
    near = np.all(
        (coords.reshape(3, -1) >= BRAIN_BOX[:, :1] - margin)
        & (coords.reshape(3, -1) <= BRAIN_BOX[:, 1:] + margin),
        axis=0,
    ).reshape(coords.shape[1:])
    points = coords[:, near]
    counts = np.zeros((4, points.shape[1]), dtype=np.float32)
    for offset in np.array(np.meshgrid(*[(-0.25, 0.25)] * 3, indexing="ij")).reshape(3, -1).T:
        delta = affine[:3, :3] @ offset / scale
        labels = tissue_labels(*(points + delta[:, None]))
        for k in (GREY, WHITE, CSF):
            counts[k] += labels == k
    fractions = {}
    for k in (GREY, WHITE, CSF):
        fractions[k] = np.zeros(coords.shape[1:], dtype=np.float32)
        fractions[k][near] = counts[k] / 8.0
    return fractions


def _intensity_field(coords: np.ndarray) -> np.ndarray:
    """Receive-coil bias and susceptibility drop-out (multiplicative, near 1)."""
    x, y, z = coords
    bias = 1.0 + 0.05 * z / 80.0 - 0.03 * y / 100.0
    dropout = 0.5 * np.exp(-((x / 14) ** 2 + ((y - 35) / 14) ** 2 + ((z + 28) / 10) ** 2) / 2)
    dropout += 0.35 * np.exp(
        -(((np.abs(x) - 42) / 12) ** 2 + ((y - 5) / 12) ** 2 + ((z + 38) / 10) ** 2) / 2
    )
    return bias * (1.0 - dropout)


def make_brain(shape: Sequence[int] = DEFAULT_SHAPE, affine: np.ndarray | None = None) -> Brain:
    """Sample the analytic brain model on a grid.

    Parameters
    ----------
    shape : sequence of 3 int
        Grid shape (default 50 x 59 x 50).
    affine : ndarray, shape (4, 4), optional
        Default: :func:`grid_affine` of ``shape``.

    Returns
    -------
    Brain
        Tissue fractions and baseline intensity. At the default size the brain (fraction
        >= 0.5) has about 28 000 voxels (~1.8 l), like the MNI152 brain mask at 4 mm.
    """
    shape = tuple(int(n) for n in shape[:3])
    affine = grid_affine(shape) if affine is None else np.asarray(affine, dtype=float)
    fractions = _partial_volumes(shape, affine)
    baseline = sum(TISSUE_INTENSITY[k] * fractions[k] for k in fractions)
    baseline = baseline * _intensity_field(canonical_coordinates(shape, affine))
    return Brain(
        affine=affine,
        grey=fractions[GREY],
        white=fractions[WHITE],
        csf=fractions[CSF],
        baseline=baseline.astype(np.float32),
    )


# --------------------------------------------------------------------------- networks


@dataclass(frozen=True)
class Network:
    """One planted network: Gaussian blobs in canonical millimetres.

    Attributes
    ----------
    centres : ndarray, shape (n_blobs, 3)
    fwhm : ndarray, shape (n_blobs,)
        Full width at half maximum (mm) of each blob's Gaussian core; with its halo
        (:data:`BLOB_HALO`) the blob's FWHM is about 11 % larger.
    weights : ndarray, shape (n_blobs,)
        Peak of each blob before the map is scaled to a maximum of 1.
    """

    centres: np.ndarray
    fwhm: np.ndarray
    weights: np.ndarray


def _grey_matter_candidates(rng: np.random.Generator, n: int = 40_000) -> np.ndarray:
    """Random canonical points in grey matter (cortex, deep nuclei, cerebellum).

    Points are kept only if the brain extends at least 6 mm from them in every axis
    direction, so that blobs centred there lie mostly inside the brain (the cortex is 9 mm
    thick: centres fall in its inner part or in folded regions).
    """
    points = BRAIN_BOX[:, 0] + np.ptp(BRAIN_BOX, axis=1) * rng.random((n, 3))
    keep = tissue_labels(*points.T) == GREY
    for axis in range(3):
        for step in (-6.0, 6.0):
            shifted = points.copy()
            shifted[:, axis] += step
            keep &= tissue_labels(*shifted.T) != BACKGROUND
    return points[keep]


def _far_enough(point, placed: list[tuple[int, np.ndarray]], network: int, d_other, d_same):
    for owner, centre in placed:
        limit = d_same if owner == network else d_other
        if np.linalg.norm(point - centre) < limit:
            return False
    return True


#: Network layouts: sites are a mirrored pair of blobs ("pair") or one blob ("single").
#: Networks of 2 blobs proved too weak next to the others for an 8-component decomposition.
LAYOUTS = (
    (0.4, ("pair", "pair")),
    (0.3, ("pair", "single")),
    (0.15, ("single", "single", "single")),
    (0.15, ("single", "single", "single", "single")),
)


def _blob_layout(rng: np.random.Generator) -> tuple[str, ...]:
    """Sites of one network: 3 or 4 blobs, often mirrored across the mid-line."""
    weights = np.array([w for w, _ in LAYOUTS])
    return LAYOUTS[rng.choice(len(LAYOUTS), p=weights / weights.sum())][1]


def _place_site(site, k, candidates, placed, rng, distances) -> list[np.ndarray] | None:
    """Blob centre(s) of one site that keep their distances, or None after 300 tries."""
    d_other, d_same = distances
    for _ in range(300):
        point = candidates[rng.integers(len(candidates))]
        if site == "pair" and abs(point[0]) < 20.0:
            continue  # mirrored blobs must stay distinct
        new = [point, point * [-1, 1, 1]] if site == "pair" else [point]
        if all(_far_enough(p, placed, k, d_other, d_same) for p in new):
            return new
    return None


def place_networks(
    n_networks: int, rng: np.random.Generator, min_distance: float = 30.0
) -> list[Network]:
    """Choose blob centres and sizes of ``n_networks`` networks in canonical grey matter.

    Each network has 3 or 4 blobs (see :data:`LAYOUTS`); mirrored blobs share size and
    weight. Blobs of different networks are at least ``min_distance`` mm apart (so networks
    barely overlap and a decomposition can separate them), blobs of one network at least
    24 mm. When the brain is too crowded both distances shrink by 10 % until the blobs fit.

    Parameters
    ----------
    n_networks : int
    rng : numpy.random.Generator
    min_distance : float
        Initial minimum distance (mm) between blobs of different networks.

    Returns
    -------
    list of Network
    """
    candidates = _grey_matter_candidates(rng)
    placed: list[tuple[int, np.ndarray]] = []
    networks = []
    distances = (min_distance, 24.0)
    for k in range(n_networks):
        centres: list[np.ndarray] = []
        paired: list[bool] = []
        for site in _blob_layout(rng):
            new = None
            while new is None:
                new = _place_site(site, k, candidates, placed, rng, distances)
                if new is None:
                    distances = (0.9 * distances[0], 0.9 * distances[1])
            centres += new
            paired += [site == "pair"] * len(new)
            placed += [(k, p) for p in new]
        fwhm = rng.uniform(*BLOB_FWHM, len(centres))
        weights = rng.uniform(0.7, 1.0, len(centres))
        for i in range(1, len(centres)):
            if paired[i] and paired[i - 1] and np.allclose(centres[i], centres[i - 1] * [-1, 1, 1]):
                fwhm[i], weights[i] = fwhm[i - 1], weights[i - 1]  # homotopic blobs are alike
        networks.append(Network(np.array(centres), fwhm, weights))
    return networks


def _blob_profile(dist2: np.ndarray, fwhm: float) -> np.ndarray:
    """Gaussian core of the given FWHM plus a faint, wider halo (peak 1 + halo height).

    The halo makes the network touch many voxels at a low level, as real networks do; see
    the module docstring for why the decomposition needs it.
    """
    sigma = fwhm / math.sqrt(8 * math.log(2))
    core = np.exp(-dist2 / (2 * sigma**2))
    if BLOB_HALO[0] == 0:
        return core
    halo = BLOB_HALO[0] * np.exp(-dist2 / (2 * (BLOB_HALO[1] * sigma) ** 2))
    return core + halo


def make_network_maps(brain: Brain, networks: Sequence[Network]) -> np.ndarray:
    """Rasterise networks on the brain's grid.

    Each map is a sum of Gaussian blobs weighted by the voxel's BOLD sensitivity
    (:data:`NETWORK_TISSUE_WEIGHT`: grey matter 1, white matter 0.4 -- at 4 mm most voxels
    mix both --, CSF and outside 0), scaled to a maximum of 1.

    Parameters
    ----------
    brain : Brain
    networks : sequence of Network

    Returns
    -------
    ndarray, shape (*grid, n_networks), float32
    """
    coords = canonical_coordinates(brain.shape, brain.affine)
    tissue = NETWORK_TISSUE_WEIGHT[GREY] * brain.grey + NETWORK_TISSUE_WEIGHT[WHITE] * brain.white
    inside = tissue > 0
    points = coords[:, inside]
    maps = np.zeros((*brain.shape, len(networks)), dtype=np.float32)
    for k, network in enumerate(networks):
        values = np.zeros(points.shape[1])
        for centre, fwhm, weight in zip(
            network.centres, network.fwhm, network.weights, strict=True
        ):
            dist2 = ((points - centre[:, None]) ** 2).sum(axis=0)
            values += weight * _blob_profile(dist2, fwhm)
        values *= tissue[inside]
        maps[inside, k] = values / values.max()
    return maps


# --------------------------------------------------------------------------- time courses


def band_limited_timecourses(
    n_volumes: int,
    n_signals: int,
    t_r: float,
    rng: np.random.Generator,
    band: tuple[float, float] = NETWORK_BAND,
) -> np.ndarray:
    """Gaussian random signals whose spectrum is confined to ``band``.

    Random Fourier coefficients are kept only at the frequencies of the discrete Fourier grid
    inside the band, so the power outside it is zero up to rounding.

    Parameters
    ----------
    n_volumes : int
    n_signals : int
    t_r : float
        Sampling interval (s).
    rng : numpy.random.Generator
    band : (float, float)
        Inclusive frequency band in Hz.

    Returns
    -------
    ndarray, shape (n_volumes, n_signals), float64
        Zero mean, unit standard deviation per column.

    Raises
    ------
    ValueError
        When no frequency of the run's Fourier grid lies in the band (run too short or TR too
        long).
    """
    freqs = np.fft.rfftfreq(n_volumes, d=t_r)
    keep = (freqs >= band[0]) & (freqs <= band[1]) & (freqs > 0)
    if not keep.any():
        raise ValueError(
            f"no frequency between {band[0]} and {band[1]} Hz is resolved by {n_volumes} "
            f"volumes at TR {t_r} s (resolution {1 / (n_volumes * t_r):.4f} Hz, Nyquist "
            f"{0.5 / t_r:.4f} Hz)"
        )
    coefs = rng.standard_normal((freqs.size, n_signals, 2))
    spectrum = (coefs[..., 0] + 1j * coefs[..., 1]) * keep[:, None]
    if n_volumes % 2 == 0:
        spectrum[-1] = spectrum[-1].real  # the Nyquist coefficient of a real signal is real
    signals = np.fft.irfft(spectrum, n=n_volumes, axis=0)
    return signals / signals.std(axis=0)


def _lowpass_noise(n_volumes: int, n_signals: int, t_r: float, cutoff: float, rng) -> np.ndarray:
    """Unit-variance noise with a flat spectrum below ``cutoff`` Hz (includes slow drifts)."""
    lowest = 1.0 / (n_volumes * t_r)  # keep at least one frequency on short runs
    return band_limited_timecourses(n_volumes, n_signals, t_r, rng, (0.0, max(cutoff, lowest)))


def make_motion(n_volumes: int, rng: np.random.Generator) -> np.ndarray:
    """Realignment parameters: a random walk with occasional jerks and a slow drift.

    Parameters
    ----------
    n_volumes : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (n_volumes, 6)
        trans_x, trans_y, trans_z (mm), rot_x, rot_y, rot_z (radians); 0 at the first volume.
        Typical framewise displacement ~0.1 mm with spikes of a few tenths of a mm, varying
        across subjects ("movers").
    """
    mover = math.exp(rng.normal(0.0, 0.4))
    scale = np.array([0.02, 0.02, 0.03, 0.0004, 0.0003, 0.0003]) * mover
    steps = rng.standard_normal((n_volumes, 6)) * scale
    n_jerks = rng.poisson(n_volumes / 60 * mover)
    at = rng.integers(1, n_volumes, n_jerks)
    steps[at] += rng.standard_normal((n_jerks, 6)) * scale * 8
    steps[0] = 0.0
    drift = np.outer(np.linspace(0.0, 1.0, n_volumes), rng.normal(0.0, 1.0, 6) * scale * 5)
    return np.cumsum(steps, axis=0) + drift


def framewise_displacement(motion: np.ndarray, radius: float = FD_RADIUS_MM) -> np.ndarray:
    """Framewise displacement (Power et al. 2012) of realignment parameters.

    Parameters
    ----------
    motion : ndarray, shape (n_volumes, 6)
        Translations (mm) then rotations (radians).
    radius : float
        Rotations become arc lengths on a sphere of this radius (mm).

    Returns
    -------
    ndarray, shape (n_volumes,)
        Sum of absolute backward differences; NaN at the first volume (as fMRIPrep's ``n/a``).
    """
    from netregions.confounds import framewise_displacement as fd_of

    fd = fd_of(motion, radius)
    fd[0] = np.nan
    return fd


def _orthonormal(signals: np.ndarray) -> np.ndarray:
    """Centred, orthonormal columns spanning ``signals`` (sign: first value positive)."""
    q, _ = np.linalg.qr(signals - signals.mean(axis=0))
    return q * np.where(q[0] < 0, -1.0, 1.0)


@dataclass(frozen=True)
class Nuisance:
    """A subject's nuisance time courses (the spatial patterns are made from the brain)."""

    motion: np.ndarray  # (T, 6) mm and radians
    compcor: np.ndarray  # (T, 6) orthonormal columns, as fMRIPrep writes aCompCor
    csf: np.ndarray  # (T,) unit variance: CSF pulsation (aliased cardiac, broadband)
    white_matter: np.ndarray  # (T,) unit variance: slow signal (< 0.05 Hz)


def make_confounds(
    n_volumes: int, t_r: float, motion_rng: np.random.Generator, physio_rng: np.random.Generator
) -> Nuisance:
    """Nuisance time courses of one subject.

    Parameters
    ----------
    n_volumes : int
    t_r : float
    motion_rng, physio_rng : numpy.random.Generator
        Separate streams so that motion and physiology are independent of each other.

    Returns
    -------
    Nuisance
    """
    motion = make_motion(n_volumes, motion_rng)
    physio = _lowpass_noise(n_volumes, 6, t_r, 0.2, physio_rng)
    csf = _lowpass_noise(n_volumes, 1, t_r, 0.5 / t_r, physio_rng)[:, 0]
    white_matter = _lowpass_noise(n_volumes, 1, t_r, 0.05, physio_rng)[:, 0]
    return Nuisance(motion, _orthonormal(physio), csf, white_matter)


# --------------------------------------------------------------------------- one subject


@dataclass(frozen=True)
class SyntheticSubject:
    """One generated subject.

    Attributes
    ----------
    bold : ndarray, shape (*grid, n_volumes), float32, Fortran order
    confounds : ndarray, shape (n_volumes, 15)
        Columns :data:`CONFOUND_COLUMNS`; NaN in the first framewise displacement.
    timecourses : ndarray, shape (n_volumes, n_networks)
        True network signals in percent of the local baseline at a map value of 1.
    """

    bold: np.ndarray
    confounds: np.ndarray
    timecourses: np.ndarray


def _smooth_fields(coords: np.ndarray, n_fields: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth random patterns at canonical points: sums of random plane waves (60-150 mm).

    Defined in canonical millimetres, so a small grid sees the same pattern as the default.
    Returns (n_fields, n_points), each scaled to a maximum absolute value of 1.
    """
    n_waves = 8
    directions = rng.standard_normal((n_fields, n_waves, 3))
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    wavelengths = rng.uniform(60.0, 150.0, (n_fields, n_waves, 1))
    phases = rng.uniform(0.0, 2 * np.pi, (n_fields, n_waves, 1))
    k = 2 * np.pi * directions / wavelengths
    fields = np.cos(np.einsum("fwc,cp->fwp", k, coords) + phases).sum(axis=1)
    return fields / np.abs(fields).max(axis=1, keepdims=True)


def _motion_patterns(baseline: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Intensity change per unit of each realignment parameter, -grad(B).d: (6, *grid).

    A residual displacement d shifts the image, changing the intensity by about -grad(B).d:
    the artefacts sit at edges (brain surface, ventricles). A small rotation w about the world
    origin moves a point r by w x r, so its pattern is -(r x grad B).
    """
    voxel = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    grad = np.stack(np.gradient(baseline, *voxel))  # intensity per mm
    torque = np.cross(_world_coordinates(baseline.shape, affine), grad, axis=0)
    return -np.concatenate([grad, torque])


class _Region:
    """Voxels that carry structured signal, in the Fortran (NIfTI) voxel order."""

    def __init__(self, mask: np.ndarray):
        self.index = np.flatnonzero(mask.ravel(order="F"))

    def take(self, volume: np.ndarray) -> np.ndarray:
        """Values (n,) of a 3D volume, or (n, k) of a 4D one, at the region's voxels."""
        flat = volume.reshape((-1, *volume.shape[3:]), order="F")
        return flat[self.index]


def _percent_patterns(
    brain: Brain, maps: np.ndarray, region: _Region, rng: dict[str, np.random.Generator]
) -> np.ndarray:
    """Spatial patterns (k, n) of the multiplicative (percent signal change) sources."""
    grey, white, csf = (region.take(f) for f in (brain.grey, brain.white, brain.csf))
    coords = np.stack([region.take(c) for c in canonical_coordinates(brain.shape, brain.affine)])
    physio_weight = white + csf + 0.3 * grey  # physiological noise is strongest near vessels
    compcor_amplitude = COMPCOR_AMPLITUDE * 0.75 ** np.arange(6)[:, None]  # decreasing like PCA
    compcor = compcor_amplitude * _smooth_fields(coords, 6, rng["physio"]) * physio_weight
    # drift: a global part plus a smooth spatial variation (%, per Legendre polynomial)
    drift = rng["drift"].normal(0.0, DRIFT_AMPLITUDE[0], (2, 1))
    drift = drift + DRIFT_AMPLITUDE[1] * _smooth_fields(coords, 2, rng["drift"])
    patterns = [
        region.take(maps).T,
        compcor,
        (CSF_AMPLITUDE * csf)[None],  # pulsation
        (WHITE_MATTER_AMPLITUDE * white)[None],
        drift,
    ]
    return np.concatenate(patterns).astype(np.float32)


def _subject_signals(
    brain: Brain,
    maps: np.ndarray,
    region: _Region,
    streams: dict[str, np.random.SeedSequence],
    n_volumes: int,
    t_r: float,
    coupling: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, Nuisance]:
    """Noise-free data (T, n) of the region voxels, network time courses and nuisance."""
    rng = {name: np.random.default_rng(seq) for name, seq in streams.items()}
    scale = math.exp(rng["scale"].normal(0.0, 0.1))  # global intensity differs across subjects
    n_networks = maps.shape[-1]
    amplitudes = rng["amplitudes"].uniform(*NETWORK_AMPLITUDE, n_networks)
    timecourses = _network_timecourses(n_volumes, n_networks, t_r, rng, coupling)
    timecourses = amplitudes * timecourses
    nuisance = make_confounds(n_volumes, t_r, rng["motion"], rng["physio"])
    t = np.linspace(-1.0, 1.0, n_volumes)
    percent_tcs = np.column_stack(
        [
            timecourses,
            nuisance.compcor * math.sqrt(n_volumes),  # unit variance
            nuisance.csf,
            nuisance.white_matter,
            t,
            1.5 * t**2 - 0.5,  # Legendre P1, P2: slow drift
        ]
    ).astype(np.float32)
    baseline = (scale * region.take(brain.baseline)).astype(np.float32)
    signals = percent_tcs @ _percent_patterns(brain, maps, region, rng)
    signals *= baseline / np.float32(100.0)
    signals += baseline
    # Residual motion artefacts (additive): realignment removes most of the effect.
    motion_patterns = _motion_patterns(scale * brain.baseline, brain.affine)
    motion_patterns = np.stack([region.take(p) for p in motion_patterns]).astype(np.float32)
    motion = MOTION_RESIDUAL * (nuisance.motion - nuisance.motion.mean(axis=0))
    signals += motion.astype(np.float32) @ motion_patterns
    return signals, timecourses, nuisance


def _network_timecourses(
    n_volumes: int, n_networks: int, t_r: float, rng: dict, coupling: float
) -> np.ndarray:
    """Unit-variance network signals (T, K); networks 0 and 1 coupled when ``coupling > 0``."""
    timecourses = band_limited_timecourses(n_volumes, n_networks, t_r, rng["timecourses"])
    if coupling > 0 and n_networks > max(COUPLED_NETWORKS):
        shared = band_limited_timecourses(n_volumes, 1, t_r, rng["coupling"])[:, 0]
        timecourses = couple_timecourses(timecourses, shared, coupling)
    return timecourses


def _group_coupling(subject: str, coupling: float) -> float:
    """Coupling applied to a subject: ``coupling`` in group B, 0 in group A."""
    return coupling if subject_group(subject) == GROUPS[1] else 0.0


def _noise(n_volumes: int, baseline: np.ndarray, noise: float, seq) -> np.ndarray:
    """Gaussian noise (T, voxels in Fortran order), float32.

    Standard deviation ``noise`` x (NOISE_FLOOR + NOISE_FRACTION x baseline): a thermal floor
    (also outside the brain) plus physiological noise that scales with the signal.
    """
    data = np.zeros((n_volumes, baseline.size), dtype=np.float32)
    if noise > 0:
        rng = np.random.Generator(np.random.SFC64(seq))  # SFC64: the fastest float32 normals
        rng.standard_normal(dtype=np.float32, out=data)
        sigma = noise * (NOISE_FLOOR + NOISE_FRACTION * baseline.ravel(order="F"))
        data *= sigma.astype(np.float32)
    return data


def make_subject(
    brain: Brain,
    maps: np.ndarray,
    subject: str,
    *,
    n_volumes: int = 168,
    t_r: float = 2.0,
    noise: float = 1.0,
    seed: int = 0,
    coupling: float = GROUP_COUPLING,
) -> SyntheticSubject:
    """Generate one subject's run, confounds and true network time courses (no I/O).

    Parameters
    ----------
    brain : Brain
        From :func:`make_brain` on the maps' grid.
    maps : ndarray, shape (*grid, n_networks)
        Planted network maps (from :func:`make_network_maps` or the truth file).
    subject : str
        Subject label; with ``seed`` it selects the random streams.
    n_volumes : int
    t_r : float
        Repetition time (s).
    noise : float
        Scale of the Gaussian noise (0: none). At 1 its standard deviation is about 1 % of
        the grey-matter baseline (temporal SNR ~100 with the nuisance signals).
    seed : int
    coupling : float, default=GROUP_COUPLING
        Correlation of networks :data:`COUPLED_NETWORKS` in group-B subjects
        (:func:`subject_group`); group-A subjects are never coupled. 0 turns the group
        difference off.

    Returns
    -------
    SyntheticSubject
    """
    streams = _subject_streams(seed, subject)
    # Structured signals only in the brain and at its edge (motion); elsewhere only noise.
    from scipy import ndimage

    region = _Region(ndimage.binary_dilation(brain.baseline > 0))
    signals, timecourses, nuisance = _subject_signals(
        brain, maps, region, streams, n_volumes, t_r, _group_coupling(subject, coupling)
    )
    # (T, voxels in Fortran order), C-contiguous, is the (x, y, z, T) Fortran-contiguous
    # NIfTI layout: the image is written without a transposing copy.
    data = _noise(n_volumes, brain.baseline, noise, streams["noise"])
    data[:, region.index] += signals
    confounds = np.column_stack(
        [
            nuisance.motion,
            framewise_displacement(nuisance.motion),
            nuisance.compcor,
            _tissue_mean(data, brain.csf),
            _tissue_mean(data, brain.white),
        ]
    )
    bold = data.T.reshape((*brain.shape, n_volumes), order="F")
    return SyntheticSubject(bold=bold, confounds=confounds, timecourses=timecourses)


def _tissue_mean(data: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """Mean signal (T,) of a tissue, as fMRIPrep's ``csf`` / ``white_matter`` columns.

    Voxels are weighted by fraction ** 4, which favours pure voxels (fMRIPrep erodes its
    tissue masks) but never leaves the mean empty on small grids.
    """
    weights = fraction.ravel(order="F") ** 4
    used = np.flatnonzero(weights)
    return (data[:, used] @ weights[used]).astype(np.float64) / weights[used].sum(dtype=float)


# --------------------------------------------------------------------------- files


def write_confounds(path: Path | str, table: np.ndarray, names: Sequence[str]) -> Path:
    """Write a confounds TSV like fMRIPrep: header line, tab-separated, NaN as ``n/a``.

    Parameters
    ----------
    path : path-like
    table : ndarray, shape (n_volumes, n_columns)
    names : sequence of str

    Returns
    -------
    Path
    """
    table = np.asarray(table, dtype=float)
    if table.shape[1] != len(names):
        raise ValueError(f"{len(names)} column names for {table.shape[1]} columns")
    lines = ["\t".join(names)]
    for row in table:
        lines.append("\t".join("n/a" if np.isnan(v) else f"{v:.9g}" for v in row))
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return Path(path)


def make_truth(
    shape: Sequence[int] = DEFAULT_SHAPE, n_networks: int = 8, seed: int = 0
) -> tuple[Brain, np.ndarray]:
    """The brain and the planted network maps of a dataset (what :func:`write_truth` saves).

    Parameters
    ----------
    shape : sequence of 3 int
    n_networks : int
    seed : int

    Returns
    -------
    brain : Brain
    maps : ndarray, shape (*shape, n_networks), float32
    """
    brain = make_brain(shape)
    networks = place_networks(n_networks, _truth_rng(seed))
    return brain, make_network_maps(brain, networks)


def write_truth(
    data_dir: Path | str,
    *,
    shape: Sequence[int] = DEFAULT_SHAPE,
    n_networks: int = 8,
    seed: int = 0,
) -> dict[str, Path]:
    """Write the planted network maps and the brain mask shared by all subjects.

    Parameters
    ----------
    data_dir : path-like
    shape : sequence of 3 int
    n_networks : int
    seed : int

    Returns
    -------
    dict
        ``maps``: ``truth_networks.nii.gz`` (4D float32, one volume per network);
        ``brain``: ``truth_brainmask.nii.gz`` (3D uint8).
    """
    paths = truth_paths(data_dir)
    brain, maps = make_truth(shape, n_networks, seed)
    save_nifti(maps, brain.affine, paths["maps"])
    save_nifti(brain.mask.astype(np.uint8), brain.affine, paths["brain"])
    return paths


def write_subject(
    data_dir: Path | str,
    subject: str,
    *,
    truth_maps_path: Path | str | None = None,
    n_volumes: int = 168,
    t_r: float = 2.0,
    noise: float = 1.0,
    seed: int = 0,
    coupling: float = GROUP_COUPLING,
) -> dict[str, Path]:
    """Generate one subject from the planted maps and write its files.

    Parameters
    ----------
    data_dir : path-like
    subject : str
        Label, e.g. ``"01"``.
    truth_maps_path : path-like, optional
        Planted maps written by :func:`write_truth` (default: in ``data_dir``); the grid and
        the affine are taken from it.
    n_volumes : int
    t_r : float
    noise : float
    seed : int
    coupling : float, default=GROUP_COUPLING
        See :func:`make_subject`; the subject's group follows from its label.

    Returns
    -------
    dict
        ``bold`` (4D float32 NIfTI, TR in the header), ``sidecar`` (its JSON sidecar:
        ``RepetitionTime``, ``TaskName``, as fMRIPrep writes), ``confounds`` (the 15 reduced
        confounds), ``truth`` (true network time courses, columns ``network_00``...).
    """
    truth_maps_path = truth_paths(data_dir)["maps"] if truth_maps_path is None else truth_maps_path
    maps, affine = load_image(truth_maps_path)
    brain = make_brain(maps.shape[:3], affine)
    run = make_subject(
        brain,
        maps,
        subject,
        n_volumes=n_volumes,
        t_r=t_r,
        noise=noise,
        seed=seed,
        coupling=coupling,
    )
    paths = subject_paths(data_dir, subject)
    save_nifti(run.bold, affine, paths["bold"], t_r=t_r)
    write_json(paths["sidecar"], {"RepetitionTime": float(t_r), "TaskName": "pixar"})
    write_confounds(paths["confounds"], run.confounds, CONFOUND_COLUMNS)
    names = [f"network_{k:02d}" for k in range(run.timecourses.shape[1])]
    write_tsv(paths["truth"], run.timecourses, names)
    return paths


def make_dataset(
    data_dir: Path | str,
    n_subjects: int = 20,
    *,
    shape: Sequence[int] = DEFAULT_SHAPE,
    n_networks: int = 8,
    n_volumes: int = 168,
    t_r: float = 2.0,
    noise: float = 1.0,
    seed: int = 0,
    coupling: float = GROUP_COUPLING,
) -> dict[str, dict[str, Path]]:
    """Write a whole synthetic dataset (truth, participants, then every subject) in one call.

    Returns
    -------
    dict
        ``{"truth": truth paths (``maps``, ``brain``, ``participants``), "01": subject
        paths, ...}``.
    """
    out: dict[str, dict[str, Path]] = {
        "truth": write_truth(data_dir, shape=shape, n_networks=n_networks, seed=seed)
    }
    out["truth"]["participants"] = write_participants(data_dir, n_subjects, seed)
    for subject in synthetic_subjects(n_subjects):
        out[subject] = write_subject(
            data_dir,
            subject,
            truth_maps_path=out["truth"]["maps"],
            n_volumes=n_volumes,
            t_r=t_r,
            noise=noise,
            seed=seed,
            coupling=coupling,
        )
    return out
