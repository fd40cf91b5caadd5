"""What tells the chapter's architectures apart, counted from the Keras model itself: parameters,
multiply-adds per image, depth (layers with weights on the longest path from input to output), the
receptive field of the last feature map, and the activations a training step keeps; then, optionally,
the scaled-down version trained on a small dataset.

The counts need shapes, not weights: the model is built in a TensorFlow graph of its own, where its
weights are operations that never run (VGG-16's 138 million parameters are counted in a blink, without
the 550 MB and seconds their random start would take).

``python -m recipes.architectures`` counts VGG-16 at its paper's size; ``--architecture=mobilenet``
another; ``--epochs=3`` trains the scaled-down version on the digits, enlarged to 32x32 (``--train_size``).
"""

import math

import numpy as np

from recipes import override
from recipes.data import digits, keras_dataset, pipeline

# -----------------------------------------------------------------------------
# settings: lab.architectures.ArchitectureConfig's fields, with its defaults ("Show the code" writes the page's here)
architecture = "vgg16"  # a registry name: lenet5, alexnet, vgg16, googlenet, resnet34, resnet50, ...
input_size = 0  # the picture's side (0: the paper's input size)
width = 1.0  # filters and units x width (1.0: the paper's)
classes = 0  # output classes (0: the paper's)
batch_size = 32  # activation memory is counted for a batch this large
epochs = 0  # > 0: train the scaled-down version on the dataset for this many epochs
dataset = "digits"  # digits (offline), mnist, fashion_mnist or cifar10, resized to train_size
train_size = 32  # the scaled-down version's picture side
seed = 42
# -----------------------------------------------------------------------------

WEIGHTED = ("Conv2D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D", "Dense")
WINDOWED = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "MaxPooling2D", "AveragePooling2D")


def conv_multiply_adds(output_pixels, kernel_pixels, channels_in, channels_out, groups=1):
    """A convolution's multiply-adds: each output value sums kernel x (input channels / groups) products."""
    return output_pixels * channels_out * kernel_pixels * (channels_in // groups)


def count_multiply_adds(kind, input_shape, output_shape, kernel_pixels=1, depth_multiplier=1, groups=1):
    """One layer's multiply-adds per image from its kind and shapes (no batch axis): convolutions and
    Dense multiply; pooling, normalization and activations do not count (as the papers count)."""
    pixels, channels_in, channels_out = math.prod(output_shape[:-1]), input_shape[-1], output_shape[-1]
    if kind == "Dense":
        return conv_multiply_adds(pixels, 1, channels_in, channels_out)
    if kind == "Conv2D":
        return conv_multiply_adds(pixels, kernel_pixels, channels_in, channels_out, groups)
    if kind == "Conv2DTranspose":  # every input value times every kernel weight, scattered onto the output
        return conv_multiply_adds(math.prod(input_shape[:-1]), kernel_pixels, channels_in, channels_out)
    if kind == "DepthwiseConv2D":  # one filter per input channel: a convolution of as many groups
        return conv_multiply_adds(pixels, kernel_pixels, channels_in, channels_out, channels_in)
    if kind == "SeparableConv2D":  # the depthwise step, then a 1x1 convolution that mixes the channels
        middle = channels_in * depth_multiplier
        depthwise = conv_multiply_adds(pixels, kernel_pixels, channels_in, middle, channels_in)
        return depthwise + conv_multiply_adds(pixels, 1, middle, channels_out)
    return 0


def grow_field(field, jump, kernel, stride, dilation=1):
    """The receptive field and jump (input pixels between neighbouring outputs) after a window layer."""
    return field + (kernel - 1) * dilation * jump, jump * stride


def transposed_field(field, jump, kernel, stride):
    """The same after a transposed convolution: outputs 1/stride apart, each made of ceil(k / s) inputs."""
    jump = jump / stride
    return field + (math.ceil(kernel / stride) - 1) * jump * stride, jump


def _window(layer):
    """(kernel, stride, dilation) of a window layer along its first axis; None for any other layer."""
    kind = layer.__class__.__name__
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return layer.pool_size[0], layer.strides[0], 1
    if kind in WINDOWED:
        return layer.kernel_size[0], layer.strides[0], layer.dilation_rate[0]
    return None


def step(layer, input_shape, state):
    """A layer's output shape, multiply-adds and the (depth, field, jump) of its output."""
    depth, field, jump = state
    kind = layer.__class__.__name__
    output_shape = tuple(layer.compute_output_shape(input_shape))
    if (window := _window(layer)) is not None:
        field, jump = grow_field(field, jump, *window)
    elif kind == "Conv2DTranspose":
        field, jump = transposed_field(field, jump, layer.kernel_size[0], layer.strides[0])
    count = 0
    if kind in WEIGHTED:
        kernel = math.prod(getattr(layer, "kernel_size", (1,)))
        options = {"depth_multiplier": getattr(layer, "depth_multiplier", 1), "groups": getattr(layer, "groups", 1)}
        count = count_multiply_adds(kind, input_shape[1:], output_shape[1:], kernel, **options)
    return output_shape, count, (depth + (kind in WEIGHTED), field, jump)


def unit_rows(unit, input_shape, state):
    """A residual unit built of layers (HOML's ResidualUnit): its main path and its skip, layer by layer;
    the depth and field are the main path's (the skip's is shorter)."""
    rows, shape, main = [], input_shape, state
    for inner in unit.main_layers:
        shape, count, main = step(inner, shape, main)
        rows.append((inner, shape, count))
    skip_shape, skip = input_shape, state
    for inner in unit.skip_layers:
        skip_shape, count, skip = step(inner, skip_shape, skip)
        rows.append((inner, skip_shape, count))
    return rows, (max(main[0], skip[0]), main[1], main[2])


def walk(model):
    """Every layer of a model in order (a residual unit's own layers too): (layer, output shape,
    multiply-adds, depth, receptive field) per layer. The depth counts layers with weights on the longest
    path; a squeeze-and-excitation gate (a 1x1 map that rescales the channels) is not on it."""
    chain = model.__class__.__name__ == "Sequential"  # each layer takes the one before (its tensors may differ)
    states = {id(tensor): (0, 1, 1) for tensor in model.inputs}
    rows, previous = [], model.inputs[0]
    for layer in model.layers:
        if layer.__class__.__name__ == "InputLayer":
            continue
        inputs = [previous] if chain else layer.input if isinstance(layer.input, list) else [layer.input]
        output = layer.output
        on_path = [t for t in inputs if t.shape[1:-1] == output.shape[1:-1]] or inputs
        known = [states[id(t)] for t in on_path]
        state = (max(s[0] for s in known), max(s[1] for s in known), min(s[2] for s in known))
        if hasattr(layer, "main_layers"):
            inner_rows, state = unit_rows(layer, tuple(inputs[0].shape), state)
            rows += [(inner, shape, count, state[0], state[1]) for inner, shape, count in inner_rows]
        else:
            shapes = [tuple(t.shape) for t in inputs]
            _, count, state = step(layer, shapes if len(shapes) > 1 else shapes[0], state)
            rows.append((layer, tuple(output.shape), count, state[0], state[1]))
        states[id(output)], previous = state, output
    return rows


def figures(model, batch_size):
    """The numbers the page compares: parameters, multiply-adds, depth, receptive field (of the last
    feature map), and float32 bytes of the activations a training step keeps at ``batch_size``."""
    rows = walk(model)
    spatial = [row for row in rows if len(row[1]) == 4]
    per_image = math.prod(model.inputs[0].shape[1:]) + sum(math.prod(row[1][1:]) for row in rows)
    return {
        "parameters": model.count_params(),
        "multiply-adds": sum(row[2] for row in rows),
        "depth": rows[-1][3],  # at the output: a gate's own layers are off the path
        "receptive field": round(spatial[-1][4]) if spatial else 1,
        "activations per image": per_image,
        "training activations (bytes)": 4 * per_image * batch_size,
    }


def shapes_only(builder, input_shape, classes, **options):
    """A model of ``builder`` with its shapes only: built in a TensorFlow graph of its own, its weights are
    graph operations that never run (no memory, no random start)."""
    import tensorflow as tf

    with tf.Graph().as_default():
        return builder(input_shape, classes, **options)


def build(name, input_size, width, classes):
    """The registry's architecture, shapes only: as in the paper (its size, classes and options) unless told."""
    import models

    spec = models.ARCHITECTURES[name]
    shape = (input_size or spec.input_shape[0],) * 2 + spec.input_shape[2:]
    models.check_input(name, shape)
    options = {} if input_size else dict(spec.paper_options)  # AlexNet's two GPU groups, at the paper's size
    options |= {"width": width} if width != 1.0 else {}
    return shapes_only(models.MODELS[name], shape, classes or spec.classes, **options)


def load_splits(dataset, seed):
    """A dataset's (train, validation, test) splits in [0, 1] and its class names (recipes/data.py)."""
    train, valid, test, names = digits(seed) if dataset == "digits" else keras_dataset(dataset)
    return (train, valid, test), names


def sized(x, y, batch_size, size, shuffle=False, seed=42):
    """A tf.data pipeline of the pictures resized to size x size (bilinear), batch by batch: the digits'
    8x8 become 32x32 without a resized copy of the whole dataset in memory."""
    import tensorflow as tf

    data = pipeline(x, y, batch_size, shuffle=shuffle, seed=seed)
    if x.shape[1:3] == (size, size):
        return data
    return data.map(lambda images, labels: (tf.clip_by_value(tf.image.resize(images, (size, size)), 0.0, 1.0), labels))


def train_model(network, splits, size, epochs, batch_size, seed, callbacks=(), initial_epoch=0):
    """Train a network with Adam on the splits at size x size; returns its test accuracy. Its epochs are
    counted from ``initial_epoch`` (several networks on one time line)."""
    import keras

    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = splits
    for layer in network._flatten_layers():  # Keras' own walk over every layer, a residual unit's inside too
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9  # statistics that keep up in a short run (0.99 lags for hundreds of steps)
    network.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    network.fit(
        sized(x_train, y_train, batch_size, size, shuffle=True, seed=seed),
        validation_data=sized(x_valid, y_valid, 256, size),
        initial_epoch=initial_epoch,
        epochs=initial_epoch + epochs,
        verbose=0,
        shuffle=False,  # the pipeline shuffles
        callbacks=list(callbacks),
    )
    predicted = network.predict(sized(x_test, y_test, 256, size), verbose=0).argmax(axis=1)
    return float(np.mean(predicted == y_test))


def main():
    import keras

    import models

    model = build(architecture, input_size, width, classes)
    model.summary()
    for name, value in figures(model, batch_size).items():
        print(f"{name}: {value}")
    if epochs:  # the scaled-down version, on pictures enlarged to its input size
        keras.utils.set_random_seed(seed)
        splits, names = load_splits(dataset, seed)
        size = train_size
        network = models.build(
            architecture, (size, size, splits[0][0].shape[-1]), len(names), **models.ARCHITECTURES[architecture].scaled
        )
        print("scaled-down parameters:", network.count_params())
        print("test accuracy:", round(train_model(network, splits, size, epochs, batch_size, seed), 4))


if __name__ == "__main__":
    override(globals())
    main()
