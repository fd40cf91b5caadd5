"""lab.supervisor: after a host crash, a restarted server reaps and schedules with no page open."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from lab import jobs, scratch, supervisor, uploads, worker
from tests.conftest import ROOT
from tests.zipgen import make_zip, shapes_members


@pytest.fixture(autouse=True)
def workspace(toy_workspace):
    return toy_workspace


def test_the_supervisor_process_reaps_a_dead_run_and_starts_the_queued_one():
    crashed = worker.create("count", {"epochs": 2}, status="running")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid is now no process: the worker died with the host
    jobs.update(crashed, pid=dead.pid, started=time.time() - 60)
    waiting = worker.create("count", {"epochs": 3})  # queued before the crash, never started
    process = subprocess.Popen([sys.executable, "-m", "lab.supervisor", "0.2"], cwd=ROOT, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (jobs.get(waiting).status != "succeeded" or jobs.get(crashed).active):
            time.sleep(0.2)
    finally:
        process.kill()
    assert jobs.get(crashed).status == "interrupted"
    assert jobs.get(waiting).status == "succeeded" and jobs.get(waiting).result == {"counted": 3}


def test_stale_uploads_and_half_written_folders_are_cleared_but_not_ones_in_use(workspace, monkeypatch):
    # Scratch folders of ended processes (a worker killed by another test leaves one) have their own test.
    monkeypatch.setattr(scratch, "clean_ended", lambda: [])
    folder = workspace / "uploads"
    old = uploads.stage_zip(make_zip(shapes_members(5)), folder)
    used = uploads.stage_zip(make_zip(shapes_members(6)), folder)
    fresh = uploads.stage_zip(make_zip(shapes_members(7)), folder)
    partial = folder / ".part-crashed"
    partial.mkdir()
    long_ago = time.time() - 30 * 86400
    for path in (old.path, used.path, partial):
        os.utime(path, (long_ago, long_ago))
    worker.create("count", {"epochs": 1}, status="succeeded")
    jobs.create("finetune", {"data_dir": str(used.path)}, status="cancelled")  # a run still reads it
    removed = supervisor.clean()
    assert set(removed) == {old.path, partial}
    assert used.path.exists() and fresh.path.exists()


def test_malloc_arenas_can_be_capped_on_glibc():
    assert supervisor.limit_malloc_arenas(2) is True


def test_the_memory_loop_releases_memory_only_when_sessions_expired(monkeypatch):
    released, dropped = [], iter([0, 3, 0, 1])
    monkeypatch.setattr(supervisor, "release_memory", lambda: released.append(1) or True)
    supervisor.memory_loop(lambda: next(dropped), interval=0, rounds=4)
    assert released == [1, 1]


def test_a_failing_expire_does_not_stop_the_memory_loop(monkeypatch):
    calls = []

    def expire() -> int:
        calls.append(1)
        raise RuntimeError("streamlit internals moved")

    supervisor.memory_loop(expire, interval=0, rounds=3)
    assert len(calls) == 3


def test_scratch_folders_of_ended_processes_are_removed(tmp_path, monkeypatch):
    """TensorFlow, autograph and tfds left files in /tmp per process; each process now has one folder."""
    import os
    import subprocess
    import sys
    import tempfile

    from lab import scratch

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    code = "from lab import scratch; import tempfile, os; scratch.make(); print(tempfile.gettempdir()); os._exit(0)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "TMPDIR": str(tmp_path)}
    )
    left = done.stdout.strip()
    assert os.path.basename(left).startswith(scratch.PREFIX) and os.path.isdir(left)  # os._exit: left behind
    mine = scratch.make()  # this process's own, alive: kept
    assert os.path.basename(left) in scratch.clean_ended()
    assert not os.path.exists(left) and os.path.isdir(mine)
