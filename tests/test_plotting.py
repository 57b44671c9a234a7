"""Figures: cut coordinates, edge selection, grids in world mm, and every PNG the workflow makes."""

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from netregions.io import save_nifti, write_tsv
from netregions.plotting import (
    atlas_contour_levels,
    draw_connectome,
    draw_matrix,
    edge_cutoff,
    fast_abs_percentile,
    find_probabilistic_atlas_cut_coords,
    find_xyz_cut_coords,
    plot_components,
    plot_connectome,
    plot_connectome_figures,
    plot_network,
    plot_regions,
    select_edges,
)
from netregions.plotting._draw import DPI, MATRIX_SIZE, ORTHO_SIZE
from netregions.plotting._grid import Grid
from netregions.plotting._inputs import load_layer, read_connectome, read_regions_table
from netregions.plotting.demo import grid_points, make_demo_inputs

ORTHO_PIXELS = (round(ORTHO_SIZE[1] * DPI), round(ORTHO_SIZE[0] * DPI))  # (rows, columns)
MATRIX_PIXELS = (round(MATRIX_SIZE[1] * DPI), round(MATRIX_SIZE[0] * DPI))

#: A small grid (10 mm voxels, so that blobs span a few voxels) with a non-trivial origin.
SMALL_SHAPE = (20, 24, 20)
SMALL_AFFINE = np.array(
    [[10.0, 0, 0, -95.0], [0, 10.0, 0, -125.0], [0, 0, 10.0, -80.0], [0, 0, 0, 1.0]]
)
#: Background on another grid: 5 mm, x flipped, y and z stored in swapped voxel axes.
OTHER_BG_SHAPE = (40, 40, 48)
OTHER_BG_AFFINE = np.array(
    [[-5.0, 0, 0, 100.0], [0, 0, 5.0, -125.0], [0, 5.0, 0, -82.0], [0, 0, 0, 1.0]]
)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    return make_demo_inputs(
        tmp_path_factory.mktemp("inputs"), shape=SMALL_SHAPE, affine=SMALL_AFFINE, seed=1
    )


@pytest.fixture(scope="module")
def inputs_other_bg(tmp_path_factory) -> dict[str, Path]:
    return make_demo_inputs(
        tmp_path_factory.mktemp("inputs_bg"),
        shape=SMALL_SHAPE,
        affine=SMALL_AFFINE,
        background_shape=OTHER_BG_SHAPE,
        background_affine=OTHER_BG_AFFINE,
        seed=2,
    )


def assert_figure(
    path: Path, pixels: tuple[int, int], min_colours: int = 50, min_coloured: int = 5000
) -> np.ndarray:
    """The PNG exists, has the expected size and is not blank; returns its pixels.

    ``min_coloured`` pixels must be clearly coloured (not grey): the maps, regions, edges or
    matrix, more than a legend or colorbar alone would give.
    """
    assert path.is_file()
    image = mpimg.imread(path)
    assert image.shape[:2] == pixels
    rgb = image[..., :3]
    assert rgb.std() > 0.05
    n_colours = len(np.unique((rgb * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert n_colours > min_colours
    saturation = rgb.max(axis=-1) - rgb.min(axis=-1)
    assert np.count_nonzero(saturation > 0.25) > min_coloured
    assert not list(path.parent.glob(".tmp-*"))  # atomic write left nothing behind
    return image


def gaussian(shape, centre, width) -> np.ndarray:
    index = np.indices(shape).astype(float)
    return np.exp(-sum((index[a] - centre[a]) ** 2 for a in range(3)) / (2 * width**2))


# --------------------------------------------------------------------------- cut coordinates


def test_find_xyz_cut_coords_single_blob_is_its_centre():
    affine = np.array([[2.0, 0, 0, -20], [0, -3.0, 0, 40], [0, 0, 2.5, -10], [0, 0, 0, 1]])
    blob = gaussian((15, 19, 13), (7, 9, 6), 2.0)
    blob[blob < 1e-3] = 0
    x, y, z = find_xyz_cut_coords(blob, affine)
    assert (x, y, z) == pytest.approx((-20 + 2 * 7, 40 - 3 * 9, -10 + 2.5 * 6), abs=1e-6)


def test_find_xyz_cut_coords_all_zero_is_voxel_zero_in_world():
    affine = np.array([[-2.0, 0, 0, 10], [0, 3.0, 0, -5], [0, 0, 4.0, 3], [0, 0, 0, 1]])
    with pytest.warns(UserWarning, match="all zeros"):
        coords = find_xyz_cut_coords(np.zeros((5, 6, 7), np.float32), affine)
    assert coords == (10.0, -5.0, 3.0)  # not (0, 0, 0) mm


def two_boxes(dtype) -> np.ndarray:
    data = np.zeros((20, 22, 18), dtype)
    data[2:5, 3:6, 4:7] = 1  # 27 voxels
    data[10:15, 12:17, 8:13] = 1  # 125 voxels, centre voxel (12, 14, 10)
    return data


def test_find_xyz_cut_coords_two_blobs_picks_the_larger():
    affine = np.array([[-2.0, 0, 0, 30], [0, 3.0, 0, -40], [0, 0, 2.5, 7], [0, 0, 0, 1]])
    assert find_xyz_cut_coords(two_boxes(np.float64), affine) == pytest.approx(
        (30 - 2 * 12, -40 + 3 * 14, 7 + 2.5 * 10)
    )


def test_find_xyz_cut_coords_float32_ties_fall_back_to_centre_of_mass():
    # float32 comparisons drop voxels equal to the percentile (as the reference does): nothing
    # is left, and the centre of mass of the whole map is returned
    data = two_boxes(np.float32)
    with pytest.warns(UserWarning, match="centre of mass"):
        coords = find_xyz_cut_coords(data, np.eye(4))
    expected = np.argwhere(data > 0).mean(axis=0)
    assert coords == pytest.approx(tuple(expected))


def test_find_xyz_cut_coords_second_threshold_keeps_the_strongest_core():
    # a strong peak inside a weak broad plateau: > 50 voxels exceed the mean, and the centre
    # moves to the peak's largest piece
    data = np.zeros((30, 30, 30))
    data[5:25, 5:25, 5:25] = 1.0
    data[6:12, 6:12, 6:12] += 5.0 * gaussian((6, 6, 6), (2.5, 2.5, 2.5), 3.0)
    x, y, z = find_xyz_cut_coords(data, np.eye(4))
    assert max(x, y, z) < 12
    assert min(x, y, z) > 6


def test_find_probabilistic_atlas_cut_coords_stacks_the_maps():
    maps = np.stack([gaussian((12, 12, 12), c, 1.5) for c in [(3, 4, 5), (8, 7, 6)]], axis=-1)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    coords = find_probabilistic_atlas_cut_coords(maps, affine)
    assert coords.shape == (2, 3)
    assert coords == pytest.approx(np.array([[6.0, 8.0, 10.0], [16.0, 14.0, 12.0]]))
    assert tuple(coords[1]) == find_xyz_cut_coords(maps[..., 1:2], affine)  # 4D, one volume


def test_fast_abs_percentile_is_the_partitioned_value_without_interpolation():
    values = np.array([-5.0, 1.0, 2.0, -3.0, 4.0])
    assert fast_abs_percentile(values, 80) == 5.0  # index int(0.8 * 5) = 4
    assert fast_abs_percentile(values, 50) == 3.0  # index 2


@pytest.mark.parametrize("zero_fraction", [0.0, 0.5, 0.97, 1.0])
@pytest.mark.parametrize("percentile", [0, 10, 50, 96.9, 98, 100])
def test_fast_abs_percentile_equals_the_sorted_definition(rng, zero_fraction, percentile):
    values = rng.standard_normal(2000).astype(np.float32)
    values[rng.random(2000) < zero_fraction] = 0
    values[:3] = [-0.0, 0.0, values[3]]  # signed zeros and a tie
    expected = np.sort(np.abs(values))[min(int(values.size * 0.01 * percentile), 1999)]
    assert fast_abs_percentile(values.reshape(20, 10, 10), percentile) == expected


def test_atlas_contour_levels_follow_the_98_percentile_rule(rng):
    sparse = np.zeros((10, 10, 10, 8))
    sparse[:2, :2, :2, :] = rng.uniform(1, 2, (2, 2, 2, 8))  # 0.8 % non-zero
    assert atlas_contour_levels(sparse) == pytest.approx(np.full(8, 1e-5))
    dense = rng.normal(size=(10, 10, 10, 8))
    expected = [np.sort(np.abs(dense[..., i]).ravel())[980] + 1e-5 for i in range(8)]
    assert atlas_contour_levels(dense) == pytest.approx(expected)


# --------------------------------------------------------------------------- grids


def test_grid_cut_lines_up_in_world_mm_for_flipped_and_permuted_axes():
    shape, affine = OTHER_BG_SHAPE, OTHER_BG_AFFINE
    world = grid_points(shape, affine)
    data = world[..., 0] + 1000 * world[..., 1] + 1e6 * world[..., 2]  # encodes x, y, z
    grid = Grid.from_affine(affine, shape)
    for cut_axis, coord in [(0, 22.0), (1, -30.0), (2, 41.0)]:
        plane = grid.cut(data, cut_axis, coord)
        horizontal, vertical = {0: (1, 2), 1: (0, 2), 2: (0, 1)}[cut_axis]
        h, v = np.meshgrid(grid.centres(horizontal), grid.centres(vertical))
        decoded = {horizontal: h, vertical: v}
        nearest = grid.coord_of(cut_axis, grid.index_at(cut_axis, coord))
        decoded[cut_axis] = np.full(h.shape, nearest)
        assert abs(nearest - coord) <= 2.5
        assert plane == pytest.approx(decoded[0] + 1000 * decoded[1] + 1e6 * decoded[2])
        left, right, bottom, top = grid.extent(cut_axis)
        assert left < right and bottom < top
        assert right - left == pytest.approx(5.0 * plane.shape[1])
    assert grid.cut(data, 0, 500.0) is None  # outside the grid: nothing drawn


def test_oblique_affine_is_refused(tmp_path, inputs):
    rotation = np.eye(4)
    angle = np.deg2rad(10)
    rotation[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    data = np.ones((10, 10, 10), np.float32)
    bg = save_nifti(data, rotation @ np.diag([4.0, 4, 4, 1]), tmp_path / "oblique.nii.gz")
    with pytest.raises(ValueError, match="oblique"):
        plot_components(inputs["components"], bg, tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()


# --------------------------------------------------------------------------- edges


def random_correlation(rng, n: int) -> np.ndarray:
    signals = rng.standard_normal((3 * n, n)) + rng.standard_normal((3 * n, 1))
    return np.corrcoef(signals, rowvar=False)


@pytest.mark.parametrize("threshold", ["90%", "75.5%", 0.25, "0.25"])
def test_select_edges_matches_the_percentile_rule(rng, threshold):
    matrix = random_correlation(rng, 17)
    lower = matrix[np.tril_indices(17, k=-1)]
    if str(threshold).endswith("%"):
        cut = np.percentile(np.abs(lower), float(str(threshold)[:-1])) + 1e-5
    else:
        cut = float(threshold)
    edges = select_edges(matrix, threshold)
    assert edges.cutoff == pytest.approx(cut)
    assert edge_cutoff(matrix, threshold) == pytest.approx(cut)
    assert edges.values.size == np.count_nonzero(np.abs(lower) >= cut)
    assert np.all(edges.rows > edges.cols)
    assert edges.values == pytest.approx(matrix[edges.rows, edges.cols])
    assert np.all(np.diff(np.abs(edges.values)) >= 0)  # weakest first, strongest on top


def test_select_edges_90_percent_keeps_about_a_tenth(rng):
    matrix = random_correlation(rng, 41)  # 820 off-diagonal pairs
    assert select_edges(matrix, "90%").values.size == 82


def test_select_edges_nan_is_zero_and_bad_inputs_raise(rng):
    matrix = random_correlation(rng, 6)
    matrix[3, 1] = matrix[1, 3] = np.nan
    edges = select_edges(matrix, 0.0)
    assert edges.values.size == 14  # 15 pairs, the NaN one counts as 0 and is not drawn
    with pytest.raises(ValueError, match="symmetric"):
        select_edges(np.triu(random_correlation(rng, 5)), "90%")
    for bad in ["ninety", "120%", -0.5]:
        with pytest.raises(ValueError, match="edge_threshold"):
            select_edges(random_correlation(rng, 5), bad)


def test_connectome_figure_draws_the_selected_edges(inputs):
    table = read_regions_table(inputs["regions_table"])
    matrix = read_connectome(inputs["connectome"], table)
    mask = load_layer(inputs["mask"], ndim=3)
    fig, edges = draw_connectome(matrix, table, mask, "80%", "test")
    lower = np.abs(matrix[np.tril_indices(len(matrix), k=-1)])
    expected = np.count_nonzero(lower >= np.percentile(lower, 80) + 1e-5)
    assert edges.values.size == expected > 0
    from matplotlib.collections import LineCollection, PathCollection

    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 3
    for ax in panels:
        lines = [c for c in ax.collections if isinstance(c, LineCollection)]
        drawn = [c for c in lines if len(c.get_segments()) == expected]
        assert len(drawn) == 1
        widths = drawn[0].get_linewidths()
        assert widths == pytest.approx(1 + 2 * np.abs(edges.values) / np.abs(edges.values).max())
        nodes = [c for c in ax.collections if isinstance(c, PathCollection)]
        assert len(nodes) == 1 and len(nodes[0].get_offsets()) == len(table.region)


# --------------------------------------------------------------------------- figures


def test_plot_components(tmp_path, inputs):
    out = plot_components(inputs["components"], inputs["background"], tmp_path / "c.png")
    assert_figure(out, ORTHO_PIXELS)


def test_plot_components_background_on_another_grid(tmp_path, inputs_other_bg):
    out = plot_components(
        inputs_other_bg["components"], inputs_other_bg["background"], tmp_path / "c.png"
    )
    assert_figure(out, ORTHO_PIXELS)


def test_plot_components_without_background(tmp_path, inputs):
    out = plot_components(inputs["components"], None, tmp_path / "c.png")
    assert_figure(out, ORTHO_PIXELS)


def test_plot_regions(tmp_path, inputs):
    out = plot_regions(
        inputs["regions"], inputs["regions_table"], inputs["background"], tmp_path / "r.png"
    )
    assert_figure(out, ORTHO_PIXELS)


def test_matrix_labels_name_the_network_and_are_thinned(rng):
    from netregions.plotting._inputs import RegionsTable

    n = 150
    table = RegionsTable(np.arange(1, n + 1), np.repeat(np.arange(10), 15), np.zeros((n, 3)))
    fig = draw_matrix(random_correlation(rng, n), table, "test")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[:2] == ["N0\u00b7R1", "N0\u00b7R4"]  # every 3rd of 150 -> 50 labels
    assert len(labels) == 50


def test_plot_connectome(tmp_path, inputs):
    out = plot_connectome(
        inputs["connectome"], inputs["regions_table"], inputs["mask"], tmp_path / "g.png"
    )
    assert_figure(out, ORTHO_PIXELS)


def test_plot_connectome_figures_writes_both(tmp_path, inputs):
    # the plot_connectome rule makes the matrix and the graph in one job
    matrix, graph = plot_connectome_figures(
        connectome=inputs["connectome"],
        regions_table=inputs["regions_table"],
        mask=inputs["mask"],
        output_matrix=tmp_path / "matrix.png",
        output_connectome=tmp_path / "connectome.png",
        edge_threshold=0.2,
    )
    assert_figure(matrix, MATRIX_PIXELS)
    assert_figure(graph, ORTHO_PIXELS)


def test_plot_network(tmp_path, inputs):
    outs = plot_network(
        inputs["components"],
        inputs["regions"],
        inputs["regions_table"],
        inputs["background"],
        1,
        tmp_path / "n.png",
        tmp_path / "nr.png",
    )
    assert outs == (tmp_path / "n.png", tmp_path / "nr.png")
    assert_figure(outs[0], ORTHO_PIXELS)
    assert_figure(outs[1], ORTHO_PIXELS)


def test_load_layer_passes_a_loaded_layer_through_and_checks_its_dimensions(inputs):
    maps = load_layer(inputs["components"], ndim=4)
    assert load_layer(maps, ndim=4) is maps
    with pytest.raises(ValueError, match="expected a 3D layer"):
        load_layer(maps, ndim=3)
    # a 3D file still becomes one map
    one = load_layer(inputs["background"], ndim=4)
    assert one.data.ndim == 4 and one.data.shape[3] == 1


def test_figure_steps_write_what_the_figure_functions_draw(tmp_path, inputs):
    # plot_components also draws the network map (it waits for the network maps only, so a
    # region change does not redraw it); plot_regions draws the network's regions
    from netregions.steps.plot_components import plot_components as components_step
    from netregions.steps.plot_regions import plot_regions as regions_step

    comp, regions, table, bg = (
        inputs[k] for k in ("components", "regions", "regions_table", "background")
    )
    steps, alone = tmp_path / "steps", tmp_path / "alone"
    steps.mkdir(), alone.mkdir()
    components_step(comp, bg, steps / "c.png", steps / "n.png", network=1)
    regions_step(comp, regions, table, bg, steps / "r.png", steps / "nr.png", network=1)
    plot_components(comp, bg, alone / "c.png")
    plot_network(comp, regions, table, bg, 1, alone / "n.png", alone / "nr.png")
    plot_regions(regions, table, bg, alone / "r.png")
    for name in ("c", "n", "r", "nr"):
        assert (steps / f"{name}.png").read_bytes() == (alone / f"{name}.png").read_bytes()
    assert (steps / "n.png").read_bytes() != (steps / "nr.png").read_bytes()


def test_plot_network_background_on_another_grid(tmp_path, inputs_other_bg):
    p = inputs_other_bg
    outs = plot_network(  # network 2 has a negative lobe
        p["components"],
        p["regions"],
        p["regions_table"],
        p["background"],
        2,
        tmp_path / "n.png",
        tmp_path / "nr.png",
    )
    assert_figure(outs[0], ORTHO_PIXELS)
    assert_figure(outs[1], ORTHO_PIXELS)


@pytest.mark.parametrize("network", [8, -1, 2.5])
def test_plot_network_invalid_index(tmp_path, inputs, network):
    with pytest.raises(ValueError, match="8 components|integer"):
        plot_network(
            inputs["components"],
            inputs["regions"],
            inputs["regions_table"],
            inputs["background"],
            network,
            tmp_path / "n.png",
            tmp_path / "nr.png",
        )
    assert not list(tmp_path.iterdir())


def test_plot_network_without_regions(tmp_path, inputs):
    # a network from which no region was extracted still gets both figures
    header = ["region", "component", "n_voxels", "volume_mm3", "x", "y", "z"]
    table = read_regions_table(inputs["regions_table"])
    rows = np.column_stack(
        [
            table.region,
            np.full(len(table.region), 7),
            np.ones((len(table.region), 2)),
            table.centres,
        ]
    )
    write_tsv(tmp_path / "regions.tsv", rows, header)
    outs = plot_network(
        inputs["components"],
        inputs["regions"],
        tmp_path / "regions.tsv",
        inputs["background"],
        0,
        tmp_path / "n.png",
        tmp_path / "nr.png",
    )
    assert_figure(outs[1], ORTHO_PIXELS, min_coloured=0)  # background only


def test_figures_are_byte_identical_and_carry_no_software_stamp(tmp_path, inputs):
    a = plot_regions(inputs["regions"], inputs["regions_table"], None, tmp_path / "a.png")
    b = plot_regions(inputs["regions"], inputs["regions_table"], None, tmp_path / "b.png")
    assert a.read_bytes() == b.read_bytes()
    assert b"matplotlib" not in a.read_bytes().lower()


def _zlib_level_flag(png: bytes) -> int:
    """FLEVEL of the zlib stream in the first IDAT chunk (0 = fastest, 2 = default)."""
    start = png.index(b"IDAT") + 4
    return png[start + 1] >> 6


def test_figures_are_compressed_at_the_fastest_zlib_level(tmp_path, inputs):
    out = plot_regions(inputs["regions"], inputs["regions_table"], None, tmp_path / "a.png")
    assert _zlib_level_flag(out.read_bytes()) == 0
    assert mpimg.imread(out).shape[:2] == ORTHO_PIXELS


def test_mismatched_regions_table_is_refused(tmp_path, inputs):
    header = ["region", "component", "n_voxels", "volume_mm3", "x", "y", "z"]
    write_tsv(tmp_path / "regions.tsv", np.array([[1, 0, 1, 1, 0, 0, 0]]), header)
    with pytest.raises(ValueError, match="regions 1.."):
        plot_regions(inputs["regions"], tmp_path / "regions.tsv", None, tmp_path / "r.png")


# --------------------------------------------------------------------------- processes


def run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout


def test_import_netregions_does_not_import_matplotlib():
    out = run_python(
        """
        import sys
        import netregions
        print("matplotlib" in sys.modules)
        """
    )
    assert out.strip() == "False"


def test_default_size_figures_stay_under_300_mb(tmp_path):
    # every figure of one run on the default 50 x 59 x 50 grid (8 networks, ~30 regions) in
    # one process: its peak RSS bounds the peak of each plot job. The inputs are made here,
    # not in the child: making them runs numba kernels, whose compilation (on a fresh cache)
    # would be counted otherwise.
    from netregions.plotting.demo import make_demo_inputs

    inputs = {k: str(v) for k, v in make_demo_inputs(tmp_path / "in", seed=0).items()}
    out = run_python(
        f"""
        import json
        from pathlib import Path
        from netregions import plotting
        from netregions.workflow import peak_rss_mb

        folder = Path({str(tmp_path)!r})
        p = {{k: Path(v) for k, v in {inputs!r}.items()}}
        plotting.plot_components(p["components"], p["background"], folder / "c.png")
        plotting.plot_regions(p["regions"], p["regions_table"], p["background"], folder / "r.png")
        plotting.plot_matrix(p["connectome"], p["regions_table"], folder / "m.png")
        plotting.plot_connectome(p["connectome"], p["regions_table"], p["mask"], folder / "g.png")
        plotting.plot_network(p["components"], p["regions"], p["regions_table"], p["background"],
                              4, folder / "n.png", folder / "nr.png")
        n_regions = len(plotting._inputs.read_regions_table(p["regions_table"]).region)
        rss_mb = peak_rss_mb()  # VmHWM: ru_maxrss would include pytest's memory at fork
        print(json.dumps({{"rss_mb": rss_mb, "n_regions": n_regions}}))
        """
    )
    report = json.loads(out.strip().splitlines()[-1])
    assert 20 <= report["n_regions"] <= 45
    assert report["rss_mb"] < 300
    for name in ["c", "r", "m", "g", "n", "nr"]:
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mpimg.imread(tmp_path / "c.png").shape[:2] == ORTHO_PIXELS


# --------------------------------------------------------------------------- report captions


def test_every_figure_has_a_caption_that_renders():
    import re

    import docutils.core
    import jinja2
    import yaml

    root = Path(__file__).resolve().parents[1]
    rules = "".join(p.read_text() for p in (root / "workflow" / "rules").glob("*.smk"))
    captions = re.findall(r'caption="\.\./report/([\w.]+\.rst)"', rules)
    files = {p.name for p in (root / "workflow" / "report").glob("*.rst")} - {"workflow.rst"}
    assert sorted(set(captions)) == sorted(files) and len(captions) == 11

    class Snakemake:
        config = yaml.safe_load((root / "config.yaml").read_text())

    for name in captions:
        text = jinja2.Template((root / "workflow" / "report" / name).read_text()).render(
            snakemake=Snakemake
        )
        assert "{{" not in text
        assert 20 < len(text.split()) < 130  # a short caption
        problems = []
        docutils.core.publish_string(
            text,
            writer="html",
            settings_overrides={"warning_stream": _Collect(problems), "report_level": 1},
        )
        assert not problems, (name, problems)


class _Collect:
    """A stream that keeps what docutils writes (its warnings)."""

    def __init__(self, sink: list):
        self.sink = sink

    def write(self, text: str) -> None:
        self.sink.append(text)
