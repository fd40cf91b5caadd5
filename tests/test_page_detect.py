"""AppTest drives the Detect page: every step renders, bad settings are messages, a real grid run
(through a worker) shows its grid, NMS steps and COCO numbers, and opens in the PR / mAP explorer."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from lab import detect, jobs, runlog
from tests.pages import open_page, wait_for_run

TINY = {"train_canvases": "120", "test_canvases": "12", "epochs": "1"}


@pytest.fixture(autouse=True)
def workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "workspace"))


def page(**query) -> AppTest:
    return open_page("detect", 180, **query)


def test_every_step_renders_its_settings_samples_and_code():
    app = page()
    assert not app.exception and not app.error
    for step in detect_steps():
        app.segmented_control(key="det.step").set_value(step).run()
        assert not app.exception and not app.error, step
        assert any(button.label.startswith("Train (") for button in app.button)
        assert app.expander  # the canvases' settings and "Show the code"


def detect_steps() -> list[str]:
    from app_pages._detect import STEPS

    return list(STEPS)


def test_a_grid_the_canvas_does_not_divide_is_a_message_and_keeps_the_settings():
    app = page(**{"det.step": "grid", "det.grid.grid_size": "7", "det.grid.epochs": "3"})
    assert not app.exception
    assert "7x7 grid" in app.error[0].value and "4, 8, 16" in app.error[0].value
    assert app.number_input(key="det.grid.epochs").value == 3


def finished_run(tmp_path, task: str) -> str:
    """A detect run trained in this process (as a worker would), registered as succeeded."""
    config = detect.for_task(task, train_canvases=120, test_canvases=12, epochs=1)
    run_id = jobs.create("detect", config.to_dict(), status="succeeded")
    result = detect.run(config, jobs.run_dir(run_id), runlog.RunLog(lambda rows: None))
    jobs.update(run_id, result=json.dumps(result))
    return run_id


def test_each_step_shows_its_finished_run(tmp_path):
    localize = finished_run(tmp_path, "localize")
    app = page(**{"det.step": "localize", "run": localize})
    assert not app.exception and not app.error
    assert {"Mean test IoU", "Random boxes' IoU"} <= {metric.label for metric in app.metric}
    crops = finished_run(tmp_path, "crops")
    app = page(**{"det.step": "fcn", "run": crops})
    assert not app.exception and not app.error
    difference = next(metric.value for metric in app.metric if metric.label.startswith("Max |FCN"))
    assert float(difference) <= 1e-5
    assert any("faster than looping" in markdown.value for markdown in app.markdown)


def test_nms_steps_forward_and_its_thresholds_are_in_the_link(tmp_path):
    grid = finished_run(tmp_path, "grid")
    app = page(**{"det.step": "nms", "run": grid, "det.nms.score": "0.0", "det.nms.iou": "0.3"})
    assert not app.exception and not app.error
    shown = app.slider(key="det.nms.shown").value
    next_step = next(button for button in app.button if button.label == "Next step")
    next_step.click().run()
    assert app.slider(key="det.nms.shown").value == shown + 1
    assert app.slider(key="det.nms.iou").value == 0.3


def test_a_link_to_another_tasks_run_says_which_step_shows_it(tmp_path):
    crops = finished_run(tmp_path, "crops")
    app = page(**{"det.step": "grid", "run": crops})
    assert not app.exception
    assert any("trained step **crops**" in info.value for info in app.info)


def test_the_score_step_opens_the_run_in_the_explorer(tmp_path):
    grid = finished_run(tmp_path, "grid")
    app = page(**{"det.step": "score", "run": grid})
    assert not app.exception and not app.error
    assert {"COCO AP@[.5:.95]", "VOC AP@0.5"} <= {metric.label for metric in app.metric}
    explorer = open_page("pr", 120, **{"pr.input": "detections", "pr.run": grid})
    assert not explorer.exception and not explorer.error
    ours = next(metric.value for metric in explorer.metric if metric.label == "COCO mAP@[.5:.95]")
    assert float(ours) == pytest.approx(jobs.get(grid).result["AP"], abs=1e-4)
    bad = open_page("pr", 120, **{"pr.input": "detections", "pr.run": "../../etc"})
    assert not bad.exception and bad.error  # an unknown run is a message, never a path


@pytest.mark.slow
def test_train_a_tiny_grid_detector_through_a_worker():
    app = page(**{"det.step": "grid", **{f"det.grid.{name}": value for name, value in TINY.items()}})
    next(button for button in app.button if button.label.startswith("Train (")).click().run()
    run = wait_for_run(app, app.query_params["run"])
    assert run.status == "succeeded", run.error
    app.run()
    assert not app.exception and not app.error
    charts = {chart.key for chart in app.get("plotly_chart") if chart.key}
    assert {"det.samples", "det.grid"} <= charts  # the samples, and the grid over a test canvas


def test_annotated_pictures_are_staged_and_a_hostile_zip_is_a_message():
    from tests.test_annotated import coco_zip, scene
    from tests.zipgen import make_zip

    app = page(**{"det.step": "grid", "det.grid.own": "true", "det.grid.epochs": "2"})
    assert not app.exception
    train = next(button for button in app.button if button.label.startswith("Train ("))
    assert train.disabled  # nothing uploaded yet
    app.file_uploader(key="det.grid.zip").set_value(("mine.zip", make_zip({"../evil.png": b"x"}), "application/zip"))
    app.run()
    assert not app.exception and "'..'" in app.error[0].value
    assert app.number_input(key="det.grid.epochs").value == 2  # nothing lost
    files, boxes, labels = scene()
    app.file_uploader(key="det.grid.zip").set_value(("mine.zip", coco_zip(files, boxes, labels), "application/zip"))
    app.run()
    assert not app.exception and not app.error
    assert "12 pictures" in app.success[0].value and "cat, dog" in app.success[0].value
    assert not next(button for button in app.button if button.label.startswith("Train (")).disabled
    code = app.expander[-1]
    assert code is not None
