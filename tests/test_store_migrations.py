"""Migrations: a store written by an older lexboard is brought up to date on open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from lexboard.errors import StoreError
from lexboard.store import open_store
from lexboard.store.ingest import ingest_sources
from lexboard.store.schema import LATEST_VERSION
from tests.conftest import write_jsonl
from tests.records import lex_record, scalar_slot


def _store_of_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: int, records: list[Any]
) -> tuple[Path, Path]:
    """(the logs, a store as lexboard with schema ``version`` made it, holding their turns)."""
    from lexboard.store import db as store_db
    from lexboard.store.schema import MIGRATIONS

    logs = write_jsonl(tmp_path / "l.jsonl", records)
    current = tmp_path / "current.duckdb"
    with open_store(current) as store:
        ingest_sources(store, [("x", [logs])])
    old = tmp_path / "old.duckdb"
    with monkeypatch.context() as patch:
        patch.setattr(store_db, "MIGRATIONS", MIGRATIONS[:version])
        patch.setattr(store_db, "LATEST_VERSION", version)
        open_store(old).close()
    newer = [column for added, column in TURN_COLUMNS_ADDED if added > version]
    con = duckdb.connect(str(old))
    con.execute(f"ATTACH '{current}' AS current (READ_ONLY)")
    exclude = f" EXCLUDE ({', '.join(newer)})" if newer else ""
    con.execute(f"INSERT INTO turns SELECT *{exclude} FROM current.turns")
    con.close()
    return logs, old


TURN_COLUMNS_ADDED = [(6, "request_key")]  # (schema version, turns column it added)


def test_version_4_store_gets_its_derived_tables_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [
        lex_record(
            session_id="s",
            request_id="a",
            session_attributes={"Channel": "CHAT"},
            missed=True,
            transcript="I want to check my  balance",
            ts="2026-11-02T10:00:00.000Z",
        ),
        lex_record(
            session_id="s",
            request_id="b",
            ts="2026-11-02T10:00:05.000Z",
            state="Fulfilled",
            slots={"accountType": scalar_slot("checking", "Checking")},
        ),
    ]
    _, old = _store_of_version(tmp_path, monkeypatch, 4, records)
    with open_store(old) as store:
        assert store.schema_version() == LATEST_VERSION
        runs, path = store.fetchone("SELECT runs, path FROM sessions")
        attributes = store.fetchall("SELECT attribute, value FROM session_attributes")
        elicitations = store.fetchall("SELECT ts, retry FROM elicitations ORDER BY ts")
        missed = store.fetchall("SELECT utterance FROM missed_turns")
        fills = store.fetchall("SELECT slot, value FROM slot_fills ORDER BY ALL")
    assert runs == "CheckBalance\x1fFulfilled" and path == "CheckBalance"
    assert attributes == [("Channel", "CHAT")]
    assert [retry for _, retry in elicitations] == [False, True]
    assert missed == [("i want to check my balance",)]
    assert fills == [("accountType", "Checking")]


def test_version_5_store_gets_keys_and_turn_counts_and_still_finds_its_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [
        lex_record(session_id="s", request_id=f"r{i}", ts=f"2026-11-02T10:00:0{i}.000Z")
        for i in range(3)
    ]
    logs, old = _store_of_version(tmp_path, monkeypatch, 5, records)
    with open_store(old) as store:
        assert store.schema_version() == LATEST_VERSION
        assert store.fetchall(
            "SELECT count(*) FROM turns WHERE request_key = md5_number_lower(request_id)"
        ) == [(3,)]
        assert store.fetchone("SELECT sum(requests) FROM turn_counts") == (3,)
        summary = ingest_sources(store, [("x", [logs])])
        assert (summary.total("new"), summary.total("duplicate")) == (0, 3)


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
            session_attributes={"k": f"v{i % 4}"},
            ts=f"2026-11-02T10:{i // 60:02d}:{i % 60:02d}.000Z",
        )
        for i in range(120)
    ]
    db = tmp_path / "s.duckdb"
    with open_store(db) as store:
        ingest_sources(store, [("x", [write_jsonl(tmp_path / "l.jsonl", records)])])
        # session_no is a surrogate: rows are compared through their session's key
        queries = ["SELECT * EXCLUDE (session_no) FROM sessions ORDER BY ALL"] + [
            f"SELECT s.session_id, s.originating_request_id, c.* EXCLUDE (session_no) "
            f"FROM {child} c JOIN sessions s USING (session_no) ORDER BY ALL"
            for child in ("session_attributes", "elicitations", "missed_turns")
        ]
        incremental = [store.fetchall(query) for query in queries]
        monkeypatch.setattr(sessions, "REBUILD_CHUNK_TURNS", 10)  # 12 slices
        with store.transaction():
            sessions.rebuild_all_sessions(store.con)
        assert [store.fetchall(query) for query in queries] == incremental
