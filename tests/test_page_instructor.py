"""AppTest: the instructor page is locked without the token; with it, the room, cancel and the class table."""

from __future__ import annotations

import pytest

from lab import jobs
from tests.pages import open_page


@pytest.fixture(autouse=True)
def workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "workspace"))
    monkeypatch.setenv("CNNLAB_INSTRUCTOR_TOKEN", "s3cret")


def finished(owner: str, accuracy: float, parameters: int) -> str:
    run_id = jobs.create(
        "train", {"dataset": "digits", "model": "small_cnn", "epochs": 2}, status="running", owner=owner
    )
    jobs.log_metrics(run_id, [(1, -1, "val_accuracy", accuracy)])
    jobs.update(run_id, status="succeeded", result=f'{{"test_accuracy": {accuracy}, "parameters": {parameters}}}')
    return run_id


def test_without_the_token_nothing_is_shown():
    finished("alice0000", 0.9, 10_000)
    for query in ({}, {"instructor": "guess"}):
        app = open_page("instructor", **query)
        assert not app.exception
        assert any("instructor=<token>" in info.value for info in app.info)
        assert not app.dataframe and not app.button


def test_the_instructor_sees_the_room_cancels_a_run_and_ranks_the_class():
    finished("alice0000", 0.91, 12_000)
    finished("bob000000", 0.97, 30_000)  # over the default 20,000 budget
    waiting = jobs.create("train", {"dataset": "digits", "model": "small_cnn", "epochs": 2}, owner="carol0000")
    app = open_page("instructor", instructor="s3cret")
    assert not app.exception and not app.error
    room, ranking = app.dataframe[0].value, app.dataframe[1].value
    assert len(room) == 3 and set(room["learner"]) == {"learner alice0", "learner bob000", "learner carol0"}
    assert list(ranking["learner"]) == ["learner alice0"] and ranking.iloc[0]["parameters"] == 12_000
    app.multiselect(key="teach.stop").set_value([waiting]).run()
    next(button for button in app.button if button.key == "teach.cancel").click().run()
    assert jobs.get(waiting).status == "cancelled"
    app.number_input(key="teach.budget").set_value(0).run()  # any size: bob's bigger model wins
    assert list(app.dataframe[1].value["learner"]) == ["learner bob000", "learner alice0"]


def test_the_per_learner_limit_applies_to_the_whole_room():
    app = open_page("instructor", instructor="s3cret")
    app.number_input(key="teach.limit").set_value(2).run()
    next(button for button in app.button if button.key == "teach.apply").click().run()
    assert jobs.runs_per_learner() == 2
