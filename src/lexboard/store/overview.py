"""What is in the store: per-source freshness (``/api/status``) and the filter values
(``/api/dimensions``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lexboard.store.db import Store


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="milliseconds") if value else None


def status(store: Store, now: datetime | None = None) -> dict[str, Any]:
    """Totals, and per source: last event, lag of its newest batch, counts, last run."""
    now = now or datetime.now(UTC)
    cursor = store.con.cursor()
    try:
        totals = cursor.execute(
            "SELECT (SELECT count(*) FROM turns), (SELECT count(*) FROM sessions), "
            "(SELECT max(ts) FROM turns), (SELECT count(*) FROM quarantine)"
        ).fetchone()
        assert totals is not None
        turns, sessions, last_event, quarantined = totals
        rows = cursor.execute(
            """
            SELECT source, sum("read"), sum(new), sum(duplicate), sum(quarantined), sum(expired),
                   max(last_event_ts),
                   arg_max(lag_s, finished_at) FILTER (WHERE last_event_ts IS NOT NULL),
                   max(finished_at)
            FROM ingest_stats GROUP BY source ORDER BY source
            """
        ).fetchall()
    finally:
        cursor.close()
    return {
        "now": _iso(now),
        "turns": turns,
        "sessions": sessions,
        "quarantined": quarantined,
        "last_event": _iso(last_event),
        "last_event_age_s": (now - last_event).total_seconds() if last_event else None,
        "sources": [
            {
                "source": source,
                "read": int(read),
                "new": int(new),
                "duplicate": int(duplicate),
                "quarantined": int(bad),
                "expired": int(expired),
                "last_event": _iso(last),
                "lag_s": lag,
                "last_ingest": _iso(finished),
                "last_error": None,
            }
            for source, read, new, duplicate, bad, expired, last, lag, finished in rows
        ],
    }


def dimensions(store: Store) -> dict[str, Any]:
    """Bots, locales, aliases, versions and input modes present, for the dashboard's filters."""
    cursor = store.con.cursor()
    try:

        def pairs(sql: str) -> list[dict[str, Any]]:
            return [{"id": i, "name": n} for i, n in cursor.execute(sql).fetchall()]

        def values(column: str) -> list[str]:
            rows = cursor.execute(
                f"SELECT DISTINCT {column} FROM turns WHERE {column} IS NOT NULL ORDER BY 1"
            ).fetchall()
            return [r[0] for r in rows]

        return {
            "bots": pairs(
                "SELECT bot_id, max(bot_name) FROM turns GROUP BY bot_id ORDER BY bot_id"
            ),
            "locales": values("locale_id"),
            "aliases": pairs(
                "SELECT alias_id, max(alias_name) FROM turns WHERE alias_id IS NOT NULL "
                "GROUP BY alias_id ORDER BY alias_id"
            ),
            "versions": values("bot_version"),
            "input_modes": values("input_mode"),
        }
    finally:
        cursor.close()


def quarantine_entries(store: Store, limit: int = 50) -> dict[str, Any]:
    """The newest quarantined records: where they were and why they were refused."""
    cursor = store.con.cursor()
    try:
        total_row = cursor.execute("SELECT count(*) FROM quarantine").fetchone()
        rows = cursor.execute(
            "SELECT source, position, reason, raw_start FROM quarantine "
            "ORDER BY quarantined_at DESC, source, position LIMIT ?",
            [limit],
        ).fetchall()
    finally:
        cursor.close()
    keys = ("source", "position", "reason", "raw_start")
    return {
        "total": total_row[0] if total_row else 0,
        "rows": [dict(zip(keys, row, strict=True)) for row in rows],
    }
