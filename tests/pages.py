"""Helpers shared by the AppTest page tests."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

from lab import jobs
from tests.conftest import ROOT


def open_page(name: str, timeout: float = 120, **query) -> AppTest:
    """Run ``app_pages/<name>.py`` with ``query`` in the URL (TF imports need a long timeout)."""
    app = AppTest.from_file(str(ROOT / "app_pages" / f"{name}.py"), default_timeout=timeout)
    for key, value in query.items():
        app.query_params[key] = value
    return app.run()


def metric(app: AppTest, label: str) -> str:
    return next(item.value for item in app.metric if item.label == label)


def wait_for_run(app: AppTest, run_id: str, timeout: float = 180) -> jobs.Run:
    """Rerun the page, as its live fragment would, until the run is no longer active."""
    deadline = time.monotonic() + timeout
    while jobs.get(run_id).active and time.monotonic() < deadline:
        time.sleep(1)
        app.run()
    return jobs.get(run_id)
