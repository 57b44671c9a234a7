"""Per-subject reduction and group decomposition into network maps (DictLearning, CanICA).

The per-subject reduction (a randomized SVD) is implemented here with numpy/scipy so that the
per-subject jobs never import scikit-learn (about 1.2-1.8 s per process). The group step uses
scikit-learn's FastICA and online dictionary learning, imported inside the functions.

Conventions follow the reference pipeline (see the project's algorithm notes): the group
matrix stacks every subject's reduced rows; CanICA = row-normalised randomized PCA + spatial
FastICA (voxels are samples); DictLearning starts from a one-shot, unthresholded CanICA.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Literal

import numpy as np

__all__ = [
    "canica",
    "decompose",
    "dict_learning",
    "randomized_svd",
    "reduce_data",
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
    n_jobs: int = 1,
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
    n_jobs : int, default=1
        Processes for the final sparse coding of every voxel (the slowest step: one small
        Lasso per voxel in Python). The maps do not depend on it.

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
        # the code that return_code=True would give (the estimator's transform), computed
        # by blocks of voxels: each voxel's Lasso is independent of the others
        code = map_row_blocks(
            lambda voxels: lasso_codes(voxels, dictionary, alpha, SPARSE_CODING_MAX_ITER),
            data.T,
            n_jobs,
        )
    return _unit_rows_mostly_positive(code.T)


#: Voxels coded both ways by :func:`lasso_codes` before it trusts its direct solver calls.
CHECKED_VOXELS = 64


def lasso_codes(
    voxels: np.ndarray, dictionary: np.ndarray, alpha: float, max_iter: int
) -> np.ndarray:
    """``sparse_encode(voxels, dictionary, algorithm="lasso_cd", ...)``, bit for bit, faster.

    scikit-learn codes each voxel through a ``Lasso`` estimator whose Python set-up costs
    ~20 µs per voxel, twice the solver's own work here (8 atoms, 160 features). This calls
    the same compiled coordinate-descent solver once per voxel with the same arguments.
    That solver is private, so its use is checked at every call: the ``CHECKED_VOXELS``
    voxels most correlated with the dictionary (those with non-zero codes, where a
    difference in the penalty or tolerance would show) are coded both ways, and on any
    difference or error every voxel goes through ``sparse_encode``.

    Parameters
    ----------
    voxels : ndarray, shape (n_voxels, n_features)
    dictionary : ndarray, shape (n_atoms, n_features)
    alpha : float
        L1 penalty, as ``sparse_encode``'s ``alpha``.
    max_iter : int

    Returns
    -------
    ndarray, shape (n_voxels, n_atoms)
    """
    from sklearn.decomposition import sparse_encode

    def public(rows: np.ndarray) -> np.ndarray:
        return sparse_encode(
            rows, dictionary, algorithm="lasso_cd", alpha=alpha, max_iter=max_iter, n_jobs=1
        )

    voxels, dictionary = np.ascontiguousarray(voxels), np.ascontiguousarray(dictionary)
    if len(voxels) == 0 or voxels.dtype != dictionary.dtype:
        return public(voxels)
    strength = np.abs(voxels @ dictionary.T).max(axis=1)
    checked = np.sort(np.argsort(strength, kind="stable")[::-1][:CHECKED_VOXELS])
    # Both ways on the same rows: the correlations' matrix product rounds differently for a
    # handful of rows than for thousands, in scikit-learn as here.
    expected = public(voxels[checked])
    try:
        agree = np.array_equal(
            _lasso_cd_codes(voxels[checked], dictionary, alpha, max_iter), expected
        )
        problem = "different codes"
    except (AttributeError, ImportError, TypeError, ValueError) as error:
        agree, problem = False, f"{type(error).__name__}: {error}"
    if agree:  # in the estimator's memory layout: later reductions round by layout
        c_order = expected.flags.c_contiguous and not expected.flags.f_contiguous
        codes = _lasso_cd_codes(voxels, dictionary, alpha, max_iter)
        return np.asarray(codes, order="C" if c_order else "F")
    log.warning(
        "scikit-learn's coordinate-descent solver did not reproduce sparse_encode (%s); "
        "coding every voxel through sparse_encode (slower, same maps)",
        problem,
    )
    return public(voxels)


def _lasso_cd_codes(
    voxels: np.ndarray, dictionary: np.ndarray, alpha: float, max_iter: int
) -> np.ndarray:
    """What ``sparse_encode``'s ``lasso_cd`` computes, without its per-voxel estimator.

    The same steps as scikit-learn (1.5-1.9): the penalty divided by the number of features
    then multiplied by the number of samples of the Lasso (the same number), tolerance
    1e-8, the Gram matrix and the correlations computed by the same products, zero start.
    """
    from sklearn.linear_model import _cd_fast

    n_features = voxels.shape[1]
    lasso_alpha = float(alpha) / n_features
    l1_penalty = lasso_alpha * 1.0 * n_features  # Lasso's alpha * l1_ratio * n_samples
    l2_penalty = lasso_alpha * (1.0 - 1.0) * n_features
    gram = np.dot(dictionary, dictionary.T)
    atoms = np.asfortranarray(dictionary.T)  # the Lasso's design matrix (n_samples, n_atoms)
    targets = np.asfortranarray(voxels.T)  # one column per voxel
    correlations = np.empty((atoms.shape[1], targets.shape[1]), dtype=atoms.dtype, order="F")
    np.dot(targets.T, atoms, out=correlations.T)
    rng = np.random.mtrand._rand  # unused: cyclic coordinate selection
    codes = np.zeros((targets.shape[1], atoms.shape[1]), dtype=atoms.dtype, order="F")
    solve = _cd_fast.enet_coordinate_descent_gram
    for k in range(targets.shape[1]):
        start = np.zeros(atoms.shape[1], dtype=atoms.dtype)
        codes[k] = solve(
            start,
            l1_penalty,
            l2_penalty,
            gram,
            correlations[:, k],
            targets[:, k],
            max_iter,
            1e-8,
            rng,
            0,
            0,
        )[0]
    return codes


def map_row_blocks(
    func: Callable[[np.ndarray], np.ndarray], rows: np.ndarray, n_jobs: int
) -> np.ndarray:
    """``func(rows)`` for a row-wise ``func``, computed in ``n_jobs`` forked processes.

    The rows are cut into ``n_jobs`` consecutive blocks of 2 rows or more (fewer blocks if
    needed). Each block but the last is handled by a forked child, which inherits the
    loaded libraries and the data (no import, no pickling of the input, unlike a process
    pool); the last one by this process.

    Parameters
    ----------
    func : callable
        Maps an (n, ...) array to an (n, k) array, each output row depending only on the same
        input row, so that the blocks concatenate to exactly ``func(rows)``.
    rows : ndarray, shape (n_rows, ...)
    n_jobs : int
        Processes to use (1, or a platform without ``fork``: everything here).

    Returns
    -------
    ndarray, shape (n_rows, k)
        In the memory layout of ``func``'s own result. A block whose child failed is
        computed again here (with a warning).
    """
    n_jobs = max(1, min(n_jobs, len(rows) // 2))  # 2+ rows per block: a known layout
    if n_jobs == 1 or not hasattr(os, "fork"):
        return func(rows)
    bounds = np.linspace(0, len(rows), n_jobs + 1).astype(int)
    forked = list(pairwise(bounds[:-1]))  # every block but the last
    children = [_fork_block(func, rows[start:stop]) for start, stop in forked]
    last = func(rows[bounds[-2] :])
    # same memory layout as func's own result: later reductions round by layout
    out = np.empty_like(last, shape=(len(rows), *last.shape[1:]))
    out[bounds[-2] :] = last
    for (pid, pipe), (start, stop) in zip(children, forked, strict=True):
        block = _collect_block(pid, pipe, (stop - start, *last.shape[1:]), last.dtype)
        if block is None:
            warnings.warn(f"rows {start}-{stop}: worker failed, computed again", stacklevel=2)
            block = func(rows[start:stop])
        out[start:stop] = block
    return out


def _fork_block(func: Callable[[np.ndarray], np.ndarray], block: np.ndarray) -> tuple[int, int]:
    """Start a child computing ``func(block)`` into a pipe; return (pid, read end)."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():  # Python >= 3.12 warns about fork in threaded processes
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # child: write the result, then leave without running any exit handler
        status = 1
        try:
            os.close(read_end)
            with os.fdopen(write_end, "wb") as out:
                out.write(memoryview(np.ascontiguousarray(func(block))).cast("B"))
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    return pid, read_end


def _collect_block(
    pid: int, pipe: int, shape: tuple[int, ...], dtype: np.dtype
) -> np.ndarray | None:
    """A child's result (None if it failed or wrote the wrong amount)."""
    with os.fdopen(pipe, "rb") as source:
        payload = source.read()
    _, status = os.waitpid(pid, 0)
    expected = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if status != 0 or len(payload) != expected:
        return None
    return np.frombuffer(payload, dtype=dtype).reshape(shape)


# --------------------------------------------------------------------------- workflow step


def stack_reduced(paths: Sequence[str | Path]) -> np.ndarray:
    """Stack the subjects' reduced arrays into one Fortran-ordered (rows, voxels) matrix."""
    blocks = [np.load(p) for p in paths]
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
    reduced: Sequence[str | Path],
    mask: str | Path,
    output: str | Path,
    *,
    method: Literal["dictlearning", "canica"] = "dictlearning",
    n_components: int = 8,
    random_state: int = 0,
    alpha: float = 10,
    batch_size: int = 20,
    n_epochs: int = 1,
    canica_threshold: float | str | None = "auto",
    canica_n_init: int = 10,
    n_jobs: int = 1,
) -> Path:
    """Workflow step: network maps from every subject's reduced data.

    Parameters
    ----------
    reduced : sequence of path-like
        ``reduced.npy`` of each subject, shape (k, n_voxels), in subject order.
    mask : path-like
        Group mask (defines the voxels and the grid).
    output : path-like
        4D float32 NIfTI, one volume per component.
    method : {"dictlearning", "canica"}, default="dictlearning"
    n_components, random_state, alpha, batch_size, n_epochs
        See :func:`dict_learning`.
    canica_threshold, canica_n_init
        See :func:`canica` (``threshold``, ``n_init``).
    n_jobs : int, default=1
        Processes for dictionary learning's final sparse coding (the maps do not depend on
        it); the workflow passes the job's threads.

    Returns
    -------
    Path
    """
    import nibabel as nib

    from netregions.io import save_nifti
    from netregions.masking import unmask

    mask_img = nib.load(mask)
    mask_data = np.asanyarray(mask_img.dataobj).astype(bool)
    data = stack_reduced(reduced)
    if data.shape[1] != mask_data.sum():
        raise ValueError(
            f"reduced data have {data.shape[1]} voxels, the group mask {mask_data.sum()}"
        )
    log.info("%s on %d rows x %d voxels", method, *data.shape)
    if method == "dictlearning":
        maps = dict_learning(
            data,
            n_components,
            alpha=alpha,
            batch_size=batch_size,
            n_epochs=n_epochs,
            random_state=random_state,
            n_jobs=n_jobs,
        )
    elif method == "canica":
        maps = canica(
            data,
            n_components,
            random_state=random_state,
            threshold=canica_threshold,
            n_init=canica_n_init,
        )
    else:
        raise ValueError(f"unknown decomposition method {method!r}")
    return save_nifti(unmask(maps.astype(np.float32), mask_data), mask_img.affine, output)
