"""First full render of the dashboard over a 1M-turn store, in Debian's Chromium.

Serves the store built by benchmarks/metrics.py (built here if missing), opens the
dashboard on the data's 30-day window and measures the time from navigation until every
widget is ready, in browser profiles kept on disk as a user's is:

- a new profile and a server just started: nothing cached anywhere (run --repeat times,
  each with its own new profile and server);
- the second visit: the server's results are cached (keyed by data version);
- returning visits: Chrome now also has plotly.js compiled in V8's code cache (it keeps
  a script's code once the script has run twice);
- a returning browser on a server just restarted: every metric is computed again.

    python benchmarks/dashboard.py [--turns 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import BrowserContext, Playwright, sync_playwright

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))

from metrics import WINDOW_FROM, WINDOW_TO, build_store
from tests.server import free_port, running_server

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 1000}
READY = (
    "() => [...document.querySelectorAll('[data-metric]')]"
    ".every(e => ['ready', 'empty', 'error'].includes(e.dataset.state))"
)


def render(context: BrowserContext, url: str) -> float:
    """Seconds from navigation until every widget has settled (ready, empty or error)."""
    start = WINDOW_FROM.strftime("%Y-%m-%dT%H:%M")
    end = WINDOW_TO.strftime("%Y-%m-%dT%H:%M")
    page = context.new_page()
    began = time.perf_counter()
    page.goto(f"{url}/?range=custom&from={start}&to={end}&tz=America/New_York")
    page.wait_for_function(READY, timeout=120_000)
    took = time.perf_counter() - began
    states = page.eval_on_selector_all("[data-metric]", "e => e.map(x => x.dataset.state)")
    page.close()
    if states.count("ready") != len(states):
        sys.exit(f"not every widget is ready: {states}")
    return took


def launch(p: Playwright, profile: str) -> BrowserContext:
    return p.chromium.launch_persistent_context(
        profile, executable_path="/usr/bin/chromium", args=ARGS, viewport=VIEWPORT
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/lexboard-bench"))
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    db = build_store(args.folder, args.turns)
    rows: list[tuple[str, list[float]]] = []
    with sync_playwright() as p:
        cold = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as profile:
                context = launch(p, profile)
                with running_server(db) as url:
                    cold.append(render(context, url))
                context.close()
        rows.append(("new browser profile, server just started", cold))
        with tempfile.TemporaryDirectory() as profile:
            # a browser profile on disk, as a user's is: its HTTP cache and V8's code cache
            # (which Chrome fills once a script has been run twice) persist between visits
            context = launch(p, profile)
            port = free_port()  # one origin throughout: browser caches are kept per origin
            with running_server(db, port=port) as url:
                render(context, url)  # the first visit, measured above
                rows.append(("second visit (server cache warm)", [render(context, url)]))
                rows.append(
                    (
                        "returning browser, server cache warm",
                        [render(context, url) for _ in range(args.repeat)],
                    )
                )
            with running_server(db, port=port) as url:  # its result cache starts empty
                rows.append(("returning browser, server just started", [render(context, url)]))
            context.close()
    print(f"\nfirst full render of the dashboard, {args.turns:,} turns, 30-day window")
    for label, timings in rows:
        shown = f"{statistics.median(timings):.2f} s"
        if len(timings) > 1:
            shown += f" (p50 of {len(timings)}, max {max(timings):.2f} s)"
        print(f"  {label:<42} {shown}")


if __name__ == "__main__":
    main()
