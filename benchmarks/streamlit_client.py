"""A minimal Streamlit protocol client and a loopback server, for the page and load benchmarks.

No browser: one websocket per session (``ws://127.0.0.1:PORT/_stcore/stream``, subprotocol
``streamlit``), one ``rerun_script`` BackMsg naming the page and its query string, then ForwardMsgs
until ``script_finished``. A client that sends no Origin header needs no XSRF token. Loopback only;
every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.workshop import streamlit_command, wait_healthy

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Visit:
    seconds: float  # from sending the rerun to script_finished
    bytes: int  # every ForwardMsg the server sent for it
    messages: int
    error: str | None  # None, or what went wrong (an exception box, a timeout, a closed socket)
    text: bytes = b""  # every message's bytes, with ``keep=True`` (what a test looks for)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(workspace: str, port: int | None = None, extra_env: dict | None = None):
    """``streamlit run app.py`` on loopback; yields (port, process). Waits for /_stcore/health."""
    port = port or free_port()
    env = {**os.environ, "CNNLAB_HOME": workspace, "CNNLAB_SUPERVISOR": "0", **(extra_env or {})}
    command = streamlit_command(port)
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(port, timeout=90)
        yield port, process
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:
            process.kill()


async def visit(
    port: int, page: str, query: str = "", timeout: float = 120.0, reruns: int = 0, keep: bool = False
) -> list[Visit]:
    """Open a new session on ``page`` (its URL path) with ``query``, wait for the script to finish,
    then rerun it ``reruns`` times in the same session (as a click does, with the state it has)."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    message = BackMsg()
    message.rerun_script.query_string = query
    message.rerun_script.page_name = page
    visits: list[Visit] = []
    try:
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"], max_size=None, open_timeout=30
        ) as socket_:
            for _ in range(reruns + 1):
                visits.append(await _one_run(socket_, message, timeout, ForwardMsg, keep))
    except Exception as failure:  # a closed or refused socket: counted as an error, not a crash
        visits.append(Visit(0.0, 0, 0, f"{type(failure).__name__}: {failure}"))
    return visits


async def _one_run(socket_, message, timeout: float, forward_type, keep: bool = False) -> Visit:
    received = count = 0
    kept = bytearray()
    error = None
    start = time.perf_counter()
    await socket_.send(message.SerializeToString())
    deadline = time.monotonic() + timeout
    try:
        while True:
            data = await asyncio.wait_for(socket_.recv(), timeout=max(0.1, deadline - time.monotonic()))
            received, count = received + len(data), count + 1
            if keep:
                kept += data
            forward = forward_type.FromString(data)
            kind = forward.WhichOneof("type")
            if kind == "delta" and forward.delta.new_element.WhichOneof("type") == "exception":
                error = "exception box: " + forward.delta.new_element.exception.message[:200]
            if kind == "script_finished":
                break
    except TimeoutError:
        error = f"no script_finished within {timeout:.0f} s"
    return Visit(time.perf_counter() - start, received, count, error, bytes(kept))


@dataclass(frozen=True)
class StateTimes:
    first_s: float  # the first visit: it fills the server's caches for this state
    new_session_s: float  # a new session once they are warm
    rerun_s: float  # the median of 3 reruns in that session (a click's)


def state_times(port: int, page: str, query: str, timeout: float = 120.0) -> StateTimes:
    """Server times of one state of ``page``: a first visit, then a new session and its 3 reruns.
    Raises AssertionError with the errors if any visit went wrong (an exception box, a timeout)."""
    first = asyncio.run(visit(port, page, query, timeout=timeout))[0]
    visits = asyncio.run(visit(port, page, query, timeout=timeout, reruns=3))
    errors = [v.error for v in (first, *visits) if v.error]
    assert not errors, errors
    return StateTimes(first.seconds, visits[0].seconds, statistics.median(v.seconds for v in visits[1:]))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")
