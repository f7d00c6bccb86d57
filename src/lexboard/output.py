"""Rendering metric results: JSON, CSV (shared by the CLI and the API) and rich tables."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
from rich.table import Table
from rich.text import Text

from lexboard.metrics.run import Result

FORMATS = ("json", "csv", "table")


def to_json(result: Result) -> str:
    return orjson.dumps(result.to_dict(), option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()
    return str(value)


def to_csv(result: Result) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow([_csv_cell(v) for v in row])
    return buffer.getvalue()


def to_table(result: Result, title: str | None = None) -> Table:
    table = Table(title=title or result.metric, title_justify="left")
    for column in result.columns:
        table.add_column(column, overflow="fold")
    for row in result.rows:
        table.add_row(*(_table_cell(v) for v in row))
    return table


def _table_cell(value: Any) -> Text:
    """Cells are Text, never markup: chatbot users' words may contain [brackets]."""
    if value is None:
        return Text("—", style="dim")
    if isinstance(value, float):
        return Text(f"{value:.4g}")
    return Text(_csv_cell(value))
