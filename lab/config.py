"""The one base for every tool's settings: a frozen dataclass that checks itself once, when built.

A tool's settings are a ``@dataclass(frozen=True)`` subclass of :class:`Config` with commented
defaults (nanoGPT's ``GPTConfig``). It lists its checks in :meth:`Config.check`, using the helpers
below; they run in ``__post_init__``, so a config that exists is a valid config: pages, the CLI and
the worker build one with keywords (``TrainConfig(epochs=3)``) and never validate it again.

``to_dict``/``from_dict`` are the run registry's JSON form; ``from_dict`` refuses unknown keys.
Every refusal is an :class:`~lab.errors.InputError` that names the setting and echoes the value.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from dataclasses import asdict, dataclass, fields
from typing import ClassVar, Self

from lab.errors import InputError, describe_value


@dataclass(frozen=True)
class Config:
    """Base of every settings dataclass (subclasses add fields and override :meth:`check`)."""

    what: ClassVar[str] = "tool"  # for messages: "Unknown training setting(s): ..."

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise :class:`InputError` naming the first bad setting (subclasses override)."""

    @classmethod
    def from_dict(cls, values: dict) -> Self:
        """Build from the registry's JSON form; unknown keys are refused, missing ones take defaults."""
        unknown = set(values) - {field.name for field in fields(cls)}
        if unknown:
            raise InputError(f"Unknown {cls.what} setting(s): {', '.join(sorted(unknown))}.")
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)

    def memory_bytes(self) -> int | None:
        """Accelerator memory a run of these settings needs (a run kind's figure, which GPUs are
        packed by: :func:`lab.supervision.claim`); None: the kind cannot tell, and a run takes one slot's share."""
        return None


def whole(name: str, value: object, low: int, high: int) -> int:
    """``value`` if it is an int (not a bool) in ``[low, high]``; else a message naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise InputError(f"The {name} must be a whole number from {low:,} to {high:,}, got {describe_value(value)}.")
    return int(value)


def number(name: str, value: object, low: float, high: float, *, low_open: bool = False) -> float:
    """``value`` if it is a finite real in ``[low, high]`` (``(low, high]`` with ``low_open``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (low < value if low_open else low <= value) and value <= high
    if not ok:
        span = f"above {low:g} and at most {high:g}" if low_open else f"from {low:g} to {high:g}"
        raise InputError(f"The {name} must be a number {span}, got {describe_value(value)}.")
    return float(value)


def choice(name: str, value: object, options: Collection) -> object:
    """``value`` if it is one of ``options``; else a message listing them."""
    if value not in options:
        listed = ", ".join(str(option) for option in options)
        raise InputError(f"Unknown {name} {describe_value(value)}; choose one of {listed}.")
    return value
