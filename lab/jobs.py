"""The run registry and runner: one design for training and fine-tuning runs.

Each run is its own OS process (``python -m lab.jobs worker <run_id>``), started in a new session
so that it outlives the Streamlit process that submitted it. State lives in a SQLite database
(WAL) under ``CNNLAB_HOME`` (default ``./workspace``); artifacts under ``runs/<id>/``. Pages only
read that state, so a widget click, a refresh or a server restart loses nothing.

Statuses: queued -> starting -> running -> succeeded | failed | cancelled | interrupted.
A worker that dies (killed, out of memory, server reboot) is found by :func:`reap` and marked
interrupted with the reason; :func:`resume` continues it from its last completed epoch.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path

from lab.errors import InputError, describe_value

ACTIVE = ("queued", "starting", "running")
FINISHED = ("succeeded", "failed", "cancelled", "interrupted")
KILL_AFTER_SECONDS = 4.0  # a cancelled worker that has not stopped by then is killed (cancel <= 5 s)
START_TIMEOUT_SECONDS = 60.0
ROOT = Path(__file__).resolve().parent.parent
_READY: set[Path] = set()  # databases whose schema this process has already ensured
_CHILDREN: dict[str, subprocess.Popen] = {}  # workers this process started, so it can reap them
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, config TEXT NOT NULL, status TEXT NOT NULL,
    dedupe TEXT, created REAL NOT NULL, started REAL, finished REAL, pid INTEGER, heartbeat REAL,
    cancel_requested REAL, error TEXT, result TEXT, resumes INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL, epoch INTEGER NOT NULL, step INTEGER NOT NULL, name TEXT NOT NULL,
    value REAL NOT NULL, ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics (run_id, name);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, created);
"""


def home() -> Path:
    """The workspace: ``CNNLAB_HOME`` or ``./workspace`` (read on every call, for tests)."""
    return Path(os.environ.get("CNNLAB_HOME", ROOT / "workspace")).resolve()


def run_dir(run_id: str) -> Path:
    return home() / "runs" / run_id


def max_runs() -> int:
    """``CNNLAB_MAX_RUNS``, else one per GPU (nvidia-smi), else 1 on a CPU."""
    value = os.environ.get("CNNLAB_MAX_RUNS")
    if value:
        return max(1, int(value))
    if shutil.which("nvidia-smi"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=5).stdout
            return max(1, sum(1 for line in listing.splitlines() if line.startswith("GPU")))
    return 1


@contextlib.contextmanager
def _db(immediate: bool = False):
    path = home() / "lab.db"
    if path not in _READY:
        path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    connection.row_factory = sqlite3.Row
    try:
        if path not in _READY:  # once per database and process: WAL mode is stored in the file
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
            _READY.add(path)
        connection.execute("PRAGMA synchronous=NORMAL")  # per connection
        if immediate:
            connection.execute("BEGIN IMMEDIATE")  # one writer decides: no double starts
        yield connection
        if immediate:
            connection.execute("COMMIT")
    except BaseException:
        if immediate and connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.close()


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

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def _run(row: sqlite3.Row) -> Run:
    return Run(row["id"], row["kind"], json.loads(row["config"]), row["status"], row["created"], row["started"],
               row["finished"], row["pid"], row["error"], json.loads(row["result"]) if row["result"] else None,
               row["resumes"], row["cancel_requested"])  # fmt: skip


def _validate(kind: str, config: dict) -> dict:
    if kind == "train":
        from lab.training import TrainConfig

        return TrainConfig.from_dict(config).to_dict()
    if kind == "finetune":
        from lab.finetune import FinetuneConfig

        return FinetuneConfig.from_dict(config).to_dict()
    raise InputError(f"Unknown run kind {describe_value(kind)}.")


def create(kind: str, config: dict, dedupe: str | None = None, status: str = "queued") -> str:
    """Register a run (validated) and return its id; an active run with the same ``dedupe`` key
    is returned instead of a new one, so a double click makes at most one run."""
    config = _validate(kind, config)
    with _db(immediate=True) as db:
        if dedupe:
            row = db.execute(
                "SELECT id FROM runs WHERE dedupe = ? AND status IN (?, ?, ?)", (dedupe, *ACTIVE)
            ).fetchone()
            if row:
                return row["id"]
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        db.execute(
            "INSERT INTO runs (id, kind, config, status, dedupe, created) VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, kind, json.dumps(config), status, dedupe, time.time()),
        )
    run_dir(run_id).mkdir(parents=True, exist_ok=True)
    return run_id


def submit(kind: str, config: dict, dedupe: str | None = None) -> str:
    """Queue a run and start workers for as many queued runs as :func:`max_runs` allows."""
    run_id = create(kind, config, dedupe)
    schedule()
    return run_id


def get(run_id: str) -> Run:
    with _db() as db:
        row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise InputError(f"No run {describe_value(run_id)} in {home()}.")
    return _run(row)


def list_runs(kind: str | None = None, limit: int = 100) -> list[Run]:
    query, args = "SELECT * FROM runs", ()
    if kind:
        query, args = query + " WHERE kind = ?", (kind,)
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


def metrics(run_id: str, names: tuple[str, ...] | None = None) -> list[tuple[int, int, str, float]]:
    """(epoch, step, name, value) rows in order; step -1 marks an epoch-end value."""
    query, args = "SELECT epoch, step, name, value FROM metrics WHERE run_id = ?", [run_id]
    if names:
        query += f" AND name IN ({','.join('?' * len(names))})"
        args += list(names)
    with _db() as db:
        return [tuple(row) for row in db.execute(query + " ORDER BY rowid", args)]


@dataclass(frozen=True)
class Progress:
    """What the live panel shows, derived from the metric rows."""

    epochs_total: int
    epochs_done: int
    epoch: int  # the epoch in progress (0-based)
    batch: int  # batches done in it
    steps_per_epoch: int
    images_per_second: float | None
    eta_seconds: float | None
    curves: dict[str, tuple[list[float], list[float]]]  # name -> (x in epochs, values)

    @property
    def fraction(self) -> float:
        if not self.epochs_total:
            return 0.0
        within = self.batch / self.steps_per_epoch if self.steps_per_epoch else 0.0
        return min(1.0, (self.epochs_done + (0 if self.epochs_done > self.epoch else within)) / self.epochs_total)


def progress(run_id: str) -> Progress:
    """Epochs, batch position, speed, ETA and curves of a run (x axis in epochs, batch-level too)."""
    steps = total = 0
    epoch = batch = 0
    epoch_seconds: dict[int, float] = {}
    speeds: list[float] = []
    curves: dict[str, tuple[list[float], list[float]]] = {}
    done: set[int] = set()
    for row_epoch, step, name, value in metrics(run_id):
        if step == -2:
            if name == "steps_per_epoch":
                steps = int(value)
            elif name == "epochs_total":
                total = int(value)
            else:  # an event on the epoch axis, e.g. the unfreeze point of a fine-tune
                xs, _ = curves.setdefault(f"marker:{name}", ([], []))
                xs.append(value)
            continue
        if name == "progress":
            epoch, batch = row_epoch, int(value)
            continue
        x = row_epoch + 1 if step == -1 else row_epoch + (step + 1) / max(steps, 1)
        if step == -1:
            done.add(row_epoch)
            if name == "seconds":
                epoch_seconds[row_epoch] = value
            elif name == "images_per_second":
                speeds.append(value)
        xs, ys = curves.setdefault(name, ([], []))
        xs.append(x)
        ys.append(value)
    epochs_done = len(done)
    if epochs_done and epochs_done > epoch:
        epoch, batch = epochs_done, 0
    eta = None
    if epoch_seconds and total:
        per_epoch = sum(epoch_seconds.values()) / len(epoch_seconds)
        eta = max(0.0, (total - epochs_done) * per_epoch - (batch / steps * per_epoch if steps else 0))
    return Progress(total, epochs_done, epoch, batch, steps, speeds[-1] if speeds else None, eta, curves)


def log_metrics(run_id: str, rows: list[tuple]) -> None:
    now = time.time()
    with _db() as db:
        db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)", [(run_id, *row, now) for row in rows])
        db.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (now, run_id))


def _alive(pid: int | None, run_id: str) -> bool:
    """Is ``pid`` still our worker for ``run_id``? (Guards against pid reuse.)"""
    if not pid:
        return False
    child = _CHILDREN.get(run_id)
    if child is not None and child.pid == pid and child.poll() is not None:
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


def _exit_reason(run_id: str) -> str:
    child = _CHILDREN.get(run_id)
    code = child.poll() if child is not None else None
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        hint = " (often: out of memory)" if -code == signal.SIGKILL else ""
        return f"The worker process was killed by {name}{hint}."
    if code is not None:
        return f"The worker process exited with code {code} before finishing; see worker.log."
    return "The worker process stopped unexpectedly (killed, out of memory, or the server restarted)."


def reap() -> None:
    """Find dead workers (mark them interrupted or cancelled) and kill ones that ignore a cancel."""
    now = time.time()
    with _db(immediate=True) as db:
        for row in db.execute("SELECT * FROM runs WHERE status IN ('starting', 'running')").fetchall():
            run = _run(row)
            if _alive(run.pid, run.id):
                if run.cancel_requested and now - run.cancel_requested > KILL_AFTER_SECONDS:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(run.pid, signal.SIGKILL)
                continue
            if run.status == "starting" and not run.pid and now - (run.started or now) < START_TIMEOUT_SECONDS:
                continue
            status, reason = ("cancelled", None) if run.cancel_requested else ("interrupted", _exit_reason(run.id))
            db.execute("UPDATE runs SET status = ?, error = COALESCE(?, error), finished = ? WHERE id = ? AND status = ?",
                       (status, reason, now, run.id, run.status))  # fmt: skip
    for run_id, child in list(_CHILDREN.items()):
        if child.poll() is not None:
            _CHILDREN.pop(run_id, None)


def schedule() -> list[str]:
    """Start workers for the oldest queued runs while fewer than :func:`max_runs` are active."""
    reap()
    started = []
    with _db(immediate=True) as db:
        active = db.execute("SELECT COUNT(*) FROM runs WHERE status IN ('starting', 'running')").fetchone()[0]
        slots = max_runs() - active
        if slots > 0:
            rows = db.execute(
                "SELECT id FROM runs WHERE status = 'queued' ORDER BY created LIMIT ?", (slots,)
            ).fetchall()
            for row in rows:
                db.execute(
                    "UPDATE runs SET status = 'starting', started = ?, pid = NULL WHERE id = ?",
                    (time.time(), row["id"]),
                )
                started.append(row["id"])
    for run_id in started:
        directory = run_dir(run_id)
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / "worker.log", "ab") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "lab.jobs", "worker", run_id],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "CNNLAB_HOME": str(home())}, start_new_session=True,
            )  # fmt: skip
        _CHILDREN[run_id] = child
        with _db() as db:
            db.execute("UPDATE runs SET pid = ? WHERE id = ? AND pid IS NULL", (child.pid, run_id))
    return started


def cancel(run_id: str) -> None:
    """Ask a run to stop: queued runs are cancelled at once; a worker gets SIGTERM, stops at its
    next batch, and is killed if it is still alive after :data:`KILL_AFTER_SECONDS`."""
    now = time.time()
    with _db(immediate=True) as db:
        row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise InputError(f"No run {describe_value(run_id)}.")
        if row["status"] == "queued":
            db.execute(
                "UPDATE runs SET status = 'cancelled', cancel_requested = ?, finished = ? WHERE id = ?",
                (now, now, run_id),
            )
            return
        if row["status"] not in ("starting", "running"):
            return
        db.execute("UPDATE runs SET cancel_requested = COALESCE(cancel_requested, ?) WHERE id = ?", (now, run_id))
        pid = row["pid"]
    if pid and _alive(pid, run_id):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)


def resume(run_id: str) -> None:
    """Queue an interrupted (or cancelled) run again; its worker restores the last checkpoint."""
    run = get(run_id)
    if run.status not in ("interrupted", "cancelled", "failed"):
        raise InputError(f"Only an interrupted, cancelled or failed run can be resumed; this one is {run.status}.")
    with _db(immediate=True) as db:
        done = db.execute(
            "SELECT MAX(epoch) FROM metrics WHERE run_id = ? AND step = -1 AND name = 'loss'", (run_id,)
        ).fetchone()[0]
        # Drop the partial epoch's batch rows: the checkpoint resumes after the last complete epoch.
        db.execute("DELETE FROM metrics WHERE run_id = ? AND epoch > ?", (run_id, -1 if done is None else done))
        db.execute("UPDATE runs SET status = 'queued', cancel_requested = NULL, error = NULL, finished = NULL, pid = NULL, "
                   "resumes = resumes + 1 WHERE id = ?", (run_id,))  # fmt: skip
    schedule()


def _set(run_id: str, **values) -> None:
    columns = ", ".join(f"{name} = ?" for name in values)
    with _db() as db:
        db.execute(f"UPDATE runs SET {columns} WHERE id = ?", (*values.values(), run_id))


def execute(run_id: str) -> dict | None:
    """Run ``run_id`` in this process (the worker's body, and the CLI's foreground run)."""
    stop = threading.Event()
    run = get(run_id)
    _set(run_id, status="running", pid=os.getpid(), heartbeat=time.time(), started=run.started or time.time())

    def cancelled() -> bool:
        if stop.is_set():
            return True
        with _db() as db:
            flag = db.execute("SELECT cancel_requested FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
        if flag:
            stop.set()
        return stop.is_set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        from lab import training

        callback = training.metrics_callback(lambda rows: log_metrics(run_id, rows), cancelled,
                                             batch_size=run.config.get("batch_size"))  # fmt: skip
        if run.kind == "train":
            result = training.train(training.TrainConfig.from_dict(run.config), run_dir(run_id), [callback])
        else:
            from lab import finetune

            result = finetune.run(finetune.FinetuneConfig.from_dict(run.config), run_dir(run_id), callback)
    except InputError as error:
        _set(run_id, status="failed", error=str(error), finished=time.time())
        return None
    except Exception as error:
        traceback.print_exc()
        _set(run_id, status="failed", error=f"{type(error).__name__}: {error}", finished=time.time())
        return None
    if stop.is_set():
        _set(run_id, status="cancelled", finished=time.time())
        return None
    write_history(run_id)
    _set(run_id, status="succeeded", result=json.dumps(result), finished=time.time())
    return result


def write_history(run_id: str) -> Path:
    """``history.csv`` (one row per epoch, every epoch-level metric) from the registry: complete
    across resumes, and no per-epoch file writes while training."""
    table: dict[int, dict[str, float]] = {}
    for epoch, step, name, value in metrics(run_id):
        if step == -1:
            table.setdefault(epoch, {})[name] = value
    names = sorted({name for row in table.values() for name in row})
    path = run_dir(run_id) / "history.csv"
    lines = [",".join(["epoch", *names])]
    lines += [",".join([str(epoch), *(repr(table[epoch].get(name, "")) for name in names)]) for epoch in sorted(table)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _worker(run_id: str) -> None:
    try:
        execute(run_id)
    finally:
        with contextlib.suppress(Exception):
            schedule()  # start the next queued run even if no page is watching
        sys.stdout.flush()
        sys.stderr.flush()
        # Skip interpreter teardown (TensorFlow's takes about a second): the state is in SQLite
        # and the files are closed, and a cancelled run must release its memory within 5 s.
        os._exit(0)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "worker":
        _worker(sys.argv[2])
    sys.exit("usage: python -m lab.jobs worker <run_id>")
