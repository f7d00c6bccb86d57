"""Drill-down: every conversation under a session id, turn by turn.

A session id can be reused (a new originating request id starts a new conversation,
and other bots may use the same id), so the answer is a list of conversations, each
with its key. Turn details come from the raw record through ``logs.record.to_turn``,
the same reading the store's SQL projection is held to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from lexboard.logs.record import to_turn
from lexboard.store.db import Store

KEY = ("bot_id", "locale_id", "session_id", "originating_request_id")


def _turn_detail(raw: str, ts: datetime, zone: ZoneInfo) -> dict[str, Any]:
    turn = to_turn(orjson.loads(raw), ts)
    top = turn.interpretations[0] if turn.interpretations else None
    return {
        "request_id": turn.request_id,
        "ts": ts.astimezone(zone).isoformat(timespec="milliseconds"),
        "transcript": turn.transcript,
        "input_mode": turn.input_mode,
        "operation": turn.operation,
        "intent": turn.intent,
        "intent_state": turn.intent_state,
        "confidence": top.confidence if top else None,
        "missed": turn.missed,
        "dialog_action": turn.dialog_action,
        "slot_to_elicit": turn.slot_to_elicit,
        "runners_up": [
            {"intent": i.intent, "confidence": i.confidence} for i in turn.interpretations[1:]
        ],
        "slots": [
            {"name": s.name, "shape": s.shape, "value": s.interpreted_value or s.original_value}
            for s in turn.slots
        ],
        "sentiment": turn.sentiment,
        "transcription_confidence": turn.transcription_confidence,
        "bot_reply": [m.content for m in turn.messages if m.content],
        "session_attributes": turn.session_attributes,
    }


def session_transcripts(
    store: Store,
    session_id: str,
    tz: str = "UTC",
    bot_id: str | None = None,
    locale_id: str | None = None,
    originating_request_id: str | None = None,
) -> list[dict[str, Any]]:
    zone = ZoneInfo(tz)
    cursor = store.con.cursor()
    try:
        rows = cursor.execute(
            """
            SELECT bot_id, locale_id, session_id, originating_request_id, ts, raw
            FROM turns
            WHERE session_id = $session_id
              AND ($bot_id IS NULL OR bot_id = $bot_id)
              AND ($locale_id IS NULL OR locale_id = $locale_id)
              AND ($orig IS NULL OR originating_request_id = $orig)
            ORDER BY bot_id, locale_id, originating_request_id, ts, request_id
            """,
            {
                "session_id": session_id,
                "bot_id": bot_id,
                "locale_id": locale_id,
                "orig": originating_request_id,
            },
        ).fetchall()
    finally:
        cursor.close()
    conversations: dict[tuple[str, ...], list[tuple[datetime, dict[str, Any]]]] = {}
    for *key, ts, raw in rows:
        conversations.setdefault(tuple(key), []).append((ts, _turn_detail(raw, ts, zone)))
    ordered = sorted(conversations.items(), key=lambda item: (item[1][0][0], item[0]))
    return [
        {
            "key": dict(zip(KEY, key, strict=True)),
            "start": turns[0][1]["ts"],
            "end": turns[-1][1]["ts"],
            "turns": [detail for _, detail in turns],
        }
        for key, turns in ordered
    ]
