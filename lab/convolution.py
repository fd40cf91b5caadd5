"""Convolution on real images: presets, hand-made kernels, one pixel's arithmetic, Conv2D demos.

Everything runs ``tf.nn.conv2d`` (cross-correlation, as every deep-learning library does): the
kernel is *not* flipped. Shapes follow TensorFlow's SAME/VALID rules from :mod:`lab.padding`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lab.config import Config, choice, number, whole
from lab.device import keras, tf
from lab.errors import InputError, describe_value
from lab.padding import PADDINGS, as_pair, conv_output_size, plan_2d, positive_int
from lab.planner import LayerSpec, plan_stack
from recipes import convolution as recipe

PRESETS = (
    "vertical line",
    "horizontal line",
    "sobel x",
    "sobel y",
    "laplacian",
    "box blur",
    "gaussian blur",
    "sharpen",
    "emboss",
    "identity",
    "random",
)
FIXED_3X3 = {
    "sobel x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
}
ACTIVATIONS = (None, "relu")
MAX_SIDE = 8192  # longest image side accepted (a 20000x20 strip is refused with a message)
MAX_KERNEL = 31


@dataclass(frozen=True)
class ConvConfig(Config):
    """Settings of the convolution playground (the page mirrors them in the URL)."""

    what = "convolution"
    preset: str = "vertical line"  # HOML's first filter
    kernel_size: int = 7  # HOML uses 7x7 line filters
    sigma: float = 1.0  # gaussian blur only
    seed: int = 42  # "random" only
    per_channel: bool = False  # False: one map summing all channels (HOML); True: one map per channel
    stride: int = 1
    padding: str = "same"  # HOML's tf.nn.conv2d(..., padding="SAME")
    dilation: int = 1
    bias: float = 0.0
    relu: bool = False
    cells: str = ""  # the learner's edited kernel (encode_kernel's text); "" is the preset's kernel

    def check(self) -> None:
        choice("kernel preset", self.preset, PRESETS)
        if self.cells:
            decode_kernel(self.cells)  # names the first cell that is not a number
        whole("kernel size", self.kernel_size, 1, MAX_KERNEL)
        number("sigma", self.sigma, 0, 100, low_open=True)
        whole("seed", self.seed, 0, 2**31 - 1)
        whole("stride", self.stride, 1, MAX_SIDE)
        choice("padding", self.padding, PADDINGS)
        whole("dilation", self.dilation, 1, MAX_SIDE)
        number("bias", self.bias, -1e6, 1e6)

    @property
    def activation(self) -> str | None:
        return "relu" if self.relu else None

    def kernel(self) -> np.ndarray:
        """The kernel: the learner's edited cells, or the preset's (the page's grid starts from it)."""
        return decode_kernel(self.cells) if self.cells else self.preset_kernel()

    def preset_kernel(self) -> np.ndarray:
        """The preset's (size, size) kernel for these settings."""
        return kernel_2d(self.preset, self.kernel_size, self.sigma, self.seed)


def _layer_settings(config: ConvConfig | None, options: dict) -> dict:
    """convolve/explain_pixel take the playground's config, or the settings one by one."""
    if config is None:
        return options
    if options:
        raise InputError(f"Pass a ConvConfig or separate settings, not both (got {', '.join(options)}).")
    return {
        "stride": config.stride,
        "padding": config.padding,
        "dilation": config.dilation,
        "bias": config.bias,
        "activation": config.activation,
    }


def kernel_2d(name: str, size: int = 7, sigma: float = 1.0, seed: int = 42) -> np.ndarray:
    """A (size, size) float32 kernel by preset name; Sobel/Laplacian/sharpen/emboss are 3x3."""
    if name not in PRESETS:
        raise InputError(f"Unknown kernel preset {describe_value(name)}; choose one of {', '.join(PRESETS)}.")
    if name in FIXED_3X3:
        return np.array(FIXED_3X3[name], dtype=np.float32)
    size = positive_int("kernel size", size)
    if size > MAX_KERNEL:
        raise InputError(f"Kernel size must be at most {MAX_KERNEL}, got {size}.")
    kernel = np.zeros((size, size), dtype=np.float32)
    center = size // 2
    if name == "vertical line":
        kernel[:, center] = 1  # HOML: filters[:, 3, :, 0] = 1
    elif name == "horizontal line":
        kernel[center, :] = 1  # HOML: filters[3, :, :, 1] = 1
    elif name == "box blur":
        kernel[:] = 1 / size**2
    elif name == "gaussian blur":
        if not sigma > 0:
            raise InputError(f"Sigma must be positive, got {sigma}.")
        axis = np.arange(size) - (size - 1) / 2
        bell = np.exp(-(axis**2) / (2 * sigma**2))
        kernel = np.outer(bell, bell).astype(np.float32)
        kernel /= kernel.sum()
    elif name == "identity":
        kernel[center, center] = 1
    else:  # random: Keras' default Conv2D initializer, seeded
        kernel = keras.initializers.GlorotUniform(seed=seed)((size, size, 1, 1)).numpy()[:, :, 0, 0]
    return kernel


def parse_kernel_grid(rows) -> np.ndarray:
    """A hand-edited kernel (rows of cells, e.g. from a table) -> (kh, kw) float32.

    Raises:
        InputError: Naming the first empty, non-numeric, NaN or infinite cell.
    """
    grid = [list(row) for row in rows]
    if not grid or not grid[0] or len({len(row) for row in grid}) != 1:
        raise InputError("The kernel must be a non-empty rectangle of numbers.")
    if len(grid) > MAX_KERNEL or len(grid[0]) > MAX_KERNEL:
        raise InputError(f"The kernel may be at most {MAX_KERNEL}x{MAX_KERNEL}, got {len(grid)}x{len(grid[0])}.")
    kernel = np.empty((len(grid), len(grid[0])), dtype=np.float32)
    for r, row in enumerate(grid):
        for c, cell in enumerate(row):
            if cell is None or (isinstance(cell, str) and not cell.strip()):
                raise InputError(f"Kernel cell (row {r}, column {c}) is empty, NaN or infinite; type a number.")
            try:
                value = float(cell)
            except (TypeError, ValueError):
                raise InputError(
                    f"Kernel cell (row {r}, column {c}) is {describe_value(cell)}, not a number."
                ) from None
            if not np.isfinite(value):
                raise InputError(f"Kernel cell (row {r}, column {c}) is empty, NaN or infinite; type a number.")
            kernel[r, c] = value
    return kernel


def kernel_cells(kernel: np.ndarray) -> list[list[float | int]]:
    """A kernel's cells as Python numbers, each the shortest that reads back as the same float32 (0.1,
    not 0.10000000149) and whole ones as ints: what a URL and a script write."""
    cells = np.asarray(kernel, dtype=np.float32)
    return [[int(value) if value.is_integer() else float(str(value)) for value in row] for row in cells]


def encode_kernel(kernel: np.ndarray) -> str:
    """A kernel as URL text: rows split by ``;``, cells by ``,`` (:func:`kernel_cells`), so the cells
    decode to exactly the kernel."""
    return ";".join(",".join(map(str, row)) for row in kernel_cells(kernel))


def decode_kernel(text: str) -> np.ndarray:
    """:func:`encode_kernel`'s text back to a (kh, kw) kernel (checked like a typed grid)."""
    return parse_kernel_grid([row.split(",") for row in str(text).split(";")])


def expand_kernel(kernel: np.ndarray, channels: int, per_channel: bool = False) -> np.ndarray:
    """(kh, kw) -> (kh, kw, C, n): shared across channels (n=1) or one output per channel (n=C)."""
    kernel = np.asarray(kernel, dtype=np.float32)
    if kernel.ndim != 2:
        raise InputError(f"Expected a 2-D kernel, got shape {kernel.shape}.")
    return recipe.filter_bank(kernel, channels, per_channel)


def _validate(image, kernels, stride, padding_mode, dilation):
    image = np.asarray(image)
    if image.ndim != 3:
        raise InputError(f"Expected an (H, W, C) image, got shape {image.shape}.")
    if max(image.shape[:2]) > MAX_SIDE:
        raise InputError(f"The image is {image.shape[0]}x{image.shape[1]}; the longest side may be at most {MAX_SIDE}.")
    kernels = np.asarray(kernels, dtype=np.float32)
    if kernels.ndim != 4:
        raise InputError(f"Expected kernels of shape (kh, kw, C, n), got {kernels.shape}.")
    if kernels.shape[2] != image.shape[2]:
        raise InputError(f"The kernels expect {kernels.shape[2]} input channels but the image has {image.shape[2]}.")
    if not np.isfinite(kernels).all():
        row, col = np.argwhere(~np.isfinite(kernels))[0][:2]
        raise InputError(f"The kernel has an empty, NaN or infinite cell (row {row}, column {col}).")
    strides, dilations = as_pair("stride", stride), as_pair("dilation", dilation)
    if max(strides) > 1 and max(dilations) > 1:
        raise InputError("TensorFlow's conv2d does not support stride > 1 together with dilation > 1.")
    for axis, name in ((0, "height"), (1, "width")):
        try:
            conv_output_size(image.shape[axis], kernels.shape[axis], strides[axis], padding_mode, dilations[axis])
        except InputError as error:
            raise InputError(f"Along the {name}: {error}") from None
    return image.astype(np.float32, copy=False), kernels, strides, dilations


def convolve(image: np.ndarray, kernels: np.ndarray, config: ConvConfig | None = None, **options) -> np.ndarray:
    """Convolve one image with a bank of kernels using ``tf.nn.conv2d``.

    Args:
        image: (H, W, C) float32 image.
        kernels: (kh, kw, C, n) filters.
        config: The playground's settings (stride, padding, dilation, bias, ReLU); or, instead,
            these keyword options:
        stride: Step per axis, int or (height, width).
        padding: ``"same"`` or ``"valid"`` (TensorFlow's rules).
        dilation: Gap between kernel taps per axis, int or pair.
        bias: Added to every output (a scalar, or one value per filter).
        activation: ``None`` or ``"relu"``.

    Returns:
        (H', W', n) float32 feature maps.

    Raises:
        InputError: For wrong shapes, NaN kernels, zero strides, a kernel larger than the image
            under VALID, or stride and dilation both above 1.
    """
    return _convolve(image, kernels, **_layer_settings(config, options))


def _convolve(image, kernels, stride=1, padding="same", dilation=1, bias=None, activation=None) -> np.ndarray:
    if activation not in ACTIVATIONS:
        raise InputError(f"Activation must be None or 'relu', got {describe_value(activation)}.")
    image, kernels, strides, dilations = _validate(image, kernels, stride, padding, dilation)
    return recipe.convolve(
        image, kernels, strides, padding, dilations, 0.0 if bias is None else bias, activation == "relu"
    )


def _conv2d(images, kernels, strides, mode, dilations) -> np.ndarray:
    return tf.nn.conv2d(images, kernels, strides=strides, padding=mode, dilations=dilations).numpy()


@dataclass(frozen=True)
class PixelExplanation:
    """The arithmetic behind one output value."""

    row: int
    col: int
    patch: np.ndarray  # (kh, kw, C) input values under the taps, zeros where they fall on padding
    products: np.ndarray  # patch * kernel
    total: float  # sum of products
    bias: float
    output: float  # after bias and activation
    rows: np.ndarray  # input row of each tap (may be <0 or >=H: padding)
    cols: np.ndarray
    relu: bool = False

    def sentence(self, stored: float) -> str:
        """The arithmetic in words, beside the value the feature map holds (``stored``)."""
        relu = " → ReLU" if self.relu else ""
        return (
            f"Sum of all {self.products.size} products **{self.total:.4f}** + bias {self.bias:g}{relu} "
            f"= **{self.output:.4f}**; the feature map holds **{stored:.4f}** (taps on rows "
            f"{self.rows.min()}..{self.rows.max()}, columns {self.cols.min()}..{self.cols.max()}; "
            "outside the image is zero padding)."
        )


def explain_pixel(
    image: np.ndarray, kernel: np.ndarray, row: int, col: int, config: ConvConfig | None = None, **options
) -> PixelExplanation:
    """Patch, elementwise products, sum, bias and activation for output pixel (row, col).

    ``kernel`` is one filter, (kh, kw, C); ``config`` or ``options`` as for :func:`convolve`.
    The result equals ``convolve(...)[row, col, 0]``.
    """
    return _explain(image, kernel, int(row), int(col), **_layer_settings(config, options))


def _explain(image, kernel, row, col, stride=1, padding="same", dilation=1, bias=0.0, activation=None):
    image, kernels, strides, dilations = _validate(image, np.asarray(kernel)[..., None], stride, padding, dilation)
    plans = plan_2d(image.shape[:2], kernels.shape[:2], strides, padding, dilations)
    if not (0 <= row < plans[0].output_size and 0 <= col < plans[1].output_size):
        raise InputError(
            f"Output pixel ({row}, {col}) is outside the {plans[0].output_size}x{plans[1].output_size} output."
        )
    rows = np.array(plans[0].window(row)) - plans[0].pad_before
    cols = np.array(plans[1].window(col)) - plans[1].pad_before
    inside_rows = (rows >= 0) & (rows < image.shape[0])
    inside_cols = (cols >= 0) & (cols < image.shape[1])
    patch = np.zeros(kernels.shape[:3], dtype=np.float32)
    patch[np.ix_(inside_rows, inside_cols)] = image[np.ix_(rows[inside_rows], cols[inside_cols])]
    products = patch * kernels[..., 0]
    total = float(products.sum(dtype=np.float64))
    value = total + bias
    if activation == "relu":
        value = max(value, 0.0)
    return PixelExplanation(row, col, patch, products, total, float(bias), value, rows, cols, activation == "relu")


@dataclass(frozen=True)
class LayerDemo:
    random_output: np.ndarray  # Conv2D with its own random (Glorot) weights
    set_output: np.ndarray  # the same layer after set_weights([filters, zeros])
    matches_conv2d: bool  # set_output equals tf.nn.conv2d with the filters


def conv2d_layer_demo(images: np.ndarray, filters: np.ndarray, seed: int = 42) -> LayerDemo:
    """HOML's demo: a Conv2D layer with random weights, then with ``set_weights`` to our filters."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise InputError(f"Expected a batch (N, H, W, C), got shape {images.shape}.")
    keras.utils.set_random_seed(seed)
    layer = keras.layers.Conv2D(filters=filters.shape[-1], kernel_size=filters.shape[:2], padding="same")
    random_output = np.asarray(layer(images))
    layer.set_weights([filters, np.zeros(filters.shape[-1], dtype=np.float32)])
    set_output = np.asarray(layer(images))
    expected = _conv2d(images, filters, (1, 1), "SAME", (1, 1))
    return LayerDemo(random_output, set_output, bool(np.allclose(set_output, expected, rtol=1e-4, atol=1e-5)))


def homl_line_filters(channels: int = 3, size: int = 7) -> np.ndarray:
    """HOML's two filters: a vertical line and a horizontal line, (size, size, channels, 2)."""
    return np.concatenate(
        [
            expand_kernel(kernel_2d("vertical line", size), channels),
            expand_kernel(kernel_2d("horizontal line", size), channels),
        ],
        axis=3,
    )


@dataclass(frozen=True)
class TransposedDemo:
    output_shape: tuple[int, int]  # Conv2DTranspose's output height and width
    planned_shape: tuple[int, int]  # lab.planner's prediction
    manual_equal: bool  # zero-upsample + flipped kernel + VALID conv == Conv2DTranspose
    max_error: float
    input_size: int = 5
    kernel_size: int = 3
    stride: int = 2

    def explanation(self) -> str:
        k, s, n = self.kernel_size, self.stride, self.input_size
        return (
            f"`Conv2DTranspose({k}, strides={s}, padding='valid')` turns {n}x{n} into "
            f"**{self.output_shape[0]}x{self.output_shape[1]}** (planner: "
            f"{self.planned_shape[0]}x{self.planned_shape[1]}). Inserting {s - 1} zero(s) between pixels, padding "
            f"{k - 1}, and a VALID convolution with the flipped kernel gives the same output: `np.allclose` → "
            f"**{self.manual_equal}** (max error {self.max_error:.1e})."
        )


def transposed_demo(input_hw=(5, 5), kernel_size: int = 3, stride: int = 2, seed: int = 0) -> TransposedDemo:
    """Conv2DTranspose (VALID) versus its manual equivalent, as at the end of HOML's chapter.

    Insert ``stride - 1`` zeros between input pixels, pad ``k - 1`` zeros all round, and run a
    regular VALID convolution with the kernel flipped in space and its in/out channels swapped.
    """
    height, width = as_pair("input size", input_hw)
    kernel_size, stride = positive_int("kernel size", kernel_size), positive_int("stride", stride)
    if max(height, width) > 256 or kernel_size > MAX_KERNEL:
        raise InputError("Keep the transposed-convolution demo small: input up to 256, kernel up to 31.")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1, height, width, 2)).astype(np.float32)
    layer = keras.layers.Conv2DTranspose(3, kernel_size, strides=stride, padding="valid", use_bias=False)
    expected = np.asarray(layer(x))
    manual = recipe.transposed_by_hand(x, layer.get_weights()[0], stride)  # kernel (k, k, out=3, in=2)
    planned = plan_stack((height, width, 2), [LayerSpec("Conv2DTranspose", 3, (kernel_size,) * 2, (stride,) * 2)])
    same_shape = manual.shape == expected.shape
    error = float(np.abs(manual - expected).max()) if same_shape else float("inf")
    return TransposedDemo(
        tuple(expected.shape[1:3]),
        planned.layers[0].output_shape[:2],
        same_shape and bool(np.allclose(manual, expected, atol=1e-5)),
        error,
        height,
        kernel_size,
        stride,
    )
