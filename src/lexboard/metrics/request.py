"""Turning user input (CLI flags, query parameters) into a validated metric request.

Windows follow METRICS.md: ``from`` inclusive, ``to`` exclusive; instants with an offset
or ``Z`` are taken as they are, times without one (or bare dates, meaning midnight) are
wall-clock times in ``tz``. Defaults: ``to`` = now, ``from`` = ``to`` − 24 h.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lexboard.errors import MetricError
from lexboard.metrics.catalog import CATALOG, Metric, Param

FILTERS = ("bot_id", "locale_id", "alias_id", "input_mode")
DEFAULT_SPAN = timedelta(hours=24)


@dataclass(frozen=True)
class MetricRequest:
    metric: Metric
    start: datetime
    end: datetime
    tz: str
    filters: dict[str, str | None]
    params: dict[str, Any]
    now: datetime

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def echo(self) -> dict[str, Any]:
        """Every parameter as resolved, defaults included (the result's ``params``)."""
        return {
            "from": iso(self.start, self.zone),
            "to": iso(self.end, self.zone),
            "tz": self.tz,
            **self.filters,
            **self.params,
        }


def iso(value: datetime, zone: ZoneInfo) -> str:
    return value.astimezone(zone).isoformat(timespec="milliseconds")


def parse_zone(name: str | None) -> str:
    name = (name or "UTC").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise MetricError(
            f"unknown time zone {name!r}",
            hint="use an IANA name such as UTC, Europe/Paris or America/New_York",
        ) from None
    return name


def parse_instant(text: str, zone: ZoneInfo, name: str) -> datetime:
    value = text.strip()
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MetricError(
            f"{name} = {text!r} is not an ISO-8601 date or time",
            hint="for example 2026-11-01, 2026-11-01T09:30 or 2026-11-01T09:30:00Z",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def _parse_param(param: Param, raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if param.kind == "int":
        try:
            value = int(text)
        except ValueError:
            raise MetricError(f"{param.name} = {raw!r} is not an integer") from None
        if param.minimum is not None and value < param.minimum:
            raise MetricError(f"{param.name} = {value} is below the minimum {param.minimum}")
        if param.maximum is not None and value > param.maximum:
            raise MetricError(f"{param.name} = {value} is above the maximum {param.maximum}")
        if param.choices and str(value) not in param.choices:
            raise MetricError(
                f"{param.name} = {raw!r} is not allowed",
                hint=f"{param.name} is one of " + ", ".join(param.choices),
            )
        return value
    if param.kind == "bool":
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise MetricError(f"{param.name} = {raw!r} is not a boolean", hint="true or false")
    if param.kind == "choice":
        if text not in param.choices:
            raise MetricError(
                f"{param.name} = {raw!r} is not allowed",
                hint=f"{param.name} is one of " + ", ".join(param.choices),
            )
        return text
    return text


def resolve_request(
    metric_id: str,
    start: str | None = None,
    end: str | None = None,
    tz: str | None = None,
    filters: Mapping[str, str | None] | None = None,
    params: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> MetricRequest:
    """Validate everything about a metric request; MetricError says what and what is allowed."""
    metric = CATALOG.get(metric_id)
    if metric is None:
        raise MetricError(
            f"unknown metric {metric_id!r}", hint="metrics: " + ", ".join(sorted(CATALOG))
        )
    zone_name = parse_zone(tz)
    zone = ZoneInfo(zone_name)
    now = now or datetime.now(UTC)
    end_at = parse_instant(end, zone, "to") if end else now
    start_at = parse_instant(start, zone, "from") if start else end_at - DEFAULT_SPAN
    if start_at > end_at:
        raise MetricError(
            f"from ({iso(start_at, zone)}) is after to ({iso(end_at, zone)})",
            hint="from is inclusive, to exclusive; from must not be later than to",
        )
    resolved_filters: dict[str, str | None] = {}
    for name in FILTERS:
        value = (filters or {}).get(name)
        resolved_filters[name] = value.strip() if isinstance(value, str) and value.strip() else None
    unknown = set(filters or {}) - set(FILTERS)
    if unknown:
        raise MetricError(
            f"unknown filter {sorted(unknown)[0]!r}", hint="filters: " + ", ".join(FILTERS)
        )
    resolved: dict[str, Any] = {}
    given = dict(params or {})
    for name in given:
        if metric.param(name) is None:
            allowed = ", ".join(p.name for p in metric.params) or "none"
            raise MetricError(
                f"metric {metric.id} has no parameter {name!r}",
                hint=f"parameters of {metric.id}: {allowed}",
            )
    for param in metric.params:
        resolved[param.name] = (
            _parse_param(param, given[param.name]) if param.name in given else param.default
        )
    if metric.resolve is not None:
        resolved = metric.resolve(resolved, start_at, end_at, zone_name)
    return MetricRequest(metric, start_at, end_at, zone_name, resolved_filters, resolved, now)
