"""A room presses Train: N learners submit a digits run (small_cnn, 10 epochs, each its own seed) at
the same moment, each with a tab open on its run (Streamlit's protocol, rerunning the live panel as
the browser does), on one server with the warm worker pool.

Reports, per run, the wait in the queue, the first curve (the first batch's row, after the run
starts: what the live panel draws) and the run's length; and the time until every run finished,
the server's CPU and the workers' count. Loopback only; everything bounded in time.

Run from the repository root: ``python -m benchmarks.bench_room_train`` (``--learners 6`` for a
quick look, ``--slots 2`` for two runs at once, ``--no-watch`` without the open tabs).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time

from benchmarks.bench_load import process_stats
from benchmarks.bench_watchers import watch
from benchmarks.streamlit_client import percentile, server


def first_batches(database: str) -> dict[str, float]:
    """Each run's first batch row (its wall-clock time), read from the registry."""
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT run_id, MIN(ts) FROM metrics WHERE name = 'batch_loss' GROUP BY run_id")
        return dict(rows.fetchall())


async def room(port: int, run_ids: list[str], seconds: float) -> list[str]:
    times, counts = [], []
    tabs = [watch(port, f"run={run_id}", seconds, times, counts) for run_id in run_ids]
    return [error for error in await asyncio.gather(*tabs) if error]


def summary(label: str, values: list[float]) -> str:
    return (
        f"{label:28s} p50 {percentile(values, 0.5):6.2f} s   p95 {percentile(values, 0.95):6.2f} s   "
        f"max {max(values):6.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=60)
    parser.add_argument("--slots", type=int, default=None, help="CNNLAB_MAX_RUNS (default: the lab's own)")
    parser.add_argument("--warm", type=int, default=None, help="CNNLAB_WARM_WORKERS (default: the slots)")
    parser.add_argument("--no-watch", action="store_true", help="no open tabs: the runs alone")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds for the whole room")
    args = parser.parse_args()
    workspace = tempfile.mkdtemp(prefix="cnnlab-room-")
    os.environ["CNNLAB_HOME"] = workspace
    if args.slots:
        os.environ["CNNLAB_MAX_RUNS"] = str(args.slots)
    from lab import capacity, jobs, supervision, training, worker

    os.environ["CNNLAB_WARM_WORKERS"] = str(args.warm if args.warm is not None else capacity.max_runs())
    with server(workspace) as (port, process):
        supervision.schedule()  # as the supervisor does at start: the warm workers import TensorFlow now
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(supervision.workers()) < supervision.warm_workers():
            time.sleep(0.2)
        time.sleep(10)  # let them finish warming up: a workshop server is started before the room arrives
        cpu_before, _ = process_stats(process.pid)
        start = time.time()
        run_ids = [
            worker.submit("train", training.TrainConfig(seed=seed), owner=f"learner-{seed}")
            for seed in range(args.learners)
        ]
        if not args.no_watch:
            watching = asyncio.get_event_loop_policy().new_event_loop()
            task = watching.create_task(room(port, run_ids, args.timeout))
        while time.time() - start < args.timeout:
            if args.no_watch:
                time.sleep(1.0)
            else:
                watching.run_until_complete(asyncio.sleep(1.0))
            if not any(jobs.get(run_id).active for run_id in run_ids):
                break
        finished = time.time()
        if not args.no_watch:
            task.cancel()
            leftover = asyncio.all_tasks(watching)  # the tabs' websocket keepalives too: close quietly
            for pending in leftover:
                pending.cancel()
            watching.run_until_complete(asyncio.gather(task, *leftover, return_exceptions=True))
            watching.close()
        cpu = process_stats(process.pid)[0] - cpu_before
        runs = [jobs.get(run_id) for run_id in run_ids]
        firsts = first_batches(os.path.join(workspace, "lab.db"))
        failed = [run for run in runs if run.status != "succeeded"]
        print(f"{args.learners} learners, {capacity.max_runs()} slot(s), watching: {not args.no_watch}")
        print(f"all finished after {finished - start:.1f} s   ({len(failed)} not succeeded)")
        started = [run for run in runs if run.started and run.id in firsts]
        print(summary("queue wait (submit -> start)", [run.started - start for run in started]))
        print(summary("first curve (start -> batch)", [firsts[run.id] - run.started for run in started]))
        print(summary("run (start -> finished)", [run.finished - run.started for run in started if run.finished]))
        pids = {run.pid for run in runs}
        print(f"worker processes used: {len(pids)}   server CPU {cpu:.0f} s over the room")
        accuracy = [run.result["test_accuracy"] for run in runs if run.result]
        if accuracy:
            print(f"test accuracy: min {min(accuracy):.3f}  max {max(accuracy):.3f}")
        for run in failed[:3]:
            print("  not succeeded:", run.id, run.status, (run.error or "")[:200])
        supervision.stop_workers()


if __name__ == "__main__":
    main()
