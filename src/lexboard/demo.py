"""``lexboard demo``: the sample bot, 30 days of its history, and a live dashboard.

The demo keeps its own folder (never ``./lexboard.duckdb``): a fresh store, a private
copy of the sample bot's export (which the write widgets and ``lexboard utterances
add`` change, and which the simulated users' classifier reads), and the history file.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from lexboard.errors import LexboardError, StoreInUse
from lexboard.logs.formats import Item, RawRecord
from lexboard.owner import find_server
from lexboard.sample.botdef import sample_bot_dir
from lexboard.sample.simulate import LiveTraffic, simulate_history
from lexboard.store.db import holder_of


def default_demo_dir() -> Path:
    return Path(tempfile.gettempdir()) / "lexboard-demo"


@dataclass
class DemoFiles:
    folder: Path
    db: Path
    bot: Path
    history: Path


def prepare(folder: Path, db: Path | None = None) -> DemoFiles:
    """A clean demo folder: the old store removed, a fresh copy of the sample bot."""
    folder.mkdir(parents=True, exist_ok=True)
    files = DemoFiles(
        folder, db or folder / "demo.duckdb", folder / "bot", folder / "history.jsonl"
    )
    if files.db.resolve() == (Path.cwd() / "lexboard.duckdb").resolve():
        raise LexboardError("the demo never uses ./lexboard.duckdb", hint="pick another --db")
    holder = holder_of(files.db)
    if holder:  # another demo still runs on it: rebuilding it would pull it from under that one
        running = find_server(files.db)
        raise StoreInUse(
            f"store {files.db} is in use by {holder}"
            + (f", the demo at {running.url}" if running else ""),
            hint="open that one, stop it, or give this demo its own --db",
        )
    for stale in (files.db, files.db.with_name(files.db.name + ".wal")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(files.bot, ignore_errors=True)
    shutil.copytree(sample_bot_dir(), files.bot)
    return files


def write_history(
    files: DemoFiles, days: int, sessions_per_day: float, seed: int, now: datetime
) -> int:
    count = 0
    with files.history.open("wb") as handle:
        for record in simulate_history(
            files.bot, now - timedelta(days=days), now, sessions_per_day, seed
        ):
            handle.write(orjson.dumps(record) + b"\n")
            count += 1
    return count


class SampleBotTraffic:
    """The sample bot's simulated users as a live source of the server."""

    def __init__(
        self,
        bot: Path,
        seed: int,
        sessions_per_day: float,
        interval_s: float,
        start: datetime | None = None,
    ) -> None:
        self.label = "sample-bot"
        self.interval_s = interval_s
        self._traffic = LiveTraffic(
            bot, seed, sessions_per_day=sessions_per_day, start=start or datetime.now(UTC)
        )
        self._count = 0

    def poll(self, now: datetime) -> Iterable[Item]:
        items: list[Item] = []
        for record in self._traffic.poll(now):
            self._count += 1
            items.append(RawRecord(f"live {self._count}", record))
        return items
