"""lab.classroom: the room's rows and the class table (who has the best run under the budget)."""

from __future__ import annotations

import pytest

from lab import classroom, jobs
from lab.errors import InputError


def run(
    run_id, owner, accuracy_key=None, *, parameters=15_000, dataset="digits", status="succeeded", created=1.0, **config
):
    return jobs.Run(
        id=run_id,
        kind="train",
        config={"dataset": dataset, "model": "small_cnn", "epochs": 10, **config},
        status=status,
        created=created,
        started=None,
        finished=None,
        pid=None,
        error=None,
        result={"test_accuracy": 0.9, "parameters": parameters} if parameters is not None else {"test_accuracy": 0.9},
        resumes=0,
        cancel_requested=None,
        owner=owner,
    )


def test_each_learner_appears_once_with_their_best_run_under_the_budget():
    runs = [
        run("a1", "alice0000", created=1),
        run("a2", "alice0000", created=2),
        run("b1", "bob000000", parameters=25_000),  # over the budget: does not count
        run("b2", "bob000000", parameters=12_000),
        run("c1", "carol0000", dataset="mnist"),  # another dataset
        run("d1", "dave00000", status="failed"),
        run("e1", "erin00000", parameters=None),  # no parameter count recorded: never guessed
    ]
    best = {"a1": 0.95, "a2": 0.97, "b1": 0.99, "b2": 0.97, "c1": 0.99, "d1": 0.99, "e1": 0.99}
    table = classroom.class_table(runs, best, classroom.Exercise("digits", 20_000))
    assert [(row["place"], row["learner"], row["run"]) for row in table] == [
        (1, "learner bob000", "b2"),  # ties on accuracy: fewer parameters first
        (2, "learner alice0", "a2"),
    ]
    assert table[0]["parameters"] == 12_000 and table[0]["model"] == "small_cnn"


def test_without_a_budget_every_size_counts():
    runs = [run("b1", "bob000000", parameters=25_000), run("e1", "erin00000", parameters=None)]
    table = classroom.class_table(runs, {"b1": 0.9, "e1": 0.8}, classroom.Exercise("digits", None))
    assert [row["run"] for row in table] == ["b1", "e1"]


@pytest.mark.parametrize("budget", [0, -5, 10**10, 2.5, True, "20k"])
def test_a_bad_budget_is_refused_with_what_was_given(budget):
    with pytest.raises(InputError, match="parameter budget"):
        classroom.Exercise("digits", budget)


def test_room_rows_name_the_learner_and_the_best_accuracy():
    rows = classroom.room_rows([run("a1", "alice0000"), run("x", None)], {"a1": 0.93})
    assert rows[0]["learner"] == "learner alice0" and rows[0]["best val accuracy"] == 0.93
    assert rows[1]["learner"] == "command line" and rows[1]["best val accuracy"] is None


def test_best_metric_and_the_room_limit_live_in_the_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path))
    monkeypatch.delenv("CNNLAB_RUNS_PER_LEARNER", raising=False)
    first = jobs.create("train", {"dataset": "digits"}, status="running")
    jobs.log_metrics(first, [(0, -1, "val_accuracy", 0.5), (1, -1, "val_accuracy", 0.8), (1, 3, "val_accuracy", 0.99)])
    assert jobs.best_metric("val_accuracy", [first, "nothing"]) == {first: 0.8}  # epoch rows only
    assert jobs.runs_per_learner() == 1
    jobs.set_runs_per_learner(3)
    assert jobs.runs_per_learner() == 3  # every web process reads it from the registry
    with pytest.raises(InputError, match="from 1 to 20"):
        jobs.set_runs_per_learner(0)


def test_the_class_table_says_why_finished_runs_are_left_out():
    """The default exercise (digits under 20,000) was empty and silent: the default small_cnn is larger."""
    runs = [
        run("a1", "alice0000", parameters=62_250),
        run("a2", "alice0000", parameters=30_000),
        run("e1", "erin0000", parameters=None),
    ]
    best = {"a1": 0.97, "a2": 0.95, "e1": 0.9}
    exercise = classroom.Exercise("digits", 20_000)
    assert classroom.class_table(runs, best, exercise) == []
    why = classroom.left_out(runs, best, exercise)
    assert why.startswith("2 finished digits run(s) are over the 20,000-parameter budget (the smallest has 30,000")
    assert "1 run(s) recorded no parameter count" in why
    assert classroom.left_out(runs, best, classroom.Exercise("digits", None)) is None


def test_room_rows_show_how_far_each_run_is():
    rows = classroom.room_rows([run("a1", "alice0000")], {}, {"a1": 3})
    assert rows[0]["progress"] == f"3/{run('a1', 'x').config['epochs']} epochs"
