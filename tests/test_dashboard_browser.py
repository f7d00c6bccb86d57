"""The dashboard in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from lexboard.server.widgets import cell_text
from tests.conftest import run_lexboard, write_jsonl
from tests.records import lex_record, list_slot, scalar_slot
from tests.server import running_server
from tests.test_plotly_bundle import bundle_traces

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).parents[1] / "test-artifacts"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(2)</script>"


def _stamp(delta: timedelta) -> str:
    return (datetime.now(UTC) - delta).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _records() -> list[dict]:
    records = []
    for i in range(12):  # sessions spread over the last 20 hours
        start = timedelta(hours=20 - i * 1.6)
        sid = f"web-{i}"
        mode = ["Text", "Speech", "DTMF"][i % 3]
        records += [
            lex_record(
                ts=_stamp(start),
                session_id=sid,
                input_mode=mode,
                intent="Welcome",
                state="Fulfilled",
                transcript="hello",
                dialog_action="Close",
                session_attributes={"Channel": "CHAT", "UserName": f"user{i}"},
            ),
            lex_record(
                ts=_stamp(start - timedelta(seconds=20)),
                session_id=sid,
                input_mode=mode,
                transcript="check my balance",
                slot_to_elicit="accountType",
            ),
            lex_record(
                ts=_stamp(start - timedelta(seconds=40)),
                session_id=sid,
                input_mode=mode,
                transcript="savings",
                state="Fulfilled",
                dialog_action="Close",
                slots={
                    "accountType": scalar_slot("savings", "Savings"),
                    "services": list_slot("cards", "loans"),
                },
                sentiment=["POSITIVE", "NEGATIVE", "NEUTRAL"][i % 3],
            ),
        ]
    hostile = timedelta(minutes=10)
    records += [
        lex_record(
            ts=_stamp(hostile),
            session_id=XSS_SCRIPT,
            missed=True,
            intent=None,
            confidence=None,
            transcript=XSS_IMG,
            session_attributes={"UserName": XSS_SCRIPT},
        ),
        lex_record(
            ts=_stamp(hostile - timedelta(seconds=5)),
            session_id=XSS_SCRIPT,
            missed=True,
            intent=None,
            confidence=None,
            transcript=XSS_SCRIPT,
            slots={"name": scalar_slot(XSS_IMG)},
            state="Fulfilled",
        ),
    ]
    return records


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("dash")
    db = root / "store.duckdb"
    logs = write_jsonl(root / "logs.jsonl", _records())
    assert run_lexboard("ingest", str(logs), "--db", str(db)).returncode == 0
    with running_server(db) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian's chromium package is required (.ci/run installs it)"
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Watch:
    """What a page did that it must not: console errors, other hosts, dialogs."""

    def __init__(self, page: Page, base: str) -> None:
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.dialogs: list[str] = []
        host = urlparse(base).netloc
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on(
            "request",
            lambda r: (
                self.foreign.append(r.url)
                if urlparse(r.url).netloc not in (host, "") and not r.url.startswith("data:")
                else None
            ),
        )

    def assert_clean(self) -> None:
        assert self.errors == []
        assert self.foreign == []
        assert self.dialogs == []


def _settled(page: Page) -> list[tuple[str, str]]:
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-metric]')].every("
        "e => ['ready', 'empty', 'error'].includes(e.dataset.state))",
        timeout=30_000,
    )
    return page.eval_on_selector_all(
        "[data-metric]", "els => els.map(e => [e.dataset.widget, e.dataset.state])"
    )


def test_every_widget_ready_and_nothing_leaks(site: str, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    watch = Watch(page, site)
    page.goto(site + "/?range=1d&tz=America/New_York")
    states = dict(_settled(page))
    assert len(states) >= 19
    assert all(state == "ready" for state in states.values()), states
    metrics = set(
        page.eval_on_selector_all("[data-metric]", "els => els.map(e => e.dataset.metric)")
    )
    from lexboard.metrics import CATALOG

    assert metrics == set(CATALOG)  # every metric of the catalog has a widget
    kpi = page.text_content("#w-kpis .tile .value")
    assert kpi == "38"
    # each trace is drawn as the type its figure asks for (plotly.js draws a type missing
    # from its bundle as an empty scatter), and the bundle carries no unused type
    drawn = page.evaluate(
        "() => [...document.querySelectorAll('.js-plotly-plot')].flatMap("
        "gd => gd._fullData.map(t => [gd.data[t.index].type || 'scatter', t.type]))"
    )
    assert drawn and all(asked == got for asked, got in drawn), drawn
    assert {asked for asked, _ in drawn} == set(bundle_traces())
    # Hostile text shows as text, runs nothing, and creates no element
    history = page.text_content("#w-message_history")
    assert XSS_IMG in history and XSS_SCRIPT in history
    assert page.eval_on_selector_all("img[src='x']", "els => els.length") == 0
    assert page.eval_on_selector_all("main script", "els => els.length") == 0
    assert "freshness" and "last event" in page.text_content("#freshness")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    watch.assert_clean()
    page.close()


def test_tables_show_each_cell_as_the_report_does(site: str, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(site + "/?range=1d&tz=America/New_York")
    _settled(page)
    seen = set()
    for widget in ("top_sessions", "message_history", "missed_utterances", "slot_values"):
        download = page.get_attribute(f"#w-{widget} [data-download=json]", "href") or ""
        query = urlparse(download).query.replace("&format=json", "")
        table = httpx.get(f"{site}/api/widgets/{widget}?{query}").json()["table"]
        shown = page.eval_on_selector_all(
            f"#w-{widget} tr",
            "rows => rows.slice(1).map(r => [...r.cells].map(c => [c.textContent, c.title]))",
        )
        assert len(shown) == len(table["rows"]) > 0
        assert (
            page.eval_on_selector_all(f"#w-{widget} th", "hs => hs.map(h => h.textContent)")
            == table["labels"]
        )
        for row, cells in zip(table["rows"], shown, strict=True):
            for value, kind, (text, title) in zip(row, table["kinds"], cells, strict=True):
                assert text == cell_text(value, kind), (widget, kind)  # dashboard.js agrees
                assert title == (value if kind in ("id", "timestamp") else "")
                seen.add(kind)
    assert {"timestamp", "seconds", "id", "integer"} <= seen
    start = page.text_content("#w-top_sessions td.timestamp")
    assert start and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", start)
    assert re.search(r"[+-]0[45]:00$", page.get_attribute("#w-top_sessions td.timestamp", "title"))
    assert "duration" in page.eval_on_selector_all(
        "#w-top_sessions th", "hs => hs.map(h => h.textContent)"
    )
    page.close()


def test_time_range_change_updates_widgets_and_url(site: str, browser: Browser) -> None:
    page = browser.new_page()
    watch = Watch(page, site)
    page.goto(site + "/?range=1d")
    _settled(page)
    assert page.text_content("#w-kpis .tile .value") == "38"
    page.select_option("select[name=range]", "1h")
    page.wait_for_function(
        "() => document.querySelector('#w-kpis .tile .value')?.textContent === '2'", timeout=15_000
    )
    _settled(page)
    assert "range=1h" in page.url
    page.select_option("select[name=input_mode]", "Speech")
    page.wait_for_function("() => location.search.includes('input_mode=Speech')")
    _settled(page)
    csv = page.get_attribute("#w-kpis [data-download=csv]", "href")
    assert csv and "format=csv" in csv and "input_mode=Speech" in csv
    watch.assert_clean()
    page.close()


def test_session_drill_down(site: str, browser: Browser) -> None:
    page = browser.new_page()
    watch = Watch(page, site)
    page.goto(site + "/?range=1d")
    _settled(page)
    page.click("#w-message_history a[data-session='web-11']")
    page.wait_for_selector("article.turn")
    assert page.eval_on_selector_all("article.turn", "els => els.length") == 3
    text = page.text_content("main")
    assert "check my balance" in text and "Which account?" in text and "accountType" in text
    page.goto(site + "/?range=1d")
    _settled(page)
    page.click(f"#w-message_history a[data-session='{XSS_SCRIPT}']")
    page.wait_for_selector("article.turn.missed")
    assert XSS_IMG in page.text_content("main")
    assert page.eval_on_selector_all("img[src='x']", "els => els.length") == 0
    watch.assert_clean()
    page.close()


def test_auto_refresh_reloads_on_the_wall_clock_period(site: str, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    watch = Watch(page, site)
    windows: list[str] = []
    page.on(
        "request",
        lambda r: windows.append(r.url) if "/api/widgets/kpis?" in r.url else None,
    )
    page.goto(site + "/?range=1h&tz=UTC&refresh=10")
    _settled(page)
    assert page.input_value("select[name=refresh]") == "10"
    for _ in range(50):  # the load, then two refreshes (a period is 10 s)
        if len(windows) >= 3:
            break
        page.wait_for_timeout(500)
    _settled(page)
    assert len(windows) >= 3, windows  # a slow machine may already be at the next tick
    ends = [datetime.fromisoformat(parse_qs(urlparse(u).query)["to"][0]) for u in windows[:3]]
    # presets end at whole seconds; refreshes fall on the wall clock's multiples of the
    # period, so every viewer with this view asks for the same window
    assert all(end.microsecond == 0 for end in ends)
    assert [end.second % 10 for end in ends[1:]] == [0, 0], windows
    assert ends[2] - ends[1] == timedelta(seconds=10) and ends[1] > ends[0], windows
    page.select_option("select[name=refresh]", "0")
    page.wait_for_timeout(500)
    assert "refresh" not in page.url
    watch.assert_clean()
