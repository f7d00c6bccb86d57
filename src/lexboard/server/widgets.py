"""The dashboard's widgets: which metric each shows and how, built in Python.

A widget turns one metric result into what the page draws: KPI tiles, a plotly figure
(plain JSON, rendered by ``Plotly.react`` in the browser and in the HTML report) or a
table. The only figure derived here is the display ratio "missed %" from a metric's own
columns (DESIGN decision 5). Every text that came from a chatbot user is HTML-escaped
before it enters a figure, because plotly renders a few HTML tags inside labels.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lexboard.metrics.catalog import CATALOG, Column
from lexboard.metrics.run import Result

PALETTE = ["#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d"]
OUTCOME_COLOURS = {
    "success": "#16a34a",
    "failed": "#dc2626",
    "failure": "#dc2626",
    "switched": "#d97706",
    "dropped": "#6b7280",
    "in_progress": "#2563eb",
}
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


@dataclass(frozen=True)
class Widget:
    id: str
    metric: str
    title: str
    section: str
    kind: str  # tiles | figure | table
    build: Callable[[Result], dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)
    wide: bool = False


def safe(value: Any) -> str:
    """Untrusted text for a plotly label: escaped, so it shows as typed and runs nothing."""
    return html.escape("" if value is None else str(value), quote=True)


def _layout(**extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "margin": {"l": 48, "r": 16, "t": 8, "b": 40},
        "height": 280,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "legend": {"orientation": "h", "y": -0.2},
        "colorway": PALETTE,
    }
    layout.update(extra)
    return layout


def _column(result: Result, name: str) -> list[Any]:
    index = result.columns.index(name)
    return [row[index] for row in result.rows]


def _empty(result: Result) -> bool:
    return not result.rows


# --- builders --------------------------------------------------------------------------


def kpi_tiles(result: Result) -> dict[str, Any]:
    row = dict(zip(result.columns, result.rows[0], strict=True)) if result.rows else {}
    return {
        "empty": not row or (row.get("requests", 0) == 0 and row.get("sessions", 0) == 0),
        "tiles": [
            {"label": "Requests", "value": row.get("requests"), "format": "int"},
            {"label": "Sessions", "value": row.get("sessions"), "format": "int"},
            {"label": "Missed utterances", "value": row.get("missed"), "format": "int"},
            {"label": "Missed rate", "value": row.get("missed_rate"), "format": "percent"},
            {
                "label": "Avg session duration",
                "value": row.get("avg_session_duration_s"),
                "format": "seconds",
            },
            {
                "label": "Avg turns / session",
                "value": row.get("avg_turns_per_session"),
                "format": "float",
            },
        ],
    }


def session_tiles(result: Result) -> dict[str, Any]:
    row = dict(zip(result.columns, result.rows[0], strict=True)) if result.rows else {}
    labels = [
        ("sessions", "Sessions", "int"),
        ("avg_duration_s", "Avg duration", "seconds"),
        ("p50_duration_s", "Median duration", "seconds"),
        ("p90_duration_s", "p90 duration", "seconds"),
        ("avg_turns", "Avg turns", "float"),
        ("p90_turns", "p90 turns", "float"),
    ]
    return {
        "empty": not row or not row.get("sessions"),
        "tiles": [
            {"label": label, "value": row.get(key), "format": fmt} for key, label, fmt in labels
        ],
    }


def activity_figure(result: Result) -> dict[str, Any]:
    buckets = _column(result, "bucket")
    requests = _column(result, "requests")
    missed = _column(result, "missed")
    ratio = [m / r * 100 if r else None for m, r in zip(missed, requests, strict=True)]
    data = [
        {"type": "scatter", "mode": "lines", "name": "requests", "x": buckets, "y": requests},
        {
            "type": "scatter",
            "mode": "lines",
            "name": "sessions",
            "x": buckets,
            "y": _column(result, "sessions"),
        },
        {"type": "scatter", "mode": "lines", "name": "missed", "x": buckets, "y": missed},
        {
            "type": "scatter",
            "mode": "lines",
            "name": "missed %",
            "x": buckets,
            "y": ratio,
            "yaxis": "y2",
            "line": {"dash": "dot"},
        },
    ]
    layout = _layout(
        yaxis={"title": {"text": "count"}, "rangemode": "tozero"},
        yaxis2={
            "title": {"text": "missed %"},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
        },
        xaxis={"type": "date"},
    )
    return {"empty": not any(requests), "figure": {"data": data, "layout": layout}}


def pie(label_column: str) -> Callable[[Result], dict[str, Any]]:
    def build(result: Result) -> dict[str, Any]:
        labels = [safe(v) for v in _column(result, label_column)]
        values = _column(result, "requests")
        figure = {
            "data": [
                {
                    "type": "pie",
                    "labels": labels,
                    "values": values,
                    "hole": 0.45,
                    "sort": False,
                    "textinfo": "percent",
                }
            ],
            "layout": _layout(margin={"l": 8, "r": 8, "t": 8, "b": 8}),
        }
        return {"empty": _empty(result), "figure": figure}

    return build


def bars(value_column: str, label: str) -> Callable[[Result], dict[str, Any]]:
    def build(result: Result) -> dict[str, Any]:
        rows = [
            r
            for r in zip(_column(result, "intent"), _column(result, value_column), strict=True)
            if r[1]
        ]
        rows = rows[:15]
        figure = {
            "data": [
                {
                    "type": "bar",
                    "orientation": "h",
                    "name": label,
                    "y": [safe(i) for i, _ in rows][::-1],
                    "x": [v for _, v in rows][::-1],
                }
            ],
            "layout": _layout(
                margin={"l": 140, "r": 16, "t": 8, "b": 32}, xaxis={"title": {"text": label}}
            ),
        }
        return {"empty": not rows, "figure": figure}

    return build


def heatmap_sessions(result: Result) -> dict[str, Any]:
    hours = sorted({h for h in _column(result, "hour")})
    grid = [[0] * len(hours) for _ in WEEKDAYS]
    for day, hour, sessions in result.rows:
        grid[day][hours.index(hour)] = sessions
    figure = {
        "data": [
            {
                "type": "heatmap",
                "z": grid,
                "x": [f"{h:02d}:00" for h in hours],
                "y": WEEKDAYS,
                "colorscale": "Blues",
                "hoverongaps": False,
            }
        ],
        "layout": _layout(yaxis={"autorange": "reversed"}),
    }
    return {"empty": not any(any(r) for r in grid), "figure": figure}


def heatmap_intents(result: Result) -> dict[str, Any]:
    intents = sorted({i for i in _column(result, "intent")})
    grid: list[list[int | None]] = [[None] * 24 for _ in intents]
    for intent, hour, requests in result.rows:
        grid[intents.index(intent)][hour] = requests
    figure = {
        "data": [
            {
                "type": "heatmap",
                "z": grid,
                "x": [f"{h:02d}" for h in range(24)],
                "y": [safe(i) for i in intents],
                "colorscale": "Blues",
                "hoverongaps": False,
            }
        ],
        "layout": _layout(
            margin={"l": 140, "r": 16, "t": 8, "b": 32}, height=max(220, 24 * len(intents) + 60)
        ),
    }
    return {"empty": not intents, "figure": figure}


def sankey(result: Result) -> dict[str, Any]:
    nodes: dict[tuple[int, str], int] = {}

    def node(step: int, name: str) -> int:
        return nodes.setdefault((step, name), len(nodes))

    sources, targets, values = [], [], []
    for step, source, target, sessions in result.rows:
        sources.append(node(step, source))
        targets.append(node(step + 1, target))
        values.append(sessions)
    labels = [safe(name) for (_, name) in nodes]
    figure = {
        "data": [
            {
                "type": "sankey",
                "arrangement": "snap",
                "node": {"label": labels, "pad": 12, "thickness": 12},
                "link": {"source": sources, "target": targets, "value": values},
            }
        ],
        "layout": _layout(height=360),
    }
    return {"empty": _empty(result), "figure": figure}


def stacked(category: str, parts: list[str]) -> Callable[[Result], dict[str, Any]]:
    def build(result: Result) -> dict[str, Any]:
        rows = result.rows[:15]
        names = [safe(r[result.columns.index(category)]) for r in rows]
        data = [
            {
                "type": "bar",
                "orientation": "h",
                "name": part,
                "y": names[::-1],
                "x": [r[result.columns.index(part)] for r in rows][::-1],
                "marker": {"color": OUTCOME_COLOURS.get(part)},
            }
            for part in parts
        ]
        layout = _layout(barmode="stack", margin={"l": 140, "r": 16, "t": 8, "b": 32})
        return {"empty": not rows, "figure": {"data": data, "layout": layout}}

    return build


def conversation_outcomes(result: Result) -> dict[str, Any]:
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": outcome,
            "y": ["conversations"],
            "x": [sessions],
            "marker": {"color": OUTCOME_COLOURS.get(outcome)},
        }
        for outcome, sessions in result.rows
    ]
    layout = _layout(barmode="stack", height=160, margin={"l": 100, "r": 16, "t": 8, "b": 32})
    return {"empty": not any(r[1] for r in result.rows), "figure": {"data": data, "layout": layout}}


# How the report shows tiles and table cells; dashboard.js's formatValue and cellText
# show them the same way (a browser test compares every table cell with cell_text).


def _seconds_text(value: float) -> str:
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def tile_text(value: Any, fmt: str) -> str:
    """A KPI tile's value as shown, by the tile's format."""
    if value is None:
        return "—"
    if fmt == "percent":
        return f"{value * 100:.1f} %"
    if fmt == "seconds":
        return _seconds_text(value)
    if fmt == "float":
        return f"{value:.2f}"
    return f"{value:,}"


def column_kind(column: Column) -> str:
    """How a table shows a column: its catalog type, or seconds, or a clipped id."""
    if column.type == "float" and column.name.endswith("_s"):
        return "seconds"  # the catalog's durations are floats named *_s
    if column.type == "string" and column.name.endswith("_id"):
        return "id"
    return column.type


def cell_text(value: Any, kind: str) -> str:
    """A table cell as shown, by its column's kind (``column_kind``)."""
    if value is None:
        return "—"
    if kind == "boolean":
        return "yes" if value else "no"
    if kind == "timestamp":  # in the view's time zone already: to the second, no offset
        return str(value)[:19].replace("T", " ")
    if kind == "seconds":
        return _seconds_text(value)
    if kind == "float":
        return f"{value:.3f}"
    if kind == "integer":
        return f"{value:,}"
    return str(value)


def table(links: dict[str, str] | None = None) -> Callable[[Result], dict[str, Any]]:
    """Rows as data, with each column's label and kind; the page writes every cell with
    textContent, never as HTML."""

    def build(result: Result) -> dict[str, Any]:
        catalog = {c.name: c for c in CATALOG[result.metric].columns}
        return {
            "empty": _empty(result),
            "table": {
                "columns": result.columns,
                "labels": [name.removesuffix("_s").replace("_", " ") for name in result.columns],
                "kinds": [column_kind(catalog[name]) for name in result.columns],
                "rows": result.rows,
                "links": links or {},
            },
        }

    return build


SECTIONS = (
    "Activity",
    "Missed utterances",
    "Conversations",
    "Utterances",
    "Conversation flow",
    "Slots and session attributes",
    "Outcomes",
)

SESSION_LINK = {"session_id": "session"}

WIDGETS: tuple[Widget, ...] = (
    Widget("kpis", "summary", "Overview", "Activity", "tiles", kpi_tiles, wide=True),
    Widget(
        "activity",
        "activity",
        "Requests, sessions and missed over time",
        "Activity",
        "figure",
        activity_figure,
        wide=True,
    ),
    Widget("sentiment", "sentiment", "Sentiment", "Activity", "figure", pie("sentiment")),
    Widget("modality", "modality", "Modality", "Activity", "figure", pie("input_mode")),
    Widget("intents", "intents", "Top intents", "Activity", "figure", bars("requests", "requests")),
    Widget(
        "missed_by_intent",
        "intents",
        "Missed by intent",
        "Missed utterances",
        "figure",
        bars("missed", "missed"),
    ),
    Widget(
        "missed_utterances",
        "missed_utterances",
        "Missed utterances",
        "Missed utterances",
        "table",
        table(),
        params={"limit": 20},
    ),
    Widget(
        "session_stats",
        "session_stats",
        "Conversation statistics",
        "Conversations",
        "tiles",
        session_tiles,
        wide=True,
    ),
    Widget(
        "top_sessions",
        "top_sessions",
        "Top sessions",
        "Conversations",
        "table",
        table(SESSION_LINK),
        wide=True,
    ),
    Widget(
        "session_heatmap",
        "session_heatmap",
        "Sessions by weekday and hour",
        "Conversations",
        "figure",
        heatmap_sessions,
    ),
    Widget(
        "top_utterances",
        "top_utterances",
        "Top utterances",
        "Utterances",
        "table",
        table(),
        params={"limit": 20},
    ),
    Widget(
        "intent_heatmap",
        "intent_heatmap",
        "Intents by hour of day",
        "Utterances",
        "figure",
        heatmap_intents,
    ),
    Widget(
        "message_history",
        "message_history",
        "Message history",
        "Utterances",
        "table",
        table(SESSION_LINK),
        params={"limit": 50},
        wide=True,
    ),
    Widget(
        "intent_flow",
        "intent_flow",
        "Conversation flow",
        "Conversation flow",
        "figure",
        sankey,
        wide=True,
    ),
    Widget(
        "intent_paths",
        "intent_paths",
        "Top conversation paths",
        "Conversation flow",
        "table",
        table(),
        wide=True,
    ),
    Widget(
        "slot_values",
        "slot_values",
        "Top slot values",
        "Slots and session attributes",
        "table",
        table(),
    ),
    Widget(
        "session_attributes",
        "session_attributes",
        "Top session attributes",
        "Slots and session attributes",
        "table",
        table(),
    ),
    Widget(
        "slot_retries",
        "slot_retries",
        "Slot elicitations and retries",
        "Slots and session attributes",
        "figure",
        stacked("intent", ["elicitations", "retries"]),
    ),
    Widget(
        "intent_outcomes",
        "intent_outcomes",
        "Intent outcomes",
        "Outcomes",
        "figure",
        stacked("intent", ["success", "failed", "switched", "dropped"]),
    ),
    Widget(
        "conversation_outcomes",
        "conversation_outcomes",
        "Conversation outcomes",
        "Outcomes",
        "figure",
        conversation_outcomes,
    ),
)

WIDGETS_BY_ID = {w.id: w for w in WIDGETS}


def render(widget: Widget, result: Result) -> dict[str, Any]:
    return {
        "widget": widget.id,
        "metric": result.to_dict(),
        "kind": widget.kind,
        **widget.build(result),
    }
