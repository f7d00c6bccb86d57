"""Simulated users of the sample bot: exact Lex V2 records, realistic traffic, the loop."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from lexboard.logs.formats import FORMATS as LOG_FORMATS
from lexboard.logs.formats import sniff
from lexboard.sample.botdef import load_bot, sample_bot_dir
from lexboard.sample.simulate import LiveTraffic, hour_weight, simulate_history
from lexboard.store import open_store
from lexboard.store.ingest import Ingestor, IngestSummary
from tests.conftest import run_lexboard, write_jsonl

BOT = sample_bot_dir()
END = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
KEY = "bot_id, locale_id, session_id, originating_request_id"


def _ingest(db: Path, files: list[Path]) -> IngestSummary:
    with open_store(db) as store:
        ingestor = Ingestor(store, command="test")
        for path in files:
            ingestor.ingest_file(path, ingestor.stats_for("sample"))
        return ingestor.finish()


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Path, Any]:
    records = list(simulate_history(BOT, END - timedelta(days=30), END, 200, seed=11))
    out = tmp_path_factory.mktemp("month")
    logs = write_jsonl(out / "month.jsonl", records)  # one file: one ingest transaction
    db = out / "store.duckdb"
    summary = _ingest(db, [logs])
    return records, db, summary


def _query(db: Path, sql: str) -> list[Any]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_generated_month_ingests_with_nothing_quarantined(month: Any) -> None:
    records, db, summary = month
    assert summary.total("quarantined") == 0
    assert summary.total("new") == len(records) > 15_000
    assert _query(db, "SELECT count(*) FROM quarantine") == [(0,)]


def _check_record(r: dict[str, Any], intents: dict[str, set[str]]) -> None:
    assert r["messageVersion"] == "2.0"
    assert ISO_MS_Z.match(r["timestamp"]), r["timestamp"]
    assert set(r["bot"]) == {"id", "name", "aliasId", "aliasName", "version", "localeId"}
    assert r["inputMode"] in ("Text", "Speech", "DTMF")
    assert r["operationName"] in ("RecognizeText", "RecognizeUtterance", "StartConversation")
    state = r["sessionState"]
    assert state["originatingRequestId"] and r["requestId"] and r["sessionId"]
    assert set(state["sessionAttributes"]) == {"Channel", "UserName"}
    intent = state["intent"]
    assert intent["name"] in intents
    assert intent["state"] in ("InProgress", "ReadyForFulfillment", "Fulfilled", "Failed")
    assert intent["confirmationState"] in ("None", "Confirmed", "Denied")
    interpretations = r["interpretations"]
    assert 1 <= len(interpretations) <= 5
    assert interpretations[0]["intent"] == intent
    for i, item in enumerate(interpretations):
        name = item["intent"]["name"]
        if name == "FallbackIntent":
            assert "nluConfidence" not in item
        else:
            assert re.fullmatch(r"[01]\.\d\d", item["nluConfidence"]), item
        if i > 0:
            assert "sentimentResponse" not in item
    action = state["dialogAction"]
    if action["type"] == "ElicitSlot":
        assert action["slotToElicit"] in intents[intent["name"]]
        assert intent["state"] == "InProgress"
    if r["missedUtterance"]:
        assert intent["name"] == "FallbackIntent" and intent["state"] == "ReadyForFulfillment"
        assert all(i["intent"]["name"] != "FallbackIntent" for i in interpretations[1:])
    assert set(intent["slots"]) == intents[intent["name"]]
    for slot in intent["slots"].values():
        if slot is None:
            continue
        assert slot["shape"] in ("Scalar", "List")
        assert set(slot["value"]) == {"originalValue", "interpretedValue", "resolvedValues"}
        if slot["shape"] == "List":
            assert slot["values"] and all(v["shape"] == "Scalar" for v in slot["values"])
    assert r["messages"] and all(m["contentType"] for m in r["messages"])
    if r["inputMode"] == "Speech" and r["inputTranscript"]:
        best = r["transcriptions"][0]
        assert best["transcription"] == r["inputTranscript"]
        assert isinstance(best["transcriptionConfidence"], float)
    if r["inputMode"] == "DTMF":
        assert r["inputTranscript"].isdigit()
    if r["inputTranscript"]:
        sentiment = interpretations[0]["sentimentResponse"]
        assert sentiment["sentiment"] in ("POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED")
        assert sum(sentiment["sentimentScore"].values()) == pytest.approx(1.0, abs=1e-4)


def test_records_follow_the_lex_v2_format(month: Any) -> None:
    records = month[0]
    bot = load_bot(BOT)
    intents = {i.name: {s.name for s in i.slots} for i in bot.intents}
    for record in records:
        _check_record(record, intents)
    stamps = [(r["timestamp"], r["requestId"]) for r in records]
    assert stamps == sorted(stamps)
    assert len({r["requestId"] for r in records}) == len(records)
    assert {r["bot"]["aliasId"] for r in records} == {"ZK4NW2GQ8T", "TSTALIASID"}
    assert any("rawInputTranscript" in r for r in records)
    assert any("rawInputTranscript" not in r for r in records)
    assert any(r["responseReason"] == "StartTimeout" for r in records)
    assert any(
        len(r["transcriptions"]) > 1 for r in records if r.get("transcriptions")
    )  # mis-recognitions keep the right words as an alternative


def test_month_is_realistic(month: Any) -> None:
    _, db, _ = month
    bot = load_bot(BOT)
    seen = {row[0] for row in _query(db, "SELECT DISTINCT intent FROM turns")}
    assert seen == {i.name for i in bot.intents}  # every intent, FallbackIntent included
    modes = {row[0] for row in _query(db, "SELECT DISTINCT input_mode FROM turns")}
    assert modes == {"Text", "Speech", "DTMF"}
    [(missed_rate,)] = _query(db, "SELECT avg(missed::INT) FROM turns")
    assert 0.05 <= missed_rate <= 0.25
    [(retries,)] = _query(
        db,
        f"""SELECT count(*) FROM (
            SELECT dialog_action, slot_to_elicit, intent,
                   lag(dialog_action) OVER w AS prev_action,
                   lag(slot_to_elicit) OVER w AS prev_slot, lag(intent) OVER w AS prev_intent
            FROM turns WINDOW w AS (PARTITION BY {KEY} ORDER BY ts, request_id))
        WHERE dialog_action = 'ElicitSlot' AND prev_action = 'ElicitSlot'
          AND slot_to_elicit = prev_slot AND intent = prev_intent""",
    )
    assert retries > 100
    [(denied,)] = _query(
        db,
        "SELECT count(*) FROM turns "
        "WHERE confirmation_state = 'Denied' AND intent_state = 'Failed'",
    )
    assert denied > 50
    [(dropped,)] = _query(
        db,
        "SELECT count(*) FROM sessions WHERE runs <> '' "
        "AND split_part(string_split(runs, chr(30))[-1], chr(31), 2) "
        "NOT IN ('Fulfilled', 'ReadyForFulfillment', 'Failed')",
    )
    assert dropped > 100
    [(sessions, avg_turns)] = _query(db, "SELECT count(*), avg(turns) FROM sessions")
    assert sessions > 4500 and avg_turns > 2.5
    [(resumed,)] = _query(
        db,
        """SELECT count(*) FROM (
            SELECT session_id FROM sessions GROUP BY session_id
            HAVING count(DISTINCT originating_request_id) > 1
               AND max(start_ts) - min(start_ts) < INTERVAL 5 HOUR)""",
    )
    assert resumed > 20  # back after the idle TTL, same session id, new conversation
    [(switched,)] = _query(
        db,
        "SELECT count(*) FROM (SELECT list_transform(string_split(runs, chr(30)), "
        "lambda r: string_split(r, chr(31))) AS rs FROM sessions WHERE runs <> ''), "
        "unnest(range(len(rs) - 1)) AS t(i) "
        "WHERE rs[i + 1][2] = 'InProgress' AND rs[i + 2][1] <> 'FallbackIntent'",
    )
    assert switched > 20  # an intent left mid-way for another one
    labels = {row[0] for row in _query(db, "SELECT DISTINCT sentiment FROM turns")}
    assert {"POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"} <= labels


def test_traffic_follows_the_users_day_and_week(month: Any) -> None:
    _, db, _ = month
    local = "start_ts AT TIME ZONE 'America/New_York'"
    rows = _query(
        db,
        f"SELECT isodow({local}) > 5 AS weekend, hour({local}) AS h, count(*) "
        "FROM sessions GROUP BY ALL",
    )
    counts = {(weekend, h): n for weekend, h, n in rows}
    business = sum(counts.get((False, h), 0) for h in range(10, 16)) / 6
    night = sum(counts.get((False, h), 0) for h in range(1, 5)) / 4
    assert business > 5 * night
    weekday_total = sum(n for (weekend, _), n in counts.items() if not weekend) / 5
    weekend_total = sum(n for (weekend, _), n in counts.items() if weekend) / 2
    assert weekend_total < 0.8 * weekday_total
    # Over a week the weights average one: sessions_per_day is the mean.
    monday = datetime(2026, 11, 2, tzinfo=UTC)
    week = [hour_weight(monday + timedelta(hours=h)) for h in range(7 * 24)]
    assert sum(week) / len(week) == pytest.approx(1.0)


def test_history_is_deterministic_and_bounded() -> None:
    start = END - timedelta(days=2)
    first = list(simulate_history(BOT, start, END, 120, seed=3))
    again = list(simulate_history(BOT, start, END, 120, seed=3))
    other = list(simulate_history(BOT, start, END, 120, seed=4))
    assert orjson.dumps(first) == orjson.dumps(again)
    assert orjson.dumps(first) != orjson.dumps(other)
    assert all(start.isoformat()[:19] <= r["timestamp"][:19] < END.isoformat()[:19] for r in first)
    quiet = list(simulate_history(BOT, start, END, 120, seed=3, sentiment=False))
    assert all("sentimentResponse" not in i for r in quiet for i in r["interpretations"])
    assert [r["inputTranscript"] for r in quiet] == [r["inputTranscript"] for r in first]
    # Another time zone moves the rhythm: Tokyo's business hours are New York's night.
    tokyo = list(simulate_history(BOT, start, END, 120, seed=3, tz="Asia/Tokyo"))
    assert orjson.dumps(tokyo) != orjson.dumps(first)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("fmt", LOG_FORMATS)
def test_sample_cli_is_byte_identical_and_ingestible(tmp_path: Path, fmt: str) -> None:
    args = ["--days", "2", "--sessions-per-day", "150", "--seed", "5"]
    args += ["--end", "2026-11-02T12:00:00Z", "--format", fmt]
    for name in ("a", "b"):
        result = run_lexboard("sample", "--out", str(tmp_path / name), *args)
        assert result.returncode == 0, result.stderr
        assert re.fullmatch(r"wrote [\d,]+ files, [\d,]+ records \(.*\) to .*\n", result.stderr)
    first, second = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert first and first == second
    if fmt == "jsonl":
        assert sorted(first) == ["bankingbot-2026-10-31.jsonl", "bankingbot-2026-11-01.jsonl",
                                 "bankingbot-2026-11-02.jsonl"]  # fmt: skip
    elif fmt in ("json", "cloudwatch-events"):
        suffix = ".json" if fmt == "json" else ".events.json"
        days = ["2026-10-31", "2026-11-01", "2026-11-02"]
        assert sorted(first) == [f"bankingbot-{day}{suffix}" for day in days]
        assert sniff(tmp_path / "a" / f"bankingbot-2026-11-01{suffix}") == fmt
    elif fmt == "cloudwatch-export":
        assert all(
            re.fullmatch(r"[0-9a-f-]{36}/lex-conversation-logs-\d/\d{6}\.gz", k) for k in first
        )
    else:
        assert all(re.fullmatch(r"\d{4}/\d\d/\d\d/\d\d/[\w-]+\.gz", k) for k in first)
    files = sorted(p for p in (tmp_path / "a").rglob("*") if p.is_file())
    summary = _ingest(tmp_path / "store.duckdb", files)
    assert summary.total("quarantined") == 0 and summary.total("new") > 300
    records = int(result.stderr.split(" files, ")[1].split(" records")[0].replace(",", ""))
    assert summary.total("new") == records


def test_sample_cli_rejects_bad_end(tmp_path: Path) -> None:
    result = run_lexboard("sample", "--out", str(tmp_path), "--end", "yesterday")
    assert result.returncode == 2
    assert "--end = 'yesterday' is not an ISO-8601 date or time" in result.stderr


def test_follow_appends_live_traffic_until_ctrl_c(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "lexboard", "sample", "--out", str(out), "--days", "0"]
    command += ["--sessions-per-day", "400000", "--follow", "--interval", "0.3"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    live = out / "live.jsonl"
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and (not live.exists() or live.stat().st_size == 0):
        time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    lines = stderr.strip().splitlines()
    assert lines[-1].startswith("stopped: ") and "live records appended" in lines[-1]
    assert "Traceback" not in stderr
    records = [json.loads(line) for line in live.read_text().splitlines()]
    assert records and all(r["messageVersion"] == "2.0" for r in records)


def test_live_traffic_windows_and_determinism() -> None:
    start = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York

    def run() -> list[list[dict[str, Any]]]:
        live = LiveTraffic(BOT, 9, sessions_per_day=30_000, start=start)
        return [live.poll(start + timedelta(seconds=5 * i)) for i in range(1, 61)]

    polls = run()
    assert orjson.dumps(polls) == orjson.dumps(run())
    for i, batch in enumerate(polls, start=1):
        lo, hi = start + timedelta(seconds=5 * (i - 1)), start + timedelta(seconds=5 * i)
        for record in batch:
            ts = datetime.fromisoformat(record["timestamp"])
            assert lo < ts <= hi
        assert [r["timestamp"] for r in batch] == sorted(r["timestamp"] for r in batch)
    flat = [r for batch in polls for r in batch]
    assert len(flat) > 50
    conversations = Counter(r["sessionState"]["originatingRequestId"] for r in flat)
    assert max(conversations.values()) > 2  # turns of one conversation spread over polls


def test_curation_changes_what_live_traffic_recognises(tmp_path: Path) -> None:
    copy = tmp_path / "bot"
    shutil.copytree(BOT, copy)
    start = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)
    live = LiveTraffic(copy, 2, sessions_per_day=200_000, start=start)
    phrase = "speak with somebody"  # a paraphrase of SpeakToAgent the bot lacks

    def said(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in records if r["inputTranscript"].lower().strip("?.! ") == phrase]

    now, before = start, []
    while len(said(before)) < 3 and now < start + timedelta(hours=2):
        now += timedelta(seconds=30)
        before += live.poll(now)
    assert said(before) and all(r["missedUtterance"] for r in said(before))
    assert all(r["sessionState"]["intent"]["name"] == "FallbackIntent" for r in said(before))
    intent_json = copy / "BankingBot/BotLocales/en_US/Intents/SpeakToAgent/Intent.json"
    data = json.loads(intent_json.read_text())
    data["sampleUtterances"].append({"utterance": phrase})
    intent_json.write_text(json.dumps(data, indent=2))
    after: list[dict[str, Any]] = []
    while len(said(after)) < 3 and now < start + timedelta(hours=4):
        now += timedelta(seconds=30)
        after += live.poll(now)
    assert said(after)
    for record in said(after):
        assert not record["missedUtterance"]
        assert record["interpretations"][0]["intent"]["name"] == "SpeakToAgent"
        assert record["interpretations"][0]["nluConfidence"] == "1.00"
