"""Gaussian smoothing kernel vs scipy's gaussian_filter1d loop (tests/kernels/reference.py)."""

import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st

from netregions.kernels import fwhm_to_sigma, smooth, smooth_in_mask
from netregions.kernels import smoothing as sm
from tests.kernels.reference import REFERENCES, smooth_in_mask_reference, smooth_reference

ISOTROPIC_4MM = np.diag([4.0, 4.0, 4.0, 1.0])
# Anisotropic voxels (2 x 3 x 5 mm) rotated about z: voxel sizes are the column norms.
_ROTATION = np.array([[0.6, -0.8, 0.0], [0.8, 0.6, 0.0], [0.0, 0.0, 1.0]])
OBLIQUE = np.eye(4)
OBLIQUE[:3, :3] = _ROTATION @ np.diag([2.0, 3.0, 5.0])
OBLIQUE[:3, 3] = [-90.0, 12.0, 7.5]


def _series(rng, shape, order="F", dtype=np.float32, scale=100.0):
    """Random data of a given layout, with a non-zero mean like BOLD data."""
    data = (rng.standard_normal(shape) * scale + 3 * scale).astype(dtype)
    return np.array(data, order=order)


def assert_matches_reference(result, data, affine, fwhm):
    """rtol 1e-5 with atol 1e-6 x max|finite data|, identical dtype and shape."""
    expected = smooth_reference(data, affine, fwhm)
    finite = np.asarray(data, dtype=np.float64)[np.isfinite(data)]
    scale = float(np.max(np.abs(finite))) if finite.size else 1.0
    assert result.dtype == expected.dtype
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-6 * scale)


def test_reference_registered():
    assert REFERENCES[smooth] is smooth_reference
    assert REFERENCES[smooth_in_mask] is smooth_in_mask_reference


@pytest.mark.parametrize(
    "shape",
    [(1, 1, 1), (2, 3, 4), (7, 1, 5), (1, 9, 1), (13, 11, 9), (50, 59, 50)],
)
@pytest.mark.parametrize("order", ["C", "F"])
def test_volume_matches_reference(rng, shape, order):
    data = _series(rng, shape, order)
    result = smooth(data, ISOTROPIC_4MM, 6.0)
    assert_matches_reference(result, data, ISOTROPIC_4MM, 6.0)


@pytest.mark.parametrize("shape", [(1, 1, 1, 3), (6, 5, 4, 3), (4, 7, 3, 1), (50, 59, 50, 6)])
@pytest.mark.parametrize("order", ["C", "F"])
def test_series_matches_reference(rng, shape, order):
    data = _series(rng, shape, order)
    result = smooth(data, ISOTROPIC_4MM, 6.0)
    assert_matches_reference(result, data, ISOTROPIC_4MM, 6.0)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("fwhm", [2.0, 4.0, 6.0, 10.0, 14.0, 30.0])  # radius 1, 2, 3, 4, 6, 13
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_series_bit_identical_to_reference(rng, order, fwhm, dtype):
    # Same weights and float64 operation order as scipy, for every radius (one or several
    # sweeps of pairs): identical results. float64 data make this sensitive to the order of
    # the additions (a float32 result hides most last-bit differences of the float64 sums).
    data = _series(rng, (21, 17, 19, 3), order, dtype)
    np.testing.assert_array_equal(
        smooth(data, ISOTROPIC_4MM, fwhm), smooth_reference(data, ISOTROPIC_4MM, fwhm)
    )


@pytest.mark.parametrize("order", ["C", "F"])
def test_output_keeps_memory_layout(rng, order):
    data = _series(rng, (5, 6, 7, 3), order)
    result = smooth(data, ISOTROPIC_4MM, 6.0)
    assert result.flags.f_contiguous == (order == "F")
    assert result.flags.c_contiguous == (order == "C")


def test_strided_input(rng):
    data = _series(rng, (12, 10, 8, 6), "F")[::2, :, 1:, ::2]
    assert not (data.flags.c_contiguous or data.flags.f_contiguous)
    assert_matches_reference(smooth(data, ISOTROPIC_4MM, 6.0), data, ISOTROPIC_4MM, 6.0)


@pytest.mark.parametrize("affine", [OBLIQUE, np.diag([1.0, 2.5, 0.7, 1.0])])
@pytest.mark.parametrize("fwhm", [3.0, 8.0, (2.0, 0.0, 9.0), [None, 5.0, 4.0]])
def test_anisotropic_oblique_and_per_axis(rng, affine, fwhm):
    data = _series(rng, (9, 12, 10, 2), "F")
    result = smooth(data, affine, fwhm)
    expected_fwhm = [0.0 if f is None else f for f in np.broadcast_to(np.array(fwhm), 3)]
    assert_matches_reference(result, data, affine, expected_fwhm)


@pytest.mark.parametrize("shape", [(5, 3, 2), (1, 4, 2, 3), (2, 1, 3)])
@pytest.mark.parametrize("order", ["C", "F"])
def test_radius_larger_than_axis(rng, shape, order):
    # sigma = 40 / 2.355 / 1 = 17 voxels: radius 68 reflects many times over each axis.
    affine = np.eye(4)
    data = _series(rng, shape, order)
    result = smooth(data, affine, 40.0)
    assert_matches_reference(result, data, affine, 40.0)
    assert sm._gaussian_half_weights(fwhm_to_sigma(40.0, affine)[0]).size - 1 > max(shape)


@pytest.mark.parametrize("fwhm", [0, 0.0, None, (0, 0, 0), [None, None, None]])
def test_no_smoothing_returns_input_object(rng, fwhm):
    data = _series(rng, (4, 5, 6), "C")
    data[0, 0, 0] = np.nan
    assert smooth(data, ISOTROPIC_4MM, fwhm) is data


def test_tiny_sigma_is_identity_pass(rng):
    # radius int(4 sigma + 0.5) = 0: a one-tap kernel; only the finite-ization remains.
    data = _series(rng, (4, 5, 6), "F")
    data[1, 2, 3] = np.inf
    result = smooth(data, np.eye(4), 0.2)
    expected = np.where(np.isfinite(data), data, 0)
    np.testing.assert_array_equal(result, expected)


POSITIONS = {
    "first": (0, 0, 0),
    "last": (-1, -1, -1),
    "border": (0, 3, 2),
    "interior": (4, 3, 2),
}


@pytest.mark.parametrize("where", sorted(POSITIONS))
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("order", ["C", "F"])
def test_non_finite_values_become_zero(rng, where, value, order):
    data = _series(rng, (9, 7, 5, 3), order)
    data[POSITIONS[where] + (1,)] = value
    data[POSITIONS[where] + (-1,)] = value
    before = data.copy()
    result = smooth(data, ISOTROPIC_4MM, 6.0)
    assert np.all(np.isfinite(result))
    assert_matches_reference(result, data, ISOTROPIC_4MM, 6.0)
    np.testing.assert_array_equal(data, before)  # input untouched (NaN compare equal)


def test_all_non_finite_gives_zeros():
    data = np.full((4, 3, 5), np.nan, dtype=np.float32)
    np.testing.assert_array_equal(smooth(data, ISOTROPIC_4MM, 6.0), 0)


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (np.float32, np.float32),
        (np.float64, np.float64),
        (np.int16, np.float32),
        (">f4", np.float32),  # big-endian NIfTI data
        (">f8", np.float64),
        (np.float16, np.float32),
    ],
)
def test_dtypes(rng, dtype, expected):
    data = _series(rng, (6, 5, 4, 2), "F", dtype=dtype)
    result = smooth(data, ISOTROPIC_4MM, 6.0)
    assert result.dtype == expected
    assert_matches_reference(result, data, ISOTROPIC_4MM, 6.0)


def test_boolean_mask_is_smoothed_as_float32():
    mask = np.zeros((7, 8, 9), dtype=bool)
    mask[2:5, 3:6, 4] = True
    result = smooth(mask, ISOTROPIC_4MM, 6.0)
    assert result.dtype == np.float32
    assert_matches_reference(result, mask, ISOTROPIC_4MM, 6.0)


def test_input_unchanged(rng):
    data = _series(rng, (10, 8, 6, 4), "F")
    before = data.copy()
    smooth(data, ISOTROPIC_4MM, 6.0)
    np.testing.assert_array_equal(data, before)


def test_fwhm_to_sigma_spec_values():
    # docs/algorithms.md §2.3: 6 mm at 4 mm voxels → sigma 0.636991; 1 voxel FWHM → 0.424661.
    np.testing.assert_allclose(fwhm_to_sigma(6.0, ISOTROPIC_4MM), 0.636991, atol=1e-6)
    np.testing.assert_allclose(fwhm_to_sigma(1.0, np.eye(4)), 0.424661, atol=1e-6)
    np.testing.assert_allclose(fwhm_to_sigma((6.0, 0, None), OBLIQUE), [1.27398, 0, 0], atol=1e-5)


def test_weights_spec_values():
    # docs/algorithms.md §2.3: radius 3, weights 0.625876, 0.182525, 0.004527, 0.000010.
    weights = sm._gaussian_half_weights(float(fwhm_to_sigma(6.0, ISOTROPIC_4MM)[0]))
    np.testing.assert_allclose(weights, [0.625876, 0.182525, 0.004527, 0.000010], atol=1e-6)


@pytest.mark.parametrize(("n", "radius"), [(4, 2), (3, 8), (1, 3), (5, 0)])
def test_reflect_table_is_half_sample_symmetric(n, radius):
    # d c b a | a b c d | d c b a, repeated: compare with numpy's "symmetric" padding.
    expected = np.pad(np.arange(n), radius, mode="symmetric")
    np.testing.assert_array_equal(sm._reflect_table(n, radius), expected)


@pytest.mark.parametrize("inner", [1, 3, 700])
def test_private_filter_pass_matches_gaussian_filter1d(rng, inner):
    # data seen as (outer=4, n=11, inner)
    sigma = 1.3
    block = rng.standard_normal((4, 11, inner)).astype(np.float32)
    expected = ndi.gaussian_filter1d(block, sigma, axis=1)
    half = sm._gaussian_half_weights(sigma)
    radius = half.size - 1
    table = sm._reflect_table(11, radius)
    ext, acc = sm._scratch(11 + 2 * radius)
    sm._filter_pass(block.ravel(), 4, 11, inner, 256, half, radius, table, ext, acc)
    np.testing.assert_array_equal(block, expected)


@pytest.mark.parametrize("order", ["C", "F"])
def test_private_smooth_kernels_match_reference(rng, order):
    data = _series(rng, (8, 9, 7, 5), order)
    data[2, 3, 4, 1] = np.nan
    out = np.empty_like(data, order=order)
    weights, radii, tables = sm._pass_parameters(fwhm_to_sigma(6.0, OBLIQUE), data.shape[:3])
    ext, acc = sm._scratch(9 + 2 * int(radii.max()))
    if order == "F":  # blocks = volumes (z, y, x), one column
        blocks = (data.T.reshape(5, -1), out.T.reshape(5, -1), np.array([7, 9, 8]), 1)
        axes = np.array([2, 1, 0])
    else:  # one block (x, y, z) with 5 columns
        blocks = (data.reshape(1, -1), out.reshape(1, -1), np.array([8, 9, 7]), 5)
        axes = np.array([0, 1, 2])
    sm._smooth_blocks(*blocks, axes, weights, radii, tables, 512, ext, acc)
    np.testing.assert_array_equal(out, smooth_reference(data, OBLIQUE, 6.0))


@settings(max_examples=25, deadline=None)
@given(
    shape=st.tuples(*[st.integers(1, 9)] * 3, st.integers(1, 3)),
    fortran=st.booleans(),
    fwhm=st.floats(0.5, 30.0),
)
def test_random_shapes(shape, fortran, fwhm):
    rng = np.random.default_rng(sum(shape))
    data = _series(rng, shape, "F" if fortran else "C")
    affine = np.diag([3.0, 2.0, 4.0, 1.0])
    assert_matches_reference(smooth(data, affine, fwhm), data, affine, fwhm)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fwhm": -1.0}, "fwhm must be finite and >= 0"),
        ({"fwhm": np.nan}, "fwhm must be finite and >= 0"),
        ({"fwhm": np.inf}, "fwhm must be finite and >= 0"),
        ({"fwhm": (1.0, 2.0)}, "fwhm must be a scalar or have 3 values"),
        ({"fwhm": "fast"}, "fwhm must be a number in mm or None"),
        ({"data": np.zeros((3, 4))}, "3D volume or a 4D series"),
        ({"data": np.zeros((2, 2, 2, 2, 2))}, "3D volume or a 4D series"),
        ({"data": np.zeros((2, 2, 2), dtype=complex)}, "must be real"),
        ({"affine": np.eye(2)}, "affine must be a 4x4"),
        ({"affine": np.diag([1.0, np.nan, 1.0, 1.0])}, "affine must be finite"),
        ({"affine": np.diag([1.0, 0.0, 1.0, 1.0])}, "zero voxel size"),
    ],
)
def test_invalid_arguments(kwargs, match):
    arguments = {"data": np.zeros((2, 2, 2)), "affine": np.eye(4), "fwhm": 4.0} | kwargs
    with pytest.raises(ValueError, match=match):
        smooth(**arguments)


def test_import_compiles_nothing():
    # Importing the package only defines dispatchers: every kernel compiles (or loads its
    # cache) on its first call.
    code = (
        "import numba, netregions.kernels as k\n"
        "from netregions.kernels import labeling, lasso, peaks, smoothing\n"
        "mods = (labeling, lasso, peaks, smoothing)\n"
        "kernels = [f for m in mods for f in vars(m).values()\n"
        "           if isinstance(f, numba.core.registry.CPUDispatcher)]\n"
        "print(len(kernels), sum(len(f.signatures) for f in kernels))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    n_kernels, n_compiled = map(int, result.stdout.split())
    assert n_kernels >= 15 and n_compiled == 0


# --------------------------------------------------------------------------- smooth_in_mask


def _brain_like_mask(shape, margin):
    """An ellipsoid well inside the grid (margin > 0) or cut by its borders (margin < 0)."""
    axes = [np.linspace(-1, 1, n) for n in shape]
    x, y, z = np.meshgrid(*axes, indexing="ij")
    radius = 1.0 - margin
    return x**2 + y**2 + z**2 <= radius**2


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize(
    "mask_kind", ["brain", "cut_by_borders", "random", "single_voxel", "corner", "full", "empty"]
)
def test_smooth_in_mask_bit_identical_to_reference(rng, order, mask_kind):
    data = _series(rng, (13, 11, 9, 4), order)
    data[0, 0, 0, 1] = np.nan  # non-finite values near a border become 0, as in smooth
    data[6, 5, 4, 2] = np.inf
    mask = {
        "brain": _brain_like_mask((13, 11, 9), 0.3),
        "cut_by_borders": _brain_like_mask((13, 11, 9), -0.4),
        "random": rng.random((13, 11, 9)) < 0.1,
        "single_voxel": np.zeros((13, 11, 9), dtype=bool),
        "corner": np.zeros((13, 11, 9), dtype=bool),
        "full": np.ones((13, 11, 9), dtype=bool),
        "empty": np.zeros((13, 11, 9), dtype=bool),
    }[mask_kind]
    mask[6, 5, 4] |= mask_kind == "single_voxel"
    mask[12, 10, 8] |= mask_kind == "corner"
    result = smooth_in_mask(data, OBLIQUE, 6.0, mask)
    expected = smooth_in_mask_reference(data, OBLIQUE, 6.0, mask)
    assert result.flags.c_contiguous
    assert result.dtype == expected.dtype == np.float32
    np.testing.assert_array_equal(result, expected)


@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(*[st.integers(1, 10)] * 3, st.integers(1, 3)),
    fortran=st.booleans(),
    fwhm=st.one_of(st.floats(0.5, 40.0), st.tuples(*[st.sampled_from([0.0, None, 3.0, 9.0])] * 3)),
    density=st.sampled_from([0.02, 0.3, 1.0]),
    float64=st.booleans(),
)
def test_smooth_in_mask_random_cases(shape, fortran, fwhm, density, float64):
    # radii up to several times the axis length (reflections repeat), skipped axes, 1-voxel
    # axes: every value inside the mask equals the whole-volume smoothing, bit for bit.
    rng = np.random.default_rng(sum(shape))
    dtype = np.float64 if float64 else np.float32
    data = _series(rng, shape, "F" if fortran else "C", dtype=dtype)
    mask = rng.random(shape[:3]) < density
    affine = np.diag([3.0, 2.0, 4.0, 1.0])
    result = smooth_in_mask(data, affine, fwhm, mask)
    np.testing.assert_array_equal(result, smooth_in_mask_reference(data, affine, fwhm, mask))
    assert result.dtype == smooth(data, affine, fwhm).dtype


def test_smooth_in_mask_of_a_volume_and_of_integers(rng):
    volume = rng.integers(-500, 500, (9, 8, 7)).astype(np.int16)
    mask = _brain_like_mask((9, 8, 7), 0.2)
    result = smooth_in_mask(volume, ISOTROPIC_4MM, 6.0, mask)
    assert result.shape == (mask.sum(),)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, smooth_reference(volume, ISOTROPIC_4MM, 6.0)[mask])


@pytest.mark.parametrize("fwhm", [None, 0.0])
def test_smooth_in_mask_without_smoothing_only_masks(rng, fwhm):
    data = _series(rng, (5, 6, 7, 3), "F", dtype=np.float64)
    data[1, 1, 1, 0] = np.nan  # not smoothing: values are returned as they are
    mask = rng.random((5, 6, 7)) < 0.5
    mask[1, 1, 1] = True
    result = smooth_in_mask(data, ISOTROPIC_4MM, fwhm, mask)
    np.testing.assert_array_equal(result, data[mask].T)
    assert result.dtype == np.float64


def test_smooth_in_mask_computes_less_than_the_whole_volume():
    # The boxes of the three passes cover the mask's dependencies only: with a small mask
    # in a large grid, far fewer values than the grid's are filtered.
    mask = np.zeros((40, 40, 40), dtype=bool)
    mask[18:22, 18:22, 18:22] = True
    weights, radii, tables = sm._pass_parameters(fwhm_to_sigma(6.0, ISOTROPIC_4MM), mask.shape)
    x_boxes, y_boxes, z_boxes = sm._mask_boxes(mask, radii, tables)
    filtered = (
        sum((o1 - o0) * (i1 - i0) for o0, o1, i0, i1 in x_boxes)
        + sum((c1 - c0) * (i1 - i0) for _, c0, c1, i0, i1 in y_boxes)
        + sum((c1 - c0) * (i1 - i0) for _, c0, c1, i0, i1 in z_boxes)
    )
    assert 0 < filtered < 0.05 * 3 * mask.size


@pytest.mark.parametrize(
    ("mask", "match"),
    [(np.ones((2, 2, 3), dtype=bool), "mask grid"), (np.ones((2, 2), dtype=bool), "mask grid")],
)
def test_smooth_in_mask_rejects_a_mask_off_the_grid(mask, match):
    with pytest.raises(ValueError, match=match):
        smooth_in_mask(np.zeros((2, 2, 2, 3)), np.eye(4), 4.0, mask)


def test_planned_smoother_serves_many_blocks_and_masks(rng):
    # a run is smoothed block by block with one planned mask; each plan belongs to its mask
    data = _series(rng, (9, 8, 7, 6), "F")
    first = _brain_like_mask((9, 8, 7), 0.2)
    second = first.copy()
    second[4, 4, 3] = False
    second[0, 0, 0] = True
    for mask in (first, second):
        smoother = sm.InMaskSmoother.plan(mask, ISOTROPIC_4MM, 6.0)
        blocks = [smoother(data[..., t : t + 2]) for t in range(0, 6, 2)]
        np.testing.assert_array_equal(
            np.concatenate(blocks), smooth_in_mask_reference(data, ISOTROPIC_4MM, 6.0, mask)
        )
    with pytest.raises(ValueError, match="mask grid"):
        sm.InMaskSmoother.plan(first, ISOTROPIC_4MM, 6.0)(np.zeros((9, 8, 6, 2)))
