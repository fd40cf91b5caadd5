"""Ownership: a run belongs to the browser that made it (an HMAC of its cookie under the workspace key),
and only its owner or an instructor may cancel or resume it."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import tempfile
from pathlib import Path

from lab import settings, workspace
from lab.errors import InputError


class NotYours(InputError):
    """Someone who did not start a run tried to cancel or resume it."""


def key_file(path: Path, size: int = 32) -> bytes:
    """A random key made once and kept: written whole to a private temporary file, then linked into
    place (atomic, and the first of several processes wins). A key file left empty or short (a full
    disk once cut a write) is replaced, never used: an empty key would make every token guessable."""
    path = Path(path)
    with contextlib.suppress(FileNotFoundError):
        if len(found := path.read_bytes()) >= size:
            return found
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:  # mkstemp makes it 0o600
            handle.write(os.urandom(size))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(partial, path)
        except FileExistsError:
            if len(path.read_bytes()) < size:
                os.replace(partial, path)  # the damaged one goes; this whole one takes its place
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
    return path.read_bytes()


def _secret() -> bytes:
    """The workspace's random key for owner tokens (made once, readable by the server only)."""
    return key_file(workspace.home() / "owner.key")


def owner_token(browser_key: str | bytes) -> str:
    """The owner token of a browser: an HMAC of its own secret (e.g. its XSRF cookie) under the
    workspace key, so neither a run id nor the database gives away a browser's identity."""
    data = browser_key.encode() if isinstance(browser_key, str) else bytes(browser_key)
    return hmac.new(_secret(), data, hashlib.sha256).hexdigest()[:32]


def instructor(token: str | None) -> bool:
    """True when ``token`` is ``CNNLAB_INSTRUCTOR_TOKEN`` (compared in constant time)."""
    expected = settings.get("CNNLAB_INSTRUCTOR_TOKEN") or ""
    return bool(expected and token) and hmac.compare_digest(expected.encode(), str(token).encode())


def may_control(run, owner: str | None, is_instructor: bool = False) -> bool:
    """Whether ``owner`` may cancel or resume ``run`` (a :class:`lab.jobs.Run`): its owner, an instructor, or anyone for a run
    made without an owner (the command line)."""
    return is_instructor or run.owner is None or (owner is not None and hmac.compare_digest(run.owner, owner))


def check_control(run, owner: str | None, is_instructor: bool, action: str) -> None:
    if not may_control(run, owner, is_instructor):
        raise NotYours(f"This run belongs to another learner: you can watch it, but only they can {action} it.")
