"""Running a metric: the window CTEs every metric's SQL reads, then the metric's SQL.

Each metric's SQL sees ``turns`` (the turns in the window that match the filters), the
flat tables derived from single turns filtered the same way (``slot_fills``,
``missed_turns``, ``elicitations``; see store/sessions.py and store/slot_fills.py) and
``sessions`` (the sessions that started in the window and match the filters through any
of their turns) and ``turn_counts`` (those turns counted per 15-minute grain, starting
at ``grain_start``, and dimension, for metrics that only count turns; see
store/turn_counts.py). Parameters are
bound, never spliced into SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from lexboard.metrics.request import MetricRequest, iso
from lexboard.store.db import Store
from lexboard.store.turn_counts import GRAIN_US, grains_within

_DIMENSION_FILTER = """($bot_id IS NULL OR bot_id = $bot_id)
      AND ($locale_id IS NULL OR locale_id = $locale_id)
      AND ($alias_id IS NULL OR alias_id = $alias_id)
      AND ($input_mode IS NULL OR input_mode = $input_mode)"""
_TURN_FILTER = f"""
    WHERE ts >= $window_from AND ts < $window_to
      AND {_DIMENSION_FILTER}"""
_COUNT_COLUMNS = "bot_id, locale_id, alias_id, input_mode, intent, sentiment, missed"
_TURN_GRAIN_START = f"make_timestamptz(epoch_us(ts) // {GRAIN_US} * {GRAIN_US})"
# turns and the flat tables derived from single turns, each filtered the same way
TURN_LEVEL_TABLES = ("turns", "slot_fills", "missed_turns", "elicitations")
WINDOW_CTES = (
    "WITH "
    + ", ".join(
        f"{table} AS NOT MATERIALIZED (\n    SELECT * FROM main.{table}{_TURN_FILTER}\n)"
        for table in TURN_LEVEL_TABLES
    )
    + f""", sessions AS NOT MATERIALIZED (
    SELECT * FROM main.sessions
    WHERE start_ts >= $window_from AND start_ts < $window_to
      AND ($bot_id IS NULL OR bot_id = $bot_id)
      AND ($locale_id IS NULL OR locale_id = $locale_id)
      AND ($alias_id IS NULL OR list_contains(alias_ids, $alias_id))
      AND ($input_mode IS NULL OR list_contains(input_modes, $input_mode))
), turn_counts AS NOT MATERIALIZED (
    -- the window's turns counted per grain (grain_start: its first instant): the stored
    -- counts of the grains wholly inside it, the turns of the part-grains at its two
    -- edges one by one (a scan per edge, so that each edge's time range reaches the scan)
    SELECT make_timestamptz(grain * {GRAIN_US}) AS grain_start, {_COUNT_COLUMNS}, requests
    FROM main.turn_counts
    WHERE grain >= $first_grain AND grain < $end_grain
      AND {_DIMENSION_FILTER}
    UNION ALL
    SELECT {_TURN_GRAIN_START} AS grain_start, {_COUNT_COLUMNS}, 1 AS requests
    FROM turns WHERE ts < make_timestamptz($first_grain::BIGINT * {GRAIN_US})
    UNION ALL
    SELECT {_TURN_GRAIN_START} AS grain_start, {_COUNT_COLUMNS}, 1 AS requests
    FROM turns WHERE ts >= make_timestamptz(greatest($end_grain, $first_grain)::BIGINT * {GRAIN_US})
)
"""
)
_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")
_LEADING_WITH = re.compile(r"^(\s*--[^\n]*\n)*\s*WITH\s", re.IGNORECASE)


@dataclass
class Result:
    metric: str
    params: dict[str, Any]
    columns: list[str]
    rows: list[list[Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "params": self.params,
            "columns": self.columns,
            "rows": self.rows,
        }


def compose_sql(metric_sql: str) -> str:
    body = metric_sql.strip().rstrip(";")
    if _LEADING_WITH.match(body):
        return WINDOW_CTES + ", " + _LEADING_WITH.sub("", body, count=1)  # comments go too
    return WINDOW_CTES + body


def _bindings(sql: str, request: MetricRequest) -> dict[str, Any]:
    first_grain, end_grain = grains_within(request.start, request.end)
    values: dict[str, Any] = {
        "window_from": request.start,
        "window_to": request.end,
        "first_grain": first_grain,
        "end_grain": end_grain,
        "now": request.now,
        "tz": request.tz,
        **request.filters,
        **request.params,
    }
    return {name: values[name] for name in set(_PARAM.findall(sql))}


def _cell(value: Any, request: MetricRequest) -> Any:
    if isinstance(value, datetime):
        return iso(value, request.zone)
    if isinstance(value, date):
        return value.isoformat()
    return value


def run_metric(store: Store, request: MetricRequest) -> Result:
    sql = compose_sql(request.metric.sql)
    cursor = store.con.cursor()
    try:
        cursor.execute(f"SET TimeZone = '{request.tz}'")  # validated IANA name
        relation = cursor.execute(sql, _bindings(sql, request))
        columns = [d[0] for d in relation.description]
        rows = [[_cell(v, request) for v in row] for row in relation.fetchall()]
    finally:
        cursor.close()
    expected = [c.name for c in request.metric.columns]
    if columns != expected:
        raise AssertionError(f"{request.metric.id}: SQL gives {columns}, catalog says {expected}")
    return Result(request.metric.id, request.echo(), columns, rows)
