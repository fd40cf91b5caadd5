"""The supervisor: reaps dead workers, starts queued runs and clears stale uploads, on a timer.

Independent of page views: ``make run`` starts ``python -m lab.supervisor`` beside the server, and
the app also runs :func:`run` in a thread once per server process. Every step is safe to run in
several processes at once (the registry decides under SQLite's write lock).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import os
import sqlite3
import sys
import time

from lab import datasets, jobs

CLEAN_EVERY_SECONDS = float(os.environ.get("CNNLAB_HOUSEKEEPING_SECONDS", 600))


def uploads_in_use() -> set:
    """Staged uploads that an existing run still reads (its ``data_dir``)."""
    return {run.config["data_dir"] for run in jobs.list_runs(limit=10_000) if run.config.get("data_dir")}


def step() -> None:
    """One round: reap and schedule."""
    with contextlib.suppress(sqlite3.Error, OSError):
        jobs.schedule()


def clean() -> list:
    with contextlib.suppress(sqlite3.Error, OSError):
        return datasets.clean_uploads(jobs.home() / "uploads", uploads_in_use())
    return []


def release_memory() -> bool:
    """Collect garbage, then hand freed heap pages back to the system (glibc's ``malloc_trim``).

    A server process that served a burst of sessions keeps their freed memory mapped: glibc does not
    return it by itself, so RSS stays at the burst's peak long after the sessions ended.
    """
    gc.collect()
    name = ctypes.util.find_library("c")
    if not name:
        return False
    with contextlib.suppress(OSError, AttributeError):
        return bool(ctypes.CDLL(name).malloc_trim(0))
    return False


def run(interval: float = 5.0, rounds: int | None = None, trim: bool = False) -> None:
    """Every ``interval`` seconds a :func:`step`; every 10 minutes a :func:`clean` (first at once) and,
    with ``trim`` (in the server process), :func:`release_memory`."""
    done, last_clean = 0, float("-inf")
    while rounds is None or done < rounds:
        step()
        if time.monotonic() - last_clean >= CLEAN_EVERY_SECONDS:
            clean()
            if trim:
                release_memory()
            last_clean = time.monotonic()
        done += 1
        if rounds is None or done < rounds:
            time.sleep(interval)


if __name__ == "__main__":
    run(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
