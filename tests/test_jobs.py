"""lab.jobs with real worker processes and tiny digits runs: every test on both backends (SQLite +
local warm workers, PostgreSQL + warm workers as Ray actors; see the ``backend`` fixture)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from lab import capacity, jobs, ownership, placement, runlog, supervision, worker
from lab.errors import InputError
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
TINY = {"dataset": "digits", "model": "small_cnn", "epochs": 2, "batch_size": 64}


@pytest.fixture(autouse=True)
def workspace(tmp_path, monkeypatch, backend):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "workspace"))
    monkeypatch.setenv("CNNLAB_MAX_RUNS", "1")
    monkeypatch.setenv("CNNLAB_CHECKPOINT_SECONDS", "0")  # checkpoint every epoch: resume is exact
    yield tmp_path / "workspace"
    supervision.stop_workers(wait=2)  # never leave workers behind
    for run in jobs.list_runs():
        if run.active and run.pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(run.pid, signal.SIGKILL)


def wait_for(run_id: str, statuses: tuple[str, ...], timeout: float = 90) -> jobs.Run:
    """Poll as the page does (schedule() reaps and starts) until the run reaches a status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervision.schedule()
        run = jobs.get(run_id)
        if run.status in statuses:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} still {jobs.get(run_id).status}; log: {log(run_id)}")


def log(run_id: str) -> str:
    path = jobs.run_dir(run_id) / "worker.log"
    return path.read_text()[-2000:] if path.exists() else ""


def completed_epochs(run_id: str) -> list[int]:
    return [epoch for epoch, step, _, _ in jobs.metrics(run_id, ("loss",)) if step == -1]


def test_two_submits_queue_then_both_succeed_with_metrics_and_model():
    first = worker.submit("train", TINY)
    second = worker.submit("train", {**TINY, "seed": 7})
    wait_for(first, ("starting", "running", "succeeded"))  # a worker took the first one
    assert jobs.get(second).status == "queued" and jobs.queue_position(second) == 1
    done = wait_for(first, ("succeeded", "failed"))
    assert done.status == "succeeded", done.error
    assert (jobs.run_dir(first) / "model.keras").exists() and (jobs.run_dir(first) / "history.csv").exists()
    assert completed_epochs(first) == [0, 1]
    history = (jobs.run_dir(first) / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,") and "val_accuracy" in history[0] and len(history) == 3
    assert {name for _, _, name, _ in jobs.metrics(first)} >= {"loss", "val_accuracy", "batch_loss", "seconds"}
    assert wait_for(second, ("succeeded", "failed")).status == "succeeded"
    assert done.result["test_accuracy"] > 0.5


def test_double_submit_with_the_same_key_makes_one_run():
    first = worker.submit("train", TINY, dedupe="session-1:config")
    again = worker.submit("train", TINY, dedupe="session-1:config")
    assert first == again and len(jobs.list_runs()) == 1
    jobs.cancel(first)


def test_cancel_stops_a_running_worker_within_five_seconds():
    run_id = worker.submit("train", {**TINY, "epochs": 150})
    wait_for(run_id, ("running",))
    deadline = time.monotonic() + 60
    while not jobs.metrics(run_id, ("batch_loss",)) and time.monotonic() < deadline:
        time.sleep(0.2)
    start = time.monotonic()
    jobs.cancel(run_id)
    run = wait_for(run_id, ("cancelled", "succeeded", "failed", "interrupted"), timeout=10)
    assert run.status == "cancelled"
    while supervision.workers()[0]["run_id"] is not None and time.monotonic() - start < 5:
        time.sleep(0.05)
    assert time.monotonic() - start < 5  # cancelled, and its warm worker free for the next run
    assert [row["pid"] for row in supervision.workers()] == [run.pid]  # the same process: still warm


def test_killed_worker_is_interrupted_then_resumes_the_remaining_epochs():
    run_id = worker.submit("train", {**TINY, "epochs": 6})
    deadline = time.monotonic() + 90
    while len(completed_epochs(run_id)) < 2 and time.monotonic() < deadline:
        supervision.schedule()
        time.sleep(0.1)
    os.kill(jobs.get(run_id).pid, signal.SIGKILL)
    run = wait_for(run_id, ("interrupted",), timeout=15)
    assert "SIGKILL" in run.error or "stopped unexpectedly" in run.error
    done_before = completed_epochs(run_id)
    worker.resume(run_id)
    run = wait_for(run_id, ("succeeded", "failed"))
    assert run.status == "succeeded", run.error
    assert completed_epochs(run_id) == list(range(6))  # every epoch once: resumed, not restarted
    assert done_before  # it had made progress before the kill
    assert run.result["epochs"] == 6  # the true count, across the resume
    assert run.resumes == 1


def test_a_run_survives_the_submitting_process_exiting():
    code = f"from lab import placement, worker; placement.install(); print(worker.submit('train', {TINY!r}))"
    env = {**os.environ}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    run_id = result.stdout.strip().splitlines()[-1]
    assert wait_for(run_id, ("succeeded", "failed", "interrupted")).status == "succeeded"


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({**TINY, "epochs": 0}, "epochs"),
        ({**TINY, "epochs": 10**6}, "epochs"),
        ({**TINY, "batch_size": 0}, "batch size"),
        ({**TINY, "learning_rate": float("nan")}, "learning rate"),
        ({**TINY, "learning_rate": -0.1}, "learning rate"),
        ({**TINY, "model": "alexnet9000"}, "Unknown model"),
        ({**TINY, "dataset": "imagenet"}, "Unknown dataset"),
        ({**TINY, "optimizer": "lbfgs"}, "Unknown optimizer"),
        ({**TINY, "colour": "red"}, "Unknown training setting"),
    ],
)
def test_bad_settings_are_refused_before_any_run_exists(config, fragment):
    with pytest.raises(InputError, match=fragment):
        worker.submit("train", config)
    assert jobs.list_runs() == []


def test_undownloadable_dataset_fails_fast_with_instructions(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras"))
    run_id = worker.create("train", {**TINY, "dataset": "fashion_mnist"}, status="starting")
    start = time.monotonic()
    assert worker.execute(run_id) is None
    run = jobs.get(run_id)
    assert run.status == "failed" and "python -m lab assets" in run.error
    assert time.monotonic() - start < 10


def test_resume_after_cancel_continues_from_the_checkpoint():
    run_id = worker.submit("train", {**TINY, "epochs": 8})
    deadline = time.monotonic() + 90
    while len(completed_epochs(run_id)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    jobs.cancel(run_id)
    assert wait_for(run_id, ("cancelled",), timeout=15).status == "cancelled"
    kept = completed_epochs(run_id)
    assert (jobs.run_dir(run_id) / "backup" / "training_metadata.json").exists()  # Keras would delete it
    worker.resume(run_id)
    run = wait_for(run_id, ("succeeded", "failed"))
    assert run.status == "succeeded", run.error
    assert completed_epochs(run_id) == list(range(8))  # no epoch twice, none missing
    assert run.result["epochs"] == 8
    # It continued: the first resumed epoch is the one after the checkpoint, not epoch 0.
    restarts = [value for _, step, name, value in jobs.metrics(run_id) if name == runlog.RESTARTED]
    assert restarts and restarts[-1] >= len(kept) - 1 >= 2


def test_runs_after_a_resume_on_the_same_warm_worker_train_every_epoch():
    """The kept model of a warm worker carried a resumed run's start epoch into the next runs."""
    run_id = worker.submit("train", {**TINY, "epochs": 8})
    deadline = time.monotonic() + 90
    while len(completed_epochs(run_id)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    jobs.cancel(run_id)
    wait_for(run_id, ("cancelled",), timeout=15)
    worker.resume(run_id)
    assert wait_for(run_id, ("succeeded", "failed")).status == "succeeded"
    for seed, epochs in ((2, 3), (3, 10)):
        after = worker.submit("train", {**TINY, "epochs": epochs, "seed": seed})
        run = wait_for(after, ("succeeded", "failed"))
        assert run.status == "succeeded", run.error
        assert completed_epochs(after) == list(range(epochs)) and run.result["epochs"] == epochs
        assert run.result["test_accuracy"] > 0.5
    assert len({jobs.get(r.id).pid for r in jobs.list_runs()}) == 1  # one warm worker ran them all


def test_kill_after_an_older_checkpoint_logs_no_epoch_twice(monkeypatch):
    monkeypatch.setenv("CNNLAB_CHECKPOINT_SECONDS", "1.0")  # checkpoints lag the logged epochs
    run_id = worker.submit("train", {**TINY, "epochs": 12})
    deadline = time.monotonic() + 90
    while len(completed_epochs(run_id)) < 7 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(jobs.get(run_id).pid, signal.SIGKILL)
    wait_for(run_id, ("interrupted",), timeout=15)
    worker.resume(run_id)
    run = wait_for(run_id, ("succeeded", "failed"))
    assert run.status == "succeeded", run.error
    assert completed_epochs(run_id) == list(range(12)) and run.result["epochs"] == 12
    history = (jobs.run_dir(run_id) / runlog.HISTORY_FILE).read_text().splitlines()
    assert len(history) == 13


def test_a_run_belongs_to_its_owner():
    run_id = worker.submit("train", {**TINY, "epochs": 150}, owner="alice")
    with pytest.raises(ownership.NotYours, match="belongs to another learner"):
        jobs.cancel(run_id, owner="mallory")
    with pytest.raises(ownership.NotYours):
        jobs.cancel(run_id)  # no owner at all
    assert jobs.get(run_id).cancel_requested is None
    jobs.cancel(run_id, owner="alice")
    assert wait_for(run_id, ("cancelled",), timeout=60).status == "cancelled"
    with pytest.raises(ownership.NotYours):
        jobs.resume(run_id, owner="mallory")


def test_an_instructor_may_control_any_run(monkeypatch):
    monkeypatch.setenv("CNNLAB_INSTRUCTOR_TOKEN", "s3cret")
    assert ownership.instructor("s3cret") and not ownership.instructor("guess") and not ownership.instructor(None)
    run_id = worker.submit("train", {**TINY, "epochs": 150}, owner="alice")
    jobs.cancel(run_id, owner="mallory", instructor=ownership.instructor("s3cret"))
    assert wait_for(run_id, ("cancelled",), timeout=60).status == "cancelled"


def test_owner_tokens_are_not_the_browser_secret_and_differ_per_browser():
    first, second = ownership.owner_token(b"cookie-1"), ownership.owner_token(b"cookie-2")
    assert first != second and "cookie" not in first and len(first) == 32
    assert ownership.owner_token(b"cookie-1") == first  # stable for the same browser


def test_a_poll_reads_only_new_rows():
    run_id = jobs.create("train", {"x": 1}, status="starting")
    jobs.log_metrics(run_id, [(0, 0, "batch_loss", 1.0), (0, 1, "batch_loss", 0.9)])
    rows, last = jobs.metrics_since(run_id)
    assert len(rows) == 2
    jobs.log_metrics(run_id, [(0, 2, "batch_loss", 0.8)])
    rows, again = jobs.metrics_since(run_id, last)
    assert rows == [(0, 2, "batch_loss", 0.8)] and again > last
    assert jobs.metrics_since(run_id, again) == ([], again)


def test_a_learner_gets_one_active_run_and_the_queue_says_when_it_starts(monkeypatch):
    first = worker.submit("train", {**TINY, "epochs": 150}, owner="alice")
    with pytest.raises(jobs.QueueFull, match="already have 1 run"):
        worker.submit("train", {**TINY, "seed": 1}, owner="alice")
    queued = worker.submit("train", {**TINY, "seed": 2}, owner="bob")  # another learner queues behind
    wait_for(first, ("starting", "running"))
    assert jobs.get(queued).status == "queued" and jobs.estimated_start(queued) is None  # no history yet
    done = jobs.create("train", TINY, status="succeeded")
    jobs.update(done, started=100.0, finished=130.0)
    started = jobs.get(first).started
    # First in line, one slot, runs take 30 s: the slot frees 30 s after the running run started.
    assert jobs.estimated_start(queued) == pytest.approx(started + 30.0 - time.time(), abs=1.0)
    monkeypatch.setenv("CNNLAB_MAX_RUNS", "2")
    assert jobs.estimated_start(queued) == 0.0  # a free slot: it starts any moment, not "in about 30 s"
    monkeypatch.setenv("CNNLAB_RUNS_PER_LEARNER", "2")
    worker.submit("train", {**TINY, "seed": 3}, owner="alice")  # a room may allow more
    jobs.cancel(first, instructor=True)


def test_a_planner_stack_trains_through_a_worker_into_exactly_the_planned_model():
    from lab import planner, training

    _, specs = planner.PRESETS["CIFAR-10 tutorial net"]  # built on the planner, sent as the page's link sends it
    config = training.TrainConfig(model="custom", stack=planner.encode_stack(specs), epochs=1, batch_size=64)
    plan = config.plan()
    done = wait_for(worker.submit("train", config), ("succeeded", "failed"), timeout=180)
    assert done.status == "succeeded", done.error
    model = runlog.load_model(jobs.run_dir(done.id))
    assert model.count_params() == plan.total_params == 204_362  # a 10-class head on 8x8 digits
    assert [tuple(layer.output.shape[1:]) for layer in model.layers] == [layer.output_shape for layer in plan.layers]
    assert done.result["tflite_max_difference"] <= 1e-4 and done.result["tflite_images"] == 360  # every test digit
    assert (jobs.run_dir(done.id) / "model.tflite").stat().st_size == done.result["tflite_bytes"]


@pytest.mark.parametrize(
    ("stack", "message"),
    [
        ("conv-6-k5-tanh,avg-k2,conv-16-k5-tanh", r"Layer 3 \(Conv2D\): With VALID padding the kernel"),
        ("conv-64-k3-same-relu,flat,dense-2000-relu", r"Layer 3 \(Dense\) brings the model to 8,194,640 parameters"),
    ],
    ids=["collapses", "over the parameter cap"],
)
def test_a_stack_that_cannot_train_is_refused_before_any_run_exists(stack, message):
    with pytest.raises(InputError, match=message):
        worker.submit("train", {"model": "custom", "stack": stack})
    assert jobs.list_runs() == []


GIB = 2**30


def test_runs_are_packed_on_a_gpu_by_their_memory_figures(monkeypatch):
    monkeypatch.setattr(capacity, "gpu_memory", lambda: (10 * GIB,))
    monkeypatch.setenv("CNNLAB_GPU_MEMORY_FRACTION", "0.9")  # 9 GiB for the runs on GPU 0
    monkeypatch.setenv("CNNLAB_MAX_RUNS", "8")
    pids = (2**22 + 1, 2**22 + 2, 2**22 + 3)  # no such processes: workers as rows only
    with jobs._db(immediate=True) as db:
        for pid in pids:
            db.execute(
                "INSERT INTO workers (host, pid, started, heartbeat, gpu) VALUES (?, ?, ?, ?, ?)",
                (supervision.HOST, pid, time.time(), time.time(), "0"),
            )
    try:
        big = jobs.create("train", TINY, memory=6 * GIB)
        small = jobs.create("train", TINY, memory=2 * GIB)
        larger = jobs.create("train", TINY, memory=4 * GIB)
        assert supervision.claim(pids[0]) == big  # an empty GPU
        assert supervision.claim(pids[1]) == small  # 6 + 2 <= 9
        assert supervision.claim(pids[2]) is None  # 8 + 4 > 9: it waits for room
        jobs.update(big, status="succeeded", finished=time.time())
        assert supervision.claim(pids[2]) == larger  # 2 + 4 <= 9
        jobs.update(small, status="succeeded", finished=time.time())
        jobs.update(larger, status="succeeded", finished=time.time())
        huge = jobs.create("train", TINY, memory=20 * GIB)
        assert supervision.claim(pids[0]) == huge  # larger than the GPU, but alone on it: it gets its chance
        unknown = jobs.create("train", TINY)  # no figure: one slot's share (9 GiB / runs per GPU)
        assert supervision.claim(pids[1]) is None
        jobs.update(huge, status="succeeded", finished=time.time())
        monkeypatch.setenv("CNNLAB_RUNS_PER_GPU", "4")
        assert supervision.claim(pids[1]) == unknown
        assert jobs.get(unknown).memory is None
    finally:
        with jobs._db(immediate=True) as db:
            db.execute("UPDATE runs SET status = 'succeeded' WHERE status IN ('starting', 'running', 'queued')")
            db.execute("DELETE FROM workers")


def test_a_submitted_run_records_its_memory_figure_and_a_cpu_worker_ignores_it(monkeypatch):
    from lab import training

    run_id = worker.submit("train", TINY)
    assert jobs.get(run_id).memory == training.TrainConfig(**TINY).memory_bytes() > 0
    assert wait_for(run_id, ("succeeded",)).status == "succeeded"  # no GPU: packed by slots only


def test_a_gpu_worker_is_replaced_after_a_large_run(monkeypatch):
    large, small = jobs.create("train", TINY, memory=3 * GIB), jobs.create("train", TINY, memory=GIB)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert supervision.keeps_gpu_memory(large) and not supervision.keeps_gpu_memory(small)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert not supervision.keeps_gpu_memory(large)
    for run_id in (large, small):
        jobs.update(run_id, status="cancelled", finished=time.time())


def test_a_run_rides_out_a_ten_second_registry_outage(backend, postgres_server, monkeypatch):
    """A 10 s PostgreSQL outage killed the running run (AdminShutdown in the per-batch cancel check)."""
    if backend != "postgres+ray":
        pytest.skip("the outage is PostgreSQL's; SQLite is a file")
    from tests.backends import fresh_database, postgres_outage

    monkeypatch.delenv("CNNLAB_RAY_ADDRESS")  # local warm workers: this PostgreSQL server is restarted
    placement.install()
    monkeypatch.setenv("CNNLAB_DATABASE_URL", fresh_database(postgres_server))
    run_id = worker.submit("train", {**TINY, "epochs": 60})
    deadline = time.monotonic() + 90
    while len(completed_epochs(run_id)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    postgres_outage(10)
    from lab import database

    run = database.retrying(wait_for, run_id, ("succeeded", "failed", "interrupted", "cancelled"), timeout=180)
    assert run.status == "succeeded", (run.error, log(run_id))
    assert completed_epochs(run_id) == list(range(60))


def test_a_detect_run_is_cancelled_and_resumed_by_a_worker_and_logs_its_loss_terms(monkeypatch):
    """The detect kind rides the same machinery: a real worker, its three loss terms live, cancel and
    resume from its checkpoint, every epoch logged once."""
    monkeypatch.setenv("CNNLAB_CHECKPOINT_SECONDS", "0")
    config = {"task": "grid", "train_canvases": 300, "test_canvases": 20, "epochs": 6}
    run_id = worker.submit("detect", config)
    deadline = time.monotonic() + 120
    while len(completed_epochs(run_id)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    jobs.cancel(run_id)
    wait_for(run_id, ("cancelled",), timeout=30)
    worker.resume(run_id)
    run = wait_for(run_id, ("succeeded", "failed"), timeout=180)
    assert run.status == "succeeded", run.error
    assert completed_epochs(run_id) == list(range(6)) and run.result["epochs"] == 6
    names = {name for _, _, name, _ in jobs.metrics_since(run_id, 0)[0]}
    assert {"objectness_loss", "box_loss", "class_loss", "val_box_loss"} <= names
    assert {"AP", "AP50", "VOC AP50"} <= set(run.result)
