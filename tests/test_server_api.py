"""The API over real HTTP against `lexboard serve`, and CLI commands routed to it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from lexboard.config import load_settings
from lexboard.owner import owner_file
from lexboard.server.state import ServerState
from lexboard.store import open_store
from tests.conftest import run_lexboard, write_jsonl
from tests.records import lex_record
from tests.server import running_server

XSS = "<img src=x onerror=alert(1)>"


def _records() -> list[dict]:
    return [
        lex_record(ts="2026-11-02T10:00:00.000Z", session_id="S1", request_id="r1"),
        lex_record(
            ts="2026-11-02T10:00:05.000Z",
            session_id="S1",
            request_id="r2",
            missed=True,
            intent=None,
            confidence=None,
            transcript=XSS,
        ),
        lex_record(
            ts="2026-11-02T12:00:00.000Z",
            session_id="S1",
            request_id="r3",
            originating_request_id="orig-2",
            runners_up=[("TransferFunds", "0.3")],
        ),
        lex_record(
            ts="2026-11-02T13:00:00.000Z",
            session_id="S2",
            request_id="r4",
            bot_id="BOT2",
            bot_name="Other",
            input_mode="Speech",
        ),
    ]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    root = tmp_path_factory.mktemp("server")
    db = root / "store.duckdb"
    logs = write_jsonl(root / "logs.jsonl", _records())
    assert run_lexboard("ingest", str(logs), "--db", str(db)).returncode == 0
    with running_server(db) as url:
        yield url, db, root


WINDOW = {"from": "2026-11-02", "to": "2026-11-03"}


def test_health_and_owner_file(server: tuple[str, Path, Path]) -> None:
    url, db, _ = server
    assert httpx.get(url + "/healthz").json()["ok"] is True
    assert json.loads(owner_file(db).read_text())["url"] == url


def test_metric_json_is_the_cli_json(server: tuple[str, Path, Path]) -> None:
    url, db, _ = server
    api = httpx.get(url + "/api/metrics/summary", params=WINDOW).json()
    assert api["rows"] == [[4, 3, 1, 0.25, 5 / 3, 4 / 3]]
    cli = run_lexboard(
        "metrics",
        "summary",
        "--db",
        str(db),
        "--from",
        "2026-11-02",
        "--to",
        "2026-11-03",
        "--format",
        "json",
    )
    assert cli.returncode == 0, cli.stderr  # routed to the server that owns the store
    assert json.loads(cli.stdout) == api


def test_csv_and_catalog(server: tuple[str, Path, Path]) -> None:
    url, _, _ = server
    csv = httpx.get(url + "/api/metrics/summary", params={**WINDOW, "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[1] == "4,3,1,0.25,1.6666666666666667,1.3333333333333333"
    catalog = httpx.get(url + "/api/metrics").json()["metrics"]
    assert catalog[0]["id"] == "summary" and catalog[0]["columns"][0]["name"] == "requests"


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/api/metrics/nosuch", {}, 404, "unknown metric 'nosuch'"),
        ("/api/metrics/summary", {"tz": "Nowhere/Land"}, 400, "unknown time zone"),
        ("/api/metrics/summary", {"from": "2026-11-03", "to": "2026-11-02"}, 400, "is after"),
        ("/api/metrics/summary", {"limit": "3"}, 400, "has no parameter 'limit'"),
        ("/api/metrics/summary", {"format": "xml"}, 400, "format 'xml'"),
        ("/api/sessions/none", {}, 404, "no session 'none'"),
        ("/api/nothing-here", {}, 404, "not found"),
    ],
)
def test_errors_have_one_shape(
    server: tuple[str, Path, Path], path: str, params: dict, status: int, message: str
) -> None:
    url, _, _ = server
    response = httpx.get(url + path, params=params)
    assert response.status_code == status
    body = response.json()
    assert body["ok"] is False and body["status"] == status and message in body["error"]
    assert "hint" in body


def test_session_drill_down_lists_every_conversation(server: tuple[str, Path, Path]) -> None:
    url, _, _ = server
    body = httpx.get(url + "/api/sessions/S1", params={"tz": "America/New_York"}).json()
    conversations = body["conversations"]
    assert [c["key"]["originating_request_id"] for c in conversations] == ["orig-1", "orig-2"]
    first = conversations[0]["turns"]
    assert [t["request_id"] for t in first] == ["r1", "r2"]
    assert first[0]["ts"] == "2026-11-02T05:00:00.000-05:00"
    assert first[1]["transcript"] == XSS and first[1]["missed"] is True
    assert first[1]["intent"] == "FallbackIntent"
    assert conversations[1]["turns"][0]["runners_up"] == [
        {"intent": "TransferFunds", "confidence": 0.3}
    ]
    narrowed = httpx.get(url + "/api/sessions/S1", params={"originating_request_id": "orig-2"})
    assert len(narrowed.json()["conversations"]) == 1


def test_status_and_dimensions(server: tuple[str, Path, Path]) -> None:
    url, _, _ = server
    status = httpx.get(url + "/api/status").json()
    assert status["turns"] == 4 and status["sessions"] == 3
    assert status["last_event"] == "2026-11-02T13:00:00.000+00:00"
    assert status["sources"][0]["new"] == 4
    dims = httpx.get(url + "/api/dimensions").json()
    assert dims["bots"] == [{"id": "BOT1", "name": "BankingBot"}, {"id": "BOT2", "name": "Other"}]
    assert dims["input_modes"] == ["Speech", "Text"]


def test_security_headers(server: tuple[str, Path, Path]) -> None:
    url, _, _ = server
    headers = httpx.get(url + "/healthz").headers
    csp = headers["content-security-policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    assert headers["x-content-type-options"] == "nosniff"


def test_cli_ingest_is_sent_to_the_owner(server: tuple[str, Path, Path]) -> None:
    url, db, root = server
    more = write_jsonl(
        root / "more.jsonl",
        [
            lex_record(ts="2026-11-02T14:00:00.000Z", session_id="S9", request_id="r9"),
        ],
    )
    (root / "bad.jsonl").write_text("{oops\n")
    result = run_lexboard("ingest", str(more), str(root / "bad.jsonl"), "--db", str(db))
    assert result.returncode == 0, result.stderr
    summary = httpx.get(url + "/api/metrics/summary", params=WINDOW).json()
    assert summary["rows"][0][0] == 5  # visible at once: the cache follows the data version
    listing = run_lexboard("quarantine", "--db", str(db), "--format", "json")
    assert json.loads(listing.stdout)["rows"][0]["position"] == "line 1"


def test_non_loopback_bind_is_refused_without_auth(tmp_path: Path) -> None:
    result = run_lexboard("serve", "--db", str(tmp_path / "x.duckdb"), "--host", "0.0.0.0")
    assert result.returncode == 2
    assert "not a loopback address" in result.stderr and "Traceback" not in result.stderr


def test_report_while_the_server_owns_the_store(server: tuple[str, Path, Path]) -> None:
    _, db, root = server
    out = root / "report.html"
    result = run_lexboard(
        "report", "--db", str(db), "--from", "2026-11-02", "--to", "2026-11-03", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert 'data-widget="kpis"' in out.read_text()


def test_widget_api(server: tuple[str, Path, Path]) -> None:
    url, _, _ = server
    listing = httpx.get(url + "/api/widgets").json()
    assert {w["id"] for w in listing["widgets"]} >= {"kpis", "activity", "intent_flow"}
    kpis = httpx.get(url + "/api/widgets/kpis", params=WINDOW).json()
    summary = httpx.get(url + "/api/metrics/summary", params=WINDOW).json()
    assert kpis["metric"] == summary
    requests = summary["rows"][0][0]
    assert kpis["tiles"][0] == {"label": "Requests", "value": requests, "format": "int"}
    missing = httpx.get(url + "/api/widgets/nope")
    assert missing.status_code == 404 and "unknown widget" in missing.json()["error"]


def test_activity_widget_missed_percent_is_missed_over_requests(
    server: tuple[str, Path, Path],
) -> None:
    url, _, _ = server
    params = {**WINDOW, "bucket": "1h"}
    widget = httpx.get(url + "/api/widgets/activity", params=params).json()
    rows = httpx.get(url + "/api/metrics/activity", params=params).json()["rows"]
    traces = {t["name"]: t for t in widget["figure"]["data"]}
    assert traces["requests"]["y"] == [r[1] for r in rows]
    expected = [r[3] / r[1] * 100 if r[1] else None for r in rows]
    assert traces["missed %"]["y"] == expected
    assert any(v for v in expected)  # the window holds a missed turn


def test_repeated_views_are_computed_once(server: tuple[str, Path, Path]) -> None:
    url, _, _ = server
    view = {"from": "2026-11-01T07:00:00Z", "to": "2026-11-02T11:00:00Z", "tz": "UTC"}
    before = httpx.get(url + "/api/status").json()["cache"]
    with ThreadPoolExecutor(8) as pool:
        widget = url + "/api/widgets/intents"
        bodies = list(pool.map(lambda _: httpx.get(widget, params=view).json(), range(8)))
    assert all(body == bodies[0] for body in bodies)
    after = httpx.get(url + "/api/status").json()["cache"]
    assert after["computed"] - before["computed"] == 1
    assert after["hits"] - before["hits"] == 7


def test_a_result_being_computed_is_waited_for_not_computed_again(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.duckdb") as store:
        state = ServerState(load_settings(env={}, cwd=tmp_path), store)
        calls = []

        def slow() -> int:
            calls.append(1)
            time.sleep(0.3)
            return 42

        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda _: state.cached(("k",), slow), range(6)))
        assert results == [42] * 6 and len(calls) == 1
        assert (state.cache_computed, state.cache_hits) == (1, 5)

        def failing() -> int:
            raise ValueError("boom")

        with pytest.raises(ValueError):
            state.cached(("bad",), failing)
        assert state.cached(("bad",), lambda: 7) == 7  # a failure is not cached


def test_plotly_js_is_the_shipped_bundle_gzipped_when_asked(
    server: tuple[str, Path, Path],
) -> None:
    url, _, _ = server
    from lexboard.server.pages import plotly_js

    shipped = plotly_js().read_bytes()
    with httpx.Client(headers={"Accept-Encoding": "gzip"}) as client:
        packed = client.get(url + "/static/plotly.min.js?v=1")
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == shipped  # httpx decoded it
    assert packed.num_bytes_downloaded < len(shipped) / 2
    with httpx.Client(headers={"Accept-Encoding": "identity"}) as client:
        plain = client.get(url + "/static/plotly.min.js?v=1")
    assert "content-encoding" not in plain.headers and plain.content == shipped
