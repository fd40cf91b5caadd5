"""Real servers for the registry's second backend: a PostgreSQL server and a local Ray cluster.

Both are started once per test session in temporary directories on loopback (the distribution's
``postgresql`` package; Ray from requirements-dev.txt) and stopped at the end. A machine without
PostgreSQL skips those tests; CI (``CI`` set) fails instead, since `.ci/run` installs it.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from benchmarks.streamlit_client import free_port
from lab import scratch


def _missing(what: str, how: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"No {what} found: CI must install it ({how}; see .ci/run).")
    pytest.skip(f"No {what} on this machine ({how}); CI fails instead of skipping.")


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="session")
def postgres_server():
    """``postgresql://cnnlab@127.0.0.1:<port>/postgres``: a throwaway server (trust auth, fsync off)."""
    binaries = postgres_bin()
    if binaries is None:
        _missing("PostgreSQL", "apt-get install postgresql")
    # In the system's temp folder, not this process's private scratch one (lab.scratch): the server
    # runs as the postgres user, who must reach its data directory.
    root = Path(tempfile.mkdtemp(prefix="cnnlab-pg-", dir=scratch.SYSTEM_TEMP))
    as_owner = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the package's postgres user
        shutil.chown(root, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    subprocess.run(
        [
            *as_owner,
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "cnnlab",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    pg_ctl = [*as_owner, str(binaries / "pg_ctl"), "-D", str(data)]
    subprocess.run(
        [*pg_ctl, "-o", options, "-l", str(root / "server.log"), "-w", "start"], check=True, capture_output=True
    )
    _SERVER["restart"] = lambda pause: _restart(pg_ctl, options, root, pause)
    try:
        yield f"postgresql://cnnlab@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


_SERVER: dict = {}


def _restart(pg_ctl: list[str], options: str, root: Path, pause: float) -> None:
    subprocess.run([*pg_ctl, "-m", "fast", "stop"], check=True, capture_output=True)
    time.sleep(pause)
    subprocess.run(
        [*pg_ctl, "-o", options, "-l", str(root / "server.log"), "-w", "start"], check=True, capture_output=True
    )


def postgres_outage(pause: float) -> None:
    """Stop the test session's PostgreSQL server, wait ``pause`` seconds, start it again."""
    _SERVER["restart"](pause)


def fresh_database(server_url: str) -> str:
    """A new, empty database on the server: each test its own registry."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def ray_cluster():
    """The address of a local Ray cluster (``ray start --head`` on loopback, 2 CPUs, no dashboard)."""
    ray_cli = Path(sys.executable).with_name("ray")
    if not ray_cli.exists():
        _missing("Ray", "pip install -r requirements-dev.txt")
    port = free_port()
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths have a length limit
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    command = [str(ray_cli), "start", "--head", "--port", str(port), "--num-cpus", "2", "--num-gpus", "0"]
    command += ["--node-ip-address", "127.0.0.1", "--include-dashboard", "false", "--temp-dir", temp]
    subprocess.run([*command, "--disable-usage-stats"], check=True, capture_output=True, env=env, timeout=180)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        import ray

        ray.shutdown()
        subprocess.run([str(ray_cli), "stop", "--force"], capture_output=True, env=env, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)
