"""Writes the sample log files under tests/cases/ (run once: `python tests/cases/make_cases.py`).

The output is committed; this script documents how each sample was made and can
regenerate the same bytes (seeded, gzip mtime 0). `manifest.json` lists, per file, the
records it holds (position and requestId, in reading order) so tests need no reader of
their own to know what a file should give.

good/  one file per format lexboard reads, each a few realistic turns of one bot.
bad/   broken inputs, each with good records around the bad ones where that makes sense.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
RNG = random.Random(20261102)

BOT = {
    "id": "QGAUBMHN9B",
    "name": "BankingBot",
    "aliasId": "TSTALIASID",
    "aliasName": "TestBotAlias",
    "version": "DRAFT",
    "localeId": "en_US",
}
LOG_GROUP = "/aws/lex/BankingBot/TestBotAlias"
ACCOUNT = "123456789012"


def new_uuid() -> str:
    return str(uuid.UUID(int=RNG.getrandbits(128), version=4))


def event_id() -> str:
    """CloudWatch Logs event ids are 56 decimal digits."""
    return "".join(RNG.choice("0123456789") for _ in range(56))


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def millis(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def slot(value: str, interpreted: str | None = None) -> dict[str, Any]:
    interpreted = interpreted or value
    return {
        "shape": "Scalar",
        "value": {
            "originalValue": value,
            "interpretedValue": interpreted,
            "resolvedValues": [interpreted],
        },
    }


def sentiment(label: str) -> dict[str, Any]:
    scores = {"POSITIVE": 0.01, "NEGATIVE": 0.01, "NEUTRAL": 0.01, "MIXED": 0.0}
    scores[label] = 0.97
    return {
        "sentiment": label,
        "sentimentScore": {k.lower(): v for k, v in scores.items()},
    }


def turn(
    ts: datetime,
    session_id: str,
    origin: str,
    text: str,
    intent: str,
    state: str,
    action: dict[str, Any],
    slots: dict[str, Any],
    confidence: str | None,
    reply: str,
    alternatives: tuple[tuple[str, str], ...] = (),
    missed: bool = False,
    mood: str = "NEUTRAL",
    attributes: dict[str, str] | None = None,
    mode: str = "Text",
) -> dict[str, Any]:
    top: dict[str, Any] = {
        "intent": {
            "name": intent,
            "slots": slots,
            "state": state,
            "confirmationState": "None",
        },
        "sentimentResponse": sentiment(mood),
        "interpretationSource": "Lex",
    }
    if confidence is not None:  # FallbackIntent carries no nluConfidence
        top["nluConfidence"] = confidence
    interpretations = [top] + [
        {
            "intent": {"name": name, "slots": {}},
            "nluConfidence": score,
            "interpretationSource": "Lex",
        }
        for name, score in alternatives
    ]
    record: dict[str, Any] = {
        "messageVersion": "2.0",
        "bot": dict(BOT),
        "messages": [{"contentType": "PlainText", "content": reply}],
        "utteranceContext": {
            "inputMode": mode,
            "activeContexts": [],
            "runtimeHints": {},
            "slotElicitationStyle": "Default",
        },
        "sessionState": {
            "dialogAction": action,
            "intent": {
                "name": intent,
                "slots": slots,
                "state": state,
                "confirmationState": "None",
            },
            "sessionAttributes": attributes or {},
            "originatingRequestId": origin,
        },
        "interpretations": interpretations,
        "sessionId": session_id,
        "inputTranscript": text,
        "rawInputTranscript": text,
        "missedUtterance": missed,
        "requestId": new_uuid(),
        "timestamp": iso(ts),
        "developerOverride": False,
        "inputMode": mode,
        "requestAttributes": {},
        "operationName": "RecognizeUtterance" if mode == "Speech" else "RecognizeText",
        "responseReason": "UtteranceResponse",
    }
    if mode == "Speech":
        record["transcriptions"] = [
            {
                "transcription": text,
                "transcriptionConfidence": 0.94,
                "resolvedContext": {"intent": intent},
                "resolvedSlots": {},
            }
        ]
        record["audioProperties"] = {  # audio logging is on for this alias
            "contentType": "audio/x-l16; sample-rate=16000; channel-count=1",
            "s3Path": f"s3://bankingbot-audio-logs/{BOT['id']}/{record['requestId']}.wav",
            "duration": {"total": 2140, "voice": 1610, "silence": 530},
        }
    return record


def conversation(start: datetime, kind: int) -> list[dict[str, Any]]:
    """One conversation of 1 to 4 turns; ``kind`` picks the story."""
    session_id = f"{RNG.randrange(10**11, 10**12)}"
    origin = new_uuid()
    at = start
    out: list[dict[str, Any]] = []
    connect = {"Channel": "CHAT", "ContactId": new_uuid()} if kind % 2 else {}

    def step(seconds: float) -> datetime:
        nonlocal at
        at = at + timedelta(seconds=seconds, milliseconds=RNG.randrange(1000))
        return at

    elicit = {"type": "ElicitSlot", "slotToElicit": "accountType"}
    close = {"type": "Close"}
    if kind % 3 == 0:  # balance: elicit, fill, fulfil
        out.append(
            turn(
                step(0),
                session_id,
                origin,
                "what's my balance",
                "CheckBalance",
                "InProgress",
                elicit,
                {"accountType": None},
                "0.92",
                "Which account: checking or savings?",
                (("TransferFunds", "0.31"),),
                attributes=connect,
            )
        )
        out.append(
            turn(
                step(6),
                session_id,
                origin,
                "checking",
                "CheckBalance",
                "Fulfilled",
                close,
                {"accountType": slot("checking", "Checking")},
                "1.0",
                "Your checking balance is $1,204.33.",
                attributes=connect,
            )
        )
    elif kind % 3 == 1:  # a miss, then a transfer
        out.append(
            turn(
                step(0),
                session_id,
                origin,
                "can i talk to a human",
                "FallbackIntent",
                "ReadyForFulfillment",
                close,
                {},
                None,
                "Sorry, I did not understand. You can check a balance or move money.",
                (("CheckBalance", "0.41"), ("TransferFunds", "0.12")),
                missed=True,
                mood="NEGATIVE",
                attributes=connect,
            )
        )
        out.append(
            turn(
                step(9),
                session_id,
                origin,
                "move $50 to savings",
                "TransferFunds",
                "InProgress",
                {"type": "ConfirmIntent"},
                {
                    "amount": slot("$50", "50"),
                    "targetAccount": slot("savings", "Savings"),
                },
                "0.88",
                "Move $50 to savings?",
                (("CheckBalance", "0.20"),),
                attributes=connect,
            )
        )
    else:  # speech: a fulfilled balance in one go
        out.append(
            turn(
                step(0),
                session_id,
                origin,
                "savings balance please",
                "CheckBalance",
                "Fulfilled",
                close,
                {"accountType": slot("savings", "Savings")},
                "0.97",
                "Your savings balance is $8,020.00.",
                mood="POSITIVE",
                mode="Speech",
                attributes={"Channel": "VOICE", "ContactId": new_uuid()},
            )
        )
    return out


def records(count: int, start: datetime) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    kind = RNG.randrange(3)
    while len(out) < count:
        out.extend(conversation(start, kind))
        start += timedelta(minutes=RNG.randrange(3, 40))
        kind += 1
    return out[:count]


def dumps(record: Any) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def gz(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as handle:
        handle.write(data)
    return buffer.getvalue()


def jsonl(recs: list[Any]) -> bytes:
    return "".join(dumps(r) + "\n" for r in recs).encode("utf-8")


def lines_manifest(recs: list[dict[str, Any]], first_line: int = 1) -> list[list[str]]:
    return [[f"line {first_line + i}", r["requestId"]] for i, r in enumerate(recs)]


def main() -> None:
    manifest: dict[str, Any] = {}
    good = HERE / "good"
    bad = HERE / "bad"
    good.mkdir(exist_ok=True)
    bad.mkdir(exist_ok=True)
    day = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)

    def put(name: str, data: bytes, fmt: str | None, entries: list[list[str]], **extra: Any):
        path = HERE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        manifest[name] = {"format": fmt, "records": entries, **extra}

    # --- good ------------------------------------------------------------------------
    recs = records(6, day)
    put("good/bankingbot-2026-11-02.jsonl", jsonl(recs), "jsonl", lines_manifest(recs))

    recs = records(5, day + timedelta(hours=2))
    put("good/bankingbot-2026-11-02.jsonl.gz", gz(jsonl(recs)), "jsonl", lines_manifest(recs))

    recs = records(4, day + timedelta(hours=4))
    put(
        "good/bankingbot-array.json",
        json.dumps(recs, indent=2, ensure_ascii=False).encode() + b"\n",
        "json",
        [[f"item {i + 1}", r["requestId"]] for i, r in enumerate(recs)],
    )

    recs = records(4, day + timedelta(hours=6))
    events = []
    for i, r in enumerate(recs):
        ts = millis(datetime.fromisoformat(r["timestamp"]))
        events.append(
            {
                "logStreamName": f"lex-conversation-logs-{i % 2}",
                "timestamp": ts,
                "message": dumps(r),
                "ingestionTime": ts + 412,
                "eventId": event_id(),
            }
        )
    page = {
        "events": events,
        "searchedLogStreams": [],
        "nextToken": "Bxkq6kVGFtq2y_MoigeqscPOdhXVbhiVtLoAmXb5jCrI7fXLrOB5HxxHVBL4Mm9oGyKj",
    }
    put(
        "good/filter-log-events.json",
        json.dumps(page, indent=4).encode() + b"\n",
        "cloudwatch-events",
        [[f"event {e['eventId']}", r["requestId"]] for e, r in zip(events, recs, strict=True)],
    )

    recs = records(4, day + timedelta(hours=8))
    lines = []
    for r in recs:
        lines.append(f"{r['timestamp']} {dumps(r)}\n")
    put(
        "good/export/6b1f3e2a-0d4c-4e52-9a63-1f0d2c6b8e11/lex-conversation-logs-0/000000.gz",
        gz("".join(lines).encode()),
        "cloudwatch-export",
        lines_manifest(recs),
    )

    # Firehose S3 object: CloudWatch Logs gzips each envelope; Firehose writes them back
    # to back (concatenated gzip members), with a CONTROL_MESSAGE from filter creation.
    recs = records(5, day + timedelta(hours=10))
    envelopes: list[dict[str, Any]] = []
    split = [recs[:3], recs[3:]]
    for number, chunk in enumerate(split):
        envelopes.append(
            {
                "messageType": "DATA_MESSAGE",
                "owner": ACCOUNT,
                "logGroup": LOG_GROUP,
                "logStream": f"lex-conversation-logs-{number}",
                "subscriptionFilters": ["lexboard-firehose"],
                "logEvents": [
                    {
                        "id": event_id(),
                        "timestamp": millis(datetime.fromisoformat(r["timestamp"])),
                        "message": dumps(r),
                    }
                    for r in chunk
                ],
            }
        )
    control = {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [
            {
                "id": "",
                "timestamp": millis(day),
                "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
            }
        ],
    }
    objects = [envelopes[0], control, envelopes[1]]
    entries = []
    chunks = iter(split)
    for number, envelope in enumerate(objects, start=1):
        if envelope["messageType"] != "DATA_MESSAGE":
            continue
        for event, rec in zip(envelope["logEvents"], next(chunks), strict=True):
            where = f"object {number} {envelope['logStream']} event {event['id']}"
            entries.append([where, rec["requestId"]])
    put(
        "good/firehose/lexboard-stream-1-2026-11-02-18-00-00-4f2c.gz",
        b"".join(gz(dumps(o).encode()) for o in objects),
        "subscription",
        entries,
    )

    # --- bad -------------------------------------------------------------------------
    recs = records(5, day + timedelta(days=1))
    text = [dumps(r) for r in recs]
    text[2] = text[2][: len(text[2]) // 2]  # a writer cut off mid-record
    put(
        "bad/truncated-line.jsonl",
        ("\n".join(text) + "\n").encode(),
        "jsonl",
        lines_manifest(recs[:2]) + lines_manifest(recs[3:], 4),
        bad=["line 3"],
    )

    recs = records(4, day + timedelta(days=2))
    garbage = bytes(RNG.randrange(256) for _ in range(300)).replace(b"\n", b"\x00")
    data = jsonl(recs[:2]) + garbage + b"\n" + jsonl(recs[2:])
    put(
        "bad/garbage-line.jsonl",
        data,
        "jsonl",
        lines_manifest(recs[:2]) + lines_manifest(recs[2:], 4),
        bad=["line 3"],
    )

    put(
        "bad/core-dump.bin",
        b"\x7fELF\x02\x01\x01\x00" + bytes(RNG.randrange(256) for _ in range(2040)),
        None,
        [],
        bad=["file"],
    )

    recs = records(3, day + timedelta(days=3))
    recs[1]["inputTranscript"] = recs[1]["rawInputTranscript"] = "solde du compte chèque"
    latin = dumps(recs[1]).encode("latin-1")  # written by a tool that was not UTF-8
    data = jsonl(recs[:1]) + latin + b"\n" + jsonl(recs[2:])
    put(
        "bad/invalid-utf8.jsonl",
        data,
        "jsonl",
        lines_manifest(recs[:1]) + lines_manifest(recs[2:], 3),
        bad=["line 2"],
    )

    put(
        "bad/numbers.json",
        b"[1, 2, 3]\n",
        "json",
        [],
        bad=["item 1", "item 2", "item 3"],
    )

    recs = records(3, day + timedelta(days=4))
    other = {
        "eventVersion": "1.08",
        "eventSource": "lex.amazonaws.com",
        "eventName": "RecognizeText",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-06T08:00:00Z",
        "requestParameters": {"botId": BOT["id"], "localeId": "en_US"},
    }
    put(
        "bad/not-lex.jsonl",
        jsonl([recs[0], other, *recs[1:]]),
        "jsonl",
        lines_manifest(recs[:1]) + lines_manifest(recs[1:], 3),
        bad=["line 2"],
    )

    recs = records(2, day + timedelta(days=5))
    v1 = {
        "messageVersion": "1.0",
        "botName": "BankingBot",
        "botAlias": "Prod",
        "botVersion": "3",
        "inputTranscript": "what's my balance",
        "botResponse": "Which account: checking or savings?",
        "intent": "CheckBalance",
        "slots": {"accountType": None},
        "missedUtterance": False,
        "inputDialogMode": "Text",
        "requestId": new_uuid(),
        "s3PathForAudio": "",
        "userId": "user-4242",
        "sessionAttributes": {},
        "dialogState": "ElicitSlot",
        "slotToElicit": "accountType",
    }
    put(
        "bad/lex-v1.jsonl",
        jsonl([recs[0], v1, recs[1]]),
        "jsonl",
        lines_manifest(recs[:1]) + lines_manifest(recs[1:], 3),
        bad=["line 2"],
    )

    put("bad/empty.jsonl", b"", None, [], bad=["file"])

    recs = records(40, day + timedelta(days=6))
    whole = gz(jsonl(recs))
    cut = whole[: len(whole) * 3 // 5]
    recoverable = zlib.decompressobj(31).decompress(cut)
    complete = recoverable.count(b"\n")
    put(
        "bad/truncated.jsonl.gz",
        cut,
        "jsonl",
        lines_manifest(recs[:complete]),
        bad=[f"line {complete + 1}"],
    )

    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
