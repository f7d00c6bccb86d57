"""Building realistic Lex V2 records for tests (shape as in tests/cases/ real samples)."""

from __future__ import annotations

import itertools
from typing import Any

_counter = itertools.count(1)


def lex_record(
    *,
    ts: str = "2026-11-02T10:00:00.000Z",
    session_id: str = "session-1",
    request_id: str | None = None,
    originating_request_id: str | None = "orig-1",
    bot_id: str = "BOT1",
    bot_name: str = "BankingBot",
    locale_id: str = "en_US",
    alias_id: str = "TSTALIASID",
    alias_name: str = "TestBotAlias",
    version: str = "DRAFT",
    input_mode: str = "Text",
    transcript: str | None = "what is my balance",
    intent: str | None = "CheckBalance",
    state: str | None = "InProgress",
    missed: bool = False,
    confidence: str | float | None = "0.91",
    sentiment: str | None = "NEUTRAL",
    slots: dict[str, Any] | None = None,
    dialog_action: str | None = "ElicitSlot",
    slot_to_elicit: str | None = "accountType",
    session_attributes: dict[str, str] | None = None,
    runners_up: list[tuple[str, str | None]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One record the way Lex writes it: nluConfidence a string, FallbackIntent on a miss."""
    interpretation: dict[str, Any] = {
        "intent": {
            "name": intent,
            "state": state,
            "confirmationState": "None",
            "slots": slots or {},
        }
    }
    if confidence is not None:
        interpretation["nluConfidence"] = confidence
    if sentiment is not None:
        interpretation["sentimentResponse"] = {
            "sentiment": sentiment,
            "sentimentScore": {"positive": 0.1, "negative": 0.05, "neutral": 0.8, "mixed": 0.05},
        }
    interpretations = [interpretation]
    for name, score in runners_up or []:
        alt: dict[str, Any] = {"intent": {"name": name, "slots": {}}}
        if score is not None:
            alt["nluConfidence"] = score
        interpretations.append(alt)
    session_state: dict[str, Any] = {
        "sessionAttributes": session_attributes or {},
    }
    if originating_request_id is not None:
        session_state["originatingRequestId"] = originating_request_id
    if intent is not None:
        session_state["intent"] = {
            "name": intent,
            "state": state,
            "confirmationState": "None",
            "slots": slots or {},
        }
    if dialog_action is not None:
        action: dict[str, Any] = {"type": dialog_action}
        if slot_to_elicit is not None:
            action["slotToElicit"] = slot_to_elicit
        session_state["dialogAction"] = action
    record: dict[str, Any] = {
        "messageVersion": "2.0",
        "timestamp": ts,
        "requestId": request_id or f"req-{next(_counter):08d}",
        "sessionId": session_id,
        "bot": {
            "id": bot_id,
            "name": bot_name,
            "aliasId": alias_id,
            "aliasName": alias_name,
            "version": version,
            "localeId": locale_id,
        },
        "inputMode": input_mode,
        "operationName": "RecognizeText",
        "missedUtterance": missed,
        "developerOverride": False,
        "interpretations": interpretations,
        "sessionState": session_state,
        "messages": [{"contentType": "PlainText", "content": "Which account?"}],
        "responseReason": "UtteranceResponse",
        "requestAttributes": {},
    }
    if transcript is not None:
        record["inputTranscript"] = transcript
    record.update(extra)
    return record


def scalar_slot(original: str, interpreted: str | None = None) -> dict[str, Any]:
    return {
        "shape": "Scalar",
        "value": {
            "originalValue": original,
            "interpretedValue": interpreted if interpreted is not None else original,
            "resolvedValues": [interpreted or original],
        },
    }


def list_slot(*values: str) -> dict[str, Any]:
    return {
        "shape": "List",
        "value": {"originalValue": " and ".join(values), "interpretedValue": None},
        "values": [scalar_slot(v) for v in values],
    }
