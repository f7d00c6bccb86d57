"""``POST /ingest/firehose``: Kinesis Data Firehose HTTP-endpoint deliveries.

A CloudWatch Logs subscription filter on the bot's log group feeds a Firehose stream
whose destination is this endpoint (through an HTTPS reverse proxy: Firehose delivers
only to HTTPS). Each delivery is ``{"requestId", "timestamp", "records": [{"data"}]}``;
each ``data`` is base64 of a gzip'd subscription envelope (or, when the stream
decompresses or extracts messages, of the envelope or the Lex record itself).

- The endpoint exists only when the ``firehose_access_key`` setting is set (404
  otherwise). The ``X-Amz-Firehose-Access-Key`` header is compared with it in constant
  time: missing → 401, wrong → 403. The key is not a user login (DESIGN decision 6):
  the path is exempt from user authentication and takes this key instead.
- The body is bounded (``MAX_BODY_BYTES``, checked on ``Content-Length`` before reading
  and again while reading; also after ``Content-Encoding: gzip``). A body that is not a
  Firehose delivery (not JSON, no ``records`` list, a ``data`` that is not base64) gets a
  4xx and nothing is stored. Problems inside well-formed records (corrupt gzip, a bad
  Lex record) are quarantined, as in every other source, and the rest is stored.
- Success is ``{"requestId", "timestamp"}`` with HTTP 200, as Firehose expects; errors add
  ``errorMessage``. Firehose retries until it gets a 200: a retried delivery stores
  nothing twice (turns are keyed by Lex's ``requestId``).
- Records go through the server's single writer, into one long-lived ingest run whose
  source label is ``firehose`` (its counts, last event and lag show in ``/api/status``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from lexboard.logs.formats import Item, RawRecord, Unreadable, subscription_items
from lexboard.server import api
from lexboard.server.state import ServerState
from lexboard.store.ingest import Ingestor, SourceStats

PATH = "/ingest/firehose"
LABEL = "firehose"
# Firehose buffers up to 64 MiB of records; base64 and JSON add a third on the wire.
MAX_BODY_BYTES = 96 << 20
ACCESS_KEY_HEADER = "x-amz-firehose-access-key"
REQUEST_ID_HEADER = "x-amz-firehose-request-id"
_GZIP_MAGIC = b"\x1f\x8b"

router = APIRouter()
_sink_lock = threading.Lock()


class _Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _now_ms() -> int:
    return int(time.time() * 1000)


def _reply(request_id: str, status: int = 200, error: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"requestId": request_id, "timestamp": _now_ms()}
    if error is not None:
        body["errorMessage"] = error
    return JSONResponse(body, status_code=status)


@router.post(PATH)
async def deliver(request: Request) -> Response:
    state = api.state_of(request)
    key = state.settings.values.get("firehose_access_key")
    if not key:
        return api.error_response(404, "not found")
    request_id = request.headers.get(REQUEST_ID_HEADER, "")
    given = request.headers.get(ACCESS_KEY_HEADER)
    if given is None:
        return _reply(request_id, 401, f"missing {ACCESS_KEY_HEADER} header")
    if not hmac.compare_digest(given.encode("utf-8"), str(key).encode("utf-8")):
        return _reply(request_id, 403, "wrong access key")
    try:
        body = await _read_body(request)
        body_id, items = await run_in_threadpool(_decode, body)
    except _Rejected as exc:
        return _reply(request_id, exc.status, exc.message)
    request_id = body_id or request_id
    if items:
        try:
            await run_in_threadpool(_store, request, state, items)
        except Exception as exc:  # Firehose retries a 5xx: nothing is lost
            _health(state, f"{type(exc).__name__}: {exc}")
            return _reply(request_id, 500, f"cannot store the records: {exc}")
    _health(state, None)
    return _reply(request_id)


async def _read_body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None:
        try:
            size = int(length)
        except ValueError:
            raise _Rejected(400, "Content-Length is not a number") from None
        if size > MAX_BODY_BYTES:
            limit = MAX_BODY_BYTES >> 20
            raise _Rejected(413, f"body of {size} bytes is over the {limit} MiB limit")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_BODY_BYTES:
            raise _Rejected(413, f"body is over the {MAX_BODY_BYTES >> 20} MiB limit")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        return _gunzip(body, "body")
    if encoding not in ("", "identity"):
        raise _Rejected(415, f"Content-Encoding {encoding!r} is not supported (gzip or none)")
    return body


def _gunzip(data: bytes, what: str) -> bytes:
    """Every gzip member of ``data``, at most MAX_BODY_BYTES out (a bomb is refused)."""
    out: list[bytes] = []
    total = 0
    while data:
        inflater = zlib.decompressobj(wbits=31)
        try:
            chunk = inflater.decompress(data, MAX_BODY_BYTES + 1 - total)
        except zlib.error as exc:
            raise _Rejected(400, f"{what} is not valid gzip ({exc})") from None
        total += len(chunk)
        out.append(chunk)
        if total > MAX_BODY_BYTES or inflater.unconsumed_tail:
            raise _Rejected(413, f"{what} is over the {MAX_BODY_BYTES >> 20} MiB limit unzipped")
        if not inflater.eof:
            raise _Rejected(400, f"{what} is truncated gzip")
        data = inflater.unused_data
    return b"".join(out)


def _decode(body: bytes) -> tuple[str, list[Item]]:
    """The delivery's requestId and its items; _Rejected when it is not a delivery."""
    try:
        delivery = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _Rejected(400, "body is not JSON: expected a Firehose delivery") from None
    if not isinstance(delivery, dict) or not isinstance(delivery.get("records"), list):
        raise _Rejected(400, "body is not a Firehose delivery: no records list")
    request_id = delivery.get("requestId")
    request_id = request_id if isinstance(request_id, str) else ""
    blobs: list[bytes] = []
    for number, record in enumerate(delivery["records"]):
        data = record.get("data") if isinstance(record, dict) else None
        if not isinstance(data, str):
            raise _Rejected(400, f"records[{number}] has no data string")
        try:
            blobs.append(base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError):
            raise _Rejected(400, f"records[{number}].data is not base64") from None
    items: list[Item] = []
    for number, blob in enumerate(blobs):
        where = f"{request_id or 'delivery'} record {number}: "
        items.extend(replace(item, position=where + item.position) for item in _record_items(blob))
    return request_id, items


def _record_items(blob: bytes) -> Iterator[Item]:
    if blob.startswith(_GZIP_MAGIC):
        try:
            blob = _gunzip(blob, "data")
        except _Rejected as exc:
            yield Unreadable("data", exc.message)
            return
    try:
        value = orjson.loads(blob)
    except orjson.JSONDecodeError:
        value = None
    if isinstance(value, dict) and "messageType" not in value and "logEvents" not in value:
        yield RawRecord("message", value)  # the stream extracts messages: a Lex record
        return
    yield from subscription_items(blob)


class _Sink:
    def __init__(self, ingestor: Ingestor) -> None:
        self.ingestor = ingestor
        self.stats: SourceStats = ingestor.stats_for(LABEL)


def _store(request: Request, state: ServerState, items: list[Item]) -> None:
    with state.writing() as store:
        with _sink_lock:
            sink: _Sink | None = getattr(request.app.state, "firehose_sink", None)
            if sink is None or sink.ingestor.store is not store:
                ingestor = Ingestor(store, state.settings.retention_days, command="firehose")
                sink = _Sink(ingestor)
                request.app.state.firehose_sink = sink
        sink.ingestor.ingest_items(items, LABEL, sink.stats, replace=False)
        sink.ingestor.save_stats()


def _health(state: ServerState, error: str | None) -> None:
    workers = state.workers
    if workers is None:
        return
    from lexboard.server.workers import SourceHealth

    health = workers.health.setdefault(LABEL, SourceHealth())
    health.last_error = error
    if error is None:
        health.last_success = datetime.now(UTC)
        health.polls += 1
