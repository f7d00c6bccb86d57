"""Following files: appended lines, partial lines, new files, rotation, restarts."""

from __future__ import annotations

import gzip
import itertools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from lexboard.sources import follow
from lexboard.sources.follow import FollowSource
from lexboard.sources.live import pump
from lexboard.store import open_store
from lexboard.store.db import Store
from lexboard.store.ingest import Ingestor
from tests.records import lex_record
from tests.server import running_server

_ids = itertools.count(1)


def lines(count: int, export: bool = False) -> tuple[bytes, list[str]]:
    out, ids = [], []
    for _ in range(count):
        request_id = f"f-{next(_ids)}"
        stamp = datetime.now(UTC) - timedelta(seconds=30)
        ts = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        text = json.dumps(lex_record(ts=ts, request_id=request_id))
        out.append(f"{ts} {text}\n" if export else text + "\n")
        ids.append(request_id)
    return "".join(out).encode(), ids


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


class Follower:
    """A FollowSource driven by hand, with a clock the test moves."""

    def __init__(self, store: Store, argument: Path) -> None:
        self.store = store
        self.clock = [100.0]
        self.source = FollowSource(str(argument), store=store, clock=lambda: self.clock[0])
        self.ingestor = Ingestor(store, command="test")

    def pump(self, advance: float = 1.0) -> int:
        self.clock[0] += advance
        return pump(self.source, self.ingestor, self.store, datetime.now(UTC))

    @property
    def stats(self):  # type: ignore[no-untyped-def]
        return self.ingestor.stats_for(self.source.label)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "store.duckdb") as opened:
        yield opened


def stored(store: Store) -> list[str]:
    return sorted(r[0] for r in store.fetchall("SELECT request_id FROM turns"))


def test_appends_and_a_partial_last_line(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "lex.jsonl"
    first, ids = lines(3)
    log.write_bytes(first)
    follower = Follower(store, log)
    assert follower.pump() == 3

    more, more_ids = lines(3)
    cut = more.index(b"\n", more.index(b"\n") + 1) + 10  # two whole lines and a bit
    append(log, more[:cut])
    assert follower.pump() == 2  # the partial line waits for its newline
    assert follower.pump() == 0
    append(log, more[cut:])
    assert follower.pump() == 1
    assert stored(store) == sorted(ids + more_ids)
    assert follower.stats.duplicate == 0 and follower.stats.quarantined == 0

    # A last line that never gets its newline is taken once the file has been idle.
    last, last_ids = lines(1)
    append(log, last.rstrip(b"\n"))
    assert follower.pump() == 0
    assert follower.pump(advance=follow.PARTIAL_GRACE_S) == 1
    append(log, b"\n")  # ... and its newline, should it come after all, is only a newline
    assert follower.pump() == 0
    assert stored(store) == sorted(ids + more_ids + last_ids)


def test_new_files_in_a_directory_and_rename_rotation(tmp_path: Path, store: Store) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / ".hidden").write_bytes(lines(1)[0])
    current = folder / "app.log"
    data, ids = lines(2)
    current.write_bytes(data)
    follower = Follower(store, folder)
    assert follower.pump() == 2

    # Rotation: two more lines land just before the rename; a new app.log starts.
    tail, tail_ids = lines(2)
    append(current, tail)
    current.rename(folder / "app.log.1")
    fresh, fresh_ids = lines(3)
    current.write_bytes(fresh)
    sub = folder / "2026" / "11"
    sub.mkdir(parents=True)
    export, export_ids = lines(2, export=True)
    (sub / "export.txt").write_bytes(export)
    packed, packed_ids = lines(2)
    (folder / "old.jsonl.gz").write_bytes(gzip.compress(packed))
    assert follower.pump() == 2 + 3 + 2  # the gzip file waits until it has stopped changing
    assert follower.pump() == 2
    assert stored(store) == sorted(ids + tail_ids + fresh_ids + export_ids + packed_ids)
    assert follower.stats.duplicate == 0
    event_ms = store.fetchone("SELECT count(*) FROM turns WHERE position LIKE '2026/11/%'")
    assert event_ms[0] == 2
    assert follower.pump() == 0


def test_single_file_rotation_and_truncation(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "lex.log"
    data, ids = lines(2)
    log.write_bytes(data)
    follower = Follower(store, log)
    assert follower.pump() == 2

    # Rename rotation: the old file is finished through the open handle, then the new one.
    tail, tail_ids = lines(1)
    append(log, tail + b'{"partial": ')  # the rotated file ends with a cut line
    log.rename(tmp_path / "lex.log.1")
    fresh, fresh_ids = lines(2)
    log.write_bytes(fresh)
    assert follower.pump() == 1 + 1 + 2  # the cut line is quarantined: it never completes
    assert follower.stats.quarantined == 1

    # copytruncate: the file is emptied in place and written again from the start.
    with log.open("r+b") as handle:
        handle.truncate(0)
    again, again_ids = lines(1)
    log.write_bytes(again)
    assert follower.pump() == 1
    assert stored(store) == sorted(ids + tail_ids + fresh_ids + again_ids)


def test_restart_resumes_from_the_checkpoint(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    log = folder / "lex.jsonl"
    data, ids = lines(4)
    log.write_bytes(data)
    db = tmp_path / "f.duckdb"
    with open_store(db) as store:
        follower = Follower(store, folder)
        assert follower.pump() == 4
        follower.ingestor.finish()
    more, more_ids = lines(2)
    append(log, more)
    (folder / "lex.jsonl").rename(folder / "lex.jsonl.1")  # rotated while lexboard was down
    newer, newer_ids = lines(1)
    (folder / "lex.jsonl").write_bytes(newer)
    with open_store(db) as store:
        follower = Follower(store, folder)
        assert follower.pump() == 3
        assert follower.stats.duplicate == 0
        assert stored(store) == sorted(ids + more_ids + newer_ids)
        keys = [r[0] for r in store.fetchall("SELECT source FROM checkpoints ORDER BY 1")]
        assert keys == [f"file://{folder / 'lex.jsonl'}", f"file://{folder / 'lex.jsonl.1'}"]


def test_serve_follow(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    first, _ = lines(2)
    (folder / "a.jsonl").write_bytes(first)
    db = folder / "s.duckdb"  # the store in the followed folder is not read as logs
    with running_server(db, "--source", str(folder), "--follow") as url:
        second, _ = lines(3)
        append(folder / "a.jsonl", second)
        (folder / "b.jsonl").write_bytes(lines(1)[0])
        deadline = time.monotonic() + 20
        while True:
            status = httpx.get(url + "/api/status", timeout=5).json()
            mine = [s for s in status["sources"] if s["source"] == str(folder)]
            if mine and mine[0]["new"] == 6:
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
        assert mine[0]["live"] is True and mine[0]["last_error"] is None
        summary = httpx.get(url + "/api/metrics/summary", timeout=5).json()
        assert summary["rows"][0][0] == 6
        assert status["quarantined"] == 0
    with open_store(db) as store:  # the workers saved the checkpoints
        keys = {r[0] for r in store.fetchall("SELECT source FROM checkpoints")}
    assert keys == {f"file://{folder / 'a.jsonl'}", f"file://{folder / 'b.jsonl'}"}
