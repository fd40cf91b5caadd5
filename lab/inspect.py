"""Inspect a model trained here: any neuron of any layer, its receptive field and its arithmetic,
checked against the model's own intermediate output (:mod:`recipes.inspect` does the computing).

The page picks a run, a test picture, a layer and a neuron ``(row, col, channel)``; :func:`neuron`
answers with everything it shows. Models and their wiring are made once per model (the page caches
the loaded model); the probes (input -> a layer's input and output) once per model and layer.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np

from lab.config import Config, whole
from lab.errors import InputError, describe_value
from recipes import inspect as recipe
from recipes import saliency

CONV, POOL, DENSE, OTHER = "conv", "pool", "dense", "other"
TOP_TERMS = 8  # input channels (or inputs) listed one by one; the rest are summed
_WIRED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PROBES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


@dataclass(frozen=True)
class InspectConfig(Config):
    """What the Inspect view looks at (the recipe's settings block, with the same names and defaults)."""

    what = "inspection"
    model_file: str = "model.keras"  # a model trained here (its run's model.keras)
    dataset: str = "digits"  # the run's data, split as the lab splits it
    seed: int = 42  # the run's seed: the same split
    data_dir: str = ""  # dataset "folders": the folder of the pictures
    image_size: int = 32  # dataset "folders": the side each picture was resized to
    picture: int = 0  # which test picture goes in
    layer: str = ""  # the layer inspected, by name ("": the first Conv2D)
    row: int = 3  # the neuron: its row, column and channel in that layer's output
    col: int = 3
    channel: int = 0

    def check(self) -> None:
        for name in ("picture", "row", "col", "channel"):
            whole(name, getattr(self, name), 0, 100_000)
        if not isinstance(self.layer, str) or len(self.layer) > 200:
            raise InputError(f"The layer must be a layer's name, got {describe_value(self.layer)}.")


def base_of(model):
    """A fine-tuned model's nested base (a model used as one layer), whose neurons are the ones to
    inspect; any other model itself."""
    from lab.device import keras

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return nested[0] if len(nested) == 1 else model


def wiring(model, input_shape) -> tuple:
    """The model as one graph and each top-level layer's tensors (:func:`recipes.inspect.wiring`), once per model."""
    with _LOCK:
        if model not in _WIRED:
            _WIRED[model] = recipe.wiring(model, tuple(input_shape))
        return _WIRED[model]


def layers(model, input_shape) -> list[tuple[str, str, tuple]]:
    """(name, class, output shape) of every layer whose neurons can be inspected, input first."""
    _, tensors = wiring(model, input_shape)
    found = []
    for name, (_, output) in tensors.items():
        if not isinstance(output, (list, tuple)) and len(output.shape) in (2, 4):
            found.append((name, type_name(model, name), tuple(output.shape[1:])))
    return found


def type_name(model, name: str) -> str:
    return wiring_model(model).get_layer(name).__class__.__name__


def wiring_model(model):
    return _WIRED[model][0]


def _probe(model, name: str):
    from lab.device import keras

    graph, tensors = _WIRED[model]
    with _LOCK:
        probes = _PROBES.setdefault(model, {})
        if name not in probes:
            probes[name] = keras.Model(graph.input, [tensors[name][0], tensors[name][1]])
        return probes[name]


def layer_io(model, input_shape, name: str, picture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A layer's input and output for one picture (the model's own intermediate values)."""
    wiring(model, input_shape)
    inputs, outputs = _probe(model, name)(picture[np.newaxis], training=False)
    return np.asarray(inputs)[0], np.asarray(outputs)[0]


@dataclass(frozen=True)
class NeuronView:
    """Everything the page shows of one neuron."""

    layer: str
    kind: str  # CONV, POOL, DENSE or OTHER
    value: float  # the model's own output at the neuron
    field: tuple[tuple[int, int], tuple[int, int]] | None  # input rows, cols (start, stop); None: branches
    field_note: str
    terms: list[tuple[str, float]]  # (what, contribution) largest first, then "the other ..." and "bias"
    steps: list[tuple[str, float, float | None]]  # (step, ours, the model's)
    winner: tuple[int, int] | None  # pooling: the input cell that won
    feature_map: np.ndarray | None  # (H, W) of the neuron's channel, for a spatial layer

    @property
    def difference(self) -> float:
        """The largest |ours - the model's| over the steps the model computes too."""
        found = [abs(ours - theirs) for _, ours, theirs in self.steps if theirs is not None]
        return max(found) if found else 0.0


def _check_neuron(name: str, shape: tuple, row: int, col: int, channel: int) -> None:
    if len(shape) == 3:
        for what, value, size in (("row", row, shape[0]), ("column", col, shape[1]), ("channel", channel, shape[2])):
            if not 0 <= value < size:
                raise InputError(
                    f"{name}'s output is {shape[0]} x {shape[1]} x {shape[2]}: {what} {value} is outside it."
                )
    elif not 0 <= channel < shape[0]:
        raise InputError(f"{name} has {shape[0]} units: unit {channel} is not one of them.")


def _field(model, input_shape, name: str, row: int, col: int):
    graph, tensors = wiring(model, input_shape)
    steps = recipe.windows_to(graph, tensors, name)
    if steps is None:
        return None, "Paths branch on the way (a shortcut joins them): the field is where the gradient reaches."
    field = recipe.receptive_field(steps, row, col, tuple(input_shape[:2]))
    if field is None:
        return None, "none: this neuron sees only padding"
    height, width = field[0][1] - field[0][0], field[1][1] - field[1][0]
    return field, f"{height} x {width} input pixels (every kernel, stride, dilation and padding on the way)"


def _gradient_field(model, input_shape, name: str, picture, row: int, col: int):
    """Which input pixels change the neurons at (row, col), by their gradient, for graphs that branch:
    the picture and 8 random ones, every channel (a ReLU silences a neuron for one picture, not all)."""
    import tensorflow as tf

    wiring(model, input_shape)
    probe = _probe(model, name)
    noise = np.random.default_rng(0).normal(size=(8, *picture.shape)).astype(np.float32)
    batch = tf.convert_to_tensor(np.concatenate([picture[np.newaxis], noise]))
    with tf.GradientTape() as tape:
        tape.watch(batch)
        value = tf.reduce_sum(probe(batch, training=False)[1][:, row, col, :])
    reached = np.abs(np.asarray(tape.gradient(value, batch))).sum(axis=(0, -1)) > 0
    rows, cols = np.nonzero(reached)
    if not rows.size:
        return None
    return (int(rows.min()), int(rows.max()) + 1), (int(cols.min()), int(cols.max()) + 1)


def neuron(model, input_shape, picture: np.ndarray, name: str, row: int, col: int, channel: int) -> NeuronView:
    """One neuron of layer ``name`` for ``picture``: receptive field, arithmetic, the model's value.

    Raises:
        InputError: An unknown layer, or a neuron outside the layer's output.
    """
    known = {layer: (kind, shape) for layer, kind, shape in layers(model, input_shape)}
    if name not in known:
        raise InputError(f"No layer {describe_value(name)} in this model; it has {', '.join(known)}.")
    kind_name, shape = known[name]
    _check_neuron(name, shape, row, col, channel)
    graph, tensors = wiring(model, input_shape)
    layer = graph.get_layer(name)
    inputs, outputs = layer_io(model, input_shape, name, picture)
    spatial = len(shape) == 3
    value = float(outputs[row, col, channel] if spatial else outputs[channel])
    field, note = _field(model, input_shape, name, row, col) if spatial else (None, "every input (a dense layer)")
    if spatial and field is None and not note.startswith("none"):
        field = _gradient_field(model, input_shape, name, picture, row, col)
    feature_map = outputs[..., channel] if spatial else None
    if kind_name in ("Conv2D", "DepthwiseConv2D"):
        terms, steps = recipe.conv_steps(graph, tensors, name, picture, row, col, channel)
        bias = float(layer.get_weights()[1][channel]) if layer.use_bias else 0.0
        if kind_name == "DepthwiseConv2D":
            return NeuronView(
                name,
                CONV,
                value,
                field,
                note,
                [(f"input channel {channel // layer.depth_multiplier}", float(terms[0])), ("bias", bias)],
                steps,
                None,
                feature_map,
            )
        return NeuronView(name, CONV, value, field, note, _listed(terms, bias), steps, None, feature_map)
    if kind_name in ("MaxPooling2D", "AveragePooling2D"):
        _, winner, ours = recipe.pool_winner(layer, inputs, row, col, channel)
        steps = [(f"{kind_name} of its window", ours, value)]
        return NeuronView(name, POOL, value, field, note, [], steps, winner, feature_map)
    if kind_name == "Dense":
        top, rest, bias = recipe.dense_terms(layer, inputs, channel, TOP_TERMS)
        total = sum(product for _, product in top) + rest + bias
        activation = layer.get_config()["activation"]
        steps = [("inputs x weights + bias", total, None)]
        if activation != "softmax":  # softmax needs every unit: the model's value is the check
            steps.append((f"{name} ({activation})", recipe.activate(activation, total), value))
        terms = [(f"input {index}", product) for index, product in top] + [("the other inputs", rest), ("bias", bias)]
        return NeuronView(name, DENSE, value, field, note, terms, steps, None, feature_map)
    return NeuronView(name, OTHER, value, field, note, [], [], None, feature_map)


def _listed(terms: np.ndarray, bias: float) -> list[tuple[str, float]]:
    order = np.argsort(-np.abs(terms), kind="stable")
    listed = [(f"input channel {int(index)}", float(terms[index])) for index in order[:TOP_TERMS]]
    if terms.size > TOP_TERMS:
        listed.append((f"the other {terms.size - TOP_TERMS} channels", float(terms[order[TOP_TERMS:]].sum())))
    return [*listed, ("bias", bias)]


def top_activations(model, input_shape, pictures: np.ndarray, name: str, channel: int, count: int = 8) -> list:
    """The test pictures that excite ``channel`` of ``name`` most: (index, value, (row, col) of the peak,
    the receptive field there), strongest first."""
    wiring(model, input_shape)
    outputs = np.asarray(_probe(model, name).predict(pictures, verbose=0, batch_size=256)[1])
    if outputs.ndim != 4:
        raise InputError(f"{name} is not a convolutional or pooling layer: it has no channel maps to rank.")
    whole("channel", channel, 0, outputs.shape[-1] - 1)
    maps = outputs[..., channel]
    peaks = maps.reshape(len(maps), -1).max(axis=1)
    found = []
    for index in np.argsort(-peaks, kind="stable")[:count]:
        row, col = np.unravel_index(int(np.argmax(maps[index])), maps.shape[1:])
        field, _ = _field(model, input_shape, name, int(row), int(col))
        found.append((int(index), float(peaks[index]), (int(row), int(col)), field))
    return found


UNCHANGED = (
    0.5  # a map still this rank-correlated with the trained model's after the cascade did not follow its weights
)


@dataclass(frozen=True)
class TrustReport:
    """Grad-CAM of one picture and the two checks of whether it explains the model (:mod:`recipes.saliency`)."""

    cam: np.ndarray  # (H, W) in [0, 1]
    class_id: int
    cascade: list[tuple[int, float]]  # (layers re-initialised from the top, rank correlation with the trained map)
    salient: np.ndarray  # the class probability as the most salient pixels go, 0%, 10%, ... 100%
    random: np.ndarray  # the same in random order (a mean of several)
    area: float  # mean(random - salient): > 0 when the map finds what the model uses

    @property
    def flagged(self) -> bool:
        return self.cascade[-1][1] > UNCHANGED

    def sentence(self) -> str:
        layers, rho = self.cascade[-1]
        if self.flagged:
            head = f"Warning: with its top {layers} layers re-initialised the map barely changes (rank correlation {rho:.2f})"
            head += ": it shows the picture more than what this model learned."
        else:
            head = f"With its top {layers} layers re-initialised the map changes (rank correlation {rho:.2f}): it follows the weights."
        tail = (
            "faster than random order"
            if self.area > 0
            else "no faster than random order: it points at pixels the model does not use"
        )
        return f"{head} Removing its most salient pixels first lowers the class probability {tail} (area between the curves {self.area:+.3f})."


def trust(model, image: np.ndarray, class_id: int | None = None) -> TrustReport:
    """Grad-CAM for ``class_id`` (default: the predicted class), the randomisation cascade and the deletion curves."""
    graph, _ = wiring(model, image.shape)
    if class_id is None:
        class_id = int(np.argmax(np.asarray(graph(image[np.newaxis], training=False))[0]))
    cam = saliency.grad_cam(model, image, class_id)
    salient, random, area = saliency.deletion(graph, image, class_id, cam)
    return TrustReport(cam, class_id, saliency.cascade(model, image, class_id), salient, random, area)
