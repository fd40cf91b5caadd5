"""The run registry and its supervisor: which runs exist, their state, and their worker processes.

Generic machinery: it stores each run's kind and settings as data and knows no kind by name. What a
kind is and how it runs is :mod:`lab.worker`'s table; what a run writes is :mod:`lab.runlog`'s
contract. Runs are executed by **warm workers**: long-lived OS processes (``python -m lab.worker``)
with TensorFlow imported and datasets cached, started in a new session so that they outlive the
Streamlit process that submitted the run. Each takes the oldest queued run from the registry when
a slot is free (:func:`claim`), runs it, and waits for the next: a run's first batch comes ~1 s
after its slot frees instead of a cold start's 5-8 s (well under one when the worker's last run had the
same model: :func:`lab.training.model_for_run`). :func:`schedule` starts workers while queued
runs outnumber them (up to :func:`max_runs`), keeps ``CNNLAB_WARM_WORKERS`` started ahead of
demand, and an idle worker past ``CNNLAB_WORKER_IDLE_SECONDS`` leaves. State lives in a SQLite
database (WAL) under ``CNNLAB_HOME`` (default ``./workspace``); artifacts under ``runs/<id>/``.
Pages only read that state, so a widget click, a refresh or a server restart loses nothing.

Statuses: queued -> starting -> running -> succeeded | failed | cancelled | interrupted.
A worker that dies (killed, out of memory, server reboot) is found by :func:`reap` and marked
interrupted with the reason; :func:`resume` queues it again and its runner restores the checkpoint.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import heapq
import hmac
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from lab import database, settings
from lab.errors import InputError, describe_value
from lab.runlog import EPOCH_END, EPOCHS_TOTAL, RESTARTED, RUN_FACT, STEPS_PER_EPOCH, Row

ACTIVE = ("queued", "starting", "running")
KILL_AFTER_SECONDS = 4.0  # a cancelled worker that has not stopped by then is killed (cancel <= 5 s)
START_TIMEOUT_SECONDS = 60.0
ROOT = Path(__file__).resolve().parent.parent
WORKER_MODULE = "lab.worker"  # run as `python -m lab.worker`: a warm worker that claims runs
RAY_POOL = "lab.ray_pool"  # the workers' placement on a Ray cluster, when CNNLAB_RAY_ADDRESS is set
_CHILDREN: dict[int, subprocess.Popen] = {}  # workers this process started (by pid), so it can reap them


def home() -> Path:
    """The workspace: ``CNNLAB_HOME`` or ``./workspace`` (read on every call, for tests)."""
    return Path(settings.get("CNNLAB_HOME") or ROOT / "workspace").resolve()


def run_dir(run_id: str) -> Path:
    return home() / "runs" / run_id


@functools.cache
def gpu_count() -> int:
    """The GPUs ``nvidia-smi -L`` lists (0 without a working driver); asked once per process."""
    if not shutil.which("nvidia-smi"):
        return 0
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=5).stdout
        return sum(1 for line in listing.splitlines() if line.startswith("GPU"))
    return 0


@functools.cache
def gpu_memory() -> tuple[float, ...]:
    """Each GPU's memory in bytes (``nvidia-smi``), in index order; empty without a working driver."""
    if not shutil.which("nvidia-smi"):
        return ()
    query = ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"]
    with contextlib.suppress(OSError, subprocess.SubprocessError, ValueError):
        listing = subprocess.run(query, capture_output=True, text=True, timeout=5).stdout
        return tuple(float(line) * 2**20 for line in listing.split())  # MiB
    return ()


def gpu_budget(gpu: str) -> float | None:
    """Bytes the runs packed on ``gpu`` may need together: ``CNNLAB_GPU_MEMORY_FRACTION`` (0.9) of
    its memory, the rest left to the driver and to what the figures miss; None when unknown."""
    totals = gpu_memory()
    with contextlib.suppress(ValueError, IndexError):
        return totals[int(gpu)] * min(1.0, max(0.05, settings.get("CNNLAB_GPU_MEMORY_FRACTION")))
    return None


def _run_memory(memory: float | None, budget: float) -> float:
    """A run's figure; a run whose kind gave none takes one slot's share of its GPU."""
    return memory if memory else budget / runs_per_gpu()


def runs_per_gpu() -> int:
    """``CNNLAB_RUNS_PER_GPU``: small runs packed on one GPU (memory growth on); default 1."""
    return max(1, settings.get("CNNLAB_RUNS_PER_GPU"))


WORKER_MEMORY_BYTES = 1.5 * 2**30  # a worker with TensorFlow and a dataset, training a small CNN


def _available_memory() -> float:
    with contextlib.suppress(OSError, StopIteration, ValueError), open("/proc/meminfo") as handle:
        return int(next(line for line in handle if line.startswith("MemAvailable:")).split()[1]) * 1024.0
    return WORKER_MEMORY_BYTES


def max_runs() -> int:
    """Runs trained at once: ``CNNLAB_MAX_RUNS``; else GPUs x :func:`runs_per_gpu`; else, on a CPU,
    one per core while memory allows (1.5 GB each), at most 8. Measured on 2 cores: 6 digits runs
    took 28 s one at a time and 17 s two at a time (each worker with one thread per core it has)."""
    value = settings.get("CNNLAB_MAX_RUNS")
    if value:
        return max(1, value)
    if settings.get("CNNLAB_RAY_ADDRESS"):  # the cluster's CPUs (resolved by name: no import cycle)
        return importlib.import_module(RAY_POOL).slots()
    if gpu_count():
        return gpu_count() * runs_per_gpu()
    return _cpu_slots()


@functools.cache
def _cpu_slots() -> int:
    """Decided once per process: every idle worker asks :func:`max_runs` twice a second, and the
    memory that is free changes as workers load, so asking again would give the room a moving limit."""
    by_memory = int(_available_memory() // WORKER_MEMORY_BYTES)
    return max(1, min(os.cpu_count() or 1, by_memory, 8))


def _db(immediate: bool = False):
    """One operation's connection to the registry (:mod:`lab.database`: SQLite or PostgreSQL)."""
    return database.connect(home() / "lab.db", immediate)


@dataclass(frozen=True)
class Run:
    id: str
    kind: str
    config: dict
    status: str
    created: float
    started: float | None
    finished: float | None
    pid: int | None
    error: str | None
    result: dict | None
    resumes: int
    cancel_requested: float | None
    owner: str | None = None  # the browser that made it (an HMAC of its cookie); None: anyone (CLI)
    memory: float | None = None  # bytes of accelerator memory it needs (its kind's figure); None: unknown

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def _run(row) -> Run:
    values = {name: row[name] for name in Run.__dataclass_fields__}
    values["config"] = json.loads(row["config"])
    values["result"] = json.loads(row["result"]) if row["result"] else None
    return Run(**values)


class QueueFull(InputError):
    """A learner already has as many active runs as the room allows each learner."""


MAX_RUNS_PER_LEARNER = 20


def max_queued() -> int:
    """``CNNLAB_MAX_QUEUED``: runs waiting in the whole room at most (default 100): clients that give
    no browser identity (scripts, cookie-less sessions) cannot fill the queue past it."""
    return max(1, settings.get("CNNLAB_MAX_QUEUED"))


def runs_per_learner() -> int:
    """Active runs (queued or training) a learner may have: the instructor's setting in the registry
    (:func:`set_runs_per_learner`, shared by every web process), else ``CNNLAB_RUNS_PER_LEARNER``, else 1."""
    with contextlib.suppress(ValueError, TypeError):
        return max(1, int(setting("runs_per_learner") or settings.get("CNNLAB_RUNS_PER_LEARNER")))
    return 1


def setting(name: str) -> str | None:
    """A room-wide setting stored in the registry (None when unset)."""
    with _db() as db:
        row = db.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


def _set(name: str, value: str) -> None:
    with _db() as db:
        db.execute(
            "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )


def set_runs_per_learner(count: int) -> None:
    """The instructor's limit on each learner's active runs, for every web process at once."""
    if not isinstance(count, int) or not 1 <= count <= MAX_RUNS_PER_LEARNER:
        raise InputError(f"Runs per learner must be a whole number from 1 to {MAX_RUNS_PER_LEARNER}; got {count!r}.")
    _set("runs_per_learner", str(count))


def attended() -> bool:
    """Has anyone scheduled in this workspace within :func:`worker_idle_seconds`? A supervisor does
    every few seconds; when none has for that long (the server is gone), even warm workers leave."""
    with contextlib.suppress(TypeError, ValueError):
        return time.time() - float(setting("scheduled_at")) < worker_idle_seconds()
    return False


def _per_run(aggregate: str, name: str, run_ids: list[str]) -> dict:
    """``aggregate`` (``MAX(value)``, ``COUNT(*)``) of each run's epoch-level ``name`` rows, in one query."""
    if not run_ids:
        return {}
    marks = ",".join("?" * len(run_ids))
    with _db() as db:
        rows = db.execute(
            f"SELECT run_id, {aggregate} FROM metrics WHERE name = ? AND step = ? AND run_id IN ({marks}) "
            "GROUP BY run_id",
            (name, EPOCH_END, *run_ids),
        ).fetchall()
    return {row[0]: row[1] for row in rows}


def best_metric(name: str, run_ids: list[str]) -> dict[str, float]:
    """The highest epoch-level ``name`` (e.g. ``val_accuracy``) of each run, in one query."""
    return _per_run("MAX(value)", name, run_ids)


def epochs_done(run_ids: list[str]) -> dict[str, int]:
    """Whole epochs each run has logged so far, in one query (a resume drops the rows it redoes)."""
    return {run: int(count) for run, count in _per_run("COUNT(*)", "loss", run_ids).items()}


def estimated_start(run_id: str) -> float | None:
    """Seconds until a queued run should start: the slots free up as the running runs end (each at
    the mean duration of the last finished runs, counted from its start), and the runs ahead take
    them in turn; 0 when a slot is free now. None without a history to go by."""
    position = queue_position(run_id)
    if position is None:
        return None
    with _db() as db:
        rows = db.execute(
            "SELECT finished - started FROM runs WHERE status = 'succeeded' AND started IS NOT NULL "
            "ORDER BY finished DESC LIMIT 20"
        ).fetchall()
        running = [row[0] for row in db.execute("SELECT started FROM runs WHERE status IN ('starting', 'running')")]
    durations = [row[0] for row in rows if row[0] and row[0] > 0]
    slots = max_runs()
    if len(running) + position <= slots:
        return 0.0
    if not durations:
        return None
    mean, now = sum(durations) / len(durations), time.time()
    free_at = sorted(max(0.0, (started or now) + mean - now) for started in running)[:slots]
    free_at += [0.0] * (slots - len(free_at))
    heapq.heapify(free_at)
    for _ in range(position - 1):  # each run ahead takes the first slot to free and holds it for `mean`
        heapq.heapreplace(free_at, free_at[0] + mean)
    return free_at[0]


def create(
    kind: str,
    config: dict,
    dedupe: str | None = None,
    status: str = "queued",
    owner: str | None = None,
    memory: float | None = None,
) -> str:
    """Register a run and return its id; an active run with the same ``dedupe`` key is returned
    instead of a new one, so a double click makes at most one run. A learner (``owner``) may have at
    most :func:`runs_per_learner` active runs: the queue stays fair in a full room.

    ``config`` is the JSON form of settings that :mod:`lab.worker` has already checked; ``memory``
    the accelerator memory the run needs (its kind's figure: what :func:`claim` packs GPUs by).
    """
    with _db(immediate=True) as db:
        if dedupe:
            row = db.execute(
                "SELECT id FROM runs WHERE dedupe = ? AND status IN (?, ?, ?)", (dedupe, *ACTIVE)
            ).fetchone()
            if row:
                return row["id"]
        if status == "queued":  # the whole room's queue is bounded, whoever (or whatever) fills it
            waiting = db.execute("SELECT COUNT(*) FROM runs WHERE status = 'queued'").fetchone()[0]
            if waiting >= max_queued():
                raise QueueFull(
                    f"The room's queue is full: {waiting} runs are waiting (the limit is {max_queued()}). "
                    "Try again when some have started."
                )
        if owner is not None:  # a fair queue: one learner cannot fill it
            mine = db.execute(
                "SELECT COUNT(*) FROM runs WHERE owner = ? AND status IN (?, ?, ?)", (owner, *ACTIVE)
            ).fetchone()[0]
            if mine >= runs_per_learner():
                raise QueueFull(
                    f"You already have {mine} run(s) queued or training (the limit is {runs_per_learner()} per "
                    "learner): cancel one, or wait for it to finish."
                )
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        db.execute(
            "INSERT INTO runs (id, kind, config, status, dedupe, created, owner, memory) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, kind, json.dumps(config), status, dedupe, time.time(), owner, memory),
        )
    run_dir(run_id).mkdir(parents=True, exist_ok=True)
    return run_id


def get(run_id: str) -> Run:
    with _db() as db:
        row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise InputError(f"No run {describe_value(run_id)}: it may have been made on another server.")
    return _run(row)


def list_runs(kind: str | None = None, limit: int = 100, owner: str | None = None) -> list[Run]:
    """The newest runs, of ``kind`` and of ``owner`` (a learner's own) where given."""
    where = [(clause, value) for clause, value in (("kind = ?", kind), ("owner = ?", owner)) if value]
    query = "SELECT * FROM runs" + (" WHERE " + " AND ".join(clause for clause, _ in where) if where else "")
    args = tuple(value for _, value in where)
    with _db() as db:
        return [_run(row) for row in db.execute(query + " ORDER BY created DESC LIMIT ?", (*args, limit))]


def queue_position(run_id: str) -> int | None:
    """1 for the next run to start; None when the run is not queued."""
    with _db() as db:
        row = db.execute("SELECT status, created FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None or row["status"] != "queued":
            return None
        ahead = db.execute("SELECT COUNT(*) FROM runs WHERE status = 'queued' AND created < ?", (row["created"],))
        return ahead.fetchone()[0] + 1


def metrics(run_id: str, names: tuple[str, ...] | None = None) -> list[Row]:
    """The run's metric rows (see :mod:`lab.runlog`) in the order they were written."""
    query, args = "SELECT epoch, step, name, value FROM metrics WHERE run_id = ?", [run_id]
    if names:
        query += f" AND name IN ({','.join('?' * len(names))})"
        args += list(names)
    with _db() as db:
        return [tuple(row) for row in db.execute(query + " ORDER BY rowid", args)]


def metrics_since(run_id: str, after: int = 0) -> tuple[list[Row], int]:
    """The rows written after row number ``after``, and the last row number: what a poll needs."""
    with _db() as db:
        found = db.execute(
            "SELECT rowid, epoch, step, name, value FROM metrics WHERE run_id = ? AND rowid > ? ORDER BY rowid",
            (run_id, after),
        ).fetchall()
    return [tuple(row)[1:] for row in found], (found[-1][0] if found else after)


def log_metrics(run_id: str, rows: list[Row]) -> None:
    """Store a runner's rows (and count them as a heartbeat)."""
    now = time.time()
    with _db() as db:
        db.executemany(
            "INSERT INTO metrics (run_id, epoch, step, name, value, ts) VALUES (?, ?, ?, ?, ?, ?)",
            [(run_id, *row, now) for row in rows],
        )
        db.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (now, run_id))


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
        if active >= max_runs():
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
    budget = gpu_budget(worker["gpu"]) if worker and worker["gpu"] is not None else None
    if budget is None:
        return True
    packed = db.execute(
        "SELECT runs.memory FROM runs JOIN workers ON workers.host = runs.host AND workers.pid = runs.pid "
        "WHERE runs.status IN ('starting', 'running') AND workers.gpu = ?",
        (worker["gpu"],),
    ).fetchall()
    used = sum(_run_memory(other["memory"], budget) for other in packed)
    return not packed or used + _run_memory(memory, budget) <= budget


def keeps_gpu_memory(run_id: str) -> bool:
    """Whether a GPU worker should be replaced after this run: TensorFlow's allocator keeps what it
    grew to, so a worker that trained a large model would hold that much beside the next runs."""
    on_gpu = os.environ.get("CUDA_VISIBLE_DEVICES", "") not in ("", "-1")  # set per worker (or by Ray)
    return on_gpu and (get(run_id).memory or 0) > GPU_REPLACE_BYTES


GPU_REPLACE_BYTES = 2 * 2**30


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
    return min(max(0, settings.get("CNNLAB_WARM_WORKERS")), max_runs())


def worker_idle_seconds() -> float:
    """``CNNLAB_WORKER_IDLE_SECONDS``: a worker beyond the warm ones leaves after this long idle."""
    return max(0.0, settings.get("CNNLAB_WORKER_IDLE_SECONDS"))


def _gpu_for_new_worker(live: list[dict]) -> str | None:
    """The GPU with the fewest workers (each worker sees one GPU: ``CUDA_VISIBLE_DEVICES``)."""
    if not gpu_count():
        return None
    load = {str(index): 0 for index in range(gpu_count())}
    for row in live:
        if row["gpu"] in load:
            load[row["gpu"]] += 1
    return min(load, key=lambda index: (load[index], int(index)))


def _worker_env(gpu: str | None) -> dict:
    env = {**os.environ, "CNNLAB_HOME": str(home())}
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    else:  # share the cores: TensorFlow would otherwise give each run a thread per core
        threads = str(max(1, (os.cpu_count() or 1) // max_runs()))
        env.setdefault("TF_NUM_INTRAOP_THREADS", threads)
        env.setdefault("OMP_NUM_THREADS", threads)
    return env


def schedule() -> list[int]:
    """Reap, then start workers while the queued and active runs (or ``CNNLAB_WARM_WORKERS``)
    outnumber the live workers, up to :func:`max_runs`. Returns the pids started; the workers
    themselves :func:`claim` the runs."""
    reap()
    _set("scheduled_at", str(time.time()))  # someone looks after this workspace (see attended())
    if settings.get("CNNLAB_RAY_ADDRESS"):  # Ray places the workers (resolved by name: no import cycle)
        return importlib.import_module(RAY_POOL).ensure_workers()
    started: list[int] = []
    with _db(immediate=True) as db:
        live = [dict(row) for row in db.execute("SELECT * FROM workers")]
        wanted = db.execute("SELECT COUNT(*) FROM runs WHERE status IN ('queued', 'starting', 'running')")
        needed = min(max_runs(), max(wanted.fetchone()[0], warm_workers())) - len(live)
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
    if settings.get("CNNLAB_RAY_ADDRESS"):
        importlib.import_module(RAY_POOL).stop_workers()
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


def cancel(run_id: str, owner: str | None = None, instructor: bool = False) -> None:
    """Ask a run to stop: queued runs are cancelled at once; a worker sees the request within
    0.25 s (:mod:`lab.runlog`), stops at its next batch and takes the next run; one that is still on
    it after :data:`KILL_AFTER_SECONDS` is killed (and replaced)."""
    now = time.time()
    with _db(immediate=True) as db:
        row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise InputError(f"No run {describe_value(run_id)}: it may have been made on another server.")
        _check_control(_run(row), owner, instructor, "cancel")  # read and decided in one transaction
        if row["status"] == "queued":
            db.execute(
                "UPDATE runs SET status = 'cancelled', cancel_requested = ?, finished = ? WHERE id = ?",
                (now, now, run_id),
            )
            return
        if row["status"] not in ("starting", "running"):
            return
        db.execute("UPDATE runs SET cancel_requested = COALESCE(cancel_requested, ?) WHERE id = ?", (now, run_id))


def resume(run_id: str, owner: str | None = None, instructor: bool = False) -> None:
    """Queue an interrupted, cancelled or failed run again; its worker restores the last checkpoint
    and drops the rows logged after it (see :func:`restart_metrics`)."""
    run = get(run_id)
    _check_control(run, owner, instructor, "resume")
    if run.status not in ("interrupted", "cancelled", "failed"):
        raise InputError(f"Only an interrupted, cancelled or failed run can be resumed; this one is {run.status}.")
    with _db(immediate=True) as db:
        db.execute(
            "UPDATE runs SET status = 'queued', cancel_requested = NULL, error = NULL, finished = NULL, pid = NULL, "
            "resumes = resumes + 1 WHERE id = ?",
            (run_id,),
        )
    schedule()


def restart_metrics(run_id: str, epoch: int) -> None:
    """A fit of ``run_id`` starts at ``epoch``: drop the rows it will write again.

    Batch and epoch rows from ``epoch`` on, and events after it, go; the run's facts stay.
    """
    with _db() as db:
        db.execute("DELETE FROM metrics WHERE run_id = ? AND epoch >= ? AND step != ?", (run_id, int(epoch), RUN_FACT))
        db.execute(
            "DELETE FROM metrics WHERE run_id = ? AND epoch > ? AND step = ? AND name NOT IN (?, ?)",
            (run_id, int(epoch), RUN_FACT, STEPS_PER_EPOCH, EPOCHS_TOTAL),
        )
        db.execute(  # earlier restart notes: the poll that sees the new one reads everything again
            "DELETE FROM metrics WHERE run_id = ? AND step = ? AND name = ?", (run_id, RUN_FACT, RESTARTED)
        )


# ---------------------------------------------------------------------------------------------
# Ownership: a run belongs to the browser that made it
# ---------------------------------------------------------------------------------------------
class NotYours(InputError):
    """Someone who did not start a run tried to cancel or resume it."""


def key_file(path: Path, size: int = 32) -> bytes:
    """A random key made once and kept: written whole to a private temporary file, then linked into
    place (atomic, and the first of several processes wins). A key file left empty or short (a full
    disk once cut a write) is replaced, never used: an empty key would make every token guessable."""
    path = Path(path)
    with contextlib.suppress(FileNotFoundError):
        if len(found := path.read_bytes()) >= size:
            return found
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:  # mkstemp makes it 0o600
            handle.write(os.urandom(size))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(partial, path)
        except FileExistsError:
            if len(path.read_bytes()) < size:
                os.replace(partial, path)  # the damaged one goes; this whole one takes its place
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
    return path.read_bytes()


def _secret() -> bytes:
    """The workspace's random key for owner tokens (made once, readable by the server only)."""
    return key_file(home() / "owner.key")


def owner_token(browser_key: str | bytes) -> str:
    """The owner token of a browser: an HMAC of its own secret (e.g. its XSRF cookie) under the
    workspace key, so neither a run id nor the database gives away a browser's identity."""
    data = browser_key.encode() if isinstance(browser_key, str) else bytes(browser_key)
    return hmac.new(_secret(), data, hashlib.sha256).hexdigest()[:32]


def instructor(token: str | None) -> bool:
    """True when ``token`` is ``CNNLAB_INSTRUCTOR_TOKEN`` (compared in constant time)."""
    expected = settings.get("CNNLAB_INSTRUCTOR_TOKEN") or ""
    return bool(expected and token) and hmac.compare_digest(expected.encode(), str(token).encode())


def may_control(run: Run, owner: str | None, is_instructor: bool = False) -> bool:
    """Whether ``owner`` may cancel or resume ``run``: its owner, an instructor, or anyone for a run
    made without an owner (the command line)."""
    return is_instructor or run.owner is None or (owner is not None and hmac.compare_digest(run.owner, owner))


def _check_control(run: Run, owner: str | None, is_instructor: bool, action: str) -> None:
    if not may_control(run, owner, is_instructor):
        raise NotYours(f"This run belongs to another learner: you can watch it, but only they can {action} it.")


def update(run_id: str, **values) -> None:
    """Set columns of a run (the worker's status changes)."""
    columns = ", ".join(f"{name} = ?" for name in values)
    with _db() as db:
        db.execute(f"UPDATE runs SET {columns} WHERE id = ?", (*values.values(), run_id))


def finish(run_id: str, attempt: int, **values) -> None:
    """Set a run's outcome, unless it was resumed since ``attempt`` (its ``resumes``) began: a worker
    that finishes a step after a cancel must not overwrite the run's next attempt."""
    columns = ", ".join(f"{name} = ?" for name in values)
    with _db() as db:
        db.execute(f"UPDATE runs SET {columns} WHERE id = ? AND resumes = ?", (*values.values(), run_id, attempt))


def should_stop(run_id: str, attempt: int) -> bool:
    """Whether the worker on ``attempt`` of the run should stop: a cancel was asked, or the run is no
    longer this attempt's (marked cancelled, or resumed since: the next attempt must not race it)."""
    with _db() as db:
        row = db.execute("SELECT cancel_requested, resumes, status FROM runs WHERE id = ?", (run_id,)).fetchone()
    return row is None or bool(row[0]) or row[1] != attempt or row[2] not in ("starting", "running")


KEPT_FILE = "kept"  # in a run's folder: its owner pinned it, the disk budget never expires it


def disk_budget() -> int:
    """``CNNLAB_DISK_BUDGET_GB``: bytes the workspace's runs and uploads may take (default 20 GB)."""
    return int(settings.get("CNNLAB_DISK_BUDGET_GB") * 2**30)


def folder_bytes(path: Path) -> int:
    return sum(entry.stat().st_size for entry in Path(path).rglob("*") if entry.is_file()) if Path(path).is_dir() else 0


def keep(run_id: str, kept: bool = True) -> None:
    """Pin a run (or unpin it): the disk budget expires the oldest finished runs, never a pinned one."""
    marker = run_dir(run_id) / KEPT_FILE
    if kept:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    else:
        marker.unlink(missing_ok=True)


def is_kept(run_id: str) -> bool:
    return (run_dir(run_id) / KEPT_FILE).exists()


def expire_runs(budget: int | None = None) -> list[str]:
    """While the runs and uploads take more than ``budget`` bytes, delete the oldest finished run that
    is not pinned (its folder, metrics and row). Returns the expired run ids."""
    budget = disk_budget() if budget is None else budget
    used = folder_bytes(home() / "runs") + folder_bytes(home() / "uploads")
    expired = []
    finished = [run for run in reversed(list_runs(limit=100_000)) if not run.active and not is_kept(run.id)]
    for run in finished:  # oldest first
        if used <= budget:
            break
        used -= folder_bytes(run_dir(run.id))
        shutil.rmtree(run_dir(run.id), ignore_errors=True)
        with _db(immediate=True) as db:
            db.execute("DELETE FROM metrics WHERE run_id = ?", (run.id,))
            db.execute("DELETE FROM runs WHERE id = ? AND status NOT IN (?, ?, ?)", (run.id, *ACTIVE))
        expired.append(run.id)
    return expired


def mark_cancelled(run_id: str) -> None:
    """A running run asked to stop is cancelled now (its worker may still be finishing a step)."""
    with _db(immediate=True) as db:
        db.execute(
            "UPDATE runs SET status = 'cancelled', finished = ? WHERE id = ? AND status IN ('starting', 'running')",
            (time.time(), run_id),
        )


def cancel_requested(run_id: str) -> bool:
    with _db() as db:
        row = db.execute("SELECT cancel_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
    return bool(row and row[0])
