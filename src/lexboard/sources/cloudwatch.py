"""CloudWatch Logs, live: ``cloudwatch://LOG_GROUP[?prefix=STREAM_PREFIX&region=R]``.

Lex writes each turn to any stream of the alias's log group, so the source polls
``FilterLogEvents`` over every stream (or those starting with ``prefix``), following
``nextToken`` to the last page.

Position: a time checkpoint ``high`` (epoch ms; everything up to it has been read) and
the ids of the events read in the last few minutes. Each poll asks for
``[high − overlap, now]``: an event that CloudWatch makes searchable late (its timestamp
is older than the checkpoint) is still found, and one read before is recognised by its
event id, so none is missed and none doubled. Re-reading the whole overlap on every poll
would cost a busy group megabytes a second, so ordinary polls look back
``FAST_OVERLAP_S`` and every ``SWEEP_EVERY_S`` a sweep looks back the full overlap window:
an event is taken when it arrives at most ``overlap`` (default 2 min) late.

Backfill (``--since``) walks forward in windows that shrink when they hold too many events
and grow when they hold few, so one poll never holds more than a bounded batch; the source
polls again at once until it has caught up. Throttling is retried with jittered backoff.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from lexboard.errors import SourceError
from lexboard.logs.formats import Item, _events
from lexboard.sources import aws
from lexboard.sources.live import load_checkpoint, save_checkpoints
from lexboard.store.db import Store

ACTION = "logs:FilterLogEvents"
DEFAULT_INTERVAL_S = 2.0
DEFAULT_OVERLAP_S = 120.0
FAST_OVERLAP_S = 10.0
SWEEP_EVERY_S = 30.0
TARGET_EVENTS = 20_000  # per poll: the backfill window halves above this
MIN_WINDOW_MS = 1_000
BACKFILL_WINDOW_MS = 3_600_000  # the first window of a backfill or a resume
MAX_WINDOW_MS = 86_400_000
MAX_PAGES = 100_000


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class CloudWatchSource:
    """One log group (optionally a stream prefix) as a live source of the server."""

    def __init__(
        self,
        group: str,
        *,
        prefix: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        interval_s: float = DEFAULT_INTERVAL_S,
        overlap_s: float = DEFAULT_OVERLAP_S,
        since: datetime | None = None,
        store: Store | None = None,
        label: str | None = None,
        page_size: int | None = None,
        client: Any = None,
        now: datetime | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not group:
            raise SourceError("cloudwatch:// needs a log group name: cloudwatch://LOG_GROUP")
        self.group = group
        self.prefix = prefix
        self.region = region
        self.profile = profile
        self.label = label or f"cloudwatch://{group}"
        self.checkpoint_key = self.label
        self._interval_s = interval_s
        self.overlap_ms = int(overlap_s * 1000)
        self.fast_ms = min(int(FAST_OVERLAP_S * 1000), self.overlap_ms)
        self.keep_ms = self.overlap_ms + int(SWEEP_EVERY_S * 1000)
        self.page_size = page_size
        self._client_obj = client
        self._sleep = sleep
        self._clock = clock
        start = _ms(now or datetime.now(UTC))
        saved = load_checkpoint(store, self.checkpoint_key) if store is not None else None
        self.resumed = isinstance(saved, dict) and isinstance(saved.get("high"), int)
        if self.resumed:
            assert isinstance(saved, dict)
            self._high: int = int(saved["high"])
            self._seen: dict[str, int] = {
                str(k): int(v) for k, v in (saved.get("seen") or {}).items()
            }
            self._floor = 0
        elif since is not None:
            self._high = self._floor = _ms(since)
            self._seen = {}
        else:  # live from now, with the overlap window's worth of recent events
            self._floor = start - self.overlap_ms
            self._high = start
            self._seen = {}
        self._pending: tuple[int, dict[str, int]] | None = None
        self._last_sweep = float("-inf")
        self._window_ms = (
            MAX_WINDOW_MS if since is None and not self.resumed else BACKFILL_WINDOW_MS
        )
        self._backlog = False
        self.interval_s = interval_s  # 0 while a backlog is read
        self.throttled = 0
        self.calls = 0

    # --- the LiveSource protocol ------------------------------------------------------

    @property
    def high(self) -> int:
        """The committed checkpoint: events up to this time (epoch ms) have been read."""
        return self._high

    def poll(self, now: datetime) -> list[Item]:
        items = self._poll(now)
        self.interval_s = 0.0 if self._backlog else self._interval_s
        return items

    def _poll(self, now: datetime) -> list[Item]:
        self._pending = None  # a batch never committed is read again from the checkpoint
        now_ms = _ms(now)
        high = self._high
        sweep = self._clock() - self._last_sweep >= SWEEP_EVERY_S
        back = self.keep_ms if sweep else self.fast_ms
        start = max(self._floor, high - back)
        end = min(now_ms, high + self._window_ms)
        if end < start:  # the clock went back: wait for it
            return []
        events = self._fetch(start, end)
        if sweep:
            self._last_sweep = self._clock()
        self._adapt(len(events), end == high + self._window_ms)
        self._backlog = end < now_ms

        fresh: list[dict[str, Any]] = []
        taken: set[str] = set()
        for event in events:
            stream = str(event.get("logStreamName") or "")
            if self.prefix and not stream.startswith(self.prefix):
                continue  # the service filters already; a stand-in may not
            event_id = _event_id(event)
            if event_id in self._seen or event_id in taken:
                continue
            taken.add(event_id)
            fresh.append(event)
        new_high = max(high, end)
        keep_from = new_high - self.keep_ms
        seen = {k: v for k, v in self._seen.items() if v >= keep_from}
        for event in fresh:
            stamp = _timestamp(event)
            if stamp >= keep_from:
                seen[_event_id(event)] = stamp
        if not fresh:  # nothing to store: move on at once (saved with the next batch)
            self._high, self._seen = new_high, seen
            return []
        self._pending = (new_high, seen)
        fresh.sort(key=lambda e: (_timestamp(e), _event_id(e)))
        items: list[Item] = []
        for event in fresh:
            where = f"{event.get('logStreamName') or '?'} "
            items.extend(_events([event], where))
        return items

    def commit(self, store: Store) -> None:
        if self._pending is not None:
            self._high, self._seen = self._pending
            self._pending = None
        save_checkpoints(
            store, {self.checkpoint_key: {"v": 1, "high": self._high, "seen": self._seen}}
        )

    def check(self, now: datetime | None = None) -> None:
        """One cheap call, so that a missing permission or credentials fail at start."""
        end = _ms(now or datetime.now(UTC))
        self._call(self._params(end - 1000, end, limit=1))

    # --- CloudWatch Logs --------------------------------------------------------------

    def _client(self) -> Any:
        if self._client_obj is None:
            try:
                self._client_obj = aws.make_client("logs", self.region, self.profile)
            except SourceError as exc:
                raise SourceError(f"{self.label}: {exc.message}", exc.hint) from None
        return self._client_obj

    def _params(self, start: int, end: int, limit: int | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"logGroupName": self.group, "startTime": start, "endTime": end}
        if self.prefix:
            params["logStreamNamePrefix"] = self.prefix
        if limit or self.page_size:
            params["limit"] = limit or self.page_size
        return params

    def _fetch(self, start: int, end: int) -> list[dict[str, Any]]:
        params = self._params(start, end)
        events: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            page = self._call(params)
            events.extend(e for e in page.get("events") or [] if isinstance(e, dict))
            token = page.get("nextToken")
            if not token or token == params.get("nextToken"):
                return events
            params["nextToken"] = token
        return events

    def _call(self, params: dict[str, Any]) -> dict[str, Any]:
        import botocore.exceptions

        def call() -> dict[str, Any]:
            self.calls += 1
            page: dict[str, Any] = self._client().filter_log_events(**params)
            return page

        try:
            return aws.with_backoff(call, self._sleep, on_throttle=self._throttled)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise self._explain(exc) from None

    def _throttled(self) -> None:
        self.throttled += 1

    def _explain(self, exc: BaseException) -> SourceError:
        code = aws.error_code(exc)
        if code == "ResourceNotFoundException":
            where = f" in region {self.region}" if self.region else ""
            return SourceError(f"{self.label}: log group {self.group!r} does not exist{where}")
        client_region = getattr(getattr(self._client_obj, "meta", None), "region_name", None)
        region = self.region or client_region or "*"
        resource = f"arn:aws:logs:{region}:*:log-group:{self.group}"
        return aws.explain(exc, self.label, ACTION, resource)

    def _adapt(self, count: int, window_bound: bool) -> None:
        if count > TARGET_EVENTS:
            self._window_ms = max(MIN_WINDOW_MS, self._window_ms // 2)
        elif window_bound and count < TARGET_EVENTS // 4:
            self._window_ms = min(MAX_WINDOW_MS, self._window_ms * 2)


def _event_id(event: dict[str, Any]) -> str:
    event_id = event.get("eventId")
    if isinstance(event_id, str) and event_id:
        return event_id
    digest = hashlib.sha1(str(event.get("message")).encode(), usedforsecurity=False).hexdigest()
    return f"{event.get('logStreamName')}/{event.get('timestamp')}/{digest}"


def _timestamp(event: dict[str, Any]) -> int:
    stamp = event.get("timestamp")
    return stamp if isinstance(stamp, int) and not isinstance(stamp, bool) else 0
