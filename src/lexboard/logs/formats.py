"""The containers Lex logs arrive in: sniffing, and reading them into raw records.

Every reader yields :class:`RawRecord` (a parsed JSON value, its position, the
CloudWatch event time if any) or :class:`Unreadable` (a position and a reason). Readers
never raise for bad content: a truncated gzip, invalid UTF-8 or broken JSON becomes an
``Unreadable`` and reading goes on where it can.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

from lexboard.errors import SourceError
from lexboard.logs.record import parse_timestamp

FORMATS = ("jsonl", "json", "cloudwatch-events", "cloudwatch-export", "subscription")
RAW_START_CHARS = 200
SNIFF_BYTES = 64 * 1024
_EXPORT_LINE = re.compile(rb"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2}) \{")
_EVENTS_KEYS = re.compile(rb'^\s*\{\s*"(events|searchedLogStreams|nextToken|nextForwardToken)"')
_SUBSCRIPTION_KEYS = re.compile(rb'"messageType"\s*:\s*"(DATA|CONTROL)_MESSAGE"')
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class RawRecord:
    position: str
    value: Any
    event_ms: int | None = None


@dataclass(frozen=True)
class Unreadable:
    position: str
    reason: str
    raw_start: str = ""


Item = RawRecord | Unreadable


def raw_start(data: bytes | str) -> str:
    if isinstance(data, bytes):
        data = data[: RAW_START_CHARS * 4].decode("utf-8", errors="replace")
    return data[:RAW_START_CHARS]


def is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def open_bytes(path: Path) -> IO[bytes]:
    if is_gzip(path):
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def read_head(path: Path) -> bytes:
    """The first bytes of the (decompressed) file; as much as can be had when it is corrupt."""
    chunks: list[bytes] = []
    with open_bytes(path) as handle:
        try:
            while sum(len(c) for c in chunks) < SNIFF_BYTES and (chunk := handle.read(4096)):
                chunks.append(chunk)
        except (EOFError, OSError, zlib.error):
            pass
    return b"".join(chunks)


def sniff(path: Path) -> str | None:
    """The format of ``path``, or None for an empty or binary file."""
    head = read_head(path).lstrip(b"\xef\xbb\xbf")
    stripped = head.lstrip()
    if not stripped:
        return None
    # A NUL byte means binary, unless the file starts like JSON Lines: then one garbage
    # line must not cost the good lines around it (each bad line is quarantined).
    if b"\0" in head[:8192] and not stripped.startswith(b"{"):
        return None
    if stripped.startswith(b"["):
        return "json"
    if _EXPORT_LINE.match(stripped):
        return "cloudwatch-export"
    if _SUBSCRIPTION_KEYS.search(head[:4096]) and b'"logEvents"' in head:
        return "subscription"
    if _EVENTS_KEYS.match(stripped):
        return "cloudwatch-events"
    return "jsonl"


def _lines(path: Path) -> Iterator[tuple[int, bytes] | Unreadable]:
    number = 0
    with open_bytes(path) as handle:
        try:
            for number, line in enumerate(handle, start=1):
                yield number, line
        except (EOFError, OSError, zlib.error) as exc:
            yield Unreadable(f"line {number + 1}", f"file is truncated or corrupt ({exc})")


def _whole(path: Path) -> tuple[bytes, Unreadable | None]:
    chunks: list[bytes] = []
    with open_bytes(path) as handle:
        try:
            while chunk := handle.read(1 << 20):
                chunks.append(chunk)
        except (EOFError, OSError, zlib.error) as exc:
            size = sum(len(c) for c in chunks)
            return b"".join(chunks), Unreadable(
                f"byte {size}", f"file is truncated or corrupt ({exc})"
            )
    return b"".join(chunks), None


def _parse(data: bytes) -> tuple[Any, str | None]:
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 BOM (Windows editors) is not an error
    try:
        return orjson.loads(data), None
    except orjson.JSONDecodeError as exc:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None, "not valid UTF-8 text"
        return None, f"not valid JSON ({exc})"


def _values(text: str, start: int = 0) -> Iterator[tuple[int, Any] | Unreadable]:
    """Concatenated JSON values (Firehose writes objects back to back), tolerantly."""
    decoder = json.JSONDecoder()
    index, count, end = start, 0, len(text)
    while True:
        while index < end and text[index] in " \t\r\n,\ufeff":
            index += 1
        if index >= end or text[index] == "]":
            return
        count += 1
        try:
            value, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            yield Unreadable(f"item {count}", f"not valid JSON ({exc.msg})", text[index:][:200])
            return
        yield count, value


def read_jsonl(path: Path) -> Iterator[Item]:
    for entry in _lines(path):
        if isinstance(entry, Unreadable):
            yield entry
            continue
        number, line = entry
        if not line.strip():
            continue
        value, problem = _parse(line.rstrip(b"\r\n"))  # a cut line: "unexpected end"
        if problem:
            yield Unreadable(f"line {number}", problem, raw_start(line))
        else:
            yield RawRecord(f"line {number}", value)


def read_json_array(path: Path) -> Iterator[Item]:
    data, truncated = _whole(path)
    value, problem = _parse(data)
    if problem is None and isinstance(value, list):
        for number, item in enumerate(value, start=1):
            yield RawRecord(f"item {number}", item)
    elif problem is None:
        yield RawRecord("item 1", value)
    else:
        text = data.decode("utf-8", errors="replace")
        body = text.lstrip("\ufeff \t\r\n")  # values back to back when it is not an array
        opening = len(text) - len(body) if body.startswith("[") else -1
        for entry in _values(text, opening + 1):
            if isinstance(entry, Unreadable):
                yield entry
            else:
                yield RawRecord(f"item {entry[0]}", entry[1])
    if truncated:
        yield truncated


def _event_ms(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _events(events: Any, where: str) -> Iterator[Item]:
    if not isinstance(events, list):
        yield Unreadable(where, "no events list in this CloudWatch Logs document")
        return
    for number, event in enumerate(events, start=1):
        if not isinstance(event, dict) or not isinstance(event.get("message"), str):
            yield Unreadable(f"{where}event {number}", "log event without a message", "")
            continue
        event_id = event.get("eventId") or event.get("id") or number
        position = f"{where}event {event_id}"
        message = event["message"]
        value, problem = _parse(message.encode("utf-8", errors="surrogatepass"))
        if problem:
            yield Unreadable(position, "message is " + problem, raw_start(message))
        else:
            yield RawRecord(position, value, _event_ms(event.get("timestamp")))


def read_cloudwatch_events(path: Path) -> Iterator[Item]:
    """Saved output of ``aws logs filter-log-events`` / ``get-log-events`` (maybe several)."""
    data, truncated = _whole(path)
    value, problem = _parse(data)
    documents: list[tuple[int, Any] | Unreadable]
    if problem is None:
        documents = [(1, value)]
    else:
        documents = list(_values(data.decode("utf-8", errors="replace")))
    for doc in documents:
        if isinstance(doc, Unreadable):
            yield doc
            continue
        number, value = doc
        where = f"page {number} " if len(documents) > 1 else ""
        events = value.get("events") if isinstance(value, dict) else None
        yield from _events(events, where)
    if truncated:
        yield truncated


def read_subscription(path: Path) -> Iterator[Item]:
    """CloudWatch Logs subscription envelopes, one or several back to back (Firehose)."""
    data, truncated = _whole(path)
    yield from subscription_items(data)
    if truncated:
        yield truncated


def subscription_items(data: bytes) -> Iterator[Item]:
    value, problem = _parse(data)
    documents = (
        [(1, value)] if problem is None else list(_values(data.decode("utf-8", errors="replace")))
    )
    for doc in documents:
        if isinstance(doc, Unreadable):
            yield doc
            continue
        number, envelope = doc
        if not isinstance(envelope, dict) or "logEvents" not in envelope:
            kind = envelope.get("messageType") if isinstance(envelope, dict) else None
            if kind == "CONTROL_MESSAGE":
                continue
            yield Unreadable(f"object {number}", "not a CloudWatch Logs subscription message")
            continue
        if envelope.get("messageType") == "CONTROL_MESSAGE":
            continue
        stream = envelope.get("logStream")
        where = f"object {number} " + (f"{stream} " if isinstance(stream, str) else "")
        yield from _events(envelope.get("logEvents"), where)


def read_cloudwatch_export(path: Path) -> Iterator[Item]:
    """CloudWatch export-to-S3 objects: ``<ISO timestamp> <message JSON>`` per line."""
    for entry in _lines(path):
        if isinstance(entry, Unreadable):
            yield entry
            continue
        number, line = entry
        if not line.strip():
            continue
        stamp, _, message = line.partition(b" ")
        ts = parse_timestamp(stamp.decode("ascii", errors="replace"))
        value, problem = _parse(message.rstrip(b"\r\n"))
        if ts is None or problem:
            reason = "line does not start with an ISO-8601 timestamp"
            reason = problem if ts is not None and problem else reason
            yield Unreadable(f"line {number}", reason, raw_start(line))
            continue
        yield RawRecord(f"line {number}", value, _millis(ts))


def _millis(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


READERS = {
    "jsonl": read_jsonl,
    "json": read_json_array,
    "cloudwatch-events": read_cloudwatch_events,
    "cloudwatch-export": read_cloudwatch_export,
    "subscription": read_subscription,
}


def read_items(path: Path, fmt: str | None = None) -> Iterator[Item]:
    """Every item of one file; ``fmt`` None sniffs it."""
    if fmt is not None and fmt not in READERS:
        raise SourceError(f"unknown format {fmt!r}", hint="formats: " + ", ".join(FORMATS))
    try:
        chosen = fmt or sniff(path)
    except OSError as exc:
        yield Unreadable("file", f"cannot read: {exc.strerror or exc}")
        return
    if chosen is None:
        head = read_head(path)
        if head.strip():
            yield Unreadable("file", "binary data, not Lex conversation logs", raw_start(head))
        elif is_gzip(path) and (broken := _whole(path)[1]) is not None:
            yield Unreadable("file", "gzip " + broken.reason)
        else:
            yield Unreadable("file", "empty file: no records")
        return
    try:
        yield from READERS[chosen](path)
    except OSError as exc:
        yield Unreadable("file", f"cannot read: {exc.strerror or exc}")
