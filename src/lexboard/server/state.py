"""What one server process holds: its store (it owns the file), one writer, a result cache.

DuckDB lets one process hold a file; the server is that process while it runs. Reads use
their own cursor each (DuckDB's MVCC lets them run beside a write); writes go through
``Writer`` one at a time. The data version rises with every committed write, and cached
results are keyed by it, so many viewers cost one computation and never see stale data.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
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
                return self._cache[full_key]  # type: ignore[no-any-return]
        value = compute()
        with self._cache_lock:
            self._cache[full_key] = value
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return value
