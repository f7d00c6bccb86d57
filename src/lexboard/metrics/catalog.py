"""Metrics as data: id, title, definition, level, parameters, columns and SQL file.

Definitions follow ``METRICS.md`` word for word where they can; ``docs/metrics.md`` is
generated from this table (``python -m lexboard.docs``) and a test fails when it
is stale. Defining a metric here is separate from running it (``run.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # int | bool | str | choice
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string | integer | float | boolean | timestamp
    help: str = ""


@dataclass(frozen=True)
class Metric:
    id: str
    title: str
    description: str
    level: str  # turn | session | mixed
    columns: tuple[Column, ...]
    order: str
    params: tuple[Param, ...] = field(default_factory=tuple)

    @cached_property
    def sql(self) -> str:
        return (resources.files("lexboard.metrics") / "sql" / f"{self.id}.sql").read_text()

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


METRICS: tuple[Metric, ...] = (
    Metric(
        id="summary",
        title="Summary",
        description=(
            "Requests are the turns (log records) whose timestamp is in the window; missed "
            "are those Lex marked as missedUtterance; missed_rate = missed / requests (null "
            "with no requests). Sessions, and the average session duration and turns per "
            "session, are over the sessions that started in the window, with all their "
            "turns."
        ),
        level="mixed",
        columns=(
            Column("requests", "integer", "turns in the window"),
            Column("sessions", "integer", "sessions started in the window"),
            Column("missed", "integer", "missed turns in the window"),
            Column("missed_rate", "float", "missed / requests"),
            Column("avg_session_duration_s", "float", "mean session duration, seconds"),
            Column("avg_turns_per_session", "float", "mean turns per session"),
        ),
        order="one row",
    ),
)

CATALOG: dict[str, Metric] = {metric.id: metric for metric in METRICS}
