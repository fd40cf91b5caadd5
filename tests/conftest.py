"""Shared test setup: offline, tiny, seeded."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# No supervisor thread inside the test process: it would outlive each test's workspace. The
# browser tests' server turns it on, and tests/test_supervisor.py runs the real one.
os.environ["CNNLAB_SUPERVISOR"] = "0"
# Warm workers that a test started leave 3 s after their last run (a server's stay 10 minutes).
os.environ.setdefault("CNNLAB_WORKER_IDLE_SECONDS", "3")


@pytest.fixture(autouse=True)
def no_handed_placement():
    """Each test starts with no workers' placement handed (local processes), and leaves none behind."""
    from lab import capacity

    capacity.use(None)
    yield
    capacity.use(None)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture
def toy_workspace(tmp_path, monkeypatch) -> Path:
    """A fresh workspace, one run at a time, and the toy run kind of tests/toykind.py registered."""
    import json

    from lab import supervision
    from tests import toykind

    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "workspace"))
    monkeypatch.setenv("CNNLAB_MAX_RUNS", "1")
    monkeypatch.setenv("CNNLAB_RUN_KINDS", json.dumps(toykind.KIND))
    yield tmp_path / "workspace"
    supervision.stop_workers()


from tests.backends import postgres_server, ray_cluster  # noqa: E402, F401  (session fixtures: real servers)

BACKENDS = ("sqlite+local", "postgres+ray")


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch) -> str:
    """Each runner test twice: SQLite + local warm workers, and PostgreSQL + workers on a local Ray cluster."""
    if request.param == "postgres+ray":
        from tests.backends import fresh_database

        monkeypatch.setenv("CNNLAB_DATABASE_URL", fresh_database(request.getfixturevalue("postgres_server")))
        monkeypatch.setenv("CNNLAB_RAY_ADDRESS", request.getfixturevalue("ray_cluster"))
    from lab import placement

    placement.install()  # as the app's entry does: the workers go to Ray
    return request.param
