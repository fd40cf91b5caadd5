"""AppTest drives the Segment page: it renders, bad settings are messages that keep the form, a finished run
shows its scores, masks, confusion and its upsampling done by hand, and a real run goes through a worker."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from lab import jobs, runlog, segment
from tests.pages import open_page, wait_for_run

TINY = {"train_canvases": 120, "test_canvases": 12, "epochs": 1}


@pytest.fixture(autouse=True)
def workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "workspace"))


def page(**query) -> AppTest:
    return open_page("segment", 180, **query)


def test_the_page_renders_its_samples_settings_and_code():
    app = page()
    assert not app.exception and not app.error
    assert {chart.key for chart in app.get("plotly_chart")} >= {"seg.samples"}
    assert any(button.label == "Train (U-Net)" for button in app.button)
    app.toggle(key="seg.skips").set_value(False).run()
    assert any(button.label == "Train (no skips)" for button in app.button)
    assert app.query_params["seg.skips"] == "false"
    assert "Conv2DTranspose" in app.expander[-1].code[0].value  # "Show the code"


def test_a_depth_the_canvas_cannot_take_is_a_message_and_keeps_the_settings():
    app = page(**{"seg.depth": "5", "seg.epochs": "4"})
    assert not app.exception
    assert "cannot be halved 5 times" in app.error[0].value
    assert app.number_input(key="seg.epochs").value == 4


def finished_run(**values) -> str:
    """A segment run trained in this process (as a worker would), registered as succeeded."""
    config = segment.SegmentConfig(**{**TINY, **values})
    run_id = jobs.create("segment", config.to_dict(), status="succeeded")
    result = segment.run(config, jobs.run_dir(run_id), runlog.RunLog(lambda rows: None))
    jobs.update(run_id, result=json.dumps(result))
    return run_id


def test_a_finished_run_shows_its_scores_masks_confusion_and_upsampling():
    run_id = finished_run()
    app = page(run=run_id, **{"seg.rank": "2"})
    assert not app.exception and not app.error
    assert {"mIoU", "Foreground IoU", "Pixel accuracy"} <= {metric.label for metric in app.metric}
    assert {"seg.ious", "seg.masks", "seg.confusion"} <= {chart.key for chart in app.get("plotly_chart")}
    assert app.slider(key="seg.rank").value == 2
    assert any("largest difference from the layer's own output is **0.0e+00**" in m.value for m in app.markdown)
    assert any(button.label.startswith("See a transposed convolution") for button in app.button)  # the link


def test_the_convolution_page_opens_its_transposed_explainer_at_the_linked_settings():
    app = open_page("convolution", 120, **{"conv.t_kernel": "2", "conv.t_stride": "2", "conv.t_size": "6"})
    assert not app.exception
    assert app.slider(key="conv.t_kernel").value == 2 and app.slider(key="conv.t_size").value == 6
    assert any("turns 6x6 into **12x12**" in markdown.value for markdown in app.markdown)


@pytest.mark.slow
def test_train_a_tiny_segmenter_through_a_worker_and_compare_runs():
    app = page(**{f"seg.{name}": str(value) for name, value in TINY.items()})
    next(button for button in app.button if button.label == "Train (U-Net)").click().run()
    run = wait_for_run(app, app.query_params["run"])
    assert run.status == "succeeded", run.error
    app.run()
    assert not app.exception and not app.error
    assert "seg.masks" in {chart.key for chart in app.get("plotly_chart")}
    assert app.dataframe  # the runs table: this learner's run with its mIoU
    app.multiselect(key="segment.compare").set_value([run.id]).run()
    assert not app.exception and "segment.overlay" in {chart.key for chart in app.get("plotly_chart")}
