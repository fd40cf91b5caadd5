"""One temporary folder per process for what libraries write to the system's temp folder.

TensorFlow, autograph and tensorflow-datasets each left a file or an empty folder in ``/tmp`` per
process. :func:`make` points Python's ``tempfile`` at a folder of this process's own (before
TensorFlow is imported: :mod:`lab.device`); it goes when the process ends normally, and
:func:`clean_ended` (the supervisor's housekeeping) removes those of processes that ended otherwise
(a warm worker leaves by ``os._exit``). No TensorFlow here: the supervisor imports it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

PREFIX = "cnnlab-scratch-"
SYSTEM_TEMP = tempfile.gettempdir()  # before make() points tempfile elsewhere: where other users' files go


def make() -> str:
    """This process's scratch folder, made once and set as ``tempfile.tempdir``."""
    folder = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=_root())
    tempfile.tempdir = folder
    atexit.register(shutil.rmtree, folder, True)
    return folder


def _root() -> str:
    """The system's temp folder (not a scratch folder this process may already have set)."""
    current = tempfile.gettempdir()
    return os.path.dirname(current) if os.path.basename(current).startswith(PREFIX) else current


def clean_ended() -> list[str]:
    """Remove the scratch folders of processes that have ended; returns their names."""
    removed = []
    root = _root()
    for name in os.listdir(root):
        pid = name[len(PREFIX) :].split("-")[0] if name.startswith(PREFIX) else ""
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
            removed.append(name)
    return removed
