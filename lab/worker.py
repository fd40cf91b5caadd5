"""Run kinds and the warm worker process that runs them: ``python -m lab.worker``.

A *kind* is a settings dataclass (a :class:`lab.config.Config`) and a runner with the contract of
:mod:`lab.runlog`: ``run(config, run_dir, log) -> result dict | None``. :data:`KINDS` is the whole
table; :mod:`lab.jobs`, which stores and supervises runs, knows none of them by name. Adding a
kind is one line here (the entries are import paths, so a page process imports only the kinds it
launches). ``CNNLAB_RUN_KINDS`` (JSON, same form) adds kinds without editing the table, e.g. for
a test's toy kind, which the worker process must be able to find too.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import gc
import importlib
import json
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass

from lab import database, jobs, runlog, settings, supervision
from lab.config import Config
from lab.errors import InputError, describe_value

KINDS: dict[str, tuple[str, str]] = {
    # kind: (settings dataclass, runner), as "module:attribute"
    "train": ("lab.training:TrainConfig", "lab.training:run"),
    "finetune": ("lab.finetune:FinetuneConfig", "lab.finetune:run"),
    "detect": ("lab.detect:DetectConfig", "lab.detect:run"),
    "segment": ("lab.segment:SegmentConfig", "lab.segment:run"),
    "architectures": ("lab.zoo:CompareConfig", "lab.zoo:run"),
}


@dataclass(frozen=True)
class RunKind:
    config: type[Config]
    run: object  # Callable[[Config, Path, runlog.RunLog], dict | None]


def _resolve(path: str):
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def kinds() -> dict[str, tuple[str, str]]:
    """:data:`KINDS` plus any added through ``CNNLAB_RUN_KINDS``."""
    extra = json.loads(settings.get("CNNLAB_RUN_KINDS") or "{}")
    return {**KINDS, **{name: tuple(paths) for name, paths in extra.items()}}


def kind(name: str) -> RunKind:
    table = kinds()
    if name not in table:
        raise InputError(f"Unknown run kind {describe_value(name)}; choose one of {', '.join(table)}.")
    config_path, run_path = table[name]
    return RunKind(_resolve(config_path), _resolve(run_path))


def _settings(name: str, config: Config | dict) -> Config:
    """The kind's settings object (built, and so checked, from a dict if need be)."""
    settings_class = kind(name).config
    if isinstance(config, dict):
        return settings_class.from_dict(config)
    if not isinstance(config, settings_class):
        raise InputError(f"A {name} run takes {settings_class.__name__}, got {type(config).__name__}.")
    return config


def submit(name: str, config: Config | dict, dedupe: str | None = None, owner: str | None = None) -> str:
    """Queue a run of kind ``name`` and start workers while slots are free; returns its id.

    Args:
        name: A kind from :func:`kinds`.
        config: Its settings, or their dict form (checked before any run exists).
        dedupe: An active run with the same key is returned instead of a new one.
        owner: Who may cancel and resume it (:func:`lab.ownership.owner_token`); None: anyone.
    """
    settings = _settings(name, config)
    run_id = jobs.create(name, settings.to_dict(), dedupe, owner=owner, memory=settings.memory_bytes())
    supervision.schedule()
    return run_id


def resume(run_id: str, owner: str | None = None, instructor: bool = False) -> None:
    """Queue an interrupted, cancelled or failed run again (:func:`lab.jobs.resume`) and start a worker for it."""
    jobs.resume(run_id, owner, instructor)
    supervision.schedule()


def create(name: str, config: Config | dict, status: str = "queued") -> str:
    """Register a run without starting a worker (the CLI then :func:`execute`s it in the foreground)."""
    return jobs.create(name, _settings(name, config).to_dict(), status=status)


@contextlib.contextmanager
def _output_to(path) -> object:
    """Send this process's stdout and stderr (file descriptors 1 and 2, so TensorFlow's C++ logs
    too) to ``path`` for the duration: each run keeps its own ``worker.log``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for descriptor in saved:
                os.close(descriptor)


def execute(run_id: str, stop: threading.Event | None = None) -> dict | None:
    """Run ``run_id`` in this process: a warm worker's body, and the CLI's foreground run.

    ``stop`` (a warm worker's): set by SIGTERM, the run stops at its next batch as interrupted,
    to be resumed; a cancel is read from the registry (within 0.25 s).
    """
    stop = stop or threading.Event()
    run = patient(jobs.get)(run_id)
    patient(jobs.update)(
        run_id,
        status="running",
        pid=os.getpid(),
        host=supervision.HOST,
        heartbeat=time.time(),
        started=run.started or time.time(),
    )
    log = runlog.RunLog(  # every write waits out a short registry outage; a stop check that fails says "go on"
        lambda rows: patient(jobs.log_metrics)(run_id, rows),
        lambda: stop.is_set() or _stop_asked(run_id, run.resumes),
        lambda epoch: patient(jobs.restart_metrics)(run_id, epoch),
    )
    finish = patient(jobs.finish)
    watching = threading.Event()
    threading.Thread(target=_honour_cancel, args=(run_id, watching), daemon=True).start()
    try:
        if "lab.device" not in sys.modules:
            log.phase("importing TensorFlow")  # a cold worker's first seconds: say so
        spec = kind(run.kind)
        result = spec.run(spec.config.from_dict(run.config), jobs.run_dir(run_id), log)
    except runlog.RunStopped:
        result = None  # asked to stop between two phases: decided below, as a stop inside fit is
    except InputError as error:
        finish(run_id, run.resumes, status="failed", error=str(error), finished=time.time())
        return None
    except Exception as error:
        traceback.print_exc()
        why = DISK_FULL if isinstance(error, OSError) and error.errno == errno.ENOSPC else None
        why = why or f"{type(error).__name__}: {error}"
        finish(run_id, run.resumes, status="failed", error=why, finished=time.time())
        return None
    finally:
        watching.set()
    cancelled = patient(jobs.cancel_requested)(run_id)  # also when it came during a step that cannot stop (export)
    if stop.is_set() and not cancelled:
        reason = "The worker was stopped (SIGTERM: a shutdown or restart); resume continues from the checkpoint."
        finish(run_id, run.resumes, status="interrupted", error=reason, finished=time.time())
        return None
    if cancelled or result is None:  # None: the runner stopped on request (and may be resumed already)
        finish(run_id, run.resumes, status="cancelled", finished=time.time())
        return None
    runlog.write_history(patient(jobs.metrics)(run_id), jobs.run_dir(run_id))
    finish(run_id, run.resumes, status="succeeded", result=json.dumps(result), finished=time.time())
    return result


def patient(function):
    """``function``, retried while the registry is briefly unreachable (:func:`lab.database.retrying`)."""
    return functools.partial(database.retrying, function)


def _stop_asked(run_id: str, attempt: int) -> bool:
    try:
        return jobs.should_stop(run_id, attempt)
    except database.errors():  # the registry is away: keep training; the next check asks again
        return False


DISK_FULL = "The server's disk is full: the run stopped. Resume it once space is freed (its checkpoint is kept)."
CANCEL_POLL_SECONDS = 0.2


def _honour_cancel(run_id: str, done: threading.Event) -> None:
    """Mark the run cancelled as soon as someone asks, whatever its step: a model build, the first
    batch's tracing or the TFLite export cannot stop midway, but the learner is told within a
    fraction of a second, and the run's result is thrown away when the step ends (:func:`execute`)."""
    while not done.wait(CANCEL_POLL_SECONDS):
        try:
            if jobs.cancel_requested(run_id):
                jobs.mark_cancelled(run_id)
                return
        except Exception:  # the registry is briefly unreachable: the run's own checks still hold
            continue


POLL_SECONDS = 0.5  # how often an idle worker looks for a queued run: the wait after a slot frees
MAX_RUNS_PER_WORKER = 50  # then the worker leaves and a fresh one replaces it (nothing accumulates)


def warm_up() -> None:
    """Import TensorFlow and every kind's modules, load the digits set, and call each runner
    module's own ``warm_up()`` where it has one (training traces its default model): what a cold
    run waits for (~5 s here) happens before any run is waiting."""
    import lab.device  # noqa: F401  (TensorFlow, configured)
    from lab import datasets

    datasets.load("digits")
    for name in kinds():
        runner = kind(name).run
        prepare = getattr(sys.modules.get(getattr(runner, "__module__", "")), "warm_up", None)
        if callable(prepare):
            try:
                prepare()
            except Exception:  # a warm-up is an optimisation: the run itself reports what is wrong
                traceback.print_exc()
    after_run()  # the warm-up's own models leave no names or graphs behind


def after_run() -> None:
    """Leave the process as a fresh one would be for the next run: no models, default dtype policy."""
    if "lab.device" in sys.modules:
        from lab.device import keras

        keras.backend.clear_session(free_memory=True)
        keras.mixed_precision.set_global_policy("float32")
    gc.collect()


HEARTBEAT_SECONDS = 5.0


def _heartbeat(pid: int, run_id: str, finished: threading.Event) -> None:
    """While a run lasts, say so every few seconds (how a worker on another host is known alive,
    however long a phase without batches takes)."""
    while not finished.wait(HEARTBEAT_SECONDS):
        with contextlib.suppress(Exception):
            supervision.worker_seen(pid, run_id)


def serve() -> bool:
    """A warm worker: claim queued runs and run them, one at a time, until told to leave.

    Leaves after ``CNNLAB_WORKER_IDLE_SECONDS`` idle (unless it is one of the warm ones and a
    supervisor still schedules in its workspace: :func:`lab.supervision.attended`), after
    :data:`MAX_RUNS_PER_WORKER` runs or one large run on a GPU (:func:`lab.supervision.keeps_gpu_memory`),
    when its workspace is gone, or on SIGTERM (a run in progress is then interrupted, and
    resumable). Returns True when a fresh worker should replace it.
    """
    pid, stop, leave = os.getpid(), threading.Event(), threading.Event()
    busy: list[str] = []

    def on_term(*_):
        leave.set()
        if busy:
            stop.set()

    with contextlib.suppress(ValueError):  # not the main thread (a Ray actor's): Ray stops it instead
        signal.signal(signal.SIGTERM, on_term)
    patient(supervision.worker_seen)(pid)
    warmed, runs_done, idle_since = False, 0, time.monotonic()
    while not leave.is_set() and jobs.home().exists():
        run_id = patient(supervision.claim)(pid)
        if run_id:
            busy.append(run_id)
            finished = threading.Event()
            beating = threading.Thread(target=_heartbeat, args=(pid, run_id, finished), daemon=True)
            beating.start()
            try:
                with _output_to(jobs.run_dir(run_id) / "worker.log"):
                    execute(run_id, stop)
            finally:
                busy.clear()
                finished.set()
                beating.join()
                patient(supervision.worker_seen)(pid, None)
                after_run()
            runs_done, idle_since, warmed = runs_done + 1, time.monotonic(), True
            if runs_done >= MAX_RUNS_PER_WORKER or patient(supervision.keeps_gpu_memory)(run_id):
                return True
            continue
        if not warmed:  # started ahead of demand: get ready for the first run
            warm_up()
            warmed = True
            continue
        idle = time.monotonic() - idle_since
        if idle > supervision.worker_idle_seconds() and (
            len(patient(supervision.workers)()) > supervision.warm_workers() or not patient(supervision.attended)()
        ):
            break  # not needed: beyond the warm ones, or nobody looks after this workspace any more
        patient(supervision.worker_seen)(pid)
        leave.wait(POLL_SECONDS)
    return False


def main() -> None:
    replace = True  # a crash: let the next worker take the queue
    try:
        replace = serve()
    finally:
        with contextlib.suppress(Exception):
            supervision.worker_left(os.getpid())
            if replace:  # not after SIGTERM (stop_workers, a shutdown): that would start another
                supervision.schedule()
        sys.stdout.flush()
        sys.stderr.flush()
        # Skip interpreter teardown (TensorFlow's takes about a second): the state is in SQLite
        # and the files are closed, and a stopped worker must release its memory within 5 s.
        if (device := sys.modules.get("lab.device")) is not None:  # os._exit runs no atexit hook
            shutil.rmtree(device.SCRATCH, ignore_errors=True)
        os._exit(0)


if __name__ == "__main__":
    if len(sys.argv) != 1:
        sys.exit("usage: python -m lab.worker  (a warm worker: it takes queued runs from the registry)")
    main()
