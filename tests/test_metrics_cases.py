"""Every metric on small hand-made logs, against results worked out by hand.

The logs are real-shaped Lex V2 records (``tests.records.lex_record``) written as JSON
Lines and ingested into a real DuckDB store. Each turn is one line of ``MAIN_TURNS`` or
``TZ_TURNS``; the expected rows below were computed by hand from those tables (the
comments show the working), not by running lexboard.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lexboard.errors import MetricError
from lexboard.metrics import CATALOG, resolve_request, run_metric
from lexboard.metrics.catalog import count_buckets
from lexboard.store import Store, open_store
from lexboard.store.ingest import Ingestor
from tests.conftest import write_jsonl
from tests.records import lex_record, list_slot, scalar_slot

# --- the main log: 2026-11-02 (a Monday), window 10:00Z–15:00Z ---------------------------
#
# S1 = s1/o1 BOT1 en_US   t1–t4   BookHotel … Fulfilled; t2 re-elicits city; t4 duplicated
# S2 = s1/o2 BOT1 en_US   t5–t7   the same sessionId with a new originatingRequestId; Speech;
#                                 t6 missed, FallbackIntent in sessionState (real records)
# S3 = s3/"" BOT1 en_US   t8–t10  no originatingRequestId; t8 and t9 share a millisecond and
#                                 sort by request id (m09-a = t9 first); t10 null intent, no
#                                 inputMode
# S4 = s4/o4 BOT2 en_GB   t11–t13 t11, t12 missed without sessionState.intent (docs style)
# S5 = s5/o5 BOT1 fr_FR   t14–t15 BookHotel then CheckBalance, never finished
# S6 = s6/o6 BOT1 en_US   t16–t17 starts at 09:59:50, before the window (cut by `from`)
# S7 = s7/o7 BOT1 en_US   t18–t19 t19 at 15:01, after the window (cut by `to`), Speech
# S8 = s8/o8 BOT1 en_US   t20–t22 t20 missed FallbackIntent; t21 no transcript, t22 only
#                                 whitespace (NBSP)
# S9 = s4/o4 BOT2 en_US   t23     S4's sessionId and originatingRequestId in another locale
#
# Turns in the window: t1–t15, t17, t18, t20–t23 = 21; missed t6, t11, t12, t20 = 4.
# Sessions started in the window: S1 S2 S3 S4 S5 S7 S8 S9 = 8 (S6 started before it).

FROM, TO = "2026-11-02T10:00:00Z", "2026-11-02T15:00:00Z"
NOW = datetime(2026, 11, 2, 15, 4, tzinfo=UTC)  # S7's last turn (15:01) is < 300 s before

PARIS = scalar_slot("paris", "Paris")
NIGHTS = {"shape": "Scalar", "value": {"originalValue": "three", "interpretedValue": None}}
GUEST = {
    "shape": "Composite",
    "value": {"originalValue": "john smith", "interpretedValue": "John Smith"},
    "subSlots": {"first": scalar_slot("john", "John")},
}

# (id, ts, session, orig, bot, locale, mode, transcript, intent, state, missed, sentiment,
#  dialog action, slot to elicit, slots, session attributes)
Row = tuple[Any, ...]
MAIN_TURNS: list[Row] = [
    ("m01", "10:00:00", "s1", "o1", "BOT1", "en_US", "Text", "I want to book a hotel",
     "BookHotel", "InProgress", False, "NEUTRAL", "ElicitSlot", "city", {}, {"Channel": "CHAT"}),
    ("m02", "10:00:30", "s1", "o1", "BOT1", "en_US", "Text", "Paris",
     "BookHotel", "InProgress", False, None, "ElicitSlot", "city", {}, {"Channel": "CHAT"}),
    ("m03", "10:01:00", "s1", "o1", "BOT1", "en_US", "Text", "  PARIS   please ",
     "BookHotel", "InProgress", False, "POSITIVE", "ElicitSlot", "nights", {"city": PARIS}, {}),
    ("m04", "10:02:00", "s1", "o1", "BOT1", "en_US", "Text", "3 nights",
     "BookHotel", "Fulfilled", False, "POSITIVE", "Close", None,
     {"city": PARIS, "nights": NIGHTS, "guest": GUEST, "roomType": None}, {}),
    ("m05", "11:00:00", "s1", "o2", "BOT1", "en_US", "Speech", "hello",
     "CheckBalance", "InProgress", False, "NEUTRAL", "ElicitSlot", "accountType", {},
     {"Channel": "VOICE"}),
    ("m06", "11:00:20", "s1", "o2", "BOT1", "en_US", "Speech", "HELLO",
     "FallbackIntent", "ReadyForFulfillment", True, "NEGATIVE", "ElicitIntent", None, {},
     {"Channel": "CHAT"}),
    ("m07", "11:00:40", "s1", "o2", "BOT1", "en_US", "Speech", "Checking",
     "CheckBalance", "Fulfilled", False, "NEUTRAL", "Close", None,
     {"accountType": scalar_slot("checking", "Checking")}, {"Channel": "VOICE"}),
    ("m09-b", "12:00:00", "s3", None, "BOT1", "en_US", "Text", "Cheese and ham",
     "OrderPizza", "ReadyForFulfillment", False, None, "Delegate", None,
     {"toppings": list_slot("cheese", "ham", "cheese")}, {}),
    ("m09-a", "12:00:00", "s3", None, "BOT1", "en_US", "Text", "order a pizza",
     "OrderPizza", "InProgress", False, "NEUTRAL", "ElicitSlot", "toppings", {}, {}),
    ("m10", "12:00:05", "s3", None, "BOT1", "en_US", None, "thanks",
     None, None, False, "NEUTRAL", None, None, {}, {}),
    ("m11", "13:00:00", "s4", "o4", "BOT2", "en_GB", "Text", "hello",
     None, None, True, "NEGATIVE", "ElicitIntent", None, {}, {}),
    ("m12", "13:00:10", "s4", "o4", "BOT2", "en_GB", "Text", "Hello ",
     None, None, True, None, "ElicitIntent", None, {}, {}),
    ("m13", "13:00:20", "s4", "o4", "BOT2", "en_GB", "Text", "track my order",
     "TrackOrder", "Failed", False, "NEGATIVE", "Close", None, {}, {}),
    ("m14", "14:00:00", "s5", "o5", "BOT1", "fr_FR", "Text", "réserver un hôtel",
     "BookHotel", "InProgress", False, "NEUTRAL", "ElicitSlot", "city", {}, {}),
    ("m15", "14:00:30", "s5", "o5", "BOT1", "fr_FR", "Text", "Paris",
     "CheckBalance", "InProgress", False, "NEUTRAL", "ElicitSlot", "accountType", {}, {}),
    ("m16", "09:59:50", "s6", "o6", "BOT1", "en_US", "Speech", "book a hotel",
     "BookHotel", "InProgress", False, "NEUTRAL", "ElicitSlot", "city", {}, {"Channel": "CHAT"}),
    ("m17", "10:00:10", "s6", "o6", "BOT1", "en_US", "Text", "Rome",
     "BookHotel", "InProgress", False, "NEUTRAL", "ElicitSlot", "city", {}, {}),
    ("m18", "14:59:00", "s7", "o7", "BOT1", "en_US", "Text", "order a pizza",
     "OrderPizza", "InProgress", False, "POSITIVE", "ElicitSlot", "toppings", {},
     {"Channel": "CHAT"}),
    ("m19", "15:01:00", "s7", "o7", "BOT1", "en_US", "Speech", "pepperoni",
     "OrderPizza", "Fulfilled", False, "NEUTRAL", "Close", None,
     {"toppings": list_slot("pepperoni")}, {"Channel": "CHAT", "Tier": "gold", "Note": ""}),
    ("m20", "14:30:00", "s8", "o8", "BOT1", "en_US", "Text", "Blah blah",
     "FallbackIntent", "ReadyForFulfillment", True, None, "ElicitIntent", None, {}, {}),
    ("m21", "14:30:05", "s8", "o8", "BOT1", "en_US", "Text", None,
     None, None, False, None, None, None, {}, {}),
    ("m22", "14:30:10", "s8", "o8", "BOT1", "en_US", "Text", " \u00a0 ",
     None, None, False, None, None, None, {}, {}),
    ("m23", "14:45:00", "s4", "o4", "BOT2", "en_US", "Text", "hi",
     None, None, False, None, "ElicitIntent", None, {}, {}),
]  # fmt: skip


def _record(row: Row, day: str = "2026-11-02") -> dict[str, Any]:
    (rid, clock, session, orig, bot, locale, mode, transcript, intent, state, missed,
     sentiment, action, slot, slots, attributes) = row  # fmt: skip
    record = lex_record(
        ts=f"{day}T{clock}.000Z" if len(clock) == 8 else clock,
        request_id=rid,
        session_id=session,
        originating_request_id=orig,
        bot_id=bot,
        locale_id=locale,
        input_mode=mode or "Text",
        transcript=transcript,
        intent=intent,
        state=state,
        missed=missed,
        confidence=None if missed else "0.9",
        sentiment=sentiment,
        dialog_action=action,
        slot_to_elicit=slot,
        slots=slots,
        session_attributes=attributes,
    )
    if mode is None:
        del record["inputMode"]
    return record


def _build(path: Path, records: list[dict[str, Any]]) -> Store:
    logs = write_jsonl(path.with_suffix(".jsonl"), records)
    store = open_store(path)
    ingestor = Ingestor(store)
    ingestor.ingest_file(logs, ingestor.stats_for(str(logs)))
    ingestor.finish()
    return store


@pytest.fixture(scope="module")
def main_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    records = [_record(row) for row in MAIN_TURNS]
    records.append(_record(MAIN_TURNS[3]))  # t4 again: a duplicate requestId is one turn
    store = _build(tmp_path_factory.mktemp("main") / "store.duckdb", records)
    yield store
    store.close()


def run(
    store: Store,
    metric: str,
    start: str = FROM,
    end: str = TO,
    tz: str = "UTC",
    now: datetime = NOW,
    **kwargs: Any,
) -> list[list[Any]]:
    filters = {
        k: kwargs.pop(k) for k in ("bot_id", "locale_id", "alias_id", "input_mode") if k in kwargs
    }
    request = resolve_request(metric, start, end, tz, filters, kwargs, now=now)
    return run_metric(store, request).rows


def utc(clock: str, day: str = "2026-11-02") -> str:
    return f"{day}T{clock}.000+00:00"


# --- turn-level metrics -------------------------------------------------------------------


def test_summary(main_store: Store) -> None:
    # durations S1 120, S2 40, S3 5, S4 20, S5 30, S7 120 (t19 counts), S8 10, S9 0 = 345
    # turns 4 + 3 + 3 + 3 + 2 + 2 + 3 + 1 = 21
    assert run(main_store, "summary") == [[21, 8, 4, pytest.approx(4 / 21), 43.125, 2.625]]


def test_summary_filters(main_store: Store) -> None:
    # Speech turns in the window: t5 t6 t7; sessions with any Speech turn: S2, and S7
    # through t19 (after the window): durations 40, 120; turns 3, 2
    assert run(main_store, "summary", input_mode="Speech") == [
        [3, 2, 1, pytest.approx(1 / 3), 80.0, 2.5]
    ]
    # BOT2: t11 t12 t13 (en_GB) and t23 (en_US); sessions S4 (20 s, 3) and S9 (0 s, 1)
    assert run(main_store, "summary", bot_id="BOT2") == [[4, 2, 2, 0.5, 10.0, 2.0]]
    # en_US: all but t11–t15; sessions S1 S2 S3 S7 S8 S9: 295 s, 16 turns
    assert run(main_store, "summary", locale_id="en_US") == [
        [16, 6, 2, 0.125, pytest.approx(295 / 6), pytest.approx(16 / 6)]
    ]


def test_sentiment(main_store: Store) -> None:
    # NEUTRAL t1 t5 t7 t9 t10 t14 t15 t17; POSITIVE t3 t4 t18; NEGATIVE t6 t11 t13;
    # no label: t2 t8 t12 t20 t21 t22 t23
    assert run(main_store, "sentiment") == [["NEUTRAL", 8], ["NEGATIVE", 3], ["POSITIVE", 3]]


def test_modality(main_store: Store) -> None:
    # Speech t5 t6 t7 (t16, t19 are outside the window); t10 has no inputMode
    assert run(main_store, "modality") == [["Text", 17], ["Speech", 3], [None, 1]]


def test_intents(main_store: Store) -> None:
    # FallbackIntent: t6 and t20 carry it, t11 and t12 (no sessionState.intent) get it
    assert run(main_store, "intents") == [
        ["BookHotel", 6, 0],  # t1 t2 t3 t4 t14 t17
        ["FallbackIntent", 4, 4],  # t6 t11 t12 t20
        ["CheckBalance", 3, 0],  # t5 t7 t15
        ["OrderPizza", 3, 0],  # t8 t9 t18
        ["TrackOrder", 1, 0],  # t13
    ]
    assert run(main_store, "intents", bot_id="BOT1", locale_id="fr_FR") == [
        ["BookHotel", 1, 0],
        ["CheckBalance", 1, 0],
    ]


def test_missed_utterances(main_store: Store) -> None:
    # "hello": t6 (S2), t11 and t12 (S4, "Hello " normalised); "blah blah": t20 (S8)
    expected = [
        ["hello", 3, 2, utc("13:00:10")],
        ["blah blah", 1, 1, utc("14:30:00")],
    ]
    assert run(main_store, "missed_utterances") == expected
    assert run(main_store, "missed_utterances", limit="1") == expected[:1]
    assert run(main_store, "missed_utterances", tz="Asia/Kolkata")[0][3] == (
        "2026-11-02T18:30:10.000+05:30"
    )


def test_top_utterances(main_store: Store) -> None:
    rows = run(main_store, "top_utterances", limit="20")
    assert rows == [
        ["hello", 4, "FallbackIntent", 3],  # FallbackIntent ×3 beats CheckBalance ×1 (t5)
        ["order a pizza", 2, "OrderPizza", 0],  # t9 t18
        ["paris", 2, "BookHotel", 0],  # t2 BookHotel, t15 CheckBalance: a tie
        ["3 nights", 1, "BookHotel", 0],
        ["blah blah", 1, "FallbackIntent", 1],
        ["checking", 1, "CheckBalance", 0],  # "chec" < "chee"
        ["cheese and ham", 1, "OrderPizza", 0],
        ["hi", 1, None, 0],  # no intent at all
        ["i want to book a hotel", 1, "BookHotel", 0],
        ["paris please", 1, "BookHotel", 0],  # t3 "  PARIS   please "
        ["rome", 1, "BookHotel", 0],  # t17: in the window although S6 is not
        ["réserver un hôtel", 1, "BookHotel", 0],  # "o" < "é" by code point
        ["thanks", 1, None, 0],
        ["track my order", 1, "TrackOrder", 0],
    ]  # t21 (no transcript) and t22 (only whitespace) are left out
    assert run(main_store, "top_utterances") == rows[:10]


def test_message_history(main_store: Store) -> None:
    rows = run(main_store, "message_history")
    assert len(rows) == 21
    assert rows[:5] == [
        [utc("14:59:00"), "s7", "order a pizza", "OrderPizza", False, "Text"],
        [utc("14:45:00"), "s4", "hi", None, False, "Text"],
        [utc("14:30:10"), "s8", " \u00a0 ", None, False, "Text"],
        [utc("14:30:05"), "s8", None, None, False, "Text"],
        [utc("14:30:00"), "s8", "Blah blah", "FallbackIntent", True, "Text"],
    ]
    assert rows[-1] == [utc("10:00:00"), "s1", "I want to book a hotel", "BookHotel", False, "Text"]
    # the same millisecond: request id ascending (m09-a before m09-b)
    assert run(
        main_store, "message_history", start="2026-11-02T12:00Z", end="2026-11-02T12:01Z"
    ) == [
        [utc("12:00:05"), "s3", "thanks", None, False, None],
        [utc("12:00:00"), "s3", "order a pizza", "OrderPizza", False, "Text"],
        [utc("12:00:00"), "s3", "Cheese and ham", "OrderPizza", False, "Text"],
    ]
    assert run(main_store, "message_history", missed_only="true") == [
        [utc("14:30:00"), "s8", "Blah blah", "FallbackIntent", True, "Text"],
        [utc("13:00:10"), "s4", "Hello ", "FallbackIntent", True, "Text"],
        [utc("13:00:00"), "s4", "hello", "FallbackIntent", True, "Text"],
        [utc("11:00:20"), "s1", "HELLO", "FallbackIntent", True, "Speech"],
    ]
    assert [r[2] for r in run(main_store, "message_history", q="pARi")] == [
        "Paris",
        "  PARIS   please ",
        "Paris",
    ]
    assert [r[2] for r in run(main_store, "message_history", q="hello", limit="2")] == [
        "Hello ",
        "hello",
    ]
    assert run(main_store, "message_history", q="no such text") == []


def test_intent_heatmap(main_store: Store) -> None:
    assert run(main_store, "intent_heatmap") == [
        ["BookHotel", 10, 5],  # t1 t2 t3 t4 t17
        ["BookHotel", 14, 1],  # t14
        ["CheckBalance", 11, 2],  # t5 t7
        ["CheckBalance", 14, 1],  # t15
        ["FallbackIntent", 11, 1],  # t6
        ["FallbackIntent", 13, 2],  # t11 t12
        ["FallbackIntent", 14, 1],  # t20
        ["OrderPizza", 12, 2],  # t8 t9
        ["OrderPizza", 14, 1],  # t18
        ["TrackOrder", 13, 1],  # t13
    ]
    # Asia/Kolkata is UTC+05:30
    rows = run(main_store, "intent_heatmap", tz="Asia/Kolkata", bot_id="BOT1", locale_id="en_US")
    assert rows == [
        ["BookHotel", 15, 5],  # t1 t2 t3 t4 t17, 15:30–15:32
        ["CheckBalance", 16, 2],  # t5 t7, 16:30
        ["FallbackIntent", 16, 1],  # t6
        ["FallbackIntent", 20, 1],  # t20, 14:30Z = 20:00
        ["OrderPizza", 17, 2],  # t8 t9
        ["OrderPizza", 20, 1],  # t18
    ]


def test_slot_values(main_store: Store) -> None:
    # Fulfilled/ReadyForFulfillment turns in the window: t4, t6, t7, t8, t20 (t19 is after
    # it; t3 has a city but is InProgress). t4: nights has no interpretedValue (→ "three"),
    # guest is Composite, roomType is null. t8: a List slot with cheese twice.
    expected = [
        ["BookHotel", "city", "Paris", 1],
        ["BookHotel", "nights", "three", 1],
        ["CheckBalance", "accountType", "Checking", 1],
        ["OrderPizza", "toppings", "cheese", 2],
        ["OrderPizza", "toppings", "ham", 1],
    ]
    assert run(main_store, "slot_values") == expected
    assert run(main_store, "slot_values", limit="1") == expected[:4]
    assert run(main_store, "slot_values", end="2026-11-02T16:00Z")[-2:] == [
        ["OrderPizza", "toppings", "ham", 1],
        ["OrderPizza", "toppings", "pepperoni", 1],
    ]


def test_slot_retries(main_store: Store) -> None:
    # ElicitSlot turns: city t1, t2 (retry of t1), t14, t17 (retry of t16, a turn before
    # the window); nights t3; accountType t5, t15; toppings t9 (first by request id), t18
    assert run(main_store, "slot_retries") == [
        ["BookHotel", "city", 4, 2],
        ["CheckBalance", "accountType", 2, 0],
        ["OrderPizza", "toppings", 2, 0],
        ["BookHotel", "nights", 1, 0],
    ]
    # the previous turn is unfiltered: t16 is Speech, t17 Text and still a retry
    assert run(main_store, "slot_retries", input_mode="Text") == [
        ["BookHotel", "city", 4, 2],
        ["OrderPizza", "toppings", 2, 0],
        ["BookHotel", "nights", 1, 0],
        ["CheckBalance", "accountType", 1, 0],
    ]
    assert run(main_store, "slot_retries", locale_id="fr_FR") == [
        ["BookHotel", "city", 1, 0],
        ["CheckBalance", "accountType", 1, 0],
    ]


# --- session-level metrics ------------------------------------------------------------------

SESSIONS = {
    "S1": ["s1", "o1", utc("10:00:00"), utc("10:02:00"), 120.0, 4, 0],
    "S2": ["s1", "o2", utc("11:00:00"), utc("11:00:40"), 40.0, 3, 1],
    "S3": ["s3", "", utc("12:00:00"), utc("12:00:05"), 5.0, 3, 0],
    "S4": ["s4", "o4", utc("13:00:00"), utc("13:00:20"), 20.0, 3, 2],
    "S5": ["s5", "o5", utc("14:00:00"), utc("14:00:30"), 30.0, 2, 0],
    "S7": ["s7", "o7", utc("14:59:00"), utc("15:01:00"), 120.0, 2, 0],
    "S8": ["s8", "o8", utc("14:30:00"), utc("14:30:10"), 10.0, 3, 1],
    "S9": ["s4", "o4", utc("14:45:00"), utc("14:45:00"), 0.0, 1, 0],
}


def test_top_sessions(main_store: Store) -> None:
    order = ["S1", "S2", "S4", "S8", "S3", "S7", "S5", "S9"]  # turns desc, duration desc
    assert run(main_store, "top_sessions") == [SESSIONS[s] for s in order]
    assert run(main_store, "top_sessions", limit="3") == [SESSIONS[s] for s in order[:3]]
    # any turn matching is enough, even one after the window (t19 is S7's only Speech turn)
    assert run(main_store, "top_sessions", input_mode="Speech") == [SESSIONS["S2"], SESSIONS["S7"]]


def test_session_stats(main_store: Store) -> None:
    # durations 0 5 10 20 30 40 120 120: p50 = 20 + .5 × 10, p90 at rank 6.3 = 120
    # turns 1 2 2 3 3 3 3 4: p50 = 3, p90 at rank 6.3 = 3 + .3 × 1
    assert run(main_store, "session_stats") == [
        [8, 43.125, 25.0, 120.0, 120.0, 2.625, 3.0, pytest.approx(3.3), 4]
    ]


def test_session_heatmap(main_store: Store) -> None:
    def cells(rows: list[list[Any]]) -> dict[tuple[int, int], int]:
        return {(d, h): n for d, h, n in rows if n}

    rows = run(main_store, "session_heatmap")
    assert [r[:2] for r in rows] == [[d, h] for d in range(7) for h in range(0, 24, 2)]
    # starts 10:00 11:00 | 12:00 13:00 | 14:00 14:30 14:45 14:59, a Monday (0)
    assert cells(rows) == {(0, 10): 2, (0, 12): 2, (0, 14): 4}
    rows = run(main_store, "session_heatmap", block_hours="6")
    assert len(rows) == 28
    assert cells(rows) == {(0, 6): 2, (0, 12): 6}
    # in Asia/Kolkata: 15:30 | 16:30 17:30 | 18:30 19:30 | 20:00 20:15 20:29
    rows = run(main_store, "session_heatmap", tz="Asia/Kolkata")
    assert cells(rows) == {(0, 14): 1, (0, 16): 2, (0, 18): 2, (0, 20): 3}


def test_intent_paths(main_store: Store) -> None:
    # S1 BookHotel; S2 CheckBalance > FallbackIntent > CheckBalance; S3 OrderPizza;
    # S4 FallbackIntent > TrackOrder; S5 BookHotel > CheckBalance; S7 OrderPizza;
    # S8 FallbackIntent; S9 no intent (left out)
    assert run(main_store, "intent_paths") == [
        ["OrderPizza", 2],
        ["BookHotel", 1],
        ["BookHotel > CheckBalance", 1],
        ["CheckBalance > FallbackIntent > CheckBalance", 1],
        ["FallbackIntent", 1],
        ["FallbackIntent > TrackOrder", 1],
    ]
    assert run(main_store, "intent_paths", max_steps="1") == [
        ["BookHotel", 2],
        ["FallbackIntent", 2],
        ["OrderPizza", 2],
        ["CheckBalance", 1],
    ]
    assert run(main_store, "intent_paths", max_steps="2", limit="2") == [
        ["OrderPizza", 2],
        ["BookHotel", 1],
    ]


def test_intent_flow(main_store: Store) -> None:
    step0 = [
        [0, "START", "BookHotel", 2],  # S1 S5
        [0, "START", "FallbackIntent", 2],  # S4 S8
        [0, "START", "OrderPizza", 2],  # S3 S7
        [0, "START", "CheckBalance", 1],  # S2
    ]
    step1 = [
        [1, "OrderPizza", "END", 2],
        [1, "BookHotel", "CheckBalance", 1],
        [1, "BookHotel", "END", 1],
        [1, "CheckBalance", "FallbackIntent", 1],
        [1, "FallbackIntent", "END", 1],
        [1, "FallbackIntent", "TrackOrder", 1],
    ]
    assert run(main_store, "intent_flow") == [
        *step0,
        *step1,
        [2, "CheckBalance", "END", 1],  # S5
        [2, "FallbackIntent", "CheckBalance", 1],  # S2
        [2, "TrackOrder", "END", 1],  # S4
        [3, "CheckBalance", "END", 1],  # S2
    ]
    # cut to 2 intents, S2 still ends at step 2 (= len of its cut path)
    assert run(main_store, "intent_flow", max_steps="2") == [
        *step0,
        *step1,
        [2, "CheckBalance", "END", 1],
        [2, "FallbackIntent", "END", 1],
        [2, "TrackOrder", "END", 1],
    ]


def test_session_attributes(main_store: Store) -> None:
    # Channel: CHAT in S1 (twice), S2 (t6), S7; VOICE in S2; Tier: gold only on t19, after
    # the window; Note is empty; S6's CHAT does not count (S6 started before the window)
    assert run(main_store, "session_attributes") == [
        ["Channel", "CHAT", 3],
        ["Channel", "VOICE", 1],
        ["Tier", "gold", 1],
    ]
    assert run(main_store, "session_attributes", limit="1") == [
        ["Channel", "CHAT", 3],
        ["Tier", "gold", 1],
    ]
    # sessions with a Speech turn anywhere: S2 (CHAT, VOICE) and S7 (its Speech turn t19
    # is after the window; CHAT, gold)
    assert run(main_store, "session_attributes", input_mode="Speech") == [
        ["Channel", "CHAT", 2],
        ["Channel", "VOICE", 1],
        ["Tier", "gold", 1],
    ]
    assert run(main_store, "session_attributes", bot_id="BOT2") == []


def test_session_attributes_ties_and_limit(tmp_path: Path) -> None:
    # Plan: "gold" in 2 sessions; "bronze", "amber", "copper" in 1 each (ties go by value
    # ascending); a session with "amber" twice counts once
    plans = ["copper", "gold", "bronze", "gold", "amber"]
    records = [
        lex_record(
            ts=f"2026-11-02T11:0{i}:00.000Z", session_id=f"p{i}", session_attributes={"Plan": plan}
        )
        for i, plan in enumerate(plans)
    ]
    records.append(
        lex_record(
            ts="2026-11-02T11:09:00.000Z", session_id="p4", session_attributes={"Plan": "amber"}
        )
    )
    store = _build(tmp_path / "store.duckdb", records)
    try:
        assert run(store, "session_attributes", limit="3") == [
            ["Plan", "gold", 2],
            ["Plan", "amber", 1],
            ["Plan", "bronze", 1],
        ]
        assert run(store, "session_attributes", limit="100000")[-1] == ["Plan", "copper", 1]
    finally:
        store.close()


def test_intent_outcomes(main_store: Store) -> None:
    # S1 BookHotel success; S2 CheckBalance failed (next FallbackIntent), CheckBalance
    # success; S3 OrderPizza success (t8, last by request id, is ReadyForFulfillment);
    # S4 TrackOrder failed; S5 BookHotel switched, CheckBalance dropped; S7 OrderPizza
    # success (t19, after the window); FallbackIntent runs are not counted
    assert run(main_store, "intent_outcomes") == [
        ["CheckBalance", 3, 1, 1, 0, 1],
        ["BookHotel", 2, 1, 0, 1, 0],
        ["OrderPizza", 2, 2, 0, 0, 0],
        ["TrackOrder", 1, 0, 1, 0, 0],
    ]


def test_conversation_outcomes(main_store: Store) -> None:
    # success S1 S2 S3; failure S4 (Failed), S8 (ends in FallbackIntent); dropped S5
    # (InProgress), S9 (no run); in_progress S7 (last turn 15:01, now 15:04)
    assert run(main_store, "conversation_outcomes") == [
        ["success", 3],
        ["failure", 2],
        ["dropped", 2],
        ["in_progress", 1],
    ]
    assert run(main_store, "conversation_outcomes", idle_timeout_s="0") == [
        ["success", 4],
        ["failure", 2],
        ["dropped", 2],
        ["in_progress", 0],
    ]
    later = datetime(2026, 11, 2, 15, 6, tzinfo=UTC)  # exactly 300 s after 15:01: over
    assert run(main_store, "conversation_outcomes", now=later)[0] == ["success", 4]


def test_activity(main_store: Store) -> None:
    assert run(main_store, "activity", bucket="1h") == [
        [utc("10:00:00"), 5, 1, 0],  # t1 t2 t3 t4 t17; S1
        [utc("11:00:00"), 3, 1, 1],  # t5 t6 t7; S2
        [utc("12:00:00"), 3, 1, 0],  # t8 t9 t10; S3
        [utc("13:00:00"), 3, 1, 2],  # t11 t12 t13; S4
        [utc("14:00:00"), 7, 4, 1],  # t14 t15 t18 t20 t21 t22 t23; S5 S7 S8 S9
    ]
    assert run(main_store, "activity", bucket="1d") == [[utc("00:00:00"), 21, 8, 4]]
    # default for a 5 h window: 5m, 60 buckets
    request = resolve_request("activity", FROM, TO, "UTC", {}, {}, now=NOW)
    assert request.params == {"bucket": "5m"}
    rows = run_metric(main_store, request).rows
    assert len(rows) == 60
    assert rows[0] == [utc("10:00:00"), 5, 1, 0]  # t1 t2 t3 t4 t17
    assert rows[-1] == [utc("14:55:00"), 1, 1, 0]  # t18
    assert [sum(r[i] for r in rows) for i in (1, 2, 3)] == [21, 8, 4]
    # a window that does not start on a bucket boundary: the bucket holding `from` first
    rows = run(
        main_store, "activity", start="2026-11-02T10:30Z", end="2026-11-02T12:00:01Z", bucket="1h"
    )
    assert rows == [
        [utc("10:00:00"), 0, 0, 0],
        [utc("11:00:00"), 3, 1, 1],
        [utc("12:00:00"), 2, 1, 0],
    ]


# --- an empty window ------------------------------------------------------------------------

EMPTY = {
    "summary": [[0, 0, 0, None, None, None]],
    "session_stats": [[0, None, None, None, None, None, None, None, None]],
    "conversation_outcomes": [["success", 0], ["failure", 0], ["dropped", 0], ["in_progress", 0]],
    "activity": [[f"2026-11-03T00:{m:02d}:00.000+00:00", 0, 0, 0] for m in range(0, 60, 5)],
    "session_heatmap": [[d, h, 0] for d in range(7) for h in range(0, 24, 2)],
}


@pytest.mark.parametrize("metric", sorted(CATALOG))
def test_empty_window(main_store: Store, metric: str) -> None:
    rows = run(main_store, metric, start="2026-11-03T00:00Z", end="2026-11-03T01:00Z")
    assert rows == EMPTY.get(metric, [])


@pytest.mark.parametrize("metric", sorted(CATALOG))
def test_zero_length_window(main_store: Store, metric: str) -> None:
    rows = run(main_store, metric, start=FROM, end=FROM)
    expected = EMPTY.get(metric, [])
    assert rows == ([] if metric == "activity" else expected)


# --- time zones: DST in America/New_York, a half-hour zone ---------------------------------
#
# Fall back, 2026-11-01: 02:00 EDT (06:00Z) becomes 01:00 EST. Spring forward, 2026-03-08:
# 02:00 EST (07:00Z) becomes 03:00 EDT. Asia/Kolkata is UTC+05:30 all year. One turn per
# session, all missed or not as marked.

TZ_TURNS: list[tuple[str, str, bool]] = [
    ("f1", "2026-11-01T04:30:00.000Z", False),  # 00:30 EDT
    ("f2", "2026-11-01T05:15:00.000Z", False),  # 01:15 EDT
    ("f3", "2026-11-01T05:45:00.000Z", True),  # 01:45 EDT
    ("f4", "2026-11-01T06:10:00.000Z", False),  # 01:10 EST
    ("f5", "2026-11-01T06:50:00.000Z", True),  # 01:50 EST
    ("f6", "2026-11-01T07:20:00.000Z", False),  # 02:20 EST
    ("f7", "2026-11-02T04:30:00.000Z", False),  # 2026-11-01 23:30 EST: still Nov 1 (25 h)
    ("f8", "2026-11-02T05:30:00.000Z", False),  # 2026-11-02 00:30 EST
    ("p0", "2026-03-08T04:30:00.000Z", False),  # 2026-03-07 23:30 EST
    ("p1", "2026-03-08T06:30:00.000Z", False),  # 01:30 EST
    ("p2", "2026-03-08T07:10:00.000Z", True),  # 03:10 EDT
    ("p3", "2026-03-09T03:30:00.000Z", False),  # 2026-03-08 23:30 EDT: still Mar 8 (23 h)
    ("k1", "2026-11-05T05:20:00.000Z", False),  # 10:50 IST
    ("k2", "2026-11-05T05:40:00.000Z", False),  # 11:10 IST
]


@pytest.fixture(scope="module")
def tz_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    records = [
        lex_record(
            ts=ts,
            request_id=rid,
            session_id=f"session-{rid}",
            missed=missed,
            intent="FallbackIntent" if missed else "CheckBalance",
            state="ReadyForFulfillment" if missed else "InProgress",
        )
        for rid, ts, missed in TZ_TURNS
    ]
    store = _build(tmp_path_factory.mktemp("tz") / "store.duckdb", records)
    yield store
    store.close()


NY = "America/New_York"


def test_activity_fall_back_hours(tz_store: Store) -> None:
    # 00:00 EDT to 03:00 EST is 4 real hours: the repeated 01:00 hour gives two buckets
    rows = run(tz_store, "activity", "2026-11-01T00:00", "2026-11-01T03:00", NY, bucket="1h")
    assert rows == [
        ["2026-11-01T00:00:00.000-04:00", 1, 1, 0],  # f1
        ["2026-11-01T01:00:00.000-04:00", 2, 2, 1],  # f2 f3
        ["2026-11-01T01:00:00.000-05:00", 2, 2, 1],  # f4 f5
        ["2026-11-01T02:00:00.000-05:00", 1, 1, 0],  # f6
    ]


def test_activity_fall_back_default_bucket(tz_store: Store) -> None:
    request = resolve_request("activity", "2026-11-01T00:00", "2026-11-01T03:00", NY, {}, {})
    assert request.params == {"bucket": "5m"}  # 4 h of real time
    rows = run_metric(tz_store, request).rows
    assert len(rows) == 48
    labels = [r[0] for r in rows]
    assert labels[0] == "2026-11-01T00:00:00.000-04:00"
    assert labels[23:25] == ["2026-11-01T01:55:00.000-04:00", "2026-11-01T01:00:00.000-05:00"]
    assert labels[-1] == "2026-11-01T02:55:00.000-05:00"
    assert rows[15] == ["2026-11-01T01:15:00.000-04:00", 1, 1, 0]  # f2
    assert rows[26] == ["2026-11-01T01:10:00.000-05:00", 1, 1, 0]  # f4
    rows = run(
        tz_store, "activity", "2026-11-01T01:50-04:00", "2026-11-01T01:20-05:00", NY, bucket="15m"
    )
    assert [r[0] for r in rows] == [
        "2026-11-01T01:45:00.000-04:00",
        "2026-11-01T01:00:00.000-05:00",
        "2026-11-01T01:15:00.000-05:00",
    ]


def test_activity_fall_back_days(tz_store: Store) -> None:
    rows = run(tz_store, "activity", "2026-10-31", "2026-11-03", NY, bucket="1d")
    assert rows == [
        ["2026-10-31T00:00:00.000-04:00", 0, 0, 0],
        ["2026-11-01T00:00:00.000-04:00", 7, 7, 2],  # f1–f7: a 25 h day
        ["2026-11-02T00:00:00.000-05:00", 1, 1, 0],  # f8
    ]
    # UTC days: f7 falls on Nov 2
    assert run(tz_store, "activity", "2026-11-01", "2026-11-03", "UTC", bucket="1d") == [
        ["2026-11-01T00:00:00.000+00:00", 6, 6, 2],
        ["2026-11-02T00:00:00.000+00:00", 2, 2, 0],  # f7 f8
    ]


def test_activity_spring_forward(tz_store: Store) -> None:
    # 00:00 EST to 05:00 EDT is 4 real hours; 02:00 does not exist
    rows = run(tz_store, "activity", "2026-03-08T00:00", "2026-03-08T05:00", NY, bucket="1h")
    assert rows == [
        ["2026-03-08T00:00:00.000-05:00", 0, 0, 0],
        ["2026-03-08T01:00:00.000-05:00", 1, 1, 0],  # p1
        ["2026-03-08T03:00:00.000-04:00", 1, 1, 1],  # p2
        ["2026-03-08T04:00:00.000-04:00", 0, 0, 0],
    ]
    rows = run(tz_store, "activity", "2026-03-07", "2026-03-10", NY, bucket="1d")
    assert rows == [
        ["2026-03-07T00:00:00.000-05:00", 1, 1, 0],  # p0
        ["2026-03-08T00:00:00.000-05:00", 3, 3, 1],  # p1 p2 p3: a 23 h day
        ["2026-03-09T00:00:00.000-04:00", 0, 0, 0],
    ]


def test_activity_half_hour_zone(tz_store: Store) -> None:
    # hours of Asia/Kolkata start at :30 UTC; truncating in UTC would put k1 at 10:30
    kolkata = "Asia/Kolkata"
    rows = run(tz_store, "activity", "2026-11-05T10:00", "2026-11-05T12:00", kolkata, bucket="1h")
    assert rows == [
        ["2026-11-05T10:00:00.000+05:30", 1, 1, 0],  # k1 10:50
        ["2026-11-05T11:00:00.000+05:30", 1, 1, 0],  # k2 11:10
    ]
    rows = run(tz_store, "activity", "2026-11-05T10:00", "2026-11-06", kolkata, bucket="1d")
    assert rows == [["2026-11-05T00:00:00.000+05:30", 2, 2, 0]]  # from 10:00 in the day


def test_hours_and_weekdays_in_tz(tz_store: Store) -> None:
    start, end = "2026-11-01T00:00", "2026-11-01T03:00"
    rows = run(tz_store, "session_heatmap", start, end, NY, block_hours="1")
    assert {(d, h): n for d, h, n in rows if n} == {(6, 0): 1, (6, 1): 4, (6, 2): 1}  # Sunday
    assert run(tz_store, "intent_heatmap", start, end, NY) == [
        ["CheckBalance", 0, 1],  # f1
        ["CheckBalance", 1, 2],  # f2 f4
        ["CheckBalance", 2, 1],  # f6
        ["FallbackIntent", 1, 2],  # f3 f5
    ]


def test_activity_bucket_limit(tz_store: Store) -> None:
    # 5,000 one-minute buckets are fine, 5,001 are not (an unaligned start adds one)
    request = resolve_request(
        "activity", "2026-11-01T00:00Z", "2026-11-04T11:20Z", "UTC", {}, {"bucket": "1m"}
    )
    assert len(run_metric(tz_store, request).rows) == 5000
    with pytest.raises(MetricError) as error:
        resolve_request(
            "activity", "2026-11-01T00:00:30Z", "2026-11-04T11:20:30Z", "UTC", {}, {"bucket": "1m"}
        )
    assert "5,001 buckets" in str(error.value)
    assert error.value.hint == "choose a coarser bucket: 5m, 15m, 1h, 1d"
    with pytest.raises(MetricError) as error:
        resolve_request("activity", "2000-01-01", "2020-01-01", NY, {}, {})
    assert "bucket=1d" in str(error.value)
    assert "shorter window" in (error.value.hint or "")


@pytest.mark.parametrize(
    ("metric", "params", "message"),
    [
        ("activity", {"bucket": "2h"}, "bucket = '2h' is not allowed"),
        ("session_heatmap", {"block_hours": "5"}, "block_hours = '5' is not allowed"),
        ("top_sessions", {"limit": "0"}, "limit = 0 is below the minimum 1"),
        ("session_attributes", {"limit": "100001"}, "limit = 100001 is above the maximum 100000"),
        ("intent_paths", {"max_steps": "x"}, "max_steps = 'x' is not an integer"),
        ("message_history", {"missed_only": "maybe"}, "missed_only = 'maybe' is not a boolean"),
        ("intents", {"limit": "3"}, "metric intents has no parameter 'limit'"),
    ],
)
def test_bad_parameters(metric: str, params: dict[str, str], message: str) -> None:
    with pytest.raises(MetricError, match=message):
        resolve_request(metric, FROM, TO, "UTC", {}, params)


def test_params_echo(main_store: Store) -> None:
    request = resolve_request("session_heatmap", FROM, TO, "UTC", {}, {"block_hours": "3"})
    result = run_metric(main_store, request).to_dict()
    assert result["params"]["block_hours"] == 3
    request = resolve_request("message_history", FROM, TO, "UTC", {}, {})
    assert request.params == {"limit": 100, "missed_only": False, "q": None}
    request = resolve_request("activity", "2026-11-01", "2026-11-04", "UTC", {}, {})
    assert request.params == {"bucket": "1h"}  # exactly 3 days
    request = resolve_request("activity", "2026-11-01", "2026-11-04T00:00:01Z", "UTC", {}, {})
    assert request.params == {"bucket": "1d"}


@pytest.mark.parametrize("zone", [NY, "Asia/Kolkata", "Australia/Lord_Howe", "Asia/Kathmandu"])
@pytest.mark.parametrize(("bucket", "hours"), [("1h", 4950), ("15m", 1240)])
def test_bucket_count_matches_rows(tz_store: Store, zone: str, bucket: str, hours: int) -> None:
    # near the limit the request counts buckets exactly; the SQL must give that many rows
    start = datetime(2026, 3, 1, 0, 7, tzinfo=UTC)  # over DST changes, off the hour
    end = start + timedelta(hours=hours)
    request = resolve_request(
        "activity", start.isoformat(), end.isoformat(), zone, {}, {"bucket": bucket}
    )
    rows = run_metric(tz_store, request).rows
    assert len(rows) == count_buckets(bucket, start, end, zone)
    labels = [datetime.fromisoformat(r[0]) for r in rows]
    assert labels == sorted(set(labels))
    held = [ts for _, ts, _ in TZ_TURNS if start <= datetime.fromisoformat(ts) < end]
    assert sum(r[1] for r in rows) == len(held) == 4  # p0–p3
