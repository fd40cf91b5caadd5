"""AppTest: the entry point and every page run without an exception."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app_pages import NAVIGATION
from tests.conftest import ROOT

TIMEOUT = 120  # TensorFlow's first import alone takes several seconds here
PAGES = sorted(entry[0] for entries in NAVIGATION.values() for entry in entries)


def run_app() -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    app.run()
    return app


def test_home_renders_with_device_panel():
    app = run_app()
    assert not app.exception
    assert app.title[0].value == "CNN Lab"
    labels = [metric.label for metric in app.metric]
    assert {"TensorFlow", "Keras", "CPU cores", "GPUs"} <= set(labels)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_from_the_navigation(page):
    app = run_app()
    app.switch_page(page).run()
    assert not app.exception, app.exception
    assert not app.error, [error.value for error in app.error]
