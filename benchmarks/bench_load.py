"""A room on one server: N learners open a page at the same moment (Streamlit's protocol, no browser).

For N = 1, 10, 30, 60 concurrent sessions on the convolution, pooling and classifier (random
weights) pages: p50/p95 seconds to ``script_finished``, errors, KB per session, the server's CPU
seconds over the burst and its resident memory after it. Loopback only; every session and the
whole run are bounded in time.

Run from the repository root: ``python -m benchmarks.bench_load`` (``--sizes 1,10`` for fewer).
Memory after repeated bursts and a quiet spell: ``--sizes 30 --rounds 4 --idle 180``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time

from benchmarks.streamlit_client import ROOT, free_port, percentile, server, visit
from deploy.workshop import wait_healthy

PAGES = {
    "convolution": ("convolution", ""),
    "pooling": ("pooling", ""),
    "classifier (random weights)": ("classify", "cls.random=true"),
}

WARM = [*PAGES.values(), ("padding", ""), ("pr", ""), ("train", ""), ("finetune", ""), ("", "")]


@contextlib.contextmanager
def workshop(workspace: str, servers: int):
    """``deploy.workshop``: ``servers`` Streamlit processes behind nginx; yields (nginx's port, pids)."""
    port, first = free_port(), free_port()
    env = {**os.environ, "CNNLAB_HOME": workspace, "CNNLAB_WARM_WORKERS": "0"}
    command = [sys.executable, "-m", "deploy.workshop", "--port", str(port), "--host", "127.0.0.1"]
    command += ["--servers", str(servers), "--first-upstream", str(first)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(port, timeout=180)
        wanted = {first + index for index in range(servers)}
        pids = [int(entry) for entry in os.listdir("/proc") if entry.isdigit() and _streamlit_ports(entry) & wanted]
        yield port, pids
    finally:
        process.terminate()
        process.wait(timeout=30)


def _streamlit_ports(pid: str) -> set[int]:
    """The ``--server.port`` of a process (empty for any other process)."""
    with contextlib.suppress(OSError, ValueError):
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            parts = handle.read().split(b"\0")
        return {int(parts[i + 1]) for i, part in enumerate(parts[:-1]) if part == b"--server.port"}
    return set()


def all_stats(pids: list[int]) -> tuple[float, float]:
    """:func:`process_stats` summed over several processes."""
    stats = [process_stats(pid) for pid in pids]
    return sum(cpu for cpu, _ in stats), sum(rss for _, rss in stats)


def process_stats(pid: int) -> tuple[float, float]:
    """(CPU seconds used so far, resident memory in MB) of a process and its children, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    with open(f"/proc/{pid}/status") as handle:
        rss = next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:")) / 1024
    return cpu, rss


async def burst(port: int, page: str, query: str, sessions: int, timeout: float) -> list:
    runs = [visit(port, page, query, timeout=timeout) for _ in range(sessions)]
    return [found[0] for found in await asyncio.gather(*runs)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,10,30,60")
    parser.add_argument("--timeout", type=float, default=180.0, help="per session, seconds")
    parser.add_argument("--pages", default=",".join(PAGES), help="which of: " + ", ".join(PAGES))
    parser.add_argument("--rounds", type=int, default=1, help="repeat every page's bursts this many times")
    parser.add_argument("--servers", type=int, default=1, help="above 1: that many processes behind nginx")
    parser.add_argument("--idle", type=float, default=0.0, help="then stay idle this long, reporting RSS each minute")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    workspace = tempfile.mkdtemp(prefix="cnnlab-load-")
    serving = server(workspace) if args.servers == 1 else workshop(workspace, args.servers)
    with serving as (port, process):
        pids = [process.pid] if args.servers == 1 else process
        for _ in range(1 if args.servers == 1 else args.servers * 3):  # nginx spreads new sessions: warm all
            for page, query in WARM:  # TensorFlow imported, models and images cached, every page seen
                asyncio.run(visit(port, page, query))
        print(
            f"{'page':30s} {'N':>3s} {'p50 s':>7s} {'p95 s':>7s} {'errors':>6s} {'KB/session':>10s} "
            f"{'server CPU s':>12s} {'RSS MB':>7s}"
        )
        _, warm_rss = all_stats(pids)
        print(f"warm: every page visited once, RSS {warm_rss:.0f} MB")
        for name, (page, query) in [item for _ in range(args.rounds) for item in PAGES.items()]:
            if name not in args.pages.split(","):
                continue
            for sessions in sizes:
                cpu_before, _ = all_stats(pids)
                start = time.perf_counter()
                visits = asyncio.run(burst(port, page, query, sessions, args.timeout))
                wall = time.perf_counter() - start
                cpu_after, rss = all_stats(pids)
                times = [v.seconds for v in visits if not v.error]
                errors = sum(1 for v in visits if v.error)
                kilobytes = sum(v.bytes for v in visits) / max(len(visits), 1) / 1024
                print(
                    f"{name:30s} {sessions:3d} {percentile(times, 0.5):7.2f} {percentile(times, 0.95):7.2f} "
                    f"{errors:6d} {kilobytes:10.0f} {cpu_after - cpu_before:12.1f} {rss:7.0f}"
                    f"   (burst {wall:.1f} s)"
                )
                for v in visits:
                    if v.error:
                        print("   error:", v.error)
                        break
        idle_start = time.monotonic()
        while time.monotonic() - idle_start < args.idle:  # a quiet room: is the bursts' memory handed back?
            time.sleep(min(60.0, args.idle - (time.monotonic() - idle_start)))
            _, rss = all_stats(pids)
            print(f"idle {time.monotonic() - idle_start:5.0f} s: RSS {rss:.0f} MB (warm {warm_rss:.0f} MB)")


if __name__ == "__main__":
    main()
