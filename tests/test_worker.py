"""lab.worker: kinds are a table, not an if-chain; a toy third kind runs through a real worker process."""

from __future__ import annotations

import time

import pytest

from lab import jobs, runlog, worker
from lab.errors import InputError
from tests import toykind


@pytest.fixture(autouse=True)
def workspace(toy_workspace):
    return toy_workspace


def wait_until_done(run_id: str, timeout: float = 60) -> jobs.Run:
    deadline = time.monotonic() + timeout
    while jobs.get(run_id).active and time.monotonic() < deadline:
        jobs.schedule()
        time.sleep(0.1)
    return jobs.get(run_id)


def test_the_table_names_the_two_kinds_and_resolves_them():
    assert set(worker.KINDS) == {"train", "finetune"}
    spec = worker.kind("train")
    assert spec.config.__name__ == "TrainConfig" and callable(spec.run)


def test_a_toy_third_kind_runs_end_to_end_in_a_real_worker_process():
    run_id = worker.submit("count", {"epochs": 4})
    run = wait_until_done(run_id)
    assert run.status == "succeeded", (run.error, (jobs.run_dir(run_id) / "worker.log").read_text()[-2000:])
    assert run.result == {"counted": 4}
    assert (jobs.run_dir(run_id) / "count.json").exists()
    state = runlog.progress(jobs.metrics(run_id))
    assert state.epochs_done == 4 and state.curves["loss"][1] == [1.0, 0.5, 1 / 3, 0.25]
    assert (jobs.run_dir(run_id) / runlog.HISTORY_FILE).read_text().count("\n") == 5


def test_the_toy_kind_can_be_cancelled():
    run_id = worker.submit("count", toykind.CountConfig(epochs=200, pause=0.05))
    deadline = time.monotonic() + 30
    while not jobs.metrics(run_id, ("loss",)) and time.monotonic() < deadline:
        jobs.schedule()
        time.sleep(0.05)
    jobs.cancel(run_id)
    assert wait_until_done(run_id).status == "cancelled"


def test_unknown_kinds_and_bad_settings_are_refused_before_a_run_exists():
    with pytest.raises(InputError, match="Unknown run kind"):
        worker.submit("paint", {})
    with pytest.raises(InputError, match="epochs"):
        worker.submit("count", {"epochs": 0})
    with pytest.raises(InputError, match="Unknown counting setting"):
        worker.submit("count", {"colour": "red"})
    with pytest.raises(InputError, match="takes CountConfig"):
        worker.submit("count", object())
    assert jobs.list_runs() == []
