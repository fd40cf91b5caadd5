"""Learners watching runs: what the live run panel costs the server, per watcher and second.

A real training run (digits, small_cnn, a real worker process) and, beside it, a queued run. N
sessions (Streamlit's protocol, no browser) open ``/train?run=<id>`` and then do what the browser
does with a ``run_every`` fragment: rerun the fragment whenever its auto-rerun interval says so.
For N = 1, 10, 30 watchers of each run over a fixed window: server CPU seconds per watcher per
second, fragment reruns per watcher per second, the p50/p95 seconds of one fragment rerun, and
the training's epochs per second while it is watched (the run's own rows). Loopback only.

Run from the repository root: ``python -m benchmarks.bench_watchers`` (``--sizes 1,10`` for fewer).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time

from benchmarks.bench_load import process_stats
from benchmarks.streamlit_client import percentile, server


async def watch(port: int, query: str, seconds: float, times: list[float], counts: list[int]) -> str | None:
    """One browser tab on the train page: a full run, then fragment reruns as the server asks."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    message = BackMsg()
    message.rerun_script.query_string = query
    message.rerun_script.page_name = "train"
    intervals: dict[str, float] = {}
    page_hash, sent, reruns = "", None, 0
    deadline = time.monotonic() + seconds
    try:
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"], max_size=None, open_timeout=30
        ) as socket_:
            await socket_.send(message.SerializeToString())
            next_at = None
            while time.monotonic() < deadline:
                wait = (next_at - time.monotonic()) if next_at and sent is None else 1.0
                try:
                    data = await asyncio.wait_for(socket_.recv(), timeout=max(0.01, wait))
                except TimeoutError:
                    data = None
                if data is not None:
                    forward = ForwardMsg.FromString(data)
                    kind = forward.WhichOneof("type")
                    if kind == "navigation":  # the page's own hash (new_session's is the main script's)
                        page_hash = forward.navigation.page_script_hash
                    elif kind == "auto_rerun":
                        intervals[forward.auto_rerun.fragment_id] = forward.auto_rerun.interval
                    elif kind == "stop_auto_rerun":
                        intervals.clear()
                    elif kind == "script_finished":
                        if sent is not None:
                            times.append(time.perf_counter() - sent)
                            reruns += 1
                        sent = None
                        if intervals:
                            next_at = time.monotonic() + min(intervals.values())
                if sent is None and intervals and next_at and time.monotonic() >= next_at:
                    fragment_id = min(intervals, key=intervals.get)
                    rerun = BackMsg()
                    rerun.rerun_script.query_string = query
                    rerun.rerun_script.page_script_hash = page_hash
                    rerun.rerun_script.fragment_id = fragment_id
                    rerun.rerun_script.is_auto_rerun = True
                    sent = time.perf_counter()
                    await socket_.send(rerun.SerializeToString())
    except Exception as failure:  # a closed socket: an error, not a crash
        return f"{type(failure).__name__}: {failure}"
    finally:
        counts.append(reruns)
    return None


async def tabs(port: int, run_id: str, watchers: int, seconds: float, times: list, counts: list) -> list[str]:
    watching = [watch(port, f"run={run_id}", seconds, times, counts) for _ in range(watchers)]
    return [error for error in await asyncio.wait_for(asyncio.gather(*watching), seconds + 60) if error]


def epochs_done(run_id: str) -> int:
    from lab import jobs, runlog

    return sum(1 for epoch, step, name, _ in jobs.metrics(run_id) if step == runlog.EPOCH_END and name == "seconds")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,10,30")
    parser.add_argument("--seconds", type=float, default=20.0, help="window per measurement of the training run")
    parser.add_argument("--queued-seconds", type=float, default=60.0, help="window for the queued run (it backs off)")
    args = parser.parse_args()
    workspace = tempfile.mkdtemp(prefix="cnnlab-watch-")
    os.environ["CNNLAB_HOME"] = workspace
    from lab import jobs, training, worker
    from lab.training import MAX_EPOCHS  # with batch 8: minutes, outlasting every window

    with server(workspace) as (port, process), contextlib.ExitStack() as cleanup:
        training_run = worker.submit("train", training.TrainConfig(epochs=MAX_EPOCHS, batch_size=8))
        queued_run = worker.submit("train", training.TrainConfig(epochs=MAX_EPOCHS, seed=7))
        cleanup.callback(jobs.cancel, queued_run)
        cleanup.callback(jobs.cancel, training_run)
        while jobs.get(training_run).status != "running" or epochs_done(training_run) < 2:
            time.sleep(0.5)
        asyncio.run(tabs(port, training_run, 1, 5.0, [], []))  # warm: the page's imports and caches
        header = ("watching", "N", "CPU s/watcher/s", "reruns/watcher/s", "p50 s", "p95 s", "errors", "epochs/s")
        print("{:10s} {:>3s} {:>15s} {:>16s} {:>6s} {:>6s} {:>6s} {:>8s}".format(*header))
        for label, run_id in (("training", training_run), ("queued", queued_run)):
            for watchers in [0] + [int(size) for size in args.sizes.split(",")]:
                times, counts = [], []
                cpu_before, _ = process_stats(process.pid)
                epochs_before, start = epochs_done(training_run), time.monotonic()
                seconds = args.seconds if label == "training" else args.queued_seconds
                errors = asyncio.run(tabs(port, run_id, watchers, seconds, times, counts))
                if not watchers:
                    time.sleep(seconds)
                wall = time.monotonic() - start
                cpu = process_stats(process.pid)[0] - cpu_before
                speed = (epochs_done(training_run) - epochs_before) / wall
                per_watcher = cpu / wall / watchers if watchers else cpu / wall
                rate = sum(counts) / wall / watchers if watchers else 0.0
                print(
                    f"{label:10s} {watchers:3d} {per_watcher:15.3f} {rate:16.2f} {percentile(times, 0.5):6.2f} "
                    f"{percentile(times, 0.95):6.2f} {len(errors):6d} {speed:8.2f}"
                )


if __name__ == "__main__":
    main()
