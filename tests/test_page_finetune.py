"""AppTest drives the fine-tune launcher: offline tf_flowers message, zip upload, launch, result."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from lab import uploads
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


def finished_zip_run(tmp_path, data_dir=None) -> str:
    """A fine-tune run on a zip that has finished (its artifacts written as a runner writes them)."""
    import numpy as np

    from lab import jobs, runlog

    config = {"source": "zip", "data_dir": str(data_dir or tmp_path), "base_model": "MobileNetV2", "weights": None}
    run_id = jobs.create("finetune", config, status="succeeded")
    jobs.update(run_id, result='{"test_accuracy": 0.5, "classes": ["a", "b"], "parameters": {}}')

    class Saved:
        def save(self, path):
            path.write_bytes(b"model")

    labels = runlog.RunLabels(
        ["a", "b"], [96, 96, 3], "zip", "MobileNetV2 fine-tuned", runlog.IMAGENET_PIXELS, "MobileNetV2"
    )
    thumbnails = np.zeros((2, 64, 64, 3), np.uint8)
    predictions = runlog.Predictions(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 0]), thumbnails)
    runlog.save_artifacts(jobs.run_dir(run_id), Saved(), labels, predictions)
    return run_id


def test_a_run_link_shows_the_run_without_its_zip(tmp_path):
    run_id = finished_zip_run(tmp_path)
    app = page(**{"ft.source": "zip", "run": run_id})  # a reload: the upload is gone, the link is not
    assert not app.exception
    assert any(header.value == "Result" for header in app.header)
    assert next(metric.value for metric in app.metric if metric.label == "Test accuracy") == "0.5000"
    assert any("Only 2 test images" in warning.value for warning in app.warning)  # not a score to trust
    assert any("random weights" in warning.value for warning in app.warning)
    launch = next(button for button in app.button if button.label.startswith("Launch"))
    assert launch.disabled  # no data yet for a new run


def test_after_a_refresh_the_run_shows_its_code_and_crop_preview_from_its_own_settings(tmp_path):
    """The upload is gone from the browser after a refresh, but the run's staged folders are not."""
    from tests.zipgen import make_zip, shapes_members

    staged = uploads.stage_zip(make_zip(shapes_members(6)), tmp_path / "uploads", "shapes.zip")
    run_id = finished_zip_run(tmp_path, staged.path)
    app = page(**{"ft.source": "zip", "run": run_id})
    assert not app.exception and not app.error
    assert any(expander.label == "Show the code" for expander in app.expander)
    assert any(expander.label.startswith("What training sees") for expander in app.expander)
    assert 'data_dir = "shapes"' in next(block.value for block in app.code if "fine" in block.value.lower())


def test_switching_the_source_drops_an_old_runs_error():
    from lab import jobs

    run_id = jobs.create("finetune", {"source": "tf_flowers"}, status="failed")
    jobs.update(run_id, error="tf_flowers is not prepared here")
    app = page(run=run_id)
    assert any("not prepared here" in error.value for error in app.error)
    app.segmented_control(key="ft.source").set_value("zip").run()
    assert not app.exception and "run" not in app.query_params
    assert not any("not prepared here" in error.value for error in app.error)


def test_offline_tf_flowers_cannot_launch_a_run_that_would_only_fail():
    from lab import jobs

    app = page()
    launch = next(button for button in app.button if button.label.startswith("Launch"))
    assert launch.disabled and jobs.list_runs() == []
