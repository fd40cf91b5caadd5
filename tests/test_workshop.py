"""deploy/workshop.py: two real Streamlit processes behind a real nginx, sticky per browser, one registry."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import urllib.request

import pytest

from benchmarks.streamlit_client import free_port, visit
from deploy import workshop
from lab import jobs
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def nginx_or_skip() -> None:
    if shutil.which("nginx") or os.path.exists("/usr/sbin/nginx"):
        return
    if os.environ.get("CI"):
        pytest.fail("No nginx found: CI must install Debian's nginx-light (see .ci/run).")
    pytest.skip("No nginx on this machine (apt-get install nginx-light); CI fails instead of skipping.")


def get(port: int, path: str = "/", cookie: str | None = None) -> tuple[str, str | None]:
    """(the upstream that answered, the route cookie nginx set) for one request through the proxy."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if cookie:
        request.add_header("Cookie", f"cnnlab_server={cookie}")
    with urllib.request.urlopen(request, timeout=10) as response:
        cookies = response.headers.get_all("Set-Cookie") or []
        route = next((c.split(";")[0].split("=", 1)[1] for c in cookies if c.startswith("cnnlab_server=")), None)
        return response.headers["X-CNNLab-Upstream"], route


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    nginx_or_skip()
    home = tmp_path_factory.mktemp("workshop")
    port, first = free_port(), free_port()
    env = {**os.environ, "CNNLAB_HOME": str(home), "CNNLAB_WARM_WORKERS": "0"}
    command = [sys.executable, "-m", "deploy.workshop", "--port", str(port), "--host", "127.0.0.1"]
    command += ["--servers", "2", "--first-upstream", str(first)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        workshop.wait_healthy(port, timeout=150)
        yield port, [first, first + 1], home
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_each_browser_stays_on_one_process_and_the_room_spreads_over_both(room):
    port, upstreams, _ = room
    seen = {}
    for _ in range(16):  # new browsers: no cookie yet
        upstream, route = get(port)
        assert route, "nginx must hand every new browser its route cookie"
        seen[route] = upstream
    assert {upstream.rsplit(":", 1)[1] for upstream in seen.values()} == {str(p) for p in upstreams}
    for route, upstream in list(seen.items())[:4]:  # a returning browser: every request, same process
        assert {get(port, "/_stcore/health", cookie=route)[0] for _ in range(5)} == {upstream}


def test_a_page_runs_through_the_proxy_websocket(room):
    port, _, _ = room
    (result,) = asyncio.run(visit(port, "convolution", ""))
    assert result.error is None and result.messages > 5


def test_every_process_reads_the_same_registry(room, monkeypatch):
    _, upstreams, home = room
    monkeypatch.setenv("CNNLAB_HOME", str(home))
    run_id = jobs.create("train", {"dataset": "digits", "model": "small_cnn", "epochs": 1}, status="cancelled")
    for upstream in upstreams:  # the run panel of a run made elsewhere: no "No such run"
        (result,) = asyncio.run(visit(upstream, "train", f"run={run_id}", keep=True))
        assert result.error is None
        assert b"No such run" not in result.text and run_id.encode() in result.text


def test_the_config_names_every_upstream_keeps_its_files_in_the_workspace_and_passes_nginx_t(tmp_path):
    nginx_or_skip()
    for folder in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (tmp_path / folder).mkdir(parents=True)
    text = workshop.nginx_config(tmp_path, "127.0.0.1", free_port(), [8601, 8602, 8603])
    assert text.count("server 127.0.0.1:86") == 3 and "hash $cnnlab_route consistent" in text
    assert f"pid {tmp_path}/nginx.pid" in text and "/var/" not in text
    (tmp_path / "nginx.conf").write_text(text)
    command = [shutil.which("nginx") or "/usr/sbin/nginx", "-t", "-e", "stderr", "-p", str(tmp_path)]
    result = subprocess.run([*command, "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
