"""AppTest starts a tiny training run from the page and watches it finish."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from lab import jobs, runlog, supervision
from tests.conftest import ROOT
from tests.pages import open_page, wait_for_run

PAGE = str(ROOT / "app_pages" / "train.py")
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "workspace"))
    monkeypatch.setenv("CNNLAB_MAX_RUNS", "1")


def page(**query) -> AppTest:
    return open_page("train", 120, **query)


def train_button(app: AppTest):
    return next(button for button in app.button if button.label == "Train")


def test_train_a_tiny_run_and_see_curves_and_results(backend):
    """The same page on both backends: the page code does not know where the run goes."""
    app = page(**{"train.epochs": "2", "train.batch": "64"})
    assert not app.exception and not app.error
    train_button(app).click().run()
    run_id = app.query_params["run"]
    run = wait_for_run(app, run_id)
    assert run.status == "succeeded", run.error
    app.run()
    assert not app.exception and not app.error
    assert any("succeeded" in md.value for md in app.markdown)
    assert any(metric.label == "Test accuracy" for metric in app.metric)
    assert runlog.progress(jobs.metrics(run_id)).curves["val_accuracy"][1]  # the curves the panel draws
    supervision.stop_workers()


def test_a_planner_stack_run_renders_its_whole_results():
    """Planner -> 8x8 -> Train this network -> Train: the results crashed under "Test image" (the
    loaded stack had no symbolic input), losing the maps, downloads, Runs table and Show the code."""
    from lab import planner

    specs = [planner.LayerSpec("Conv2D", 8, (3, 3), padding="same"), planner.LayerSpec("MaxPooling2D", None, (2, 2))]
    app = page(**{"train.model": "custom", "train.stack": planner.encode_stack(specs), "train.epochs": "2"})
    train_button(app).click().run()
    run = wait_for_run(app, app.query_params["run"])
    assert run.status == "succeeded", run.error
    app.run()
    assert not app.exception and not app.error
    charts = {chart.key for chart in app.get("plotly_chart") if chart.key}
    assert "train.probs" in charts and any(key.startswith("train.maps.") for key in charts)
    assert any(expander.label == "Show the code" for expander in app.expander)
    jump = next(block.value for block in app.markdown if "Jump to" in block.value)  # a 4,500 px page
    anchors = {header.proto.anchor for header in [*app.header, *app.subheader] if header.proto.anchor}
    assert {"settings", "the-run", "inside", "take-it-with-you", "runs"} <= anchors
    assert all(f"(#{anchor})" in jump for anchor in anchors)
    supervision.stop_workers()


def test_double_click_makes_one_run():
    app = page(**{"train.epochs": "1"})
    train_button(app).click().run()
    train_button(app).click().run()
    assert len(jobs.list_runs()) == 1
    jobs.cancel(app.query_params["run"], instructor=True)  # the test cleans up: it is not the owner


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ({"train.epochs": "0"}, "epochs"),
        ({"train.epochs": "1000000"}, "epochs"),
        ({"train.batch": "0"}, "batch size"),
        ({"train.lr": "-0.5"}, "learning rate"),
    ],
)
def test_bad_settings_are_messages_and_start_nothing(query, fragment):
    app = page(**query)
    assert not app.exception
    assert fragment in app.error[0].value
    assert jobs.list_runs() == []


def test_unknown_run_in_the_url_is_a_message():
    app = page(run="does-not-exist")
    assert not app.exception and "No run" in app.error[0].value


def test_a_shared_run_link_is_view_only_for_another_browser():
    mine = page(**{"train.epochs": "150", "train.batch": "64"})
    train_button(mine).click().run()
    run_id = mine.query_params["run"]
    theirs = page(run=run_id)  # another browser session opens the shared link
    assert not theirs.exception
    assert not [button for button in theirs.button if button.label == "Cancel"]
    assert any("View only" in caption.value for caption in theirs.caption)
    cancel = next(button for button in mine.button if button.label == "Cancel")
    cancel.click().run()
    assert jobs.get(run_id).cancel_requested is not None


def test_a_planner_link_opens_the_stack_and_shows_the_planned_model():
    from lab import planner

    _, specs = planner.PRESETS["HOML Fashion-MNIST CNN"]
    app = page(**{"train.model": "custom", "train.stack": planner.encode_stack(specs)})
    assert not app.exception and not app.error
    assert app.selectbox(key="train.start").value == "link"
    assert any("1,151,690 parameters" in caption.value for caption in app.caption)  # on 8x8 digits, head for 10
    assert app.query_params["train.stack"] == planner.encode_stack(specs)  # the URL keeps the stack


def test_a_stack_that_collapses_is_refused_with_the_layer_named():
    app = page(**{"train.model": "custom", "train.stack": "conv-6-k5-tanh,avg-k2,conv-16-k5-tanh"})
    assert not app.exception
    assert "Layer 3 (Conv2D): With VALID padding" in app.error[0].value
    assert not any(button.label == "Train" for button in app.button)  # refused before any run


def test_a_hostile_stack_link_is_a_message():
    app = page(**{"train.model": "custom", "train.stack": "conv-16-k3,<script>"})
    assert not app.exception and "unknown layer" in app.error[0].value


def test_your_own_pictures_wait_for_a_zip_then_show_the_split():
    app = page(**{"train.dataset": "folders"})
    assert not app.exception and not app.error
    assert train_button(app).disabled  # nothing uploaded yet
    assert app.session_state["train.folders"] == "zip"


def page_text(app: AppTest) -> str:
    """Everything a learner can read on the page: text, tables, code."""
    parts = [element.value for kind in ("markdown", "caption", "code", "info", "warning") for element in app.get(kind)]
    parts += [frame.value.to_csv() for frame in app.dataframe]
    return "\n".join(map(str, parts))


def test_a_shared_link_to_a_run_on_uploaded_pictures_shows_numbers_not_pictures():
    """Another learner's link: the curves, numbers and the run's own settings (its data by name),
    never their pictures, their model files or a server path; each learner's Runs table is their own."""
    from tests.zipgen import make_zip, shapes_members

    mine = page(**{"train.dataset": "folders", "train.epochs": "1", "train.size": "32", "train.seed": "103"})
    mine.file_uploader(key="train.zip").set_value(("my pets.zip", make_zip(shapes_members(6)), "application/zip"))
    mine.run()
    train_button(mine).click().run()
    run_id = mine.query_params["run"]
    assert wait_for_run(mine, run_id).status == "succeeded"
    mine.run()
    assert not mine.exception and mine.get("image") and mine.get("download_button")
    theirs = page(run=run_id)
    assert not theirs.exception and not theirs.error
    assert not theirs.get("image")  # no test images, mistakes or activation inputs
    assert not [button for button in theirs.get("download_button") if button.label.endswith((".keras", ".tflite"))]
    text = page_text(theirs)
    assert "my pets.zip (3 classes)" in text and "103" in text  # the run's own data and seed
    assert str(jobs.home()) not in text and '"data_dir":' not in text and "'data_dir'" not in text  # no settings dict
    assert 'data_dir = "my_classes"' in text  # the script's setting names the folder, not where the server keeps it
    assert any("None yet" in caption.value for caption in theirs.caption)  # their own Runs: none
    theirs.toggle(key="train.others").set_value(True).run()
    runs = next(frame.value for frame in theirs.dataframe if "learner" in frame.value.columns)
    assert list(runs["run"]) == [run_id] and runs["learner"][0].startswith("learner ")
    assert runs["dataset"][0] == "my pets.zip (3 classes)"
    supervision.stop_workers()


def test_the_run_panel_says_it_is_reconnecting_while_the_registry_is_away(monkeypatch):
    """A 10 s PostgreSQL outage showed the generic error twice; the panel now waits it out."""
    import sqlite3

    run_id = jobs.create("train", {"dataset": "digits", "epochs": 1}, status="running")
    real = jobs.get
    monkeypatch.setattr(jobs, "get", lambda rid: (_ for _ in ()).throw(sqlite3.OperationalError("unreachable")))
    app = page(run=run_id)
    assert not app.exception and not app.error
    assert any("Reconnecting to the run registry" in warning.value for warning in app.warning)
    monkeypatch.setattr(jobs, "get", real)
    app.run()
    assert not app.exception and not any("Reconnecting" in warning.value for warning in app.warning)
    assert any(run_id in block.value for block in app.markdown)


def test_a_new_session_of_the_same_learner_finds_their_staged_upload(monkeypatch):
    """After a server process dies the browser reconnects to another one: the upload chip shows the
    file, the server has none. The learner's staged folders are picked up again, and the page says so."""
    from app_pages import _identity
    from tests.zipgen import make_zip, shapes_members

    monkeypatch.setattr(_identity, "owner", lambda: "learner0001")
    monkeypatch.setattr("app_pages._data.owner", lambda: "learner0001")
    first = page(**{"train.dataset": "folders"})
    first.file_uploader(key="train.zip").set_value(("pets.zip", make_zip(shapes_members(6)), "application/zip"))
    first.run()
    assert not train_button(first).disabled
    again = page(**{"train.dataset": "folders"})  # a new session: no upload in it
    assert not again.exception and not train_button(again).disabled
    assert any("pets.zip (3 classes)" in info.value and "kept on the server" in info.value for info in again.info)
