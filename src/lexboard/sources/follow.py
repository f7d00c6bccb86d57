"""Files, live: ``lexboard serve --source PATH --follow``.

PATH is a file, a directory (followed recursively, hidden files left out) or a glob.
Lines appended to a file are read as they come; a file that appears is read from its
start. Line files are JSON Lines or CloudWatch export lines (``<timestamp> <json>``),
sniffed from their first line; other files (gzip, JSON arrays, saved
``filter-log-events`` output) are read whole once their size has stopped changing, and
again when it changes.

Safe across rotation:

- a partial last line (no newline yet) is left in the file until it is complete; it is
  taken without its newline only once the file has been idle for ``PARTIAL_GRACE_S`` and
  the line parses;
- rename rotation (``app.log`` → ``app.log.1``, new ``app.log``): the old file is read
  to its end through the handle already open, then the new one from 0; in a followed
  directory the renamed file keeps its position (files are known by device and inode);
- truncation (``copytruncate``): a file shorter than the position is read from 0.

Checkpoint: one row per file, ``file://ABSOLUTE_PATH`` → device, inode, byte offset of
the end of the last complete line, line number, and a digest of the file's first bytes,
so a reused inode is not mistaken for the file it replaced.
"""

from __future__ import annotations

import glob
import hashlib
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from lexboard.errors import SourceError
from lexboard.logs.formats import (
    _EXPORT_LINE,
    Item,
    RawRecord,
    Unreadable,
    _parse,
    is_gzip,
    raw_start,
    read_items,
    sniff,
)
from lexboard.logs.record import parse_timestamp
from lexboard.sources.live import load_checkpoints, save_checkpoints
from lexboard.store.db import Store

DEFAULT_INTERVAL_S = 1.0
READ_BYTES = 8 << 20  # per file and poll
POLL_BYTES = 32 << 20  # all files of one poll; more waits for the next (immediate) poll
MAX_LINE_BYTES = 64 << 20
HEAD_BYTES = 1024
PARTIAL_GRACE_S = 5.0
IDLE_CLOSE_S = 300.0
_GLOB_CHARS = set("*?[")
KEY_PREFIX = "file://"


@dataclass
class _Tail:
    path: Path
    dev: int
    ino: int
    pos: int = 0  # the end of the last complete line read: the next read starts here
    line: int = 0  # lines before pos
    mode: str | None = None  # "jsonl", "export", "whole"; None until sniffed
    whole: tuple[int, int] | None = None  # (size, mtime_ns) last read whole
    head: str = ""
    head_len: int = 0
    handle: IO[bytes] | None = None
    size_seen: int = -1
    changed_at: float = 0.0
    saved: dict[str, Any] = field(default_factory=dict)

    def value(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "dev": self.dev,
            "ino": self.ino,
            "pos": self.pos,
            "line": self.line,
            "mode": self.mode,
            "whole": list(self.whole) if self.whole else None,
            "head": self.head,
            "head_len": self.head_len,
        }

    def restore(self, value: dict[str, Any]) -> None:
        self.pos = int(value.get("pos") or 0)
        self.line = int(value.get("line") or 0)
        self.mode = value.get("mode")
        whole = value.get("whole")
        self.whole = (int(whole[0]), int(whole[1])) if whole else None
        self.head = str(value.get("head") or "")
        self.head_len = int(value.get("head_len") or 0)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def _digest(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


class FollowSource:
    """A file, directory or glob whose growth is ingested as it happens."""

    def __init__(
        self,
        argument: str,
        *,
        store: Store | None = None,
        interval_s: float = DEFAULT_INTERVAL_S,
        label: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.argument = argument
        self.label = label or argument
        self._interval_s = interval_s
        self._clock = clock
        self._is_glob = bool(_GLOB_CHARS & set(argument))
        self._root = Path(argument)
        if not self._is_glob and not self._root.exists() and not self._root.parent.is_dir():
            raise SourceError(f"{argument}: no such file or directory (nor its folder)")
        # The store's own files (the database, its WAL, the owner file) are never logs.
        self._exclude = str(store.path.absolute()) if store is not None else None
        saved = load_checkpoints(store, KEY_PREFIX) if store is not None else {}
        self._saved: dict[str, dict[str, Any]] = {
            k: v for k, v in saved.items() if isinstance(v, dict)
        }
        self._by_inode: dict[tuple[Any, Any], dict[str, Any]] = {
            (v.get("dev"), v.get("ino")): v for v in self._saved.values()
        }
        self._tails: dict[Path, _Tail] = {}
        self._forgotten: set[str] = set()
        self._uncommitted = False
        self._backlog = False
        self.interval_s = interval_s  # 0 while a backlog is read
        self._started = False

    # --- the LiveSource protocol ------------------------------------------------------

    def poll(self, now: datetime) -> list[Item]:
        items = self._poll(now)
        self.interval_s = 0.0 if self._backlog else self._interval_s
        return items

    def _poll(self, now: datetime) -> list[Item]:
        if self._uncommitted:  # the last batch was not stored: read it again
            for tail in self._tails.values():
                if tail.saved and (tail.saved["dev"], tail.saved["ino"]) == (tail.dev, tail.ino):
                    tail.restore(tail.saved)
                else:
                    tail.pos = tail.line = 0
                    tail.whole = None
            self._uncommitted = False
        items: list[Item] = []
        current = self._scan()
        by_inode = {(st.st_dev, st.st_ino): path for path, st in current.items()}
        budget = [POLL_BYTES]
        for path, tail in list(self._tails.items()):
            st = current.get(path)
            if st is not None and (st.st_dev, st.st_ino) == (tail.dev, tail.ino):
                continue
            del self._tails[path]
            moved = by_inode.get((tail.dev, tail.ino))
            if moved is not None and moved not in self._tails:
                tail.path = moved  # renamed inside what is followed: same file, same position
                self._tails[moved] = tail
            else:  # rotated away or deleted: read what is left through the open handle
                items.extend(self._drain(tail))
                tail.close()
            if path not in current:
                self._forgotten.add(KEY_PREFIX + str(path.absolute()))
        for path, st in sorted(current.items()):
            if path not in self._tails:
                tail = self._open(path, st)
                self._tails[path] = tail
                if not self._started and self._saved and path == self._root:
                    items.extend(self._rotated_while_away(path, tail))
        self._started = True
        self._backlog = False
        for path, tail in sorted(self._tails.items()):
            st = current[path]
            items.extend(self._read(tail, st, budget))
        if items:
            self._uncommitted = True
        return items

    def commit(self, store: Store) -> None:
        values: dict[str, Any] = {}
        for tail in self._tails.values():
            value = tail.value()
            if value != tail.saved:
                values[KEY_PREFIX + str(tail.path.absolute())] = value
                tail.saved = value
        live = set(values) | {KEY_PREFIX + str(t.path.absolute()) for t in self._tails.values()}
        gone = self._forgotten - live
        save_checkpoints(store, values, gone)
        for key in gone:
            self._saved.pop(key, None)
        self._forgotten = set()
        self._uncommitted = False

    def close(self) -> None:
        for tail in self._tails.values():
            tail.close()

    # --- files ------------------------------------------------------------------------

    def _scan(self) -> dict[Path, os.stat_result]:
        if self._is_glob:
            roots = [Path(m) for m in glob.glob(self.argument, recursive=True)]
        else:
            roots = [self._root]
        found: dict[Path, os.stat_result] = {}
        for root in roots:
            try:
                st = root.stat()
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                found[root] = st
            elif stat.S_ISDIR(st.st_mode):
                for folder, dirs, names in os.walk(root):
                    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                    for name in names:
                        if name.startswith("."):
                            continue
                        path = Path(folder) / name
                        try:
                            entry = path.stat()
                        except OSError:
                            continue
                        if stat.S_ISREG(entry.st_mode):
                            found[path] = entry
        if self._exclude:
            found = {
                p: v for p, v in found.items() if not str(p.absolute()).startswith(self._exclude)
            }
        return found

    def _where(self, path: Path) -> str:
        if not self._is_glob and self._root.is_dir():
            try:
                return f"{path.relative_to(self._root)} "
            except ValueError:
                pass
        return f"{path.name if not self._is_glob else path} "

    def _open(self, path: Path, st: os.stat_result) -> _Tail:
        tail = _Tail(path, st.st_dev, st.st_ino, changed_at=self._clock())
        own = self._saved.get(KEY_PREFIX + str(path.absolute()))
        renamed = self._by_inode.get((st.st_dev, st.st_ino))  # renamed while we were away
        for value in (own, renamed):
            if value and self._matches(value, path, st):
                tail.restore(value)
                tail.saved = value if value is own else {}
                break
        return tail

    def _matches(self, value: dict[str, Any], path: Path, st: os.stat_result) -> bool:
        if (value.get("dev"), value.get("ino")) != (st.st_dev, st.st_ino):
            return False
        if int(value.get("pos") or 0) > st.st_size and not value.get("whole"):
            return False
        length = int(value.get("head_len") or 0)
        if length:
            try:
                with path.open("rb") as handle:
                    if _digest(handle.read(length)) != value.get("head"):
                        return False
            except OSError:
                return False
        return True

    def _rotated_while_away(self, path: Path, tail: _Tail) -> list[Item]:
        """At start, a followed file's checkpoint names another inode: if that file was
        renamed beside it (rotation while lexboard was stopped), finish reading it."""
        value = self._saved.get(KEY_PREFIX + str(path.absolute()))
        if not value or (value.get("dev"), value.get("ino")) == (tail.dev, tail.ino):
            return []
        try:
            entries = list(os.scandir(path.parent))
        except OSError:
            return []
        for entry in entries:
            try:
                st = entry.stat()
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (value.get("dev"), value.get("ino")) and self._matches(
                value, Path(entry.path), st
            ):
                old = _Tail(Path(entry.path), st.st_dev, st.st_ino)
                old.restore(value)
                items = self._drain(old)
                old.close()
                return items
        return []

    def _handle(self, tail: _Tail) -> IO[bytes] | None:
        if tail.handle is None:
            try:
                # Unbuffered: a buffered reader could answer a seek from its stale buffer
                # after the file was truncated and written again.
                handle = tail.path.open("rb", buffering=0)
            except OSError:
                return None
            st = os.fstat(handle.fileno())
            if (st.st_dev, st.st_ino) != (tail.dev, tail.ino):
                handle.close()  # replaced between the scan and now: the next poll sees it
                return None
            tail.handle = handle
        return tail.handle

    def _drain(self, tail: _Tail) -> list[Item]:
        """The rest of a file that will not grow any more (its last line needs no newline)."""
        if tail.mode == "whole":
            return []
        items: list[Item] = []
        while True:
            got = self._read_lines(tail, READ_BYTES, final=True, ended=True)
            items.extend(got[0])
            if not got[1]:
                return items

    def _read(self, tail: _Tail, st: os.stat_result, budget: list[int]) -> list[Item]:
        now = self._clock()
        if st.st_size != tail.size_seen:
            tail.size_seen, tail.changed_at = st.st_size, now
        if tail.mode == "whole":
            return self._read_whole(tail, st, now)
        if st.st_size < tail.pos:  # truncated in place: read it again from the start
            tail.pos = tail.line = 0
            tail.mode, tail.head, tail.head_len = None, "", 0
        if tail.mode is None and not self._sniff(tail, st, now):
            return []
        if tail.mode == "whole":
            return self._read_whole(tail, st, now)
        if st.st_size == tail.pos:
            if tail.handle is not None and now - tail.changed_at > IDLE_CLOSE_S:
                tail.close()
            return []
        if budget[0] <= 0:
            self._backlog = True
            return []
        idle = now - tail.changed_at >= PARTIAL_GRACE_S
        before = tail.pos
        items, more = self._read_lines(tail, min(READ_BYTES, budget[0]), final=idle)
        budget[0] -= max(1, tail.pos - before)
        if more:
            self._backlog = True
        return items

    def _sniff(self, tail: _Tail, st: os.stat_result, now: float) -> bool:
        """Decide how to read a file from its start; False to wait for its first line."""
        try:
            if is_gzip(tail.path):
                tail.mode = "whole"
                return True
            with tail.path.open("rb") as handle:
                head = handle.read(64 * 1024)
            fmt = sniff(tail.path)
        except OSError:
            return False
        if not head.strip():
            return False
        if b"\n" not in head.lstrip() and now - tail.changed_at < PARTIAL_GRACE_S:
            return False  # not one whole line yet: its start could mislead the sniffing
        tail.mode = {"jsonl": "jsonl", "cloudwatch-export": "export"}.get(fmt or "", "whole")
        return True

    def _read_whole(self, tail: _Tail, st: os.stat_result, now: float) -> list[Item]:
        signature = (st.st_size, st.st_mtime_ns)
        if signature == tail.whole or now - tail.changed_at < self._interval_s:
            return []  # unchanged, or still being written
        tail.whole, tail.pos = signature, st.st_size
        where = self._where(tail.path)
        return [replace(item, position=where + item.position) for item in read_items(tail.path)]

    def _read_lines(
        self, tail: _Tail, limit: int, final: bool, ended: bool = False
    ) -> tuple[list[Item], bool]:
        """Complete lines from ``tail.pos``; (items, whether more is waiting).

        ``final``: the file is idle, a last line without newline is taken if it parses;
        ``ended``: the file will not grow (rotated away), its last line is taken anyway
        (quarantined when cut)."""
        handle = self._handle(tail)
        if handle is None:
            return [], False
        handle.seek(tail.pos)
        data = handle.read(limit)
        more = len(data) == limit
        cut = data.rfind(b"\n") + 1
        while cut == 0 and more and len(data) < MAX_LINE_BYTES:  # one very long line
            chunk = handle.read(READ_BYTES)
            more = bool(chunk)
            data += chunk
            cut = data.rfind(b"\n") + 1
        items: list[Item] = []
        if cut == 0 and len(data) >= MAX_LINE_BYTES:
            tail.line += 1
            items.append(
                Unreadable(
                    f"{self._where(tail.path)}line {tail.line}",
                    f"line longer than {MAX_LINE_BYTES >> 20} MiB",
                    raw_start(data),
                )
            )
            rest = handle.read()  # skip through the end of that line
            end = rest.find(b"\n")
            tail.pos += len(data) + (end + 1 if end >= 0 else len(rest))
            return items, True
        complete, partial = data[:cut], data[cut:]
        if partial and final and not more and (ended or _complete_line(partial, tail.mode)):
            complete, partial = data, b""  # the writer is done with it: no newline will come
        if tail.mode is None:
            tail.mode = "export" if _EXPORT_LINE.match(data.lstrip()) else "jsonl"
        where = self._where(tail.path)
        lines = complete.split(b"\n")
        if complete.endswith(b"\n"):
            lines.pop()  # what follows the last newline: nothing
        for line in lines:
            tail.line += 1
            item = _line_item(line, tail.mode, f"{where}line {tail.line}")
            if item is not None:
                items.append(item)
        if tail.pos < HEAD_BYTES:
            handle.seek(0)
            head = handle.read(min(HEAD_BYTES, tail.pos + len(complete)))
            tail.head, tail.head_len = _digest(head), len(head)
        tail.pos += len(complete)
        return items, more


def _complete_line(data: bytes, mode: str | None) -> bool:
    return isinstance(_line_item(data, mode or "jsonl", ""), RawRecord)


def _line_item(line: bytes, mode: str, position: str) -> Item | None:
    text = line.rstrip(b"\r")
    if not text.strip():
        return None
    if mode == "export":
        stamp, _, message = text.partition(b" ")
        ts = parse_timestamp(stamp.decode("ascii", errors="replace"))
        if ts is None:
            reason = "line does not start with an ISO-8601 timestamp"
            return Unreadable(position, reason, raw_start(text))
        value, problem = _parse(message)
        if problem:
            return Unreadable(position, problem, raw_start(text))
        return RawRecord(position, value, int(ts.timestamp() * 1000))
    value, problem = _parse(text)
    if problem:
        return Unreadable(position, problem, raw_start(text))
    return RawRecord(position, value)
