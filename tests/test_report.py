"""`lexboard report`: one self-contained, safe HTML file with every widget."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.conftest import run_lexboard, write_jsonl
from tests.records import lex_record
from tests.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS

XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_CLOSE = "</script><script>alert(3)</script>"


def test_report_is_self_contained_and_escapes_user_text(tmp_path: Path) -> None:
    records = [
        lex_record(ts="2026-11-02T10:00:00.000Z", session_id="s1", transcript="hello"),
        lex_record(
            ts="2026-11-02T10:00:10.000Z",
            session_id="s1",
            missed=True,
            intent=None,
            confidence=None,
            transcript=XSS_IMG,
        ),
        lex_record(
            ts="2026-11-02T10:00:20.000Z", session_id="s1", intent=XSS_CLOSE, transcript=XSS_CLOSE
        ),
    ]
    db = tmp_path / "r.duckdb"
    assert (
        run_lexboard(
            "ingest", str(write_jsonl(tmp_path / "l.jsonl", records)), "--db", str(db)
        ).returncode
        == 0
    )
    out = tmp_path / "report.html"
    result = run_lexboard(
        "report",
        "--db",
        str(db),
        "--from",
        "2026-11-02",
        "--to",
        "2026-11-03",
        "--tz",
        "Europe/Paris",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    assert XSS_IMG not in html and XSS_CLOSE not in html  # escaped wherever it appears
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    ours = html.split("</script>", 1)[1]  # after the inlined plotly.js
    assert not re.search(r"""(src|href)=["']?https?:""", ours)  # nothing fetched from outside
    assert html.count("data-metric=") >= 19
    # top sessions: s1 from 10:00:00 to 10:00:20 UTC, shown in Paris time to the second
    start = '<td class="timestamp" title="2026-11-02T11:00:00.000+01:00">2026-11-02 11:00:00</td>'
    assert start in html
    assert '<td class="seconds">20.0 s</td>' in html
    assert '<th class="seconds">duration</th>' in html
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        dialogs: list[str] = []
        errors: list[str] = []
        requests: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(out.as_uri())
        page.wait_for_selector("#fig-activity .main-svg")
        assert XSS_IMG in page.text_content("main")
        assert page.eval_on_selector_all("img[src='x']", "els => els.length") == 0
        assert dialogs == [] and errors == []
        assert all(url.startswith(("file:", "data:")) for url in requests)
        browser.close()


def test_report_bad_output_folder_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    run_lexboard("ingest", str(write_jsonl(tmp_path / "l.jsonl", [lex_record()])), "--db", str(db))
    result = run_lexboard("report", "--db", str(db), "--out", str(tmp_path / "no" / "r.html"))
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
