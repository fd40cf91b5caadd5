"""The layer-stack planner: shapes, parameters, activation memory and receptive field, layer by layer.

A stack is a list of :class:`LayerSpec` rows (Conv2D, pooling, BatchNormalization, Dense, ...);
:func:`plan_stack` walks it with :mod:`lab.padding`'s TensorFlow-exact arithmetic. One function,
:func:`keras_layer`, turns a spec into a Keras layer's class and arguments: the generated code
(:func:`keras_snippet`) and the TensorFlow check (:mod:`lab.padding_tf`) both use it, so they
cannot disagree. Pure Python: no TensorFlow here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from lab.errors import InputError, describe_value
from lab.padding import Pair, as_pair, conv_output_size, padding_mode, positive_int
from recipes.architectures import count_multiply_adds, grow_field, transposed_field

LAYER_KINDS = (
    "Conv2D",
    "SeparableConv2D",
    "DepthwiseConv2D",
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
CONVOLUTIONS = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D")  # windows with weights: kernel, stride, dilation
WINDOWS = (*CONVOLUTIONS, "MaxPooling2D", "AveragePooling2D")
SHAPED = (*WINDOWS, "Conv2DTranspose")  # rows with a kernel (or pooling window), stride and padding
WEIGHTED = (*CONVOLUTIONS, "Conv2DTranspose", "Dense")  # rows with a size and a bias
_SPATIAL = {*SHAPED, "ZeroPadding2D", "GlobalAveragePooling2D"}


@dataclass(frozen=True)
class LayerSpec:
    """One planner row. ``size`` is filters (conv), units (Dense), the depth multiplier (DepthwiseConv2D,
    blank: 1) or the pad width (ZeroPadding2D)."""

    kind: str
    size: int | None = None
    kernel_size: Pair = (1, 1)  # pool window for pooling layers
    strides: Pair | None = None  # None: 1 for convolutions, the window for pooling (Keras' default)
    padding: str = "valid"
    dilation: Pair = (1, 1)
    use_bias: bool = True
    activation: str | None = None  # only for the generated code; shapes do not depend on it
    rate: float | None = None  # Dropout's rate (None: 0.5, as the presets use)


@dataclass(frozen=True)
class LayerPlan:
    """The planner's answer for one layer."""

    index: int
    spec: LayerSpec
    output_shape: tuple[int, ...]
    params: int
    multiply_adds: int  # per instance (convolutions and Dense: recipes.architectures' count)
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
    def total_multiply_adds(self) -> int:
        return sum(layer.multiply_adds for layer in self.layers)

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

    def table(self) -> list[dict]:
        """One row per layer, as the planner shows it."""
        return [
            {
                "layer": layer.spec.kind,
                "output shape": layer.shape_text,
                "parameters": layer.params,
                "multiply-adds": layer.multiply_adds,
                "activations (KB)": round(layer.activation_bytes / 1024, 1),
                "receptive field": f"{layer.receptive_field[0]}x{layer.receptive_field[1]}"
                if layer.receptive_field
                else "all",
                "jump": f"{layer.jump[0]:g}x{layer.jump[1]:g}" if layer.jump else "-",
            }
            for layer in self.layers
        ]

    def memory_figures(self, batch_size: int) -> dict[str, str]:
        """Parameters, multiply-adds, weights and RAM at ``batch_size``, in readable units (KB below 1 MB)."""
        return {
            "Parameters": f"{self.total_params:,}",
            "Multiply-adds per image": readable_count(self.total_multiply_adds),
            "Weights (float32)": readable_bytes(self.parameter_bytes),
            f"Inference RAM, batch {batch_size}": readable_bytes(self.inference_bytes * batch_size),
            f"Training RAM, batch {batch_size}": readable_bytes(self.training_bytes * batch_size),
        }


RUNTIME_BYTES = 256 * 2**20  # per run on an accelerator: cuDNN/cuBLAS handles, workspaces, allocator slack


def run_memory_bytes(parameters: int, activation_bytes: int, batch_size: int, optimizer_slots: int) -> int:
    """What one training run needs on an accelerator, in bytes (how runs are packed on a GPU).

    Args:
        parameters: The model's parameters: each is held as a float32 weight, its gradient and
            ``optimizer_slots`` more (Adam's two moments, momentum's velocity).
        activation_bytes: Per image, every activation (:attr:`StackPlan.training_bytes`): backprop
            keeps them all, and their gradients are as large again.
        batch_size: Images per step.
        optimizer_slots: Values the optimizer keeps per parameter.
    """
    return 4 * parameters * (2 + optimizer_slots) + 2 * activation_bytes * batch_size + RUNTIME_BYTES


def readable_bytes(count: int) -> str:
    """1,536 -> "1.5 KB"; 38,912 -> "38.0 KB"; 5.6e6 -> "5.3 MB" (never "0.0 MB" for a small net)."""
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"


def readable_count(count: int) -> str:
    """15,470,264,320 -> "15.5 G"; 568,740,352 -> "568.7 M"; 416,520 -> "416.5 K"; 720 -> "720"."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count:,}"


def _spec_from_row(index: int, row: Mapping) -> LayerSpec:
    where = f"Layer {index + 1} ({row.get('layer') or row.get('kind') or '?'})"
    kind = str(row.get("layer") or row.get("kind") or "").strip()
    if kind not in LAYER_KINDS:
        raise InputError(f"{where}: unknown layer type; choose one of {', '.join(LAYER_KINDS)}.")
    size = row.get("size")
    if size is not None and not (isinstance(size, float) and math.isnan(size)) and str(size).strip() != "":
        size = positive_int("size", size, where) if kind != "ZeroPadding2D" or size != 0 else 0
    else:
        size = None
    if kind in WEIGHTED and kind != "DepthwiseConv2D" and size is None:
        raise InputError(f"{where}: needs a size ({'units' if kind == 'Dense' else 'filters'}).")

    def blank(value) -> bool:
        return value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == ""

    rate = row.get("rate")
    if not blank(rate) and not (isinstance(rate, (int, float)) or _is_number(rate)):
        raise InputError(f"{where}: rate must be a number in [0, 1), got {describe_value(rate)}.")
    rate = None if blank(rate) or kind != "Dropout" else float(rate)
    if rate is not None and not 0 <= rate < 1:
        raise InputError(f"{where}: rate must be in [0, 1), got {rate:g}.")
    kernel = row.get("kernel")
    stride = row.get("stride")
    dilation = row.get("dilation")
    pooling = kind in ("MaxPooling2D", "AveragePooling2D")
    return LayerSpec(
        kind=kind,
        size=size,
        kernel_size=as_pair("kernel", 2 if pooling and blank(kernel) else (1 if blank(kernel) else kernel), where),
        strides=None if blank(stride) else as_pair("stride", stride, where),
        padding=padding_mode("valid" if blank(row.get("padding")) else row.get("padding"), where),
        dilation=(1, 1) if blank(dilation) else as_pair("dilation", dilation, where),
        use_bias=True if row.get("bias") is None else bool(row.get("bias")),
        activation=None if blank(row.get("activation")) else str(row.get("activation")).strip(),
        rate=rate,
    )


def _is_number(text) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


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
    if spec.kind in WINDOWS:
        conv = spec.kind in CONVOLUTIONS
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
        out = (sizes[0], sizes[1], output_channels(spec, shape[2]))
        params = conv_parameters(spec, shape[2])
        if rf is not None:
            grown = [grow_field(rf[a], jump[a], spec.kernel_size[a], strides[a], dilation[a]) for a in (0, 1)]
            rf, jump = tuple(field for field, _ in grown), tuple(step for _, step in grown)
    elif spec.kind == "Conv2DTranspose":
        strides = spec.strides or (1, 1)
        out = tuple(
            _transpose_size(shape[a], spec.kernel_size[a], strides[a], spec.padding, spec.dilation[a]) for a in (0, 1)
        )
        out = (*out, spec.size)
        params = conv_parameters(spec, shape[2])
        if rf is not None:
            grown = [transposed_field(rf[a], jump[a], spec.kernel_size[a], strides[a]) for a in (0, 1)]
            rf, jump = tuple(field for field, _ in grown), tuple(step for _, step in grown)
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
    multiplier = (spec.size or 1) if spec.kind == "DepthwiseConv2D" else 1
    multiply_adds = count_multiply_adds(spec.kind, shape, out, math.prod(spec.kernel_size), multiplier)
    rf_out = tuple(round(v) for v in rf) if rf is not None else None
    plan = LayerPlan(
        index, spec, tuple(int(v) for v in out), int(params), multiply_adds, 4 * math.prod(out), rf_out, jump
    )
    return plan, rf, jump


def output_channels(spec: LayerSpec, channels: int) -> int:
    """A window layer's output channels: its filters; a depthwise one's input x depth multiplier; a pool's input."""
    if spec.kind == "DepthwiseConv2D":
        return channels * (spec.size or 1)
    return spec.size if spec.kind in WEIGHTED else channels


def conv_parameters(spec: LayerSpec, channels: int) -> int:
    """Weights and biases of a convolution row on ``channels`` input channels (0 for a pooling row).

    A depthwise convolution has one k x k filter per input channel (x its depth multiplier); a separable
    one adds a 1x1 convolution that mixes them into its filters.
    """
    kernel = spec.kernel_size[0] * spec.kernel_size[1]
    if spec.kind == "DepthwiseConv2D":
        middle = channels * (spec.size or 1)
        return kernel * middle + (middle if spec.use_bias else 0)
    if spec.kind == "SeparableConv2D":
        return kernel * channels + channels * spec.size + (spec.size if spec.use_bias else 0)
    if spec.kind in ("Conv2D", "Conv2DTranspose"):
        return kernel * channels * spec.size + (spec.size if spec.use_bias else 0)
    return 0


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
        positive_int(name, value, "Input")
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


def _separable(kind, size, kernel=3, stride=None, activation=None):
    return LayerSpec(
        kind,
        size,
        as_pair("kernel", kernel),
        stride and as_pair("stride", stride),
        "same",
        use_bias=False,
        activation=activation,
    )


def _pool(kind, window, stride=None, padding="valid"):
    return LayerSpec(kind, None, as_pair("window", window), stride and as_pair("stride", stride), padding)


def _dense(units, activation="relu"):
    return LayerSpec("Dense", units, activation=activation)


BN, RELU, FLAT = LayerSpec("BatchNormalization"), LayerSpec("Activation", activation="relu"), LayerSpec("Flatten")
RELU6 = LayerSpec("Activation", activation="relu6")
MAX, AVG = "MaxPooling2D", "AveragePooling2D"

# Curriculum networks: (input shape, layers). Their counts are checked against Keras in the tests.
# Formatter off for this table (fmt: skip below): one line per block reads like the papers' tables.
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
    "MobileNet blocks (depthwise separable)": ((56, 56, 128), [
        _separable("DepthwiseConv2D", None), BN, RELU6, _conv(128, 1, bias=False, activation=None), BN, RELU6,
        _separable("DepthwiseConv2D", None, stride=2), BN, RELU6, _conv(256, 1, bias=False, activation=None), BN, RELU6,
    ]),
    "Xception entry block (separable)": ((147, 147, 64), [
        _separable("SeparableConv2D", 128), BN, RELU, _separable("SeparableConv2D", 128), BN, _pool(MAX, 3, 2, "same"),
    ]),
    "GoogLeNet 1x1 bottleneck (inception 3a's 5x5 branch)": ((28, 28, 192), [
        _conv(16, 1), _conv(32, 5, padding="same"),
    ]),
    "HappyModel (Ng)": ((64, 64, 3), [
        LayerSpec("ZeroPadding2D", 3), _conv(32, 7, activation=None), BN, RELU, _pool(MAX, 2), FLAT, _dense(1, "sigmoid"),
    ]),
}  # fmt: skip


@dataclass(frozen=True)
class Saving:
    """A cheap way to a convolution's output beside the regular Conv2D of the same kernel, input channels
    and output shape: the convolutions' weights and biases, and their multiply-adds per image."""

    layers: str  # which rows, e.g. "3-4: DepthwiseConv2D 3x3 + Conv2D 1x1"
    regular: str  # the regular convolution, e.g. "Conv2D 3x3, 128 -> 128"
    parameters: int
    multiply_adds: int
    regular_parameters: int
    regular_multiply_adds: int

    def row(self) -> dict:
        return {
            "layers": self.layers,
            "instead of": self.regular,
            "parameters": f"{self.parameters:,} vs {self.regular_parameters:,}",
            "x fewer": round(self.regular_parameters / max(self.parameters, 1), 1),
            "multiply-adds": f"{readable_count(self.multiply_adds)} vs {readable_count(self.regular_multiply_adds)}",
            "x less compute": round(self.regular_multiply_adds / max(self.multiply_adds, 1), 1),
        }


def _next_weighted(plan: StackPlan, index: int) -> LayerPlan | None:
    """The next row with weights after ``index``, across BatchNormalization, activations and dropout."""
    for layer in plan.layers[index + 1 :]:
        if layer.spec.kind in WEIGHTED:
            return layer
        if layer.spec.kind not in ("BatchNormalization", "Activation", "Dropout"):
            return None
    return None


def savings(plan: StackPlan) -> list[Saving]:
    """HOML's point about depthwise separable convolutions and GoogLeNet's about 1x1 bottlenecks, counted:
    each SeparableConv2D, each DepthwiseConv2D followed by a 1x1 Conv2D (MobileNet's pair), and each 1x1
    Conv2D that cuts the channels before a larger kernel, beside the regular Conv2D that maps the same input
    channels to the same output with the same kernel (with a bias when the cheap layers have one)."""
    found, shapes = [], [plan.input_shape] + [layer.output_shape for layer in plan.layers]
    for layer in plan.layers:
        spec, channels = layer.spec, shapes[layer.index][-1]
        partner = _next_weighted(plan, layer.index)
        if spec.kind == "SeparableConv2D":
            group, kernel = [layer], spec.kernel_size
        elif spec.kind == "DepthwiseConv2D" and _pointwise(partner):
            group, kernel = [layer, partner], spec.kernel_size
        elif _pointwise(layer) and spec.size < channels and partner and partner.spec.kind == "Conv2D":
            if partner.spec.kernel_size == (1, 1):
                continue
            group, kernel = [layer, partner], partner.spec.kernel_size
        else:
            continue
        found.append(_saving(group, channels, kernel))
    return found


def _pointwise(layer: LayerPlan | None) -> bool:
    return (
        layer is not None
        and layer.spec.kind == "Conv2D"
        and layer.spec.kernel_size == (1, 1)
        and not layer.spec.strides
    )


def _saving(group: list[LayerPlan], channels: int, kernel: Pair) -> Saving:
    out = group[-1].output_shape
    bias = group[-1].spec.use_bias
    regular = LayerSpec("Conv2D", out[-1], kernel, use_bias=bias)
    parameters = conv_parameters(regular, channels)
    multiply_adds = count_multiply_adds("Conv2D", (1, 1, channels), out, kernel[0] * kernel[1])
    first, last = group[0].index + 1, group[-1].index + 1
    rows = f"{first}-{last}" if last > first else str(first)
    names = " + ".join(f"{layer.spec.kind} {_square(layer.spec.kernel_size)}" for layer in group)
    return Saving(
        f"{rows}: {names}",
        f"Conv2D {_square(kernel)}, {channels} -> {out[-1]} channels",
        sum(layer.params for layer in group),
        sum(layer.multiply_adds for layer in group),
        parameters,
        multiply_adds,
    )


def _square(pair: Pair) -> str:
    return f"{pair[0]}x{pair[1]}"


def spec_to_row(spec: LayerSpec) -> dict:
    """The planner table row for a spec (inverse of :func:`parse_stack`)."""

    def text(pair):
        return None if pair is None else (str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}")

    shaped = spec.kind in SHAPED
    return {
        "layer": spec.kind,
        "size": spec.size,
        "kernel": text(spec.kernel_size) if shaped else None,
        "stride": text(spec.strides) if shaped else None,
        "padding": spec.padding if shaped else None,
        "dilation": text(spec.dilation) if spec.kind in CONVOLUTIONS else None,
        "bias": spec.use_bias if spec.kind in WEIGHTED else None,
        "activation": spec.activation,
        "rate": spec.rate if spec.kind == "Dropout" else None,
    }


def _compact(pair: Pair) -> int | Pair:
    return pair[0] if pair[0] == pair[1] else tuple(pair)


def keras_layer(spec: LayerSpec) -> tuple[str, dict]:
    """The Keras layer class name and the arguments (those that differ from Keras' defaults)."""
    kind, kwargs = spec.kind, {}
    if kind in ("Conv2D", "SeparableConv2D", "Conv2DTranspose"):
        kwargs = {"filters": spec.size, "kernel_size": _compact(spec.kernel_size)}
    elif kind == "DepthwiseConv2D":
        kwargs = {"kernel_size": _compact(spec.kernel_size)}
        if (spec.size or 1) != 1:
            kwargs["depth_multiplier"] = spec.size
    if kind in (*CONVOLUTIONS, "Conv2DTranspose"):
        if spec.strides and spec.strides != (1, 1):
            kwargs["strides"] = _compact(spec.strides)
        if spec.dilation != (1, 1):
            kwargs["dilation_rate"] = _compact(spec.dilation)
    elif kind in ("MaxPooling2D", "AveragePooling2D"):
        kwargs = {"pool_size": _compact(spec.kernel_size)}
        if spec.strides:
            kwargs["strides"] = _compact(spec.strides)
    elif kind == "ZeroPadding2D":
        kwargs = {"padding": spec.size or 0}
    elif kind == "Dense":
        kwargs = {"units": spec.size}
    elif kind == "Activation":
        kwargs = {"activation": spec.activation or "relu"}
    elif kind == "Dropout":
        kwargs = {"rate": 0.5 if spec.rate is None else spec.rate}
    if kind in SHAPED and spec.padding != "valid":
        kwargs["padding"] = spec.padding
    if kind in WEIGHTED:
        if spec.activation:
            kwargs["activation"] = spec.activation
        if not spec.use_bias:
            kwargs["use_bias"] = False
    return kind, kwargs


def keras_snippet(
    input_shape: Sequence[int] | str, specs: Sequence[LayerSpec], variable: str = "model", last_units: str | None = None
) -> str:
    """Keras code building the planned stack as ``variable``: a shape, or the code of one
    (``"x_train.shape[1:]"``); ``last_units``, the code of the last layer's units (``"len(class_names)"``)."""
    shape = input_shape if isinstance(input_shape, str) else tuple(input_shape)
    lines = [f"{variable} = keras.Sequential([", f"    keras.Input(shape={shape}),"]
    for index, spec in enumerate(specs):
        name, kwargs = keras_layer(spec)
        last = index == len(specs) - 1 and last_units is not None
        arguments = ", ".join(
            f"{key}={last_units if last and key == 'units' else repr(value)}" for key, value in kwargs.items()
        )
        lines.append(f"    keras.layers.{name}({arguments}),")
    return "\n".join([*lines, "])"]) + "\n"


# ---------------------------------------------------------------------------------------------
# A stack in a URL, and a stack that can be trained
# ---------------------------------------------------------------------------------------------
SHORT_NAMES = {
    "Conv2D": "conv",
    "SeparableConv2D": "sep",
    "DepthwiseConv2D": "dw",
    "Conv2DTranspose": "deconv",
    "MaxPooling2D": "max",
    "AveragePooling2D": "avg",
    "ZeroPadding2D": "zpad",
    "BatchNormalization": "bn",
    "Activation": "act",
    "Dropout": "drop",
    "GlobalAveragePooling2D": "gap",
    "Flatten": "flat",
    "Dense": "dense",
}
ACTIVATIONS = (
    "relu",
    "tanh",
    "sigmoid",
    "softmax",
    "elu",
    "selu",
    "gelu",
    "swish",
    "silu",
    "leaky_relu",
    "relu6",
    "softplus",
    "mish",
    "linear",
)
MAX_URL_LAYERS = 64  # a stack read from a link; the training caps below are tighter
MAX_LAYERS = 40  # a trainable stack, head included
MAX_PARAMS = 5_000_000  # HOML's Fashion-MNIST CNN has 1.4 M; more trains for hours on a CPU
MAX_TRAINING_BYTES = 2**30  # activations kept for backprop at the chosen batch size (the planner's figure)


def _pair_text(pair: Pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


def encode_stack(specs: Sequence[LayerSpec]) -> str:
    """A stack as short URL-safe text, e.g. ``conv-32-k3-same-relu,max-k2,flat,dense-10-softmax``.

    Fields after the layer name: the size, ``k`` kernel/window, ``s`` stride, ``d`` dilation,
    ``same``, ``nobias``, ``r`` dropout rate, and the activation. Readable in a shared link,
    like TensorFlow Playground's; :func:`decode_stack` reads it back exactly.
    """
    layers = []
    for spec in specs:
        fields = [SHORT_NAMES[spec.kind]]
        if spec.size is not None:
            fields.append(str(spec.size))
        if spec.kind in SHAPED:
            fields.append("k" + _pair_text(spec.kernel_size))
            if spec.strides is not None:
                fields.append("s" + _pair_text(spec.strides))
            if spec.padding == "same":
                fields.append("same")
        if spec.dilation != (1, 1):
            fields.append("d" + _pair_text(spec.dilation))
        if not spec.use_bias:
            fields.append("nobias")
        if spec.rate is not None:
            fields.append(f"r{spec.rate:g}")
        if spec.activation:
            fields.append(spec.activation)
        layers.append("-".join(fields))
    return ",".join(layers)


def decode_stack(text: str) -> list[LayerSpec]:
    """The stack of an :func:`encode_stack` text (from a URL: anything may be in it).

    Raises:
        InputError: Naming the layer (by position) and the field that cannot be read.
    """
    kinds = {short: kind for kind, short in SHORT_NAMES.items()}
    parts = [part.strip() for part in str(text).split(",") if part.strip()]
    if not parts:
        raise InputError("The stack is empty: add at least one layer.")
    if len(parts) > MAX_URL_LAYERS:
        raise InputError(f"The stack has {len(parts)} layers; a link may hold at most {MAX_URL_LAYERS}.")
    rows = []
    for index, part in enumerate(parts):
        name, *fields = part.split("-")
        if name not in kinds:
            raise InputError(f"Layer {index + 1}: unknown layer {describe_value(name)}; use one of {', '.join(kinds)}.")
        row: dict = {"layer": kinds[name]}
        for field_text in fields:
            prefix, rest = field_text[:1], field_text[1:]
            if field_text.isdigit():
                row["size"] = int(field_text)
            elif field_text in ("same", "valid"):
                row["padding"] = field_text
            elif field_text == "nobias":
                row["bias"] = False
            elif prefix in "ksd" and rest and rest.replace("x", "").isdigit():
                row[{"k": "kernel", "s": "stride", "d": "dilation"}[prefix]] = rest
            elif prefix == "r" and _is_number(rest):
                row["rate"] = float(rest)
            elif field_text in ACTIVATIONS:
                row["activation"] = field_text
            else:
                raise InputError(f"Layer {index + 1} ({kinds[name]}): cannot read {describe_value(field_text)}.")
        rows.append(row)
    return parse_stack(rows)


def with_head(specs: Sequence[LayerSpec], num_classes: int) -> tuple[list[LayerSpec], int]:
    """The stack with a classifier head for ``num_classes``, and how many layers at its end are the head.

    A final Dense with softmax or sigmoid is taken for a head (the presets end in a 10-class one)
    and replaced; a stack that still ends in feature maps is flattened first, as HOML's CNNs are.
    """
    body = list(specs)
    if body and body[-1].kind == "Dense" and body[-1].activation in ("softmax", "sigmoid"):
        body.pop()
    added = [LayerSpec("Dense", num_classes, activation="softmax")]
    if not any(spec.kind in ("Flatten", "GlobalAveragePooling2D") for spec in body):  # still (H, W, C)
        added.insert(0, FLAT)
    return body + added, len(added)


def trainable_plan(input_shape: Sequence[int], specs: Sequence[LayerSpec], num_classes: int, batch_size: int):
    """Plan ``specs`` plus its classifier head, refusing what cannot or should not be trained here.

    Returns:
        (the plan of the whole model, how many of its last layers are the head :func:`with_head` added).

    Raises:
        InputError: A shape that collapses (the planner's explanation, naming the layer), an
            activation Keras does not know, more than :data:`MAX_LAYERS` layers, more than
            :data:`MAX_PARAMS` parameters (naming the layer that crosses the cap), or more than
            :data:`MAX_TRAINING_BYTES` of activations at ``batch_size`` (naming the largest layer).
    """
    for index, spec in enumerate(specs):
        if spec.activation and spec.activation not in ACTIVATIONS:
            raise InputError(
                f"Layer {index + 1} ({spec.kind}): unknown activation {describe_value(spec.activation)}; "
                f"use one of {', '.join(ACTIVATIONS)}."
            )
    full, changed = with_head(specs, num_classes)
    if len(full) > MAX_LAYERS:
        raise InputError(f"The model has {len(full)} layers with its head; at most {MAX_LAYERS} train here.")
    plan = plan_stack(input_shape, full)
    total = 0
    for layer in plan.layers:
        total += layer.params
        if total > MAX_PARAMS:
            raise InputError(
                f"Layer {layer.index + 1} ({layer.spec.kind}) brings the model to {total:,} parameters; the cap is "
                f"{MAX_PARAMS:,}. Use fewer filters or units, or pool before Flatten."
            )
    needed = plan.training_bytes * batch_size
    if needed > MAX_TRAINING_BYTES:
        largest = max(plan.layers, key=lambda layer: layer.activation_bytes)
        raise InputError(
            f"Training needs {readable_bytes(needed)} of activations at batch size {batch_size} (layer "
            f"{largest.index + 1} ({largest.spec.kind}) alone: {readable_bytes(largest.activation_bytes)} per "
            f"image); the cap is {readable_bytes(MAX_TRAINING_BYTES)}. Lower the batch size, or stride or pool sooner."
        )
    return plan, changed
