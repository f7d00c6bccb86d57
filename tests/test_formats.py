"""Sniffing and reading each container Lex logs arrive in (tests/cases/good/ and friends).

`tests/cases/manifest.json` (written by tests/cases/make_cases.py along with the samples)
says, per file, which records it holds, at which position, in reading order.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from lexboard.errors import SourceError
from lexboard.logs.formats import RawRecord, Unreadable, read_items, sniff
from lexboard.logs.record import BadRecord, check_record, to_turn
from tests.conftest import CASES, run_lexboard, write_jsonl
from tests.records import lex_record

MANIFEST: dict[str, Any] = json.loads((CASES / "manifest.json").read_text())
GOOD = sorted(name for name in MANIFEST if name.startswith("good/"))
WITH_EVENT_TIME = {"cloudwatch-events", "cloudwatch-export", "subscription"}


def _records(path: Path, fmt: str | None = None) -> list[tuple[str, Any]]:
    """(position, requestId) of every item; an Unreadable shows as ("BAD " + position, reason)."""
    out: list[tuple[str, Any]] = []
    for item in read_items(path, fmt):
        if isinstance(item, Unreadable):
            out.append(("BAD " + item.position, item.reason))
        else:
            value = item.value
            out.append(
                (item.position, value.get("requestId") if isinstance(value, dict) else value)
            )
    return out


def _turns(db: Path) -> list[tuple[str, str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT source, position, request_id FROM turns ORDER BY source, request_id"
        ).fetchall()


def test_every_format_has_a_good_sample() -> None:
    assert {MANIFEST[name]["format"] for name in GOOD} == {
        "jsonl",
        "json",
        "cloudwatch-events",
        "cloudwatch-export",
        "subscription",
    }
    assert any(name.endswith(".jsonl.gz") for name in GOOD)
    samples = [*(CASES / "good").rglob("*"), *(CASES / "bad").rglob("*")]
    assert sum(p.stat().st_size for p in samples if p.is_file()) < 200_000


@pytest.mark.parametrize("name", GOOD)
def test_good_sample_is_sniffed(name: str) -> None:
    assert sniff(CASES / name) == MANIFEST[name]["format"]


@pytest.mark.parametrize("name", GOOD)
def test_good_sample_reads_expected_records(name: str) -> None:
    path = CASES / name
    expected = [tuple(entry) for entry in MANIFEST[name]["records"]]
    assert _records(path) == expected
    # Forcing the format it has gives the same.
    assert _records(path, MANIFEST[name]["format"]) == expected
    for item in read_items(path):
        assert isinstance(item, RawRecord)
        event_ts = None
        if MANIFEST[name]["format"] in WITH_EVENT_TIME:
            assert isinstance(item.event_ms, int)
            event_ts = datetime.fromtimestamp(item.event_ms / 1000, UTC)
        turn = to_turn(item.value, event_ts)
        assert turn.bot_id == "QGAUBMHN9B" and turn.locale_id == "en_US"
        if event_ts is not None:  # the event time is the record's own time (to the ms)
            assert abs((turn.ts - event_ts).total_seconds()) < 0.001


def test_samples_follow_the_lex_v2_log_format() -> None:
    """The samples look like real records: what LEX_V2_LOGS.md says real records carry."""
    seen_missed = seen_speech = 0
    for name in GOOD:
        for item in read_items(CASES / name):
            assert isinstance(item, RawRecord)
            record = item.value
            assert record["messageVersion"] == "2.0"
            assert record["timestamp"].endswith("Z") and len(record["timestamp"]) == 24
            assert record["bot"]["aliasId"] == "TSTALIASID" and record["bot"]["version"] == "DRAFT"
            state = record["sessionState"]
            assert state["originatingRequestId"]
            top = record["interpretations"][0]
            for interpretation in record["interpretations"]:
                if interpretation["intent"]["name"] != "FallbackIntent":
                    assert isinstance(interpretation["nluConfidence"], str)
                    float(interpretation["nluConfidence"])
            if record["missedUtterance"]:
                seen_missed += 1
                assert state["intent"]["name"] == "FallbackIntent"
                assert state["intent"]["state"] == "ReadyForFulfillment"
                assert top["intent"]["name"] == "FallbackIntent" and "nluConfidence" not in top
                assert len(record["interpretations"]) > 1  # the alternatives, with scores
            if record["inputMode"] == "Speech":
                seen_speech += 1
                assert record["operationName"] == "RecognizeUtterance"
                assert isinstance(record["transcriptions"][0]["transcriptionConfidence"], float)
    assert seen_missed and seen_speech


def test_subscription_skips_control_message_and_reads_concatenated_gzip_members() -> None:
    name = next(n for n in GOOD if MANIFEST[n]["format"] == "subscription")
    path = CASES / name
    raw = gzip.decompress(path.read_bytes())  # several members, back to back
    assert raw.count(b'"messageType"') == 3 and b"CONTROL_MESSAGE" in raw
    items = list(read_items(path))
    assert all(isinstance(i, RawRecord) for i in items)
    assert len(items) == 5
    assert not any("CONTROL" in json.dumps(i.value) for i in items)  # type: ignore[union-attr]
    # envelope 2 is the CONTROL_MESSAGE: records come from objects 1 and 3, named by event id
    assert {i.position.split(" ")[1] for i in items} == {"1", "3"}


def test_subscription_envelopes_already_decompressed(tmp_path: Path) -> None:
    """Firehose with decompression on writes the JSON envelopes back to back, uncompressed."""
    name = next(n for n in GOOD if MANIFEST[n]["format"] == "subscription")
    plain = tmp_path / "firehose-decompressed"
    plain.write_bytes(gzip.decompress((CASES / name).read_bytes()))
    assert sniff(plain) == "subscription"
    assert _records(plain) == [tuple(e) for e in MANIFEST[name]["records"]]


def test_control_message_alone_gives_nothing(tmp_path: Path) -> None:
    control = {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [
            {"id": "", "timestamp": 1_762_070_400_000, "message": "CWL CONTROL MESSAGE: Checking"}
        ],
    }
    path = tmp_path / "control.gz"
    path.write_bytes(gzip.compress(json.dumps(control).encode()))
    assert sniff(path) == "subscription"
    assert _records(path) == []


def test_get_log_events_output_and_several_pages(tmp_path: Path) -> None:
    records = [lex_record(request_id=f"p{i}") for i in range(3)]

    def page(recs: list[dict[str, Any]], first_id: int) -> dict[str, Any]:
        return {
            "events": [
                {"timestamp": 1_762_070_400_000 + n, "message": json.dumps(r), "eventId": str(n)}
                for n, r in enumerate(recs, start=first_id)
            ],
            "nextForwardToken": "f/38700000000000000000000000000000000000000000000000000000",
            "nextBackwardToken": "b/38700000000000000000000000000000000000000000000000000000",
        }

    single = tmp_path / "get-log-events.json"
    single.write_text(json.dumps(page(records, 1), indent=4))
    assert sniff(single) == "cloudwatch-events"
    assert _records(single) == [("event 1", "p0"), ("event 2", "p1"), ("event 3", "p2")]

    pages = tmp_path / "pages.json"  # `aws logs ... --no-paginate` run twice, appended
    pages.write_text(json.dumps(page(records[:2], 1)) + "\n" + json.dumps(page(records[2:], 3)))
    assert _records(pages) == [
        ("page 1 event 1", "p0"),
        ("page 1 event 2", "p1"),
        ("page 2 event 3", "p2"),
    ]


def test_cloudwatch_export_event_time_comes_from_the_line(tmp_path: Path) -> None:
    record = lex_record(request_id="no-ts")
    del record["timestamp"]  # then the CloudWatch event time is the turn's time
    path = tmp_path / "000000.gz"
    path.write_bytes(gzip.compress(b"2026-11-02T10:00:00.123Z " + orjson.dumps(record) + b"\n"))
    assert sniff(path) == "cloudwatch-export"
    (item,) = read_items(path)
    assert isinstance(item, RawRecord) and item.position == "line 1"
    assert to_turn(item.value, datetime.fromtimestamp(item.event_ms / 1000, UTC)).ts == datetime(  # type: ignore[operator]
        2026, 11, 2, 10, 0, 0, 123000, tzinfo=UTC
    )


def test_bom_and_crlf_jsonl(tmp_path: Path) -> None:
    """Saved by a Windows editor: a UTF-8 BOM and CRLF line ends; every line is a record."""
    recs = [lex_record(request_id=f"w{i}") for i in range(3)]
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(orjson.dumps(r) for r in recs) + b"\r\n")
    assert sniff(path) == "jsonl"
    assert _records(path) == [("line 1", "w0"), ("line 2", "w1"), ("line 3", "w2")]


def test_bom_before_a_filter_log_events_document(tmp_path: Path) -> None:
    name = next(n for n in GOOD if MANIFEST[n]["format"] == "cloudwatch-events")
    path = tmp_path / "events-bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + (CASES / name).read_bytes())
    assert sniff(path) == "cloudwatch-events"
    assert _records(path) == [tuple(e) for e in MANIFEST[name]["records"]]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bad/truncated-line.jsonl", "jsonl"),
        ("bad/garbage-line.jsonl", "jsonl"),  # one binary line does not make the file binary
        ("bad/invalid-utf8.jsonl", "jsonl"),
        ("bad/numbers.json", "json"),
        ("bad/truncated.jsonl.gz", "jsonl"),
        ("bad/core-dump.bin", None),
        ("bad/empty.jsonl", None),
    ],
)
def test_broken_samples_are_sniffed(name: str, expected: str | None) -> None:
    assert sniff(CASES / name) == expected


@pytest.mark.parametrize("name", sorted(n for n in MANIFEST if n.startswith("bad/")))
def test_broken_sample_keeps_good_records_and_names_bad_positions(name: str) -> None:
    """Readers and check_record together: every good record, and where each bad one is."""
    good: list[tuple[str, Any]] = []
    bad: list[str] = []
    for item in read_items(CASES / name):
        if isinstance(item, Unreadable):
            bad.append(item.position)
            continue
        try:
            check_record(item.value)
        except BadRecord:
            bad.append(item.position)
        else:
            good.append((item.position, item.value["requestId"]))
    assert good == [tuple(e) for e in MANIFEST[name]["records"]]
    assert bad == MANIFEST[name]["bad"]


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [lex_record()])
    with pytest.raises(SourceError, match="unknown format 'ndjson'"):
        list(read_items(path, "ndjson"))
    result = run_lexboard("ingest", str(path), "--db", str(tmp_path / "s.duckdb"), "--format", "x")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_format_override_on_the_command_line(tmp_path: Path) -> None:
    # A boto3 get_log_events response saved with ResponseMetadata first and pretty-printed:
    # the first line is a lone "{", so sniffing cannot tell it from JSON Lines.
    recs = [lex_record(request_id=f"o{i}") for i in range(2)]
    doc = {
        "ResponseMetadata": {"RequestId": "0c6f...", "HTTPStatusCode": 200},
        "events": [
            {"timestamp": 1_762_070_400_000, "message": json.dumps(r), "eventId": f"e{i}"}
            for i, r in enumerate(recs)
        ],
        "nextForwardToken": "f/1",
    }
    path = tmp_path / "boto3-response.txt"
    path.write_text(json.dumps(doc, indent=2))
    db = tmp_path / "o.duckdb"
    result = run_lexboard("ingest", str(path), "--db", str(db), "--format", "cloudwatch-events")
    assert result.returncode == 0, result.stderr
    assert _turns(db) == [(str(path), "event e0", "o0"), (str(path), "event e1", "o1")]


def test_format_override_is_used_not_the_sniffed_format(tmp_path: Path) -> None:
    jsonl = CASES / "good/bankingbot-2026-11-02.jsonl"
    ids = [rid for _, rid in MANIFEST["good/bankingbot-2026-11-02.jsonl"]["records"]]
    # As a JSON "array" (concatenated values): the same records, numbered as items.
    db = tmp_path / "json.duckdb"
    result = run_lexboard("ingest", str(jsonl), "--db", str(db), "--format", "json", "-q")
    assert result.returncode == 0, result.stderr
    assert sorted((p, r) for _, p, r in _turns(db)) == sorted(
        (f"item {n}", rid) for n, rid in enumerate(ids, start=1)
    )
    # As a CloudWatch export: no line starts with a timestamp, so nothing is a record.
    db = tmp_path / "export.duckdb"
    result = run_lexboard("ingest", str(jsonl), "--db", str(db), "--format", "cloudwatch-export")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM turns").fetchone() == (0,)
        rows = con.execute("SELECT position, reason FROM quarantine ORDER BY position").fetchall()
    assert [p for p, _ in rows] == [f"line {n}" for n in range(1, len(ids) + 1)]
    assert all("ISO-8601 timestamp" in reason for _, reason in rows)


def test_whole_good_directory_ingests_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "good.duckdb"
    result = run_lexboard("ingest", str(CASES / "good"), "--db", str(db), "--strict")
    assert result.returncode == 0, result.stderr
    expected = {
        (str(CASES / name), rid): position
        for name in GOOD
        for position, rid in MANIFEST[name]["records"]
    }
    turns = _turns(db)
    assert sorted((source, rid) for source, _, rid in turns) == sorted(expected)
    # The fast JSON Lines path stores no position; the Python readers store theirs.
    assert all(p is None or p == expected[(s, r)] for s, p, r in turns)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)
