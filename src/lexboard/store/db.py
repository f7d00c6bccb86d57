"""Opening the store: one DuckDB file, migrated on open, with a clear error when busy."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from duckdb.func import FunctionNullHandling

from lexboard.errors import StoreError, StoreInUse
from lexboard.logs.record import SQL_MACROS, normalize_utterance
from lexboard.store.schema import LATEST_VERSION, MIGRATIONS, REBUILD_DERIVED_AFTER

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")
DEFAULT_MEMORY_LIMIT = "700MB"


def _describe_process(pid: int, exe: str) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        command = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    except OSError:
        command = exe
    return f"PID {pid} ({command})" if command else f"PID {pid}"


def _normalize(text: str | None) -> str | None:
    return normalize_utterance(text)


@dataclass
class Store:
    path: Path
    con: duckdb.DuckDBPyConnection
    read_only: bool

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        return self.con.execute(sql, params) if params is not None else self.con.execute(sql)

    def fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[Any]:
        return list(self.execute(sql, params).fetchall())

    def fetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        return self.execute(sql, params).fetchone()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def schema_version(self) -> int:
        return _schema_version(self.con)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _schema_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_version'"
        " AND database_name = current_database()"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _migrate(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    version = _schema_version(con)
    if version > LATEST_VERSION:
        raise StoreError(
            f"store {path} has schema version {version}, newer than this lexboard "
            f"understands ({LATEST_VERSION})",
            hint="upgrade lexboard",
        )
    if version == LATEST_VERSION:
        return
    con.execute("BEGIN TRANSACTION")
    try:
        if version == 0:
            con.execute("CREATE TABLE schema_version (version INTEGER, applied_at TIMESTAMPTZ)")
        rebuild = False
        for number, sql in MIGRATIONS:
            if number > version:
                con.execute(sql)
                con.execute("INSERT INTO schema_version VALUES (?, now())", [number])
                rebuild = rebuild or number in REBUILD_DERIVED_AFTER
        if rebuild and version > 0:
            from lexboard.store.sessions import rebuild_all_sessions
            from lexboard.store.slot_fills import rebuild_slot_fills

            rebuild_all_sessions(con)
            rebuild_slot_fills(con)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _holder(exc: duckdb.Error) -> str | None:
    """The other process named by DuckDB's lock error, if that is what ``exc`` is."""
    match = _LOCK_HOLDER.search(str(exc))
    return _describe_process(int(match["pid"]), match["exe"]) if match else None


def holder_of(path: str | Path) -> str | None:
    """The process that holds the store file open for writing, if another one does."""
    if not Path(path).exists():
        return None
    try:
        duckdb.connect(str(path), config={"autoinstall_known_extensions": "false"}).close()
    except duckdb.Error as exc:
        return _holder(exc)
    return None


def open_store(
    path: str | Path,
    read_only: bool = False,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    create: bool = True,
) -> Store:
    """Open (and create or migrate) the store at ``path``.

    Raises StoreInUse naming the process that holds the file, StoreError otherwise.
    """
    store_path = Path(path)
    if not store_path.exists():
        if read_only or not create:
            raise StoreError(
                f"store {store_path} does not exist", hint="create it with lexboard ingest"
            )
        if not store_path.parent.exists():
            raise StoreError(f"cannot create store {store_path}: folder does not exist")
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": "false",
        "memory_limit": memory_limit,
        "TimeZone": "UTC",
    }
    try:
        con = duckdb.connect(str(store_path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        holder = _holder(exc)
        if holder:
            raise StoreInUse(
                f"store {store_path} is in use by {holder}",
                hint="stop that process, or wait for it to finish",
            ) from None
        raise StoreError(f"cannot open store {store_path}: {exc}") from None
    except duckdb.Error as exc:
        raise StoreError(f"cannot open store {store_path}: {exc}") from None
    try:
        if not read_only:
            _migrate(con, store_path)
        elif (found := _schema_version(con)) == 0:
            raise StoreError(f"{store_path} is not a lexboard store")
        elif found < LATEST_VERSION:
            raise StoreError(
                f"store {store_path} has schema version {found}; this lexboard needs "
                f"{LATEST_VERSION}",
                hint="run any writing command once (e.g. lexboard ingest) to migrate it",
            )
        # query_progress() then reports, for the CLI's progress bar; nothing is printed.
        con.execute("SET enable_progress_bar = true; SET enable_progress_bar_print = false")
        con.execute(SQL_MACROS)
        con.create_function(
            "lexboard_normalize",
            _normalize,
            ["VARCHAR"],
            "VARCHAR",
            null_handling=FunctionNullHandling.SPECIAL,
        )
    except BaseException:
        con.close()
        raise
    return Store(path=store_path, con=con, read_only=read_only)
