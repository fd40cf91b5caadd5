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


def test_home_says_where_to_start_and_what_each_tool_does():
    from app_pages import DESCRIPTIONS, NAVIGATION

    app = run_app()
    assert "Start here" in app.info[0].value and "Convolution playground" in app.info[0].value
    shown = " ".join(block.value for block in app.markdown)
    paths = [entry[2] for entries in NAVIGATION.values() for entry in entries]
    assert set(DESCRIPTIONS) == set(paths) and all(DESCRIPTIONS[path] in shown for path in paths)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_from_the_navigation(page):
    app = run_app()
    app.switch_page(page).run()
    assert not app.exception, app.exception
    assert not app.error, [error.value for error in app.error]


def test_streamlit_no_longer_clears_the_shared_keras_session_after_every_run(monkeypatch):
    """Streamlit calls keras.backend.clear_session() after each script run: ~120 ms per click, and a
    reset of Keras' process-wide state under other sessions' feet. app.py switches it off."""
    import keras
    from streamlit.runtime.scriptrunner import script_runner

    run_app()
    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *args, **kwargs: calls.append(1))
    script_runner._clean_problem_modules()
    assert calls == []


def test_streamlit_skips_the_full_garbage_collection_after_every_run():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False


def test_expired_disconnected_sessions_are_dropped_without_waiting_for_the_next_disconnect(monkeypatch):
    """Streamlit's session store reaps expired sessions only on a write; app.py's housekeeping
    reaches it through the runtime's private attributes, which must exist in this Streamlit."""
    import types

    from streamlit.runtime import Runtime
    from streamlit.runtime.memory_session_storage import MemorySessionStorage
    from streamlit.runtime.websocket_session_manager import WebsocketSessionManager

    from app_pages._server import expire_disconnected_sessions

    storage = MemorySessionStorage(ttl_seconds=0)
    manager = WebsocketSessionManager(
        storage, uploaded_file_manager=None, script_cache=None, message_enqueued_callback=None
    )
    storage.save(types.SimpleNamespace(session=types.SimpleNamespace(id="gone")))
    assert len(storage._cache._data) == 1  # expired, and still held: nothing wrote to the store since
    monkeypatch.setattr(Runtime, "exists", classmethod(lambda cls: True))
    monkeypatch.setattr(Runtime, "instance", classmethod(lambda cls: types.SimpleNamespace(_session_mgr=manager)))
    assert expire_disconnected_sessions() == 1
    assert storage.list() == []
