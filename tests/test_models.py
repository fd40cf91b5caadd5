"""The models registry: every entry builds and runs a forward pass; every parameter count has an oracle
(keras.applications where it has the same network, else the literature, each with its source)."""

from __future__ import annotations

import numpy as np
import pytest

import models
from models.classic import LocalResponseNormalization
from models.inception import MODULES
from recipes import architectures

SHAPES = {"resnet34": (32, 32, 3), "resnet50": (32, 32, 3)}


def full_size(name: str, **options):
    """A registry architecture at its paper's size, built in a graph of its own (no weights allocated)."""
    import tensorflow as tf

    spec = models.ARCHITECTURES[name]
    with tf.Graph().as_default():
        return models.build(name, spec.input_shape, spec.classes, **options)


def trainable(model) -> int:
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_every_model_builds_and_runs_a_forward_pass(name):
    options = models.ARCHITECTURES[name].scaled if name in models.ARCHITECTURES else {}
    shape = SHAPES.get(name, (32, 32, 3) if models.min_side(name) > 16 else (16, 16, 3))
    model = models.build(name, shape, num_classes=4, **options)
    output = np.asarray(model(np.random.default_rng(0).random((2, *shape), dtype=np.float32), training=False))
    assert output.shape == (2, 4)
    np.testing.assert_allclose(output.sum(axis=1), 1.0, rtol=1e-5)  # softmax heads


def test_curriculum_parameter_counts():
    assert models.build("resnet34", (224, 224, 3), 10).count_params() == 21_306_826  # HOML's summary
    assert models.build("homl_fashion_cnn", (28, 28, 1), 10).count_params() == 1_413_834  # HOML
    assert models.build("happy_model", (64, 64, 3), 2, binary_head=True).count_params() == 37_633  # Ng


@pytest.mark.parametrize(
    ("name", "application"),
    [("vgg16", "VGG16"), ("xception", "Xception"), ("resnet50", "ResNet50"), ("mobilenet", "MobileNet")],
)
def test_full_size_counts_equal_keras_applications_exactly(name, application):
    import keras
    import tensorflow as tf

    with tf.Graph().as_default():
        reference = getattr(keras.applications, application)(weights=None).count_params()
    assert full_size(name).count_params() == reference == models.ARCHITECTURES[name].parameters


def test_full_size_counts_equal_the_literature():
    # LeNet-5 (LeCun et al. 1998, sec. II.B): C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164, RBF 840 =
    # 60,840. Here C3 sees all of S2's maps (2,416), pooling has no weights and the output is Dense (850).
    assert full_size("lenet5").count_params() == 60_840 + (2_416 - 1_516) - (12 + 32) + (850 - 840) == 61_706
    # AlexNet (Krizhevsky et al. 2012), 227x227x3: conv 34,944 + 614,656 + 885,120 + 1,327,488 + 884,992, dense
    # 37,752,832 + 16,781,312 + 4,097,000 (one tower); the paper's two GPU groups halve conv 2, 4 and 5's inputs
    assert full_size("alexnet").count_params() == 62_378_344
    grouped = full_size("alexnet", groups=2).count_params()
    assert grouped == 62_378_344 - 307_200 - 663_552 - 442_368 == 60_965_224  # the paper's "60 million"
    # GoogLeNet (Szegedy et al. 2014, Table 1's layer sizes), with biases; "about 6.8 million" without them
    modules = sum(
        i * a + i * r3 + 9 * r3 * b + i * r5 + 25 * r5 * c + i * p + a + r3 + b + r5 + c + p
        for i, (a, r3, b, r5, c, p) in zip(
            [192, 256, 480, 512, 512, 512, 528, 832, 832], MODULES.values(), strict=True
        )  # each module's input channels: the one before's outputs
    )
    stem = (49 * 3 * 64 + 64) + (64 * 64 + 64) + (9 * 64 * 192 + 192)
    googlenet = full_size("googlenet")
    assert googlenet.count_params() == stem + modules + 1024 * 1000 + 1000 == 6_998_552
    biases = sum(int(np.prod(w.shape)) for w in googlenet.weights if "bias" in w.path)
    assert abs(googlenet.count_params() - biases - 6.8e6) / 6.8e6 < 0.03
    # SE-ResNet-50 (Hu et al. 2017): 28.1 million trainable. ResNet-50 without convolution biases is He et
    # al.'s (torchvision's 25,557,032); each SE block adds 2 C^2 / 16 + C / 16 + C
    assert trainable(full_size("resnet50", conv_bias=False)) == 25_557_032
    se = sum(count * (2 * c * c // 16 + c // 16 + c) for c, count in [(256, 3), (512, 4), (1024, 6), (2048, 3)])
    se_resnet50 = full_size("se_resnet50")
    assert trainable(se_resnet50) == 25_557_032 + se == 28_088_024
    assert round(trainable(se_resnet50) / 1e6, 1) == 28.1
    assert se_resnet50.count_params() == models.ARCHITECTURES["se_resnet50"].parameters  # + BN statistics


@pytest.mark.parametrize("name", sorted(models.ARCHITECTURES))
def test_the_tables_numbers_are_the_builders(name):
    spec = models.ARCHITECTURES[name]
    figures = architectures.figures(full_size(name, **spec.paper_options), 1)
    assert figures["parameters"] == spec.parameters
    assert figures["depth"] == spec.depth  # VGG-16: 16, ResNet-50: 50, GoogLeNet: 22, MobileNet: 28, ...


def test_local_response_normalization_is_tensorflows_and_loads_in_safe_mode(tmp_path, rng):
    import keras
    import tensorflow as tf

    x = rng.normal(size=(2, 5, 5, 9)).astype(np.float32) * 3
    ours = np.asarray(LocalResponseNormalization()(x))
    reference = tf.nn.local_response_normalization(x, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75).numpy()
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6)
    model = models.build("alexnet", (32, 32, 3), 4, width=0.125)
    model.save(tmp_path / "alexnet.keras")
    loaded = keras.saving.load_model(tmp_path / "alexnet.keras", safe_mode=True, compile=False)
    batch = rng.random((1, 32, 32, 3), dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(loaded(batch)), np.asarray(model(batch)))


def test_resnet50_leaky_variant_and_bad_options():
    leaky = models.build("resnet50", (64, 64, 3), 5, activation="leaky_relu")
    assert any(type(layer).__name__ == "LeakyReLU" for layer in leaky.layers)
    with pytest.raises(ValueError, match="leaky_relu"):
        models.build("resnet50", (64, 64, 3), 5, activation="swish")
    with pytest.raises(KeyError, match="choose one of"):
        models.build("vgg19", (32, 32, 3), 10)
    with pytest.raises(ValueError, match="at least 32x32"):
        models.build("vgg16", (8, 8, 1), 10)  # five halvings of 8 pixels leave nothing


def test_small_cnn_works_on_8x8_digits():
    assert models.build("small_cnn", (8, 8, 1), 10).output_shape == (None, 10)
