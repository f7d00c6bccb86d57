"""Migrations: a store written by an older lexboard is brought up to date on open."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from lexboard.errors import StoreError
from lexboard.store import open_store
from lexboard.store.ingest import ingest_sources
from lexboard.store.schema import LATEST_VERSION
from tests.conftest import write_jsonl
from tests.records import lex_record


def test_version_2_store_gets_session_columns_rebuilt(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    records = [
        lex_record(
            session_id="s",
            request_id="a",
            session_attributes={"Channel": "CHAT"},
            ts="2026-11-02T10:00:00.000Z",
        ),
        lex_record(session_id="s", request_id="b", ts="2026-11-02T10:00:05.000Z"),
    ]
    with open_store(db) as store:
        ingest_sources(store, [("x", [write_jsonl(tmp_path / "l.jsonl", records)])])
    con = duckdb.connect(str(db))  # make it look like a version-2 store
    con.execute("ALTER TABLE sessions DROP COLUMN attributes")
    con.execute("ALTER TABLE sessions DROP COLUMN elicitations")
    con.execute("ALTER TABLE sessions DROP COLUMN path")
    con.execute("DELETE FROM schema_version WHERE version >= 3")
    con.close()
    with open_store(db) as store:
        assert store.schema_version() == LATEST_VERSION
        attributes, elicitations, path = store.fetchone(
            "SELECT attributes, elicitations, path FROM sessions"
        )
    assert attributes == [{"key": "Channel", "value": "CHAT"}]
    assert path == ["CheckBalance"]
    assert [e["request_id"] for e in elicitations] == ["a", "b"]
    assert [e["retry"] for e in elicitations] == [False, True]


def test_newer_store_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "new.duckdb"
    open_store(db).close()
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO schema_version VALUES (999, now())")
    con.close()
    with pytest.raises(StoreError, match="newer than this lexboard"):
        open_store(db)


def test_rebuild_in_slices_gives_the_same_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lexboard.store import sessions

    records = [
        lex_record(
            session_id=f"s{i % 7}",
            request_id=f"r{i}",
            missed=i % 3 == 0,
            ts=f"2026-11-02T10:{i // 60:02d}:{i % 60:02d}.000Z",
        )
        for i in range(120)
    ]
    db = tmp_path / "s.duckdb"
    with open_store(db) as store:
        ingest_sources(store, [("x", [write_jsonl(tmp_path / "l.jsonl", records)])])
        query = "SELECT * FROM sessions ORDER BY session_id, originating_request_id"
        incremental = store.fetchall(query)
        monkeypatch.setattr(sessions, "REBUILD_CHUNK_TURNS", 10)  # 12 slices
        with store.transaction():
            sessions.rebuild_all_sessions(store.con)
        assert store.fetchall(query) == incremental
