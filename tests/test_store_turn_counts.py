"""turn_counts, kept grain by grain, always equals counting the stored turns again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from lexboard.metrics import resolve_request, run_metric
from lexboard.store import Store, open_store
from lexboard.store.ingest import ingest_sources
from tests.conftest import write_jsonl
from tests.records import lex_record

RECOUNT = """
SELECT epoch_us(ts) // 900000000 AS grain, bot_id, bot_name, locale_id, alias_id, alias_name,
       bot_version, input_mode, intent, sentiment, missed, count(*) AS requests
FROM turns GROUP BY ALL ORDER BY ALL
"""
STORED = (
    "SELECT grain, bot_id, bot_name, locale_id, alias_id, alias_name, bot_version, "
    "input_mode, intent, sentiment, missed, requests FROM turn_counts ORDER BY ALL"
)


def _turn(n: int, at: datetime, **extra: object) -> dict[str, object]:
    return lex_record(
        request_id=f"r{n}",
        session_id=f"s{n % 3}",
        ts=at.isoformat(timespec="milliseconds"),
        **extra,  # type: ignore[arg-type]
    )


def _check(store: Store) -> None:
    assert store.fetchall(STORED) == store.fetchall(RECOUNT)


def test_counts_follow_batches_late_turns_duplicates_and_retention(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    old = now - timedelta(days=31)
    with open_store(tmp_path / "c.duckdb") as store:
        batches = [
            # one grain and the next; a request id twice in the batch
            [
                _turn(1, old),
                _turn(2, old + timedelta(minutes=14)),
                _turn(2, old),
                _turn(3, old + timedelta(minutes=16), missed=True, sentiment=None),
            ],
            # a late turn into the first grain, another intent and mode, a later day
            [
                _turn(4, old + timedelta(minutes=1), intent="TransferFunds", input_mode="Speech"),
                _turn(5, now - timedelta(hours=1)),
            ],
            [_turn(5, now - timedelta(hours=1))],  # all stored already
        ]
        for n, batch in enumerate(batches):
            ingest_sources(store, [("x", [write_jsonl(tmp_path / f"{n}.jsonl", batch)])])
            _check(store)
        assert store.fetchone("SELECT sum(requests) FROM turn_counts") == (5,)
        # retention (30 days) cuts a grain in two: one turn just before the cutoff, one
        # after it, whichever second the run below starts in
        cutoff = datetime.now(UTC) - timedelta(days=30)
        cut_turns = [
            _turn(6, cutoff - timedelta(seconds=1)),
            _turn(7, cutoff + timedelta(seconds=20)),
        ]
        ingest_sources(store, [("x", [write_jsonl(tmp_path / "cut.jsonl", cut_turns)])])
        summary = ingest_sources(store, [], retention_days=30)
        assert summary.removed_by_retention == 4 + 1
        _check(store)
        assert store.fetchone("SELECT sum(requests) FROM turn_counts") == (2,)


def test_windows_cutting_grains_count_exactly(tmp_path: Path) -> None:
    start = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    records = [_turn(n, start + timedelta(minutes=n * 7, seconds=n)) for n in range(20)]
    with open_store(tmp_path / "w.duckdb") as store:
        ingest_sources(store, [("x", [write_jsonl(tmp_path / "w.jsonl", records)])])
        stamps = [start + timedelta(minutes=n * 7, seconds=n) for n in range(20)]
        for a, b in [(3, 41), (0, 140), (17, 17), (10, 12), (29, 31), (44, 46)]:
            lo, hi = start + timedelta(minutes=a), start + timedelta(minutes=b, seconds=30)
            request = resolve_request("summary", lo.isoformat(), hi.isoformat(), "UTC", {}, {})
            [row] = run_metric(store, request).rows
            assert row[0] == sum(lo <= t < hi for t in stamps), (a, b)
