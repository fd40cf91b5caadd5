"""lab.padding against TensorFlow itself: output sizes, SAME split, planner shapes and counts."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from lab import padding, planner
from lab.errors import InputError
from tests.conftest import ROOT


def random_cases(count: int, seed: int):
    """(n, k, s, d, mode) per axis; TF forbids stride > 1 with dilation > 1 in conv2d."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        n, k, s, d = int(rng.integers(1, 40)), int(rng.integers(1, 8)), int(rng.integers(1, 5)), int(rng.integers(1, 4))
        if s > 1:
            d = 1
        mode = ("valid", "same")[int(rng.integers(0, 2))]
        if mode == "valid" and (k - 1) * d + 1 > n:
            continue
        cases.append((n, k, s, d, mode))
    return cases


def test_conv_output_size_matches_tf_conv2d_over_thousands_of_cases():
    import tensorflow as tf

    cases = random_cases(3000, seed=0)
    for (n1, k1, s1, d1, mode), (n2, k2, s2, d2, _) in zip(cases[::2], cases[1::2], strict=True):
        if (s1 > 1 or s2 > 1) and (d1 > 1 or d2 > 1):
            d1 = d2 = 1  # TF needs all strides 1 when any dilation > 1
        if mode == "valid" and ((k2 - 1) * d2 + 1 > n2 or (k1 - 1) * d1 + 1 > n1):
            continue
        out = tf.nn.conv2d(
            tf.zeros((1, n1, n2, 1)), tf.zeros((k1, k2, 1, 1)), (s1, s2), mode.upper(), dilations=(d1, d2)
        )
        assert out.shape[1:3] == (
            padding.conv_output_size(n1, k1, s1, mode, d1),
            padding.conv_output_size(n2, k2, s2, mode, d2),
        ), (n1, k1, s1, d1, n2, k2, s2, d2, mode)


def test_pool_output_size_matches_keras_pooling():
    import keras
    import tensorflow as tf

    for n, k, s, _, mode in random_cases(400, seed=1):
        for layer in (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D):
            out = layer(pool_size=(k, 1), strides=(s, 1), padding=mode)(tf.zeros((1, n, 1, 1)))
            assert out.shape[1] == padding.conv_output_size(n, k, s, mode), (n, k, s, mode)


def test_same_padding_is_proven_by_the_homl_identity():
    """VALID conv on the image zero-padded by our (before, after) equals TF's SAME conv."""
    import tensorflow as tf

    rng = np.random.default_rng(2)
    cases = [case for case in random_cases(600, seed=3) if case[4] == "same"][:250]
    for n, k, s, d, _ in cases:
        m = max(1, n // 2 + 1)
        image = tf.constant(rng.normal(size=(1, n, m, 2)).astype(np.float32))
        kernel = tf.constant(rng.normal(size=(k, 3, 2, 2)).astype(np.float32))
        wd = 1 if s > 1 else d
        expected = tf.nn.conv2d(image, kernel, (s, s), "SAME", dilations=(d, wd))
        top, bottom = padding.same_padding(n, k, s, d)
        left, right = padding.same_padding(m, 3, s, wd)
        padded = tf.pad(image, [[0, 0], [top, bottom], [left, right], [0, 0]])
        manual = tf.nn.conv2d(padded, kernel, (s, s), "VALID", dilations=(d, wd))
        np.testing.assert_allclose(manual.numpy(), expected.numpy(), rtol=1e-4, atol=1e-5)


def test_odd_padding_goes_after_unlike_pytorch():
    assert padding.same_padding(4, 3, 2) == (0, 1)  # total 1: TF pads bottom/right only
    assert padding.same_padding(5, 4, 1) == (1, 2)
    assert padding.same_padding(28, 7, 1) == (3, 3)


def test_axis_plan_windows_spans_and_dropped_cells():
    plan = padding.plan_axis(7, 3, stride=2, padding="valid")
    assert (plan.output_size, plan.padded_size, plan.dropped) == (3, 7, 0)
    assert plan.window(2) == [4, 5, 6]
    plan = padding.plan_axis(8, 3, stride=2, padding="valid")
    assert plan.dropped == 1  # the last row is never read
    plan = padding.plan_axis(5, 3, stride=1, padding="same", dilation=2)
    assert (plan.pad_before, plan.pad_after, plan.effective_kernel) == (2, 2, 5)
    assert plan.window(0) == [0, 2, 4] and plan.input_span(0) == (-2, 2)
    with pytest.raises(InputError, match="outside"):
        plan.window(5)


def test_check_layer_against_tensorflow():
    from lab import padding_tf

    for op in padding_tf.OPS:
        result = padding_tf.check_layer((13, 10), (3, 4), (2, 3), "same", 1, op=op)
        assert result.agrees, result
    dilated = padding_tf.check_layer(9, 3, 1, "same", 2)
    assert dilated.agrees and dilated.same_identity_error is not None
    with pytest.raises(InputError, match="dilation"):
        padding_tf.check_layer(9, 3, 2, "same", 2)


@pytest.mark.parametrize("name", sorted(planner.PRESETS))
def test_planner_equals_keras_for_every_preset(name):
    from lab import padding_tf

    shape, specs = planner.PRESETS[name]
    plan = planner.plan_stack(shape, specs)
    keras_rows = padding_tf.keras_report(shape, specs)
    assert [layer.output_shape for layer in plan.layers] == [row[0] for row in keras_rows]
    assert [layer.params for layer in plan.layers] == [row[1] for row in keras_rows]


def test_known_parameter_counts_and_receptive_fields():
    fashion = planner.plan_stack(*planner.PRESETS["HOML Fashion-MNIST CNN"])
    assert fashion.total_params == 1_413_834
    assert planner.plan_stack(*planner.PRESETS["HappyModel (Ng)"]).total_params == 37_633
    alexnet = planner.plan_stack(*planner.PRESETS["AlexNet stem"])
    assert alexnet.layers[-1].receptive_field == (195, 195)  # AlexNet pool5, a well-known value
    assert alexnet.layers[0].jump == (4, 4)


def test_memory_totals_follow_homl():
    plan = planner.plan_stack((4, 4, 1), [planner.LayerSpec("Conv2D", 2, (3, 3), padding="same")])
    assert plan.activation_sizes == [64, 128]
    assert plan.inference_bytes == 192 and plan.training_bytes == 192


def test_transposed_conv_matches_keras():
    from lab import padding_tf

    for stride, kernel, mode in [(2, 3, "same"), (2, 3, "valid"), (3, 2, "valid"), (1, 5, "valid")]:
        specs = [planner.LayerSpec("Conv2DTranspose", 4, (kernel, kernel), (stride, stride), mode)]
        plan = planner.plan_stack((5, 6, 3), specs)
        assert plan.layers[0].output_shape == padding_tf.keras_report((5, 6, 3), specs)[0][0]


def test_table_rows_round_trip():
    for shape, specs in planner.PRESETS.values():
        assert planner.parse_stack([planner.spec_to_row(spec) for spec in specs]) == specs
        assert "keras.Sequential" in planner.keras_snippet(shape, specs)


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: padding.conv_output_size(3, 5), "must fit"),
        (lambda: padding.conv_output_size(0, 3), "at least 1"),
        (lambda: padding.conv_output_size(-4, 3), "at least 1"),
        (lambda: padding.conv_output_size(8, 3, stride=0), "stride must be at least 1"),
        (lambda: padding.conv_output_size(8.5, 3), "whole number"),
        (lambda: padding.conv_output_size("eight", 3), "whole number"),
        (lambda: padding.conv_output_size(8, 3, padding="full"), "padding"),
        (lambda: padding.as_pair("kernel", "3x"), "3x5"),
        (
            lambda: planner.plan_stack((8, 8, 1), [{"layer": "Conv2D", "size": 4, "kernel": "9"}]),
            "Layer 1 \\(Conv2D\\)",
        ),
        (lambda: planner.plan_stack((8, 8, 1), [{"layer": "Flatten"}, {"layer": "MaxPooling2D"}]), "Layer 2"),
        (lambda: planner.plan_stack((8, 8, 1), [{"layer": "Conv3D", "size": 4}]), "unknown layer"),
        (lambda: planner.plan_stack((8, 8, 1), [{"layer": "Dense"}]), "needs a size"),
        (lambda: planner.plan_stack((8, 8), []), "height, width, channels"),
    ],
)
def test_bad_input_names_the_problem(call, fragment):
    with pytest.raises(InputError, match=fragment):
        call()


def test_importing_padding_does_not_import_tensorflow():
    code = "import sys, lab.padding; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "False"


def test_the_planner_reads_small_nets_in_kilobytes_and_ticks_bias_only_where_there_is_one():
    plan = planner.plan_stack((8, 8, 1), [planner.LayerSpec("Conv2D", 32, (3, 3)), planner.LayerSpec("Flatten")])
    assert planner.readable_bytes(4 * 9_728) == "38.0 KB" and planner.readable_bytes(512) == "512 B"
    assert plan.memory_figures(32)["Weights (float32)"].endswith("KB")
    rows = [planner.spec_to_row(spec) for spec in planner.PRESETS["LeNet-5"][1]]
    assert {row["layer"]: row["bias"] for row in rows}["AveragePooling2D"] is None
    assert {row["layer"]: row["bias"] for row in rows}["Flatten"] is None
    assert {row["layer"]: row["bias"] for row in rows}["Conv2D"] is True
