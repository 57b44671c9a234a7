"""Group comparison of connectomes: Fisher z, vectorisation, classification, edge-wise tests.

Arrays in, arrays out. Subjects enter as their Ledoit-Wolf covariances ``(n_subjects,
n_regions, n_regions)``; every connectivity kind except "tangent" is a per-subject transform of
that covariance (:data:`netregions.connectome.KINDS`), "tangent" needs a reference point
learned from a group of subjects (:class:`TangentVectorizer`).

- :func:`classify` tells two groups apart from one kind's vectorised matrices with a linear
  classifier, in repeated stratified cross-validation, and tests the accuracy with a
  permutation test. Everything learned from data (the tangent reference, the feature scaling)
  is learned from the training folds only.
- :func:`edge_differences` tests every edge with Welch's t-test and controls the false
  discovery rate (:func:`fdr_bh`).

The methods, their choices and the facts they rest on: docs/methods/group_comparison.md.

scikit-learn is imported only when a classifier is built: :class:`TangentVectorizer` and
:class:`GlobalScaler` derive from its base classes and are created on first access (module
``__getattr__``), so importing this module for Fisher z or the edge tests stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from netregions.connectome import (
    CORRELATION_KINDS,
    KINDS,
    _check_kind,
    connectivity_from_covariance,
    fisher_z,
    geometric_mean,
    inverse_fisher_z,
    tangent_vector,
    whitening_of,
)

__all__ = [
    "GlobalScaler",  # noqa: F822 (created on first access, see __getattr__)
    "TangentVectorizer",  # noqa: F822 (created on first access, see __getattr__)
    "check_groups",
    "classification_pipeline",
    "classify",
    "edge_differences",
    "fdr_bh",
    "fdr_reject",
    "subject_matrices",
    "sym_matrix_to_vec",
    "vec_to_sym_matrix",
]

#: Regularisation of the linear SVM (docs/methods/group_comparison.md, Classification).
SVM_C = 1.0

#: Iteration limit of liblinear; standardised features with few subjects converge well before.
SVM_MAX_ITER = 10_000


# --------------------------------------------------------------------------- vectorisation


def sym_matrix_to_vec(m: np.ndarray, discard_diagonal: bool = False) -> np.ndarray:
    """Lower triangle of symmetric matrices as vectors, in the reference's convention.

    Parameters
    ----------
    m : ndarray, shape (..., n, n)
        Symmetric matrices (only the lower triangle is read). Not modified.
    discard_diagonal : bool, default=False
        Keep only the strict lower triangle (``i > j``), unscaled.

    Returns
    -------
    ndarray, shape (..., n * (n + 1) / 2), or (..., n * (n - 1) / 2) without the diagonal
        Entries row by row: (0,0), (1,0), (1,1), (2,0), ...; diagonal entries divided by
        sqrt(2), so that ``||v||² = ||M||²_F / 2`` (every off-diagonal pair counted once).

    Raises
    ------
    ValueError
        If the last two axes are not square.
    """
    m = np.asarray(m)
    if m.ndim < 2 or m.shape[-1] != m.shape[-2]:
        raise ValueError(f"expected square matrices in the last two axes; got shape {m.shape}")
    n = m.shape[-1]
    rows, cols = np.tril_indices(n, k=-1 if discard_diagonal else 0)
    vec = m[..., rows, cols]
    if not discard_diagonal:
        vec = vec.astype(np.result_type(vec.dtype, np.float64), copy=False)
        vec[..., rows == cols] /= np.sqrt(2.0)
    return vec


def vec_to_sym_matrix(v: np.ndarray, diagonal: np.ndarray | None = None) -> np.ndarray:
    """Symmetric matrices from vectors made by :func:`sym_matrix_to_vec`.

    Parameters
    ----------
    v : ndarray, shape (..., n * (n + 1) / 2), or (..., n * (n - 1) / 2) with ``diagonal``
        Lower triangles, row by row. Not modified.
    diagonal : ndarray, shape (..., n), optional
        The diagonal, when ``v`` holds the strict lower triangle only.

    Returns
    -------
    ndarray, shape (..., n, n), float64
        Symmetric; the diagonal (from ``v`` or from ``diagonal``) multiplied by sqrt(2), which
        inverts the scaling of :func:`sym_matrix_to_vec`. A diagonal passed separately is
        multiplied too, as in the reference: pass ``diag / sqrt(2)`` to get ``diag`` back.

    Raises
    ------
    ValueError
        If the length of ``v`` is not a triangular number, or ``diagonal`` does not match it.
    """
    v = np.asarray(v, dtype=np.float64)
    length = v.shape[-1]
    n = _triangle_side(length, with_diagonal=diagonal is None)
    matrix = np.zeros((*v.shape[:-1], n, n))
    if diagonal is None:
        rows, cols = np.tril_indices(n)
        values = v.copy()
        values[..., rows == cols] *= np.sqrt(2.0)
    else:
        diagonal = np.asarray(diagonal, dtype=np.float64)
        if diagonal.shape != (*v.shape[:-1], n):
            raise ValueError(
                f"diagonal of shape {diagonal.shape} does not match vectors of shape {v.shape} "
                f"(expected {(*v.shape[:-1], n)})"
            )
        rows, cols = np.tril_indices(n, k=-1)
        values = v
        index = np.arange(n)
        matrix[..., index, index] = diagonal * np.sqrt(2.0)
    matrix[..., rows, cols] = values
    matrix[..., cols, rows] = values
    return matrix


def _triangle_side(length: int, with_diagonal: bool) -> int:
    """``n`` such that ``length = n (n ± 1) / 2``."""
    n = int(round((np.sqrt(8 * length + 1) + (-1 if with_diagonal else 1)) / 2))
    expected = n * (n + 1) // 2 if with_diagonal else n * (n - 1) // 2
    if n < 1 or expected != length:
        what = "n (n + 1) / 2" if with_diagonal else "n (n - 1) / 2 (diagonal given separately)"
        raise ValueError(f"vectors of length {length} are not lower triangles: expected {what}")
    return n


# --------------------------------------------------------------------------- connectivity kinds


def _as_covariances(covariances: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """Subjects' covariances as one float64 stack, after checking the shape and values."""
    stack = np.asarray(covariances, dtype=np.float64)
    if stack.ndim != 3 or stack.shape[1] != stack.shape[2]:
        raise ValueError(
            "covariances must be an array (n_subjects, n_regions, n_regions); "
            f"got shape {stack.shape}"
        )
    if not np.all(np.isfinite(stack)):
        raise ValueError("covariances contain NaN or infinite values")
    return stack


def subject_matrices(covariances: np.ndarray, kind: str) -> np.ndarray:
    """Every subject's matrix of a single-subject kind, from its covariance.

    Parameters
    ----------
    covariances : ndarray, shape (n_subjects, n_regions, n_regions)
        Subjects' Ledoit-Wolf covariances (symmetric positive definite). Not modified.
    kind : {"correlation", "partial correlation", "covariance", "precision"}

    Returns
    -------
    ndarray, shape (n_subjects, n_regions, n_regions), float64

    Raises
    ------
    ValueError
        Unknown kind, "tangent" (its matrices depend on a group reference point: use
        :class:`TangentVectorizer` or ``netregions.connectome.tangent_space``), or covariances
        of the wrong shape or with non-finite values.
    """
    _check_kind(kind)
    if KINDS[kind] is None:
        raise ValueError(
            f"kind {kind!r} is not a per-subject transform: its reference point is learned from "
            "a group of subjects (TangentVectorizer, or connectome.tangent_space)"
        )
    stack = _as_covariances(covariances)
    return np.array([connectivity_from_covariance(c, kind) for c in stack])


# --------------------------------------------------------------------------- vectoriser


def _make_estimators() -> dict[str, type]:
    """Create :class:`TangentVectorizer` and :class:`GlobalScaler` (imports scikit-learn)."""
    from sklearn.base import BaseEstimator, TransformerMixin
    from sklearn.utils.validation import check_is_fitted

    class TangentVectorizer(TransformerMixin, BaseEstimator):
        """Vectorised connectivity matrices of one kind, from subjects' covariances.

        For "tangent", :meth:`fit` learns the reference point, the geometric mean ``G`` of
        the covariances it is given (``netregions.connectome.geometric_mean``), and
        :meth:`transform` maps each covariance ``C`` to ``logm(W C W)`` with ``W = G^(-1/2)``.
        Fitted on training subjects only, it keeps test subjects out of the reference point.
        For the other kinds it is stateless: each subject's matrix is a transform of its own
        covariance (:data:`netregions.connectome.KINDS`). Matrices are vectorised by
        :func:`sym_matrix_to_vec`, diagonal included (divided by sqrt(2)).

        Parameters
        ----------
        kind : str, default="tangent"
            One of :data:`netregions.connectome.KINDS`.

        Attributes
        ----------
        mean_ : ndarray, shape (n_regions, n_regions)
            Geometric mean of the training covariances ("tangent" only).
        whitening_ : ndarray, shape (n_regions, n_regions)
            ``mean_^(-1/2)`` ("tangent" only).
        n_regions_ : int
            Number of regions seen in :meth:`fit`.
        """

        def __init__(self, kind: str = "tangent"):
            self.kind = kind

        def fit(self, X: np.ndarray, y: Any = None) -> TangentVectorizer:  # noqa: N803
            """Learn the tangent reference point from covariances ``X`` (n, R, R).

            Parameters
            ----------
            X : ndarray, shape (n_subjects, n_regions, n_regions)
                Symmetric positive definite covariances.
            y : ignored

            Returns
            -------
            TangentVectorizer
                Fitted.

            Raises
            ------
            ValueError
                Unknown kind, badly shaped or non-SPD covariances.
            """
            _check_kind(self.kind)
            covariances = _as_covariances(X)
            if self.kind == "tangent":
                self.mean_ = geometric_mean(covariances)
                self.whitening_ = whitening_of(self.mean_)
            self.n_regions_ = covariances.shape[1]
            return self

        def transform(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
            """Vectorised matrices of the kind, one row per subject.

            Parameters
            ----------
            X : ndarray, shape (n_subjects, n_regions, n_regions)

            Returns
            -------
            ndarray, shape (n_subjects, n_regions * (n_regions + 1) / 2)

            Raises
            ------
            ValueError
                If ``X`` does not have the number of regions seen in :meth:`fit`.
            """
            check_is_fitted(self, "n_regions_")
            covariances = _as_covariances(X)
            if covariances.shape[1] != self.n_regions_:
                raise ValueError(
                    f"covariances have {covariances.shape[1]} regions; the vectoriser was "
                    f"fitted on {self.n_regions_}"
                )
            if self.kind == "tangent":
                matrices = np.array([tangent_vector(c, self.whitening_) for c in covariances])
            else:
                matrices = subject_matrices(covariances, self.kind)
            return sym_matrix_to_vec(matrices)

    class GlobalScaler(TransformerMixin, BaseEstimator):
        """Centre every feature, then divide all features by one number.

        The number is the root mean square distance of the training subjects' feature
        vectors to their mean, so that a typical training subject lies at distance 1 from the
        mean. Unlike ``StandardScaler``, the features keep their relative scales (an edge that
        varies more between subjects keeps more weight): only the unit of the kind is removed,
        so that the classifier's ``C`` means the same for every kind and every unit
        (docs/methods/group_comparison.md, Classification).

        Attributes
        ----------
        mean_ : ndarray, shape (n_features,)
            Mean of each feature over the training subjects.
        scale_ : float
            ``sqrt(mean over subjects of ||x - mean_||²)`` (1 if that is 0).
        """

        def fit(self, X: np.ndarray, y: Any = None) -> GlobalScaler:  # noqa: N803
            """Learn the feature means and the scale from training features.

            Parameters
            ----------
            X : ndarray, shape (n_subjects, n_features)
            y : ignored

            Returns
            -------
            GlobalScaler
                Fitted.
            """
            x = np.asarray(X, dtype=np.float64)
            self.mean_ = x.mean(axis=0)
            scale = float(np.sqrt(np.mean(np.sum((x - self.mean_) ** 2, axis=1))))
            self.scale_ = scale if scale > 0 else 1.0
            return self

        def transform(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
            """``(X - mean_) / scale_``.

            Parameters
            ----------
            X : ndarray, shape (n_subjects, n_features)

            Returns
            -------
            ndarray, shape (n_subjects, n_features)
            """
            check_is_fitted(self, "scale_")
            return (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_

    classes = {"TangentVectorizer": TangentVectorizer, "GlobalScaler": GlobalScaler}
    for name, cls in classes.items():
        # module-level names, so that pickle and repr find them here
        cls.__module__, cls.__qualname__ = __name__, name
    return classes


def _estimator_class(name: str) -> type:
    return globals()[name] if name in globals() else __getattr__(name)


def __getattr__(name: str) -> Any:
    # The estimators derive from scikit-learn's base classes: create them on first use only.
    if name in ("TangentVectorizer", "GlobalScaler"):
        globals().update(_make_estimators())
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- groups


def _as_labels(labels: Sequence[Any] | np.ndarray, n_subjects: int | None = None) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"labels must be one value per subject (1D); got shape {array.shape}")
    if n_subjects is not None and len(array) != n_subjects:
        raise ValueError(f"{len(array)} labels for {n_subjects} subjects")
    return array


def _group_counts(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    groups, counts = np.unique(labels, return_counts=True)
    return groups, counts


def _describe_groups(groups: np.ndarray, counts: np.ndarray) -> str:
    return ", ".join(
        f"{str(g)!r} ({c} subject{'' if c == 1 else 's'})"
        for g, c in zip(groups, counts, strict=True)
    )


def check_groups(labels: Sequence[Any] | np.ndarray, column: str, n_splits: int) -> None:
    """Check that labels define two groups large enough for stratified cross-validation.

    Parameters
    ----------
    labels : sequence, shape (n_subjects,)
        Each subject's group.
    column : str
        Where the labels come from (the ``group_comparison.column`` setting), for the message.
    n_splits : int
        Number of folds; each group needs at least this many subjects, so that every test
        fold holds at least one subject of each group.

    Raises
    ------
    ValueError
        Not exactly two groups (the message lists those found with their sizes), or a group
        smaller than ``n_splits`` (the message names it, its size and what is needed).
    """
    array = _as_labels(labels)
    setting = f"group_comparison.column={column!r}"
    groups, counts = _group_counts(array)
    if len(groups) != 2:
        found = _describe_groups(groups, counts) if len(groups) else "no subjects"
        raise ValueError(f"{setting} must define exactly two groups; found {len(groups)}: {found}")
    small = [(g, c) for g, c in zip(groups, counts, strict=True) if c < n_splits]
    if small:
        described = "; ".join(f"group {str(g)!r} has {c} subjects" for g, c in small)
        raise ValueError(
            f"{described}, {n_splits} are needed for {n_splits}-fold stratified "
            f"cross-validation ({setting})"
        )


# --------------------------------------------------------------------------- classification


def classification_pipeline(kind: str, *, random_state: int = 0) -> Any:
    """The classifier of :func:`classify`: vectorise, scale, linear SVM.

    Parameters
    ----------
    kind : str
        One of :data:`netregions.connectome.KINDS`.
    random_state : int, default=0
        Seed of liblinear's coordinate descent.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Unfitted steps ``"vectorize"`` (:class:`TangentVectorizer`), ``"scale"``
        (:class:`GlobalScaler`) and ``"classify"`` (``LinearSVC(C=1)``). It takes covariances
        ``(n_subjects, n_regions, n_regions)`` as ``X``, so that fitting it on training
        subjects fits the tangent reference point and the scaling on them alone.

    Raises
    ------
    ValueError
        Unknown kind.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.svm import LinearSVC

    _check_kind(kind)
    classifier = LinearSVC(C=SVM_C, max_iter=SVM_MAX_ITER, random_state=random_state)
    steps = [
        ("vectorize", _estimator_class("TangentVectorizer")(kind=kind)),
        ("scale", _estimator_class("GlobalScaler")()),
        ("classify", classifier),
    ]
    return Pipeline(steps)


def _balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall of the classes present in ``y_true`` (scikit-learn's balanced accuracy)."""
    recalls = [np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]
    return float(np.mean(recalls))


def _split_features(
    front: Any, covariances: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]]
) -> list[np.ndarray]:
    """Features of every subject for each split, from the label-free steps fitted on its train.

    The vectoriser (tangent reference point) and the scaler do not look at the labels, so their
    fit on a training set is the same for the true and every permuted labelling: it is done
    once per distinct training set and reused (docs/methods/group_comparison.md, Permutations).
    """
    cache: dict[bytes, np.ndarray] = {}
    features = []
    for train, _ in splits:
        key = np.sort(train).tobytes()  # a set of subject indices, not data
        if key not in cache:
            cache[key] = _fit_transform_all(front, covariances, train)
        features.append(cache[key])
    return features


def _fit_transform_all(front: Any, covariances: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Fit each step of ``front`` on the training subjects, transform every subject.

    The same as fitting the pipeline ``front`` on ``covariances[train]`` and transforming all
    subjects with it, without transforming the training subjects twice.
    """
    from sklearn.base import clone

    x = covariances
    for _, step in front.steps:
        x = clone(step).fit(x[train]).transform(x)
    return x


def _fold_scores(
    classifier: Any,
    features: list[np.ndarray],
    splits: list[tuple[np.ndarray, np.ndarray]],
    y: np.ndarray,
) -> np.ndarray:
    """Balanced accuracy of the classifier in every split, given each split's features."""
    from sklearn.base import clone

    model = clone(classifier)  # refitted from scratch by every ``fit``
    scores = np.empty(len(splits))
    for k, ((train, test), x) in enumerate(zip(splits, features, strict=True)):
        groups = np.unique(y[train])
        if groups.size < 2:
            # a permuted labelling can put every subject of the smaller group into one test
            # fold (the folds are stratified on the true labels): all that can be learnt from
            # a single group is to predict it
            predicted = np.full(test.size, groups[0])
        else:
            predicted = model.fit(x[train], y[train]).predict(x[test])
        scores[k] = _balanced_accuracy(y[test], predicted)
    return scores


def classify(
    covariances: np.ndarray,
    labels: Sequence[Any] | np.ndarray,
    kind: str,
    *,
    n_splits: int = 5,
    n_repeats: int = 10,
    n_permutations: int = 100,
    random_state: int = 0,
    column: str = "group",
) -> dict[str, Any]:
    """Balanced accuracy of telling two groups apart from one kind of connectome.

    The model is :func:`classification_pipeline` (vectorised matrices of ``kind``, one global
    scale, linear SVM). It is evaluated by repeated stratified k-fold cross-validation; the
    tangent reference point and the scaling are fitted on each training set only. The
    permutation test repeats the same cross-validation (the same train/test splits) with
    shuffled labels.

    Parameters
    ----------
    covariances : ndarray, shape (n_subjects, n_regions, n_regions)
        Each subject's Ledoit-Wolf covariance. Not modified.
    labels : sequence, shape (n_subjects,)
        Each subject's group; exactly two groups.
    kind : str
        One of :data:`netregions.connectome.KINDS`.
    n_splits : int, default=5
        Folds per repetition (``RepeatedStratifiedKFold``).
    n_repeats : int, default=10
        Repetitions of the k-fold split, each with another random partition.
    n_permutations : int, default=100
        Label permutations of the permutation test; 0 skips it (``p_value`` is NaN).
    random_state : int, default=0
        Seed of the partitions, of the permutations and of the classifier.
    column : str, default="group"
        Name of the label column, for error messages.

    Returns
    -------
    dict
        ``kind``; ``balanced_accuracy`` and ``balanced_accuracy_sd``: mean and standard
        deviation (ddof=1) over the ``n_folds = n_splits * n_repeats`` test folds; ``p_value``:
        ``(C + 1) / (n_permutations + 1)`` with C the number of permutations whose mean
        balanced accuracy is at least the true one; ``n_subjects``; ``n_<group>`` for each
        group; ``chance``: 0.5, the balanced accuracy of guessing; ``n_permutations``;
        ``n_folds``.

    Raises
    ------
    ValueError
        Unknown kind, covariances of the wrong shape or with non-finite values, a label count
        that differs from the number of subjects, groups that :func:`check_groups` rejects, or
        ``n_repeats < 1`` or ``n_permutations < 0``.

    Notes
    -----
    The splits are drawn once from the true labels and reused for every permutation, so the
    label-free steps fitted on a training set (vectoriser, scaler) are fitted once per
    training set, not once per permutation. The result equals
    ``sklearn.model_selection.permutation_test_score`` of the pipeline given the list of splits
    as ``cv``, with ``scoring="balanced_accuracy"``. Why, and what it costs:
    docs/methods/group_comparison.md, Permutations.
    """
    import sklearn
    from sklearn.model_selection import RepeatedStratifiedKFold

    _check_kind(kind)
    if n_repeats < 1 or n_permutations < 0:
        raise ValueError(
            f"n_repeats must be >= 1 and n_permutations >= 0; got {n_repeats} and {n_permutations}"
        )
    stack = _as_covariances(covariances)
    names = _as_labels(labels, len(stack))
    check_groups(names, column, n_splits)
    groups, y = np.unique(names, return_inverse=True)
    cv = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=random_state)
    splits = list(cv.split(np.zeros((len(y), 1)), y))
    pipeline = classification_pipeline(kind, random_state=random_state)
    # inputs were checked above: scikit-learn need not check them again at each of the fits
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        features = _split_features(pipeline[:-1], stack, splits)
        scores = _fold_scores(pipeline[-1], features, splits, y)
        null = _permutation_scores(pipeline[-1], features, splits, y, n_permutations, random_state)
    score = float(np.mean(scores))
    result: dict[str, Any] = {
        "kind": kind,
        "balanced_accuracy": score,
        "balanced_accuracy_sd": float(np.std(scores, ddof=1)) if len(scores) > 1 else 0.0,
        "p_value": _permutation_p_value(score, null),
        "n_subjects": len(y),
    }
    result.update({f"n_{g}": int(np.sum(y == k)) for k, g in enumerate(groups)})
    result.update(chance=0.5, n_permutations=n_permutations, n_folds=len(splits))
    return result


def _permutation_scores(
    classifier: Any,
    features: list[np.ndarray],
    splits: list[tuple[np.ndarray, np.ndarray]],
    y: np.ndarray,
    n_permutations: int,
    random_state: int,
) -> np.ndarray:
    """Mean balanced accuracy of the cross-validation with each permutation of the labels."""
    # the permutations are drawn as scikit-learn's permutation_test_score draws them
    rng = np.random.RandomState(random_state)
    return np.array(
        [
            np.mean(_fold_scores(classifier, features, splits, y[rng.permutation(len(y))]))
            for _ in range(n_permutations)
        ]
    )


def _permutation_p_value(score: float, null: np.ndarray) -> float:
    """``(C + 1) / (n + 1)``, C = permuted scores >= the true score; NaN without permutations."""
    if len(null) == 0:
        return float("nan")
    return float((np.sum(null >= score) + 1) / (len(null) + 1))


# --------------------------------------------------------------------------- edge-wise tests


def fdr_bh(p: np.ndarray | Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input's order.

    Parameters
    ----------
    p : array-like, any shape
        p-values in [0, 1]; NaN entries are left out of the count ``m`` and stay NaN.

    Returns
    -------
    ndarray, float64
        Same shape: ``q_(i) = min over j >= i of min(1, m p_(j) / j)`` with the p-values
        sorted ascending. Rejecting ``q <= alpha`` is the BH procedure at level alpha
        (:func:`fdr_reject`).

    Raises
    ------
    ValueError
        If a p-value is outside [0, 1].
    """
    p = np.asarray(p, dtype=np.float64)
    finite = ~np.isnan(p)
    values = p[finite]
    if np.any((values < 0) | (values > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    order = np.argsort(values, kind="stable")
    m = len(values)
    scaled = values[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    q_finite = np.empty(m)
    q_finite[order] = np.minimum(adjusted, 1.0)
    q = np.full(p.shape, np.nan)
    q[finite] = q_finite
    return q


def fdr_reject(p: np.ndarray | Sequence[float], alpha: float = 0.05) -> np.ndarray:
    """Which hypotheses the Benjamini-Hochberg procedure rejects at FDR level ``alpha``.

    The largest k with ``p_(k) <= k alpha / m`` (p-values sorted ascending), and the k smallest
    p-values rejected; the same as ``fdr_bh(p) <= alpha``. The inequality is not strict: a
    p-value exactly at its bound is rejected, whatever the rounding of its q-value.

    Parameters
    ----------
    p : array-like, any shape
        p-values in [0, 1]; NaN entries are left out of ``m`` and never rejected.
    alpha : float, default=0.05
        FDR level.

    Returns
    -------
    ndarray of bool
        Same shape as ``p``.
    """
    return fdr_bh(p) <= alpha  # NaN compares False


def edge_differences(
    matrices: np.ndarray,
    labels: Sequence[Any] | np.ndarray,
    kind: str,
    *,
    alpha: float = 0.05,
    column: str = "group",
) -> dict[str, np.ndarray]:
    """Welch's t-test of every edge between two groups, with Benjamini-Hochberg FDR.

    Parameters
    ----------
    matrices : ndarray, shape (n_subjects, n_regions, n_regions)
        Each subject's matrix of ``kind``. Not modified.
    labels : sequence, shape (n_subjects,)
        Each subject's group; exactly two groups of at least 2 subjects. Groups are taken in
        sorted order: ``a`` the first, ``b`` the second.
    kind : str
        One of :data:`netregions.connectome.KINDS`. Correlations ("correlation", "partial
        correlation") are tested in Fisher z; other kinds on their values.
    alpha : float, default=0.05
        FDR level of ``significant``.
    column : str, default="group"
        Name of the label column, for error messages.

    Returns
    -------
    dict of ndarray, each shape (n_regions * (n_regions - 1) / 2,)
        One entry per edge ``i > j``, in the order of
        ``sym_matrix_to_vec(..., discard_diagonal=True)``: ``"i"``, ``"j"``; ``"mean_<a>"``,
        ``"mean_<b>"``: group means in the kind's units (Fisher-z means back-transformed to r
        for correlations); ``"t"``: Welch's t of ``b`` minus ``a`` (positive when group ``b``
        is higher); ``"p"``: two-sided p-value; ``"q"``: :func:`fdr_bh` over all edges;
        ``"significant"``: ``q <= alpha``, as :func:`fdr_reject`.

    Raises
    ------
    ValueError
        Unknown kind, matrices not (n_subjects, n, n), a label count that differs from the
        number of subjects, or groups that are not two of at least 2 subjects.
    """
    from scipy import stats

    _check_kind(kind)
    stack = np.asarray(matrices, dtype=np.float64)
    if stack.ndim != 3 or stack.shape[1] != stack.shape[2]:
        raise ValueError(f"matrices must be (n_subjects, n, n); got shape {stack.shape}")
    names = _as_labels(labels, len(stack))
    _check_two_groups_for_t_test(names, column)
    groups = np.unique(names)
    values = sym_matrix_to_vec(stack, discard_diagonal=True)
    correlations = kind in CORRELATION_KINDS
    if correlations:
        values = fisher_z(values)
    a, b = (values[names == g] for g in groups)
    test = stats.ttest_ind(b, a, axis=0, equal_var=False)
    rows, cols = np.tril_indices(stack.shape[1], k=-1)
    q = fdr_bh(test.pvalue)
    result = {"i": rows, "j": cols}
    for g, group_values in zip(groups, (a, b), strict=True):
        mean = group_values.mean(axis=0)
        result[f"mean_{g}"] = inverse_fisher_z(mean) if correlations else mean
    result.update(t=test.statistic, p=test.pvalue, q=q, significant=q <= alpha)
    return result


def _check_two_groups_for_t_test(labels: np.ndarray, column: str) -> None:
    groups, counts = _group_counts(labels)
    if len(groups) != 2 or np.any(counts < 2):
        found = _describe_groups(groups, counts) if len(groups) else "no subjects"
        raise ValueError(
            f"group_comparison.column={column!r}: edge tests need exactly two groups of at least "
            f"2 subjects; found {len(groups)}: {found}"
        )
