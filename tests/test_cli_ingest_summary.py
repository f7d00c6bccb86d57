"""`lexboard ingest` then `lexboard metrics summary`, as a user runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.conftest import write_jsonl
from tests.records import lex_record


def _records() -> list[dict]:
    return [
        # session A (orig-1): 3 turns, one missed, 90 s long, starts in the window
        lex_record(ts="2026-11-02T10:00:00.000Z", session_id="A", request_id="a1"),
        lex_record(
            ts="2026-11-02T10:00:30.000Z",
            session_id="A",
            request_id="a2",
            missed=True,
            intent=None,
            confidence=None,
        ),
        lex_record(ts="2026-11-02T10:01:30.000Z", session_id="A", request_id="a3"),
        # session A reused with a new originating request id: a second conversation, 1 turn
        lex_record(
            ts="2026-11-02T12:00:00.000Z",
            session_id="A",
            request_id="a4",
            originating_request_id="orig-2",
        ),
        # session B starts before the window: its turns count as requests, not as a session
        lex_record(ts="2026-11-01T23:59:00.000Z", session_id="B", request_id="b1"),
        lex_record(
            ts="2026-11-02T00:01:00.000Z",
            session_id="B",
            request_id="b2",
            bot_id="BOT2",
            missed=True,
        ),
        # another bot's locale
        lex_record(
            ts="2026-11-02T15:00:00.000Z", session_id="C", request_id="c1", locale_id="fr_FR"
        ),
    ]


@pytest.fixture
def store(tmp_path: Path, lexboard) -> Path:  # type: ignore[no-untyped-def]
    logs = tmp_path / "logs"
    logs.mkdir()
    records = _records()
    write_jsonl(logs / "one.jsonl", records[:4])
    write_jsonl(logs / "two.jsonl.gz", records[4:], gz=True)
    db = tmp_path / "store.duckdb"
    result = lexboard("ingest", str(logs), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "7" in result.stderr  # the summary table
    return db


def _summary(lexboard, db: Path, *extra: str) -> dict:  # type: ignore[no-untyped-def]
    result = lexboard(
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
        *extra,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_summary_matches_hand_computation(store: Path, lexboard) -> None:  # type: ignore[no-untyped-def]
    out = _summary(lexboard, store)
    assert out["metric"] == "summary"
    assert out["columns"] == [
        "requests",
        "sessions",
        "missed",
        "missed_rate",
        "avg_session_duration_s",
        "avg_turns_per_session",
    ]
    # requests: a1 a2 a3 a4 b2 c1 = 6 (b1 is before the window); missed: a2 b2
    # sessions started in the window: (A, orig-1) 90 s 3 turns, (A, orig-2) 0 s 1 turn,
    # (C) 0 s 1 turn; B's BOT1 session started 23:59 the day before; B's BOT2 session
    # (b2 alone: a different bot is a different session) starts 00:01.
    assert out["rows"] == [[6, 4, 2, 2 / 6, 90 / 4, 6 / 4]]
    assert out["params"] == {
        "from": "2026-11-02T00:00:00.000+00:00",
        "to": "2026-11-03T00:00:00.000+00:00",
        "tz": "UTC",
        "bot_id": None,
        "locale_id": None,
        "alias_id": None,
        "input_mode": None,
    }


def test_filters_and_time_zone(store: Path, lexboard) -> None:  # type: ignore[no-untyped-def]
    fr = _summary(lexboard, store, "--locale-id", "fr_FR")
    assert fr["rows"] == [[1, 1, 0, 0.0, 0.0, 1.0]]
    bot2 = _summary(lexboard, store, "--bot-id", "BOT2")
    assert bot2["rows"] == [[1, 1, 1, 1.0, 0.0, 1.0]]
    # In Tokyo, 2026-11-02 local is 2026-11-01T15:00Z..2026-11-02T15:00Z: c1 (15:00Z) is out
    tokyo = _summary(lexboard, store, "--tz", "Asia/Tokyo")
    assert tokyo["params"]["from"] == "2026-11-02T00:00:00.000+09:00"
    assert tokyo["rows"][0][0] == 6  # b1 23:59Z in, c1 15:00Z out


def test_empty_window(store: Path, lexboard) -> None:  # type: ignore[no-untyped-def]
    result = lexboard(
        "metrics",
        "summary",
        "--db",
        str(store),
        "--from",
        "2020-01-01",
        "--to",
        "2020-01-02",
        "--format",
        "json",
    )
    assert json.loads(result.stdout)["rows"] == [[0, 0, 0, None, None, None]]


def test_csv_and_table(store: Path, lexboard) -> None:  # type: ignore[no-untyped-def]
    result = lexboard(
        "metrics",
        "summary",
        "--db",
        str(store),
        "--from",
        "2020-01-01",
        "--to",
        "2020-01-02",
        "--format",
        "csv",
    )
    assert result.stdout.splitlines() == [
        "requests,sessions,missed,missed_rate,avg_session_duration_s,avg_turns_per_session",
        "0,0,0,,,",
    ]
    table = lexboard("metrics", "summary", "--db", str(store), "--from", "2026-11-02")
    assert table.returncode == 0 and "requests" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch"], "unknown metric 'nosuch'"),
        (["summary", "--tz", "Mars/Base"], "unknown time zone 'Mars/Base'"),
        (["summary", "--from", "2026-11-03", "--to", "2026-11-02"], "is after to"),
        (["summary", "--from", "yesterday"], "is not an ISO-8601"),
        (["summary", "--param", "limit=3"], "has no parameter 'limit'"),
        (["summary", "--param", "oops"], "is not NAME=VALUE"),
    ],
)
def test_bad_requests_are_one_line(store: Path, lexboard, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = lexboard("metrics", *args, "--db", str(store))
    assert result.returncode == 2
    assert message in result.stderr.splitlines()[0]
    assert "Traceback" not in result.stderr


def test_metrics_list(lexboard) -> None:  # type: ignore[no-untyped-def]
    result = lexboard("metrics", "--list", "--format", "json")
    ids = [m["id"] for m in json.loads(result.stdout)]
    assert "summary" in ids


def test_missing_store_is_one_line(tmp_path: Path, lexboard) -> None:  # type: ignore[no-untyped-def]
    result = lexboard("metrics", "summary", "--db", str(tmp_path / "none.duckdb"))
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_retention_counts_expired_and_removes_old_turns(tmp_path: Path, lexboard) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    stamp = lambda days: (now - timedelta(days=days)).isoformat(timespec="milliseconds")  # noqa: E731
    old = [lex_record(ts=stamp(40), session_id="old", request_id=f"o{i}") for i in range(3)]
    recent = [lex_record(ts=stamp(2), session_id="new", request_id=f"n{i}") for i in range(2)]
    db = tmp_path / "r.duckdb"
    # Without retention everything is kept (the default: 0 keeps all)
    assert (
        lexboard("ingest", str(write_jsonl(tmp_path / "a.jsonl", old)), "--db", str(db)).returncode
        == 0
    )
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM turns").fetchone() == (3,)
    con.close()
    result = lexboard(
        "ingest",
        str(write_jsonl(tmp_path / "b.jsonl", old + recent)),
        "--db",
        str(db),
        env={"LEXBOARD_RETENTION_DAYS": "30"},
    )
    assert result.returncode == 0, result.stderr
    assert "retention removed 3 turns" in result.stderr
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM turns").fetchone() == (2,)
    assert con.execute("SELECT session_id, turns FROM sessions").fetchall() == [("new", 2)]
    stats = con.execute(
        'SELECT "read", new, duplicate, expired FROM ingest_stats ORDER BY run_id DESC LIMIT 1'
    ).fetchone()
    con.close()
    assert stats == (5, 2, 0, 3)


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal, ingest shows a progress bar with records/s (rich, on stderr)."""
    import os
    import pty
    import subprocess
    import sys

    records = [lex_record(session_id=f"s{i // 5}", request_id=f"p{i}") for i in range(20_000)]
    source = write_jsonl(tmp_path / "big.jsonl", records)
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lexboard", "ingest", str(source), "--db", str(tmp_path / "p.db")],
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    screen = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "records ·" in screen and "/s" in screen
    assert "20,000" in screen  # the summary table


def test_quarantine_listing(tmp_path: Path, lexboard) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "mixed.jsonl"
    source.write_text(json.dumps(lex_record(request_id="ok1")) + "\n{broken\n")
    db = tmp_path / "q.duckdb"
    assert lexboard("ingest", str(source), "--db", str(db)).returncode == 0
    result = lexboard("quarantine", "--db", str(db), "--format", "json")
    listing = json.loads(result.stdout)
    assert listing["total"] == 1
    assert listing["rows"][0]["position"] == "line 2"
    assert "not valid JSON" in listing["rows"][0]["reason"]


def test_session_command(store: Path, lexboard) -> None:  # type: ignore[no-untyped-def]
    result = lexboard("session", "A", "--db", str(store), "--format", "json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert [c["key"]["originating_request_id"] for c in body["conversations"]] == [
        "orig-1",
        "orig-2",
    ]
    text = lexboard("session", "A", "--db", str(store), "--tz", "Asia/Tokyo")
    assert "2026-11-02T19:00:00.000+09:00" in text.stdout and "MISSED" in text.stdout
    missing = lexboard("session", "nope", "--db", str(store))
    assert missing.returncode == 2 and "no session 'nope'" in missing.stderr


def test_retention_recomputes_a_session_that_loses_some_turns(tmp_path: Path) -> None:
    from lexboard.store import open_store
    from lexboard.store.ingest import ingest_sources

    now = datetime.now(UTC)
    stamp = lambda days: (now - timedelta(days=days)).isoformat(timespec="milliseconds")  # noqa: E731
    records = [
        lex_record(ts=stamp(40), session_id="mix", request_id="m-old"),
        lex_record(ts=stamp(2), session_id="mix", request_id="m-new", missed=True),
    ]
    db = tmp_path / "mix.duckdb"
    with open_store(db) as store:
        ingest_sources(store, [("a", [write_jsonl(tmp_path / "a.jsonl", records)])])
        assert store.fetchone("SELECT turns FROM sessions") == (2,)
        summary = ingest_sources(store, [], retention_days=30)
        assert summary.removed_by_retention == 1
        turns, missed, duration = store.fetchone("SELECT turns, missed, duration_s FROM sessions")
    assert (turns, missed, duration) == (1, 1, 0.0)
