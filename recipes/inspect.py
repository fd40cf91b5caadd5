"""Follow one number of a trained Keras model back to its input: a neuron's receptive field, and the
arithmetic that makes its value (patch x kernel over every input channel, + bias, then what
BatchNormalization and the activation do), checked against the model's own intermediate output.

``python -m recipes.inspect`` inspects the settings' neuron of ``model_file`` on a test picture of its
dataset; when the file is missing it first trains the small CNN on scikit-learn's digits for one
epoch (offline, seconds).
"""

import keras
import numpy as np

import models
from recipes import override
from recipes.data import pipeline
from recipes.train import load_data

# -----------------------------------------------------------------------------
# settings: lab.inspect.InspectConfig's fields, with its defaults ("Show the code" writes the page's here)
model_file = "model.keras"  # a model trained here (its run's model.keras); missing: one is trained
dataset = "digits"  # the run's data, split as the lab splits it (see recipes/train.py)
seed = 42  # the run's seed: the same split
data_dir = ""  # dataset "folders": the folder of your pictures
image_size = 32  # dataset "folders": the side each picture was resized to
picture = 0  # which test picture goes in
layer = ""  # the layer inspected, by name ("": the first Conv2D)
row = 3  # the neuron: its row, column and channel in that layer's output
col = 3
channel = 0
# -----------------------------------------------------------------------------

SHAPING = ("BatchNormalization", "Activation", "ReLU", "LeakyReLU")  # what may follow a Conv2D's sum


def wiring(model, input_shape):
    """The model as one functional graph, and each top-level layer's (input, output) tensors in it.

    A Sequential stack loaded from .keras is wired again from one Input (the same layers and weights).
    """
    if isinstance(model, keras.Sequential):
        inputs = keras.Input(input_shape)
        tensor, tensors = inputs, {}
        for layer in model.layers:
            tensors[layer.name] = (tensor, layer(tensor))
            tensor = tensors[layer.name][1]
        return keras.Model(inputs, tensor), tensors
    layers = [layer for layer in model.layers if layer.__class__.__name__ != "InputLayer"]
    return model, {layer.name: (layer.input, layer.output) for layer in layers}


def window(layer):
    """(kernel, stride, dilation, padding) per axis of a spatial layer; None for a pointwise one."""
    kind = layer.__class__.__name__
    if kind in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D"):
        return layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return layer.pool_size, layer.strides, (1, 1), layer.padding
    if kind == "ZeroPadding2D":
        (top, _), (left, _) = layer.padding
        return (1, 1), (1, 1), (1, 1), (top, left)
    return None


def pad_before(size, kernel, stride, dilation, padding):
    """Zeros TensorFlow puts before the first pixel of one axis (SAME: half the total, rounded down)."""
    if isinstance(padding, int):  # ZeroPadding2D's own
        return padding
    if padding == "valid":
        return 0
    out = -(-size // stride)
    return max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0) // 2


def windows_to(model, tensors, name):
    """From the input to layer ``name``: each spatial step's (window, input height and width), in order.

    A residual unit counts as its main path (its skip sees less). Returns None if the way there
    branches (an Add of two paths), where only the gradient can say which inputs count.
    """
    steps = []
    for layer in model.layers:
        if layer.__class__.__name__ == "InputLayer":
            continue
        inputs = tensors[layer.name][0]
        if isinstance(inputs, (list, tuple)):
            return None
        shape = tuple(inputs.shape)
        for inner in getattr(layer, "main_layers", [layer]):
            if len(shape) == 4:
                steps.append((window(inner), shape[1:3]))
            elif steps and steps[-1][0] != "whole":
                steps.append(("whole", shape))
            shape = tuple(inner.compute_output_shape(shape))
        if layer.name == name:
            return steps
    raise KeyError(name)


def receptive_field(steps, row, col, input_size):
    """The input rows and columns (start, stop) that neuron (row, col) sees: walked back through every
    kernel, stride, dilation and padding on the way, one set of rows and one of columns (a dilated
    kernel skips rows; taps on padding reach no pixel). None when it sees only padding."""
    reached = [np.array([row]), np.array([col])]
    for found, size in reversed(steps):
        if found == "whole":  # Flatten, Dense, global pooling: every input
            return (0, input_size[0]), (0, input_size[1])
        if found is None:
            continue
        kernel, stride, dilation, padding = found
        for axis in range(2):
            pad = padding[axis] if isinstance(padding, tuple) else padding
            before = pad_before(size[axis], kernel[axis], stride[axis], dilation[axis], pad)
            taps = reached[axis][:, None] * stride[axis] - before + dilation[axis] * np.arange(kernel[axis])
            taps = np.unique(taps)
            reached[axis] = taps[(taps >= 0) & (taps < size[axis])]
            if not reached[axis].size:
                return None
    return tuple((int(found.min()), int(found.max()) + 1) for found in reached)


def following(model, tensors, name):
    """The BatchNormalization and activation layers that alone take ``name``'s output, in turn."""
    after, output = [], tensors[name][1]
    while True:
        consumers = [model.get_layer(n) for n, (inputs, _) in tensors.items() if inputs is output]
        if len(consumers) != 1 or consumers[0].__class__.__name__ not in SHAPING:
            return after
        after.append(consumers[0])
        output = tensors[consumers[0].name][1]


def conv_terms(layer, inputs, row, col, channel):
    """Patch x kernel per input channel of a Conv2D neuron (a DepthwiseConv2D's: its one input channel),
    and its bias: sum + bias = the layer's output before its activation. ``inputs``: the layer's input
    (H, W, C_in) for one picture."""
    kernel = layer.get_weights()[0]
    bias = layer.get_weights()[1][channel] if layer.use_bias else 0.0
    (kh, kw), (sh, sw), (dh, dw) = layer.kernel_size, layer.strides, layer.dilation_rate
    top = row * sh - pad_before(inputs.shape[0], kh, sh, dh, layer.padding)
    left = col * sw - pad_before(inputs.shape[1], kw, sw, dw, layer.padding)
    rows, cols = top + dh * np.arange(kh), left + dw * np.arange(kw)
    inside = (rows[:, None] >= 0) & (rows[:, None] < inputs.shape[0]) & (cols >= 0) & (cols < inputs.shape[1])
    clipped = inputs[np.clip(rows, 0, inputs.shape[0] - 1)][:, np.clip(cols, 0, inputs.shape[1] - 1)]
    patch = np.where(inside[..., None], clipped, 0.0).astype(np.float64)  # taps on the padding read zeros
    if layer.__class__.__name__ == "DepthwiseConv2D":  # output channel c reads input channel c // multiplier
        source, copy = divmod(channel, kernel.shape[-1])
        return np.array([(patch[..., source] * kernel[..., source, copy]).sum()]), float(bias), patch
    return (patch * kernel[..., channel]).sum(axis=(0, 1)), float(bias), patch


def activate(name, value):
    """A Keras activation of one value: what the layer's activation does to the neuron's sum."""
    return float(np.asarray(keras.activations.get(name)(np.array([[value]], np.float32)))[0, 0])


def batch_norm(layer, value, channel):
    """Inference-time BatchNormalization of one channel's value: (x - mean) / sqrt(var + eps) * gamma + beta."""
    gamma = float(np.asarray(layer.gamma)[channel]) if layer.scale else 1.0
    beta = float(np.asarray(layer.beta)[channel]) if layer.center else 0.0
    mean, variance = float(np.asarray(layer.moving_mean)[channel]), float(np.asarray(layer.moving_variance)[channel])
    return (value - mean) / np.sqrt(variance + layer.epsilon) * gamma + beta


def conv_steps(model, tensors, name, picture, row, col, channel):
    """Every step from patch x kernel to the value the model computes, beside the model's own value.

    Returns (the terms per input channel, [(step, our value, the model's value or None)]).
    """
    layer, after = model.get_layer(name), following(model, tensors, name)
    outputs = list(layer_values(model, tensors, name, picture))
    for extra in after:
        outputs.append(layer_values(model, tensors, extra.name, picture)[1])
    terms, bias, _ = conv_terms(layer, outputs[0], row, col, channel)
    value = float(terms.sum() + bias)
    steps = [("patch x kernel, summed over the input channels, + bias", value, None)]
    activation = layer.get_config()["activation"]
    value = activate(activation, value)
    steps.append((f"{name} ({activation})", value, float(outputs[1][row, col, channel])))
    for extra, output in zip(after, outputs[2:], strict=True):
        if extra.__class__.__name__ == "BatchNormalization":
            value = batch_norm(extra, value, channel)
        else:
            value = float(np.asarray(extra(np.full((1, 1, 1, outputs[1].shape[-1]), value, np.float32)))[0, 0, 0, 0])
        steps.append((f"{extra.name} ({extra.__class__.__name__})", float(value), float(output[row, col, channel])))
    return terms, steps


def pool_winner(layer, inputs, row, col, channel):
    """A pooling neuron's window of its input channel, and the cell that won (max) or the mean."""
    (kh, kw), (sh, sw) = layer.pool_size, layer.strides
    top = row * sh - pad_before(inputs.shape[0], kh, sh, 1, layer.padding)
    left = col * sw - pad_before(inputs.shape[1], kw, sw, 1, layer.padding)
    cells = inputs[max(top, 0) : top + kh, max(left, 0) : left + kw, channel]
    if layer.__class__.__name__ == "MaxPooling2D":
        r, c = np.unravel_index(np.argmax(cells), cells.shape)
        return cells, (max(top, 0) + int(r), max(left, 0) + int(c)), float(cells.max())
    return cells, None, float(cells.mean())


def dense_terms(layer, inputs, unit, top=10):
    """A Dense neuron: its largest contributions (input index, input x weight), the rest summed, + bias."""
    kernel, bias = layer.get_weights()[:2]
    products = inputs.reshape(-1).astype(np.float64) * kernel[:, unit]
    order = np.argsort(-np.abs(products), kind="stable")
    return [(int(i), float(products[i])) for i in order[:top]], float(products[order[top:]].sum()), float(bias[unit])


def first_conv(model):
    """The name of the model's first Conv2D layer."""
    return next(layer.name for layer in model.layers if layer.__class__.__name__ == "Conv2D")


def load(model_file):
    """A model trained here, from its .keras file (safe mode: no code runs from the file)."""
    return keras.saving.load_model(model_file, safe_mode=True, compile=False)


def small_cnn_for_one_epoch(x_train, y_train, classes):
    """When there is no model file: the small CNN, trained for one epoch here."""
    model = models.build("small_cnn", x_train.shape[1:], classes)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(pipeline(x_train, y_train, 32, shuffle=True, seed=seed), epochs=1, verbose=0)
    return model


def layer_values(model, tensors, name, image):
    """A layer's input and output for one picture: the model's own intermediate values."""
    probe = keras.Model(model.input, [tensors[name][0], tensors[name][1]])
    inputs, outputs = probe(image[np.newaxis], training=False)
    return np.asarray(inputs)[0], np.asarray(outputs)[0]


def report(model, image, layer, row, col, channel):
    """The numbers the page shows: the receptive field, then the neuron's arithmetic and the model's value."""
    name = layer or first_conv(model)
    model, tensors = wiring(model, image.shape)
    kind = model.get_layer(name).__class__.__name__
    print(f"neuron ({row}, {col}, {channel}) of {name} ({kind})")
    steps_to = windows_to(model, tensors, name)
    if steps_to is not None and kind != "Dense":
        field = receptive_field(steps_to, row, col, image.shape[:2])
        print("receptive field rows:", field and field[0])
        print("receptive field columns:", field and field[1])
    inputs, outputs = layer_values(model, tensors, name, image)
    if kind in ("Conv2D", "DepthwiseConv2D"):
        terms, steps = conv_steps(model, tensors, name, image, row, col, channel)
        for index in np.argsort(-np.abs(terms), kind="stable")[:5]:
            print(f"input channel {index}:", round(float(terms[index]), 6))
        for step, ours, theirs in steps:
            print(f"{step}:", round(ours, 6))
            if theirs is not None:
                print(f"{step}, the model's own value:", round(theirs, 6))
    elif kind in ("MaxPooling2D", "AveragePooling2D"):
        _, winner, value = pool_winner(model.get_layer(name), inputs, row, col, channel)
        print("pooled:", round(value, 6), "the model's own value:", round(float(outputs[row, col, channel]), 6))
        print("the cell that won:", winner)
    elif kind == "Dense":
        top, rest, bias = dense_terms(model.get_layer(name), inputs, channel)
        for index, product in top[:5]:
            print(f"input {index}:", round(product, 6))
        print("inputs x weights + bias:", round(sum(p for _, p in top) + rest + bias, 6))
        print("the model's own value:", round(float(outputs[channel]), 6))


def main():
    from pathlib import Path

    (x_train, y_train), _, (x_test, _), class_names = load_data(dataset, seed, data_dir, image_size)
    if Path(model_file).exists():
        model = load(model_file)
    else:
        print(f"{model_file} is missing: training the small CNN for one epoch")
        model = small_cnn_for_one_epoch(x_train, y_train, len(class_names))
    report(model, x_test[picture], layer, row, col, channel)


if __name__ == "__main__":
    override(globals())
    main()
