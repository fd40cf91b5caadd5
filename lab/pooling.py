"""Pooling on real images: max/average, depth-wise, global, and the invariance it buys.

Spatial pooling runs TensorFlow's ``tf.nn.max_pool2d``/``avg_pool2d`` (what Keras' pooling layers
call). Depth-wise pooling reshapes the channels into groups and reduces each group, which works on
GPU and CPU alike; the depth-window form of ``tf.nn.max_pool`` that HOML uses runs only on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lab import convolution
from lab.config import Config, choice, whole
from lab.device import tf
from lab.errors import InputError, describe_value
from lab.padding import PADDINGS, as_pair, conv_output_size, plan_2d, positive_int
from recipes import pooling as recipe

KINDS = ("max", "avg")


DEPTH_SIZES = (2, 3, 6)  # group sizes that divide the six feature maps of the depth-wise demo
MAX_POOL = 64


@dataclass(frozen=True)
class PoolConfig(Config):
    """Settings of the pooling viewer (the page mirrors them in the URL)."""

    what = "pooling"
    kind: str = "max"  # HOML's MaxPool2D first
    pool_size: int = 2  # HOML: MaxPool2D(pool_size=2)
    stride: int | None = None  # None: the pool size, as in Keras
    padding: str = "valid"  # Keras' default for pooling
    depth_size: int = 6  # depth-wise pooling: channels per group (6 maps -> 1)
    shift: int = 1  # translation-invariance demo: pixels to shift the input right

    def check(self) -> None:
        choice("pooling kind", self.kind, KINDS)
        whole("pool size", self.pool_size, 1, MAX_POOL)
        if self.stride is not None:
            whole("stride", self.stride, 1, MAX_POOL)
        choice("padding", self.padding, PADDINGS)
        choice("depth-wise group size", self.depth_size, DEPTH_SIZES)
        whole("shift", self.shift, 1, 16)


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InputError(f"Pooling kind must be 'max' or 'avg', got {describe_value(kind)}.")
    return kind


def _check_image(image) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3:
        raise InputError(f"Expected an (H, W, C) image, got shape {image.shape}.")
    return image


def output_shape(input_shape, pool_size=2, stride=None, padding: str = "valid") -> tuple[int, int, int]:
    """(H', W', C) of a pooling layer, with a clear message when the window does not fit."""
    height, width, channels = input_shape
    window = as_pair("pool size", pool_size)
    strides = window if stride is None else as_pair("stride", stride)
    if padding == "valid" and (window[0] > height or window[1] > width):
        raise InputError(
            f"The {window[0]}x{window[1]} pool window is larger than the {height}x{width} image under VALID "
            "padding; use SAME padding or a smaller window."
        )
    sizes = [conv_output_size((height, width)[a], window[a], strides[a], padding) for a in (0, 1)]
    return sizes[0], sizes[1], channels


def pool(image: np.ndarray, kind: str | PoolConfig = "max", pool_size=2, stride=None, padding="valid") -> np.ndarray:
    """Max or average pooling of one image, as ``keras.layers.MaxPooling2D``/``AveragePooling2D``.

    Args:
        image: (H, W, C) float image.
        kind: ``"max"`` or ``"avg"``; or the viewer's :class:`PoolConfig` for all four settings.
        pool_size: Window, int or (height, width).
        stride: Step, int or pair; ``None`` means the pool size (Keras' default).
        padding: ``"valid"`` or ``"same"``. SAME average pooling averages only real cells.

    Returns:
        (H', W', C) float32.

    Raises:
        InputError: Unknown kind, zero or negative sizes, or a window larger than the image
            under VALID padding.
    """
    if isinstance(kind, PoolConfig):
        kind, pool_size, stride, padding = kind.kind, kind.pool_size, kind.stride, kind.padding
    _check_kind(kind)
    image = _check_image(image)
    output_shape(image.shape, pool_size, stride, padding)
    window = as_pair("pool size", pool_size)
    strides = window if stride is None else as_pair("stride", stride)
    return recipe.pool(image, kind, window, strides, padding)


def depth_pool(image: np.ndarray, pool_size: int, kind: str = "max") -> np.ndarray:
    """Pool across channels in groups of ``pool_size`` (H, W, C) -> (H, W, C // pool_size).

    Also takes a batch (N, H, W, C). Reshape + reduce: runs on GPU and CPU.
    """
    _check_kind(kind)
    images = np.asarray(image, dtype=np.float32)
    if images.ndim not in (3, 4):
        raise InputError(f"Expected (H, W, C) or (N, H, W, C), got shape {images.shape}.")
    size = positive_int("depth pool size", pool_size)
    channels = images.shape[-1]
    if channels % size:
        raise InputError(
            f"Depth-wise pooling needs the channel count ({channels}) to be divisible by the pool size ({size})."
        )
    return recipe.depth_pool(images, size, kind)


def global_average_pool(image: np.ndarray) -> np.ndarray:
    """One mean per channel: (H, W, C) -> (C,), or (N, H, W, C) -> (N, C)."""
    images = np.asarray(image, dtype=np.float32)
    if images.ndim not in (3, 4):
        raise InputError(f"Expected (H, W, C) or (N, H, W, C), got shape {images.shape}.")
    return recipe.global_average(images)


def global_max_pool(image: np.ndarray) -> np.ndarray:
    """One maximum per channel: (H, W, C) -> (C,), or (N, H, W, C) -> (N, C)."""
    images = np.asarray(image, dtype=np.float32)
    if images.ndim not in (3, 4):
        raise InputError(f"Expected (H, W, C) or (N, H, W, C), got shape {images.shape}.")
    return tf.reduce_max(images, axis=(-3, -2)).numpy()


@dataclass(frozen=True)
class WindowView:
    """A small 2-D patch pooled by hand: each output and the input cell that won it."""

    output: np.ndarray  # (oh, ow)
    winners: list[list[tuple[int, int]]]  # per output, the patch cells that produced it


def pool_windows(patch: np.ndarray, kind: str = "max", pool_size=2, stride=None, padding: str = "valid") -> WindowView:
    """Pool a 2-D patch cell by cell (the numeric grid view); equals :func:`pool` on that patch.

    For max pooling each output lists the cell holding the maximum (first one on ties); for
    average pooling, every real (non-padding) cell of its window.
    """
    _check_kind(kind)
    patch = np.asarray(patch, dtype=np.float32)
    if patch.ndim != 2:
        raise InputError(f"Expected a 2-D patch, got shape {patch.shape}.")
    output_shape((*patch.shape, 1), pool_size, stride, padding)
    window = as_pair("pool size", pool_size)
    strides = window if stride is None else as_pair("stride", stride)
    plans = plan_2d(patch.shape, window, strides, padding)
    output = np.zeros((plans[0].output_size, plans[1].output_size), dtype=np.float32)
    winners: list[list[tuple[int, int]]] = []
    for i in range(plans[0].output_size):
        for j in range(plans[1].output_size):
            rows = [
                r - plans[0].pad_before for r in plans[0].window(i) if 0 <= r - plans[0].pad_before < patch.shape[0]
            ]
            cols = [
                c - plans[1].pad_before for c in plans[1].window(j) if 0 <= c - plans[1].pad_before < patch.shape[1]
            ]
            cells = [(r, c) for r in rows for c in cols]
            values = np.array([patch[cell] for cell in cells])
            if kind == "max":
                output[i, j] = values.max()
                winners.append([cells[int(np.argmax(values))]])
            else:
                output[i, j] = values.mean()
                winners.append(cells)
    return WindowView(output, winners)


@dataclass(frozen=True)
class InvarianceResult:
    """How much of each layer's output moved when the input shifted by a few pixels."""

    shift_pixels: int
    conv_changed: float  # fraction of (interior) conv outputs that changed
    max_changed: float  # the same for max pooling of those conv outputs
    avg_changed: float  # and for average pooling
    compared: tuple[int, int, int]  # how many values each fraction is over


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    scale = max(float(np.abs(a).max()), 1e-12)
    return np.abs(a - b) > 1e-3 * scale


def invariance(image: np.ndarray, shift_pixels: int = 1, pool_size: int = 2, kernel_size: int = 7) -> InvarianceResult:
    """Shift the image right by ``shift_pixels`` and count which outputs changed.

    A ReLU convolution with HOML's vertical-line filter makes the feature map; the same positions
    are then compared before and after the shift, for the map itself and for its max- and
    average-pooled versions (pool size = stride, VALID). Borders touched by the shift or by
    padding are left out, so the fractions speak only of the interior.
    """
    image = _check_image(image)
    shift = positive_int("shift", shift_pixels)
    size = positive_int("pool size", pool_size)
    margin = shift + kernel_size  # columns the shift or the kernel's padding can reach
    if image.shape[1] <= 2 * margin + 2 * size or image.shape[0] < kernel_size + 2 * size:
        raise InputError(f"The image ({image.shape[0]}x{image.shape[1]}) is too small for a {shift}-pixel shift test.")
    shifted = np.concatenate([np.repeat(image[:, :1], shift, axis=1), image[:, :-shift]], axis=1)
    kernel = convolution.expand_kernel(convolution.kernel_2d("vertical line", kernel_size), image.shape[2])
    before = convolution.convolve(image, kernel, activation="relu")
    after = convolution.convolve(shifted, kernel, activation="relu")
    inner = slice(margin, image.shape[1] - margin)
    conv = _changed(before[:, inner], after[:, inner])
    pooled_inner = slice(-(-margin // size), (image.shape[1] - margin) // size)
    results = []
    for kind in KINDS:
        a, b = pool(before, kind, size), pool(after, kind, size)
        results.append(_changed(a[:, pooled_inner], b[:, pooled_inner]))
    return InvarianceResult(
        shift,
        float(conv.mean()),
        float(results[0].mean()),
        float(results[1].mean()),
        (conv.size, results[0].size, results[1].size),
    )


def feature_stack(image: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Six edge and line feature maps of an image (for the depth-wise pooling demo)."""
    names = ["vertical line", "horizontal line", "sobel x", "sobel y", "laplacian", "emboss"]
    kernels = [convolution.kernel_2d(name, 7) for name in names]
    kernels = [np.pad(k, (7 - k.shape[0]) // 2) for k in kernels]  # centre the 3x3 ones in 7x7
    filters = np.concatenate([convolution.expand_kernel(k, image.shape[2]) for k in kernels], axis=3)
    return convolution.convolve(image, filters, activation="relu"), names
