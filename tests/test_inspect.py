"""Inspect against its oracles: every Conv2D neuron's arithmetic equals the model's own intermediate
output (every registry model), and the receptive field equals a brute-force gradient check of
which input pixels change the neuron."""

from __future__ import annotations

import numpy as np
import pytest

import models
from lab import inspect
from lab.device import keras
from lab.errors import InputError
from recipes import inspect as recipe

SHAPE = (32, 32, 3)


def with_random_statistics(model, seed: int = 0):
    """BatchNormalization with moving statistics that are not the identity: the arithmetic must use them."""
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            size = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.5, size).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, size).astype(np.float32))
            layer.gamma.assign(rng.uniform(0.5, 1.5, size).astype(np.float32))
            layer.beta.assign(rng.normal(0, 0.2, size).astype(np.float32))
    return model


@pytest.mark.parametrize("name", list(models.MODELS))
def test_every_conv2d_neuron_of_every_registry_model_equals_the_models_own_output(name):
    keras.utils.set_random_seed(0)
    model = with_random_statistics(models.build(name, SHAPE, 10))
    picture = np.random.default_rng(1).random(SHAPE).astype(np.float32)
    convs = [(layer, kind, shape) for layer, kind, shape in inspect.layers(model, SHAPE) if kind == "Conv2D"]
    assert convs
    step = max(1, len(convs) // 16)  # ResNet-50's 53: every third, each kind and depth (a probe each)
    for layer, _, shape in convs[::step]:
        row, col, channel = shape[0] // 2, shape[1] - 1, shape[2] - 1  # an edge column: padding counts
        view = inspect.neuron(model, SHAPE, picture, layer, row, col, channel)
        assert view.kind == inspect.CONV and view.difference <= 1e-4, (layer, view.steps)
        assert view.steps[1][2] == view.value  # the layer's own output; BN and activation follow it


def brute_force_field(model, layer: str, row: int, col: int, shape, samples: int = 32):
    """The bounding box of the input pixels whose change moves the neurons at (row, col), every channel
    (the field does not depend on the channel, and a ReLU may silence one), over random inputs."""
    import tensorflow as tf

    graph, tensors = inspect.wiring(model, shape)
    probe = keras.Model(graph.input, tensors[layer][1])
    batch = tf.convert_to_tensor(np.random.default_rng(0).normal(size=(samples, *shape)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(batch)
        value = tf.reduce_sum(probe(batch, training=False)[:, row, col, :])
    reached = np.abs(np.asarray(tape.gradient(value, batch))).sum(axis=(0, -1)) > 0
    rows, cols = np.nonzero(reached)
    if not rows.size:
        return None  # it sees only padding
    return (int(rows.min()), int(rows.max()) + 1), (int(cols.min()), int(cols.max()) + 1)


def strided_dilated_stack():
    """Every way a window moves: SAME and VALID, strides, a dilation, zero padding, pooling."""
    return keras.Sequential(
        [
            keras.Input((29, 31, 2)),
            keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
            keras.layers.ZeroPadding2D(((1, 2), (2, 0))),
            keras.layers.Conv2D(4, 3, dilation_rate=2, padding="valid", activation="tanh"),
            keras.layers.MaxPooling2D(2, padding="same"),
            keras.layers.Conv2D(3, (2, 4), padding="same"),
            keras.layers.AveragePooling2D(2),
        ]
    )


@pytest.mark.parametrize("name", ["small_cnn", "homl_fashion_cnn", "cifar10_tutorial_cnn", "happy_model", "stack"])
def test_the_receptive_field_is_where_the_gradient_reaches(name):
    keras.utils.set_random_seed(0)
    model = strided_dilated_stack() if name == "stack" else models.build(name, SHAPE, 10)
    shape = model.input_shape[1:] if name == "stack" else SHAPE
    spatial = [(layer, size) for layer, _, size in inspect.layers(model, shape) if len(size) == 3]
    for layer, size in spatial:
        for row, col in ((0, 0), (size[0] // 2, size[1] // 2), (size[0] - 1, size[1] - 1)):
            graph, tensors = inspect.wiring(model, shape)
            field = recipe.receptive_field(recipe.windows_to(graph, tensors, layer), row, col, shape[:2])
            assert field == brute_force_field(model, layer, row, col, shape), (layer, row, col)


def test_a_residual_unit_counts_by_its_main_path():
    keras.utils.set_random_seed(0)
    model = models.build("small_resnet", SHAPE, 10)
    graph, tensors = inspect.wiring(model, SHAPE)
    units = [name for name, kind, _ in inspect.layers(model, SHAPE) if kind == "ResidualUnit"]
    field = recipe.receptive_field(recipe.windows_to(graph, tensors, units[0]), 4, 4, SHAPE[:2])
    assert field == brute_force_field(model, units[0], 4, 4, SHAPE)


def test_pooling_names_its_winner_and_dense_sums_its_inputs():
    keras.utils.set_random_seed(0)
    model = models.build("small_cnn", (8, 8, 1), 10)
    picture = np.random.default_rng(2).random((8, 8, 1)).astype(np.float32)
    names = {kind: name for name, kind, _ in reversed(inspect.layers(model, (8, 8, 1)))}
    pool = inspect.neuron(model, (8, 8, 1), picture, names["MaxPooling2D"], 1, 1, 2)
    inputs, _ = inspect.layer_io(model, (8, 8, 1), names["MaxPooling2D"], picture)
    assert inputs[pool.winner[0], pool.winner[1], 2] == pytest.approx(pool.value)
    assert pool.field[0][0] <= pool.winner[0] * 1 and pool.difference == 0.0
    dense = inspect.neuron(model, (8, 8, 1), picture, names["Dense"], 0, 0, 3)
    assert sum(value for _, value in dense.terms) == pytest.approx(dense.steps[0][1], abs=1e-6)
    assert dense.field is None and dense.kind == inspect.DENSE


def test_a_neuron_outside_its_layer_or_an_unknown_layer_is_a_message():
    model = models.build("small_cnn", (8, 8, 1), 10)
    picture = np.zeros((8, 8, 1), np.float32)
    first = inspect.layers(model, (8, 8, 1))[0]
    with pytest.raises(InputError, match="row 99 is outside it"):
        inspect.neuron(model, (8, 8, 1), picture, first[0], 99, 0, 0)
    with pytest.raises(InputError, match="No layer 'nope'"):
        inspect.neuron(model, (8, 8, 1), picture, "nope", 0, 0, 0)


def test_the_top_activations_are_the_pictures_that_excite_the_channel_most():
    keras.utils.set_random_seed(0)
    model = models.build("small_cnn", (8, 8, 1), 10)
    pictures = np.random.default_rng(3).random((40, 8, 8, 1)).astype(np.float32)
    layer = inspect.layers(model, (8, 8, 1))[0][0]
    found = inspect.top_activations(model, (8, 8, 1), pictures, layer, 1, count=5)
    values = [value for _, value, _, _ in found]
    assert values == sorted(values, reverse=True) and len(found) == 5
    for index, value, (row, col), _ in found:
        _, outputs = inspect.layer_io(model, (8, 8, 1), layer, pictures[index])
        assert outputs[row, col, 1] == pytest.approx(value, abs=1e-5) and outputs[..., 1].max() == pytest.approx(value)


def test_ranks_and_rank_correlation_equal_scipy(rng):
    from scipy import stats

    from recipes import saliency

    for _ in range(5):
        a, b = rng.integers(0, 6, 40).astype(float), rng.normal(size=40)  # ties in a
        assert saliency.ranks(a) == pytest.approx(stats.rankdata(a))
        assert saliency.rank_correlation(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
    assert saliency.rank_correlation(np.ones(5), np.arange(5)) == 0.0


def test_the_recipes_grad_cam_is_the_classifiers():
    from lab import classify
    from recipes import saliency

    keras.utils.set_random_seed(0)
    model = models.build("small_cnn", (8, 8, 1), 10)
    picture = np.random.default_rng(4).random((8, 8, 1)).astype(np.float32)
    loaded = classify.LoadedModel("tiny", model, (8, 8), 1, [str(k) for k in range(10)], classify._scale_unit)
    lab_cam = classify.grad_cam(loaded, picture, 3)  # floats are [0, 1] there too
    assert saliency.grad_cam(model, picture, 3) == pytest.approx(lab_cam, abs=1e-5)


def test_randomising_the_top_layers_changes_only_them_and_deletion_finds_what_a_linear_model_uses():
    from recipes import saliency

    keras.utils.set_random_seed(0)
    model = models.build("small_cnn", (8, 8, 1), 10)
    copy = saliency.randomised(model, (8, 8, 1), 2)
    weighted = [layer for layer in model.layers if layer.weights]
    copies = [layer for layer in copy.layers if layer.weights]
    changed = []
    for trained, fresh in zip(weighted, copies, strict=True):
        same = all(np.array_equal(a, b) for a, b in zip(trained.get_weights(), fresh.get_weights(), strict=True))
        changed.append(not same)
    assert changed == [False] * (len(weighted) - 2) + [True, True]
    linear = keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")]
    )
    weights = np.zeros((16, 2), np.float32)
    weights[:4, 0] = 5.0  # class 0 is the top row's ink
    linear.layers[-1].set_weights([weights, np.zeros(2, np.float32)])
    image = np.ones((4, 4, 1), np.float32)
    truth = np.zeros((4, 4))
    truth[0] = 1.0
    salient, random, area = saliency.deletion(linear, image, 0, truth)
    assert salient[0] == pytest.approx(random[0]) and salient[4] < random[4] and area > 0


def test_every_conv_and_depthwise_neuron_of_mobilenetv2_equals_its_own_output():
    """keras.applications' MobileNetV2 (random weights, 96 px): depthwise kernels, ReLU6, branches."""
    keras.utils.set_random_seed(0)
    model = with_random_statistics(keras.applications.MobileNetV2(input_shape=(96, 96, 3), weights=None))
    picture = np.random.default_rng(5).uniform(-1, 1, (96, 96, 3)).astype(np.float32)
    layers = inspect.layers(model, (96, 96, 3))
    kinds = [(name, shape) for name, kind, shape in layers if kind in ("Conv2D", "DepthwiseConv2D")]
    assert len(kinds) > 30
    for name, shape in kinds[::3]:  # a third of them, every kind and depth: each costs a probe and a gradient
        view = inspect.neuron(model, (96, 96, 3), picture, name, shape[0] - 1, 0, shape[2] // 2)
        assert view.kind == inspect.CONV and view.difference <= 1e-4, (name, view.steps)
        assert view.field is not None  # by the gradient where the graph branches
