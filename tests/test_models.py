"""The models registry: every entry builds and runs a forward pass; the curriculum's counts."""

from __future__ import annotations

import numpy as np
import pytest

import models

SHAPES = {"resnet34": (32, 32, 3), "resnet50": (32, 32, 3)}


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_every_model_builds_and_runs_a_forward_pass(name):
    shape = SHAPES.get(name, (16, 16, 3))
    model = models.build(name, shape, num_classes=4)
    output = np.asarray(model(np.random.default_rng(0).random((2, *shape), dtype=np.float32), training=False))
    assert output.shape == (2, 4)
    np.testing.assert_allclose(output.sum(axis=1), 1.0, rtol=1e-5)  # softmax heads


def test_curriculum_parameter_counts():
    assert models.build("resnet34", (224, 224, 3), 10).count_params() == 21_306_826  # HOML's summary
    assert models.build("homl_fashion_cnn", (28, 28, 1), 10).count_params() == 1_413_834  # HOML
    assert models.build("happy_model", (64, 64, 3), 2, binary_head=True).count_params() == 37_633  # Ng


def test_resnet50_leaky_variant_and_bad_options():
    leaky = models.build("resnet50", (64, 64, 3), 5, activation="leaky_relu")
    assert any(type(layer).__name__ == "LeakyReLU" for layer in leaky.layers)
    with pytest.raises(ValueError, match="leaky_relu"):
        models.build("resnet50", (64, 64, 3), 5, activation="swish")
    with pytest.raises(KeyError, match="choose one of"):
        models.build("vgg16", (32, 32, 3), 10)


def test_small_cnn_works_on_8x8_digits():
    assert models.build("small_cnn", (8, 8, 1), 10).output_shape == (None, 10)
