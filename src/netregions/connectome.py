"""Functional connectomes: Ledoit-Wolf covariance, the connectivity kinds, group means.

Reproduces the reference example's ``ConnectivityMeasure(kind=..., standardize="zscore_sample")``
for one subject at a time, and its tangent-space kind for the group:

- the series are **not** standardised (the reference only z-scores for ``standardize=True``;
  the string ``"zscore_sample"`` disables it), they are only centred by the estimator;
- the covariance is the Ledoit-Wolf shrunk estimate (written here directly from its formula,
  so that workflow jobs do not pay for importing scikit-learn);
- "correlation", "partial correlation", "precision" and "covariance" are transforms of that
  covariance; "tangent" maps every subject's covariance to the tangent space at the group's
  geometric (Riemannian) mean.

float32 series give float32 matrices, as in the reference. The geometric mean and the tangent
maps are computed in float64 internally (see :func:`geometric_mean`) and cast back.

Group means differ from the reference's arithmetic mean for correlations: they are averaged in
Fisher z (:func:`group_mean`), first over a subject's runs, then over subjects
(docs/differences.md).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "CORRELATION_KINDS",
    "KINDS",
    "SUBJECT_KINDS",
    "connectivity_from_covariance",
    "cov_to_corr",
    "FISHER_CLIP",
    "fisher_mean",
    "fisher_z",
    "inverse_fisher_z",
    "geometric_mean",
    "group_mean",
    "ledoit_wolf",
    "mean_covariances",
    "prec_to_partial",
    "subject_connectivity",
    "subject_connectomes",
    "tangent_space",
    "tangent_vector",
    "whitening_of",
]

#: Iteration limit and tolerance (gradient norm per element) of the reference's geometric mean.
GEOMETRIC_MAX_ITER = 30
GEOMETRIC_TOL = 1e-7

#: Relative tolerance of the symmetry check of SPD inputs (float32 round-off passes).
SYMMETRY_RTOL = 1e-5


# --------------------------------------------------------------------------- checks


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown connectivity kind {kind!r}; valid kinds are {list(KINDS)}")


def _float_dtype(array: np.ndarray) -> np.dtype:
    """Floating input keeps its precision; anything else is computed in float64."""
    return array.dtype if array.dtype.kind == "f" else np.dtype(np.float64)


def _as_series(timeseries: np.ndarray) -> np.ndarray:
    series = np.asarray(timeseries)
    if series.ndim != 2:
        raise ValueError(
            f"time series must be a 2D array (n_samples, n_features); got shape {series.shape}"
        )
    return series


# --------------------------------------------------------------------------- covariance


def ledoit_wolf(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit-Wolf shrunk covariance of column-centred samples.

    With ``X`` the column-centred data (n samples, p features), ``S = XᵀX / n`` and
    ``mu = trace(S) / p``, the estimate is ``(1 - rho) S + rho mu I`` where the shrinkage is
    ``rho = min(b, d) / d`` with ``d = ||S - mu I||²_F / p`` and
    ``b = (sum_t ||x_t||⁴ / n - ||S||²_F) / (p n)`` (``rho = 0`` when the numerator is 0).
    This is the estimator of ``sklearn.covariance.LedoitWolf`` with ``assume_centered=False``.

    Parameters
    ----------
    x : ndarray, shape (n_samples, n_features)
        Samples in rows. Not modified.

    Returns
    -------
    covariance : ndarray, shape (n_features, n_features)
        Shrunk covariance, in the input's floating dtype (float64 for integer input).
    shrinkage : float
        ``rho`` in [0, 1]; 0 for a single feature.

    Raises
    ------
    ValueError
        If ``x`` is not 2D.
    """
    x = _as_series(x)
    dtype = _float_dtype(x)
    centred = x.astype(dtype, copy=True)
    centred -= centred.mean(axis=0)
    n_samples, n_features = centred.shape
    # ``a.T @ a`` on one buffer is computed by a symmetric BLAS product: exactly symmetric.
    sample_cov = (centred.T @ centred) / dtype.type(n_samples)
    shrinkage = _ledoit_wolf_shrinkage(centred, sample_cov) if n_features > 1 else 0.0
    mu = np.trace(sample_cov) / n_features
    covariance = (1.0 - shrinkage) * sample_cov
    covariance[np.diag_indices(n_features)] += shrinkage * mu
    return covariance.astype(dtype, copy=False), shrinkage


def _ledoit_wolf_shrinkage(centred: np.ndarray, sample_cov: np.ndarray) -> float:
    """Shrinkage intensity ``rho`` of :func:`ledoit_wolf` (needs at least 2 features)."""
    n_samples, n_features = centred.shape
    # Scalar reductions in float64: ``d`` is a small difference of large sums, and the
    # reductions cost nothing next to the product that gave ``sample_cov``.
    cov64 = sample_cov.astype(np.float64)
    mu = np.trace(cov64) / n_features
    dispersion = cov64.copy()
    dispersion[np.diag_indices(n_features)] -= mu
    d = np.sum(dispersion**2) / n_features
    # sum_ij ((X²)ᵀ X²)_ij = sum_t ||x_t||⁴: the fourth moments without a p x p product
    row_norms2 = np.sum(centred.astype(np.float64) ** 2, axis=1)
    b_raw = (np.sum(row_norms2**2) / n_samples - np.sum(cov64**2)) / (n_features * n_samples)
    b = min(b_raw, d)
    return 0.0 if b <= 0.0 else float(b / d)


def cov_to_corr(cov: np.ndarray) -> np.ndarray:
    """Correlation matrix of a covariance matrix.

    Parameters
    ----------
    cov : ndarray, shape (n, n)
        Covariance with a positive diagonal. Not modified.

    Returns
    -------
    ndarray, shape (n, n)
        ``cov_ij / sqrt(cov_ii cov_jj)``, diagonal set to exactly 1, same dtype as ``cov``.
    """
    inverse = 1.0 / np.sqrt(np.diag(cov))  # multiply by the inverse, as the reference (to the ulp)
    corr = cov * inverse
    corr *= inverse[:, np.newaxis]
    np.fill_diagonal(corr, 1.0)
    return corr


def prec_to_partial(precision: np.ndarray) -> np.ndarray:
    """Partial correlation matrix of a precision (inverse covariance) matrix.

    Parameters
    ----------
    precision : ndarray, shape (n, n)
        Precision with a positive diagonal. Not modified.

    Returns
    -------
    ndarray, shape (n, n)
        ``-P_ij / sqrt(P_ii P_jj)``, diagonal set to exactly 1, same dtype as ``precision``.
    """
    partial = -cov_to_corr(precision)
    np.fill_diagonal(partial, 1.0)
    return partial


def _precision(covariance: np.ndarray) -> np.ndarray:
    from scipy import linalg  # only here: the default kind, correlation, never needs it

    return linalg.inv(covariance)


def _partial_correlation(covariance: np.ndarray) -> np.ndarray:
    return prec_to_partial(_precision(covariance))


def _covariance(covariance: np.ndarray) -> np.ndarray:
    return covariance


#: Connectivity kinds by name (as in the reference and ``connectivity.kinds``): a function of
#: one subject's Ledoit-Wolf covariance, or None for "tangent", which needs the whole group
#: (:func:`tangent_space`).
KINDS: dict[str, Callable[[np.ndarray], np.ndarray] | None] = {
    "correlation": cov_to_corr,
    "partial correlation": _partial_correlation,
    "covariance": _covariance,
    "precision": _precision,
    "tangent": None,
}

#: Kinds computed from one subject alone (tangent needs the whole group).
SUBJECT_KINDS = tuple(kind for kind, transform in KINDS.items() if transform is not None)

#: Kinds whose values are correlations: averaged in Fisher z.
CORRELATION_KINDS = ("correlation", "partial correlation")


def connectivity_from_covariance(covariance: np.ndarray, kind: str) -> np.ndarray:
    """One subject's matrix of a single-subject kind from its Ledoit-Wolf covariance.

    Parameters
    ----------
    covariance : ndarray, shape (n, n)
    kind : {"correlation", "partial correlation", "covariance", "precision"}

    Returns
    -------
    ndarray, shape (n, n)

    Raises
    ------
    ValueError
        Unknown kind, or "tangent" (it needs a group: see :func:`tangent_space`).
    """
    _check_kind(kind)
    transform = KINDS[kind]
    if transform is None:
        raise ValueError(f"kind {kind!r} is not a single-subject kind; use one of {SUBJECT_KINDS}")
    return transform(covariance)


def subject_connectivity(timeseries: np.ndarray, kind: str) -> np.ndarray:
    """One subject's connectivity matrix, as the reference's ``ConnectivityMeasure``.

    The series are centred but not standardised (the reference's ``standardize="zscore_sample"``
    disables standardisation), their Ledoit-Wolf covariance is estimated and transformed
    according to ``kind``.

    Parameters
    ----------
    timeseries : ndarray, shape (n_samples, n_regions)
        Region signals, one row per volume. Not modified.
    kind : {"correlation", "partial correlation", "covariance", "precision"}
        "correlation": :func:`cov_to_corr` of the covariance; "partial correlation":
        :func:`prec_to_partial` of its inverse; "precision": its inverse; "covariance": the
        Ledoit-Wolf covariance itself.

    Returns
    -------
    ndarray, shape (n_regions, n_regions)
        In the series' floating dtype.

    Raises
    ------
    ValueError
        Unknown kind (the message lists the valid ones), "tangent" (it needs a group: see
        :func:`tangent_space`), or series that are not 2D.
    """
    _check_kind(kind)
    covariance, _ = ledoit_wolf(timeseries)
    return connectivity_from_covariance(covariance, kind)


#: Correlations are clipped to this magnitude before artanh, so that r = 1 stays finite.
FISHER_CLIP = 1.0 - 1e-7


def fisher_z(r: np.ndarray | float) -> np.ndarray:
    """Fisher's z-transform ``artanh(r)``, with ``r`` clipped to ±(1 - 1e-7).

    Parameters
    ----------
    r : ndarray or float
        Correlations in [-1, 1], any shape. Not modified.

    Returns
    -------
    ndarray, float64
        Same shape; ±1 (a correlation matrix's diagonal) maps to ±8.41 instead of ±inf.
    """
    return np.arctanh(np.clip(np.asarray(r, dtype=np.float64), -FISHER_CLIP, FISHER_CLIP))


def inverse_fisher_z(z: np.ndarray | float) -> np.ndarray:
    """Back-transform of :func:`fisher_z`: ``tanh(z)``.

    Parameters
    ----------
    z : ndarray or float
        Any shape. Not modified.

    Returns
    -------
    ndarray, float64
        Correlations in [-1, 1], same shape.
    """
    return np.tanh(np.asarray(z, dtype=np.float64))


def fisher_mean(matrices: np.ndarray | Sequence[np.ndarray], axis: int = 0) -> np.ndarray:
    """Mean of correlation matrices in Fisher z, back-transformed; diagonal set to 1.

    Parameters
    ----------
    matrices : ndarray, shape (n_matrices, n, n), or sequence of ndarray, shape (n, n)
        Correlation matrices stacked along ``axis``. Not modified.
    axis : int, default=0
        Axis to average over.

    Returns
    -------
    ndarray, float64
        ``tanh(mean(artanh(r)))``; the input's shape without ``axis``. When the last two axes
        of the result are square, their diagonal is set to exactly 1.

    Notes
    -----
    Averaging in z weighs correlations by how precisely they are estimated, unlike the
    arithmetic mean: the mean of 0.5 and 0.9 is 0.7661, not 0.7.
    """
    mean = inverse_fisher_z(np.mean(fisher_z(matrices), axis=axis))
    if mean.ndim >= 2 and mean.shape[-1] == mean.shape[-2]:
        diagonal = np.arange(mean.shape[-1])
        mean[..., diagonal, diagonal] = 1.0
    return mean


def group_mean(matrices: Sequence[np.ndarray] | np.ndarray, kind: str = "covariance") -> np.ndarray:
    """Mean of matrices of one kind: in Fisher z for correlations, arithmetic otherwise.

    Parameters
    ----------
    matrices : sequence of ndarray, shape (n, n), or ndarray, shape (n_matrices, n, n)
    kind : str, default="covariance"
        One of :data:`SUBJECT_KINDS`; "correlation" and "partial correlation" are averaged in
        Fisher z (:func:`fisher_mean`), the others element-wise.

    Returns
    -------
    ndarray, shape (n, n)
        In the inputs' dtype.

    Raises
    ------
    ValueError
        No matrix, matrices of different shapes, or the "tangent" kind (whose group matrix is
        the geometric mean of the covariances: :func:`tangent_space`).
    """
    _check_kind(kind)
    if kind == "tangent":
        raise ValueError("the group matrix of 'tangent' is the geometric mean (tangent_space)")
    stack = _stack_matrices(matrices)
    if kind in CORRELATION_KINDS:
        return fisher_mean(stack).astype(stack.dtype)
    return stack.mean(axis=0)


def mean_covariances(runs_covariances: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """Each subject's covariance: the arithmetic mean of its runs' covariances.

    Parameters
    ----------
    runs_covariances : sequence of sequences of ndarray, shape (n, n)
        For each subject, the covariance of each of its runs.

    Returns
    -------
    list of ndarray, shape (n, n)
        One per subject, in the given order.
    """
    return [np.mean(np.asarray(runs), axis=0) for runs in runs_covariances]


def subject_connectomes(
    runs_covariances: Sequence[Sequence[np.ndarray]], kind: str
) -> list[np.ndarray]:
    """One connectome of ``kind`` per subject, from the covariances of its runs.

    A subject with several runs gets the mean of its runs' matrices (:func:`group_mean`: in
    Fisher z for correlations). For "tangent", each subject's runs' covariances are averaged
    first, and the matrices are the subjects' tangent vectors at the geometric mean of all
    subjects (:func:`tangent_space`), so they depend on the whole group.

    Parameters
    ----------
    runs_covariances : sequence of sequences of ndarray, shape (n, n)
        For each subject, the covariance of each of its runs (Ledoit-Wolf: :func:`ledoit_wolf`).
    kind : str
        One of :data:`KINDS`.

    Returns
    -------
    list of ndarray, shape (n, n)
        One per subject, in the given order.
    """
    _check_kind(kind)
    if kind == "tangent":
        return list(tangent_space(mean_covariances(runs_covariances))[2])
    return [
        group_mean([connectivity_from_covariance(c, kind) for c in runs], kind)
        for runs in runs_covariances
    ]


def _stack_matrices(matrices: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    if len(matrices) == 0:
        raise ValueError("at least one matrix is needed")
    shapes = {np.shape(m) for m in matrices}
    if len(shapes) > 1:
        raise ValueError(f"Matrices are not of the same shape. Shapes: {sorted(shapes)}")
    return np.asarray(matrices)


# --------------------------------------------------------------------------- Riemannian geometry


def _map_eigenvalues(matrix: np.ndarray, func: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``V f(λ) Vᵀ`` for a symmetric matrix ``V diag(λ) Vᵀ``, symmetrised exactly."""
    from scipy import linalg

    values, vectors = linalg.eigh(matrix)
    out = (vectors * func(values)) @ vectors.T
    return (out + out.T) / 2


def _check_spd(matrix: np.ndarray) -> None:
    from scipy import linalg

    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"Expected a square matrix, got array of shape {matrix.shape}.")
    scale = np.max(np.abs(matrix), initial=0.0)
    symmetric = np.max(np.abs(matrix - matrix.T), initial=0.0) <= SYMMETRY_RTOL * scale
    if not (symmetric and np.all(np.isfinite(matrix))):
        raise ValueError("Expected a symmetric positive definite matrix.")
    if linalg.eigvalsh(matrix)[0] <= 0:
        raise ValueError("Expected a symmetric positive definite matrix.")


def _check_spd_group(covariances: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Check every matrix is SPD and all share one shape; return them stacked in float64."""
    mats = [np.asarray(c) for c in covariances]
    if not mats:
        raise ValueError("at least one matrix is needed")
    for mat in mats:
        if mat.ndim != 2 or mat.shape[0] != mat.shape[1]:
            raise ValueError(f"Expected a square matrix, got array of shape {mat.shape}.")
    if len({mat.shape for mat in mats}) > 1:
        raise ValueError("Matrices are not of the same shape.")
    for mat in mats:
        _check_spd(mat)
    return np.array(mats, dtype=np.float64)


def _result_dtype(covariances: Sequence[np.ndarray] | np.ndarray) -> np.dtype:
    dtype = np.result_type(*[np.asarray(c).dtype for c in covariances])
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _riemannian_gradient(mean: np.ndarray, mats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the logs of the whitened matrices at ``mean``, and ``mean^{1/2}``.

    The mean log is (minus) the Riemannian gradient of the sum of squared distances, expressed
    in the tangent space at ``mean``.
    """
    from scipy import linalg

    values, vectors = linalg.eigh(mean)
    sqrt = (vectors * np.sqrt(values)) @ vectors.T
    inv_sqrt = (vectors / np.sqrt(values)) @ vectors.T
    logs = [_map_eigenvalues(inv_sqrt @ mat @ inv_sqrt, np.log) for mat in mats]
    mean_log = np.mean(logs, axis=0)
    if np.any(np.isnan(mean_log)):
        raise FloatingPointError("NaN value after logarithm operation.")
    return mean_log, sqrt


def _geometric_mean_float64(mats: np.ndarray, max_iter: int, tol: float | None) -> np.ndarray:
    """Gradient descent of :func:`geometric_mean` on checked float64 matrices."""
    mean = mats.mean(axis=0)
    step = 1.0
    best_norm = np.inf
    for _ in range(max_iter):
        mean_log, mean_sqrt = _riemannian_gradient(mean, mats)
        norm = float(np.linalg.norm(mean_log))
        mean = mean_sqrt @ _map_eigenvalues(step * mean_log, np.exp) @ mean_sqrt
        mean = (mean + mean.T) / 2
        if norm > best_norm:
            # overshoot: the step was too long for this curvature
            step /= 2
        else:
            best_norm = norm
        if tol is not None and best_norm / mean.size < tol:
            break
    else:
        if tol is not None:
            warnings.warn(
                f"geometric mean: {max_iter} iterations reached without getting to the "
                f"requested tolerance ({best_norm / mean.size:.3g} > {tol:g} per element)",
                stacklevel=3,
            )
    return mean


def geometric_mean(
    covariances: Sequence[np.ndarray] | np.ndarray,
    max_iter: int = GEOMETRIC_MAX_ITER,
    tol: float | None = GEOMETRIC_TOL,
) -> np.ndarray:
    """Geometric (Riemannian, affine-invariant) mean of SPD matrices.

    Minimises ``sum_k ||logm(G^{-1/2} C_k G^{-1/2})||²_F`` by gradient descent from the
    arithmetic mean: ``L = mean_k logm(G^{-1/2} C_k G^{-1/2})``, then
    ``G <- G^{1/2} expm(step L) G^{1/2}``. The step starts at 1 and is halved whenever
    ``||L||_F`` grows; iterations stop when ``||L||_F / G.size < tol``.

    Computed in float64 whatever the input dtype, because float32 round-off in the matrix
    logarithms is of the order of the stopping tolerance; the result is cast back.

    Parameters
    ----------
    covariances : sequence of ndarray, shape (n, n), or ndarray, shape (n_matrices, n, n)
        Symmetric positive definite matrices. Not modified.
    max_iter : int, default=30
        Maximum number of gradient steps.
    tol : float or None, default=1e-7
        Tolerance on the gradient norm per matrix element; None runs ``max_iter`` steps.

    Returns
    -------
    ndarray, shape (n, n)
        The geometric mean, symmetric positive definite, in the inputs' floating dtype.

    Raises
    ------
    ValueError
        "Expected a square matrix", "Matrices are not of the same shape." or "Expected a
        symmetric positive definite matrix.".
    FloatingPointError
        If a matrix logarithm produced NaN.

    Warns
    -----
    UserWarning
        If the tolerance was not reached within ``max_iter`` steps.
    """
    mean = _geometric_mean_float64(_check_spd_group(covariances), max_iter, tol)
    return mean.astype(_result_dtype(covariances), copy=False)


def tangent_space(
    covariances: Sequence[np.ndarray] | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tangent-space parametrisation of a group's covariances (the reference's "tangent").

    Parameters
    ----------
    covariances : sequence of ndarray, shape (n, n), or ndarray, shape (n_subjects, n, n)
        One SPD covariance per subject (at least 2). Not modified.

    Returns
    -------
    mean : ndarray, shape (n, n)
        Geometric mean of the covariances (:func:`geometric_mean`; the reference's ``mean_``).
    whitening : ndarray, shape (n, n)
        ``mean^{-1/2}`` (the reference's ``whitening_``).
    tangents : ndarray, shape (n_subjects, n, n)
        ``logm(W C_k W)`` for every subject, symmetric.

    All three in the inputs' floating dtype (computed in float64).

    Raises
    ------
    ValueError
        Fewer than 2 subjects, or inputs that :func:`geometric_mean` rejects.
    """
    if len(covariances) < 2:
        raise ValueError(
            "Tangent space parametrization can only be applied to a group of subjects, as it "
            f"returns deviations to the mean. You provided {len(covariances)} subject(s)."
        )
    dtype = _result_dtype(covariances)
    mats = _check_spd_group(covariances)
    mean = _geometric_mean_float64(mats, GEOMETRIC_MAX_ITER, GEOMETRIC_TOL)
    whitening = whitening_of(mean)
    tangents = np.array([tangent_vector(c, whitening) for c in mats])
    return mean.astype(dtype), whitening.astype(dtype), tangents.astype(dtype)


def tangent_vector(covariance: np.ndarray, whitening: np.ndarray) -> np.ndarray:
    """One covariance in the tangent space at a reference point: ``logm(W C W)``.

    Parameters
    ----------
    covariance : ndarray, shape (n, n)
        Symmetric positive definite.
    whitening : ndarray, shape (n, n)
        ``W = G^(-1/2)`` of the reference point G (:func:`tangent_space`'s ``whitening``).

    Returns
    -------
    ndarray, shape (n, n), float64
        Symmetric.
    """
    whitening = np.asarray(whitening, dtype=np.float64)
    return _map_eigenvalues(whitening @ np.asarray(covariance, np.float64) @ whitening, np.log)


def whitening_of(mean: np.ndarray) -> np.ndarray:
    """``G^(-1/2)`` of a symmetric positive definite reference point G, in float64.

    Parameters
    ----------
    mean : ndarray, shape (n, n)

    Returns
    -------
    ndarray, shape (n, n), float64
        Symmetric.
    """
    return _map_eigenvalues(
        np.asarray(mean, dtype=np.float64), lambda values: 1.0 / np.sqrt(values)
    )
