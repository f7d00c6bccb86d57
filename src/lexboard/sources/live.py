"""What the live sources (CloudWatch Logs, S3, followed files) share: checkpoints.

A live source is polled by the server's workers (``server.workers``): ``poll(now)``
returns the next items, the worker stores them through the single writer and then calls
``commit(store)`` in the same writer block, where the source saves its checkpoint in the
``checkpoints`` table. The checkpoint is written right after the batch's own transaction;
a crash between the two replays that batch on restart, which the store's de-duplication
on ``requestId`` makes harmless.

Each source keeps its read position in two parts: *committed* (what the store holds)
and *pending* (what the last poll returned). When a poll returns items but ``commit`` is
not called before the next poll (the store refused the batch), the source reads from its
committed position again, so nothing is lost.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson

from lexboard.errors import ConfigError
from lexboard.logs.formats import Item
from lexboard.logs.record import parse_timestamp
from lexboard.store.db import Store
from lexboard.store.ingest import Ingestor

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class CheckpointedSource(Protocol):
    label: str
    interval_s: float

    def poll(self, now: datetime) -> Iterable[Item]: ...

    def commit(self, store: Store) -> None: ...


def load_checkpoint(store: Store, key: str) -> Any:
    """The JSON value saved under ``key``, or None."""
    cursor = store.con.cursor()
    try:
        row = cursor.execute("SELECT value FROM checkpoints WHERE source = ?", [key]).fetchone()
    finally:
        cursor.close()
    return orjson.loads(row[0]) if row else None


def load_checkpoints(store: Store, prefix: str) -> dict[str, Any]:
    """Every checkpoint whose key starts with ``prefix``: key → JSON value."""
    cursor = store.con.cursor()
    try:
        rows = cursor.execute(
            "SELECT source, value FROM checkpoints WHERE starts_with(source, ?)", [prefix]
        ).fetchall()
    finally:
        cursor.close()
    return {str(key): orjson.loads(value) for key, value in rows}


def save_checkpoints(store: Store, values: Mapping[str, Any], deleted: Iterable[str] = ()) -> None:
    """Write (and delete) checkpoints in one transaction; the caller holds the writer."""
    now = datetime.now(UTC)
    gone = list(deleted)
    if not values and not gone:
        return
    with store.transaction():
        if gone:
            store.con.executemany("DELETE FROM checkpoints WHERE source = ?", [[k] for k in gone])
        if values:
            store.con.executemany(
                "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)",
                [[key, orjson.dumps(value).decode(), now] for key, value in values.items()],
            )


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """``--since``: an ISO-8601 instant (naive = UTC) or a duration back from now (``90m``,
    ``24h``, ``7d``)."""
    if text is None or not text.strip():
        return None
    now = now or datetime.now(UTC)
    match = _DURATION.match(text.lower())
    if match:
        return now - timedelta(seconds=float(match[1]) * _UNIT_S[match[2]])
    parsed = parse_timestamp(text)
    if parsed is None:
        raise ConfigError(
            f"--since {text!r} is not an ISO-8601 time or a duration",
            hint="e.g. --since 2026-11-01T00:00:00Z, --since 24h, --since 7d",
        )
    return parsed


def pump(source: CheckpointedSource, ingestor: Ingestor, store: Store, now: datetime) -> int:
    """One poll stored and committed, as the server's workers do it; the number of items.

    For callers that own the store themselves (tests, scripts)."""
    items = list(source.poll(now))
    if items:
        stats = ingestor.stats_for(source.label)
        ingestor.ingest_items(items, source.label, stats, replace=False)
        ingestor.save_stats()
        source.commit(store)
    return len(items)
