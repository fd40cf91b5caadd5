"""The run registry: which runs exist, their settings, state, metrics and files.

Generic machinery: it stores each run's kind and settings as data and knows no kind by name. What a
kind is and how it runs is :mod:`lab.worker`'s table; what a run writes is :mod:`lab.runlog`'s
contract. State lives in a SQLite database (WAL) under ``CNNLAB_HOME`` (:mod:`lab.workspace`), or
PostgreSQL (``CNNLAB_DATABASE_URL``, :mod:`lab.database`); artifacts under ``runs/<id>/``. Pages
only read that state, so a widget click, a refresh or a server restart loses nothing.

Its neighbours: :mod:`lab.capacity` (how many runs fit at once), :mod:`lab.ownership` (who may
cancel or resume a run), :mod:`lab.supervision` (the warm workers that claim and run them).

Statuses: queued -> starting -> running -> succeeded | failed | cancelled | interrupted.
A worker that dies (killed, out of memory, server reboot) is found by :func:`lab.supervision.reap`
and marked interrupted with the reason; :func:`resume` queues it again and its runner restores the
checkpoint.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from lab import capacity, database, ownership, settings
from lab.errors import InputError, describe_value
from lab.runlog import EPOCH_END, EPOCHS_TOTAL, RESTARTED, RUN_FACT, STEPS_PER_EPOCH, Row
from lab.workspace import ROOT, home, run_dir  # noqa: F401  where the registry keeps its runs

ACTIVE = ("queued", "starting", "running")
KILL_AFTER_SECONDS = 4.0  # a cancelled worker that has not stopped by then is killed (cancel <= 5 s)


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


def store_setting(name: str, value: str) -> None:
    with _db() as db:
        db.execute(
            "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )


def set_runs_per_learner(count: int) -> None:
    """The instructor's limit on each learner's active runs, for every web process at once."""
    if not isinstance(count, int) or not 1 <= count <= MAX_RUNS_PER_LEARNER:
        raise InputError(f"Runs per learner must be a whole number from 1 to {MAX_RUNS_PER_LEARNER}; got {count!r}.")
    store_setting("runs_per_learner", str(count))


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
    slots = capacity.max_runs()
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


def succeeded(run_id: str, kind: str) -> Run:
    """Run ``run_id`` if it is a finished run of ``kind``; an unknown id, another kind or a run that has not
    succeeded is a message (a page reads a finished run's files only through this)."""
    run = get(run_id)
    if run.kind != kind:
        raise InputError(f"Run {describe_value(run_id)} is a {run.kind} run, not a {kind} run.")
    if run.status != "succeeded":
        raise InputError(f"Run {describe_value(run_id)} has not succeeded (it is {run.status}).")
    return run


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


def cancel(run_id: str, owner: str | None = None, instructor: bool = False) -> None:
    """Ask a run to stop: queued runs are cancelled at once; a worker sees the request within
    0.25 s (:mod:`lab.runlog`), stops at its next batch and takes the next run; one that is still on
    it after :data:`KILL_AFTER_SECONDS` is killed (and replaced)."""
    now = time.time()
    with _db(immediate=True) as db:
        row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise InputError(f"No run {describe_value(run_id)}: it may have been made on another server.")
        ownership.check_control(_run(row), owner, instructor, "cancel")  # read and decided in one transaction
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
    ownership.check_control(run, owner, instructor, "resume")
    if run.status not in ("interrupted", "cancelled", "failed"):
        raise InputError(f"Only an interrupted, cancelled or failed run can be resumed; this one is {run.status}.")
    with _db(immediate=True) as db:
        db.execute(
            "UPDATE runs SET status = 'queued', cancel_requested = NULL, error = NULL, finished = NULL, pid = NULL, "
            "resumes = resumes + 1 WHERE id = ?",
            (run_id,),
        )


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
