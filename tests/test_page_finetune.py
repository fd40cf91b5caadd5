"""AppTest drives the fine-tune launcher: offline tf_flowers message, zip upload, launch, result."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.pages import open_page, wait_for_run
from tests.zipgen import make_zip, shapes_members

PAGE = str(ROOT / "app_pages" / "finetune.py")


@pytest.fixture(autouse=True)
def workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "workspace"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no weights cached: the offline path


def page(**query) -> AppTest:
    return open_page("finetune", 180, **query)


def test_offline_tf_flowers_and_weights_say_how_to_prefetch():
    app = page()
    assert not app.exception
    assert any("python -m lab assets" in warning.value for warning in app.warning)


def test_hostile_zip_is_a_message():
    app = page(**{"ft.source": "zip"})
    slip = make_zip({**shapes_members(6), "../evil.png": b"x"})
    app.file_uploader(key="ft.zip").set_value(("evil.zip", slip, "application/zip")).run()
    assert not app.exception and "'..'" in app.error[0].value


@pytest.mark.slow
def test_upload_a_zip_launch_and_see_the_result():
    app = page(
        **{
            "ft.source": "zip",
            "ft.base": "MobileNetV2",
            "ft.size": "96",
            "ft.random": "true",
            "ft.e1": "1",
            "ft.e2": "1",
            "ft.batch": "16",
        }
    )
    app.file_uploader(key="ft.zip").set_value(("shapes.zip", make_zip(shapes_members(8)), "application/zip")).run()
    assert not app.exception and not app.error
    assert any("3 classes, 24 images" in caption.value for caption in app.caption)
    launch = next(button for button in app.button if button.label.startswith("Launch"))
    launch.click().run()
    run_id = app.query_params["run"]
    run = wait_for_run(app, run_id)
    assert run.status == "succeeded", run.error
    app.run()
    assert not app.exception and any(metric.label == "Test accuracy" for metric in app.metric)
