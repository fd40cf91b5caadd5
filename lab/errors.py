"""Errors the lab raises for bad input.

Every refusal of user input is an :class:`InputError`, a ``ValueError`` subclass whose message a
learner can read: it says what was received and what is accepted. Pages show it with
``st.error``; anything else escaping lab is a bug.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input from a user: an upload, a widget value or a table cell."""


class WeightsUnavailable(InputError):
    """ImageNet weights are not cached and cannot be downloaded (the environment, not the learner)."""


def describe_value(value: object, limit: int = 60) -> str:
    """A short, safe rendering of a received value for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
