"""``GET /metrics`` (Prometheus) and ``GET /api/check``.

A custom collector reads the store at scrape time, on its own cursor, so every scrape
shows what the store holds right then. Counters are all-time totals of the store
(they fall when retention deletes turns; Prometheus reads that as a counter reset).

Labels, as in ``METRICS.md``; an absent value is the empty string:

- ``lex_requests_total``, ``lex_missed_utterances_total``: bot_id, bot_name, locale_id,
  alias_id, alias_name, bot_version, input_mode, intent
- ``lex_sessions_started_total``: bot_id, bot_name, locale_id, alias_id, alias_name
  (a session's alias is its first alias: the alias of its first turn that has one)
- ``lex_sentiment_total``: those five + sentiment (turns with Lex's sentiment label)
- ``lex_missed_utterance_ratio``: the five session labels; missed / requests over the
  trailing window (default 5 minutes) ending at scrape time, by event time; no sample
  when the window has no requests. ``lex_window_requests`` and
  ``lex_window_missed_utterances`` give its numerator and denominator.
- ``lexboard_ingest_records_total`` (source, outcome), ``lexboard_ingest_lag_seconds``,
  ``lexboard_source_last_success_timestamp_seconds``,
  ``lexboard_last_event_timestamp_seconds`` (source).

Cardinality: intents outside the ``top_intents`` most frequent (default 50, over the
whole store) are reported as ``other``; ``FallbackIntent`` is never folded.

Settings: ``[prometheus]`` in lexboard.toml (``ratio_window = "5m"``, ``top_intents =
50``); query parameters ``window`` and ``top_intents`` override them per scrape.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from lexboard.checks import (
    NEVER_FOLDED,
    OTHER_INTENT,
    TOP_INTENTS_SQL,
    CheckConfig,
    format_duration,
    parse_duration,
    run_checks,
)
from lexboard.errors import ConfigError, LexboardError
from lexboard.server.api import state_of
from lexboard.store.db import Store

SESSION_LABELS = ("bot_id", "bot_name", "locale_id", "alias_id", "alias_name")
TURN_LABELS = (*SESSION_LABELS, "bot_version", "input_mode", "intent")
SENTIMENT_LABELS = (*SESSION_LABELS, "sentiment")
OUTCOMES = ("new", "duplicate", "quarantined", "expired")
DEFAULT_RATIO_WINDOW_S = 300.0
DEFAULT_TOP_INTENTS = 50

_SESSION_COLUMNS = (
    "bot_id, coalesce(bot_name, ''), locale_id, coalesce(alias_id, ''), coalesce(alias_name, '')"
)

TURN_COUNTS_SQL = f"""
WITH ranked AS ({TOP_INTENTS_SQL})
SELECT {_SESSION_COLUMNS}, coalesce(bot_version, ''), coalesce(input_mode, ''),
       CASE WHEN intent IS NULL THEN ''
            WHEN intent IN (SELECT intent FROM ranked) OR list_contains($keep, intent)
                THEN intent
            ELSE '{OTHER_INTENT}' END AS intent_label,
       sum(requests)::BIGINT AS requests,
       coalesce(sum(requests) FILTER (WHERE missed), 0)::BIGINT AS missed
FROM turn_counts
GROUP BY ALL
ORDER BY ALL
"""

# Sessions come from the sessions table (kept current at ingest). A session's alias is
# its first alias: its only one, or, for the rare session seen on several aliases, the
# alias of its first turn that has one; the alias name is that alias id's name.
_KEY = "bot_id, locale_id, session_id, originating_request_id"
SESSION_COUNTS_SQL = f"""
WITH alias_names AS (
    SELECT bot_id, alias_id, max(alias_name) AS alias_name
    FROM turn_counts WHERE alias_id IS NOT NULL GROUP BY ALL
), singles AS (
    SELECT bot_id, bot_name, locale_id, alias_ids[1] AS alias_id, count(*) AS sessions
    FROM sessions WHERE len(alias_ids) <= 1 GROUP BY ALL
), multi AS (
    SELECT {_KEY}, any_value(bot_name) AS bot_name FROM sessions
    WHERE len(alias_ids) > 1 AND $multi GROUP BY ALL
), multi_firsts AS (
    SELECT m.bot_id, m.bot_name, m.locale_id,
           arg_min(t.alias_id, {{'ts': t.ts, 'request_id': t.request_id}}) AS alias_id
    FROM turns t JOIN multi m USING ({_KEY})
    WHERE t.alias_id IS NOT NULL AND $multi
    GROUP BY m.bot_id, m.locale_id, m.session_id, m.originating_request_id, m.bot_name
), counted AS (
    SELECT * FROM singles
    UNION ALL
    SELECT bot_id, bot_name, locale_id, alias_id, count(*) FROM multi_firsts GROUP BY ALL
)
SELECT c.bot_id, coalesce(c.bot_name, ''), c.locale_id, coalesce(c.alias_id, ''),
       coalesce(n.alias_name, ''), sum(c.sessions)::BIGINT
FROM counted c LEFT JOIN alias_names n ON n.bot_id = c.bot_id AND n.alias_id = c.alias_id
GROUP BY ALL
ORDER BY ALL
"""
MULTI_ALIAS_SQL = "SELECT count(*) > 0 FROM sessions WHERE len(alias_ids) > 1"

SENTIMENT_COUNTS_SQL = f"""
SELECT {_SESSION_COLUMNS}, sentiment, sum(requests)::BIGINT
FROM turn_counts WHERE sentiment IS NOT NULL
GROUP BY ALL
ORDER BY ALL
"""

WINDOW_COUNTS_SQL = f"""
SELECT {_SESSION_COLUMNS}, count(*) AS requests, count(*) FILTER (WHERE missed) AS missed
FROM turns WHERE ts >= $window_from AND ts < $window_to
GROUP BY ALL
ORDER BY ALL
"""

SOURCE_HEALTH_SQL = """
SELECT s.source, sum(s.new), sum(s.duplicate), sum(s.quarantined), sum(s.expired),
       arg_max(s.lag_s, s.finished_at) FILTER (WHERE s.last_event_ts IS NOT NULL),
       epoch(max(s.finished_at) FILTER (WHERE r.status IS DISTINCT FROM 'failed')),
       epoch(max(s.last_event_ts))
FROM ingest_stats s LEFT JOIN ingest_runs r ON r.id = s.run_id
GROUP BY s.source
ORDER BY s.source
"""


@dataclass(frozen=True)
class ExportOptions:
    ratio_window_s: float = DEFAULT_RATIO_WINDOW_S
    top_intents: int = DEFAULT_TOP_INTENTS

    @classmethod
    def resolve(
        cls, section: Mapping[str, Any] | None, query: Mapping[str, str] | None = None
    ) -> ExportOptions:
        """``[prometheus]`` settings, then the scrape's query parameters."""
        section = dict(section or {})
        unknown = set(section) - {"ratio_window", "top_intents"}
        if unknown:
            raise ConfigError(
                f"unknown setting {sorted(unknown)[0]!r} in [prometheus]",
                hint='[prometheus] takes ratio_window (e.g. "5m") and top_intents (e.g. 50)',
            )
        query = query or {}
        window: Any = query.get("window") or section.get("ratio_window")
        top: Any = query.get("top_intents") or section.get("top_intents")
        return cls(
            ratio_window_s=(
                parse_duration(window, "ratio_window") if window else DEFAULT_RATIO_WINDOW_S
            ),
            top_intents=_top_intents(top) if top is not None else DEFAULT_TOP_INTENTS,
        )


def _top_intents(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if isinstance(value, bool) or number < 0 or str(number) != str(value).strip():
        raise LexboardError(f"top_intents = {value!r} is not an integer ≥ 0")
    return number


class StoreCollector(Collector):
    """Reads the store once per ``collect()``: one cursor, a handful of aggregate queries."""

    def __init__(
        self, store: Store, options: ExportOptions | None = None, now: datetime | None = None
    ) -> None:
        self.store = store
        self.options = options or ExportOptions()
        self.now = now

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        now = self.now or datetime.now(UTC)
        cursor = self.store.con.cursor()
        try:
            cursor.execute("BEGIN TRANSACTION")  # one snapshot for every family of the scrape
            turns = cursor.execute(
                TURN_COUNTS_SQL, {"top": self.options.top_intents, "keep": list(NEVER_FOLDED)}
            ).fetchall()
            multi = cursor.execute(MULTI_ALIAS_SQL).fetchone()
            sessions = cursor.execute(
                SESSION_COUNTS_SQL, {"multi": bool(multi and multi[0])}
            ).fetchall()
            sentiment = cursor.execute(SENTIMENT_COUNTS_SQL).fetchall()
            window = cursor.execute(
                WINDOW_COUNTS_SQL,
                {
                    "window_from": now - timedelta(seconds=self.options.ratio_window_s),
                    "window_to": now,
                },
            ).fetchall()
            health = cursor.execute(SOURCE_HEALTH_SQL).fetchall()
            cursor.execute("ROLLBACK")
        finally:
            cursor.close()
        read_s = time.perf_counter() - started

        requests = CounterMetricFamily(
            "lex_requests",
            "Lex turns (conversation log records) in the store.",
            labels=TURN_LABELS,
        )
        missed = CounterMetricFamily(
            "lex_missed_utterances",
            "Lex turns with missedUtterance = true in the store.",
            labels=TURN_LABELS,
        )
        for *labels, n_requests, n_missed in turns:
            requests.add_metric(labels, n_requests)
            missed.add_metric(labels, n_missed)
        yield requests
        yield missed

        started_sessions = CounterMetricFamily(
            "lex_sessions_started",
            "Lex sessions in the store, by the bot and alias of their first turn.",
            labels=SESSION_LABELS,
        )
        for *labels, count in sessions:
            started_sessions.add_metric(labels, count)
        yield started_sessions

        sentiments = CounterMetricFamily(
            "lex_sentiment",
            "Lex turns with a sentiment label in the store, by label.",
            labels=SENTIMENT_LABELS,
        )
        for *labels, count in sentiment:
            sentiments.add_metric(labels, count)
        yield sentiments

        span = format_duration(self.options.ratio_window_s)
        ratio = GaugeMetricFamily(
            "lex_missed_utterance_ratio",
            f"Missed / requests over the trailing {span} by event time (no sample without "
            "requests).",
            labels=SESSION_LABELS,
        )
        window_requests = GaugeMetricFamily(
            "lex_window_requests",
            f"Lex turns over the trailing {span} by event time (lex_missed_utterance_ratio's "
            "denominator).",
            labels=SESSION_LABELS,
        )
        window_missed = GaugeMetricFamily(
            "lex_window_missed_utterances",
            f"Missed turns over the trailing {span} by event time.",
            labels=SESSION_LABELS,
        )
        for *labels, n_requests, n_missed in window:
            ratio.add_metric(labels, n_missed / n_requests)
            window_requests.add_metric(labels, n_requests)
            window_missed.add_metric(labels, n_missed)
        yield ratio
        yield window_requests
        yield window_missed
        yield GaugeMetricFamily(
            "lex_missed_utterance_ratio_window_seconds",
            "Length of the trailing window of lex_missed_utterance_ratio.",
            value=self.options.ratio_window_s,
        )

        records = CounterMetricFamily(
            "lexboard_ingest_records",
            "Records read by lexboard's ingest, by source and outcome.",
            labels=("source", "outcome"),
        )
        lag = GaugeMetricFamily(
            "lexboard_ingest_lag_seconds",
            "Ingest time - event time of the newest event in the source's newest batch.",
            labels=("source",),
        )
        last_success = GaugeMetricFamily(
            "lexboard_source_last_success_timestamp_seconds",
            "When the source's last successful ingest batch was recorded (Unix time).",
            labels=("source",),
        )
        last_event = GaugeMetricFamily(
            "lexboard_last_event_timestamp_seconds",
            "Event time of the newest record ingested from the source (Unix time).",
            labels=("source",),
        )
        for source, new, duplicate, quarantined, expired, lag_s, success_ts, event_ts in health:
            for outcome, count in zip(
                OUTCOMES, (new, duplicate, quarantined, expired), strict=True
            ):
                records.add_metric([source, outcome], int(count or 0))
            if lag_s is not None:
                lag.add_metric([source], float(lag_s))
            if success_ts is not None:
                last_success.add_metric([source], float(success_ts))
            if event_ts is not None:
                last_event.add_metric([source], float(event_ts))
        yield records
        yield lag
        yield last_success
        yield last_event
        yield GaugeMetricFamily(
            "lexboard_metrics_collect_duration_seconds",
            "Time this scrape spent querying the store (before encoding).",
            value=read_s,
        )


router = APIRouter()


@router.get("/metrics")
def prometheus_metrics(request: Request) -> Response:
    """Prometheus text format (OpenMetrics when the scraper asks for it)."""
    state = state_of(request)
    options = ExportOptions.resolve(state.settings.extra.get("prometheus"), request.query_params)
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(StoreCollector(state.store, options)), media_type=content_type)


@router.get("/api/check")
def api_check(request: Request) -> dict[str, Any]:
    """``lexboard check`` on the server that owns the store (same report as the CLI's JSON)."""
    config = CheckConfig.from_query(request.query_params)
    return run_checks(state_of(request).store, config)


@router.get("/api/export/cloudwatch")
def api_cloudwatch_plan(request: Request) -> dict[str, Any]:
    """What ``lexboard export-cloudwatch`` would put (the CLI puts it; the server never
    calls AWS): ``namespace_prefix``, ``window``, ``to`` and ``top_intents``."""
    from lexboard import cloudwatch_export
    from lexboard.metrics.request import parse_instant

    query = request.query_params
    end = query.get("to")
    top = query.get("top_intents")
    return cloudwatch_export.plan(
        state_of(request).store,
        query.get("namespace_prefix") or cloudwatch_export.DEFAULT_PREFIX,
        parse_duration(query.get("window") or "5m", "window"),
        parse_instant(end, ZoneInfo("UTC"), "to") if end else None,
        _top_intents(top) if top is not None else DEFAULT_TOP_INTENTS,
    )
