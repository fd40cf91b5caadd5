"""Responsiveness as a learner feels it: server time and bytes per page run, and click -> settled in Chromium.

1. Server: for each page and URL state, a new session over Streamlit's websocket protocol
   (:mod:`benchmarks.streamlit_client`), then three reruns in that session (what a click costs
   the server): p50 time to ``script_finished`` and the bytes sent.
2. Browser: headless Chromium (Debian's, through Playwright) drives the interactions a learner
   makes; a MutationObserver on the app's run state times each click until the last rerun it
   caused has finished and the next two animation frames were painted.

Goals (2-core CPU, warm server): building blocks <= 0.2 s server and <= 0.5 s click -> settled;
the classifier <= 2 s for one model and one image warm; the home page's device panel <= 5 s cold.

Run from the repository root: ``python -m benchmarks.bench_pages`` (or ``make bench``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time

from benchmarks.streamlit_client import server, visit

SERVER_STATES = [  # (page, query): what the page shows after each interaction, as its URL
    ("", ""),
    ("convolution", ""),
    ("convolution", "conv.preset=sobel+y"),
    ("convolution", "conv.preset=sobel+y&conv.stride=2"),
    ("convolution", "conv.row=50&conv.col=60"),
    ("padding", ""),
    ("padding", "pad.kh=5&pad.padding=valid"),
    ("pooling", ""),
    ("pooling", "pool.size=3&pool.kind=avg"),
    ("pr-map", ""),
    ("pr-map", "pr.input=scores"),
    ("pr-map", "pr.input=detections"),
    ("classify", "cls.random=true&cls.samples=china"),
]
WATCH_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    window.__runs = [];
    new MutationObserver(() => {
        const state = app.getAttribute('data-test-script-state');
        window.__runs.push([performance.now(), state]);
        if (state === 'notRunning') {
            requestAnimationFrame(() => requestAnimationFrame(() => window.__runs.push([performance.now(), 'painted'])));
        }
    }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


def server_times(port: int) -> list[tuple[str, float, float, int, str | None]]:
    rows = []
    for page, query in SERVER_STATES:
        asyncio.run(visit(port, page, query))  # warm the caches this state uses
        visits = asyncio.run(visit(port, page, query, reruns=3))
        first, reruns = visits[0], visits[1:]
        error = next((v.error for v in visits if v.error), None)
        rerun = statistics.median(v.seconds for v in reruns) if reruns else float("nan")
        rows.append((f"/{page}?{query}", first.seconds, rerun, first.bytes, error))
    return rows


def settle(page, action, quiet_ms: int = 400, timeout_s: float = 60) -> float:
    """Seconds from ``action`` to the paint after the last rerun it caused (no rerun for quiet_ms).

    ``action`` may be a pair (prepare, act): the clock starts at ``act`` (opening a select box's
    list is not part of choosing from it).
    """
    if isinstance(action, tuple):
        prepare, action = action
        prepare()
    page.evaluate("() => { window.__runs = window.__runs || []; window.__runs.length = 0; }")
    start = page.evaluate("() => performance.now()")
    action()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = page.evaluate("() => window.__runs")
        now = page.evaluate("() => performance.now()")
        painted = [t for t, state in runs if state == "painted"]
        running = page.evaluate(
            "() => document.querySelector('[data-testid=\"stApp\"]').getAttribute('data-test-script-state')"
        )
        if painted and running == "notRunning" and now - runs[-1][0] >= quiet_ms:
            if os.environ.get("CNNLAB_BENCH_TRACE"):
                print("    runs:", [(round(t - start), state) for t, state in runs])
            return (painted[-1] - start) / 1000
        if not runs and now - start > 3000:  # nothing reran at all
            return (now - start) / 1000
        page.wait_for_timeout(50)
    raise TimeoutError("the page did not settle")


def browser_times(port: int) -> list[tuple[str, float]]:
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM_ARGS, wait_until_idle

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        print("browser: no Chromium here (apt-get install chromium)")
        return []
    url = f"http://127.0.0.1:{port}"
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})

        def open_page(path: str) -> float:
            start = time.perf_counter()
            page.goto(f"{url}/{path}")
            wait_until_idle(page, settle_s=0.3)
            page.evaluate(WATCH_JS)
            return time.perf_counter() - start - 0.3

        def slider(label: str, key: str = "ArrowRight"):
            thumb = page.locator(f'input[type="range"][aria-label^="{label}"]').first
            return lambda: thumb.press(key)

        def select(label: str, option: str):
            def prepare():
                page.locator('[data-testid="stSelectbox"]').filter(has_text=label).click()
                page.get_by_role("option", name=option, exact=True).wait_for()

            return prepare, lambda: page.get_by_role("option", name=option, exact=True).click()

        def number(label: str, value: str):
            def act():
                field = page.get_by_label(label, exact=True).first
                field.fill(value)
                field.press("Enter")

            return act

        results.append(("home: device panel, first visit of a cold server", open_page("")))
        results.append(("convolution: first visit", open_page("convolution")))
        results.append(("convolution: preset -> sobel y", settle(page, select("Kernel", "sobel y"))))
        results.append(("convolution: stride +1", settle(page, slider("Stride"))))
        results.append(("convolution: inspected pixel row", settle(page, number("output row", "50"))))
        results.append(("convolution: preset -> vertical line", settle(page, select("Kernel", "vertical line"))))
        results.append(("padding: first visit", open_page("padding")))
        results.append(("padding: kernel height 5", settle(page, number("kernel", "5"))))
        results.append(("pooling: first visit", open_page("pooling")))
        results.append(("pooling: pool size +1", settle(page, slider("Pool size"))))
        results.append(("PR: first visit", open_page("pr-map?pr.input=scores")))
        results.append(("PR: threshold +0.01", settle(page, slider("Threshold"))))
        results.append(
            ("classifier (random weights): first visit", open_page("classify?cls.random=true&cls.samples=china"))
        )
        results.append(("classifier: top k +1", settle(page, slider("Top k"))))
        browser.close()
    return results


def main() -> None:
    with server(tempfile.mkdtemp(prefix="cnnlab-bench-")) as (port, _):
        print("click -> settled in Chromium (the server starts cold: the home page imports TensorFlow)")
        for label, seconds in browser_times(port):
            print(f"  {label:55s} {seconds:6.2f} s")
        print("server time per page state (new session, then the median of 3 reruns in it), bytes sent")
        for state, first, rerun, size, error in server_times(port):
            line = f"  {state:55s} first {first * 1e3:6.0f} ms  rerun {rerun * 1e3:6.0f} ms  {size / 1024:7.0f} KB"
            print(line + (f"  ERROR {error}" if error else ""))


if __name__ == "__main__":
    main()
