"""lab.convolution against an independent NumPy cross-correlation and HOML's demos."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lab import convolution, images
from lab.errors import InputError


def numpy_correlate(image, kernels, stride, padding, dilation):
    """Reference: TF's padding rule written out, then a sum over kernel taps. No TensorFlow."""
    (sh, sw), (dh, dw) = stride, dilation
    kh, kw = kernels.shape[:2]
    fh, fw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    height, width = image.shape[:2]
    if padding == "same":
        oh, ow = math.ceil(height / sh), math.ceil(width / sw)
        ph, pw = max((oh - 1) * sh + fh - height, 0), max((ow - 1) * sw + fw - width, 0)
        image = np.pad(image, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (height - fh) // sh + 1, (width - fw) // sw + 1
    out = np.zeros((oh, ow, kernels.shape[3]), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            window = image[i * dh : i * dh + (oh - 1) * sh + 1 : sh, j * dw : j * dw + (ow - 1) * sw + 1 : sw]
            out += np.tensordot(window, kernels[i, j], axes=([2], [0]))
    return out


def cases():
    for stride in (1, 2, 3):
        for dilation in (1, 2):
            if stride > 1 and dilation > 1:
                continue  # TensorFlow refuses the combination (tested below)
            for padding in ("same", "valid"):
                yield stride, dilation, padding


@pytest.mark.parametrize(("stride", "dilation", "padding"), list(cases()))
def test_convolve_equals_numpy_cross_correlation(rng, stride, dilation, padding):
    for trial in range(3):
        height, width, channels, count = (
            rng.integers(9, 20),
            rng.integers(9, 20),
            rng.integers(1, 4),
            rng.integers(1, 4),
        )
        kh, kw = rng.integers(1, 5), rng.integers(1, 5)
        image = rng.random((height, width, channels), dtype=np.float32)
        kernels = rng.normal(size=(kh, kw, channels, count)).astype(np.float32)
        ours = convolution.convolve(image, kernels, stride=stride, padding=padding, dilation=dilation)
        expected = numpy_correlate(image, kernels, (stride, stride), padding, (dilation, dilation))
        np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5, err_msg=f"trial {trial}")


def test_per_axis_stride_bias_and_relu(rng):
    image = rng.random((11, 13, 2), dtype=np.float32)
    kernels = rng.normal(size=(3, 2, 2, 2)).astype(np.float32)
    ours = convolution.convolve(image, kernels, stride=(1, 2), padding="same", bias=[0.5, -1.0], activation="relu")
    expected = np.maximum(numpy_correlate(image, kernels, (1, 2), "same", (1, 1)) + np.array([0.5, -1.0]), 0)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5)


def test_explain_pixel_agrees_with_convolve_at_random_pixels(rng):
    image = images.prepare(images.sample_image("flower"), crop=images.HOML_CROP)
    kernel = convolution.kernel_2d("random", 5, seed=3)
    filters = convolution.expand_kernel(kernel, 3)
    for stride, dilation, padding in cases():
        maps = convolution.convolve(
            image, filters, stride=stride, padding=padding, dilation=dilation, bias=0.1, activation="relu"
        )
        for _ in range(5):
            row, col = int(rng.integers(0, maps.shape[0])), int(rng.integers(0, maps.shape[1]))
            explained = convolution.explain_pixel(
                image,
                filters[..., 0],
                row,
                col,
                stride=stride,
                padding=padding,
                dilation=dilation,
                bias=0.1,
                activation="relu",
            )
            assert explained.output == pytest.approx(float(maps[row, col, 0]), rel=1e-4, abs=1e-5)
            assert explained.products.shape == (5, 5, 3)


def test_homl_line_filters_on_the_two_photos():
    batch = np.stack([images.prepare(images.sample_image(name)) for name in ("china", "flower")])
    filters = convolution.homl_line_filters()
    assert filters.shape == (7, 7, 3, 2)
    assert (filters[:, 3, :, 0] == 1).all() and (filters[3, :, :, 1] == 1).all()
    outputs = np.stack([convolution.convolve(image, filters) for image in batch])
    assert outputs.shape == (2, 427, 640, 2)  # HOML's Conv2D(2, 7, SAME) output shape


def test_conv2d_layer_demo_random_then_set_weights():
    crops = np.stack([images.prepare(images.sample_image(name), crop=images.HOML_CROP) for name in ("china", "flower")])
    demo = convolution.conv2d_layer_demo(crops, convolution.homl_line_filters())
    assert demo.matches_conv2d
    assert not np.allclose(demo.random_output, demo.set_output)


@pytest.mark.parametrize(("size", "kernel", "stride"), [(5, 3, 2), (4, 2, 2), (3, 4, 3), (6, 1, 1)])
def test_transposed_convolution_manual_equivalence(size, kernel, stride):
    demo = convolution.transposed_demo((size, size), kernel, stride)
    assert demo.manual_equal, demo
    assert demo.output_shape == demo.planned_shape


def test_presets_are_what_they_say():
    assert convolution.kernel_2d("gaussian blur", 5, sigma=1.0).sum() == pytest.approx(1.0)
    assert convolution.kernel_2d("box blur", 3).sum() == pytest.approx(1.0)
    assert convolution.kernel_2d("sobel x", 7).shape == (3, 3)
    identity = convolution.kernel_2d("identity", 5)
    image = np.random.default_rng(0).random((8, 8, 1), dtype=np.float32)
    np.testing.assert_allclose(convolution.convolve(image, identity[:, :, None, None])[..., 0], image[..., 0])
    random_a, random_b = convolution.kernel_2d("random", 3, seed=1), convolution.kernel_2d("random", 3, seed=1)
    np.testing.assert_array_equal(random_a, random_b)
    assert np.abs(random_a).max() <= math.sqrt(6 / (9 + 9))  # Glorot uniform limit for fan_in = fan_out = 9
    per_channel = convolution.expand_kernel(identity, 3, per_channel=True)
    rgb = np.random.default_rng(1).random((6, 6, 3), dtype=np.float32)
    np.testing.assert_allclose(convolution.convolve(rgb, per_channel), rgb, atol=1e-6)


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: convolution.convolve(np.zeros((3, 3, 1)), np.ones((5, 5, 1, 1)), padding="valid"), "must fit"),
        (
            lambda: convolution.convolve(np.zeros((8, 8, 1)), np.ones((3, 3, 1, 1)), stride=0),
            "stride must be at least 1",
        ),
        (lambda: convolution.convolve(np.zeros((1, 1, 1)), np.ones((7, 7, 1, 1)), padding="valid"), "must fit"),
        (lambda: convolution.convolve(np.zeros((20000, 20, 1)), np.ones((3, 3, 1, 1))), "longest side"),
        (lambda: convolution.convolve(np.zeros((8, 8, 3)), np.ones((3, 3, 1, 1))), "input channels"),
        (lambda: convolution.convolve(np.zeros((8, 8, 1)), np.full((3, 3, 1, 1), np.nan)), "NaN"),
        (lambda: convolution.convolve(np.zeros((8, 8, 1)), np.ones((3, 3, 1, 1)), stride=2, dilation=2), "dilation"),
        (lambda: convolution.convolve(np.zeros((8, 8, 1)), np.ones((3, 3, 1, 1)), activation="gelu"), "Activation"),
        (lambda: convolution.parse_kernel_grid([[1, "abc"], [0, 1]]), "row 0, column 1"),
        (lambda: convolution.parse_kernel_grid([[1, None], [0, 1]]), "empty, NaN"),
        (lambda: convolution.parse_kernel_grid([[1, float("nan")]]), "empty, NaN"),
        (lambda: convolution.kernel_2d("blur", 3), "Unknown kernel"),
        (lambda: convolution.explain_pixel(np.zeros((8, 8, 1)), np.ones((3, 3, 1)), 9, 0), "outside"),
    ],
)
def test_bad_input_is_a_clear_message(call, fragment):
    with pytest.raises(InputError, match=fragment):
        call()


def test_one_by_one_image_under_same_padding_works():
    out = convolution.convolve(np.ones((1, 1, 1), np.float32), np.ones((7, 7, 1, 1), np.float32))
    assert out.shape == (1, 1, 1) and out[0, 0, 0] == 1.0


def test_the_config_holds_the_edited_cells_and_they_decode_to_exactly_the_kernel():
    """The edited cells travelled beside ConvConfig (parsed twice per rerun); they are its field now, written
    as the shortest text that reads back as the same float32 (4 significant digits lost 0.12345)."""
    rng = np.random.default_rng(5)
    edited = rng.normal(size=(3, 5)).astype(np.float32)
    config = convolution.ConvConfig(cells=convolution.encode_kernel(edited))
    np.testing.assert_array_equal(config.kernel(), edited)
    assert convolution.encode_kernel(np.array([[0.1, 0.12345]])) == "0.1,0.12345"
    np.testing.assert_array_equal(convolution.ConvConfig().kernel(), convolution.ConvConfig().preset_kernel())
    with pytest.raises(convolution.InputError, match=r"row 0, column 1"):
        convolution.ConvConfig(cells="1,x;2,3").check()
