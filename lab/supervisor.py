"""The supervisor: reaps dead workers, starts queued runs and clears stale uploads, on a timer.

Independent of page views: ``make run`` starts ``python -m lab.supervisor`` beside the server, and
the app also runs :func:`run` in a thread once per server process. Every step is safe to run in
several processes at once (the registry decides under SQLite's write lock).
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import time

from lab import datasets, jobs

CLEAN_EVERY_SECONDS = 600.0


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


def run(interval: float = 5.0, rounds: int | None = None) -> None:
    """Every ``interval`` seconds a :func:`step`; every 10 minutes a :func:`clean` (first at once)."""
    done, last_clean = 0, float("-inf")
    while rounds is None or done < rounds:
        step()
        if time.monotonic() - last_clean >= CLEAN_EVERY_SECONDS:
            clean()
            last_clean = time.monotonic()
        done += 1
        if rounds is None or done < rounds:
            time.sleep(interval)


if __name__ == "__main__":
    run(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
