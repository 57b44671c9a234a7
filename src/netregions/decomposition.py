"""Per-subject reduction and group decomposition into network maps (DictLearning, CanICA).

The per-subject reduction (a randomized SVD) is implemented here with numpy/scipy so that the
per-subject jobs never import scikit-learn, a slow import in every process. The group step uses
scikit-learn's FastICA and online dictionary learning, imported inside the functions.

Conventions follow the reference pipeline (docs/algorithms.md §2-§3): the group
matrix stacks every subject's reduced rows; CanICA = row-normalised randomized PCA + spatial
FastICA (voxels are samples); DictLearning starts from a one-shot, unthresholded CanICA.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

__all__ = [
    "METHODS",
    "EmptyComponentsError",
    "canica",
    "decompose",
    "dict_learning",
    "randomized_svd",
    "reduce_data",
    "stack_reduced",
    "svd_flip",
]

log = logging.getLogger("netregions")

#: Ridge penalty of the initial loadings (the reference's value).
LOADINGS_ALPHA = 1e-8

#: Coordinate-descent iterations of each voxel's Lasso, in the online learning and in the
#: final sparse coding alike (scikit-learn's default, which the reference keeps).
SPARSE_CODING_MAX_ITER = 1000


# --------------------------------------------------------------------------- SVD


def svd_flip(u: np.ndarray, vt: np.ndarray, u_based: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic signs: the largest-magnitude entry of each singular vector is positive.

    Parameters
    ----------
    u : ndarray, shape (m, k)
    vt : ndarray, shape (k, n)
    u_based : bool, default=True
        Decide on the columns of ``u`` (else on the rows of ``vt``).

    Returns
    -------
    u, vt : ndarray
        Flipped copies.
    """
    if u_based:
        rows = np.argmax(np.abs(u), axis=0)
        signs = np.sign(u[rows, np.arange(u.shape[1])])
    else:
        cols = np.argmax(np.abs(vt), axis=1)
        signs = np.sign(vt[np.arange(vt.shape[0]), cols])
    return u * signs, vt * signs[:, None]


def _range_finder(
    a: np.ndarray, size: int, n_iter: int, normalizer: str, rng: np.random.RandomState
) -> np.ndarray:
    """Orthonormal basis approximating the range of ``a`` (Halko et al. 2009, alg. 4.3/4.4)."""
    from scipy import linalg

    q = rng.normal(size=(a.shape[1], size))
    if a.dtype.kind == "f":
        q = q.astype(a.dtype, copy=False)
    for _ in range(n_iter):
        if normalizer == "LU":
            q, _ = linalg.lu(a @ q, permute_l=True, check_finite=False)
            q, _ = linalg.lu(a.T @ q, permute_l=True, check_finite=False)
        elif normalizer == "QR":
            q, _ = linalg.qr(a @ q, mode="economic", check_finite=False)
            q, _ = linalg.qr(a.T @ q, mode="economic", check_finite=False)
        else:
            q = a.T @ (a @ q)
    q, _ = linalg.qr(a @ q, mode="economic", check_finite=False)
    return q


def randomized_svd(
    m: np.ndarray,
    n_components: int,
    *,
    n_oversamples: int = 10,
    n_iter: int | Literal["auto"] = "auto",
    normalizer: Literal["auto", "LU", "QR", "none"] = "auto",
    transpose: bool | Literal["auto"] = "auto",
    random_state: int | np.random.RandomState = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Truncated SVD by random projections with power iterations, signs made deterministic.

    Parameters
    ----------
    m : ndarray, shape (n_rows, n_cols)
    n_components : int
    n_oversamples : int, default=10
        Extra random directions (the sketch has ``n_components + n_oversamples`` columns).
    n_iter : int or "auto", default="auto"
        Power iterations; "auto" = 7 when ``n_components < 0.1 * min(m.shape)`` else 4.
    normalizer : {"auto", "LU", "QR", "none"}, default="auto"
        Normalisation between power iterations; "auto" = LU when ``n_iter > 2`` else none.
    transpose : bool or "auto", default="auto"
        Work on ``m.T`` ("auto": when ``m`` has fewer rows than columns).
    random_state : int or numpy RandomState, default=0
        The Gaussian sketch is drawn with ``RandomState.normal`` (legacy generator, as the
        reference, so results match it).

    Returns
    -------
    u : ndarray, shape (n_rows, n_components)
    s : ndarray, shape (n_components,)
    vt : ndarray, shape (n_components, n_cols)
    """
    from scipy import linalg

    rng = (
        random_state
        if isinstance(random_state, np.random.RandomState)
        else np.random.RandomState(random_state)
    )
    if n_iter == "auto":
        n_iter = 7 if n_components < 0.1 * min(m.shape) else 4
    if normalizer == "auto":
        normalizer = "none" if n_iter <= 2 else "LU"
    if transpose == "auto":
        transpose = m.shape[0] < m.shape[1]
    a = m.T if transpose else m
    q = _range_finder(a, n_components + n_oversamples, n_iter, normalizer, rng)
    u_hat, s, vt = linalg.svd(q.T @ a, full_matrices=False, lapack_driver="gesdd")
    u = q @ u_hat
    u, vt = svd_flip(u, vt, u_based=not transpose)
    if transpose:
        return vt[:n_components].T, s[:n_components], u[:, :n_components].T
    return u[:, :n_components], s[:n_components], vt[:n_components]


def reduce_data(signals: np.ndarray, n_components: int, random_state: int = 0) -> np.ndarray:
    """Top spatial singular vectors of one subject's cleaned data, scaled by singular values.

    Parameters
    ----------
    signals : ndarray, shape (n_volumes, n_voxels)
        Cleaned (detrended, standardised) in-mask time series.
    n_components : int
        Rows kept: ``min(n_components, n_volumes)``.
    random_state : int, default=0
        A fresh ``RandomState(random_state)`` for this subject (as the reference).

    Returns
    -------
    ndarray, shape (k, n_voxels), dtype of ``signals``
        Row i is ``s_i * u_i`` for the i-th left singular vector u_i of ``signals.T``.

    Notes
    -----
    A full SVD is used when the matrix is small (largest side <= 500) or when k is close to
    the smaller side; otherwise a randomized SVD (7 LU power iterations, 10 oversamples).
    """
    from scipy import linalg

    m = signals.T
    k = min(n_components, signals.shape[0])
    if max(m.shape) > 500 and 1 <= k < 0.8 * min(m.shape):
        u, s, _ = randomized_svd(m, k, random_state=np.random.RandomState(random_state))
    else:
        u, s, vt = linalg.svd(m, full_matrices=False)
        u, _ = svd_flip(u, vt)
        u, s = u[:, :k], s[:k]
    return (u.T * s[:, None]).astype(signals.dtype, copy=False)


# --------------------------------------------------------------------------- CanICA


def _nonzero(values: np.ndarray) -> np.ndarray:
    """``values`` with zeros replaced by 1 (a safe divisor), in place."""
    values[values == 0] = 1
    return values


def _l2_norms(array: np.ndarray, axis: int) -> np.ndarray:
    """L2 norms along ``axis``, zeros replaced by 1."""
    return _nonzero(np.sqrt(np.sum(array**2, axis=axis)))


def _normalize_rows(data: np.ndarray) -> np.ndarray:
    """Divide each row by its L2 norm in place (0 -> 1); return the norms used."""
    norms = _l2_norms(data, axis=1)
    data /= norms[:, None]
    return norms


def _group_pca(data: np.ndarray, n_components: int, random_state: int, do_cca: bool):
    """Group PCA maps (n_voxels, n_components) of the stacked subject rows.

    With ``do_cca`` each row is L2-normalised first (in place, then restored, as the
    reference does, so ``data`` equals its input up to 1 ulp afterwards).
    """
    norms = _normalize_rows(data) if do_cca else None
    maps, _, _ = randomized_svd(
        data.T, n_components, transpose=True, n_iter=3, random_state=random_state
    )
    if norms is not None:
        data *= norms[:, None]
    return maps


def _ica_seeds(random_state: int, n_init: int) -> np.ndarray:
    return np.random.RandomState(random_state).randint(np.iinfo(np.int32).max, size=n_init)


def _unmix(maps: np.ndarray, random_state: int, n_init: int) -> np.ndarray:
    """Spatial FastICA of PCA maps; of ``n_init`` runs keep the sparsest (smallest max L1)."""
    from sklearn.decomposition import fastica

    best, best_l1 = None, np.inf
    for seed in _ica_seeds(random_state, n_init):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*did not converge.*")
            _, _, sources = fastica(
                maps.astype(np.float64),
                whiten="arbitrary-variance",
                fun="cube",
                random_state=seed,
            )
        ica_maps = sources.T
        l1 = np.max(np.sum(np.abs(ica_maps), axis=1))
        if l1 < best_l1:
            best, best_l1 = ica_maps, l1
    return best


def _threshold_ica_maps(maps: np.ndarray, threshold: float | str | None) -> np.ndarray:
    """Zero the smallest entries so that about ``ratio * n_voxels`` survive in total."""
    if threshold is None:
        return maps
    ratio = 1.0 if threshold == "auto" else float(threshold)
    n_components = maps.shape[0]
    if ratio > n_components:
        raise ValueError(
            f"Threshold must not be higher than number of maps: {ratio} > {n_components}"
        )
    percentile = 100.0 - (100.0 / n_components) * ratio
    if percentile <= 0:
        log.info("CanICA threshold ratio %s keeps every voxel (critical threshold)", ratio)
        return maps
    cut = np.percentile(np.abs(maps), percentile)
    return np.where(np.abs(maps) < cut, 0, maps)


def _flip_to_positive_peak(maps: np.ndarray) -> np.ndarray:
    flip = maps.max(axis=1) < -maps.min(axis=1)
    maps[flip] *= -1
    return maps


def canica(
    data: np.ndarray,
    n_components: int,
    *,
    random_state: int = 0,
    threshold: float | str | None = "auto",
    n_init: int = 10,
    do_cca: bool = True,
) -> np.ndarray:
    """CanICA maps of the stacked reduced data.

    Parameters
    ----------
    data : ndarray, shape (n_subjects * k, n_voxels)
        Stacked per-subject reductions (float32, Fortran order as the reference).
    n_components : int
    random_state : int, default=0
    threshold : float, "auto" or None, default="auto"
        Ratio of voxels kept over all maps ("auto" = 1); None keeps everything.
    n_init : int, default=10
        FastICA restarts; the sparsest solution is kept.
    do_cca : bool, default=True
        Normalise each row before the group PCA.

    Returns
    -------
    ndarray, shape (n_components, n_voxels), dtype of ``data``
        Maps with their peak made positive.
    """
    return _canica_inplace(
        np.array(data, order="F"), n_components, random_state, threshold, n_init, do_cca
    )


def _canica_inplace(data, n_components, random_state=0, threshold="auto", n_init=10, do_cca=True):
    """:func:`canica` on ``data`` itself: its rows are normalised and restored in place.

    The reference continues with the restored rows (equal to the input up to 1 ulp), so the
    dictionary learning that follows uses them too.
    """
    maps = _group_pca(data, n_components, random_state, do_cca)
    ica_maps = _unmix(maps, random_state, n_init)
    ica_maps = _threshold_ica_maps(ica_maps, threshold)
    return _flip_to_positive_peak(ica_maps.astype(data.dtype))


# --------------------------------------------------------------------------- DictLearning


def _initial_loadings(components: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Ridge regression of the data rows on the initial maps; columns L2-normalised."""
    from scipy import linalg

    gram = components @ components.T
    gram.flat[:: gram.shape[0] + 1] += LOADINGS_ALPHA
    loadings = linalg.solve(gram, components @ data.T, assume_a="pos")
    return loadings / _l2_norms(loadings, axis=0)


def _unit_rows_mostly_positive(maps: np.ndarray) -> np.ndarray:
    maps = maps / _l2_norms(maps, axis=1)[:, None]
    flip = np.sum(maps < 0, axis=1) > np.sum(maps > 0, axis=1)
    maps[flip] *= -1
    return maps


def dict_learning(
    data: np.ndarray,
    n_components: int,
    *,
    alpha: float = 10,
    batch_size: int = 20,
    n_epochs: int = 1,
    random_state: int = 0,
    n_threads: int = 1,
) -> np.ndarray:
    """Dictionary-learning maps of the stacked reduced data.

    Parameters
    ----------
    data : ndarray, shape (n_subjects * k, n_voxels)
        Stacked per-subject reductions (float32, Fortran order).
    n_components : int
    alpha : float, default=10
        Sparsity of the maps (L1 penalty of the voxel codes).
    batch_size : int, default=20
        Voxels per minibatch of the online algorithm.
    n_epochs : int, default=1
    random_state : int, default=0
    n_threads : int, default=1
        Threads of the final sparse coding of every voxel (the slowest step: one small Lasso
        per voxel). The maps do not depend on it.

    Returns
    -------
    ndarray, shape (n_components, n_voxels)
        Unit-norm maps, each with more positive than negative entries.

    Notes
    -----
    Initialisation as the reference: an unthresholded one-run CanICA, each map divided by
    its sum of squares, then ridge loadings as the initial dictionary. Voxels are the
    samples of scikit-learn's online dictionary learning; the learned codes are the maps.
    """
    from sklearn.decomposition import dict_learning_online

    data = np.array(data, order="F")  # the CanICA initialisation works in place
    init = _canica_inplace(
        data, n_components, random_state=random_state, threshold=float(n_components), n_init=1
    )
    init /= _nonzero(np.sum(init**2, axis=1))[:, None]
    loadings = _initial_loadings(init, data)
    n_voxels = data.shape[1]
    max_iter = ((n_voxels - 1) // batch_size + 1) * n_epochs
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*did not converge.*")
        dictionary = dict_learning_online(
            data.T,
            n_components,
            alpha=alpha,
            batch_size=batch_size,
            method="cd",
            dict_init=loadings,
            verbose=0,
            random_state=random_state,
            return_code=False,
            shuffle=True,
            n_jobs=1,
            max_iter=max_iter,
            method_max_iter=SPARSE_CODING_MAX_ITER,
        )
    # the code that return_code=True would give (the estimator's transform): one Lasso per
    # voxel, computed by a compiled coordinate descent (docs/differences.md, Sparse coding)
    from netregions.kernels import lasso_codes

    code = lasso_codes(
        data.T, dictionary, alpha, max_iter=SPARSE_CODING_MAX_ITER, n_threads=n_threads
    )
    return _unit_rows_mostly_positive(code.T)


# --------------------------------------------------------------------------- registry


class EmptyComponentsError(ValueError):
    """The decomposition returned maps that are all zero."""


def _dictlearning(data: np.ndarray, n_components: int, **settings) -> np.ndarray:
    keys = ("alpha", "batch_size", "n_epochs", "random_state", "n_threads")
    return dict_learning(data, n_components, **{k: settings[k] for k in keys if k in settings})


def _canica(data: np.ndarray, n_components: int, **settings) -> np.ndarray:
    renamed = {"canica_threshold": "threshold", "canica_n_init": "n_init"}
    keys = ("random_state", "canica_threshold", "canica_n_init")
    return canica(
        data, n_components, **{renamed.get(k, k): settings[k] for k in keys if k in settings}
    )


#: Decomposition methods by config name (``decomposition.method``):
#: ``f(stacked_reduced, n_components, **settings) -> maps (n_components, n_voxels)``; each
#: takes the settings it knows (see :func:`dict_learning`, :func:`canica`) and ignores others.
METHODS: dict[str, Callable[..., np.ndarray]] = {
    "dictlearning": _dictlearning,
    "canica": _canica,
}


def stack_reduced(blocks: Sequence[np.ndarray]) -> np.ndarray:
    """Stack runs' reduced arrays into one Fortran-ordered (rows, voxels) matrix, in order.

    Parameters
    ----------
    blocks : sequence of ndarray, shape (k_i, n_voxels)

    Returns
    -------
    ndarray, shape (sum k_i, n_voxels)
        Fortran order and the first block's dtype, as the reference stacks its subjects.
    """
    n_voxels = {b.shape[1] for b in blocks}
    if len(n_voxels) != 1:
        raise ValueError(f"reduced data have different numbers of voxels: {sorted(n_voxels)}")
    data = np.empty(
        (sum(b.shape[0] for b in blocks), blocks[0].shape[1]), dtype=blocks[0].dtype, order="F"
    )
    start = 0
    for block in blocks:
        data[start : start + block.shape[0]] = block
        start += block.shape[0]
    return data


def decompose(
    data: np.ndarray,
    method: Literal["dictlearning", "canica"] = "dictlearning",
    n_components: int = 8,
    **settings,
) -> np.ndarray:
    """Network maps of the stacked reduced data with one of :data:`METHODS`.

    Parameters
    ----------
    data : ndarray, shape (n_rows, n_voxels)
        Stacked reductions (:func:`stack_reduced`).
    method : {"dictlearning", "canica"}, default="dictlearning"
    n_components : int, default=8
    **settings
        ``random_state``, ``alpha``, ``batch_size``, ``n_epochs``, ``n_threads``
        (dictlearning); ``random_state``, ``canica_threshold``, ``canica_n_init`` (canica).

    Returns
    -------
    ndarray, shape (n_components, n_voxels)

    Raises
    ------
    ValueError
        Unknown method.
    EmptyComponentsError
        Every map is zero (e.g. ``alpha`` too strong for small data), naming the settings to
        change: the regions step would otherwise fail later with advice about the wrong knob.
    """
    if method not in METHODS:
        raise ValueError(f"unknown decomposition method {method!r}; use one of {list(METHODS)}")
    log.info("%s on %d rows x %d voxels", method, *data.shape)
    maps = METHODS[method](data, n_components, **settings)
    empty = [k for k in range(maps.shape[0]) if not np.any(maps[k])]
    if len(empty) == maps.shape[0]:
        hint = (
            f"decomposition.alpha={settings.get('alpha')!r}, " if method == "dictlearning" else ""
        )
        raise EmptyComponentsError(
            f"{method} returned {maps.shape[0]} all-zero maps from {data.shape[0]} rows x "
            f"{data.shape[1]} voxels: lower {hint}or change decomposition.n_components="
            f"{n_components} (too sparse a solution for this much data)"
        )
    if empty:
        log.warning("%s: maps %s are all zero (consider a lower alpha)", method, empty)
    return maps
