"""Lex V2 record → Turn, in Python (the reference) and in the store's SQL projection."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from lexboard.logs.record import BadRecord, normalize_utterance, to_turn
from lexboard.store import open_store
from lexboard.store.ingest import Ingestor
from tests.conftest import write_jsonl
from tests.records import lex_record, list_slot, scalar_slot

V1_RECORD = {
    "messageVersion": "1.0",
    "botName": "OrderFlowers",
    "botAlias": "$LATEST",
    "botVersion": "$LATEST",
    "inputTranscript": "I want flowers",
    "userId": "user-1",
    "intent": "OrderFlowers",
    "dialogState": "ElicitSlot",
}


def test_real_shaped_record_becomes_a_flat_turn() -> None:
    record = lex_record(
        transcript="  Transfer  $50 to\u00a0SAVINGS ",
        intent="TransferFunds",
        state="Fulfilled",
        confidence="0.87",
        slots={
            "amount": scalar_slot("$50", "50"),
            "accounts": list_slot("checking", "savings"),
            "date": None,
        },
        session_attributes={"Channel": "CHAT", "UserName": "ana"},
        runners_up=[("CheckBalance", "0.41"), ("FallbackIntent", None)],
        transcriptions=[{"transcription": "transfer", "transcriptionConfidence": "0.93"}],
    )
    turn = to_turn(record)
    assert turn.ts == datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    assert turn.utterance == "transfer $50 to savings"
    assert turn.nlu_confidence == pytest.approx(0.87)
    assert [(i.intent, i.confidence) for i in turn.interpretations] == [
        ("TransferFunds", 0.87),
        ("CheckBalance", 0.41),
        ("FallbackIntent", None),
    ]
    assert [(s.name, s.shape, s.interpreted_value) for s in turn.slots] == [
        ("amount", "Scalar", "50"),
        ("accounts", "List", "checking"),
        ("accounts", "List", "savings"),
    ]
    assert turn.session_attributes == {"Channel": "CHAT", "UserName": "ana"}
    assert turn.sentiment == "NEUTRAL"
    assert turn.sentiment_neutral == pytest.approx(0.8)
    assert turn.transcription_confidence == pytest.approx(0.93)
    assert turn.messages[0].content == "Which account?"


def test_missed_turn_without_intent_is_fallback() -> None:
    record = lex_record(missed=True, intent=None, confidence=None)
    turn = to_turn(record)
    assert turn.missed and turn.intent == "FallbackIntent" and turn.intent_state is None


def test_event_time_is_the_fallback_timestamp() -> None:
    record = lex_record()
    del record["timestamp"]
    event = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert to_turn(record, event).ts == event
    with pytest.raises(BadRecord, match="timestamp"):
        to_turn(record)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (V1_RECORD, "V1"),
        ({"hello": "world"}, "not a Lex V2 record"),
        ([1, 2, 3], "array"),
        (42, "number"),
        ({**lex_record(), "requestId": None}, "requestId"),
        ({**lex_record(), "bot": {"id": "B"}}, "localeId"),
        ({**lex_record(), "timestamp": "yesterday"}, "timestamp"),
    ],
)
def test_rejections_say_why(value: Any, reason: str) -> None:
    with pytest.raises(BadRecord, match=reason):
        to_turn(value)


def test_unknown_fields_are_ignored_and_numbers_may_be_strings() -> None:
    record = lex_record(confidence=0.5, somethingNew={"nested": [1, 2]})
    record["interpretations"][0]["sentimentResponse"]["sentimentScore"]["positive"] = "0.25"
    turn = to_turn(record)
    assert turn.nlu_confidence == 0.5 and turn.sentiment_positive == 0.25


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Hello   World ", "hello world"),
        ("A\u00a0B\tC\u2003D", "a b c d"),
        ("   ", None),
        ("", None),
        (None, None),
        ("İSTANBUL", "i̇stanbul"),
    ],
)
def test_utterance_normalisation(text: str | None, expected: str | None) -> None:
    assert normalize_utterance(text) == expected


PARITY_RECORDS = [
    lex_record(),
    lex_record(missed=True, intent=None, confidence=None, transcript="Blah\u00a0 BLAH"),
    lex_record(missed=True, intent="FallbackIntent", state="ReadyForFulfillment", confidence=None),
    lex_record(
        slots={"a": scalar_slot("x"), "b": list_slot("p", "q"), "c": None},
        session_attributes={"Channel": "VOICE"},
        sentiment=None,
        originating_request_id=None,
        input_mode="Speech",
        transcriptions=[{"transcriptionConfidence": 0.7}],
    ),
    lex_record(transcript=None, dialog_action=None, intent=None, state=None),
    lex_record(transcript="ÉCOLE  Straße", confidence="bad"),
    lex_record(transcript="  Book  a   ROOM "),  # ASCII: the SQL path's own collapsing
    lex_record(transcript=" Book a room"),
    lex_record(ts="2026-03-08T07:30:00.123+00:00"),
]


def _python_row(turn: Any) -> dict[str, Any]:
    row = dataclasses.asdict(turn)
    row["interpretations"] = [
        {"intent": i["intent"], "confidence": i["confidence"]} for i in row["interpretations"]
    ]
    row["session_attributes"] = [
        {"key": k, "value": v} for k, v in row["session_attributes"].items()
    ]
    row["request_attributes"] = [
        {"key": k, "value": v} for k, v in row["request_attributes"].items()
    ]
    return row


def test_sql_projection_matches_python_reference(tmp_path: Path) -> None:
    """The store's fast SQL path and logs.record.to_turn give the same Turn, field by field."""
    source = write_jsonl(tmp_path / "parity.jsonl", PARITY_RECORDS)
    db = tmp_path / "parity.duckdb"
    with open_store(db) as store:
        ingestor = Ingestor(store)
        ingestor.ingest_file(source, ingestor.stats_for("parity"))
        ingestor.finish()
    fields = [f.name for f in dataclasses.fields(to_turn(PARITY_RECORDS[0]))]
    con = duckdb.connect(str(db), read_only=True)
    cursor = con.execute(f"SELECT {', '.join(fields)} FROM turns ORDER BY request_id")
    stored = [dict(zip(fields, row, strict=True)) for row in cursor.fetchall()]
    con.close()
    expected = sorted(
        (_python_row(to_turn(r)) for r in PARITY_RECORDS), key=lambda r: r["request_id"]
    )
    assert len(stored) == len(expected)
    for got, want in zip(stored, expected, strict=True):
        got["ts"] = got["ts"].astimezone(UTC)
        assert got == want
