"""What one server process holds: its store (it owns the file), one writer, a result cache.

DuckDB lets one process hold a file; the server is that process while it runs. Reads use
their own cursor each (DuckDB's MVCC lets them run beside a write); writes go through
``Writer`` one at a time. The data version rises with every committed write, and cached
results are keyed by it, so many viewers cost one computation and never see stale data:
a request for a result that another request is computing waits for that computation
instead of starting its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lexboard.config import Settings
from lexboard.store.db import Store

T = TypeVar("T")
CACHE_SIZE = 512


@dataclass
class ServerState:
    settings: Settings
    store: Store
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    data_version: int = 0
    workers: Any = None  # server.workers.Workers once the app has started
    _cache: OrderedDict[tuple[Any, ...], Any] = field(default_factory=OrderedDict)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock)
    _pending: dict[tuple[Any, ...], Future[Any]] = field(default_factory=dict)
    cache_hits: int = 0
    cache_computed: int = 0

    @contextmanager
    def writing(self) -> Iterator[Store]:
        """The single writer; the data version moves when the write is done."""
        with self.write_lock:
            try:
                yield self.store
            finally:
                self.data_version += 1

    @contextmanager
    def reading(self) -> Iterator[Store]:
        """A Store over its own cursor: library reads run beside the writer safely."""
        cursor = self.store.con.cursor()
        try:
            yield Store(self.store.path, cursor, read_only=True)
        finally:
            cursor.close()

    def cached(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        full_key = (self.data_version, *key)
        with self._cache_lock:
            if full_key in self._cache:
                self._cache.move_to_end(full_key)
                self.cache_hits += 1
                return self._cache[full_key]  # type: ignore[no-any-return]
            pending = self._pending.get(full_key)
            owner = pending is None
            if pending is None:
                pending = self._pending[full_key] = Future()
                self.cache_computed += 1
            else:
                self.cache_hits += 1
        if not owner:
            return pending.result()  # type: ignore[no-any-return]
        try:
            value = compute()
        except BaseException as exc:
            with self._cache_lock:
                del self._pending[full_key]
            pending.set_exception(exc)
            raise
        with self._cache_lock:
            self._cache[full_key] = value
            del self._pending[full_key]
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        pending.set_result(value)
        return value
