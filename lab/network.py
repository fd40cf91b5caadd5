"""The one check of whether a download host answers, so offline paths fail in seconds."""

from __future__ import annotations

import socket

DOWNLOAD_HOST = "storage.googleapis.com"  # Keras datasets and weights, tensorflow-datasets


def reachable(host: str = DOWNLOAD_HOST, timeout: float = 3.0) -> bool:
    """True when a TCP connection to ``host:443`` opens within ``timeout`` seconds."""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False
