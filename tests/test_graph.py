"""lab.graph: intermediate outputs of every kind of model the lab holds, after a .keras round trip
(a planner stack: "never been called"; a fine-tuned model: a nested base), and what uses them:
activation maps and Grad-CAM, with Keras' own layers as the oracle."""

from __future__ import annotations

import numpy as np
import pytest

from lab import classify, finetune, graph, planner, training
from lab.device import keras, tf
from lab.errors import InputError


def round_trip(model, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    return keras.models.load_model(path, compile=False)


def planner_model(tmp_path):
    stack = planner.encode_stack(
        [planner.LayerSpec("Conv2D", 4, (3, 3), padding="same"), planner.LayerSpec("MaxPooling2D", None, (2, 2))]
    )
    config = training.TrainConfig(model=training.CUSTOM, stack=stack)
    return round_trip(training.uncompiled_model(config, (8, 8, 1), 3), tmp_path)


def test_a_loaded_planner_stack_gives_its_activation_maps(tmp_path, rng):
    model = planner_model(tmp_path)
    image = rng.random((8, 8, 1)).astype(np.float32)
    with pytest.raises(AttributeError, match="never been called"):
        _ = model.input  # the crash of the Train page's results
    expected = np.asarray(model.layers[0](image[np.newaxis]))[0]  # the layer itself is the oracle
    nodes = len(model.layers[0]._inbound_nodes)
    maps = training.activation_maps(model, image)
    assert [name for name, _ in maps] == [model.layers[0].name]
    np.testing.assert_allclose(maps[0][1], expected, atol=1e-6)
    again = training.activation_maps(model, image)  # wired once, not once per request
    assert len(model.layers[0]._inbound_nodes) == nodes + 1 and np.array_equal(again[0][1], maps[0][1])


def loaded(model, size, channels, name="m"):
    return classify.LoadedModel(name, model, (size, size), channels, ["a", "b", "c"], lambda pixels: pixels / 255.0)


def manual_grad_cam(features_of, head_of, batch, class_id):
    with tf.GradientTape() as tape:
        maps = features_of(batch)
        tape.watch(maps)
        score = head_of(maps)[:, class_id]
    weights = tf.reduce_mean(tape.gradient(score, maps), axis=(0, 1, 2))
    cam = tf.nn.relu(tf.reduce_sum(maps[0] * weights, axis=-1)).numpy()
    return cam / cam.max() if cam.max() > 0 else cam


def test_grad_cam_of_a_fine_tuned_model_weighs_its_nested_base(tmp_path):
    keras.utils.set_random_seed(3)
    model, _ = finetune.build(finetune.FinetuneConfig(base_model="MobileNetV2", weights=None, image_size=64), 3)
    model = round_trip(model, tmp_path)
    picture = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    cam = classify.grad_cam(loaded(model, 64, 3), picture, class_id=1)
    base = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    head = [layer for layer in model.layers[model.layers.index(base) + 1 :]]

    def head_of(maps):
        for layer in head:
            maps = layer(maps)
        return maps

    batch = tf.convert_to_tensor(picture[np.newaxis].astype(np.float32) / 255.0)
    expected = manual_grad_cam(lambda x: base(x, training=False), head_of, batch, 1)
    resized = tf.image.resize(expected[..., np.newaxis], (64, 64))[..., 0].numpy()
    assert cam.shape == (64, 64)
    np.testing.assert_allclose(cam, resized, atol=1e-5)


def test_grad_cam_of_a_loaded_planner_stack(tmp_path):
    model = planner_model(tmp_path)
    picture = (np.random.default_rng(1).random((8, 8, 1)) * 255).astype(np.uint8)
    picture = np.repeat(picture, 3, axis=2)  # the classifier's pictures are RGB; the model takes gray
    cam = classify.grad_cam(loaded(model, 8, 1), picture, class_id=0)
    assert cam.shape == (8, 8) and cam.min() >= 0 and cam.max() <= 1


def test_a_model_without_feature_maps_says_why_in_one_line():
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs)))
    with pytest.raises(InputError, match="has no feature maps"):
        classify.grad_cam(loaded(model, 4, 3, "dense only"), np.zeros((4, 4, 3), np.uint8))
    assert graph.spatial_layers(model) == []
