"""Run kinds and the worker process that runs one: ``python -m lab.worker <run_id>``.

A *kind* is a settings dataclass (a :class:`lab.config.Config`) and a runner with the contract of
:mod:`lab.runlog`: ``run(config, run_dir, log) -> result dict | None``. :data:`KINDS` is the whole
table; :mod:`lab.jobs`, which stores and supervises runs, knows none of them by name. Adding a
kind is one line here (the entries are import paths, so a page process imports only the kinds it
launches). ``CNNLAB_RUN_KINDS`` (JSON, same form) adds kinds without editing the table, e.g. for
a test's toy kind, which the worker process must be able to find too.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass

from lab import jobs, runlog
from lab.config import Config
from lab.errors import InputError, describe_value

KINDS: dict[str, tuple[str, str]] = {
    # kind: (settings dataclass, runner), as "module:attribute"
    "train": ("lab.training:TrainConfig", "lab.training:run"),
    "finetune": ("lab.finetune:FinetuneConfig", "lab.finetune:run"),
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
    extra = json.loads(os.environ.get("CNNLAB_RUN_KINDS") or "{}")
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
        owner: Who may cancel and resume it (:func:`lab.jobs.owner_token`); None: anyone.
    """
    run_id = jobs.create(name, _settings(name, config).to_dict(), dedupe, owner=owner)
    jobs.schedule()
    return run_id


def create(name: str, config: Config | dict, status: str = "queued") -> str:
    """Register a run without starting a worker (the CLI then :func:`execute`s it in the foreground)."""
    return jobs.create(name, _settings(name, config).to_dict(), status=status)


def execute(run_id: str) -> dict | None:
    """Run ``run_id`` in this process: the worker's body, and the CLI's foreground run."""
    stop = threading.Event()
    run = jobs.get(run_id)
    jobs.update(run_id, status="running", pid=os.getpid(), heartbeat=time.time(), started=run.started or time.time())
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    log = runlog.RunLog(
        lambda rows: jobs.log_metrics(run_id, rows),
        lambda: stop.is_set() or jobs.cancel_requested(run_id),
        lambda epoch: jobs.restart_metrics(run_id, epoch),
    )
    try:
        log.phase("importing TensorFlow")  # the first seconds of every run: say so
        spec = kind(run.kind)
        result = spec.run(spec.config.from_dict(run.config), jobs.run_dir(run_id), log)
    except InputError as error:
        jobs.update(run_id, status="failed", error=str(error), finished=time.time())
        return None
    except Exception as error:
        traceback.print_exc()
        jobs.update(run_id, status="failed", error=f"{type(error).__name__}: {error}", finished=time.time())
        return None
    if log.cancelled or stop.is_set():
        jobs.update(run_id, status="cancelled", finished=time.time())
        return None
    runlog.write_history(jobs.metrics(run_id), jobs.run_dir(run_id))
    jobs.update(run_id, status="succeeded", result=json.dumps(result), finished=time.time())
    return result


def main(run_id: str) -> None:
    try:
        execute(run_id)
    finally:
        with contextlib.suppress(Exception):
            jobs.schedule()  # start the next queued run even if no page is watching
        sys.stdout.flush()
        sys.stderr.flush()
        # Skip interpreter teardown (TensorFlow's takes about a second): the state is in SQLite
        # and the files are closed, and a cancelled run must release its memory within 5 s.
        os._exit(0)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m lab.worker <run_id>")
    main(sys.argv[1])
