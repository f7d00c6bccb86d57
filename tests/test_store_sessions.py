"""Derived tables kept current batch by batch equal a recomputation from all the turns."""

from __future__ import annotations

from pathlib import Path

import pytest

from lexboard.store import Store, open_store
from lexboard.store.ingest import ingest_sources
from lexboard.store.sessions import rebuild_all_sessions
from lexboard.store.slot_fills import rebuild_slot_fills
from tests.conftest import write_jsonl
from tests.records import lex_record, scalar_slot

DERIVED = [
    "SELECT * EXCLUDE (session_no) FROM sessions ORDER BY ALL",
    *(
        f"SELECT s.session_id, c.* EXCLUDE (session_no) "
        f"FROM {child} c JOIN sessions s USING (session_no) ORDER BY ALL"
        for child in ("session_attributes", "elicitations", "missed_turns")
    ),
    "SELECT * FROM slot_fills ORDER BY ALL",
]


def _derived(store: Store) -> list[list[tuple[object, ...]]]:
    return [store.fetchall(query) for query in DERIVED]


def _turn(i: int, session: str, minute: int, **extra: object) -> dict[str, object]:
    return lex_record(
        session_id=session,
        request_id=f"{session}-{i}",
        ts=f"2026-11-02T10:{minute:02d}:00.000Z",
        **extra,  # type: ignore[arg-type]
    )


def test_sessions_across_batches_match_a_rebuild(tmp_path: Path) -> None:
    first = [
        _turn(1, "a", 0, session_attributes={"Channel": "CHAT"}),
        _turn(2, "a", 1, missed=True, transcript="Help  me"),
        _turn(1, "b", 2, state="Fulfilled", slots={"accountType": scalar_slot("checking")}),
    ]
    # later batches: a turn before a's first one (a's start moves), more of a and b
    second = [
        _turn(0, "a", 0, session_attributes={"Channel": "VOICE"}, missed=True),
        _turn(3, "a", 5, missed=True, transcript="help me"),
    ]
    third = [_turn(2, "b", 9, dialog_action="ElicitSlot", session_attributes={"Tier": "x"})]
    db = tmp_path / "s.duckdb"
    with open_store(db) as store:
        for n, records in enumerate((first, second, third)):
            path = write_jsonl(tmp_path / f"{n}.jsonl", records)
            ingest_sources(store, [("x", [path])])
        incremental = _derived(store)
        with store.transaction():
            rebuild_all_sessions(store.con)
            rebuild_slot_fills(store.con)
        assert _derived(store) == incremental
        # nothing left over from a session's earlier computations
        [(sessions, numbers)] = store.fetchall(
            "SELECT count(*), count(DISTINCT session_no) FROM sessions"
        )
        assert sessions == numbers == 2
        for child in ("session_attributes", "elicitations", "missed_turns"):
            orphans = store.fetchone(
                f"SELECT count(*) FROM {child} ANTI JOIN sessions USING (session_no)"
            )[0]
            assert orphans == 0, child
        assert store.fetchall("SELECT utterance FROM missed_turns ORDER BY ts") == [
            ("what is my balance",),
            ("help me",),
            ("help me",),
        ]
        assert store.fetchall("SELECT attribute, value FROM session_attributes ORDER BY ALL") == [
            ("Channel", "CHAT"),
            ("Channel", "VOICE"),
            ("Tier", "x"),
        ]


def test_a_batch_partly_stored_adds_only_its_new_records(tmp_path: Path) -> None:
    records = [_turn(i, "p", i, missed=i % 2 == 0) for i in range(6)]
    db = tmp_path / "p.duckdb"
    with open_store(db) as store:
        first = write_jsonl(tmp_path / "first.jsonl", records[:4])
        ingest_sources(store, [("x", [first])])
        both = write_jsonl(tmp_path / "both.jsonl", records[2:] + records[:1])
        summary = ingest_sources(store, [("x", [both])])
        assert (summary.total("new"), summary.total("duplicate")) == (2, 3)
        assert store.fetchall("SELECT request_id FROM turns ORDER BY ts") == [
            (f"p-{i}",) for i in range(6)
        ]
        assert store.fetchall("SELECT turns, missed FROM sessions") == [(6, 3)]


def test_a_request_id_twice_in_one_batch_keeps_the_same_copy_in_any_order(
    tmp_path: Path,
) -> None:
    copies = [
        _turn(1, "d", 0, transcript="first copy"),
        _turn(1, "d", 0, transcript="second copy"),
    ]
    other = _turn(2, "d", 1)
    kept = []
    for name, records in (("ab", copies), ("ba", copies[::-1])):
        for bad in (False, True):  # a bad line sends the file down the Python path
            path = tmp_path / f"{name}{bad}.jsonl"
            write_jsonl(path, [*records, other])
            if bad:
                path.write_bytes(path.read_bytes() + b"{not json\n")
            with open_store(tmp_path / f"{name}{bad}.duckdb") as store:
                summary = ingest_sources(store, [("x", [path])])
                assert (summary.total("new"), summary.total("duplicate")) == (2, 1)
                kept.append(store.fetchall("SELECT request_id, transcript FROM turns ORDER BY ts"))
                assert store.fetchall("SELECT turns FROM sessions") == [(2,)]
    assert kept[0] == [("d-1", "first copy"), ("d-2", "what is my balance")]
    assert all(k == kept[0] for k in kept)


def test_a_stored_key_shared_by_another_id_is_not_taken_for_a_duplicate(
    tmp_path: Path,
) -> None:
    # request keys are 64-bit digests: two ids may share one, so a key match is only a
    # candidate whose id is then compared
    with open_store(tmp_path / "k.duckdb") as store:
        ingest_sources(store, [("x", [write_jsonl(tmp_path / "a.jsonl", [_turn(1, "k", 0)])])])
        store.execute("UPDATE turns SET request_key = md5_number_lower('k-2')")
        later = write_jsonl(tmp_path / "b.jsonl", [_turn(1, "k", 0), _turn(2, "k", 1)])
        summary = ingest_sources(store, [("x", [later])])
        assert (summary.total("new"), summary.total("duplicate")) == (1, 1)
        assert store.fetchall("SELECT request_id FROM turns ORDER BY ts") == [("k-1",), ("k-2",)]


@pytest.mark.parametrize("limit", [0, 100_000])
def test_stored_records_are_found_with_few_or_many_candidates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    from lexboard.store import keys

    monkeypatch.setattr(keys, "CANDIDATE_LIMIT", limit)  # 0: ids compared with all ids
    records = [_turn(i, "c", i) for i in range(5)]
    with open_store(tmp_path / "c.duckdb") as store:
        ingest_sources(store, [("x", [write_jsonl(tmp_path / "a.jsonl", records[:3])])])
        both = write_jsonl(tmp_path / "b.jsonl", records[1:])
        summary = ingest_sources(store, [("x", [both])])
        assert (summary.total("new"), summary.total("duplicate")) == (2, 2)
        assert store.fetchall("SELECT count(*), count(DISTINCT request_id) FROM turns") == [(5, 5)]


@pytest.mark.parametrize("limit", [0, 100_000])
def test_a_session_is_recomputed_through_its_own_key_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    from lexboard.store import keys

    monkeypatch.setattr(keys, "CANDIDATE_LIMIT", limit)  # 0: keys compared with all sessions
    with open_store(tmp_path / "s.duckdb") as store:
        first = [_turn(1, "a", 0), _turn(1, "b", 1)]
        ingest_sources(store, [("x", [write_jsonl(tmp_path / "1.jsonl", first)])])
        # a's session key now equals b's: a key match is only a candidate
        store.execute(
            "UPDATE sessions SET session_key = "
            "(SELECT session_key FROM sessions WHERE session_id = 'b') WHERE session_id = 'a'"
        )
        later = [_turn(2, "b", 2)]
        ingest_sources(store, [("x", [write_jsonl(tmp_path / "2.jsonl", later)])])
        assert store.fetchall("SELECT session_id, turns FROM sessions ORDER BY 1") == [
            ("a", 1),
            ("b", 2),
        ]
