"""Downloads: whether a download host answers, where Keras keeps its cache, and the weights check.

The one place that knows these, so every offline path fails in seconds with the same advice
instead of retrying for minutes: datasets, the classifier and the fine-tuner all ask here.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from lab.errors import WeightsUnavailable

DOWNLOAD_HOST = "storage.googleapis.com"  # Keras datasets and weights, tensorflow-datasets
PREFETCH_ADVICE = "On a machine with internet run `python -m lab assets`, then copy ~/.keras to this server."


def reachable(host: str = DOWNLOAD_HOST, timeout: float = 3.0) -> bool:
    """True when a TCP connection to ``host:443`` opens within ``timeout`` seconds."""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def keras_home() -> Path:
    """Keras' cache root: ``KERAS_HOME`` or ``~/.keras`` (read on every call, for tests)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))


def weights_cached(name: str) -> bool:
    """Is this ImageNet model's weights file already in the Keras cache?"""
    from models.imagenet import IMAGENET_MODELS  # here: the models package imports Keras

    return (keras_home() / "models" / IMAGENET_MODELS[name].weights_file).exists()


def require_weights(name: str) -> None:
    """Return if ``name``'s ImageNet weights are cached or downloadable; else raise, within ~3 s.

    Raises:
        WeightsUnavailable: Not cached and no network, with pre-fetch instructions.
    """
    from models.imagenet import IMAGENET_MODELS, WEIGHTS_HOST

    if weights_cached(name) or reachable(WEIGHTS_HOST):
        return
    spec = IMAGENET_MODELS[name]
    raise WeightsUnavailable(
        f"{name}'s ImageNet weights ({spec.size_mb} MB) are not in {keras_home() / 'models'} and there is no "
        f"network. {PREFETCH_ADVICE}"
    )
