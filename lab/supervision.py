"""Supervision of the warm workers: which are alive, which run each takes, starting and stopping them.

Runs are executed by **warm workers**: long-lived OS processes (``python -m lab.worker``) with
TensorFlow imported and datasets cached, started in a new session so that they outlive the
Streamlit process that submitted the run. Each takes the oldest queued run when a slot is free
(:func:`claim`), runs it, and waits for the next: a run's first batch comes ~1 s after its slot
frees instead of a cold start's 5-8 s. ``CNNLAB_WARM_WORKERS`` are kept started ahead of demand, and
an idle worker past ``CNNLAB_WORKER_IDLE_SECONDS`` leaves.

:func:`schedule` reaps dead workers (their runs are marked interrupted, with the reason) and has the
placement start workers while queued and active runs outnumber them, up to
:func:`lab.capacity.max_runs`; the workers themselves :func:`claim` the runs. The placement is local
processes (:class:`LocalProcesses`, the default) or the one handed to :mod:`lab.capacity`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from lab import capacity, jobs, settings
from lab.jobs import KILL_AFTER_SECONDS, _db, _run, get
from lab.workspace import ROOT, home

WORKER_MODULE = "lab.worker"  # run as `python -m lab.worker`: a warm worker that claims runs


_CHILDREN: dict[int, subprocess.Popen] = {}  # workers this process started (by pid), so it can reap them


START_TIMEOUT_SECONDS = 60.0


def attended() -> bool:
    """Has anyone scheduled in this workspace within :func:`worker_idle_seconds`? A supervisor does
    every few seconds; when none has for that long (the server is gone), even warm workers leave."""
    with contextlib.suppress(TypeError, ValueError):
        return time.time() - float(jobs.setting("scheduled_at")) < worker_idle_seconds()
    return False


def _alive(pid: int | None, run_id: str) -> bool:
    """Is ``pid`` still our worker for ``run_id``? (Guards against pid reuse.)"""
    if not pid:
        return False
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            text = cmdline.read_bytes()
        except OSError:
            return False
        if not text:  # a zombie has no command line
            return False
        return run_id.encode() in text or b"lab" in text
    return True


def _exit_reason(pid: int | None) -> str:
    child = _CHILDREN.get(pid) if pid else None
    code = child.poll() if child is not None else None
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        hint = " (often: out of memory)" if -code == signal.SIGKILL else ""
        return f"The worker process was killed by {name}{hint}."
    if code is not None:
        return f"The worker process exited with code {code} before finishing; see worker.log."
    return "The worker process stopped unexpectedly (killed, out of memory, or the server restarted)."


HOST = socket.gethostname()


def heartbeat_timeout() -> float:
    """``CNNLAB_HEARTBEAT_SECONDS``: a worker on another host is dead after this long unheard (30)."""
    return max(1.0, settings.get("CNNLAB_HEARTBEAT_SECONDS"))


def _worker_alive(row) -> bool:
    """Is this ``workers`` row a live worker? One on this host: its process exists and is a worker (a
    process younger than 10 s may still be between fork and exec, with its parent's command line).
    On another host (a Ray node): it was heard from within :func:`heartbeat_timeout`."""
    if row["host"] != HOST:
        return time.time() - (row["heartbeat"] or 0) < heartbeat_timeout()
    child = _CHILDREN.get(row["pid"])
    if child is not None and child.poll() is not None:
        return False
    try:
        text = Path(f"/proc/{row['pid']}/cmdline").read_bytes()
    except OSError:
        return False
    if WORKER_MODULE.encode() in text or text.startswith(b"ray::"):
        return True
    return bool(text) and time.time() - row["started"] < 10


def reap() -> None:
    """Find dead workers (mark their runs interrupted, or cancelled) and kill ones that ignore a cancel."""
    now = time.time()
    with _db(immediate=True) as db:
        live = {}
        for row in db.execute("SELECT * FROM workers").fetchall():
            if _worker_alive(row):
                live[(row["host"], row["pid"])] = row["run_id"]
            else:
                db.execute("DELETE FROM workers WHERE host = ? AND pid = ?", (row["host"], row["pid"]))
        for row in db.execute("SELECT * FROM runs WHERE status IN ('starting', 'running')").fetchall():
            run, host = _run(row), row["host"] or HOST
            key = (host, run.pid)
            # Alive: its worker is, and still on this run; a CLI run (no worker row) by its process.
            alive = live.get(key) == run.id if key in live else host == HOST and _alive(run.pid, run.id)
            if alive:
                if run.cancel_requested and now - run.cancel_requested > KILL_AFTER_SECONDS and host == HOST:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(run.pid, signal.SIGKILL)
                continue
            if run.status == "starting" and not run.pid and now - (run.started or now) < START_TIMEOUT_SECONDS:
                continue  # a CLI run between create(status="starting") and execute()
            status, reason = ("cancelled", None) if run.cancel_requested else ("interrupted", _exit_reason(run.pid))
            db.execute(
                "UPDATE runs SET status = ?, error = COALESCE(?, error), finished = ? WHERE id = ? AND status = ?",
                (status, reason, now, run.id, run.status),
            )
    for pid, child in list(_CHILDREN.items()):
        if child.poll() is not None:
            _CHILDREN.pop(pid, None)


def claim(pid: int) -> str | None:
    """A worker (``pid`` on this host) takes the oldest queued run while fewer than :func:`max_runs`
    are active; returns its id, or None. Decided under the write lock: no run is taken twice."""
    with _db(immediate=True) as db:
        active = db.execute("SELECT COUNT(*) FROM runs WHERE status IN ('starting', 'running')").fetchone()[0]
        if active >= capacity.max_runs():
            return None
        row = db.execute(  # not a run a worker still holds (cancelled mid-step, then resumed at once)
            "SELECT id, memory FROM runs WHERE status = 'queued' AND id NOT IN "
            "(SELECT run_id FROM workers WHERE run_id IS NOT NULL) ORDER BY created LIMIT 1"
        ).fetchone()
        if row is None or not _fits_on_gpu(db, pid, row["memory"]):
            return None
        now = time.time()
        db.execute(
            "UPDATE runs SET status = 'starting', started = ?, pid = ?, host = ? WHERE id = ?",
            (now, pid, HOST, row["id"]),
        )
        db.execute(
            "UPDATE workers SET run_id = ?, heartbeat = ? WHERE host = ? AND pid = ?", (row["id"], now, HOST, pid)
        )
        return row["id"]


def _fits_on_gpu(db, pid: int, memory: float | None) -> bool:
    """Whether the run fits beside those already packed on this worker's GPU (the figures summed
    within :func:`gpu_budget`). A GPU with nothing on it takes any run, however large, so nothing
    waits for ever; the oldest run waits for room rather than being overtaken (a fair queue)."""
    worker = db.execute("SELECT gpu FROM workers WHERE host = ? AND pid = ?", (HOST, pid)).fetchone()
    budget = capacity.gpu_budget(worker["gpu"]) if worker and worker["gpu"] is not None else None
    if budget is None:
        return True
    packed = db.execute(
        "SELECT runs.memory FROM runs JOIN workers ON workers.host = runs.host AND workers.pid = runs.pid "
        "WHERE runs.status IN ('starting', 'running') AND workers.gpu = ?",
        (worker["gpu"],),
    ).fetchall()
    used = sum(capacity.run_memory(other["memory"], budget) for other in packed)
    return not packed or used + capacity.run_memory(memory, budget) <= budget


def keeps_gpu_memory(run_id: str) -> bool:
    """Whether a GPU worker should be replaced after this run: TensorFlow's allocator keeps what it
    grew to, so a worker that trained a large model would hold that much beside the next runs."""
    on_gpu = os.environ.get("CUDA_VISIBLE_DEVICES", "") not in ("", "-1")  # set per worker (or by Ray)
    return on_gpu and (get(run_id).memory or 0) > capacity.GPU_REPLACE_BYTES


def worker_seen(pid: int, run_id: str | None = None) -> None:
    """A worker on this host says it is alive (and what it runs: None when idle)."""
    now = time.time()
    with _db() as db:
        db.execute(
            "INSERT INTO workers (host, pid, started, heartbeat, run_id) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (host, pid) DO UPDATE SET heartbeat = excluded.heartbeat, run_id = excluded.run_id",
            (HOST, pid, now, now, run_id),
        )


def worker_left(pid: int) -> None:
    with _db() as db:
        db.execute("DELETE FROM workers WHERE host = ? AND pid = ?", (HOST, pid))


def workers() -> list[dict]:
    """The workers: host, pid, started, heartbeat, the run it is on (None: idle, warm) and its GPU."""
    with _db() as db:
        return [dict(row) for row in db.execute("SELECT * FROM workers ORDER BY started")]


def warm_workers() -> int:
    """``CNNLAB_WARM_WORKERS``: workers kept started ahead of demand (at most :func:`max_runs`);
    default 0: a worker starts with the first run and stays warm for the next ones."""
    return min(max(0, settings.get("CNNLAB_WARM_WORKERS")), capacity.max_runs())


def worker_idle_seconds() -> float:
    """``CNNLAB_WORKER_IDLE_SECONDS``: a worker beyond the warm ones leaves after this long idle."""
    return max(0.0, settings.get("CNNLAB_WORKER_IDLE_SECONDS"))


def _gpu_for_new_worker(live: list[dict]) -> str | None:
    """The GPU with the fewest workers (each worker sees one GPU: ``CUDA_VISIBLE_DEVICES``)."""
    if not capacity.gpu_count():
        return None
    load = {str(index): 0 for index in range(capacity.gpu_count())}
    for row in live:
        if row["gpu"] in load:
            load[row["gpu"]] += 1
    return min(load, key=lambda index: (load[index], int(index)))


def _worker_env(gpu: str | None) -> dict:
    env = {**os.environ, "CNNLAB_HOME": str(home())}
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    else:  # share the cores: TensorFlow would otherwise give each run a thread per core
        threads = str(max(1, (os.cpu_count() or 1) // capacity.max_runs()))
        env.setdefault("TF_NUM_INTRAOP_THREADS", threads)
        env.setdefault("OMP_NUM_THREADS", threads)
    return env


def schedule() -> list[int]:
    """Reap, then start workers while the queued and active runs (or ``CNNLAB_WARM_WORKERS``)
    outnumber the live workers, up to :func:`max_runs`. Returns the pids started; the workers
    themselves :func:`claim` the runs."""
    reap()
    jobs.store_setting("scheduled_at", str(time.time()))  # someone looks after this workspace (see attended())
    return placement().start_workers()


class LocalProcesses:
    """Warm workers as processes on this machine (``python -m lab.worker``), in their own session so
    that they outlive the web process that started them; each sees one GPU where there are GPUs."""

    def slots(self) -> None:
        return None  # capacity's own count: GPUs x runs per GPU, else CPU cores while memory allows

    def start_workers(self) -> list[int]:
        return _start_local_workers()

    def stop_workers(self) -> None:
        return None  # this host's workers are stopped by stop_workers itself


LOCAL = LocalProcesses()


def placement():
    """The placement handed to :mod:`lab.capacity`, else local processes. With ``CNNLAB_RAY_ADDRESS``
    set and nothing handed, this is a mistake of the entry (which must call :func:`lab.placement.install`)."""
    handed = capacity.placement()
    if handed is None and settings.get("CNNLAB_RAY_ADDRESS"):
        raise RuntimeError("CNNLAB_RAY_ADDRESS is set but no Ray placement was handed: call lab.placement.install()")
    return handed or LOCAL


def _start_local_workers() -> list[int]:
    """Start workers while the queued and active runs (or the warm ones) outnumber the live ones."""
    started: list[int] = []
    with _db(immediate=True) as db:
        live = [dict(row) for row in db.execute("SELECT * FROM workers")]
        wanted = db.execute("SELECT COUNT(*) FROM runs WHERE status IN ('queued', 'starting', 'running')")
        needed = min(capacity.max_runs(), max(wanted.fetchone()[0], warm_workers())) - len(live)
        for _ in range(max(0, needed)):
            gpu = _gpu_for_new_worker(live)
            log_path = home() / "workers.log"
            with open(log_path, "ab") as log:
                child = subprocess.Popen(
                    [sys.executable, "-m", WORKER_MODULE],
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=_worker_env(gpu),
                    start_new_session=True,
                )
            _CHILDREN[child.pid] = child
            now = time.time()
            db.execute(
                "INSERT INTO workers (host, pid, started, heartbeat, gpu) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (host, pid) DO UPDATE SET started = excluded.started, gpu = excluded.gpu",
                (HOST, child.pid, now, now, gpu),
            )
            live.append({"pid": child.pid, "gpu": gpu})
            started.append(child.pid)
    return started


def stop_workers(wait: float = 5.0) -> None:
    """Ask every worker on this host to leave (SIGTERM: an idle one exits, a busy one interrupts its
    run, which :func:`resume` continues); kill those still there after ``wait`` seconds. With Ray,
    its worker actors are killed instead."""
    placement().stop_workers()
    rows = [row for row in workers() if row["host"] == HOST]
    for row in rows:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(row["pid"], signal.SIGTERM)
    deadline = time.monotonic() + wait
    while any(_worker_alive(row) for row in rows) and time.monotonic() < deadline:
        time.sleep(0.05)
    for row in rows:
        if _worker_alive(row):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(row["pid"], signal.SIGKILL)
        with contextlib.suppress(ChildProcessError, KeyError, subprocess.TimeoutExpired):
            _CHILDREN.pop(row["pid"]).wait(timeout=1)
    reap()
