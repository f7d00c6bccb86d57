"""``lexboard check``: cron-style alert rules over the store, for teams without Prometheus.

Three rules, each off when its threshold is ``None``:

- ``missed_rate``: missed / requests over the trailing window (the ``summary`` metric).
- ``negative_rate``: NEGATIVE / turns that carry a sentiment label over the same window
  (the ``sentiment`` metric; DESIGN decision 9).
- ``ingest_lag``: per source, ingest time − event time of its newest batch (decision 10).

A window rule whose window holds fewer than ``min_requests`` turns (for the sentiment
rule: labelled turns) is skipped and says so. The report is plain data: the CLI prints
it (one line per broken rule, exit 1) and ``GET /api/check`` returns it as JSON.

The parsing of durations and the intent folding here are shared with ``/metrics``
(``server/prometheus.py``) and the CloudWatch exporter, which must not pull in FastAPI.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lexboard.errors import LexboardError
from lexboard.metrics import resolve_request, run_metric
from lexboard.metrics.request import FILTERS
from lexboard.store.db import Store
from lexboard.store.overview import status

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
OFF = ("off", "none")
STATUSES = ("broken", "skipped", "ok")

# Intent folding, shared by /metrics and the CloudWatch exporter: intents outside the
# store's ``n`` most frequent become ``other``; FallbackIntent is never folded.
OTHER_INTENT = "other"
NEVER_FOLDED = ("FallbackIntent",)
TOP_INTENTS_SQL = """
SELECT intent FROM turn_counts WHERE intent IS NOT NULL
GROUP BY intent ORDER BY sum(requests) DESC, intent LIMIT $top
"""


class CheckError(LexboardError):
    """A check parameter has a bad value."""


def top_intents(store: Store, n: int) -> list[str]:
    """The ``n`` most frequent turn intents in the store (ties: alphabetical first)."""
    cursor = store.con.cursor()
    try:
        return [row[0] for row in cursor.execute(TOP_INTENTS_SQL, {"top": n}).fetchall()]
    finally:
        cursor.close()


def parse_duration(text: str | float | int, name: str) -> float:
    """``15m``, ``90s``, ``1h``, ``2d``, ``500ms`` or bare seconds → seconds (> 0)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = _DURATION.match(str(text))
        if not match:
            raise CheckError(
                f"{name} = {text!r} is not a duration",
                hint="for example 30s, 5m, 15m, 1h or 1d (a bare number is seconds)",
            )
        seconds = float(match[1]) * _UNITS[match[2] or "s"]
    if not math.isfinite(seconds) or seconds <= 0:
        raise CheckError(f"{name} = {text!r} must be longer than 0")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact spelling: 900 → ``15m``, 90 → ``90s``, 0.5 → ``500ms``."""
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms" if seconds < 1 else f"{seconds:g}s"


def _human(seconds: float) -> str:
    seconds = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    if seconds or not parts:
        parts.append(f"{seconds}s")
    return " ".join(parts[:2])


def _rate(text: str | float | None, name: str) -> float | None:
    if text is None:
        return None
    if isinstance(text, str):
        if text.strip().lower() in OFF:
            return None
        try:
            value = float(text)
        except ValueError:
            raise CheckError(
                f"{name} = {text!r} is not a number", hint="a rate from 0 to 1, or off"
            ) from None
    else:
        value = float(text)
    if not 0 <= value <= 1:
        raise CheckError(f"{name} = {text!r} is not a rate from 0 to 1", hint="or off")
    return value


def _count(text: str | int, name: str) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise CheckError(f"{name} = {text!r} is not an integer") from None
    if value < 0:
        raise CheckError(f"{name} = {value} must be 0 or more")
    return value


@dataclass(frozen=True)
class CheckConfig:
    """Thresholds (``None`` turns a rule off), the window and the filters of window rules."""

    window_s: float = 900.0
    min_requests: int = 50
    max_missed_rate: float | None = 0.2
    max_lag_s: float | None = 300.0
    max_negative_rate: float | None = 0.3
    filters: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(FILTERS))

    @classmethod
    def parse(
        cls,
        window: str | float | None = None,
        min_requests: str | int | None = None,
        max_missed_rate: str | float | None = "default",
        max_lag: str | float | None = "default",
        max_negative_rate: str | float | None = "default",
        filters: Mapping[str, str | None] | None = None,
    ) -> CheckConfig:
        """From user text (flags or query parameters); ``off`` turns a rule off."""
        base = cls()
        lag: float | None = base.max_lag_s
        if max_lag != "default":
            if max_lag is None or (isinstance(max_lag, str) and max_lag.strip().lower() in OFF):
                lag = None
            else:
                lag = parse_duration(max_lag, "max_lag")
        unknown = set(filters or {}) - set(FILTERS)
        if unknown:
            raise CheckError(
                f"unknown filter {sorted(unknown)[0]!r}", hint="filters: " + ", ".join(FILTERS)
            )
        return cls(
            window_s=parse_duration(window, "window") if window is not None else base.window_s,
            min_requests=(
                _count(min_requests, "min_requests")
                if min_requests is not None
                else base.min_requests
            ),
            max_missed_rate=(
                base.max_missed_rate
                if max_missed_rate == "default"
                else _rate(max_missed_rate, "max_missed_rate")
            ),
            max_lag_s=lag,
            max_negative_rate=(
                base.max_negative_rate
                if max_negative_rate == "default"
                else _rate(max_negative_rate, "max_negative_rate")
            ),
            filters={
                name: (v.strip() or None)
                if isinstance(v := (filters or {}).get(name), str)
                else None
                for name in FILTERS
            },
        )

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> CheckConfig:
        known = {"window", "min_requests", "max_missed_rate", "max_lag", "max_negative_rate"}
        unknown = set(query) - known - set(FILTERS)
        if unknown:
            raise CheckError(
                f"unknown check parameter {sorted(unknown)[0]!r}",
                hint="parameters: " + ", ".join(sorted(known) + list(FILTERS)),
            )
        return cls.parse(
            window=query.get("window"),
            min_requests=query.get("min_requests"),
            max_missed_rate=query.get("max_missed_rate", "default"),
            max_lag=query.get("max_lag", "default"),
            max_negative_rate=query.get("max_negative_rate", "default"),
            filters={name: query.get(name) for name in FILTERS},
        )

    def to_query(self) -> dict[str, str]:
        """The query parameters that make ``from_query`` give this config back."""
        query = {
            "window": format_duration(self.window_s),
            "min_requests": str(self.min_requests),
            "max_missed_rate": "off"
            if self.max_missed_rate is None
            else repr(self.max_missed_rate),
            "max_lag": "off" if self.max_lag_s is None else format_duration(self.max_lag_s),
            "max_negative_rate": (
                "off" if self.max_negative_rate is None else repr(self.max_negative_rate)
            ),
        }
        query.update({k: v for k, v in self.filters.items() if v is not None})
        return query

    def echo(self) -> dict[str, Any]:
        return {
            "window": format_duration(self.window_s),
            "window_s": self.window_s,
            "min_requests": self.min_requests,
            "max_missed_rate": self.max_missed_rate,
            "max_lag_s": self.max_lag_s,
            "max_negative_rate": self.max_negative_rate,
            **self.filters,
        }


@dataclass
class RuleResult:
    rule: str
    status: str  # broken, skipped or ok
    message: str
    value: float | None = None
    threshold: float | None = None
    count: int | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "status": self.status,
            "message": self.message,
            "value": self.value,
            "threshold": self.threshold,
            "count": self.count,
            "source": self.source,
        }


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def _window_rule(
    rule: str,
    what: str,
    numerator: int,
    denominator: int,
    unit: str,
    threshold: float,
    flag: str,
    config: CheckConfig,
) -> RuleResult:
    span = f"in the last {format_duration(config.window_s)}"
    if denominator < config.min_requests or denominator == 0:
        why = (
            f"fewer than --min-requests {config.min_requests}"
            if denominator < config.min_requests
            else "nothing to rate"
        )
        return RuleResult(
            rule,
            "skipped",
            f"{rule}: skipped, {denominator:,} {unit} {span} ({why})",
            None,
            threshold,
            denominator,
        )
    rate = numerator / denominator
    broken = rate > threshold
    relation = ">" if broken else "≤"
    return RuleResult(
        rule,
        "broken" if broken else "ok",
        f"{rule}: {what} {_pct(rate)} {relation} {flag} {_pct(threshold)} "
        f"({numerator:,} of {denominator:,} {unit} {span})",
        rate,
        threshold,
        denominator,
    )


def run_checks(store: Store, config: CheckConfig, now: datetime | None = None) -> dict[str, Any]:
    """Evaluate every rule that is on; ``ok`` is false when any rule is broken."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    start = now - timedelta(seconds=config.window_s)
    window = (start.isoformat(), now.isoformat())
    results: list[RuleResult] = []

    if config.max_missed_rate is not None:
        summary = run_metric(
            store, resolve_request("summary", *window, "UTC", config.filters, now=now)
        )
        row = dict(zip(summary.columns, summary.rows[0], strict=True))
        results.append(
            _window_rule(
                "missed_rate",
                "missed-utterance rate",
                int(row["missed"]),
                int(row["requests"]),
                "requests",
                config.max_missed_rate,
                "--max-missed-rate",
                config,
            )
        )

    if config.max_negative_rate is not None:
        sentiment = run_metric(
            store, resolve_request("sentiment", *window, "UTC", config.filters, now=now)
        )
        counts = {label: int(n) for label, n in sentiment.rows}
        results.append(
            _window_rule(
                "negative_rate",
                "negative-sentiment rate",
                counts.get("NEGATIVE", 0),
                sum(counts.values()),
                "turns with a sentiment label",
                config.max_negative_rate,
                "--max-negative-rate",
                config,
            )
        )

    if config.max_lag_s is not None:
        limit = format_duration(config.max_lag_s)
        sources = [s for s in status(store, now)["sources"] if s["lag_s"] is not None]
        if not sources:
            results.append(
                RuleResult(
                    "ingest_lag",
                    "skipped",
                    "ingest_lag: skipped, no ingested batch with events yet",
                    None,
                    config.max_lag_s,
                )
            )
        for source in sources:
            lag = float(source["lag_s"])
            broken = lag > config.max_lag_s
            relation = ">" if broken else "≤"
            results.append(
                RuleResult(
                    "ingest_lag",
                    "broken" if broken else "ok",
                    f"ingest_lag: source {source['source']}: {_human(lag)} {relation} "
                    f"--max-lag {limit} (newest batch: events up to {source['last_event']}, "
                    f"ingested {source['last_ingest']})",
                    lag,
                    config.max_lag_s,
                    None,
                    source["source"],
                )
            )

    results.sort(key=lambda r: STATUSES.index(r.status))
    return {
        "ok": not any(r.status == "broken" for r in results),
        "now": now.isoformat(timespec="milliseconds"),
        "from": start.isoformat(timespec="milliseconds"),
        "to": now.isoformat(timespec="milliseconds"),
        "params": config.echo(),
        "broken": sum(r.status == "broken" for r in results),
        "skipped": sum(r.status == "skipped" for r in results),
        "rules": [r.to_dict() for r in results],
    }
