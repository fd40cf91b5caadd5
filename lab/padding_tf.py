"""TensorFlow's own answer to the padding calculator, for "Verify with TensorFlow".

Kept apart from :mod:`lab.padding` so that the calculator never imports TensorFlow until the
learner asks for the check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lab import padding, planner
from lab.device import keras, tf
from lab.errors import InputError

OPS = ("conv", "max", "avg")
MAX_VERIFY_SIZE = 4096  # per axis: the check runs a real op on a random image of this size


@dataclass(frozen=True)
class LayerCheck:
    """Our prediction next to TensorFlow's actual output for one layer."""

    ours: tuple[int, int]
    tensorflow: tuple[int, int]
    same_identity_error: float | None  # max |VALID(manually padded) - SAME|, for SAME convolutions

    @property
    def agrees(self) -> bool:
        close = self.same_identity_error is None or self.same_identity_error < 1e-4
        return self.ours == self.tensorflow and close

    @property
    def message(self) -> str:
        error = self.same_identity_error
        detail = "" if error is None else f"; VALID on our padding = SAME (max error {error:.1e})"
        return f"Ours {self.ours}, TensorFlow {self.tensorflow}{detail}."


def check_plans(plans: tuple[padding.AxisPlan, padding.AxisPlan], op: str = "conv") -> LayerCheck:
    """:func:`check_layer` for the calculator's two axis plans."""
    height, width = plans
    return check_layer(
        (height.input_size, width.input_size),
        (height.kernel_size, width.kernel_size),
        (height.stride, width.stride),
        height.padding,
        (height.dilation, width.dilation),
        op=op,
    )


def check_layer(input_hw, kernel_size, stride=1, padding_mode="valid", dilation=1, op="conv", seed=0) -> LayerCheck:
    """Run the real TF op on a random image and compare with :func:`lab.padding.plan_2d`.

    For a SAME convolution it also proves our (before, after) split with HOML's identity:
    a VALID convolution of the image zero-padded by our amounts equals TF's SAME convolution.
    """
    if op not in OPS:
        raise InputError(f"op must be one of {OPS}, got {op!r}.")
    plans = padding.plan_2d(input_hw, kernel_size, stride, padding_mode, dilation)
    if max(plan.input_size for plan in plans) > MAX_VERIFY_SIZE:
        raise InputError(f"Verification runs a real op: keep height and width at most {MAX_VERIFY_SIZE}.")
    strides = tuple(plan.stride for plan in plans)
    dilations = tuple(plan.dilation for plan in plans)
    if op == "conv" and max(strides) > 1 and max(dilations) > 1:
        raise InputError("TensorFlow's conv2d does not support stride > 1 together with dilation > 1.")
    if op != "conv" and max(dilations) > 1:
        raise InputError("Keras pooling layers have no dilation; set dilation to 1.")
    rng = np.random.default_rng(seed)
    image = tf.constant(rng.normal(size=(1, plans[0].input_size, plans[1].input_size, 1)).astype(np.float32))
    kernel_hw = tuple(plan.kernel_size for plan in plans)
    mode = padding_mode.upper()
    error = None
    if op == "conv":
        kernel = tf.constant(rng.normal(size=(*kernel_hw, 1, 1)).astype(np.float32))
        output = tf.nn.conv2d(image, kernel, strides=strides, padding=mode, dilations=dilations)
        if mode == "SAME":
            pads = [
                [0, 0],
                [plans[0].pad_before, plans[0].pad_after],
                [plans[1].pad_before, plans[1].pad_after],
                [0, 0],
            ]
            manual = tf.nn.conv2d(tf.pad(image, pads), kernel, strides=strides, padding="VALID", dilations=dilations)
            error = float(tf.reduce_max(tf.abs(manual - output))) if manual.shape == output.shape else float("inf")
    else:
        layer = keras.layers.MaxPooling2D if op == "max" else keras.layers.AveragePooling2D
        output = layer(pool_size=kernel_hw, strides=strides, padding=padding_mode)(image)
    ours = (plans[0].output_size, plans[1].output_size)
    return LayerCheck(ours, (int(output.shape[1]), int(output.shape[2])), error)


def build_model(input_shape: Sequence[int], specs: Sequence[planner.LayerSpec]) -> keras.Model:
    """A Keras model of the planned stack: the same layers :func:`lab.planner.keras_snippet` prints."""
    layers = [keras.Input(shape=tuple(input_shape))]
    for spec in specs:
        name, kwargs = planner.keras_layer(spec)
        layers.append(getattr(keras.layers, name)(**kwargs))
    try:
        return keras.Sequential(layers)
    except ValueError as error:
        raise InputError(f"Keras refused this stack: {error}") from None


def keras_report(input_shape: Sequence[int], specs: Sequence[planner.LayerSpec]) -> list[tuple[tuple[int, ...], int]]:
    """(output shape without the batch axis, parameter count) per layer, as Keras builds them."""
    model = build_model(input_shape, specs)
    return [(tuple(layer.output.shape[1:]), layer.count_params()) for layer in model.layers]


def compare_with_keras(plan: planner.StackPlan) -> tuple[list[dict], bool]:
    """The planner's table with Keras' shape and parameters beside ours, and whether all agree."""
    report = keras_report(plan.input_shape, [layer.spec for layer in plan.layers])
    rows = plan.table()
    for row, (shape, params) in zip(rows, report, strict=True):
        row["Keras shape"], row["Keras parameters"] = " x ".join(map(str, shape)), params
    agree = all(
        row["Keras shape"] == row["output shape"] and row["Keras parameters"] == row["parameters"] for row in rows
    )
    return rows, agree


def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _activation(layer) -> str | None:
    name = getattr(layer, "activation", None)
    name = getattr(name, "__name__", None) if name is not None else None
    return None if name in (None, "linear") else name


def spec_of_layer(layer) -> planner.LayerSpec | None:
    """The planner row of a Keras layer, or None for a layer the planner has no row for."""
    kind, config = type(layer).__name__, layer.get_config()
    if kind in ("Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose"):
        if config.get("groups", 1) != 1 or (kind == "SeparableConv2D" and config["depth_multiplier"] != 1):
            return None  # no planner row for a grouped convolution
        return planner.LayerSpec(
            kind,
            config["depth_multiplier"] if kind == "DepthwiseConv2D" else config["filters"],
            _pair(config["kernel_size"]),
            None if _pair(config["strides"]) == (1, 1) else _pair(config["strides"]),
            config["padding"],
            _pair(config["dilation_rate"]),
            config["use_bias"],
            _activation(layer),
        )
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        window = _pair(config["pool_size"])
        strides = None if config["strides"] is None or _pair(config["strides"]) == window else _pair(config["strides"])
        return planner.LayerSpec(kind, None, window, strides, config["padding"])
    if kind == "ZeroPadding2D":
        (top, bottom), (left, right) = config["padding"]
        return planner.LayerSpec(kind, top) if top == bottom == left == right else None
    if kind == "Dense":
        return planner.LayerSpec(kind, config["units"], use_bias=config["use_bias"], activation=_activation(layer))
    if kind == "Activation":
        return planner.LayerSpec(kind, activation=_activation(layer) or "linear")
    if kind == "ReLU" and not config.get("negative_slope") and config.get("max_value") in (None, 6.0):
        return planner.LayerSpec("Activation", activation="relu" if config.get("max_value") is None else "relu6")
    if kind == "Dropout":
        return planner.LayerSpec(kind, rate=float(config["rate"]))
    if kind in ("BatchNormalization", "Flatten", "GlobalAveragePooling2D"):
        return planner.LayerSpec(kind)
    return None


def stack_from_model(model: keras.Model) -> list[planner.LayerSpec] | None:
    """A Keras model as planner rows, if it is one chain of layers the planner knows (a Sequential
    model, or a functional one without branches); None for residual nets and other graphs.

    The rows give the same shapes and parameter counts; initializers and regularizers are not
    rows, so a stack trained from them starts from Keras' defaults.
    """
    specs = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        if len(getattr(layer, "_inbound_nodes", [])) > 1:  # a shared layer: not a chain
            return None
        spec = spec_of_layer(layer)
        if spec is None:
            return None
        specs.append(spec)
    if planner.plan_stack(model.input_shape[1:], specs).total_params != model.count_params():
        return None  # a branch we did not see (the counts tell)
    return specs
