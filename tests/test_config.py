"""lab.config: settings check themselves once, at construction, and name what is wrong."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from lab.config import Config, choice, number, whole
from lab.errors import InputError


@dataclass(frozen=True)
class Example(Config):
    what = "example"
    size: int = 3
    rate: float = 0.5
    mode: str = "same"

    def check(self) -> None:
        whole("size", self.size, 1, 10)
        number("rate", self.rate, 0, 1, low_open=True)
        choice("mode", self.mode, ("same", "valid"))


def test_defaults_are_valid_and_round_trip():
    config = Example()
    assert Example.from_dict(config.to_dict()) == config
    assert Example.from_dict({"size": 4}).size == 4


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"size": 0}, "size must be a whole number from 1 to 10, got 0"),
        ({"size": True}, "size"),
        ({"size": 2.5}, "got 2.5"),
        ({"rate": 0.0}, "above 0 and at most 1"),
        ({"rate": math.nan}, "rate"),
        ({"rate": "fast"}, "got 'fast'"),
        ({"mode": "full"}, "Unknown mode 'full'; choose one of same, valid"),
    ],
)
def test_a_bad_value_is_refused_at_construction(values, fragment):
    with pytest.raises(InputError, match=fragment):
        Example(**values)


def test_unknown_keys_are_named():
    with pytest.raises(InputError, match="Unknown example setting"):
        Example.from_dict({"colour": "red"})
