"""`lexboard check`: rules, skipped windows, messages and exit codes (0 hold, 1 broken, 2 error)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lexboard.checks import CheckConfig, CheckError, format_duration, parse_duration, run_checks
from lexboard.store import open_store
from lexboard.store.db import Store
from lexboard.store.ingest import ingest_sources
from tests.conftest import run_lexboard, write_jsonl
from tests.records import lex_record
from tests.server import running_server

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def ingest(db: Path, logs: Path) -> None:
    """Ingest in process (the CLI's own ingest is tested elsewhere); the file is closed after."""
    with open_store(db) as store:
        ingest_sources(store, [(str(logs), [logs])])


def _traffic(end: datetime, n: int = 100, missed_every: int = 10) -> list[dict[str, Any]]:
    """``n`` turns in the 10 minutes before ``end``: 1 in ``missed_every`` missed; sentiment
    NEGATIVE on 1 in 5, none on 1 in 4 of the rest (so the labelled share differs)."""
    records = []
    for i in range(n):
        ts = end - timedelta(seconds=10 + i * 590 // n)
        sentiment = "NEGATIVE" if i % 5 == 0 else (None if i % 4 == 1 else "POSITIVE")
        records.append(
            lex_record(
                ts=ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                session_id=f"s{i % 9}",
                missed=i % missed_every == 0,
                intent=None if i % missed_every == 0 else "CheckBalance",
                sentiment=sentiment,
            )
        )
    return records


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    logs = write_jsonl(tmp_path / "logs.jsonl", _traffic(NOW, missed_every=4))
    with open_store(tmp_path / "store.duckdb") as opened:
        ingest_sources(opened, [("logs", [logs])])
        yield opened


def _by_rule(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["rule"]: r for r in report["rules"]}


def test_rules_over_the_window(store: Store) -> None:
    report = run_checks(store, CheckConfig(max_lag_s=None), NOW)
    rules = _by_rule(report)
    assert report["ok"] is False and report["broken"] == 1
    assert rules["missed_rate"]["status"] == "broken"
    assert rules["missed_rate"]["value"] == 0.25 and rules["missed_rate"]["count"] == 100
    assert rules["missed_rate"]["message"] == (
        "missed_rate: missed-utterance rate 25.0% > --max-missed-rate 20.0% "
        "(25 of 100 requests in the last 15m)"
    )
    # Over the turns that carry a sentiment label only.
    negative = rules["negative_rate"]
    labelled = sum(1 for i in range(100) if i % 5 == 0 or i % 4 != 1)
    assert negative["count"] == labelled
    assert negative["value"] == pytest.approx(20 / labelled)
    assert negative["status"] == "ok"
    assert "≤ --max-negative-rate 30.0%" in negative["message"]
    assert "ingest_lag" not in rules  # off
    assert [r["status"] for r in report["rules"]] == ["broken", "ok"]  # broken first


def test_a_thin_window_is_skipped_and_says_so(store: Store) -> None:
    report = run_checks(store, CheckConfig(min_requests=101, max_lag_s=None), NOW)
    assert report["ok"] is True and report["skipped"] == 2
    assert _by_rule(report)["missed_rate"]["message"] == (
        "missed_rate: skipped, 100 requests in the last 15m (fewer than --min-requests 101)"
    )
    assert "turns with a sentiment label" in _by_rule(report)["negative_rate"]["message"]
    # A window after the traffic: nothing to judge, not "0% missed".
    later = run_checks(store, CheckConfig(min_requests=0, max_lag_s=None), NOW + timedelta(hours=1))
    assert {r["status"] for r in later["rules"]} == {"skipped"}
    assert "0 requests in the last 15m (nothing to rate)" in later["rules"][0]["message"]


def test_filters_narrow_the_window_rules(store: Store) -> None:
    config = CheckConfig.parse(filters={"bot_id": "NOPE"}, min_requests="1", max_lag="off")
    assert {r["status"] for r in run_checks(store, config, NOW)["rules"]} == {"skipped"}


def test_lag_rule_per_source(store: Store) -> None:
    # The store's only batch was ingested now, weeks after its events (2026-11-02).
    report = run_checks(store, CheckConfig(max_missed_rate=None, max_negative_rate=None), NOW)
    (lag,) = report["rules"]
    assert lag["status"] == "broken" and lag["source"] == "logs"
    assert lag["message"].startswith("ingest_lag: source logs: ")
    assert "> --max-lag 5m" in lag["message"]
    relaxed = run_checks(store, CheckConfig.parse(max_lag="3650d", max_missed_rate="off"), NOW)
    assert _by_rule(relaxed)["ingest_lag"]["status"] == "ok"


def test_lag_rule_without_any_ingest(tmp_path: Path) -> None:
    with open_store(tmp_path / "empty.duckdb") as store:
        report = run_checks(store, CheckConfig(), NOW)
    assert report["ok"] is True
    assert _by_rule(report)["ingest_lag"]["message"] == (
        "ingest_lag: skipped, no ingested batch with events yet"
    )


def test_parsing() -> None:
    assert [parse_duration(t, "w") for t in ("15m", "90s", "1h", "2d", "500ms", "30", 5)] == [
        900,
        90,
        3600,
        172800,
        0.5,
        30,
        5,
    ]
    assert [format_duration(s) for s in (900, 90, 3600, 86400, 0.5, 1.5)] == [
        "15m",
        "90s",
        "1h",
        "1d",
        "500ms",
        "1.5s",
    ]
    for bad in ("", "5 minutes", "-1m", "0s"):
        with pytest.raises(CheckError):
            parse_duration(bad, "window")
    with pytest.raises(CheckError, match="not a rate from 0 to 1"):
        CheckConfig.parse(max_missed_rate="1.5")
    with pytest.raises(CheckError, match="unknown check parameter 'max_lagg'"):
        CheckConfig.from_query({"max_lagg": "5m"})
    config = CheckConfig.parse("10m", 5, "off", "2m", "0.25", {"bot_id": "B"})
    assert CheckConfig.from_query(config.to_query()) == config


# --- the command -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store whose traffic ended seconds ago: 10% missed, 20% of labelled turns negative."""
    root = tmp_path_factory.mktemp("check")
    db = root / "store.duckdb"
    logs = write_jsonl(root / "logs.jsonl", _traffic(datetime.now(UTC), missed_every=10))
    ingest(db, logs)
    return db


def test_exit_0_when_every_rule_holds(live_db: Path) -> None:
    done = run_lexboard("check", "--db", str(live_db))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""  # quiet for cron
    verbose = run_lexboard("check", "--db", str(live_db), "-v", "--format", "json")
    report = json.loads(verbose.stdout)
    assert report["ok"] is True
    assert [r["status"] for r in report["rules"]] == ["ok", "ok", "ok"]
    assert report["params"]["window"] == "15m" and report["params"]["min_requests"] == 50


def test_exit_1_with_one_line_per_broken_rule(live_db: Path) -> None:
    done = run_lexboard(
        "check",
        "--db",
        str(live_db),
        "--max-missed-rate",
        "0.05",
        "--max-negative-rate",
        "0.1",
        "--max-lag",
        "1s",
    )
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["missed_rate", "negative_rate", "ingest_lag"]
    assert "10.0% > --max-missed-rate 5.0% (10 of 100 requests in the last 15m)" in lines[0]
    assert "> --max-lag 1s" in lines[2]


def test_skipped_rules_say_so_and_still_exit_0(live_db: Path) -> None:
    done = run_lexboard(
        "check", "--db", str(live_db), "--min-requests", "500", "--max-missed-rate", "0.01"
    )
    assert done.returncode == 0
    assert "missed_rate: skipped, 100 requests in the last 15m" in done.stderr
    assert "fewer than --min-requests 500" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--window", "soon"), "window = 'soon' is not a duration"),
        (("--max-missed-rate", "1.5"), "is not a rate from 0 to 1"),
        (("--min-requests", "-3"), "Invalid value for '--min-requests'"),
    ],
)
def test_exit_2_on_bad_usage(live_db: Path, args: tuple[str, ...], message: str) -> None:
    done = run_lexboard("check", "--db", str(live_db), *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""


def test_exit_2_when_the_store_is_missing(tmp_path: Path) -> None:
    done = run_lexboard("check", "--db", str(tmp_path / "nothing.duckdb"))
    assert done.returncode == 2
    assert "does not exist" in done.stderr


def test_check_goes_to_the_server_that_owns_the_store(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    logs = write_jsonl(tmp_path / "logs.jsonl", _traffic(datetime.now(UTC), missed_every=2))
    ingest(db, logs)
    with running_server(db) as url:
        done = run_lexboard("check", "--db", str(db), "--max-lag", "off")
        assert done.returncode == 1, done.stderr
        assert done.stdout.startswith("missed_rate: missed-utterance rate 50.0% >")
        explicit = run_lexboard("check", "--server", url, "--format", "json", "--window", "1h")
        report = json.loads(explicit.stdout)
        assert explicit.returncode == 1 and report["params"]["window"] == "1h"
        assert report["params"]["max_lag_s"] == 300.0
