"""`lexboard demo` end to end: history, live traffic, and the dashboard over it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import run_lexboard
from tests.server import free_port, stop, wait_for_http
from tests.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, Watch, _settled

ARTIFACTS = Path(__file__).parents[1] / "test-artifacts"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("demo")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEXBOARD_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lexboard",
            "demo",
            "--port",
            str(port),
            "--db",
            str(folder / "demo.duckdb"),
            "--days",
            "7",
            "--interval",
            "1",
            "--live-sessions-per-day",
            "20000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(proc, url + "/healthz", "demo", 120)
        yield url, folder
    finally:
        stop(proc, 20)


def test_demo_serves_history_and_live_traffic(demo: tuple[str, Path]) -> None:
    url, folder = demo
    assert (folder / "bot" / "manifest.json").exists()  # its private copy of the sample bot
    status = httpx.get(url + "/api/status").json()
    sources = {s["source"]: s for s in status["sources"]}
    history = next(s for name, s in sources.items() if name.endswith("history.jsonl"))
    assert history["new"] > 1000 and history["quarantined"] == 0
    deadline = time.monotonic() + 30
    while True:  # live traffic arrives every second or so
        live = {s["source"]: s for s in httpx.get(url + "/api/status").json()["sources"]}
        if live.get("sample-bot", {}).get("new", 0) > 0:
            break
        assert time.monotonic() < deadline, "no live traffic in 30 s"
        time.sleep(1)
    assert live["sample-bot"]["last_error"] is None
    assert live["sample-bot"]["lag_s"] < 5


def test_dashboard_over_demo_data(demo: tuple[str, Path]) -> None:
    url, _ = demo
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        watch = Watch(page, url)
        page.goto(url + "/?range=1w&tz=America/New_York")
        states = dict(_settled(page))
        not_ready = {k: v for k, v in states.items() if v != "ready"}
        status = {k: page.text_content(f"#w-{k} .status") for k in not_ready}
        assert not not_ready, status
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo-dashboard.png"), full_page=True)
        watch.assert_clean()
        browser.close()


def test_curation_widget_closes_the_loop(demo: tuple[str, Path]) -> None:
    """Add a missed phrase from the dashboard; the sample bot then recognises it."""
    from lexboard.sample.classifier import Classifier

    url, folder = demo
    bot = folder / "bot"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        watch = Watch(page, url)
        page.goto(url + "/?range=1w")
        page.wait_for_function(
            "() => document.getElementById('w-curation').dataset.state === 'ready'",
            timeout=60_000,
        )
        rows = page.query_selector_all("#w-curation tr[data-utterance]")
        classifier = Classifier.from_path(bot)
        chosen = None
        for row in rows:
            text = row.get_attribute("data-utterance") or ""
            box = row.query_selector("input[type=checkbox]")
            if box and box.is_enabled() and classifier.classify(text).missed:
                chosen = (row, text)
                break
        assert chosen, "no missed utterance that the bot still misses"
        row, text = chosen
        select = row.query_selector("select")
        assert select is not None
        if not select.input_value():
            select.select_option("CheckBalance")
        intent = select.input_value()
        row.query_selector("input[type=checkbox]").check()  # type: ignore[union-attr]
        page.click("#w-curation [data-action=add]")
        page.wait_for_function(
            "text => [...document.querySelectorAll('#w-curation tr[data-utterance]')]"
            ".find(r => r.dataset.utterance === text)?.querySelector('.outcome')"
            "?.textContent.startsWith('added')",
            arg=text,
            timeout=30_000,
        )
        page.wait_for_selector("#w-curation .audit button[data-undo]")
        watch.assert_clean()
        browser.close()
    recognised = Classifier.from_path(bot).classify(text)
    assert recognised.intent == intent, (text, recognised.ranked)


def test_curation_writes_need_csrf(demo: tuple[str, Path]) -> None:
    url, _ = demo
    response = httpx.post(
        url + "/api/curation/add",
        json={"items": [{"intent": "Welcome", "utterance": "hiya there"}]},
    )
    assert response.status_code == 403 and "CSRF" in response.json()["error"]


def test_a_second_demo_on_the_same_store_says_who_has_it(demo: tuple[str, Path]) -> None:
    url, folder = demo
    store = folder / "demo.duckdb"
    before = store.stat().st_ino
    result = run_lexboard("demo", "--db", str(store), "--port", str(free_port()), timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        f"store {store} is in use by PID" in result.stderr and f"the demo at {url}" in result.stderr
    )
    assert store.stat().st_ino == before  # the running demo's store was left alone
    assert httpx.get(url + "/healthz").status_code == 200
