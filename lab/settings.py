"""Process settings: every ``CNNLAB_*`` environment variable, its type, default and why, in one place.

Everything reads them through :func:`get` (at call time, so a test's ``monkeypatch.setenv`` and a
workshop's ``export`` take effect), never through ``os.environ`` directly: ``tests/test_settings.py``
fails on such a read elsewhere and checks the README's table against :data:`SETTINGS`. A value that
does not parse as its type falls back to the default (a typo must not stop a server).
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    """One environment variable: what it holds and why it exists."""

    name: str
    kind: type  # str, int, float or bool
    default: object  # None: unset means "not configured" (or computed, as said in ``why``)
    why: str

    def read(self):
        raw = os.environ.get(self.name)
        if raw is None or raw == "":
            return self.default
        if self.kind is bool:
            return raw.strip().lower() in ("1", "true", "yes", "on")
        try:
            return self.kind(raw)
        except ValueError:
            return self.default


SETTINGS: dict[str, Setting] = {
    setting.name: setting
    for setting in (
        Setting("CNNLAB_HOME", str, None, "the workspace: registry, runs, uploads (default ./workspace)"),
        Setting("CNNLAB_DATABASE_URL", str, None, "the run registry in PostgreSQL instead of SQLite"),
        Setting("CNNLAB_RAY_ADDRESS", str, None, "warm workers as Ray actors on that cluster"),
        Setting("CNNLAB_MAX_RUNS", int, None, "runs trained at once (default: GPUs x runs per GPU, or CPU slots)"),
        Setting("CNNLAB_RUNS_PER_GPU", int, 1, "small runs packed on each GPU"),
        Setting("CNNLAB_GPU_MEMORY_FRACTION", float, 0.9, "share of a GPU's memory runs may be packed into"),
        Setting("CNNLAB_RUNS_PER_LEARNER", int, 1, "active runs per learner (the instructor page overrides it)"),
        Setting("CNNLAB_MAX_QUEUED", int, 100, "runs waiting in the whole room: no client can fill the queue"),
        Setting("CNNLAB_WARM_WORKERS", int, 0, "workers started before anyone presses Train (make run: 1)"),
        Setting("CNNLAB_WORKER_IDLE_SECONDS", float, 600.0, "a worker beyond the warm ones leaves after this idle"),
        Setting("CNNLAB_HEARTBEAT_SECONDS", float, 30.0, "a worker on another host unheard this long is dead"),
        Setting("CNNLAB_REUSE_TRACES", bool, True, "warm workers reuse their last traced model (0: the comparison)"),
        Setting("CNNLAB_CHECKPOINT_SECONDS", float, 5.0, "at most one checkpoint per this many seconds of a run"),
        Setting("CNNLAB_DISK_BUDGET_GB", float, 20.0, "runs and uploads past it: the oldest unpinned runs expire"),
        Setting("CNNLAB_HOUSEKEEPING_SECONDS", float, 600.0, "how often the supervisor cleans uploads and runs"),
        Setting("CNNLAB_SUPERVISOR", bool, True, "the app's own supervisor thread (0: one runs elsewhere)"),
        Setting("CNNLAB_RUN_KINDS", str, None, "extra run kinds, JSON {kind: [config, runner]} (tests)"),
        Setting("CNNLAB_INSTRUCTOR_TOKEN", str, None, "opens the Instructor page and lets it control any run"),
        Setting("CNNLAB_ALLOW_MODEL_UPLOAD", bool, False, "the classifier accepts .keras uploads (never in public)"),
        Setting("CNNLAB_MALLOC_ARENAS", int, 2, "glibc malloc arenas per server process (0: glibc's default)"),
        Setting("CNNLAB_COOKIE_SECRET", str, None, "one cookie secret for a workshop's processes (default: a file)"),
    )
}


def get(name: str):
    """The current value of ``name`` (one of :data:`SETTINGS`), parsed, or its default."""
    return SETTINGS[name].read()
