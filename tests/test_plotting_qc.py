"""QC and group-comparison figures: PNG sizes, edge cases, and what is drawn."""

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle

from netregions.plotting import save_figure
from netregions.plotting._inputs import load_layer, read_regions_table
from netregions.plotting.comparison import (
    draw_classification,
    draw_edge_differences,
)
from netregions.plotting.demo import make_demo_inputs
from netregions.plotting.qc import (
    _spearman_rho,
    draw_motion_overview,
    draw_qcfc,
    draw_stability,
)

SMALL_SHAPE = (20, 24, 20)
SMALL_AFFINE = np.array(
    [[10.0, 0, 0, -95.0], [0, 10.0, 0, -125.0], [0, 0, 10.0, -80.0], [0, 0, 0, 1.0]]
)
CENSORED_RGBA = to_rgba("#e8474c")


def assert_png(path: Path, pixels: tuple[int, int]) -> np.ndarray:
    """The PNG exists with (rows, columns) = pixels, is not blank, and no temporary is left."""
    assert path.is_file()
    image = mpimg.imread(path)
    assert image.shape[:2] == pixels
    assert image[..., :3].std() > 0.05
    assert not list(path.parent.glob(".tmp-*"))
    return image


def all_texts(fig) -> str:
    """Every text of the figure (titles, labels, annotations, legends), joined."""
    from matplotlib.text import Text

    return "\n".join(t.get_text() for t in fig.findobj(Text))


def censoring_spans(ax) -> list:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


# --------------------------------------------------------------------------- motion


def motion_runs(rng, n_runs: int, n_volumes: int = 60):
    """Low FD with a few spikes; volumes above 0.5 mm censored; run k excluded if k % 4 == 1."""
    runs, fd, kept, included = [], [], [], []
    for k in range(n_runs):
        values = rng.uniform(0.02, 0.2, n_volumes)
        values[[10, 11, 30]] = [0.8, 0.7, 1.5]
        values[0] = np.nan
        runs.append(f"sub-{k:04d}_task-rest")
        fd.append(values)
        kept.append(~(values > 0.5))
        included.append(k % 4 != 1)
    return runs, fd, kept, included


def test_motion_one_run_shows_the_trace_censoring_and_threshold(tmp_path):
    fd = np.array([np.nan, 0.1, 0.2, 0.9, 0.8, 0.1, 0.1, 0.6, 0.1, 0.1])
    kept = np.array([True, True, True, False, False, True, True, False, True, True])
    fig = draw_motion_overview(
        ["sub-01"], [fd], [kept], [True], fd_threshold=0.5, max_mean_fd=0.55, t_r=[2.0]
    )
    (ax,) = [a for a in fig.axes if a.get_visible()]
    # two blocks of censored volumes (3-4 and 7), each a shaded rectangle spanning 1 TR per volume
    (spans,) = censoring_spans(ax)
    widths = sorted(np.ptp(path.vertices[:, 0]) for path in spans.get_paths())
    assert widths == pytest.approx([2.0, 4.0])
    trace = ax.lines[0]
    assert trace.get_xdata() == pytest.approx(np.arange(10) * 2.0)
    threshold = [line for line in ax.lines if np.allclose(line.get_ydata(), 0.5)]
    assert len(threshold) == 1
    # mean FD over the 9 finite values = 3.0 / 9
    assert "mean FD 0.33 mm, 3/10 censored" in all_texts(fig)
    assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "FD (mm)"
    out = save_figure(
        draw_motion_overview(["sub-01"], [fd], [kept], [True], fd_threshold=0.5, max_mean_fd=None),
        tmp_path / "m.png",
    )
    assert_png(out, (320, 1100))


def test_motion_traces_grey_out_and_label_excluded_runs(rng, tmp_path):
    runs, fd, kept, included = motion_runs(rng, 5)
    fd[1] = fd[1] + 0.5  # run 1 (excluded) moves a lot
    fig = draw_motion_overview(runs, fd, kept, included, fd_threshold=0.5, max_mean_fd=0.3)
    panels = [a for a in fig.axes if a.get_visible()]
    assert len(panels) == 5
    excluded = [a for a in panels if to_rgba(a.get_facecolor()) != to_rgba("white")]
    assert [a.get_title(loc="left") for a in excluded] == ["sub-0001_task-rest"]
    assert excluded[0].get_title(loc="right").startswith("excluded: mean FD > 0.3 mm")
    assert "5 runs, 1 excluded; 15 of 300 volumes censored (5.0 %)" in fig._suptitle.get_text()
    out = save_figure(fig, tmp_path / "m5.png")
    assert_png(out, (445, 1100))  # 3 rows of 2 columns: 1 + 3 x 1.15 inches


def test_motion_reasons_are_shown_for_excluded_runs(rng):
    runs, fd, kept, _ = motion_runs(rng, 2)
    fig = draw_motion_overview(
        runs,
        fd,
        kept,
        [True, False],
        fd_threshold=0.5,
        max_mean_fd=None,
        reasons=["", "too many censored volumes"],
    )
    assert "excluded: too many censored volumes" in all_texts(fig)


def test_motion_without_censoring_draws_no_span_and_no_threshold(rng):
    runs, fd, _, included = motion_runs(rng, 3)
    kept = [np.ones(f.size, bool) for f in fd]
    fig = draw_motion_overview(runs, fd, kept, included, fd_threshold=None, max_mean_fd=None)
    for ax in fig.axes:
        assert not censoring_spans(ax)
        assert len(ax.lines) == 1  # the trace only
    assert "0 of 180 volumes censored" in fig._suptitle.get_text()
    assert "no FD threshold" in fig._suptitle.get_text()


def test_motion_clips_spikes_and_marks_them_at_the_top(rng):
    runs, fd, kept, included = motion_runs(rng, 2)
    fd[0][20] = 40.0  # a 40 mm jump would squash every trace
    fig = draw_motion_overview(runs, fd, kept, included, fd_threshold=0.5, max_mean_fd=None)
    ax = fig.axes[0]
    top = ax.get_ylim()[1]
    assert top < 5.0
    (marker,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    above = np.flatnonzero(fd[0] > top)
    assert 20 in above
    assert marker.get_offsets().tolist() == [[float(i), top] for i in above]
    assert np.nanmax(ax.lines[0].get_ydata()) == top  # the trace itself is clipped


@pytest.mark.parametrize("n_runs", [1, 13])
def test_motion_all_runs_excluded(rng, tmp_path, n_runs):
    runs, fd, kept, _ = motion_runs(rng, n_runs)
    fig = draw_motion_overview(runs, fd, kept, [False] * n_runs, fd_threshold=0.5, max_mean_fd=0.01)
    out = save_figure(fig, tmp_path / "m.png")
    assert_png(out, (320, 1100) if n_runs == 1 else (750, 1100))


def test_motion_1000_runs_is_a_heat_map(rng, tmp_path):
    # Scale comes from the drawing's structure (one image, not a line per run); its time is
    # measured in benchmarks, never asserted here.
    runs, fd, kept, included = motion_runs(rng, 1000, n_volumes=200)
    fd[3] = fd[3][:150]  # a shorter run: its last 50 volumes are padding
    kept[3] = kept[3][:150]
    fig = draw_motion_overview(
        runs, fd, kept, included, fd_threshold=0.5, max_mean_fd=0.3, t_r=[2.0] * 1000
    )
    out = save_figure(fig, tmp_path / "m.png")
    assert len(fig.axes[0].get_lines()) < 10
    assert_png(out, (750, 1100))
    (image,) = [c for ax in fig.axes for c in ax.get_children() if isinstance(c, AxesImage)]
    rgba = image.get_array()
    assert rgba.shape == (1000, 200, 4)
    assert tuple(rgba[0, 30]) == pytest.approx(CENSORED_RGBA)  # censored, included run
    faded = 0.35 * np.array(CENSORED_RGBA[:3]) + 0.65  # censored, excluded run
    assert tuple(rgba[1, 30, :3]) == pytest.approx(tuple(faded))
    assert tuple(rgba[3, 160]) == pytest.approx((1.0, 1.0, 1.0, 1.0))  # padding
    assert rgba[0, 5, 0] != pytest.approx(CENSORED_RGBA[0])  # kept volume: an FD colour
    # the mean-FD strip: one bar per run, of the run's mean FD
    strip = fig.axes[1]
    (bars,) = [c for c in strip.collections if isinstance(c, PolyCollection)]
    lengths = [np.ptp(p.vertices[:, 0]) for p in bars.get_paths()]
    assert lengths == pytest.approx([np.nanmean(f) for f in fd])


def test_motion_mismatched_inputs_raise(rng):
    runs, fd, kept, included = motion_runs(rng, 2)
    kept[1] = kept[1][:-1]
    with pytest.raises(ValueError, match="run 'sub-0001_task-rest' has 60 FD values but 59"):
        draw_motion_overview(runs, fd, kept, included, fd_threshold=0.5, max_mean_fd=None)
    with pytest.raises(ValueError, match="2 runs but 1 entries in 'included'"):
        draw_motion_overview(runs, fd, fd, [True], fd_threshold=0.5, max_mean_fd=None)
    with pytest.raises(ValueError, match="no runs"):
        draw_motion_overview([], [], [], [], fd_threshold=0.5, max_mean_fd=None)


# --------------------------------------------------------------------------- QC-FC


def lower_to_matrix(lower: np.ndarray, n: int) -> np.ndarray:
    matrix = np.zeros((n, n))
    matrix[np.tril_indices(n, k=-1)] = lower
    return matrix + matrix.T


def test_qcfc_histogram_counts_every_edge_and_reports_the_median(tmp_path):
    lower = np.array([0.1, -0.3, 0.2, 0.4, -0.05, 0.15])  # |.| sorted: .05 .1 .15 .2 .3 .4
    qcfc = {"correlation": lower_to_matrix(lower, 4), "tangent": lower * 0.5}
    summaries = {"correlation": {"percent_significant": 12.5, "percent_significant_fdr": 0.0}}
    fig = draw_qcfc(qcfc, summaries=summaries)
    correlation, tangent = fig.axes
    heights = [p.get_height() for p in correlation.patches if isinstance(p, Rectangle)]
    assert sum(heights) == 6
    legend = "\n".join(t.get_text() for t in correlation.get_legend().get_texts())
    assert "median |QC-FC| = 0.175" in legend  # (0.15 + 0.2) / 2
    assert "p < 0.05: 12.5 % of edges" in legend
    assert "FDR q ≤ 0.05: 0.0 %" in legend
    tangent_legend = "\n".join(t.get_text() for t in tangent.get_legend().get_texts())
    assert "median |QC-FC| = 0.087" in tangent_legend and "p < 0.05" not in tangent_legend
    assert correlation.get_title() == "correlation"
    out = save_figure(fig, tmp_path / "q.png")
    assert_png(out, (410, 760))  # 2 kinds x 3.8 in, 0.7 + 3.4 in


def test_qcfc_all_nan_kind_says_so(tmp_path, rng):
    n = 6
    distances = lower_to_matrix(rng.uniform(10, 100, 15), n)
    qcfc = {
        "correlation": lower_to_matrix(rng.normal(0, 0.1, 15), n),
        "tangent": np.full(15, np.nan),
    }
    fig = draw_qcfc(qcfc, distances=distances)
    assert len(fig.axes) == 4
    tangent_hist, tangent_distance = fig.axes[1], fig.axes[3]
    assert "no finite QC-FC value" in all_texts(tangent_hist)
    assert "no finite QC-FC value" in all_texts(tangent_distance)
    assert tangent_hist.get_legend() is None
    out = save_figure(fig, tmp_path / "q.png")
    assert_png(out, (750, 760))


def test_qcfc_distance_panel_shows_a_planted_distance_dependence(rng):
    n = 12
    distances = rng.uniform(5, 150, n * (n - 1) // 2)
    qcfc = {"correlation": 0.3 - 0.002 * distances}  # strictly decreasing with distance
    fig = draw_qcfc(qcfc, distances=distances)
    assert "Spearman \u03c1 = -1.000" in all_texts(fig.axes[1])
    (points,) = [c for c in fig.axes[1].collections if isinstance(c, PathCollection)]
    assert len(points.get_offsets()) == distances.size
    given = draw_qcfc(qcfc, distances=distances, summaries={"correlation": {"distance_rho": 0.25}})
    assert "Spearman \u03c1 = 0.250" in all_texts(given.axes[1])  # the QC step's value wins


def test_qcfc_many_edges_use_a_hexbin(rng):
    n = 100  # 4950 edges
    qcfc = {"correlation": rng.normal(0, 0.1, n * (n - 1) // 2)}
    fig = draw_qcfc(qcfc, distances=rng.uniform(5, 150, n * (n - 1) // 2))
    assert not [c for c in fig.axes[1].collections if isinstance(c, PathCollection)]
    assert [c for c in fig.axes[1].collections if isinstance(c, PolyCollection)]


def test_spearman_rho_matches_scipy_with_ties_and_nan(rng):
    from scipy.stats import spearmanr

    x = rng.integers(0, 8, 50).astype(float)
    y = x + rng.integers(0, 4, 50)
    x[3] = np.nan
    finite = np.isfinite(x)
    assert _spearman_rho(x, y) == pytest.approx(spearmanr(x[finite], y[finite]).statistic)
    assert np.isnan(_spearman_rho(np.ones(5), np.arange(5.0)))
    assert np.isnan(_spearman_rho(np.array([1.0, np.nan]), np.array([1.0, 2.0])))


def test_qcfc_title_names_the_covariates_removed(tmp_path, rng):
    n = 8
    qcfc = {"correlation": rng.normal(0, 0.1, n * (n - 1) // 2)}
    distances = rng.uniform(5, 150, n * (n - 1) // 2)
    plain = draw_qcfc(qcfc, distances=distances)
    assert plain.get_suptitle().startswith("QC-FC: edge-wise correlation")
    assert "partial" not in plain.get_suptitle()
    fig = draw_qcfc(qcfc, distances=distances, covariates=["age", "sex[M]"])
    assert fig.get_suptitle().splitlines()[1] == "partial correlation removing age, sex[M]"
    assert_png(save_figure(plain, tmp_path / "plain.png"), (750, 700))
    assert_png(save_figure(fig, tmp_path / "partial.png"), (750, 700))  # the title fits


def test_qcfc_bad_inputs_raise():
    with pytest.raises(ValueError, match="unknown summary key"):
        draw_qcfc({"correlation": np.zeros(3)}, summaries={"correlation": {"median": 0.1}})
    with pytest.raises(ValueError, match="summaries for \\['tangent'\\]"):
        draw_qcfc({"correlation": np.zeros(3)}, summaries={"tangent": {}})
    with pytest.raises(ValueError, match="4 edge distances but 3 QC-FC values"):
        draw_qcfc({"correlation": np.zeros(3)}, distances=np.ones(4))
    with pytest.raises(ValueError, match="no connectivity kind"):
        draw_qcfc({})


# --------------------------------------------------------------------------- stability


def test_stability_bars_nan_and_cluster_sizes(tmp_path):
    stability = np.array([0.95, 0.85, np.nan, 0.6, 0.99, 0.3])
    sizes = np.array([10, 10, 1, 12, 10, 9])
    fig = draw_stability(stability, sizes=sizes, n_runs=10)
    (ax,) = fig.axes
    assert ax.get_ylabel() == "stability (Iq × coverage)"  # what stability.tsv's column is
    bars = list(ax.containers[0])
    assert [b.get_height() for b in bars] == pytest.approx([0.95, 0.85, 0.0, 0.6, 0.99, 0.3])
    texts = {t.get_text(): t for t in ax.texts}
    assert "n/a" in texts  # the singleton cluster
    red = to_rgba("#b2182b")
    assert {s for s in ("1", "12", "9") if to_rgba(texts[s].get_color()) == red} == {"1", "12", "9"}
    assert to_rgba(texts["10"].get_color()) != red
    (band,) = [p for p in ax.patches if p not in bars]  # the Icasso range, 0.8 to 0.9
    corners = band.get_patch_transform().transform([(0, 0), (1, 1)])
    assert corners[:, 1] == pytest.approx([0.8, 0.9])
    assert "3 at or above 0.8" in fig._suptitle.get_text()
    out = save_figure(fig, tmp_path / "s.png")
    assert_png(out, (400, 600))


@pytest.mark.parametrize(
    "stability,pixels",
    [(np.full(4, np.nan), (400, 600)), (np.linspace(0.5, 1.0, 100), (400, 1400))],
)
def test_stability_all_nan_and_many_networks(tmp_path, stability, pixels):
    out = save_figure(draw_stability(stability), tmp_path / "s.png")
    assert_png(out, pixels)


def test_stability_sizes_must_match():
    with pytest.raises(ValueError, match="3 cluster sizes for 2 networks"):
        draw_stability(np.ones(2), sizes=np.ones(3))


# --------------------------------------------------------------------------- classification


CLASSIFICATION_ROWS = [
    {
        "kind": "correlation",
        "balanced_accuracy": 0.7,
        "balanced_accuracy_sd": 0.1,
        "p_value": 0.0099,
        "n_permutations": 100,
        "n_subjects": 30,
    },
    {
        "kind": "partial correlation",
        "balanced_accuracy": 0.52,
        "balanced_accuracy_sd": 0.12,
        "p_value": 0.4,
        "n_subjects": 30,
        "scores": [0.4, 0.5, 0.55, 0.63],
    },
    {"kind": "tangent", "balanced_accuracy": 0.85, "p_value": 0.0099, "n_subjects": 30},
]


def test_classification_points_chance_and_p_values(tmp_path):
    fig = draw_classification(CLASSIFICATION_ROWS)
    (ax,) = fig.axes
    means = [line.get_ydata()[0] for line in ax.lines if line.get_marker() == "o"]
    assert means == pytest.approx([0.7, 0.52, 0.85])
    chance = [line for line in ax.lines if np.allclose(line.get_ydata(), 0.5)]
    assert len(chance) == 1
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["p = 0.0099\n(100 perm.)", "p = 0.4", "p = 0.0099"]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "correlation",
        "partial correlation",
        "tangent",
    ]
    (splits,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sorted(splits.get_offsets()[:, 1]) == pytest.approx([0.4, 0.5, 0.55, 0.63])
    assert "30 subjects" in fig._suptitle.get_text()
    out = save_figure(fig, tmp_path / "c.png")
    assert_png(out, (420, 600))


def test_classification_rows_need_their_keys():
    with pytest.raises(ValueError, match="row 0 has keys \\['kind'\\]"):
        draw_classification([{"kind": "tangent"}])
    with pytest.raises(ValueError, match="no rows"):
        draw_classification([])


# --------------------------------------------------------------------------- edge differences


@pytest.fixture(scope="module")
def regions(tmp_path_factory):
    paths = make_demo_inputs(
        tmp_path_factory.mktemp("inputs"), shape=SMALL_SHAPE, affine=SMALL_AFFINE, seed=1
    )
    return read_regions_table(paths["regions_table"]), load_layer(paths["mask"], ndim=3)


def planted_differences(n: int, edges: list[tuple[int, int, float]], rng):
    """Small noise everywhere; the planted edges carry a large statistic and are significant."""
    statistic = rng.normal(0, 0.5, (n, n))
    statistic = (statistic + statistic.T) / 2
    np.fill_diagonal(statistic, np.nan)
    significant = np.zeros((n, n), bool)
    for i, j, value in edges:
        statistic[i, j] = statistic[j, i] = value
        significant[i, j] = significant[j, i] = True
    return statistic, significant


def test_edge_differences_draw_exactly_the_significant_edges(regions, rng, tmp_path):
    table, mask = regions
    n = len(table.region)
    assert n >= 6
    planted = [(1, 0, 4.0), (3, 2, -5.0), (5, 0, 3.0), (4, 1, -3.5), (5, 3, 6.0)]
    statistic, significant = planted_differences(n, planted, rng)
    fig = draw_edge_differences(statistic, significant, table, mask, title="A vs B")
    glass = [ax for ax in fig.axes if "projection" in ax.get_title()]
    assert len(glass) == 3
    for w, ax in enumerate(glass):
        (lines,) = [c for c in ax.collections if isinstance(c, LineCollection) and c.get_segments()]
        segments = lines.get_segments()
        assert len(segments) == len(planted)
        # weakest first; each segment joins the two regions' centres on this projection
        shown = {0: [1, 2], 1: [0, 2], 2: [0, 1]}[w]
        expected = sorted(planted, key=lambda e: abs(e[2]))
        for segment, (i, j, _) in zip(segments, expected, strict=True):
            ends = table.centres[[i, j]][:, shown]
            assert np.allclose(segment, ends) or np.allclose(segment, ends[::-1])
        colours = lines.get_colors()
        signs = np.sign([value for _, _, value in expected])
        assert np.all((colours[:, 0] > colours[:, 2]) == (signs > 0))  # red positive, blue negative
        (nodes,) = [c for c in ax.collections if isinstance(c, PathCollection)]
        large = np.flatnonzero(nodes.get_sizes() > 20)
        assert set(large) == {0, 1, 2, 3, 4, 5}
    (matrix,) = [ax for ax in fig.axes if ax.get_title().startswith("statistic")]
    (marks,) = [c for c in matrix.collections if isinstance(c, PathCollection)]
    assert len(marks.get_offsets()) == 2 * len(planted)
    assert f"5 of {n * (n - 1) // 2} edges significant" in fig._suptitle.get_text()
    out = save_figure(fig, tmp_path / "e.png")
    assert_png(out, (460, 1500))


def test_edge_differences_without_significant_edge_say_so(regions, rng, tmp_path):
    table, mask = regions
    n = len(table.region)
    statistic, significant = planted_differences(n, [], rng)
    fig = draw_edge_differences(statistic, significant, table, mask, title="A vs B")
    for ax in fig.axes:
        assert not [c for c in ax.collections if isinstance(c, LineCollection) and c.get_segments()]
    assert "no edge significant after FDR correction" in all_texts(fig)
    assert "0 of" in fig._suptitle.get_text()
    out = save_figure(fig, tmp_path / "e.png")
    assert_png(out, (460, 1500))


def test_edge_differences_bad_inputs_raise(regions, rng):
    table, mask = regions
    n = len(table.region)
    statistic, significant = planted_differences(n, [(1, 0, 4.0)], rng)
    asymmetric = significant.copy()
    asymmetric[0, 1] = False
    with pytest.raises(ValueError, match="not symmetric"):
        draw_edge_differences(statistic, asymmetric, table, mask, title="x")
    with pytest.raises(ValueError, match=f"expected \\({n}, {n}\\)"):
        draw_edge_differences(statistic[:-1, :-1], significant[:-1, :-1], table, mask, title="x")
    statistic[1, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite statistic"):
        draw_edge_differences(statistic, significant, table, mask, title="x")
