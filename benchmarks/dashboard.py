"""First full render of the dashboard over a 1M-turn store, in Debian's Chromium.

Serves the store built by benchmarks/metrics.py (built here if missing), opens the
dashboard on the data's 30-day window and measures the time from navigation until every
widget is ready: the first (cold) render, then repeated renders with a fresh browser
page each (the server's result cache is keyed by data version, so these are warm).

    python benchmarks/dashboard.py [--turns 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))

from metrics import WINDOW_FROM, WINDOW_TO, build_store
from tests.server import free_port

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
READY = (
    "() => [...document.querySelectorAll('[data-metric]')]"
    ".every(e => ['ready', 'empty', 'error'].includes(e.dataset.state))"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/lexboard-bench"))
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    db = build_store(args.folder, args.turns)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "lexboard", "serve", "--db", str(db), "--port", str(port)]
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        start = WINDOW_FROM.strftime("%Y-%m-%dT%H:%M")
        end = WINDOW_TO.strftime("%Y-%m-%dT%H:%M")
        page_url = f"{url}/?range=custom&from={start}&to={end}&tz=America/New_York"
        timings = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            for attempt in range(args.repeat + 1):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                started = time.perf_counter()
                page.goto(page_url)
                page.wait_for_function(READY, timeout=120_000)
                timings.append(time.perf_counter() - started)
                states = page.eval_on_selector_all(
                    "[data-metric]", "e => e.map(x => x.dataset.state)"
                )
                page.close()
                print(
                    f"render {attempt + 1}: {timings[-1]:.2f} s  "
                    f"({states.count('ready')} ready, {states.count('error')} errors)"
                )
            browser.close()
        warm = timings[1:]
        print(
            f"\n{args.turns:,} turns: first render {timings[0]:.2f} s; "
            f"cached renders p50 {statistics.median(warm):.2f} s, max {max(warm):.2f} s"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
