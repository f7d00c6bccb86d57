"""Writing simulated records the way Lex logs reach users (see LEX_V2_LOGS.md).

* ``jsonl``: one JSON Lines file per UTC day, ``<bot>-YYYY-MM-DD.jsonl``.
* ``json``: one JSON array per UTC day, ``<bot>-YYYY-MM-DD.json``.
* ``cloudwatch-events``: what ``aws logs filter-log-events`` prints, saved to a file per
  UTC day, ``<bot>-YYYY-MM-DD.events.json``: ``{"events": [{logStreamName, timestamp,
  message, ingestionTime, eventId}], "searchedLogStreams": [...]}``.
* ``cloudwatch-export``: what ``CreateExportTask`` leaves in S3,
  ``<task-id>/<log-stream>/000000.gz`` … with ``<ISO timestamp> <message>`` lines.
* ``subscription``: what a subscription filter → Firehose delivers to S3,
  ``YYYY/MM/DD/HH/<stream>-1-<time>-<id>.gz``: gzip members, one per CloudWatch Logs
  envelope ``{messageType: "DATA_MESSAGE", …, logEvents: [{id, timestamp, message}]}``,
  back to back.

Output is byte-identical for the same records: gzip headers carry no time or name, and
every identifier (task id, stream, event id) is derived from the records and a label.
"""

from __future__ import annotations

import gzip
import io
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from lexboard.logs.record import parse_timestamp
from lexboard.sample.simulate import iso_ms, random_uuid

LOG_GROUP = "/aws/lex/BankingBot"
STREAMS = 3
EXPORT_LINES_PER_OBJECT = 10_000
EVENTS_PER_ENVELOPE = 40
OWNER = "123456789012"
_FIREHOSE_STREAM = "lexboard-sample-firehose"


@dataclass
class Written:
    files: list[Path] = field(default_factory=list)
    records: int = 0


def _gzip_writer(path: Path) -> tuple[IO[bytes], gzip.GzipFile]:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = path.open("wb")
    return raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)


def _gzip_member(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=6) as gz:
        gz.write(data)
    return buffer.getvalue()


def _epoch_ms(record: dict[str, Any]) -> int:
    ts = parse_timestamp(record.get("timestamp"))
    assert ts is not None
    return int(ts.timestamp() * 1000 + 0.5)


def stream_name(index: int) -> str:
    return f"lex-conversation-logs-{index}"


def write_records(
    records: Iterable[dict[str, Any]], out: Path, fmt: str, label: str, bot_name: str
) -> Written:
    """Write ``records`` (in timestamp order) under ``out`` in format ``fmt``."""
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        return _write_jsonl(records, out, bot_name)
    if fmt == "json":
        return _write_daily(records, out, f"{bot_name.lower()}-{{day}}.json", _json_array)
    rng = random.Random(f"lexboard-sample-files:{label}")
    if fmt == "cloudwatch-events":
        return _write_daily(
            records, out, f"{bot_name.lower()}-{{day}}.events.json", _filter_log_events(rng)
        )
    if fmt == "cloudwatch-export":
        return _write_export(records, out, rng)
    if fmt == "subscription":
        return _write_subscription(records, out, rng)
    raise ValueError(f"unknown sample format {fmt!r}")


def _write_jsonl(records: Iterable[dict[str, Any]], out: Path, bot_name: str) -> Written:
    written = Written()
    handle: IO[bytes] | None = None
    day = None
    try:
        for record in records:
            stamp = str(record["timestamp"])[:10]
            if stamp != day:
                if handle is not None:
                    handle.close()
                day = stamp
                path = out / f"{bot_name.lower()}-{day}.jsonl"
                handle = path.open("wb")
                written.files.append(path)
            assert handle is not None
            handle.write(orjson.dumps(record) + b"\n")
            written.records += 1
    finally:
        if handle is not None:
            handle.close()
    return written


def _write_daily(
    records: Iterable[dict[str, Any]],
    out: Path,
    name: str,
    document: Callable[[list[dict[str, Any]]], bytes],
) -> Written:
    """One file per UTC day (``name`` with its ``{day}``), holding ``document(day's records)``."""
    written = Written()
    day: str | None = None
    todays: list[dict[str, Any]] = []

    def flush() -> None:
        if day is not None:
            path = out / name.format(day=day)
            path.write_bytes(document(todays))
            written.files.append(path)

    for record in records:
        stamp = str(record["timestamp"])[:10]
        if stamp != day:
            flush()
            day, todays = stamp, []
        todays.append(record)
        written.records += 1
    flush()
    return written


def _json_array(records: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(records, option=orjson.OPT_INDENT_2) + b"\n"


def _filter_log_events(rng: random.Random) -> Callable[[list[dict[str, Any]]], bytes]:
    """The AWS CLI's output for a day's events over the group's streams (pages merged)."""

    def document(records: list[dict[str, Any]]) -> bytes:
        events = []
        sequences = [0] * STREAMS
        for record in records:
            stream = rng.randrange(STREAMS)
            ms = _epoch_ms(record)
            events.append(
                {
                    "logStreamName": stream_name(stream),
                    "timestamp": ms,
                    "message": orjson.dumps(record).decode(),
                    "ingestionTime": ms + rng.randrange(200, 3000),
                    "eventId": event_id(ms, stream, sequences[stream]),
                }
            )
            sequences[stream] += 1
        searched = [
            {"logStreamName": stream_name(s), "searchedCompletely": True} for s in range(STREAMS)
        ]
        return (
            orjson.dumps(
                {"events": events, "searchedLogStreams": searched}, option=orjson.OPT_INDENT_2
            )
            + b"\n"
        )

    return document


def _write_export(records: Iterable[dict[str, Any]], out: Path, rng: random.Random) -> Written:
    written = Written()
    task = out / random_uuid(rng)
    open_files: dict[int, tuple[IO[bytes], gzip.GzipFile]] = {}
    lines = [0] * STREAMS
    objects = [0] * STREAMS
    try:
        for record in records:
            stream = rng.randrange(STREAMS)
            if stream not in open_files or lines[stream] >= EXPORT_LINES_PER_OBJECT:
                if stream in open_files:
                    raw, gz = open_files.pop(stream)
                    gz.close()
                    raw.close()
                    objects[stream] += 1
                path = task / stream_name(stream) / f"{objects[stream]:06d}.gz"
                open_files[stream] = _gzip_writer(path)
                written.files.append(path)
                lines[stream] = 0
            message = orjson.dumps(record)
            open_files[stream][1].write(str(record["timestamp"]).encode() + b" " + message + b"\n")
            lines[stream] += 1
            written.records += 1
    finally:
        for raw, gz in open_files.values():
            gz.close()
            raw.close()
    written.files.sort()
    return written


def _write_subscription(
    records: Iterable[dict[str, Any]], out: Path, rng: random.Random
) -> Written:
    """One S3 object per UTC hour, holding that hour's envelopes (several per stream)."""
    written = Written()
    hour_key: str | None = None
    hour_events: list[list[tuple[int, dict[str, Any]]]] = [[] for _ in range(STREAMS)]

    def flush() -> None:
        if hour_key is None:
            return
        envelopes: list[tuple[int, int, bytes]] = []
        for stream, events in enumerate(hour_events):
            for start in range(0, len(events), EVENTS_PER_ENVELOPE):
                chunk = events[start : start + EVENTS_PER_ENVELOPE]
                envelope = {
                    "messageType": "DATA_MESSAGE",
                    "owner": OWNER,
                    "logGroup": LOG_GROUP,
                    "logStream": stream_name(stream),
                    "subscriptionFilters": ["lexboard-sample"],
                    "logEvents": [
                        {
                            "id": event_id(ms, stream, seq),
                            "timestamp": ms,
                            "message": orjson.dumps(rec).decode(),
                        }
                        for seq, (ms, rec) in enumerate(chunk, start=start)
                    ],
                }
                envelopes.append((chunk[0][0], stream, _gzip_member(orjson.dumps(envelope))))
        envelopes.sort(key=lambda item: (item[0], item[1]))
        last_ms = max(events[-1][0] for events in hour_events if events)
        delivered = iso_ms(last_ms + 60_000)
        y, mo, d, h = delivered[:4], delivered[5:7], delivered[8:10], delivered[11:13]
        name = (
            f"{_FIREHOSE_STREAM}-1-{y}-{mo}-{d}-{h}-{delivered[14:16]}-{delivered[17:19]}-"
            f"{random_uuid(rng)}.gz"
        )
        path = out / y / mo / d / h / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(member for _, _, member in envelopes))
        written.files.append(path)

    for record in records:
        ms = _epoch_ms(record)
        key = str(record["timestamp"])[:13]
        if key != hour_key:
            flush()
            hour_key = key
            hour_events = [[] for _ in range(STREAMS)]
        hour_events[rng.randrange(STREAMS)].append((ms, record))
        written.records += 1
    flush()
    return written


def event_id(ms: int, stream: int, sequence: int) -> str:
    """A CloudWatch Logs event id: 56 decimal digits, unique and in time order."""
    return f"{ms:020d}{stream:04d}{sequence:032d}"


def append_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Append records to a JSON Lines file (flushed), return how many."""
    lines = [orjson.dumps(record) + b"\n" for record in records]
    if lines:
        with path.open("ab") as handle:
            handle.write(b"".join(lines))  # one write: an interrupt never splits a batch
    return len(lines)
