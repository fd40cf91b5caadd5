"""lab.planner's trainable stacks: the URL text, the classifier head, the caps and their messages."""

from __future__ import annotations

import pytest

from lab import planner
from lab.errors import InputError
from lab.planner import LayerSpec


@pytest.mark.parametrize("name", sorted(planner.PRESETS))
def test_every_preset_survives_the_url_text(name):
    _, specs = planner.PRESETS[name]
    text = planner.encode_stack(specs)
    assert planner.decode_stack(text) == specs
    assert all(character.isalnum() or character in "-,._x" for character in text)  # no escaping in a URL


def test_the_text_keeps_every_field():
    specs = [
        LayerSpec("Conv2D", 8, (5, 3), (2, 1), "same", (1, 1), False, "elu"),
        LayerSpec("Conv2D", 4, (3, 3), None, "valid", (2, 2)),
        LayerSpec("Dropout", rate=0.25),
        LayerSpec("AveragePooling2D", None, (3, 3), (2, 2), "same"),
        LayerSpec("ZeroPadding2D", 2),
        LayerSpec("GlobalAveragePooling2D"),
        LayerSpec("Dense", 7, activation="leaky_relu"),
    ]
    text = planner.encode_stack(specs)
    assert text.split(",")[0] == "conv-8-k5x3-s2x1-same-nobias-elu" and "drop-r0.25" in text
    assert planner.decode_stack(text) == specs


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("conv-16-k3,pool-2", r"Layer 2: unknown layer 'pool'"),
        ("conv-16-kx", r"Layer 1 \(Conv2D\): cannot read 'kx'"),
        ("conv-k3", r"Layer 1 \(Conv2D\): needs a size"),
        ("drop-r1.5", r"Layer 1 \(Dropout\): rate must be in \[0, 1\)"),
        (",".join(["bn"] * 65), "at most 64"),
    ],
)
def test_a_hostile_link_is_a_message_naming_the_layer(text, message):
    with pytest.raises(InputError, match=message):
        planner.decode_stack(text)


def test_the_head_replaces_a_softmax_layer_and_flattens_feature_maps():
    _, specs = planner.PRESETS["HOML Fashion-MNIST CNN"]
    full, head = planner.with_head(specs, 3)
    assert head == 1 and full[:-1] == specs[:-1] and full[-1] == LayerSpec("Dense", 3, activation="softmax")
    stem = planner.PRESETS["ResNet-34 stem (HOML)"][1]
    full, head = planner.with_head(stem, 5)
    assert head == 2 and [spec.kind for spec in full[-2:]] == ["Flatten", "Dense"]
    pooled, head = planner.with_head([*stem, LayerSpec("GlobalAveragePooling2D")], 5)
    assert head == 1 and pooled[-2].kind == "GlobalAveragePooling2D"


def test_a_collapsing_stack_is_refused_with_the_planners_explanation():
    _, lenet = planner.PRESETS["LeNet-5"]
    with pytest.raises(InputError, match=r"Layer 3 \(Conv2D\): With VALID padding the kernel \(5 cells"):
        planner.trainable_plan((8, 8, 1), lenet, 10, 32)
    plan, head = planner.trainable_plan((32, 32, 1), lenet, 10, 32)
    assert plan.total_params == 61_706 and head == 1  # LeCun's LeNet-5, as Keras counts it


def test_over_cap_stacks_are_refused_naming_the_layer():
    wide = planner.decode_stack("conv-64-k3-same-relu,flat,dense-2000-relu")
    with pytest.raises(InputError, match=r"Layer 3 \(Dense\) brings the model to 100,354,640 parameters"):
        planner.trainable_plan((28, 28, 1), wide, 10, 32)
    big_maps = planner.decode_stack("conv-512-k3-same-relu,gap")
    with pytest.raises(InputError, match=r"batch size 4096 \(layer 1 \(Conv2D\) alone: 1.5 MB per image\)"):
        planner.trainable_plan((28, 28, 1), big_maps, 10, 4096)
    planner.trainable_plan((28, 28, 1), big_maps, 10, 32)  # the same stack fits at a small batch
    with pytest.raises(InputError, match="41 layers with its head; at most 40"):
        planner.trainable_plan((8, 8, 1), [LayerSpec("BatchNormalization")] * 39, 10, 32)
    with pytest.raises(InputError, match=r"Layer 1 \(Conv2D\): unknown activation 'rleu'"):
        planner.trainable_plan((8, 8, 1), [LayerSpec("Conv2D", 4, (3, 3), activation="rleu")], 10, 32)


@pytest.mark.parametrize("name", sorted(planner.PRESETS))
def test_every_presets_multiply_adds_are_tensorflows(name):
    """The planner's multiply-adds per image against the flops TensorFlow's profiler registers for the same
    Keras layers (Conv2D, DepthwiseConv2dNative, MatMul), halved."""
    from lab import padding_tf
    from tests.flops import tensorflow_multiply_adds

    shape, specs = planner.PRESETS[name]
    plan = planner.plan_stack(shape, specs)
    assert plan.total_multiply_adds == tensorflow_multiply_adds(lambda: padding_tf.build_model(shape, specs), shape)


def test_a_transposed_convolutions_multiply_adds_are_its_nonzero_products():
    """Hand count: as zero insertion + a VALID convolution, only the products with a real input value count."""
    import numpy as np

    for size, kernel, stride in [(5, 3, 2), (4, 2, 2), (3, 4, 3)]:
        plan = planner.plan_stack(
            (size, size, 3), [LayerSpec("Conv2DTranspose", 2, (kernel, kernel), (stride, stride))]
        )
        spread = np.zeros(((size - 1) * stride + 1 + 2 * (kernel - 1),) * 2)
        spread[kernel - 1 : kernel - 1 + (size - 1) * stride + 1 : stride, kernel - 1 :: stride][:, :size] = 1
        out = plan.layers[0].output_shape[0]
        real = sum(spread[r : r + kernel, c : c + kernel].sum() for r in range(out) for c in range(out))
        assert plan.layers[0].multiply_adds == real * 3 * 2  # input channels x filters


def test_separable_convolutions_save_what_homl_says_with_keras_counts():
    """HOML: a depthwise separable convolution needs k^2 C + C C' weights where a regular one needs k^2 C C'."""
    import keras

    for name in ("MobileNet blocks (depthwise separable)", "Xception entry block (separable)"):
        shape, specs = planner.PRESETS[name]
        plan = planner.plan_stack(shape, specs)
        shapes = [plan.input_shape] + [layer.output_shape for layer in plan.layers]
        for saving in planner.savings(plan):
            first = int(saving.layers.split(":")[0].split("-")[0]) - 1
            channels, out = shapes[first][-1], int(saving.regular.split("-> ")[1].split()[0])
            kernel = plan.layers[first].spec.kernel_size
            regular = keras.layers.Conv2D(out, kernel, use_bias=False)
            regular.build((None, *shapes[first][:2], channels))
            assert saving.regular_parameters == regular.count_params() == kernel[0] * kernel[1] * channels * out
            ratio = saving.regular_parameters / saving.parameters
            assert ratio == pytest.approx(1 / (1 / out + 1 / (kernel[0] * kernel[1])), rel=0.02)
            assert saving.regular_multiply_adds / saving.multiply_adds == pytest.approx(ratio, rel=0.02)
    bottleneck = planner.savings(
        planner.plan_stack(*planner.PRESETS["GoogLeNet 1x1 bottleneck (inception 3a's 5x5 branch)"])
    )
    assert [(s.parameters, s.regular_parameters) for s in bottleneck] == [
        (16 * 192 + 16 + 25 * 16 * 32 + 32, 25 * 192 * 32 + 32)
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [("dw-0-k3", r"Layer 1 \(DepthwiseConv2D\)"), ("sep-k3", r"Layer 1 \(SeparableConv2D\): needs a size")],
)
def test_the_new_layers_refuse_bad_rows_by_name(text, message):
    with pytest.raises(InputError, match=message):
        planner.plan_stack((8, 8, 3), planner.decode_stack(text))
