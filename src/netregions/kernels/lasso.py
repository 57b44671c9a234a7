"""Lasso sparse coding of voxels on a fixed dictionary, one independent problem per voxel.

:func:`lasso_codes` computes what scikit-learn's public
``sparse_encode(voxels, dictionary, algorithm="lasso_cd", alpha=alpha, max_iter=max_iter)``
returns, without building one ``Lasso`` estimator per voxel. For each voxel x (one row of
``voxels``) and dictionary D it minimises

    P(w) = 1/2 ||x - D^T w||^2 + l1 ||w||_1

by cyclic coordinate descent on the Gram matrix Q = D D^T and the correlations q = D x, from
w = 0, with the duality-gap stopping rule and gap-safe screening of atoms; the problem, its
scaling and the stopping rule are written out in docs/methods/sparse_coding.md.

Work is split into blocks of ``_BLOCK`` consecutive voxels; worker w of W codes blocks w,
w + W, w + 2W, ... (interleaved, so that a cluster of hard voxels is shared out). Each
voxel's code depends only on that voxel and is computed by the same float64 operations
whatever the split, so the result is identical for any number of threads. Per block, the
correlations are computed first (reading the voxels once, in either memory layout), then
each voxel is solved in the worker's scratch.
"""

import math
import numbers
import warnings

import numpy as np
from numba import njit, prange

__all__ = ["SPARSE_ENCODE_TOL", "lasso_codes"]

#: The duality-gap tolerance that ``sparse_encode``'s ``lasso_cd`` gives its ``Lasso``
#: (relative to ||x||^2, docs/methods/sparse_coding.md, Stopping rule).
SPARSE_ENCODE_TOL = 1e-8
# Voxels per block: the block's correlations (_BLOCK x n_atoms float64) stay in L1, and
# interleaved blocks of this size balance workers without many scheduling steps.
_BLOCK = 64
# Jobs with fewer voxels run serially: a parallel launch can stall on a busy machine.
_PARALLEL_MIN_VOXELS = 2048
# Kernel status per voxel.
_CONVERGED, _NOT_CONVERGED, _NOT_FINITE = 0, 1, 2


# --------------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _correlations(values, v0, nb, atoms_t, corr, sq_norms, block):
    """corr[j*block + b] = sum_f D[j, f] x_b[f] and sq_norms[b] = ||x_b||^2 for b < nb.

    x_b is column v0 + b of ``values`` (n_features, n_columns); ``atoms_t`` is D^T
    (n_features, n_atoms) in float64. Terms are added in feature order, in float64; the
    loops run along b, over neighbouring voxels, so they vectorise.
    """
    n_features, k = atoms_t.shape
    for i in range(k * block):
        corr[i] = 0.0
    for b in range(nb):
        sq_norms[b] = 0.0
    for f in range(n_features):
        x = values[f, v0 : v0 + nb]
        for b in range(nb):
            x_b = np.float64(x[b])
            sq_norms[b] += x_b * x_b
        for j in range(k):
            d_jf = atoms_t[f, j]
            acc = corr[j * block : j * block + nb]
            for b in range(nb):
                acc[b] += d_jf * np.float64(x[b])


@njit(cache=True)
def _block_correlations(voxels, features_first, v0, nb, atoms_t, corr, sq_norms, block, columns):
    """`_correlations` of voxels v0 .. v0 + nb - 1 of ``voxels``, in either layout.

    ``voxels`` is (n_features, n_voxels) when ``features_first``, else (n_voxels, n_features);
    in the latter case the block is first copied, transposed, into ``columns``
    (n_features, block) so that both layouts run the same loops and give the same bits.
    """
    if features_first:
        _correlations(voxels, v0, nb, atoms_t, corr, sq_norms, block)
        return
    for b in range(nb):
        row = voxels[v0 + b]
        for f in range(row.size):
            columns[f, b] = row[f]
    _correlations(columns, 0, nb, atoms_t, corr, sq_norms, block)


@njit(cache=True)
def _duality_gap(gram, q, sq_norm, l1, w, qw, grad):
    """Return (gap, max_j |grad_j|) at w, and set grad = q - Q w (= D (x - D^T w)).

    With R = x - D^T w: ||R||^2 = ||x||^2 + w.Qw - 2 w.q and R.x = ||x||^2 - w.q. The dual
    point theta = s R with s = min(1, l1 / max|grad|) is feasible; the gap is
    P(w) - (s R.x - s^2 ||R||^2 / 2). Without a penalty (l1 = 0) the gap is replaced by
    ||grad||^2 (the least-squares optimality condition).
    """
    k = q.size
    w_dot_q = 0.0
    w_dot_qw = 0.0
    w_l1 = 0.0
    grad_max = 0.0
    grad_sq = 0.0
    for j in range(k):
        w_dot_q += w[j] * q[j]
        w_dot_qw += w[j] * qw[j]
        w_l1 += abs(w[j])
        grad[j] = q[j] - qw[j]
        grad_max = max(grad_max, abs(grad[j]))
        grad_sq += grad[j] * grad[j]
    if l1 == 0.0:
        return grad_sq, grad_max
    residual_sq = sq_norm + w_dot_qw - 2.0 * w_dot_q
    residual_dot_x = sq_norm - w_dot_q
    primal = 0.5 * residual_sq + l1 * w_l1
    scale = l1 / grad_max if grad_max > l1 else 1.0
    dual = scale * residual_dot_x - 0.5 * scale * scale * residual_sq
    return primal - dual, grad_max


@njit(cache=True)
def _screen(gram, l1, gap, grad, grad_max, w, qw, active, excluded):
    """Gap-safe screening: drop the atoms that are zero at the optimum; return how many stay.

    The optimal dual point lies within sqrt(2 |gap|) / l1 of theta (see _duality_gap); atom j
    is provably inactive when 1 - |d_j . theta| exceeds that radius times ||d_j||. A dropped
    atom is set to 0 (Q w updated) and never comes back. ``active[:n]`` lists the others in
    increasing order, the order of the coordinate sweeps.
    """
    k = w.size
    radius = np.sqrt(2.0 * abs(gap)) / l1
    theta_scale = max(l1, grad_max)
    n_active = 0
    for j in range(k):
        if excluded[j]:
            continue
        if gram[j, j] > 0.0:  # a zero atom is always dropped
            margin = (1.0 - abs(grad[j] / theta_scale)) / np.sqrt(gram[j, j])
            if margin <= radius:
                active[n_active] = j
                n_active += 1
                continue
        excluded[j] = 1
        if w[j] != 0.0:
            for i in range(k):
                qw[i] -= w[j] * gram[j, i]
            w[j] = 0.0
    return n_active


@njit(cache=True)
def _solve_voxel(gram, q, sq_norm, l1, tol, max_iter, w, qw, grad, active, excluded):
    """Coordinate descent for one voxel from w = 0; return (status, sweeps).

    A sweep updates each active atom j in increasing order by soft-thresholding:
    w_j <- sign(z) max(|z| - l1, 0) / Q_jj with z = q_j - (Q w)_j + w_j Q_jj. The gap is
    evaluated before the first sweep, and after a sweep whose largest change is at most
    ``tol`` times the largest |w_j| (or that left w = 0, or that is the last one); it stops
    once the gap is at most tol * ||x||^2 (see docs/methods/sparse_coding.md).
    """
    k = q.size
    for j in range(k):
        w[j] = 0.0
        qw[j] = 0.0
        active[j] = j
        excluded[j] = 0
    gap_tol = tol * sq_norm
    gap, grad_max = _duality_gap(gram, q, sq_norm, l1, w, qw, grad)
    if 0.0 <= gap <= gap_tol:  # a negative gap (rounding, singular Q) is not trusted
        return _CONVERGED, 0
    screening = l1 > 0.0
    n_active = k
    if screening:
        n_active = _screen(gram, l1, gap, grad, grad_max, w, qw, active, excluded)
    for sweep in range(max_iter):
        w_max = 0.0
        change_max = 0.0
        for a in range(n_active):
            j = active[a]
            diagonal = gram[j, j]
            if diagonal == 0.0:
                continue  # a zero atom keeps a zero code
            old = w[j]
            z = q[j] - qw[j] + old * diagonal
            shrunk = max(abs(z) - l1, 0.0)
            new = (shrunk if z >= 0.0 else -shrunk) / diagonal
            w[j] = new
            if new != old:
                delta = new - old
                for i in range(k):
                    qw[i] += delta * gram[j, i]
            change_max = max(change_max, abs(new - old))
            w_max = max(w_max, abs(new))
        if w_max == 0.0 or change_max / w_max <= tol or sweep == max_iter - 1:
            gap, grad_max = _duality_gap(gram, q, sq_norm, l1, w, qw, grad)
            if gap <= gap_tol:
                return _CONVERGED, sweep + 1
            if screening:
                n_active = _screen(gram, l1, gap, grad, grad_max, w, qw, active, excluded)
    return _NOT_CONVERGED, max_iter


@njit(cache=True, parallel=True)
def _lasso_parallel(
    voxels,
    features_first,
    n_voxels,
    atoms_t,
    gram,
    l1,
    tol,
    max_iter,
    block,
    out,
    status,
    sweeps,
    scratch,
    int_scratch,
    columns,
):
    """Code every voxel into ``out`` (n_voxels, n_atoms), ``status``/``sweeps`` per voxel.

    Worker w (one per row of the three scratch arrays) codes blocks w, w + n_workers, ... of
    ``block`` voxels: disjoint rows of ``out``, nothing is reduced across workers, so the
    result does not depend on the number of workers. A worker's scratch row holds
    block * (n_atoms + 1) + 4 * n_atoms float64 values, its ``int_scratch`` row 2 * n_atoms
    integers, its ``columns`` (n_features, block) float64 values.
    """
    n_workers = scratch.shape[0]
    k = gram.shape[0]
    for worker in prange(n_workers):
        own = scratch[worker]
        corr = own[: block * k]
        sq_norms = own[block * k : block * (k + 1)]
        q = own[block * (k + 1) : block * (k + 1) + k]
        w = own[block * (k + 1) + k : block * (k + 1) + 2 * k]
        qw = own[block * (k + 1) + 2 * k : block * (k + 1) + 3 * k]
        grad = own[block * (k + 1) + 3 * k : block * (k + 1) + 4 * k]
        active = int_scratch[worker, :k]
        excluded = int_scratch[worker, k : 2 * k]
        block_columns = columns[worker]
        n_blocks = (n_voxels + block - 1) // block
        for b0 in range(worker, n_blocks, n_workers):
            v0 = b0 * block
            nb = min(block, n_voxels - v0)
            _block_correlations(
                voxels, features_first, v0, nb, atoms_t, corr, sq_norms, block, block_columns
            )
            for b in range(nb):
                v = v0 + b
                finite = np.isfinite(sq_norms[b])
                for j in range(k):
                    q[j] = corr[j * block + b]
                    finite = finite and np.isfinite(q[j])
                if not finite:
                    status[v] = _NOT_FINITE
                    sweeps[v] = 0
                    for j in range(k):
                        out[v, j] = 0.0
                    continue
                status[v], sweeps[v] = _solve_voxel(
                    gram, q, sq_norms[b], l1, tol, max_iter, w, qw, grad, active, excluded
                )
                for j in range(k):
                    out[v, j] = w[j]


# --------------------------------------------------------------------------------------------
# Wrapper
# --------------------------------------------------------------------------------------------


def _as_float_matrix(array: np.ndarray, name: str) -> np.ndarray:
    """Return ``array`` as a real 2D ndarray of float32 or float64 (others -> float64)."""
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2D array; got {array.ndim} dimensions")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise ValueError(f"{name} must be numeric; got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real; got dtype {array.dtype}")
    # float32/float64 in native order are read as they are; the rest is converted once,
    # as scikit-learn converts them to float64
    if array.dtype.kind == "f" and array.dtype.itemsize in (4, 8) and array.dtype.isnative:
        return array
    return array.astype(np.float64)


def _kernel_layout(voxels: np.ndarray) -> tuple[np.ndarray, bool]:
    """(C-contiguous 2D array, features_first) describing ``voxels`` without a copy if possible.

    A Fortran-ordered (n_voxels, n_features) array (e.g. the transpose of an
    (n_features, n_voxels) matrix) is passed as its C-ordered transpose. The array is a
    read-only view, writable input or not: numba compiles one specialisation per
    writability, and the kernels only read the voxels.
    """
    features_first = voxels.flags.f_contiguous and not voxels.flags.c_contiguous
    data = voxels.T.view() if features_first else np.ascontiguousarray(voxels).view()
    data.flags.writeable = False
    return data, features_first


def _is_number(value: object, kind: type, minimum: float) -> bool:
    """True for a finite ``kind`` (numbers.Real or numbers.Integral) >= minimum, not a bool."""
    return (
        isinstance(value, kind)
        and not isinstance(value, bool | np.bool_)
        and math.isfinite(value)
        and value >= minimum
    )


def _check_scalars(alpha: float, max_iter: int, tol: float, n_threads: int | None) -> None:
    """Raise ValueError naming the first argument out of range."""
    if not _is_number(alpha, numbers.Real, 0):
        raise ValueError(f"alpha must be a finite number >= 0; got {alpha!r}")
    if not _is_number(max_iter, numbers.Integral, 0):
        raise ValueError(f"max_iter must be an integer >= 0; got {max_iter!r}")
    if not _is_number(tol, numbers.Real, 0):
        raise ValueError(f"tol must be a finite number >= 0; got {tol!r}")
    if n_threads is not None and not _is_number(n_threads, numbers.Integral, 1):
        raise ValueError(f"n_threads must be None or an integer >= 1; got {n_threads!r}")


def _n_workers(n_voxels: int, n_threads: int | None) -> int:
    """Workers: ``n_threads`` or numba's thread count, 1 for small jobs, <= one per block."""
    import numba

    threads = numba.get_num_threads() if n_threads is None else int(n_threads)
    if n_voxels < _PARALLEL_MIN_VOXELS:
        return 1
    return max(1, min(threads, -(-n_voxels // _BLOCK)))


def _run(
    voxels: np.ndarray,
    dictionary: np.ndarray,
    alpha: float,
    max_iter: int,
    tol: float,
    n_threads: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate, run the kernel; return (codes, status, sweeps) per voxel."""
    voxels = _as_float_matrix(voxels, "voxels")
    dictionary = _as_float_matrix(dictionary, "dictionary")
    _check_scalars(alpha, max_iter, tol, n_threads)
    n_voxels, n_features = voxels.shape
    n_atoms = dictionary.shape[0]
    if dictionary.shape[1] != n_features:
        raise ValueError(
            f"dictionary must have one column per feature of voxels ({n_features}); "
            f"got shape {dictionary.shape}"
        )
    if n_features == 0 or n_atoms == 0:
        raise ValueError(
            f"voxels and dictionary need at least one feature and one atom; got voxels "
            f"{voxels.shape} and dictionary {dictionary.shape}"
        )
    if not np.all(np.isfinite(dictionary)):
        raise ValueError("dictionary must be finite; got NaN or inf values")
    both_single = voxels.dtype == np.float32 and dictionary.dtype == np.float32
    # float64 in the kernel whatever the inputs (one specialisation per voxel dtype only)
    out = np.empty((n_voxels, n_atoms))
    status = np.zeros(n_voxels, dtype=np.int64)
    sweeps = np.zeros(n_voxels, dtype=np.int64)
    if n_voxels == 0:
        return out.astype(np.float32) if both_single else out, status, sweeps
    atoms = dictionary.astype(np.float64)
    atoms_t = np.ascontiguousarray(atoms.T)
    gram = atoms @ atoms.T
    # sparse_encode's Lasso penalty alpha / n_features, times the n_features samples of
    # the Lasso's 1/(2 n_samples) loss (docs/methods/sparse_coding.md, Problem)
    l1 = float(alpha) / n_features * n_features
    data, features_first = _kernel_layout(voxels)
    n_workers = _n_workers(n_voxels, n_threads)
    scratch = np.empty((n_workers, _BLOCK * (n_atoms + 1) + 4 * n_atoms))
    int_scratch = np.empty((n_workers, 2 * n_atoms), dtype=np.int64)
    # a transposed copy of a block is needed for voxels in rows only
    columns = np.empty((n_workers, 0 if features_first else n_features, _BLOCK))
    args = (data, features_first, n_voxels, atoms_t, gram, l1, float(tol), int(max_iter))
    args += (_BLOCK, out, status, sweeps)
    _lasso_parallel_with_threads(args, (scratch, int_scratch, columns), n_threads)
    return out.astype(np.float32) if both_single else out, status, sweeps


def _lasso_parallel_with_threads(args: tuple, scratch: tuple, n_threads: int | None) -> None:
    """Run the parallel kernel on ``n_threads`` threads (numba's setting when None)."""
    import numba

    if n_threads is None:
        _lasso_parallel(*args, *scratch)
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(min(int(n_threads), numba.config.NUMBA_NUM_THREADS))
    try:
        _lasso_parallel(*args, *scratch)
    finally:
        numba.set_num_threads(previous)


def lasso_codes(
    voxels: np.ndarray,
    dictionary: np.ndarray,
    alpha: float,
    *,
    max_iter: int = 1000,
    tol: float = SPARSE_ENCODE_TOL,
    n_threads: int | None = None,
) -> np.ndarray:
    """Lasso codes of voxels on a dictionary, as scikit-learn's ``sparse_encode`` "lasso_cd".

    Parameters
    ----------
    voxels : ndarray of shape (n_voxels, n_features)
        One voxel's time series (or any signal) per row. C- or Fortran-ordered (a Fortran
        array is read in place). Never modified.
    dictionary : ndarray of shape (n_atoms, n_features)
        One atom per row; rows need not have unit norm.
    alpha : float
        L1 penalty, as ``sparse_encode``'s ``alpha``: each code w minimises
        1/2 ||x - dictionary.T @ w||^2 + alpha ||w||_1.
    max_iter : int, default 1000
        Most coordinate-descent sweeps per voxel.
    tol : float, default ``SPARSE_ENCODE_TOL`` (1e-8)
        Stop when the duality gap is at most ``tol * ||x||^2``.
    n_threads : int, optional
        Threads to use; default numba's current setting (``numba.set_num_threads``).
        Small jobs run on one thread.

    Returns
    -------
    codes : ndarray of shape (n_voxels, n_atoms)
        C-contiguous; float32 if both inputs are float32, float64 otherwise. Identical for
        any number of threads.

    Raises
    ------
    ValueError
        If an array is not 2D, not real numeric, the numbers of features differ, there is
        no feature or no atom, an input holds NaN or inf, or a scalar is out of range.

    Warns
    -----
    RuntimeWarning
        If some voxels did not converge in ``max_iter`` sweeps (their codes are returned
        as they are, like scikit-learn's).

    Notes
    -----
    Equal to ``sparse_encode(voxels, dictionary, algorithm="lasso_cd", alpha=alpha,
    max_iter=max_iter)`` to the solver's tolerance (the same problem, start, sweep order,
    stopping rule and screening). Everything is computed in float64, also for float32
    inputs, where scikit-learn computes in float32 and often cannot reach its tolerance.
    Method: docs/methods/sparse_coding.md.
    """
    codes, status, sweeps = _run(voxels, dictionary, alpha, max_iter, tol, n_threads)
    not_finite = np.flatnonzero(status == _NOT_FINITE)
    if not_finite.size:
        raise ValueError(
            f"voxels must be finite; got NaN or inf values in {not_finite.size} rows "
            f"(first: row {not_finite[0]})"
        )
    n_failed = int(np.count_nonzero(status == _NOT_CONVERGED))
    if n_failed:
        warnings.warn(
            f"lasso_codes: {n_failed} of {len(codes)} voxels did not converge in "
            f"max_iter={max_iter} sweeps (duality gap above tol * ||x||^2)",
            RuntimeWarning,
            stacklevel=2,
        )
    return codes
