"""Live sources inside the server: each polls in its own thread, all write through the
server's single writer, so the dashboard stays responsive while data arrives.

A source is anything with a ``label``, an ``interval_s`` and ``poll(now)`` returning
log items (``logs.formats.RawRecord`` / ``Unreadable``). Its counts go to
``ingest_stats`` after every batch; its last error is kept for ``/api/status``. A source
with a ``commit(store)`` method (``sources.live``) has it called, in the writer, right
after each batch it returned is stored: it saves its checkpoint there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from lexboard.logs.formats import Item
from lexboard.server.state import ServerState
from lexboard.store.ingest import Ingestor

log = logging.getLogger("lexboard.workers")
MAX_BACKOFF_S = 60.0


class LiveSource(Protocol):
    label: str
    interval_s: float

    def poll(self, now: datetime) -> Iterable[Item]: ...


@dataclass
class SourceHealth:
    last_error: str | None = None
    last_success: datetime | None = None
    polls: int = 0


@dataclass
class Workers:
    state: ServerState
    sources: list[LiveSource]
    health: dict[str, SourceHealth] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for source in self.sources:
            self.health[source.label] = SourceHealth()
            thread = threading.Thread(
                target=self._run, args=(source,), name=f"source {source.label}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _run(self, source: LiveSource) -> None:
        health = self.health[source.label]
        with self.state.writing() as store:
            ingestor = Ingestor(
                store, self.state.settings.retention_days, command=f"live {source.label}"
            )
        stats = ingestor.stats_for(source.label)
        delay = source.interval_s
        while not self._stop.is_set():
            try:
                items = list(source.poll(datetime.now(UTC)))
                if items:
                    with self.state.writing() as store:
                        ingestor.ingest_items(items, source.label, stats, replace=False)
                        ingestor.save_stats()
                        commit = getattr(source, "commit", None)
                        if commit is not None:  # a checkpointed source saves where it is
                            commit(store)
                health.last_error, health.last_success = None, datetime.now(UTC)
                health.polls += 1
                delay = source.interval_s
            except Exception as exc:  # a source's failure must not stop the server
                health.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("source %s failed: %s", source.label, health.last_error)
                delay = min(MAX_BACKOFF_S, max(delay * 2, 1.0))
            self._stop.wait(delay)
        with self.state.writing():
            ingestor.finish("stopped")
