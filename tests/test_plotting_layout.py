"""Figure layout: titles, panels, legends and colour bars all fit in the figure, none overlap.

The three-panel, matrix and QC-FC figures are placed by measuring their texts once
(``arrange_ortho``, ``arrange_square``, ``arrange_grid``); these tests draw each figure with
Agg and check every drawn box, with legends of one to four columns, backgrounds on other grids,
and matrices of a few to a hundred regions.
"""

import itertools

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.transforms import Bbox

from netregions.plotting import (
    draw_atlas,
    draw_connectome,
    draw_matrix,
    draw_network_map,
    draw_network_regions,
    load_background,
    load_layer,
)
from netregions.plotting._grid import Grid
from netregions.plotting._inputs import Layer, RegionsTable, read_connectome, read_regions_table
from netregions.plotting.demo import make_demo_inputs
from netregions.plotting.qc import draw_qcfc

AFFINE = np.array([[4.0, 0, 0, -78.0], [0, 4.0, 0, -112.0], [0, 0, 4.0, -70.0], [0, 0, 0, 1.0]])
#: A background much longer along y than the maps (a wide sagittal panel).
LONG_BG_AFFINE = np.array(
    [[2.0, 0, 0, -80.0], [0, 5.0, 0, -200.0], [0, 0, 2.0, -70.0], [0, 0, 0, 1.0]]
)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return make_demo_inputs(tmp_path_factory.mktemp("layout"), seed=3)


@pytest.fixture(scope="module")
def inputs_long_bg(tmp_path_factory):
    return make_demo_inputs(
        tmp_path_factory.mktemp("layout_bg"),
        background_shape=(80, 80, 70),
        background_affine=LONG_BG_AFFINE,
        seed=4,
    )


def drawn_boxes(fig) -> dict[str, Bbox]:
    """Pixel boxes of what a reader sees as separate items, after an Agg draw.

    Each panel with its tick labels, axis labels and title (its tight box); each colour bar
    with its ticks and label; each figure legend; each figure text (the title).
    """
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = {
        f"axes {i} ({ax.get_label() or ax.get_title()})": ax.get_tightbbox(renderer)
        for i, ax in enumerate(fig.axes)
    }
    boxes |= {f"legend {i}": lg.get_window_extent(renderer) for i, lg in enumerate(fig.legends)}
    boxes |= {f"text {t.get_text()[:20]!r}": t.get_window_extent(renderer) for t in fig.texts}
    return boxes


def assert_laid_out(fig, min_panel_share: float) -> None:
    """Every box inside the figure, no two overlapping, panels not squeezed."""
    boxes = drawn_boxes(fig)
    width, height = fig.bbox.width, fig.bbox.height
    for name, box in boxes.items():
        assert box.x0 >= -1 and box.y0 >= -1, f"{name} leaves the figure: {box}"
        assert box.x1 <= width + 1 and box.y1 <= height + 1, f"{name} leaves the figure: {box}"
    for (name_a, a), (name_b, b) in itertools.combinations(boxes.items(), 2):
        a_in, b_in = a.padded(-0.5), b.padded(-0.5)  # touching is not overlapping
        assert not a_in.overlaps(b_in), f"{name_a} {a} overlaps {name_b} {b}"
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    tallest = max(ax.get_window_extent().height for ax in panels)
    assert tallest >= min_panel_share * height / len({ax.get_position().y0 for ax in panels})


def many_maps(n_maps: int, seed: int) -> Layer:
    rng = np.random.default_rng(seed)
    shape = (40, 48, 40)
    data = np.zeros((*shape, n_maps), np.float32)
    for i in range(n_maps):
        centre = rng.integers(8, 32, 3)
        data[
            centre[0] - 3 : centre[0] + 3,
            centre[1] - 3 : centre[1] + 3,
            centre[2] - 3 : centre[2] + 3,
            i,
        ] = 1
    return Layer(data, AFFINE, Grid.from_affine(AFFINE, shape, "maps"))


@pytest.mark.parametrize("n_maps", [1, 8, 21, 45, 70])
def test_atlas_figure_legend_beside_the_panels(n_maps):
    labels = [f"N{i // 3}\u00b7R{i + 1}" for i in range(n_maps)]
    fig = draw_atlas(many_maps(n_maps, n_maps), None, labels, f"{n_maps} regions", "regions")
    assert_laid_out(fig, 0.6 if n_maps < 50 else 0.4)


@pytest.mark.parametrize("background", ["same grid", "long grid", "none"])
def test_network_figures_fit(inputs, inputs_long_bg, background):
    source = inputs_long_bg if background == "long grid" else inputs
    maps = load_layer(source["components"], ndim=4)
    bg = None if background == "none" else load_background(source["background"])
    network = maps.with_data(maps.data[..., 2])
    coords = (0.0, -20.0, 10.0)
    assert_laid_out(draw_network_map(network, bg, coords, "Network 2"), 0.5)
    regions = load_layer(source["regions"], ndim=4)
    labels = [f"N2\u00b7R{i}" for i in range(regions.data.shape[3])]
    assert_laid_out(draw_network_regions(regions, labels, bg, coords, "Regions of network 2"), 0.5)


def test_network_figure_without_regions_fits(inputs):
    regions = load_layer(inputs["regions"], ndim=4)
    empty = regions.with_data(regions.data[..., :0])
    fig = draw_network_regions(empty, [], None, (0.0, 0.0, 0.0), "no region")
    assert not fig.legends
    assert_laid_out(fig, 0.6)


def test_connectome_figure_colour_bar_beside_the_panels(inputs):
    table = read_regions_table(inputs["regions_table"])
    matrix = read_connectome(inputs["connectome"], table)
    fig, _ = draw_connectome(matrix, table, load_layer(inputs["mask"], ndim=3), "80%", "t")
    assert_laid_out(fig, 0.5)


@pytest.mark.parametrize("n_regions", [3, 21, 60, 100])
def test_matrix_figure_fits(n_regions):
    rng = np.random.default_rng(n_regions)
    x = rng.standard_normal((50, n_regions))
    matrix = np.corrcoef(x, rowvar=False)
    component = np.repeat(np.arange(n_regions), 3)[:n_regions] // 3
    table = RegionsTable(
        region=np.arange(1, n_regions + 1),
        component=component,
        centres=rng.uniform(-60, 60, (n_regions, 3)),
    )
    assert_laid_out(draw_matrix(matrix, table, "Correlation between regions"), 0.6)


@pytest.mark.parametrize(
    "kinds", [["correlation"], ["correlation", "partial correlation", "tangent"]]
)
def test_qcfc_figure_fits(kinds):
    rng = np.random.default_rng(0)
    n_edges = 200 * 199 // 2  # large counts per bin: wide tick labels
    qcfc = {kind: rng.uniform(-0.5, 0.5, n_edges) for kind in kinds}
    fig = draw_qcfc(qcfc, distances=rng.uniform(10, 150, n_edges))
    assert_laid_out(fig, 0.6)
