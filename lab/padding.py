"""TensorFlow-exact SAME/VALID arithmetic and a layer-stack shape planner. Pure Python.

TensorFlow's rules, per spatial axis, with the effective kernel ``f = (k - 1) * d + 1``:

* VALID: ``out = floor((n - f) / s) + 1``; no padding; trailing cells no window reaches are dropped.
* SAME: ``out = ceil(n / s)``; total padding ``max((out - 1) * s + f - n, 0)`` split with the odd
  extra cell *after* (bottom/right), unlike PyTorch's symmetric integer padding.

This module must not import TensorFlow (it is tested): the page imports TF only when the learner
asks to verify, through :mod:`lab.padding_tf`.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from lab.errors import InputError, describe_value

PADDINGS = ("valid", "same")
Pair = tuple[int, int]


def _positive_int(name: str, value: object, where: str = "") -> int:
    prefix = f"{where}: " if where else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(value)
        else:
            raise InputError(f"{prefix}{name} must be a whole number, got {describe_value(value)}.")
    if value < 1:
        raise InputError(f"{prefix}{name} must be at least 1, got {value}.")
    return int(value)


def _padding(value: object, where: str = "") -> str:
    text = str(value).strip().lower()
    if text not in PADDINGS:
        prefix = f"{where}: " if where else ""
        raise InputError(f"{prefix}padding must be 'valid' or 'same', got {describe_value(value)}.")
    return text


def as_pair(name: str, value: object, where: str = "") -> Pair:
    """An int, a pair, or text like ``"3"``/``"3x5"`` -> (height, width) of positive ints."""
    if isinstance(value, str):
        parts = [part.strip() for part in value.lower().replace(",", "x").split("x")]
        try:
            value = [int(part) for part in parts]
        except ValueError:
            prefix = f"{where}: " if where else ""
            raise InputError(f"{prefix}{name} must look like 3 or 3x5, got {describe_value(value)}.") from None
        if len(value) == 1:
            value = value[0]
    if isinstance(value, Sequence):
        if len(value) != 2:
            raise InputError(f"{where + ': ' if where else ''}{name} needs 1 or 2 values, got {describe_value(value)}.")
        return _positive_int(name, value[0], where), _positive_int(name, value[1], where)
    size = _positive_int(name, value, where)
    return size, size


def effective_kernel(kernel_size: int, dilation: int = 1) -> int:
    """Span of a dilated kernel: ``(k - 1) * d + 1``."""
    return (_positive_int("kernel size", kernel_size) - 1) * _positive_int("dilation", dilation) + 1


def conv_output_size(
    input_size: int, kernel_size: int, stride: int = 1, padding: str = "valid", dilation: int = 1
) -> int:
    """Output length along one axis of a TF convolution or pooling.

    Args:
        input_size: Input length n.
        kernel_size: Kernel (or pool window) length k.
        stride: Step s between windows.
        padding: ``"valid"`` or ``"same"``.
        dilation: Gap d between kernel taps (1 = dense).

    Returns:
        ``ceil(n / s)`` for SAME, ``floor((n - f) / s) + 1`` for VALID.

    Raises:
        InputError: For non-positive or non-integer sizes, unknown padding, or a dilated
            kernel longer than the input under VALID.
    """
    n = _positive_int("input size", input_size)
    s = _positive_int("stride", stride)
    f = effective_kernel(kernel_size, dilation)
    if _padding(padding) == "same":
        return -(-n // s)
    if f > n:
        raise InputError(
            f"With VALID padding the kernel ({f} cells after dilation) must fit in the input ({n} cells); "
            "use SAME padding or a smaller kernel."
        )
    return (n - f) // s + 1


def same_padding(input_size: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding (before, after) for one axis; the odd cell goes after."""
    n = _positive_int("input size", input_size)
    s = _positive_int("stride", stride)
    f = effective_kernel(kernel_size, dilation)
    total = max((-(-n // s) - 1) * s + f - n, 0)
    return total // 2, total - total // 2


@dataclass(frozen=True)
class AxisPlan:
    """Everything about one spatial axis of a convolution or pooling layer."""

    input_size: int
    kernel_size: int
    stride: int
    dilation: int
    padding: str
    output_size: int
    pad_before: int
    pad_after: int

    @property
    def effective_kernel(self) -> int:
        return (self.kernel_size - 1) * self.dilation + 1

    @property
    def padded_size(self) -> int:
        return self.input_size + self.pad_before + self.pad_after

    @property
    def dropped(self) -> int:
        """Trailing cells (padded coordinates) that no window reaches."""
        return self.padded_size - ((self.output_size - 1) * self.stride + self.effective_kernel)

    def window(self, index: int) -> list[int]:
        """Padded coordinates read by output ``index``: ``i*s + j*d`` for j in 0..k-1."""
        if not 0 <= index < self.output_size:
            raise InputError(f"Output index {index} is outside 0..{self.output_size - 1}.")
        return [index * self.stride + tap * self.dilation for tap in range(self.kernel_size)]

    def input_span(self, index: int) -> tuple[int, int]:
        """First and last *input* coordinates (may be negative or past the end: padding)."""
        taps = self.window(index)
        return taps[0] - self.pad_before, taps[-1] - self.pad_before


def plan_axis(
    input_size: int, kernel_size: int, stride: int = 1, padding: str = "valid", dilation: int = 1
) -> AxisPlan:
    """All the numbers for one axis (see :class:`AxisPlan`)."""
    output = conv_output_size(input_size, kernel_size, stride, padding, dilation)
    before, after = same_padding(input_size, kernel_size, stride, dilation) if _padding(padding) == "same" else (0, 0)
    return AxisPlan(
        int(input_size), int(kernel_size), int(stride), int(dilation), _padding(padding), output, before, after
    )


def plan_2d(input_hw, kernel_size, stride=1, padding: str = "valid", dilation=1) -> tuple[AxisPlan, AxisPlan]:
    """Height and width plans; every size may be an int or a (height, width) pair."""
    height, width = as_pair("input size", input_hw)
    kernel, strides, dilations = (
        as_pair("kernel size", kernel_size),
        as_pair("stride", stride),
        as_pair("dilation", dilation),
    )
    return tuple(plan_axis((height, width)[a], kernel[a], strides[a], padding, dilations[a]) for a in (0, 1))


# ---------------------------------------------------------------------------------------------
# Layer-stack planner
# ---------------------------------------------------------------------------------------------
LAYER_KINDS = (
    "Conv2D",
    "Conv2DTranspose",
    "MaxPooling2D",
    "AveragePooling2D",
    "ZeroPadding2D",
    "BatchNormalization",
    "Activation",
    "Dropout",
    "GlobalAveragePooling2D",
    "Flatten",
    "Dense",
)
_SPATIAL = {"Conv2D", "Conv2DTranspose", "MaxPooling2D", "AveragePooling2D", "ZeroPadding2D", "GlobalAveragePooling2D"}


@dataclass(frozen=True)
class LayerSpec:
    """One planner row. ``size`` is filters (conv), units (Dense) or the pad width (ZeroPadding2D)."""

    kind: str
    size: int | None = None
    kernel_size: Pair = (1, 1)  # pool window for pooling layers
    strides: Pair | None = None  # None: 1 for convolutions, the window for pooling (Keras' default)
    padding: str = "valid"
    dilation: Pair = (1, 1)
    use_bias: bool = True
    activation: str | None = None  # only for the generated code; shapes do not depend on it


@dataclass(frozen=True)
class LayerPlan:
    """The planner's answer for one layer."""

    index: int
    spec: LayerSpec
    output_shape: tuple[int, ...]
    params: int
    activation_bytes: int  # float32 output of one instance
    receptive_field: Pair | None  # None once the layer sees the whole input
    jump: tuple[float, float] | None

    @property
    def shape_text(self) -> str:
        return " x ".join(map(str, self.output_shape))


@dataclass(frozen=True)
class StackPlan:
    input_shape: tuple[int, int, int]
    layers: list[LayerPlan] = field(default_factory=list)

    @property
    def total_params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def activation_sizes(self) -> list[int]:
        return [4 * math.prod(self.input_shape)] + [layer.activation_bytes for layer in self.layers]

    @property
    def inference_bytes(self) -> int:
        """Per instance: the largest pair of consecutive activations (one is freed as the next is made)."""
        sizes = self.activation_sizes
        return max((a + b for a, b in itertools.pairwise(sizes)), default=sizes[0])

    @property
    def training_bytes(self) -> int:
        """Per instance: every activation, since backprop needs them all."""
        return sum(self.activation_sizes)

    @property
    def parameter_bytes(self) -> int:
        return 4 * self.total_params


def _spec_from_row(index: int, row: Mapping) -> LayerSpec:
    where = f"Layer {index + 1} ({row.get('layer') or row.get('kind') or '?'})"
    kind = str(row.get("layer") or row.get("kind") or "").strip()
    if kind not in LAYER_KINDS:
        raise InputError(f"{where}: unknown layer type; choose one of {', '.join(LAYER_KINDS)}.")
    size = row.get("size")
    if size is not None and not (isinstance(size, float) and math.isnan(size)) and str(size).strip() != "":
        size = _positive_int("size", size, where) if kind != "ZeroPadding2D" or size != 0 else 0
    else:
        size = None
    if kind in ("Conv2D", "Conv2DTranspose", "Dense") and size is None:
        raise InputError(f"{where}: needs a size ({'units' if kind == 'Dense' else 'filters'}).")

    def blank(value) -> bool:
        return value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == ""

    kernel = row.get("kernel")
    stride = row.get("stride")
    dilation = row.get("dilation")
    pooling = kind in ("MaxPooling2D", "AveragePooling2D")
    return LayerSpec(
        kind=kind,
        size=size,
        kernel_size=as_pair("kernel", 2 if pooling and blank(kernel) else (1 if blank(kernel) else kernel), where),
        strides=None if blank(stride) else as_pair("stride", stride, where),
        padding=_padding("valid" if blank(row.get("padding")) else row.get("padding"), where),
        dilation=(1, 1) if blank(dilation) else as_pair("dilation", dilation, where),
        use_bias=True if row.get("bias") is None else bool(row.get("bias")),
        activation=None if blank(row.get("activation")) else str(row.get("activation")),
    )


def parse_stack(rows: Iterable[Mapping]) -> list[LayerSpec]:
    """Planner table rows (dicts with layer, size, kernel, stride, padding, dilation, bias) -> specs."""
    return [_spec_from_row(index, row) for index, row in enumerate(rows)]


def _transpose_size(n: int, k: int, s: int, padding: str, d: int) -> int:
    f = (k - 1) * d + 1
    return n * s if padding == "same" else n * s + max(f - s, 0)  # Keras' deconv_output_length


def _plan_layer(index: int, spec: LayerSpec, shape: tuple[int, ...], rf, jump) -> tuple[LayerPlan, object, object]:
    where = f"Layer {index + 1} ({spec.kind})"
    spatial = len(shape) == 3
    if spec.kind in _SPATIAL and not spatial:
        raise InputError(
            f"{where}: needs a (height, width, channels) input but gets {shape}; remove the Flatten before it."
        )
    params, out = 0, shape
    if spec.kind in ("Conv2D", "MaxPooling2D", "AveragePooling2D"):
        conv = spec.kind == "Conv2D"
        strides = spec.strides or ((1, 1) if conv else spec.kernel_size)
        dilation = spec.dilation if conv else (1, 1)
        sizes = []
        for axis in (0, 1):
            try:
                sizes.append(
                    conv_output_size(shape[axis], spec.kernel_size[axis], strides[axis], spec.padding, dilation[axis])
                )
            except InputError as error:
                raise InputError(f"{where}: {error}") from None
        channels = spec.size if conv else shape[2]
        out = (sizes[0], sizes[1], channels)
        if conv:
            params = spec.kernel_size[0] * spec.kernel_size[1] * shape[2] * spec.size + (
                spec.size if spec.use_bias else 0
            )
        if rf is not None:
            effective = [(spec.kernel_size[a] - 1) * dilation[a] + 1 for a in (0, 1)]
            rf = tuple(rf[a] + (effective[a] - 1) * jump[a] for a in (0, 1))
            jump = tuple(jump[a] * strides[a] for a in (0, 1))
    elif spec.kind == "Conv2DTranspose":
        strides = spec.strides or (1, 1)
        out = tuple(
            _transpose_size(shape[a], spec.kernel_size[a], strides[a], spec.padding, spec.dilation[a]) for a in (0, 1)
        )
        out = (*out, spec.size)
        params = spec.kernel_size[0] * spec.kernel_size[1] * shape[2] * spec.size + (spec.size if spec.use_bias else 0)
        if rf is not None:
            jump = tuple(jump[a] / strides[a] for a in (0, 1))
            rf = tuple(rf[a] + (math.ceil(spec.kernel_size[a] / strides[a]) - 1) * jump[a] * strides[a] for a in (0, 1))
    elif spec.kind == "ZeroPadding2D":
        pad = spec.size or 0
        out = (shape[0] + 2 * pad, shape[1] + 2 * pad, shape[2])
    elif spec.kind == "BatchNormalization":
        params = 4 * shape[-1]  # gamma, beta (trainable) + moving mean, variance
    elif spec.kind == "GlobalAveragePooling2D":
        out, rf, jump = (shape[2],), None, None
    elif spec.kind == "Flatten":
        out, rf, jump = (math.prod(shape),), None, None
    elif spec.kind == "Dense":
        out = (*shape[:-1], spec.size)  # Keras applies Dense to the last axis
        params = shape[-1] * spec.size + (spec.size if spec.use_bias else 0)
        if len(shape) == 1:
            rf, jump = None, None
    if any(size < 1 for size in out):
        raise InputError(f"{where}: output shape {out} has a non-positive size.")
    rf_out = tuple(round(v) for v in rf) if rf is not None else None
    return LayerPlan(index, spec, tuple(int(v) for v in out), int(params), 4 * math.prod(out), rf_out, jump), rf, jump


def plan_stack(input_shape: Sequence[int], layers: Sequence[LayerSpec | Mapping]) -> StackPlan:
    """Walk a stack of layers: output shape, parameters, activation memory, receptive field.

    Args:
        input_shape: (height, width, channels).
        layers: :class:`LayerSpec` objects or planner rows (see :func:`parse_stack`).

    Returns:
        A :class:`StackPlan` with one :class:`LayerPlan` per layer and the memory totals.

    Raises:
        InputError: Naming the layer whose settings are invalid or make a non-positive size.
    """
    if len(input_shape) != 3:
        raise InputError(f"Input shape must be (height, width, channels), got {describe_value(tuple(input_shape))}.")
    shape = tuple(
        _positive_int(name, value, "Input")
        for name, value in zip(("height", "width", "channels"), input_shape, strict=True)
    )
    specs = [spec if isinstance(spec, LayerSpec) else _spec_from_row(i, spec) for i, spec in enumerate(layers)]
    plans, rf, jump = [], (1, 1), (1.0, 1.0)
    current: tuple[int, ...] = shape
    for index, spec in enumerate(specs):
        plan, rf, jump = _plan_layer(index, spec, current, rf, jump)
        plans.append(plan)
        current = plan.output_shape
    return StackPlan(shape, plans)


def _conv(size, kernel, stride=None, padding="valid", bias=True, activation="relu", dilation=(1, 1)):
    return LayerSpec(
        "Conv2D",
        size,
        as_pair("kernel", kernel),
        stride and as_pair("stride", stride),
        padding,
        dilation,
        bias,
        activation,
    )


def _pool(kind, window, stride=None, padding="valid"):
    return LayerSpec(kind, None, as_pair("window", window), stride and as_pair("stride", stride), padding)


def _dense(units, activation="relu"):
    return LayerSpec("Dense", units, activation=activation)


BN, RELU, FLAT = LayerSpec("BatchNormalization"), LayerSpec("Activation", activation="relu"), LayerSpec("Flatten")
MAX, AVG = "MaxPooling2D", "AveragePooling2D"

# Curriculum networks: (input shape, layers). Their counts are checked against Keras in the tests.
PRESETS: dict[str, tuple[tuple[int, int, int], list[LayerSpec]]] = {
    "HOML Fashion-MNIST CNN": ((28, 28, 1), [
        _conv(64, 7, padding="same"), _pool(MAX, 2),
        _conv(128, 3, padding="same"), _conv(128, 3, padding="same"), _pool(MAX, 2),
        _conv(256, 3, padding="same"), _conv(256, 3, padding="same"), _pool(MAX, 2),
        FLAT, _dense(128), LayerSpec("Dropout"), _dense(64), LayerSpec("Dropout"), _dense(10, "softmax"),
    ]),
    "LeNet-5": ((32, 32, 1), [
        _conv(6, 5, activation="tanh"), _pool(AVG, 2), _conv(16, 5, activation="tanh"), _pool(AVG, 2),
        _conv(120, 5, activation="tanh"), FLAT, _dense(84, "tanh"), _dense(10, "softmax"),
    ]),
    "AlexNet stem": ((227, 227, 3), [
        _conv(96, 11, stride=4), _pool(MAX, 3, 2), _conv(256, 5, padding="same"), _pool(MAX, 3, 2),
        _conv(384, 3, padding="same"), _conv(384, 3, padding="same"), _conv(256, 3, padding="same"), _pool(MAX, 3, 2),
    ]),
    "ResNet-34 stem (HOML)": ((224, 224, 3), [
        _conv(64, 7, stride=2, padding="same", bias=False, activation=None), BN, RELU, _pool(MAX, 3, 2, "same"),
    ]),
    "ResNet-50 stem (Ng)": ((64, 64, 3), [
        LayerSpec("ZeroPadding2D", 3), _conv(64, 7, stride=2, activation=None), BN, RELU, _pool(MAX, 3, 2),
    ]),
    "CIFAR-10 tutorial net": ((24, 24, 3), [
        _conv(64, 5, padding="same", activation=None), BN, RELU, _pool(MAX, 3, 2, "same"),
        _conv(64, 5, padding="same"), _pool(MAX, 3, 2, "same"),
        FLAT, _dense(256), _dense(128), _dense(10, "softmax"),
    ]),
    "HappyModel (Ng)": ((64, 64, 3), [
        LayerSpec("ZeroPadding2D", 3), _conv(32, 7, activation=None), BN, RELU, _pool(MAX, 2), FLAT, _dense(1, "sigmoid"),
    ]),
}  # fmt: skip


def spec_to_row(spec: LayerSpec) -> dict:
    """The planner table row for a spec (inverse of :func:`parse_stack`)."""

    def text(pair):
        return None if pair is None else (str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}")

    shaped = spec.kind in ("Conv2D", "Conv2DTranspose", "MaxPooling2D", "AveragePooling2D")
    return {
        "layer": spec.kind,
        "size": spec.size,
        "kernel": text(spec.kernel_size) if shaped else None,
        "stride": text(spec.strides) if shaped else None,
        "padding": spec.padding if shaped else None,
        "dilation": text(spec.dilation) if spec.kind == "Conv2D" else None,
        "bias": spec.use_bias,
        "activation": spec.activation,
    }


def keras_snippet(input_shape: Sequence[int], specs: Sequence[LayerSpec]) -> str:
    """Keras code building the planned stack."""
    lines = ["import keras", "", "model = keras.Sequential([", f"    keras.Input(shape={tuple(input_shape)}),"]
    for spec in specs:
        args: list[str] = []
        if spec.kind in ("Conv2D", "Conv2DTranspose"):
            args = [str(spec.size), _py(spec.kernel_size)]
            if spec.strides and spec.strides != (1, 1):
                args.append(f"strides={_py(spec.strides)}")
            if spec.dilation != (1, 1):
                args.append(f"dilation_rate={_py(spec.dilation)}")
        elif spec.kind in ("MaxPooling2D", "AveragePooling2D"):
            args = [_py(spec.kernel_size)] + ([f"strides={_py(spec.strides)}"] if spec.strides else [])
        elif spec.kind == "ZeroPadding2D":
            args = [str(spec.size or 0)]
        elif spec.kind == "Dense":
            args = [str(spec.size)]
        elif spec.kind == "Activation":
            args = [repr(spec.activation or "relu")]
        elif spec.kind == "Dropout":
            args = ["0.5"]
        if spec.kind in ("Conv2D", "Conv2DTranspose", "MaxPooling2D", "AveragePooling2D") and spec.padding != "valid":
            args.append(f'padding="{spec.padding}"')
        if spec.kind in ("Conv2D", "Conv2DTranspose", "Dense"):
            if spec.activation:
                args.append(f'activation="{spec.activation}"')
            if not spec.use_bias:
                args.append("use_bias=False")
        lines.append(f"    keras.layers.{spec.kind}({', '.join(args)}),")
    lines += ["])", "model.summary()"]
    return "\n".join(lines)


def _py(pair: Pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"({pair[0]}, {pair[1]})"


def layer_snippet(plans: tuple[AxisPlan, AxisPlan], channels: int, op: str = "conv") -> str:
    """TF code reproducing one layer's shape, with TF's SAME padding done by hand."""
    height, width = plans
    kernel = _py((height.kernel_size, width.kernel_size))
    stride = _py((height.stride, width.stride))
    if op == "conv":
        dilation = _py((height.dilation, width.dilation))
        layer = f'keras.layers.Conv2D(filters=1, kernel_size={kernel}, strides={stride}, padding="{height.padding}"'
        layer += f", dilation_rate={dilation})" if dilation != "1" else ")"
    else:
        name = "MaxPooling2D" if op == "max" else "AveragePooling2D"
        layer = f'keras.layers.{name}(pool_size={kernel}, strides={stride}, padding="{height.padding}")'
    lines = [
        "import keras",
        "import tensorflow as tf",
        "",
        f"images = tf.random.normal((1, {height.input_size}, {width.input_size}, {channels}))",
        f"layer = {layer}",
        f"print(layer(images).shape)  # (1, {height.output_size}, {width.output_size}, ...)",
    ]
    if height.padding == "same":
        pads = f"[[0, 0], [{height.pad_before}, {height.pad_after}], [{width.pad_before}, {width.pad_after}], [0, 0]]"
        lines += [
            "",
            "# TensorFlow's SAME padding by hand: the odd extra cell goes to the bottom/right.",
            f"padded = tf.pad(images, {pads})",
            "# A VALID layer on `padded` gives the same output as the SAME layer on `images`.",
        ]
    return "\n".join(lines)
