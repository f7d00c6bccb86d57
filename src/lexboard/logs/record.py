"""The one place that knows the Lex V2 log schema.

``to_turn`` turns one parsed record into a flat :class:`Turn` (or raises
:class:`BadRecord` with the reason). ``TURN_SELECT`` is the same projection in DuckDB
SQL, used by the store's fast path over raw JSON text; a parity test holds the two
together, so a change to one must be made to the other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

V2_KEYS = ("requestId", "sessionId", "bot")
V1_KEYS = ("botName", "botAlias", "userId", "botVersion")


class BadRecord(ValueError):
    """A JSON document that is not a usable Lex V2 record; the message is the reason."""


@dataclass(frozen=True)
class Interpretation:
    intent: str | None
    confidence: float | None


@dataclass(frozen=True)
class SlotValue:
    name: str
    shape: str
    original_value: str | None
    interpreted_value: str | None


@dataclass(frozen=True)
class Message:
    content_type: str | None
    content: str | None


@dataclass(frozen=True)
class Turn:
    request_id: str
    ts: datetime
    session_id: str
    originating_request_id: str
    bot_id: str
    bot_name: str | None
    alias_id: str | None
    alias_name: str | None
    bot_version: str | None
    locale_id: str
    operation: str | None
    input_mode: str | None
    transcript: str | None
    raw_transcript: str | None
    utterance: str | None
    missed: bool
    developer_override: bool
    intent: str | None
    intent_state: str | None
    confirmation_state: str | None
    dialog_action: str | None
    slot_to_elicit: str | None
    nlu_confidence: float | None
    interpretations: list[Interpretation] = field(default_factory=list)
    sentiment: str | None = None
    sentiment_positive: float | None = None
    sentiment_negative: float | None = None
    sentiment_neutral: float | None = None
    sentiment_mixed: float | None = None
    slots: list[SlotValue] = field(default_factory=list)
    session_attributes: dict[str, str] = field(default_factory=dict)
    request_attributes: dict[str, str] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    response_reason: str | None = None
    transcription_confidence: float | None = None


def normalize_utterance(text: str | None) -> str | None:
    """METRICS.md's utterance: lower-cased, Unicode whitespace collapsed, trimmed; None if empty."""
    if not isinstance(text, str):
        return None
    normalized = " ".join(text.lower().split())
    return normalized or None


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO-8601 instant as Lex writes it; naive times are UTC. None when unusable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _dig(obj: Any, *path: str | int) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(obj, list) or len(obj) <= step:
                return None
            obj = obj[step]
        else:
            if not isinstance(obj, dict):
                return None
            obj = obj.get(step)
    return obj


def _text(obj: Any, *path: str | int) -> str | None:
    value = _dig(obj, *path)
    return value if isinstance(value, str) else None


def _number(obj: Any, *path: str | int) -> float | None:
    """Confidences and scores arrive as numbers or as strings such as "0.63"."""
    value = _dig(obj, *path)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _flag(obj: Any, key: str) -> bool:
    return obj.get(key) is True


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(v, str)}


def _slot_values(slots: Any) -> list[SlotValue]:
    values: list[SlotValue] = []
    if not isinstance(slots, dict):
        return values
    for name, slot in slots.items():
        if not isinstance(slot, dict):
            continue  # an unfilled slot is null
        shape = _text(slot, "shape") or "Scalar"
        if shape == "List":
            elements = slot.get("values")
            for element in elements if isinstance(elements, list) else []:
                if isinstance(element, dict):
                    values.append(
                        SlotValue(
                            name,
                            "List",
                            _text(element, "value", "originalValue"),
                            _text(element, "value", "interpretedValue"),
                        )
                    )
            continue
        values.append(
            SlotValue(
                name,
                shape,
                _text(slot, "value", "originalValue"),
                _text(slot, "value", "interpretedValue"),
            )
        )
    return values


def check_record(obj: Any, event_ts: datetime | None = None) -> datetime:
    """Raise BadRecord unless ``obj`` is a usable Lex V2 record; return its timestamp."""
    if not isinstance(obj, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean"}.get(type(obj), "")
        kind = kind or ("null" if obj is None else "a number")
        raise BadRecord(f"not a Lex V2 record: the JSON is {kind}, not an object")
    version = obj.get("messageVersion")
    if (isinstance(version, str) and version.startswith("1")) or (
        "bot" not in obj and any(key in obj for key in V1_KEYS)
    ):
        raise BadRecord("Lex V1 record (flat botName/userId fields): lexboard reads Lex V2 logs")
    if not any(key in obj for key in V2_KEYS):
        raise BadRecord("not a Lex V2 record: a JSON object without requestId, sessionId or bot")
    for key in ("requestId", "sessionId"):
        value = obj.get(key)
        if not isinstance(value, str) or not value:
            raise BadRecord(f"Lex V2 record without {key}")
    for key in ("id", "localeId"):
        value = _dig(obj, "bot", key)
        if not isinstance(value, str) or not value:
            raise BadRecord(f"Lex V2 record without bot.{key}")
    ts = parse_timestamp(obj.get("timestamp"))
    if ts is None:
        if "timestamp" in obj and obj["timestamp"] is not None:
            raise BadRecord(f"Lex V2 record with an unreadable timestamp {obj['timestamp']!r:.60}")
        if event_ts is None:
            raise BadRecord("Lex V2 record without a timestamp (and no log event time)")
        ts = event_ts
    return ts


def to_turn(obj: Any, event_ts: datetime | None = None) -> Turn:
    """One Lex V2 record → one Turn. ``event_ts`` is the CloudWatch event time, if any."""
    ts = check_record(obj, event_ts)
    state = obj.get("sessionState") if isinstance(obj.get("sessionState"), dict) else {}
    missed = _flag(obj, "missedUtterance")
    intent = _text(state, "intent", "name")
    if intent is None and missed:
        intent = "FallbackIntent"
    interpretations = obj.get("interpretations")
    ranked = [
        Interpretation(_text(item, "intent", "name"), _number(item, "nluConfidence"))
        for item in (interpretations if isinstance(interpretations, list) else [])
        if isinstance(item, dict)
    ]
    top = _dig(obj, "interpretations", 0)
    messages = obj.get("messages")
    transcript = _text(obj, "inputTranscript")
    return Turn(
        request_id=obj["requestId"],
        ts=ts,
        session_id=obj["sessionId"],
        originating_request_id=_text(state, "originatingRequestId") or "",
        bot_id=obj["bot"]["id"],
        bot_name=_text(obj, "bot", "name"),
        alias_id=_text(obj, "bot", "aliasId"),
        alias_name=_text(obj, "bot", "aliasName"),
        bot_version=_text(obj, "bot", "version"),
        locale_id=obj["bot"]["localeId"],
        operation=_text(obj, "operationName"),
        input_mode=_text(obj, "inputMode"),
        transcript=transcript,
        raw_transcript=_text(obj, "rawInputTranscript"),
        utterance=normalize_utterance(transcript),
        missed=missed,
        developer_override=_flag(obj, "developerOverride"),
        intent=intent,
        intent_state=_text(state, "intent", "state"),
        confirmation_state=_text(state, "intent", "confirmationState"),
        dialog_action=_text(state, "dialogAction", "type"),
        slot_to_elicit=_text(state, "dialogAction", "slotToElicit"),
        nlu_confidence=_number(top, "nluConfidence"),
        interpretations=ranked,
        sentiment=_text(top, "sentimentResponse", "sentiment"),
        sentiment_positive=_number(top, "sentimentResponse", "sentimentScore", "positive"),
        sentiment_negative=_number(top, "sentimentResponse", "sentimentScore", "negative"),
        sentiment_neutral=_number(top, "sentimentResponse", "sentimentScore", "neutral"),
        sentiment_mixed=_number(top, "sentimentResponse", "sentimentScore", "mixed"),
        slots=_slot_values(_dig(state, "intent", "slots")),
        session_attributes=_string_map(state.get("sessionAttributes")),
        request_attributes=_string_map(obj.get("requestAttributes")),
        messages=[
            Message(_text(m, "contentType"), _text(m, "content"))
            for m in (messages if isinstance(messages, list) else [])
            if isinstance(m, dict)
        ],
        response_reason=_text(obj, "responseReason"),
        transcription_confidence=_number(obj, "transcriptions", 0, "transcriptionConfidence"),
    )


# --- The same projection in DuckDB SQL -------------------------------------------------
# One json_transform parses each record once into typed structs (DuckDB's fast JSON
# reader); the SELECT then flattens them. Fields of an unexpected type become NULL.

SQL_MACROS = """
CREATE OR REPLACE TEMP MACRO lx_pairs(lx_map) AS
    coalesce(list_transform(map_entries(lx_map), lambda lx_e: {'key': lx_e.key,
                                                               'value': lx_e.value}), []);
"""

_SLOT_VALUE = "STRUCT(originalValue VARCHAR, interpretedValue VARCHAR)"
_RECORD_STRUCTURE = {
    "requestId": "VARCHAR",
    "timestamp": "VARCHAR",
    "sessionId": "VARCHAR",
    "messageVersion": "VARCHAR",
    "bot": {
        "id": "VARCHAR",
        "name": "VARCHAR",
        "aliasId": "VARCHAR",
        "aliasName": "VARCHAR",
        "version": "VARCHAR",
        "localeId": "VARCHAR",
    },
    "inputMode": "VARCHAR",
    "operationName": "VARCHAR",
    "inputTranscript": "VARCHAR",
    "rawInputTranscript": "VARCHAR",
    "missedUtterance": "BOOLEAN",
    "developerOverride": "BOOLEAN",
    "interpretations": [
        {
            "intent": {"name": "VARCHAR"},
            "nluConfidence": "DOUBLE",
            "sentimentResponse": {
                "sentiment": "VARCHAR",
                "sentimentScore": {
                    "positive": "DOUBLE",
                    "negative": "DOUBLE",
                    "neutral": "DOUBLE",
                    "mixed": "DOUBLE",
                },
            },
        }
    ],
    "sessionState": {
        "originatingRequestId": "VARCHAR",
        "intent": {
            "name": "VARCHAR",
            "state": "VARCHAR",
            "confirmationState": "VARCHAR",
            "slots": (
                f'MAP(VARCHAR, STRUCT(shape VARCHAR, "value" {_SLOT_VALUE}, '
                f'"values" STRUCT(shape VARCHAR, "value" {_SLOT_VALUE})[]))'
            ),
        },
        "dialogAction": {"type": "VARCHAR", "slotToElicit": "VARCHAR"},
        "sessionAttributes": "MAP(VARCHAR, VARCHAR)",
    },
    "requestAttributes": "MAP(VARCHAR, VARCHAR)",
    "messages": [{"contentType": "VARCHAR", "content": "VARCHAR"}],
    "responseReason": "VARCHAR",
    "transcriptions": [{"transcriptionConfidence": "DOUBLE"}],
}
_STRUCTURE_SQL = "'" + json.dumps(_RECORD_STRUCTURE).replace("'", "''") + "'"

# Input: a relation ``staged(raw VARCHAR, event_ms BIGINT, source VARCHAR, position VARCHAR)``
# holding one JSON object per row. Output: the turns table's columns plus ``problem``,
# non-null for a record that must not be stored (it says why).
TURN_SELECT = f"""
WITH parsed AS (
    SELECT raw, source, position, event_ms,
           json_transform(raw, {_STRUCTURE_SQL}) AS r
    FROM staged
), typed AS (
    SELECT *,
        coalesce(TRY_CAST(r.timestamp AS TIMESTAMPTZ),
                 CASE WHEN r.timestamp IS NULL THEN make_timestamptz(event_ms * 1000) END) AS ts,
        coalesce(r.missedUtterance, false) AS missed,
        r.interpretations[1] AS top,
        r.sessionState AS state
    FROM parsed
)
SELECT
    r.requestId AS request_id,
    ts,
    r.sessionId AS session_id,
    coalesce(state.originatingRequestId, '') AS originating_request_id,
    r.bot.id AS bot_id,
    r.bot.name AS bot_name,
    r.bot.aliasId AS alias_id,
    r.bot.aliasName AS alias_name,
    r.bot.version AS bot_version,
    r.bot.localeId AS locale_id,
    r.operationName AS operation,
    r.inputMode AS input_mode,
    r.inputTranscript AS transcript,
    r.rawInputTranscript AS raw_transcript,
    CASE WHEN r.inputTranscript IS NULL THEN NULL
         WHEN regexp_full_match(r.inputTranscript, '[ -~]*')
         THEN nullif(lower(trim(CASE WHEN contains(r.inputTranscript, '  ')
                                     THEN regexp_replace(r.inputTranscript, ' +', ' ', 'g')
                                     ELSE r.inputTranscript END)), '')
         ELSE lexboard_normalize(r.inputTranscript) END AS utterance,
    missed,
    coalesce(r.developerOverride, false) AS developer_override,
    coalesce(state.intent.name, CASE WHEN missed THEN 'FallbackIntent' END) AS intent,
    state.intent.state AS intent_state,
    state.intent.confirmationState AS confirmation_state,
    state.dialogAction.type AS dialog_action,
    state.dialogAction.slotToElicit AS slot_to_elicit,
    top.nluConfidence AS nlu_confidence,
    coalesce(list_transform(list_filter(r.interpretations, lambda i: i IS NOT NULL),
        lambda i: {{'intent': i.intent.name, 'confidence': i.nluConfidence}}), [])
        AS interpretations,
    top.sentimentResponse.sentiment AS sentiment,
    top.sentimentResponse.sentimentScore.positive AS sentiment_positive,
    top.sentimentResponse.sentimentScore.negative AS sentiment_negative,
    top.sentimentResponse.sentimentScore.neutral AS sentiment_neutral,
    top.sentimentResponse.sentimentScore.mixed AS sentiment_mixed,
    coalesce(flatten(list_transform(map_entries(state.intent.slots), lambda e:
        CASE WHEN e.value IS NULL THEN []
             WHEN e.value.shape = 'List'
             THEN list_transform(list_filter(coalesce(e.value.values, []),
                                             lambda v: v IS NOT NULL),
                  lambda v: {{'name': e.key, 'shape': 'List',
                              'original_value': v.value.originalValue,
                              'interpreted_value': v.value.interpretedValue}})
             ELSE [{{'name': e.key, 'shape': coalesce(e.value.shape, 'Scalar'),
                     'original_value': e.value.value.originalValue,
                     'interpreted_value': e.value.value.interpretedValue}}] END)), [])
        AS slots,
    lx_pairs(state.sessionAttributes) AS session_attributes,
    lx_pairs(r.requestAttributes) AS request_attributes,
    coalesce(list_transform(list_filter(r.messages, lambda m: m IS NOT NULL),
        lambda m: {{'content_type': m.contentType, 'content': m.content}}), []) AS messages,
    r.responseReason AS response_reason,
    r.transcriptions[1].transcriptionConfidence AS transcription_confidence,
    raw,
    source,
    position,
    CASE WHEN coalesce(r.requestId, '') = '' THEN 'Lex V2 record without requestId'
         WHEN coalesce(r.sessionId, '') = '' THEN 'Lex V2 record without sessionId'
         WHEN coalesce(r.bot.id, '') = '' THEN 'Lex V2 record without bot.id'
         WHEN coalesce(r.bot.localeId, '') = '' THEN 'Lex V2 record without bot.localeId'
         WHEN ts IS NULL THEN 'Lex V2 record without a readable timestamp'
         WHEN starts_with(coalesce(r.messageVersion, ''), '1')
         THEN 'Lex V1 record (flat botName/userId fields): lexboard reads Lex V2 logs'
    END AS problem
FROM typed
"""


def turn_select(relation: str) -> str:
    """TURN_SELECT over another relation of the same shape as ``staged``."""
    return TURN_SELECT.replace("\n    FROM staged\n", f"\n    FROM {relation}\n")
