"""TensorFlow-exact SAME/VALID arithmetic along one axis and in 2-D. Pure Python.

TensorFlow's rules, per spatial axis, with the effective kernel ``f = (k - 1) * d + 1``:

* VALID: ``out = floor((n - f) / s) + 1``; no padding; trailing cells no window reaches are dropped.
* SAME: ``out = ceil(n / s)``; total padding ``max((out - 1) * s + f - n, 0)`` split with the odd
  extra cell *after* (bottom/right), unlike PyTorch's symmetric integer padding.

This module must not import TensorFlow (it is tested): the page imports TF only when the learner
asks to verify, through :mod:`lab.padding_tf`. The layer-stack planner built on it is
:mod:`lab.planner`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

from lab.errors import InputError, describe_value
from recipes import padding as recipe

PADDINGS = ("valid", "same")
MAX_SIZE = 1 << 20  # per axis: far past any image, and small enough for every figure and widget
Pair = tuple[int, int]


def positive_int(name: str, value: object, where: str = "") -> int:
    prefix = f"{where}: " if where else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(value)
        else:
            raise InputError(f"{prefix}{name} must be a whole number, got {describe_value(value)}.")
    if value < 1:
        raise InputError(f"{prefix}{name} must be at least 1, got {value}.")
    return int(value)


def padding_mode(value: object, where: str = "") -> str:
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
        return positive_int(name, value[0], where), positive_int(name, value[1], where)
    size = positive_int(name, value, where)
    return size, size


def effective_kernel(kernel_size: int, dilation: int = 1) -> int:
    """Span of a dilated kernel: ``(k - 1) * d + 1``."""
    return (positive_int("kernel size", kernel_size) - 1) * positive_int("dilation", dilation) + 1


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
    n = positive_int("input size", input_size)
    s = positive_int("stride", stride)
    f = effective_kernel(kernel_size, dilation)
    if padding_mode(padding) == "valid" and f > n:
        raise InputError(
            f"With VALID padding the kernel ({f} cells after dilation) must fit in the input ({n} cells); "
            "use SAME padding or a smaller kernel."
        )
    return recipe.output_size(n, int(kernel_size), s, int(dilation), padding_mode(padding))


def same_padding(input_size: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding (before, after) for one axis; the odd cell goes after."""
    n = positive_int("input size", input_size)
    s = positive_int("stride", stride)
    effective_kernel(kernel_size, dilation)  # checks both
    return recipe.same_pads(n, int(kernel_size), s, int(dilation))


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
    for name, value in (
        ("input size", input_size),
        ("kernel size", kernel_size),
        ("stride", stride),
        ("dilation", dilation),
    ):
        if positive_int(name, value) > MAX_SIZE:
            raise InputError(f"The {name} must be at most {MAX_SIZE:,}, got {value:,}.")
    output = conv_output_size(input_size, kernel_size, stride, padding, dilation)
    before, after = (
        same_padding(input_size, kernel_size, stride, dilation) if padding_mode(padding) == "same" else (0, 0)
    )
    return AxisPlan(
        int(input_size), int(kernel_size), int(stride), int(dilation), padding_mode(padding), output, before, after
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


OPS = ("conv", "max", "avg")  # Conv2D, MaxPooling2D, AveragePooling2D


@dataclass(frozen=True)
class PaddingConfig:
    """The Padding calculator's settings (recipes/padding.py opens with the same names and defaults)."""

    input_size: tuple[int, int] = (7, 8)  # height, width of the input
    kernel_size: tuple[int, int] = (3, 3)  # the kernel (or pooling window) per axis
    stride: tuple[int, int] = (2, 2)  # the step between windows per axis
    dilation: tuple[int, int] = (1, 1)  # the gap between kernel taps per axis (1: dense)
    padding: str = "same"  # "same" or "valid"
    op: str = "conv"  # "conv", "max" or "avg"
    channels: int = 3  # input channels of the random test image

    def plans(self) -> tuple[AxisPlan, AxisPlan]:
        """Both axes' plans; raises :class:`InputError` for sizes TensorFlow would refuse."""
        if self.op not in OPS:
            raise InputError(f"Unknown layer {describe_value(self.op)}; choose one of {', '.join(OPS)}.")
        positive_int("channels", self.channels)
        return plan_2d(self.input_size, self.kernel_size, self.stride, self.padding, self.dilation)
