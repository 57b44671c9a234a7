import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from netregions import comparison as cmp
from netregions import connectome as cm
from netregions.connectome import ledoit_wolf

SQRT2 = np.sqrt(2.0)
#: sklearn's balanced accuracy warns on a test fold holding one class (permuted labels)
ONE_CLASS_FOLD = "ignore:y_pred contains classes not in y_true"


# --------------------------------------------------------------------------- planted data


def planted_groups(rng, n_per_group=10, n_regions=12, n_volumes=150, coupling=0.45):
    """Covariances of two groups that differ only in the coupling of regions 0 and 1.

    Every subject has its own mild background mixing (same distribution in both groups); in
    group "B" regions 0 and 1 additionally share a common signal (correlation ~ ``coupling``),
    with their variances kept unchanged, so the edge (1, 0) is the only planted difference.
    """
    covariances, labels = [], []
    for group in ("A", "B"):
        for _ in range(n_per_group):
            mixing = np.eye(n_regions) + 0.08 * rng.standard_normal((n_regions, n_regions))
            x = rng.standard_normal((n_volumes, n_regions)) @ mixing
            if group == "B":
                shared = rng.standard_normal((n_volumes, 1))
                sd = x[:, :2].std(axis=0)
                x[:, :2] = np.sqrt(1 - coupling) * x[:, :2] + np.sqrt(coupling) * sd * shared
            covariances.append(ledoit_wolf(x)[0])
            labels.append(group)
    return np.array(covariances), np.array(labels)


@pytest.fixture
def planted(rng):
    return planted_groups(rng)


def spd_stack(rng, n_subjects=6, n=4):
    a = rng.standard_normal((n_subjects, n, 3 * n))
    return a @ np.swapaxes(a, 1, 2) / (3 * n) + 0.1 * np.eye(n)


# --------------------------------------------------------------------------- Fisher z


def test_fisher_z_is_artanh_and_clips_ones():
    r = np.array([-0.5, 0.0, 0.3, 0.9])
    np.testing.assert_allclose(cm.fisher_z(r), [-0.549306, 0.0, 0.309520, 1.472219], atol=1e-6)
    assert cm.fisher_z(1.0) == pytest.approx(np.arctanh(1 - 1e-7))
    assert cm.fisher_z(-1.0) == pytest.approx(-np.arctanh(1 - 1e-7))
    np.testing.assert_allclose(cm.inverse_fisher_z(cm.fisher_z(r)), r, atol=1e-12)


def test_fisher_mean_of_05_and_09_is_07661_with_unit_diagonal():
    stack = np.array([[[1.0, 0.5], [0.5, 1.0]], [[1.0, 0.9], [0.9, 1.0]]])
    mean = cm.fisher_mean(stack)
    assert mean[0, 1] == pytest.approx(0.7661, abs=1e-4)  # arithmetic mean would be 0.7
    assert mean[1, 0] == mean[0, 1]
    np.testing.assert_array_equal(np.diag(mean), [1.0, 1.0])


def test_fisher_mean_along_another_axis(rng):
    stack = np.tanh(rng.standard_normal((3, 4, 4)))
    stack = (stack + np.swapaxes(stack, 1, 2)) / 2
    expected = cm.fisher_mean(stack)
    np.testing.assert_allclose(cm.fisher_mean(np.moveaxis(stack, 0, 2), axis=2), expected)
    reference = np.tanh(np.arctanh(stack).mean(axis=0))
    off = ~np.eye(4, dtype=bool)
    np.testing.assert_allclose(expected[off], reference[off], rtol=1e-12)


# --------------------------------------------------------------------------- vectorisation

MATRIX = np.array([[1.0, 2.0, 3.0], [2.0, 1.0, 5.0], [3.0, 5.0, 1.0]])


def test_sym_matrix_to_vec_worked_example():
    vec = cmp.sym_matrix_to_vec(MATRIX)
    np.testing.assert_allclose(vec, [1 / SQRT2, 2, 1 / SQRT2, 3, 5, 1 / SQRT2])
    assert vec @ vec == pytest.approx(39.5)  # Frobenius² / 2
    assert np.sum(MATRIX**2) / 2 == pytest.approx(39.5)
    np.testing.assert_array_equal(cmp.sym_matrix_to_vec(MATRIX, discard_diagonal=True), [2, 3, 5])


def test_vec_to_sym_matrix_inverts_both_forms():
    np.testing.assert_allclose(cmp.vec_to_sym_matrix(cmp.sym_matrix_to_vec(MATRIX)), MATRIX)
    # a separately given diagonal is multiplied by sqrt(2), as in the reference
    rebuilt = cmp.vec_to_sym_matrix(np.array([2.0, 3, 5]), diagonal=np.ones(3) / SQRT2)
    np.testing.assert_allclose(rebuilt, MATRIX)


def test_vectorisation_acts_on_the_last_two_axes(rng):
    stack = spd_stack(rng, n_subjects=5, n=4).reshape(5, 1, 4, 4)
    vec = cmp.sym_matrix_to_vec(stack)
    assert vec.shape == (5, 1, 10)
    np.testing.assert_allclose(vec[3, 0], cmp.sym_matrix_to_vec(stack[3, 0]))
    np.testing.assert_allclose(cmp.vec_to_sym_matrix(vec), stack)


def test_vectorisation_rejects_bad_shapes():
    with pytest.raises(ValueError, match="square"):
        cmp.sym_matrix_to_vec(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="length 5"):
        cmp.vec_to_sym_matrix(np.zeros(5))
    with pytest.raises(ValueError, match="diagonal of shape"):
        cmp.vec_to_sym_matrix(np.zeros(3), diagonal=np.zeros(4))


# --------------------------------------------------------------------------- kinds


def test_subject_matrices_match_plain_references(rng):
    data = rng.standard_normal((5, 200, 4)) @ (np.eye(4) + 0.4 * rng.standard_normal((4, 4)))
    data -= data.mean(axis=1, keepdims=True)
    covariances = np.array([x.T @ x / len(x) for x in data])
    corr = cmp.subject_matrices(covariances, "correlation")
    np.testing.assert_allclose(corr, [np.corrcoef(x.T) for x in data], atol=1e-12)
    # partial correlation of 0 and 1: correlation of their residuals on regions 2 and 3
    x = data[2]
    rest = x[:, 2:]
    resid = x[:, :2] - rest @ np.linalg.lstsq(rest, x[:, :2], rcond=None)[0]
    partial = cmp.subject_matrices(covariances, "partial correlation")
    assert partial[2, 1, 0] == pytest.approx(np.corrcoef(resid.T)[0, 1], abs=1e-10)
    np.testing.assert_allclose(
        cmp.subject_matrices(covariances, "precision") @ covariances,
        np.eye(4)[None].repeat(5, 0),
        atol=1e-10,
    )
    np.testing.assert_array_equal(cmp.subject_matrices(covariances, "covariance"), covariances)


def test_subject_matrices_refuse_tangent_and_unknown_kinds(rng):
    with pytest.raises(ValueError, match="learned from a group"):
        cmp.subject_matrices(spd_stack(rng), "tangent")
    with pytest.raises(ValueError, match="unknown connectivity kind 'corr'"):
        cmp.subject_matrices(spd_stack(rng), "corr")
    assert set(cm.KINDS) == {
        "correlation", "partial correlation", "covariance", "precision", "tangent"
    }  # fmt: skip


def test_tangent_vectorizer_worked_example():
    covariances = np.array([np.diag([1.0, 4.0]), np.diag([4.0, 1.0])])
    vectorizer = cmp.TangentVectorizer().fit(covariances)
    np.testing.assert_allclose(vectorizer.mean_, 2 * np.eye(2), atol=1e-7)
    np.testing.assert_allclose(vectorizer.whitening_, np.eye(2) / SQRT2, atol=1e-7)
    expected = np.array([[-0.4901, 0.0, 0.4901], [0.4901, 0.0, -0.4901]])
    np.testing.assert_allclose(vectorizer.transform(covariances), expected, atol=1e-4)


def test_tangent_vectorizer_transforms_new_subjects_at_the_training_mean(rng):
    train, new = spd_stack(rng, 6), spd_stack(rng, 2)
    vectorizer = cmp.TangentVectorizer().fit(train)
    values, vectors = np.linalg.eigh(vectorizer.mean_)
    whitening = (vectors / np.sqrt(values)) @ vectors.T
    for covariance, vec in zip(new, vectorizer.transform(new), strict=True):
        w_values, w_vectors = np.linalg.eigh(whitening @ covariance @ whitening)
        logm = (w_vectors * np.log(w_values)) @ w_vectors.T
        np.testing.assert_allclose(cmp.vec_to_sym_matrix(vec), logm, atol=1e-10)


def test_vectorizer_is_stateless_for_other_kinds(rng):
    covariances = spd_stack(rng)
    vectorizer = cmp.TangentVectorizer(kind="partial correlation").fit(covariances[:2])
    # by hand: -P_ij / sqrt(P_ii P_jj) off the diagonal, 1 on it; lower triangle row by row,
    # the diagonal divided by sqrt(2)
    rows, cols = np.tril_indices(covariances.shape[1])
    expected = []
    for covariance in covariances:
        precision = np.linalg.inv(covariance)
        d = np.sqrt(np.diag(precision))
        partial = -precision / np.outer(d, d)
        np.fill_diagonal(partial, 1.0)
        expected.append(partial[rows, cols] / np.where(rows == cols, SQRT2, 1.0))
    np.testing.assert_allclose(vectorizer.transform(covariances), expected, atol=1e-12)
    assert not hasattr(vectorizer, "mean_")


def test_vectorizer_checks_fit_and_shapes(rng):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        cmp.TangentVectorizer().transform(spd_stack(rng))
    fitted = cmp.TangentVectorizer().fit(spd_stack(rng, n=4))
    with pytest.raises(ValueError, match="3 regions; the vectoriser was fitted on 4"):
        fitted.transform(spd_stack(rng, n=3))


def test_global_scaler_keeps_relative_feature_scales(rng):
    x = rng.standard_normal((8, 5)) * [1.0, 10.0, 0.1, 1.0, 1.0] + 3.0
    scaled = cmp.GlobalScaler().fit(x[:6]).transform(x)
    centred = x - x[:6].mean(axis=0)
    ratio = scaled / centred
    np.testing.assert_allclose(ratio, ratio[0, 0])  # one factor for every feature
    assert np.mean(np.sum(scaled[:6] ** 2, axis=1)) == pytest.approx(1.0)


def test_importing_the_module_does_not_import_scikit_learn():
    code = "import sys, netregions.comparison, netregions.qcfc; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- groups


def test_check_groups_names_the_small_group_and_the_column():
    labels = ["child"] * 10 + ["adult"] * 3
    message = (
        r"group 'adult' has 3 subjects, 5 are needed for 5-fold stratified cross-validation "
        r"\(group_comparison.column='Child_Adult'\)"
    )
    with pytest.raises(ValueError, match=message):
        cmp.check_groups(labels, "Child_Adult", 5)
    cmp.check_groups(labels, "Child_Adult", 3)  # enough for 3 folds


def test_check_groups_wants_exactly_two_groups():
    with pytest.raises(ValueError, match=r"exactly two groups; found 1: 'child' \(20 subjects\)"):
        cmp.check_groups(["child"] * 20, "Child_Adult", 5)
    three = ["a"] * 6 + ["b"] * 7 + ["c"] * 5
    match = r"group_comparison.column='site'.*found 3: 'a' \(6 subjects\), 'b' \(7 subjects\)"
    with pytest.raises(ValueError, match=match):
        cmp.check_groups(three, "site", 5)


def test_classify_checks_groups_and_inputs(planted):
    covariances, labels = planted
    with pytest.raises(ValueError, match="10 are needed for 10-fold"):
        cmp.classify(covariances[:15], labels[:15], "correlation", n_splits=10, column="x")
    with pytest.raises(ValueError, match="19 labels for 20 subjects"):
        cmp.classify(covariances, labels[:19], "correlation")
    with pytest.raises(ValueError, match="unknown connectivity kind"):
        cmp.classify(covariances, labels, "coherence")
    with pytest.raises(ValueError, match="n_permutations >= 0; got 10 and -1"):
        cmp.classify(covariances, labels, "correlation", n_permutations=-1)


# --------------------------------------------------------------------------- FDR


def test_fdr_bh_worked_example():
    q = cmp.fdr_bh([0.01, 0.04, 0.03, 0.005, 0.2])
    np.testing.assert_allclose(q, [0.025, 0.05, 0.05, 0.025, 0.2])


def test_fdr_bh_matches_scipy(rng):
    p = rng.uniform(size=200) ** 3
    p[10:15] = p[3]  # ties
    np.testing.assert_allclose(cmp.fdr_bh(p), stats.false_discovery_control(p), rtol=1e-12)
    square = p[:196].reshape(14, 14)
    np.testing.assert_allclose(cmp.fdr_bh(square).ravel(), stats.false_discovery_control(p[:196]))


def step_up_reference(p, alpha):
    """The BH rule as stated: largest k with p_(k) <= k alpha / m, the k smallest rejected."""
    order = np.argsort(p)
    m = len(p)
    passing = np.flatnonzero(np.sort(p) <= np.arange(1, m + 1) * alpha / m)
    rejected = np.zeros(m, dtype=bool)
    if passing.size:
        rejected[order[: passing[-1] + 1]] = True
    return rejected


def test_fdr_reject_worked_example_rejects_at_the_bound():
    # 0.03 and 0.04 both sit at q = 0.05 (one rounds to 0.0499..., the other to 0.05)
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2])
    expected = [True, True, True, True, False]  # p_(4) = 0.04 <= 4 * 0.05 / 5
    np.testing.assert_array_equal(cmp.fdr_reject(p, 0.05), expected)
    np.testing.assert_array_equal(step_up_reference(p, 0.05), expected)
    assert cmp.fdr_reject([0.05], 0.05).tolist() == [True]
    assert cmp.fdr_reject([0.0500001], 0.05).tolist() == [False]
    np.testing.assert_array_equal(cmp.fdr_reject([0.01, np.nan], 0.05), [True, False])


def test_fdr_reject_matches_the_step_up_rule(rng):
    for alpha in (0.01, 0.05, 0.2):
        p = rng.uniform(size=300) ** 4
        np.testing.assert_array_equal(cmp.fdr_reject(p, alpha), step_up_reference(p, alpha))


def test_fdr_bh_leaves_nan_out():
    q = cmp.fdr_bh([0.01, np.nan, 0.04])
    np.testing.assert_allclose(q, [0.02, np.nan, 0.04])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        cmp.fdr_bh([0.5, 1.5])


# --------------------------------------------------------------------------- edge tests


def welch_reference(a, b):
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (b.mean() - a.mean()) / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return t, 2 * stats.t.sf(abs(t), df)


def test_edge_differences_welch_on_raw_values(rng):
    matrices = spd_stack(rng, n_subjects=9, n=4)
    labels = np.array(["x"] * 4 + ["y"] * 5)
    result = cmp.edge_differences(matrices, labels, "covariance")
    rows, cols = np.tril_indices(4, k=-1)
    np.testing.assert_array_equal(result["i"], rows)
    np.testing.assert_array_equal(result["j"], cols)
    for k, (i, j) in enumerate(zip(rows, cols, strict=True)):
        t, p = welch_reference(matrices[:4, i, j], matrices[4:, i, j])
        assert result["t"][k] == pytest.approx(t, rel=1e-10)
        assert result["p"][k] == pytest.approx(p, rel=1e-8)
        assert result["mean_x"][k] == pytest.approx(matrices[:4, i, j].mean())
    np.testing.assert_allclose(result["q"], stats.false_discovery_control(result["p"]))
    np.testing.assert_array_equal(result["significant"], result["q"] <= 0.05)


def test_edge_differences_tests_correlations_in_fisher_z(rng):
    r = np.tanh(rng.normal(0.3, 0.2, size=(8, 3, 3)))
    r = (r + np.swapaxes(r, 1, 2)) / 2
    labels = np.array([0, 1] * 4)
    result = cmp.edge_differences(r, labels, "correlation")
    z = np.arctanh(r[:, 2, 1])  # the third edge (2, 1)
    t, p = welch_reference(z[labels == 0], z[labels == 1])
    assert result["t"][2] == pytest.approx(t, rel=1e-10)
    assert result["mean_1"][2] == pytest.approx(np.tanh(z[labels == 1].mean()))


def test_edge_differences_finds_the_planted_edge(planted):
    covariances, labels = planted
    for kind in ("correlation", "partial correlation"):
        result = cmp.edge_differences(cmp.subject_matrices(covariances, kind), labels, kind)
        strongest = np.argmax(np.abs(result["t"]))
        assert (result["i"][strongest], result["j"][strongest]) == (1, 0)
        assert result["significant"][strongest]
        assert result["t"][strongest] > 0  # coupled in B, the second group
        assert result["mean_B"][strongest] - result["mean_A"][strongest] > 0.2
    # coupled at r ~ 0.45 in the series; Ledoit-Wolf shrinkage lowers it in the covariances
    assert 0.2 < result["mean_B"][strongest] < 0.6 and abs(result["mean_A"][strongest]) < 0.1


def test_edge_differences_needs_two_groups_of_two(rng):
    with pytest.raises(ValueError, match=r"found 2: 'a' \(1 subject\), 'b' \(5 subjects\)"):
        cmp.edge_differences(spd_stack(rng), ["a"] + ["b"] * 5, "covariance")


# --------------------------------------------------------------------------- classification


@pytest.mark.filterwarnings(ONE_CLASS_FOLD)
@pytest.mark.parametrize("kind", ["tangent", "precision"])
def test_classify_equals_sklearn_permutation_test_on_the_pipeline(rng, kind):
    from sklearn.model_selection import RepeatedStratifiedKFold, permutation_test_score

    covariances, labels = planted_groups(rng, n_per_group=6, n_regions=6, coupling=0.3)
    result = cmp.classify(
        covariances, labels, kind, n_splits=3, n_repeats=2, n_permutations=15, random_state=4
    )
    y = (labels == "B").astype(int)
    splits = list(RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=4).split(y, y))
    pipeline = cmp.classification_pipeline(kind, random_state=4)
    score, permuted, p_value = permutation_test_score(
        pipeline, covariances, y, cv=splits, n_permutations=15, random_state=4,
        scoring="balanced_accuracy",
    )  # fmt: skip
    assert result["balanced_accuracy"] == pytest.approx(score, abs=1e-12)
    assert result["p_value"] == pytest.approx(p_value, abs=1e-12)
    assert result["n_folds"] == 6


def test_classify_finds_the_planted_difference(planted):
    covariances, labels = planted
    accuracies = {
        kind: cmp.classify(covariances, labels, kind, n_repeats=2, n_permutations=0)
        for kind in cm.KINDS
    }
    best = max(accuracies, key=lambda kind: accuracies[kind]["balanced_accuracy"])
    assert accuracies[best]["balanced_accuracy"] >= 0.75
    result = cmp.classify(covariances, labels, best, n_repeats=2, n_permutations=99)
    assert result["p_value"] < 0.05
    assert result["balanced_accuracy"] == accuracies[best]["balanced_accuracy"]
    assert result["n_subjects"] == 20 and result["n_A"] == 10 and result["n_B"] == 10
    assert result["chance"] == 0.5 and result["n_permutations"] == 99
    assert result["n_folds"] == 10 and result["kind"] == best
    assert 0 < result["balanced_accuracy_sd"] < 0.5


@pytest.mark.filterwarnings(ONE_CLASS_FOLD)
def test_classify_is_at_chance_with_shuffled_labels(rng, planted):
    covariances, labels = planted
    results = [
        cmp.classify(
            covariances,
            rng.permutation(labels),
            "tangent",
            n_repeats=2,
            n_permutations=19,
            random_state=seed,
        )  # fmt: skip
        for seed in range(4)
    ]
    assert abs(np.mean([r["balanced_accuracy"] for r in results]) - 0.5) < 0.2
    assert sum(r["p_value"] > 0.05 for r in results) >= 3


def test_p_value_is_1_over_101_when_no_permutation_reaches_the_true_score(rng):
    covariances, labels = planted_groups(rng, coupling=0.9)
    result = cmp.classify(covariances, labels, "correlation", n_repeats=1, n_permutations=100)
    assert result["balanced_accuracy"] == 1.0
    assert result["p_value"] == pytest.approx(1 / 101)  # 0.0099


def test_classify_does_not_depend_on_the_unit_of_the_covariances(planted):
    covariances, labels = planted
    for kind in ("covariance", "precision"):
        results = [
            cmp.classify(covariances * factor, labels, kind, n_repeats=1, n_permutations=0)
            for factor in (1.0, 1e-4, 1e4)
        ]
        scores = [r["balanced_accuracy"] for r in results]
        assert scores == pytest.approx([scores[0]] * 3)
        assert scores[0] > 0.6  # the unit does not push the classifier to a constant guess


def test_tangent_reference_is_learned_from_the_training_fold_only(planted):
    from sklearn.model_selection import RepeatedStratifiedKFold

    covariances, labels = planted
    train, test = next(RepeatedStratifiedKFold(n_splits=5, random_state=0).split(labels, labels))
    changed = covariances.copy()
    changed[test] *= 3.0  # the test subjects' data change
    fitted = [
        cmp.classification_pipeline("tangent").fit(c[train], labels[train])
        for c in (covariances, changed)
    ]
    reference, reference_changed = (f.named_steps["vectorize"].mean_ for f in fitted)
    np.testing.assert_array_equal(reference, reference_changed)
    np.testing.assert_array_equal(*(f.named_steps["classify"].coef_ for f in fitted))
    np.testing.assert_array_equal(*(f.named_steps["scale"].mean_ for f in fitted))
    # and the training-fold reference is not the one of all subjects
    everyone = cmp.TangentVectorizer().fit(covariances).mean_
    assert np.max(np.abs(reference - everyone)) > 1e-3 * np.max(np.abs(everyone))
    # the fitted pipeline scores the changed test subjects differently: they are not ignored
    assert not np.array_equal(
        fitted[0].decision_function(covariances[test]),
        fitted[1].decision_function(changed[test]),
    )


@pytest.mark.slow
def test_classify_survives_permutations_that_leave_a_group_out_of_a_training_fold():
    # 5 against 45 subjects in 5 stratified folds: some permuted labellings put all five
    # "A" subjects into one test fold, leaving its training set with one group only
    rng = np.random.default_rng(0)
    a = rng.standard_normal((50, 40, 3))
    covariances = np.einsum("nti,ntj->nij", a, a) / 40
    labels = np.array(["A"] * 5 + ["B"] * 45)
    for seed in (1, 2):
        result = cmp.classify(covariances, labels, "covariance", random_state=seed)
        assert (result["n_subjects"], result["n_A"], result["n_B"]) == (50, 5, 45)
        assert result["n_folds"] == 50 and result["n_permutations"] == 100
        count = result["p_value"] * 101  # (C + 1) / (n + 1): a whole number of permutations
        assert count == pytest.approx(round(count)) and 1 <= round(count) <= 101
        assert 0.35 < result["balanced_accuracy"] < 0.65  # pure noise: about chance
        assert result["p_value"] > 0.2


def test_a_training_fold_with_one_group_predicts_that_group():
    # all that can be learnt from one group is to predict it, whatever the features: tested
    # on the other group alone (recall 0) and on both (recalls 1 and 0, balanced 0.5)
    from sklearn.svm import LinearSVC

    y = np.array([0, 0, 0, 1, 1, 1])
    x = np.arange(12.0).reshape(6, 2)
    train = np.array([0, 1, 2])  # group 0 only
    splits = [(train, np.array([3, 4, 5])), (train, np.array([3, 4, 5, 0]))]
    scores = cmp._fold_scores(LinearSVC(), [x, x], splits, y)
    np.testing.assert_array_equal(scores, [0.0, 0.5])
