"""Serve a room on one machine: N Streamlit processes behind nginx, one supervisor, warm workers.

One Streamlit process runs every session's script in its own threads under one GIL: on this 2-core
machine it tops out at about 1.3 cores, and 30 learners opening a page wait ~4 s. Several processes
behind nginx (the distribution's package) use every core. They share one workspace, so the run
registry, the runs and the uploads are the same whichever process a learner lands on; a learner
stays on one process (a cookie, see nginx.conf.template), where their websocket session lives.

    python -m deploy.workshop --port 8501 --servers 2      # `make serve-workshop`

The supervisor (``python -m lab.supervisor``) reaps, schedules and keeps ``CNNLAB_WARM_WORKERS``
(default: every slot) warm workers ready before the room presses Train. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from lab import settings

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).with_name("nginx.conf.template")


def nginx_config(runtime: Path, host: str, port: int, upstream_ports: list[int], upload_mb: int = 25) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{upstream};" for upstream in upstream_ports)
    text = TEMPLATE.read_text().format(runtime=runtime, host=host, port=port, servers=servers, upload_mb=upload_mb)
    return "\n".join(line for line in text.splitlines() if not line.startswith("# ")) + "\n"


def wait_healthy(port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"nothing answered /_stcore/health on port {port} within {timeout:.0f} s")


def streamlit_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8501, help="where the room connects (nginx)")
    parser.add_argument("--host", default="0.0.0.0", help="nginx's listen address")
    parser.add_argument("--servers", type=int, default=max(2, os.cpu_count() or 1), help="Streamlit processes")
    parser.add_argument("--first-upstream", type=int, default=None, help="their ports: this one and up")
    args = parser.parse_args(argv)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        sys.exit("nginx is not installed: `sudo apt-get install nginx-light` (or nginx), then run this again.")
    from lab import capacity, jobs, ownership, placement, supervision

    placement.install()

    os.environ["CNNLAB_HOME"] = str(jobs.home())
    os.environ.setdefault("CNNLAB_WARM_WORKERS", str(capacity.max_runs()))
    runtime = jobs.home() / "nginx"
    for folder in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (runtime / folder).mkdir(parents=True, exist_ok=True)
    first = args.first_upstream or args.port + 100
    ports = [first + index for index in range(args.servers)]
    # One cookie secret for every process: the XSRF cookie (and the run-owner token made from it)
    # stays valid whichever process a browser reaches, and across a restart of this command.
    raw = ownership.key_file(jobs.home() / "cookie.secret")
    written_as_hex = raw.strip() and all(byte in b"0123456789abcdef" for byte in raw.strip())  # before key_file
    cookie_secret = settings.get("CNNLAB_COOKIE_SECRET") or (raw.decode().strip() if written_as_hex else raw.hex())
    env = {**os.environ, "CNNLAB_SUPERVISOR": "0", "STREAMLIT_SERVER_COOKIE_SECRET": cookie_secret}  # one supervisor
    children: list[subprocess.Popen] = []
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        children.append(subprocess.Popen([sys.executable, "-m", "lab.supervisor"], cwd=ROOT, env=os.environ.copy()))
        servers = {port: subprocess.Popen(streamlit_command(port), cwd=ROOT, env=env) for port in ports}
        for port in ports:
            wait_healthy(port)
        config = runtime / "nginx.conf"
        config.write_text(nginx_config(runtime, args.host, args.port, ports))
        children.append(
            subprocess.Popen([nginx, "-e", "stderr", "-p", str(runtime), "-c", str(config), "-g", "daemon off;"])
        )
        wait_healthy(args.port, timeout=30)
        print(
            f"CNN Lab: http://{args.host}:{args.port}  ({args.servers} Streamlit processes, ports {ports})", flush=True
        )
        while not stopping:
            for port, process in list(servers.items()):
                if process.poll() is not None:  # a crashed process comes back; its learners reconnect
                    print(f"Streamlit on {port} exited ({process.returncode}); restarting it", flush=True)
                    servers[port] = subprocess.Popen(streamlit_command(port), cwd=ROOT, env=env)
            if any(child.poll() is not None for child in children):
                break
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        everything = children + list(locals().get("servers", {}).values())
        for process in everything:
            if process.poll() is None:
                process.terminate()
        for process in everything:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        supervision.stop_workers()


if __name__ == "__main__":
    main()
