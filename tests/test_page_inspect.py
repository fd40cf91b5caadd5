"""AppTest drives the Inspect page: a trained digits model's neuron, its field, terms and check, a
pooling and a dense neuron, a neuron outside its layer (clamped by the widget, refused by the lab)."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from lab import jobs, runlog, training
from tests.pages import open_page


@pytest.fixture(autouse=True)
def workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "workspace"))


def finished_run() -> str:
    config = training.TrainConfig(epochs=1)
    run_id = jobs.create("train", config.to_dict(), status="succeeded")
    result = training.run(config, jobs.run_dir(run_id), runlog.RunLog(lambda rows: None))
    jobs.update(run_id, result=json.dumps(result))
    return run_id


def page(**query) -> AppTest:
    return open_page("inspect", 180, **query)


def test_without_a_run_the_page_says_where_models_come_from():
    app = page()
    assert not app.exception and "Train page" in app.info[0].value


def test_a_conv_neuron_of_a_trained_model_adds_up_to_the_models_value():
    run_id = finished_run()
    app = page(**{"inspect.run": run_id, "inspect.row": "4", "inspect.col": "2", "inspect.channel": "5"})
    assert not app.exception and not app.error
    difference = next(metric.value for metric in app.metric if metric.label.startswith("Largest"))
    assert float(difference) <= 1e-4
    assert any(metric.label == "Receptive field" and metric.value.startswith("3 x 3") for metric in app.metric)
    assert (
        len(app.dataframe) == 6
    )  # the terms, the steps, the cascade; the field, Grad-CAM and deletion figures as tables
    assert app.success or app.warning  # the trust checks' sentence
    assert any("rank correlation" in (item.value or "") for item in [*app.success, *app.warning])
    names = app.selectbox(key="inspect.layer").options
    pool = next(name for name in names if "MaxPooling2D" in name).split(" (")[0]
    app.selectbox(key="inspect.layer").select(pool).run()
    assert not app.exception and any("won the window" in markdown.value for markdown in app.markdown)
    dense = next(name for name in names if "predictions" in name).split(" (")[0]
    app.selectbox(key="inspect.layer").select(dense).run()
    assert not app.exception and not app.error


def test_a_link_to_a_run_that_is_not_a_finished_training_run_is_a_message():
    run_id = jobs.create("train", training.TrainConfig().to_dict(), status="queued")
    app = page(**{"inspect.run": run_id})
    assert not app.exception and "queued" in app.error[0].value


def test_an_imagenet_models_depthwise_neuron_adds_up_and_its_grad_cam_is_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no weights here: random ones, offline
    query = {
        "inspect.source": "imagenet",
        "inspect.imagenet": "MobileNetV2",
        "inspect.photo": "flower",
        "inspect.trust": "true",
    }
    app = page(**query, **{"inspect.layer": "expanded_conv_depthwise", "inspect.row": "0", "inspect.col": "111"})
    assert not app.exception and not app.error
    assert any("random weights" in caption.value for caption in app.caption)
    difference = next(metric.value for metric in app.metric if metric.label.startswith("Largest"))
    assert float(difference) <= 1e-4
    assert any("rank correlation" in (item.value or "") for item in [*app.success, *app.warning])


def test_a_fine_tuned_models_base_is_inspected_on_a_sample_photo():
    import numpy as np

    from lab.device import keras
    from recipes import finetune

    keras.utils.set_random_seed(0)
    model, _ = finetune.build("MobileNetV2", None, 96, 3)
    run_id = jobs.create(
        "finetune", {"source": "zip", "base_model": "MobileNetV2", "weights": None}, status="succeeded"
    )
    labels = runlog.RunLabels(
        ["a", "b", "c"], [96, 96, 3], "zip", "MobileNetV2 fine-tuned", runlog.IMAGENET_PIXELS, "MobileNetV2"
    )
    predictions = runlog.Predictions(np.eye(3), np.arange(3), np.zeros((3, 64, 64, 3), np.uint8))
    runlog.save_artifacts(jobs.run_dir(run_id), model, labels, predictions)
    app = page(**{"inspect.run": run_id, "inspect.layer": "block_1_depthwise", "inspect.row": "2", "inspect.col": "5"})
    assert not app.exception and not app.error
    assert "block_1_depthwise" in app.selectbox(key="inspect.layer").value
    assert float(next(m.value for m in app.metric if m.label.startswith("Largest"))) <= 1e-4
