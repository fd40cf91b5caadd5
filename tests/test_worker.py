"""lab.worker: kinds are a table, not an if-chain; a toy third kind runs through a real worker process."""

from __future__ import annotations

import os
import signal
import time

import pytest

from lab import capacity, jobs, ownership, runlog, supervision, worker
from lab.errors import InputError
from tests import toykind


@pytest.fixture(autouse=True)
def workspace(toy_workspace):
    return toy_workspace


def wait_until_done(run_id: str, timeout: float = 60) -> jobs.Run:
    deadline = time.monotonic() + timeout
    while jobs.get(run_id).active and time.monotonic() < deadline:
        supervision.schedule()
        time.sleep(0.1)
    return jobs.get(run_id)


KIND_CONFIGS = {
    "train": "TrainConfig",
    "finetune": "FinetuneConfig",
    "detect": "DetectConfig",
    "segment": "SegmentConfig",
    "architectures": "CompareConfig",
}


def test_the_table_names_the_kinds_and_resolves_them():
    assert set(worker.KINDS) == set(KIND_CONFIGS)
    for name, config in KIND_CONFIGS.items():
        spec = worker.kind(name)
        assert spec.config.__name__ == config and callable(spec.run)


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
        supervision.schedule()
        time.sleep(0.05)
    jobs.cancel(run_id)
    assert wait_until_done(run_id).status == "cancelled"


def wait_for_status(run_id: str, status: str, timeout: float = 30) -> float:
    """Seconds until the run shows ``status`` (polling as a page does)."""
    start = time.monotonic()
    while jobs.get(run_id).status != status:
        assert time.monotonic() - start < timeout, jobs.get(run_id)
        supervision.schedule()
        time.sleep(0.05)
    return time.monotonic() - start


def wait_for_phase(run_id: str, phase: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while runlog.progress(jobs.metrics(run_id)).phase != phase:
        assert time.monotonic() < deadline, runlog.progress(jobs.metrics(run_id)).phase
        supervision.schedule()
        time.sleep(0.05)


def released(run_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while any(worker["run_id"] == run_id for worker in supervision.workers()):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_cancel_during_a_step_that_cannot_stop_is_honoured_within_a_second():
    """Cancel 2-3 s into a run (the model build) reached the run only after it; one during the export
    let the run 'succeed'. Now: cancelled within a second, and the next phase never starts."""
    run_id = worker.submit("count", toykind.CountConfig(epochs=2, build=3))
    wait_for_phase(run_id, "building the model")
    jobs.cancel(run_id)
    assert wait_for_status(run_id, "cancelled") < 1.0
    released(run_id)
    assert jobs.get(run_id).status == "cancelled" and jobs.get(run_id).result is None
    assert not jobs.metrics(run_id, ("loss",))  # it stopped at the phase boundary: no epoch ran
    late = worker.submit("count", toykind.CountConfig(epochs=1, export=3))
    wait_for_phase(late, "compiling")
    while not jobs.metrics(late, ("loss",)):
        time.sleep(0.05)
    jobs.cancel(late)  # during the "export"
    assert wait_for_status(late, "cancelled") < 1.0
    released(late)
    assert jobs.get(late).status == "cancelled" and jobs.get(late).result is None


def test_a_run_resumed_while_its_worker_finishes_a_step_is_not_overwritten():
    run_id = worker.submit("count", toykind.CountConfig(epochs=2, build=2))
    wait_for_phase(run_id, "building the model")
    jobs.cancel(run_id)
    wait_for_status(run_id, "cancelled")
    worker.resume(run_id)  # at once: the worker is still in its build step
    assert wait_until_done(run_id).status == "succeeded"
    assert jobs.get(run_id).result == {"counted": 2}


def test_warm_up_calls_each_runner_modules_own_warm_up_and_survives_a_failing_one(monkeypatch, capfd):
    from lab import training

    calls = []
    monkeypatch.setattr(toykind, "warm_up", lambda: calls.append("count"), raising=False)
    monkeypatch.setattr(training, "warm_up", lambda: calls.append("train") or 1 / 0)
    worker.warm_up()
    assert sorted(calls) == ["count", "train"]
    assert "ZeroDivisionError" in capfd.readouterr().err  # in the worker's log; the worker goes on


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


def test_one_warm_worker_runs_queued_runs_one_after_another():
    first = worker.submit("count", {"epochs": 2})
    second = worker.submit("count", {"epochs": 3})
    assert wait_until_done(first).status == "succeeded" and wait_until_done(second).status == "succeeded"
    assert jobs.get(first).pid == jobs.get(second).pid  # the same process: no second cold start
    deadline = time.monotonic() + 10
    while supervision.workers()[0]["run_id"] is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [row["run_id"] for row in supervision.workers()] == [None]  # still there, idle, for the next run
    assert "count.json" not in (jobs.run_dir(second) / "worker.log").read_text()  # each run its own log


def test_an_idle_worker_leaves_after_its_idle_time(monkeypatch):
    monkeypatch.setenv("CNNLAB_WORKER_IDLE_SECONDS", "0.5")
    assert wait_until_done(worker.submit("count", {"epochs": 1})).status == "succeeded"
    deadline = time.monotonic() + 30
    while supervision.workers() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert supervision.workers() == []


def test_warm_workers_start_before_any_run_and_take_the_first_one(monkeypatch):
    monkeypatch.setenv("CNNLAB_WARM_WORKERS", "1")
    (pid,) = supervision.schedule()  # the supervisor's round: no run yet, one warm worker
    assert supervision.schedule() == []  # one is enough
    time.sleep(1.0)  # it found no run: it warms up (TensorFlow, the kinds, digits) while it waits
    run = wait_until_done(worker.submit("count", {"epochs": 2}), timeout=90)
    assert run.status == "succeeded" and run.pid == pid


def test_a_stopped_worker_interrupts_its_run_and_resume_finishes_it():
    run_id = worker.submit("count", toykind.CountConfig(epochs=60, pause=0.05))
    deadline = time.monotonic() + 30
    while not jobs.metrics(run_id, ("loss",)) and time.monotonic() < deadline:
        time.sleep(0.05)
    supervision.stop_workers()  # SIGTERM, as a shutdown sends it
    run = jobs.get(run_id)
    assert run.status == "interrupted" and "SIGTERM" in run.error
    worker.resume(run_id)
    run = wait_until_done(run_id)
    assert run.status == "succeeded" and run.resumes == 1


def test_a_killed_worker_is_replaced_for_the_queued_runs():
    running = worker.submit("count", toykind.CountConfig(epochs=200, pause=0.05))
    waiting = worker.submit("count", {"epochs": 2})
    deadline = time.monotonic() + 30
    while not jobs.metrics(running, ("loss",)) and time.monotonic() < deadline:
        time.sleep(0.05)
    killed = jobs.get(running).pid
    os.kill(killed, signal.SIGKILL)
    assert wait_until_done(running).status == "interrupted"
    done = wait_until_done(waiting)
    assert done.status == "succeeded" and done.pid != killed


def test_each_worker_gets_the_least_loaded_gpu_and_a_share_of_the_cores(monkeypatch):
    monkeypatch.setattr(capacity, "gpu_count", lambda: 2)
    live = [{"gpu": "0"}, {"gpu": "1"}, {"gpu": "0"}]
    assert supervision._gpu_for_new_worker(live) == "1"
    assert supervision._worker_env("1")["CUDA_VISIBLE_DEVICES"] == "1"
    monkeypatch.setattr(capacity, "gpu_count", lambda: 0)
    monkeypatch.setenv("CNNLAB_MAX_RUNS", "2")
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert (
        supervision._gpu_for_new_worker(live) is None and supervision._worker_env(None)["TF_NUM_INTRAOP_THREADS"] == "8"
    )


def test_runs_per_gpu_packs_several_runs_on_each_gpu(monkeypatch):
    monkeypatch.delenv("CNNLAB_MAX_RUNS", raising=False)
    monkeypatch.setattr(capacity, "gpu_count", lambda: 2)
    monkeypatch.setenv("CNNLAB_RUNS_PER_GPU", "4")
    assert capacity.max_runs() == 8


def test_warm_workers_leave_once_nobody_looks_after_the_workspace(monkeypatch):
    monkeypatch.setenv("CNNLAB_WARM_WORKERS", "1")
    monkeypatch.setenv("CNNLAB_WORKER_IDLE_SECONDS", "1")
    assert wait_until_done(worker.submit("count", {"epochs": 1})).status == "succeeded"
    assert supervision.attended()
    deadline = time.monotonic() + 30  # no supervisor calls schedule() any more: the server is gone
    while supervision.workers() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert supervision.workers() == [] and not supervision.attended()


def test_a_full_disk_fails_the_run_with_a_clear_reason():
    run_id = worker.submit("count", toykind.CountConfig(epochs=1, disk_full=True))
    run = wait_until_done(run_id)
    assert run.status == "failed" and run.error == worker.DISK_FULL


def test_the_rooms_queue_is_bounded_whoever_fills_it(monkeypatch):
    """15 cookie-less sessions queued 15 runs in 9.9 s: each looked like a new learner."""
    monkeypatch.setenv("CNNLAB_MAX_QUEUED", "3")
    for index in range(3):
        jobs.create("count", {"epochs": 1}, owner=f"session-{index}")
    with pytest.raises(jobs.QueueFull, match="The room's queue is full: 3 runs are waiting"):
        jobs.create("count", {"epochs": 1}, owner="session-4")


def test_the_disk_budget_expires_the_oldest_finished_runs_but_never_a_kept_one():
    runs = []
    for _ in range(4):
        run_id = jobs.create("count", {"epochs": 1}, status="succeeded")
        (jobs.run_dir(run_id) / "model.keras").write_bytes(b"x" * 1000)
        runs.append(run_id)
        time.sleep(0.01)
    active = jobs.create("count", {"epochs": 1}, status="running")
    (jobs.run_dir(active) / "big").write_bytes(b"x" * 1000)
    jobs.keep(runs[0])
    expired = jobs.expire_runs(budget=3000)  # 5,000 bytes in all: the two oldest unpinned go
    assert expired == runs[1:3]
    assert {run.id for run in jobs.list_runs()} == {runs[0], runs[3], active}
    assert not jobs.run_dir(runs[1]).exists() and jobs.run_dir(runs[0]).exists()


def test_key_files_are_written_whole_and_an_empty_one_is_replaced(tmp_path):
    """A full disk once left owner.key empty for good: every owner token then HMAC'd under b""."""
    path = tmp_path / "owner.key"
    first = ownership.key_file(path)
    assert len(first) == 32 and ownership.key_file(path) == first  # made once, then kept
    path.write_bytes(b"")
    repaired = ownership.key_file(path)
    assert len(repaired) == 32 and repaired != first and (path.stat().st_mode & 0o777) == 0o600
    assert [entry.name for entry in tmp_path.iterdir()] == ["owner.key"]  # no temporary file left
