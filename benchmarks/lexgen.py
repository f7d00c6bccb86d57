"""A fast, seeded generator of realistic Amazon Lex V2 conversation-log records.

The records are those of a small banking bot (see /work/shared/LEX_V2_LOGS.md for the
format): about 8 turns per conversation over a 30-day window, text, speech and DTMF
input, slot elicitation with retries, confirmations, ~10% missed utterances (then
``FallbackIntent`` in ``sessionState`` with state ``ReadyForFulfillment`` and no
``nluConfidence``), up to 5 ranked interpretations with string confidences and a
``sentimentResponse`` on the winner, Scalar and List slots, session attributes and
bot messages; 1.5 to 2 KB each.

Speed comes from templates: a pool of conversation scripts is built once as Python
dicts (the slow, readable part), each turn serialized by orjson with placeholders for
the fields that change per record (timestamp, requestId, sessionId,
originatingRequestId, contact id), which a ``bytes % mapping`` fills in per record.
Records come out in timestamp order, as CloudWatch exports them. The same seed gives
the same bytes.

    python benchmarks/lexgen.py out.jsonl --records 100000 [--gzip] [--seed 7]
"""

from __future__ import annotations

import argparse
import gzip
import os
import queue
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from heapq import heappop, heappush, heapreplace
from pathlib import Path
from typing import Any

import numpy as np
import orjson

DAY_MS = 86_400_000
DEFAULT_START = datetime(2026, 11, 1, tzinfo=UTC)
DEFAULT_DAYS = 30
DEFAULT_POOL = 4096  # conversation scripts per generator; ~8 turn templates each
# What changes per record: timestamp, requestId, sessionId, originatingRequestId, contact id.
FIELDS = ("ts", "rid", "sid", "orid", "cid")

# --- the bot ----------------------------------------------------------------------------

BOT = {"id": "B4NKB0TQ7X", "name": "BankingBot"}
ALIASES = (  # (weight, aliasId, aliasName, version, sentiment analysis on)
    (0.93, "PR0DAL1AS7", "Production", "7", True),
    (0.05, "TSTALIASID", "TestBotAlias", "DRAFT", False),
    (0.02, "CANARY8ALS", "Canary", "8", True),
)
LOCALES = ((0.85, "en_US"), (0.15, "en_GB"))

ACCOUNTS = ("Checking", "Savings", "Credit", "Business")
ACCOUNT_SAID = {
    "Checking": ("checking", "my checking account", "current account", "checking please"),
    "Savings": ("savings", "my savings", "the savings account", "savings account"),
    "Credit": ("credit card", "my credit card", "credit", "visa card"),
    "Business": ("business", "business account", "the business one", "company account"),
}
BILLERS = ("electricity", "water", "gas", "internet", "phone", "rent", "insurance")
CARDS = ("Debit", "Credit")
AGENT_REASONS = ("dispute", "mortgage", "fraud", "complaint", "loan", "other")

INTENTS: dict[str, tuple[str, ...]] = {  # slots of each intent, in elicitation order
    "Welcome": (),
    "CheckBalance": ("accountType",),
    "TransferFunds": ("sourceAccount", "targetAccount", "amount"),
    "PayBills": ("billers", "payFrom"),
    "ReportLostCard": ("cardType", "lastFourDigits"),
    "RecentTransactions": ("accountType", "days"),
    "SpeakToAgent": ("reason",),
    "Goodbye": (),
}
LIST_SLOTS = {"billers"}
# How conversations start: (weight, intent) for the main task of a session.
TASKS = (
    (0.30, "CheckBalance"),
    (0.20, "TransferFunds"),
    (0.12, "PayBills"),
    (0.10, "ReportLostCard"),
    (0.15, "RecentTransactions"),
    (0.13, "SpeakToAgent"),
)

OPENERS: dict[str, tuple[str, ...]] = {
    "Welcome": ("hi", "hello", "hey there", "good morning", "hi, I need some help", "hello?"),
    "CheckBalance": (
        "what is my balance",
        "check my balance",
        "how much money do I have",
        "balance please",
        "what's my account balance",
        "how much is in my {acct}",
        "I want to check the balance of my {acct}",
        "can you tell me my {acct} balance",
    ),
    "TransferFunds": (
        "transfer money",
        "I want to move money between accounts",
        "send {amount} dollars to my {acct}",
        "make a transfer",
        "move {amount} from {acct} to savings",
        "can I transfer funds",
        "transfer {amount} to my {acct}",
    ),
    "PayBills": (
        "pay my bills",
        "I want to pay the {biller} bill",
        "pay {biller} and {biller2}",
        "bill payment",
        "I need to pay my {biller} bill please",
    ),
    "ReportLostCard": (
        "I lost my card",
        "my card was stolen",
        "block my {card} card",
        "report a lost card",
        "I can't find my {card} card",
        "freeze my card please",
    ),
    "RecentTransactions": (
        "show my recent transactions",
        "what did I spend last week",
        "list the last transactions on my {acct}",
        "recent activity",
        "show me transactions from the last {days} days",
    ),
    "SpeakToAgent": (
        "speak to an agent",
        "I want to talk to a human",
        "representative",
        "agent please",
        "can I talk to someone about a {reason}",
        "connect me to customer service",
    ),
    "Goodbye": ("bye", "thanks, that's all", "no thank you", "that's it", "goodbye", "thanks"),
}
MISSES = (
    "what are your opening hours",
    "uh",
    "blah",
    "can you do my taxes",
    "is the branch on main street open on sunday",
    "I want a pony",
    "what's the weather",
    "mortgage rates?",
    "hmm let me think",
    "asdf",
    "do you have crypto",
    "who are you",
    "open a new account for my daughter",
    "change my address",
    "the app keeps crashing when I log in",
    "why was I charged twice",
)
PROMPTS = {
    "accountType": "Which account: checking, savings, credit or business?",
    "sourceAccount": "Which account would you like to transfer from?",
    "targetAccount": "And which account should receive the money?",
    "amount": "How much would you like to transfer?",
    "billers": "Which bills would you like to pay? You can name several.",
    "payFrom": "Which account should I pay them from?",
    "cardType": "Is it your debit card or your credit card?",
    "lastFourDigits": "Please enter the last four digits of the card.",
    "days": "For how many days back should I list transactions?",
    "reason": "Sure. Briefly, what is it about: a dispute, a mortgage, fraud, or something else?",
}
RETRY = "Sorry, I didn't catch that. "
FALLBACK_REPLY = (
    "Sorry, I didn't understand. You can check a balance, transfer money, pay bills, "
    "report a lost card, list recent transactions or talk to an agent."
)


def _weighted(rng: random.Random, table: Sequence[tuple[float, Any]]) -> Any:
    x = rng.random() * sum(w for w, _ in table)
    for weight, value in table:
        x -= weight
        if x < 0:
            return value
    return table[-1][1]


def _conf(rng: random.Random, low: float, high: float) -> str:
    return f"{rng.uniform(low, high):.2f}"


def _sentiment(rng: random.Random, mood: str) -> dict[str, Any]:
    weights = {
        "NEUTRAL": (0.05, 0.04, 0.9, 0.01),
        "POSITIVE": (0.8, 0.02, 0.17, 0.01),
        "NEGATIVE": (0.03, 0.75, 0.2, 0.02),
        "MIXED": (0.25, 0.3, 0.15, 0.3),
    }[mood]
    raw = [w * rng.uniform(0.6, 1.4) for w in weights]
    total = sum(raw)
    pos, neg, neu, mix = (round(v / total, 6) for v in raw)
    return {
        "sentiment": mood,
        "sentimentScore": {"mixed": mix, "negative": neg, "neutral": neu, "positive": pos},
    }


def _scalar(original: str, interpreted: str) -> dict[str, Any]:
    return {
        "shape": "Scalar",
        "value": {
            "originalValue": original,
            "interpretedValue": interpreted,
            "resolvedValues": [interpreted],
        },
    }


def _slot_value(rng: random.Random, slot: str, ctx: dict[str, Any]) -> tuple[str, Any]:
    """(what the user says, the slot object) for one filled slot."""
    if slot in ("accountType", "sourceAccount", "targetAccount", "payFrom"):
        acct = rng.choice(ACCOUNTS)
        said = rng.choice(ACCOUNT_SAID[acct])
        return said, _scalar(said, acct)
    if slot == "amount":
        amount = ctx.get("amount") or rng.choice((20, 50, 100, 150, 200, 250, 500, 1000, 1200))
        amount = amount if rng.random() < 0.7 else round(rng.uniform(5, 3000), 2)
        said = rng.choice((f"{amount} dollars", f"${amount}", f"{amount}", f"{amount} bucks"))
        return said, _scalar(said, str(amount))
    if slot == "billers":
        picked = rng.sample(BILLERS, rng.choice((1, 1, 2, 2, 3)))
        said = " and ".join(picked) if len(picked) < 3 else ", ".join(picked)
        return said, {
            "shape": "List",
            "value": {"originalValue": said, "interpretedValue": said, "resolvedValues": []},
            "values": [_scalar(b, b.capitalize()) for b in picked],
        }
    if slot == "cardType":
        card = rng.choice(CARDS)
        said = rng.choice((card.lower(), f"my {card.lower()} card", f"the {card.lower()} one"))
        return said, _scalar(said, card)
    if slot == "lastFourDigits":
        digits = f"{rng.randrange(10000):04d}"
        return digits, _scalar(digits, digits)
    if slot == "days":
        days = rng.choice((7, 14, 30, 60, 90))
        said = rng.choice((f"{days}", f"{days} days", f"the last {days} days"))
        return said, _scalar(said, str(days))
    reason = rng.choice(AGENT_REASONS)
    said = rng.choice((reason, f"it's about a {reason}", f"{reason} question"))
    return said, _scalar(said, reason.capitalize())


def _opener(rng: random.Random, intent: str) -> str:
    text = rng.choice(OPENERS[intent])
    return text.format(
        acct=rng.choice(("checking", "savings", "credit card", "business account")),
        amount=rng.choice((20, 50, 100, 200, 250, 500)),
        biller=rng.choice(BILLERS[:4]),
        biller2=rng.choice(BILLERS[4:]),
        card=rng.choice(("debit", "credit")),
        days=rng.choice((7, 30, 90)),
        reason=rng.choice(AGENT_REASONS),
    )


@dataclass
class _Conversation:
    """One conversation's fixed context while its turns are built."""

    alias: tuple[float, str, str, str, bool]
    locale: str
    mode: str  # Text, Speech or DTMF-capable voice
    channel: str
    mood: str
    sentiment_on: bool


# --- turns as dicts (the slow, readable part) -------------------------------------------


def _interpretations(
    rng: random.Random,
    conv: _Conversation,
    intent: str,
    state: str,
    confirmation: str,
    slots: dict[str, Any],
    missed: bool,
    confidence: str | None,
) -> list[dict[str, Any]]:
    winner: dict[str, Any] = {
        "intent": {
            "name": intent,
            "slots": slots,
            "state": state,
            "confirmationState": confirmation,
        },
        "interpretationSource": "Lex",
    }
    if not missed and confidence is not None:
        winner["nluConfidence"] = confidence
    if conv.sentiment_on:
        winner["sentimentResponse"] = _sentiment(rng, conv.mood)
    ranked = [winner]
    others = rng.sample([name for name in INTENTS if name != intent], len(INTENTS) - 1)
    top = float(confidence) if confidence else 0.5
    count = rng.choice((2, 3, 3, 4, 4, 5)) - 1
    for name in others[:count]:
        top = max(0.05, top - rng.uniform(0.08, 0.35))
        alt: dict[str, Any] = {
            "intent": {"name": name, "slots": {s: None for s in INTENTS[name]}},
            "interpretationSource": "Lex",
        }
        alt["nluConfidence"] = f"{min(top, 0.69 if missed else 0.99):.2f}"
        ranked.append(alt)
    if not missed and rng.random() < 0.6:
        ranked.append({"intent": {"name": "FallbackIntent", "slots": {}}})
    return ranked[:5]


def _turn(
    rng: random.Random,
    conv: _Conversation,
    transcript: str,
    intent: str,
    state: str,
    slots: dict[str, Any],
    action: dict[str, Any],
    reply: str,
    *,
    confirmation: str = "None",
    missed: bool = False,
    confidence: str | None = None,
    attributes: dict[str, str] | None = None,
    dtmf: bool = False,
    operation: str | None = None,
) -> dict[str, Any]:
    mode = "DTMF" if dtmf else ("Speech" if conv.mode == "Speech" else "Text")
    alias = conv.alias
    intent_obj = {
        "name": intent,
        "slots": slots,
        "state": state,
        "confirmationState": confirmation,
    }
    session_attributes = {
        "channel": conv.channel,
        "authenticated": "true",
        **(attributes or {}),
    }
    if conv.mode == "Speech":
        session_attributes["ContactId"] = "@@cid@@"
        session_attributes["Channel"] = "VOICE"
    record: dict[str, Any] = {
        "messageVersion": "2.0",
        "timestamp": "@@ts@@",
        "requestId": "@@rid@@",
        "sessionId": "@@sid@@",
        "bot": {
            "id": BOT["id"],
            "name": BOT["name"],
            "aliasId": alias[1],
            "aliasName": alias[2],
            "version": alias[3],
            "localeId": conv.locale,
        },
        "inputMode": mode,
        "operationName": operation or ("RecognizeText" if mode == "Text" else "RecognizeUtterance"),
        "inputTranscript": transcript,
    }
    if mode == "Speech":
        record["rawInputTranscript"] = transcript
    record["missedUtterance"] = missed
    record["developerOverride"] = False
    record["interpretations"] = _interpretations(
        rng, conv, intent, state, confirmation, slots, missed, confidence
    )
    record["sessionState"] = {
        "originatingRequestId": "@@orid@@",
        "intent": intent_obj,
        "dialogAction": action,
        "sessionAttributes": session_attributes,
    }
    if mode == "Text":
        record["requestAttributes"] = {"x-amz-lex:channels:platform": conv.channel}
    else:
        record["requestAttributes"] = {
            "x-amz-lex:accept-content-types": "PlainText,SSML",
            "x-amz-lex:audio:start-timeout-ms:*:*": "4000",
        }
    if mode == "Speech":
        content = f"<speak>{reply}</speak>"
        record["messages"] = [{"contentType": "SSML", "content": content}]
    else:
        record["messages"] = [{"contentType": "PlainText", "content": reply}]
    record["responseReason"] = "UtteranceResponse"
    if mode != "Text":
        record["transcriptions"] = [
            {
                "transcription": transcript,
                "transcriptionConfidence": round(rng.uniform(0.55, 0.99), 4),
                "resolvedContext": {"intent": intent},
                "resolvedSlots": {},
            }
        ]
    if mode == "Speech" and rng.random() < 0.3:
        record["audioProperties"] = {
            "contentType": "audio/lpcm; sample-rate=8000; sample-size-bits=16",
            "s3Path": "s3://lex-audio-logs/BankingBot/@@rid@@.wav",
            "duration": {
                "total": rng.randrange(1500, 7000),
                "voice": rng.randrange(600, 3000),
                "silence": rng.randrange(300, 2000),
            },
        }
    return record


def _dialog(rng: random.Random, conv: _Conversation, intent: str) -> list[dict[str, Any]]:
    """The turns of one intent, from recognition to Close (or to the user dropping out)."""
    names = INTENTS[intent]
    slots: dict[str, Any] = {name: None for name in names}
    turns: list[dict[str, Any]] = []
    transcript = _opener(rng, intent)
    confidence = "1.00" if rng.random() < 0.35 else _conf(rng, 0.62, 0.99)
    if not names:  # Welcome, Goodbye
        reply = (
            "Hi! I'm the bank's assistant. How can I help you today?"
            if intent == "Welcome"
            else "Thanks for banking with us. Goodbye!"
        )
        action = {"type": "ElicitIntent"} if intent == "Welcome" else {"type": "Close"}
        turns.append(
            _turn(
                rng, conv, transcript, intent, "Fulfilled", {}, action, reply, confidence=confidence
            )
        )
        return turns
    pending = list(names)
    # Sometimes the opener already fills the first slot ("check my savings balance").
    if rng.random() < 0.25:
        said, slot = _slot_value(rng, pending[0], {})
        slots[pending[0]] = slot
        transcript = f"{transcript} {said}" if said not in transcript else transcript
        pending.pop(0)
    retrying = dtmf = False
    while pending:
        name = pending[0]
        # A re-elicitation of the same slot after an answer Lex could not use.
        prompt = RETRY + PROMPTS[name] if retrying else PROMPTS[name]
        turns.append(
            _turn(
                rng,
                conv,
                transcript,
                intent,
                "InProgress",
                dict(slots),
                {"type": "ElicitSlot", "slotToElicit": name},
                prompt,
                confidence=confidence,
                dtmf=dtmf,
            )
        )
        if rng.random() < 0.05:
            return turns  # the user stops answering: a dropped conversation
        retrying = rng.random() < 0.08
        if retrying:
            transcript, dtmf = rng.choice(("what?", "I don't know", "hmm", "repeat that")), False
            continue
        transcript, slots[name] = _slot_value(rng, name, {})
        # On the phone, digits are often keyed in.
        dtmf = conv.mode == "Speech" and name == "lastFourDigits" and rng.random() < 0.6
        pending.pop(0)
    final_slots = dict(slots)
    if intent in ("TransferFunds", "PayBills"):
        turns.append(
            _turn(
                rng,
                conv,
                transcript,
                intent,
                "InProgress",
                final_slots,
                {"type": "ConfirmIntent"},
                "Please confirm: shall I go ahead with this payment?",
                confidence=confidence,
                dtmf=dtmf,
            )
        )
        if rng.random() < 0.04:
            return turns
        denied = rng.random() < 0.12
        transcript = (
            rng.choice(("no", "no wait", "cancel"))
            if denied
            else rng.choice(("yes", "yes please", "confirm", "go ahead", "correct"))
        )
        confirmation = "Denied" if denied else "Confirmed"
        state = "Failed" if denied or rng.random() < 0.05 else "Fulfilled"
        reply = (
            "OK, I've cancelled that."
            if denied
            else "Done. Your reference number is REF" + f"{rng.randrange(10**8):08d}."
            if state == "Fulfilled"
            else "Sorry, that payment could not be completed: insufficient funds."
        )
        turns.append(
            _turn(
                rng,
                conv,
                transcript,
                intent,
                state,
                final_slots,
                {"type": "Close"},
                reply,
                confirmation=confirmation,
                confidence=confidence,
                attributes={"lastIntent": intent},
            )
        )
        return turns
    state = "Fulfilled" if rng.random() < 0.93 else rng.choice(("Failed", "ReadyForFulfillment"))
    replies = {
        "CheckBalance": f"Your balance is ${rng.uniform(10, 25000):,.2f}.",
        "ReportLostCard": "Your card is blocked. A replacement will arrive in 5 business days.",
        "RecentTransactions": f"You have {rng.randrange(1, 60)} transactions. The latest: "
        f"${rng.uniform(3, 400):.2f} at {rng.choice(('GROCER', 'FUEL', 'CAFE', 'ONLINE'))}.",
        "SpeakToAgent": "I'm transferring you to an agent. Your estimated wait is "
        f"{rng.randrange(1, 25)} minutes.",
    }
    reply = replies.get(intent, "Done.") if state != "Failed" else "Sorry, something went wrong."
    turns.append(
        _turn(
            rng,
            conv,
            transcript,
            intent,
            state,
            final_slots,
            {"type": "Close"},
            reply,
            confidence=confidence,
            attributes={"lastIntent": intent},
            dtmf=dtmf,
        )
    )
    return turns


def _missed(rng: random.Random, conv: _Conversation) -> dict[str, Any]:
    return _turn(
        rng,
        conv,
        rng.choice(MISSES),
        "FallbackIntent",
        "ReadyForFulfillment",
        {},
        {"type": "Close"},
        FALLBACK_REPLY,
        missed=True,
    )


def _conversation(rng: random.Random) -> tuple[list[dict[str, Any]], list[int]]:
    """One conversation script: its turns (with placeholders) and their offsets in ms."""
    alias = _weighted(rng, [(a[0], a) for a in ALIASES])
    speech = rng.random() < 0.3
    conv = _Conversation(
        alias=alias,
        locale=_weighted(rng, LOCALES),
        mode="Speech" if speech else "Text",
        channel="connect" if speech else rng.choice(("web", "web", "mobile-app", "slack")),
        mood=_weighted(
            rng, ((0.6, "NEUTRAL"), (0.15, "POSITIVE"), (0.2, "NEGATIVE"), (0.05, "MIXED"))
        ),
        sentiment_on=alias[4],
    )
    turns: list[dict[str, Any]] = []
    if rng.random() < 0.6:
        turns += _dialog(rng, conv, "Welcome")
    tasks = 1 + (rng.random() < 0.7) + (rng.random() < 0.45) + (rng.random() < 0.2)
    for _ in range(tasks):
        while rng.random() < 0.25:
            turns.append(_missed(rng, conv))
        turns += _dialog(rng, conv, _weighted(rng, TASKS))
        if turns[-1]["sessionState"]["dialogAction"]["type"] != "Close":
            break  # dropped: the user stopped answering
    else:
        if rng.random() < 0.1:
            turns.append(_missed(rng, conv))  # and the user gives up
        elif rng.random() < 0.55:
            turns += _dialog(rng, conv, "Goodbye")
    gap = (3_000, 15_000) if speech else (6_000, 45_000)
    offsets, at = [], 0
    for _ in turns:
        offsets.append(at)
        at += rng.randrange(*gap)
    return turns, offsets


# --- templates --------------------------------------------------------------------------

_PLACEHOLDERS = tuple((f"@@{k}@@".encode(), f"%({k})s".encode()) for k in FIELDS)


def _template(turn: dict[str, Any]) -> bytes:
    """The turn's JSON line as a ``bytes % mapping`` format: b'...%(ts)s...\\n'."""
    data = orjson.dumps(turn).replace(b"%", b"%%") + b"\n"
    for placeholder, field in _PLACEHOLDERS:
        data = data.replace(placeholder, field)
    return data


@dataclass
class Script:
    templates: list[bytes]
    offsets: list[int]


def build_pool(seed: int, size: int = DEFAULT_POOL) -> list[Script]:
    rng = random.Random(f"lexgen-pool-{seed}")
    pool = []
    for _ in range(size):
        turns, offsets = _conversation(rng)
        pool.append(Script([_template(t) for t in turns], offsets))
    return pool


def mean_turns(pool: Sequence[Script]) -> float:
    return sum(len(s.templates) for s in pool) / len(pool)


# --- records ----------------------------------------------------------------------------


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_DIGITS = [i for i in range(36) if i not in (8, 13, 18, 23)]


class _Uuids:
    """Random UUID-4 strings as bytes, made by numpy in blocks (a seeded stream)."""

    def __init__(self, seed: int, block: int = 32_768) -> None:
        self._gen = np.random.default_rng(seed)
        self._block = block
        self._ready: list[bytes] = []

    def __call__(self) -> bytes:
        if not self._ready:
            self._ready = self._make()
        return self._ready.pop()

    def _make(self) -> list[bytes]:
        count = self._block
        chars = np.empty((count, 36), dtype=np.uint8)
        chars[:, _UUID_DIGITS] = _HEX[self._gen.integers(0, 16, size=(count, 32), dtype=np.uint8)]
        chars[:, [8, 13, 18, 23]] = ord("-")
        chars[:, 14] = ord("4")
        chars[:, 19] = _HEX[8 + self._gen.integers(0, 4, size=count, dtype=np.uint8)]
        data = chars.tobytes()
        return [data[i : i + 36] for i in range(0, count * 36, 36)]


# "SS.mmmZ" for each millisecond of a minute.
_SECONDS = [f"{ms // 1000:02d}.{ms % 1000:03d}Z".encode() for ms in range(60_000)]


def _minute_prefix(minute: int) -> bytes:
    """ "YYYY-MM-DDTHH:MM:" of a minute since the epoch (then _SECONDS[ms % 60000])."""
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:").encode()


# Sessions per hour of day (UTC), a banking bot's working-day shape.
_HOURLY = (1, 1, 1, 1, 2, 3, 5, 8, 11, 12, 12, 11, 10, 11, 12, 12, 11, 10, 9, 8, 6, 4, 3, 2)


def _session_starts(rng: random.Random, count: int, start_ms: int, span_ms: int) -> list[int]:
    hours = max(1, span_ms // 3_600_000)
    weights = [_HOURLY[(start_ms // 3_600_000 + h) % 24] for h in range(hours)]
    picked = rng.choices(range(hours), weights=weights, k=count)
    starts = [
        start_ms + h * 3_600_000 + rng.randrange(min(3_600_000, span_ms - h * 3_600_000))
        for h in picked
    ]
    starts.sort()
    return starts


def records(
    n: int,
    seed: int = 0,
    start: datetime = DEFAULT_START,
    days: float = DEFAULT_DAYS,
    pool: Sequence[Script] | None = None,
) -> Iterator[bytes]:
    """Exactly ``n`` JSON lines (each ending in a newline), in timestamp order."""
    if n <= 0:
        return
    pool = pool if pool is not None else build_pool(seed, min(DEFAULT_POOL, n // 8 + 16))
    rng = random.Random(f"lexgen-records-{seed}")
    uuid = _Uuids(rng.getrandbits(64))
    start_ms = int(start.timestamp() * 1000)
    span_ms = int(days * DAY_MS)
    # Slightly more sessions than needed: the last ones are cut when n is reached.
    starts = _session_starts(rng, int(n / mean_turns(pool) * 1.01) + 16, start_ms, span_ms)
    returning: list[bytes] = []  # web users' session ids, which some reuse days later
    heap: list[tuple[int, int, int, Script, dict[bytes, bytes]]] = []
    emitted = 0
    serial = 0
    next_start = 0
    planned = len(starts)
    choice = rng.choice
    minutes: dict[int, bytes] = {}
    while emitted < n:
        if next_start < planned and (not heap or starts[next_start] <= heap[0][0]):
            at = starts[next_start]
            next_start += 1
            script = choice(pool)
            first = uuid()
            speech = b"%(cid)s" in script.templates[0]
            if speech:
                sid = cid = uuid()
            else:
                cid = b""
                if returning and rng.random() < 0.1:
                    sid = choice(returning)
                else:
                    sid = b"us-east-1:" + uuid()
                    if len(returning) < 50_000:
                        returning.append(sid)
            fields = {b"sid": sid, b"orid": first, b"cid": cid, b"rid": first, b"ts": b""}
            serial += 1
            heappush(heap, (at, serial, 0, script, fields))
            continue
        if not heap:  # more records wanted than sessions planned: start more
            starts += _session_starts(rng, 1024, start_ms, span_ms)
            starts[next_start:] = sorted(starts[next_start:])
            planned = len(starts)
            continue
        at, order, index, script, fields = heap[0]
        minute, milli = divmod(at, 60_000)
        prefix = minutes.get(minute)
        if prefix is None:
            prefix = minutes[minute] = _minute_prefix(minute)
        fields[b"ts"] = prefix + _SECONDS[milli]
        if index:
            fields[b"rid"] = uuid()
        yield script.templates[index] % fields
        emitted += 1
        index += 1
        if index < len(script.templates):
            nxt = at - script.offsets[index - 1] + script.offsets[index]
            heapreplace(heap, (nxt, order, index, script, fields))
        else:
            heappop(heap)


def _open(path: Path, compress: bool, level: int) -> Any:
    if compress:
        return gzip.open(path, "wb", compresslevel=level)
    return path.open("wb")


def write_file(
    path: Path,
    n: int,
    seed: int = 0,
    start: datetime = DEFAULT_START,
    days: float = DEFAULT_DAYS,
    compress: bool = False,
    level: int = 1,
) -> int:
    """Write ``n`` records to ``path`` (gzip when ``compress``); return the JSON bytes.

    A thread does the writing (and compressing), which release the GIL, so it overlaps
    with generating the next chunk.
    """
    chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
    failure: list[BaseException] = []

    def drain() -> None:
        try:
            with _open(path, compress, level) as handle:
                while (data := chunks.get()) is not None:
                    handle.write(data)
        except BaseException as exc:
            failure.append(exc)
            while chunks.get() is not None:
                pass

    writer = threading.Thread(target=drain, name="lexgen-writer", daemon=True)
    writer.start()
    written = 0
    chunk: list[bytes] = []
    try:
        for line in records(n, seed, start, days):
            chunk.append(line)
            if len(chunk) >= 4096:
                data = b"".join(chunk)
                written += len(data)
                chunks.put(data)
                chunk = []
        data = b"".join(chunk)
        written += len(data)
        chunks.put(data)
    finally:
        chunks.put(None)
        writer.join()
    if failure:
        raise failure[0]
    return written


def _write_part(args: tuple[Path, int, int, datetime, float, bool, int]) -> int:
    return write_file(*args)


def write_dataset(
    folder: Path,
    n: int,
    files: int = 1,
    compress: bool = False,
    seed: int = 0,
    start: datetime = DEFAULT_START,
    days: float = DEFAULT_DAYS,
    jobs: int | None = None,
    level: int = 1,
) -> tuple[list[Path], int]:
    """``n`` records over ``files`` files, file i covering the i-th slice of the window.

    Returns the paths and the uncompressed bytes. Files are written in parallel
    (``jobs`` processes, default one per CPU) when there are several.
    """
    folder.mkdir(parents=True, exist_ok=True)
    files = max(1, min(files, max(n, 1)))
    suffix = ".jsonl.gz" if compress else ".jsonl"
    slice_days = days / files
    parts = []
    for i in range(files):
        count = n // files + (1 if i < n % files else 0)
        part_start = start + timedelta(days=slice_days * i)
        path = folder / f"lex-{i:05d}{suffix}"
        parts.append((path, count, seed * 100_003 + i, part_start, slice_days, compress, level))
    workers = min(files, jobs or os.cpu_count() or 1)
    if workers <= 1:
        sizes = [_write_part(p) for p in parts]
    else:
        with ProcessPoolExecutor(workers) as executor:
            sizes = list(executor.map(_write_part, parts))
    return [p[0] for p in parts], sum(sizes)


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="a .jsonl file, or a folder with --files")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=0, help="split over K files in OUTPUT/")
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--days", type=float, default=DEFAULT_DAYS)
    parser.add_argument("--start", default=DEFAULT_START.date().isoformat())
    args = parser.parse_args(argv)
    start = datetime.fromisoformat(args.start).replace(tzinfo=UTC)
    began = time.perf_counter()
    if args.files:
        paths, size = write_dataset(
            args.output, args.records, args.files, args.gzip, args.seed, start, args.days
        )
    else:
        size = write_file(args.output, args.records, args.seed, start, args.days, args.gzip)
        paths = [args.output]
    took = time.perf_counter() - began
    per_record = size / max(args.records, 1)
    out(
        f"{args.records:,} records ({size / 1e6:,.1f} MB of JSON, {per_record:,.0f} B/record)"
        f" in {len(paths)} file(s), {took:.2f} s, {args.records / took:,.0f} records/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
