"""The catalog is consistent: SQL files, columns, parameters and their defaults."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from lexboard.metrics import CATALOG, Metric, resolve_request, run_metric
from lexboard.metrics.catalog import METRICS
from lexboard.metrics.request import FILTERS, _parse_param
from lexboard.store import Store, open_store
from lexboard.store.ingest import Ingestor
from tests.conftest import write_jsonl
from tests.records import lex_record, list_slot, scalar_slot

SQL_DIR = resources.files("lexboard.metrics") / "sql"
KINDS = {"int", "bool", "str", "choice"}
TYPES = {"string": str, "integer": int, "float": float, "boolean": bool, "timestamp": str}
ALL = [pytest.param(m, id=m.id) for m in METRICS]


def test_ids_are_unique_and_every_sql_file_has_an_entry() -> None:
    assert len(CATALOG) == len(METRICS)
    files = {p.name.removesuffix(".sql") for p in SQL_DIR.iterdir() if p.name.endswith(".sql")}
    assert files == set(CATALOG)


@pytest.mark.parametrize("metric", ALL)
def test_entry(metric: Metric) -> None:
    assert metric.level in {"turn", "session", "mixed"}
    assert metric.title and metric.order
    assert metric.description.strip() and "\n\n" not in metric.description
    names = [c.name for c in metric.columns]
    assert len(set(names)) == len(names)
    assert all(c.type in TYPES for c in metric.columns)
    # the runner merges the SQL's own WITH into its window CTEs: nothing may come before it
    assert re.match(r"(WITH|SELECT)\s", metric.sql)
    bindable = {"window_from", "window_to", "now", "tz", *FILTERS, *(p.name for p in metric.params)}
    assert set(re.findall(r"\$([a-z_][a-z0-9_]*)", metric.sql)) <= bindable


@pytest.mark.parametrize("metric", ALL)
def test_param_defaults_validate(metric: Metric) -> None:
    for param in metric.params:
        assert param.kind in KINDS, param
        if param.default is None:  # optional: absent means "none" or "resolved later"
            assert param.kind in {"str", "choice"}, param
            continue
        text = str(param.default).lower() if param.kind == "bool" else str(param.default)
        assert _parse_param(param, text) == param.default, param
        if param.kind == "choice" or param.choices:
            assert text in param.choices, param
        if param.minimum is not None:
            assert param.default >= param.minimum, param
    request = resolve_request(metric.id, "2026-11-02T00:00Z", "2026-11-03T00:00Z", "UTC")
    assert set(request.params) == {p.name for p in metric.params}
    assert all(request.params[p.name] is not None for p in metric.params if p.kind != "str")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A little of everything, so every column gets a non-null value somewhere."""
    root = tmp_path_factory.mktemp("catalog")
    slots = {"city": scalar_slot("paris", "Paris"), "extras": list_slot("wifi", "breakfast")}
    records = [
        lex_record(ts="2026-11-02T10:00:00.000Z", request_id="c1", intent="BookHotel",
                   slot_to_elicit="city", session_attributes={"Channel": "CHAT"}),
        lex_record(ts="2026-11-02T10:00:10.000Z", request_id="c2", intent="BookHotel",
                   slot_to_elicit="city", sentiment="POSITIVE"),
        lex_record(ts="2026-11-02T10:00:20.000Z", request_id="c3", intent="BookHotel",
                   state="Fulfilled", dialog_action="Close", slot_to_elicit=None, slots=slots),
        lex_record(ts="2026-11-02T11:00:00.000Z", request_id="c4", session_id="session-2",
                   intent=None, missed=True, transcript="Blah", input_mode="Speech"),
    ]  # fmt: skip
    logs = write_jsonl(root / "logs.jsonl", records)
    opened = open_store(root / "store.duckdb")
    ingestor = Ingestor(opened)
    ingestor.ingest_file(logs, ingestor.stats_for(str(logs)))
    ingestor.finish()
    yield opened
    opened.close()


def _run(store: Store, metric: Metric, start: str, end: str) -> list[list[Any]]:
    now = datetime(2026, 11, 3, tzinfo=UTC)
    request = resolve_request(metric.id, start, end, "Europe/Paris", now=now)
    result = run_metric(store, request)  # raises when the SQL's columns differ
    assert result.columns == [c.name for c in metric.columns]
    return result.rows


@pytest.mark.parametrize("metric", ALL)
def test_result_columns_and_types(store: Store, metric: Metric) -> None:
    rows = _run(store, metric, "2026-11-02", "2026-11-03")
    assert rows, f"{metric.id} gives no rows on the sample log"
    seen: set[str] = set()
    for row in rows:
        assert len(row) == len(metric.columns)
        for column, value in zip(metric.columns, row, strict=True):
            if value is None:
                continue
            seen.add(column.name)
            expected = TYPES[column.type]
            assert isinstance(value, expected), (column, value)
            if expected is int:
                assert not isinstance(value, bool), (column, value)
            if column.type == "timestamp":
                assert datetime.fromisoformat(value).utcoffset() is not None
                assert re.search(r"\.\d{3}[+-]\d\d:\d\d$", value), value
    assert seen == {c.name for c in metric.columns}, f"{metric.id}: always-null columns"


@pytest.mark.parametrize("metric", ALL)
def test_empty_store_runs(tmp_path: Path, metric: Metric) -> None:
    with open_store(tmp_path / "empty.duckdb") as empty:
        _run(empty, metric, "2026-11-02", "2026-11-03")
