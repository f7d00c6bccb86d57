"""The ingest progress bar: bytes, estimated records and records/s, on a terminal only.

Within one file the bar follows DuckDB's own query progress, polled from the main
thread while the file's batch runs in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from lexboard.sources.files import FileSource
from lexboard.store.ingest import Ingestor, SourceStats

POLL_SECONDS = 0.2


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def estimate_records(path: Path, size: int) -> int:
    """Records in a JSON Lines file, from the line length of its first 64 KB."""
    try:
        with path.open("rb") as handle:
            head = handle.read(65536)
    except OSError:
        return 0
    lines = head.count(b"\n")
    return int(size * lines / len(head)) if lines and not head.startswith(b"\x1f\x8b") else 0


class IngestProgress:
    def __init__(self, console: Console, sources: Sequence[FileSource], quiet: bool) -> None:
        self.enabled = not quiet and console.is_terminal
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[records]:,} records · {task.fields[rate]:,.0f}/s"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not self.enabled,
        )
        total = sum(_size(f) for s in sources for f in s.files)
        self.task = self.progress.add_task("ingest", total=total, records=0, rate=0.0)
        self.done_bytes = 0

    def __enter__(self) -> IngestProgress:
        self.progress.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.progress.__exit__(kind, value, traceback)

    def _show(self, records: int, completed: int) -> None:
        elapsed = self.progress.tasks[0].elapsed or 1e-9
        self.progress.update(
            self.task, completed=completed, records=records, rate=records / elapsed
        )

    def run_file(self, ingestor: Ingestor, path: Path, stats: SourceStats, fmt: str | None) -> None:
        size = _size(path)
        name = path.name if len(path.name) <= 32 else "…" + path.name[-31:]
        self.progress.update(self.task, description=name)
        before = ingestor.summary.total("read")
        expected = estimate_records(path, size)

        def report(fraction: float) -> None:
            self._show(before + int(expected * fraction), self.done_bytes + int(size * fraction))

        _with_query_progress(lambda: ingestor.ingest_file(path, stats, fmt), ingestor, report)
        self.done_bytes += size
        self._show(ingestor.summary.total("read"), self.done_bytes)


def _with_query_progress(
    work: Callable[[], None], ingestor: Ingestor, report: Callable[[float], None]
) -> None:
    """Run ``work`` in a thread; meanwhile move the bar with DuckDB's own query progress."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(work)
        best = 0.0
        while True:
            try:
                future.result(timeout=POLL_SECONDS)
                return
            except FutureTimeout:
                fraction = ingestor.store.con.query_progress() / 100
                if best < fraction <= 1:
                    best = fraction
                    report(best)
