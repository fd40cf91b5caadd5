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
import sys
import time
from collections.abc import Callable

from lab import database, jobs, scratch, settings, supervision, uploads

CLEAN_EVERY_SECONDS = settings.get("CNNLAB_HOUSEKEEPING_SECONDS")


def uploads_in_use() -> set:
    """Staged uploads that an existing run still reads (its ``data_dir``)."""
    return {run.config["data_dir"] for run in jobs.list_runs(limit=10_000) if run.config.get("data_dir")}


def step() -> None:
    """One round: reap and schedule."""
    with contextlib.suppress(*database.errors(), OSError):
        supervision.schedule()


def clean() -> list:
    """Stale uploads, then the oldest finished runs past the disk budget (pinned ones stay)."""
    with contextlib.suppress(*database.errors(), OSError):
        removed = uploads.clean_uploads(jobs.home() / "uploads", uploads_in_use())
        return [*removed, *jobs.expire_runs(), *scratch.clean_ended()]
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


M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def limit_malloc_arenas(count: int = 2) -> bool:
    """Cap glibc's malloc arenas for threads created from now on (``mallopt(M_ARENA_MAX, count)``).

    Streamlit runs every script run in a new thread, and glibc gives threads that allocate at the
    same moment arenas of their own, up to 8 per core. After a burst of 30 sessions the freed memory
    is scattered over those arenas and cannot be handed back: measured here, 30-session bursts on
    three pages left RSS 240 MB over the warm baseline after ``malloc_trim`` with the default
    arenas, 125 MB with two (bursts' p95 unchanged). Same as ``MALLOC_ARENA_MAX=2``, but works
    where the environment cannot be set before the process starts (a hosted app).
    """
    name = ctypes.util.find_library("c")
    if not name or count < 1:
        return False
    with contextlib.suppress(OSError, AttributeError):
        return bool(ctypes.CDLL(name).mallopt(M_ARENA_MAX, int(count)))
    return False


def memory_loop(expire: Callable[[], int], interval: float = 30.0, rounds: int | None = None) -> None:
    """Every ``interval`` seconds call ``expire`` (the web server's: drop sessions past their
    reconnect window; returns how many it dropped) and, when it dropped any, :func:`release_memory`.

    Streamlit keeps a disconnected session (its state, widgets, fragments) for
    ``server.disconnectedSessionTTL`` seconds so that a dropped connection can resume, but its store
    reaps expired sessions only on its next write: after a burst, the next learner to disconnect. A
    quiet room kept 128 sessions (~500 MB here) indefinitely; this loop makes the TTL a bound.
    """
    done = 0
    while rounds is None or done < rounds:
        time.sleep(interval)
        with contextlib.suppress(Exception):  # housekeeping never takes the server down
            if expire() > 0:
                release_memory()
        done += 1


def run(interval: float = 5.0, rounds: int | None = None, trim: bool = False) -> None:
    """Every ``interval`` seconds a :func:`step`; every 10 minutes a :func:`clean` (first at once) and,
    with ``trim`` (in the server process), :func:`release_memory`."""
    from lab import placement

    placement.install()
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
