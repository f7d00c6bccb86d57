"""S3, live: ``s3://BUCKET/PREFIX[?region=R&profile=P&interval=S]``.

Two kinds of objects land under a prefix, and each object is sniffed like a file:

- CloudWatch Logs exports (``CreateExportTask``):
  ``<prefix>/<task-id>/<log-stream>/000000.gz``, gzip'd ``<ISO timestamp> <message>`` lines;
- Kinesis Data Firehose deliveries of a subscription filter: gzip'd CloudWatch Logs
  subscription envelopes written back to back (``CONTROL_MESSAGE`` ones carry no data).

Plain JSON Lines objects (``.jsonl``/``.gz``) are read too. Every poll lists the prefix
(paginated) and reads the objects it has not read, or whose ETag changed (an object
written again is read again; the records already stored count as duplicates).
Checkpoint: one row per object, ``s3://BUCKET/KEY`` → its ETag.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from lexboard.errors import SourceError
from lexboard.logs.formats import Item, read_items
from lexboard.sources import aws
from lexboard.sources.live import load_checkpoints, save_checkpoints
from lexboard.store.db import Store

DEFAULT_INTERVAL_S = 15.0
MAX_ITEMS_PER_POLL = 50_000
CHUNK = 1 << 20
SKIPPED_NAMES = ("aws-logs-write-test",)  # CreateExportTask's permission probe


class S3Source:
    """Objects under one bucket prefix as a live source of the server."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        region: str | None = None,
        profile: str | None = None,
        interval_s: float = DEFAULT_INTERVAL_S,
        store: Store | None = None,
        label: str | None = None,
        page_size: int | None = None,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not bucket:
            raise SourceError("s3:// needs a bucket: s3://BUCKET/PREFIX")
        self.bucket = bucket
        self.prefix = prefix
        self.region = region
        self.profile = profile
        self.label = label or f"s3://{bucket}/{prefix}"
        self.page_size = page_size
        self._interval_s = interval_s
        self._client_obj = client
        self._sleep = sleep
        self._row_prefix = f"s3://{bucket}/"
        saved = load_checkpoints(store, self._row_prefix + prefix) if store is not None else {}
        self._done: dict[str, str] = {
            key[len(self._row_prefix) :]: str(value.get("etag"))
            for key, value in saved.items()
            if isinstance(value, dict)
        }
        self._pending: dict[str, str] = {}
        self._unsaved: dict[str, str] = {}
        self._backlog = False
        self.interval_s = interval_s  # 0 while a backlog is read
        self.objects_read = 0

    def poll(self, now: datetime) -> list[Item]:
        items = self._poll(now)
        self.interval_s = 0.0 if self._backlog else self._interval_s
        return items

    def _poll(self, now: datetime) -> list[Item]:
        self._pending = {}  # a batch never committed is read again
        todo = [
            (key, etag)
            for key, etag, size in self._list()
            if self._done.get(key) != etag and _wanted(key, size)
        ]
        items: list[Item] = []
        pending: dict[str, str] = {}
        skipped: dict[str, str] = {}
        self._backlog = False
        for key, etag in sorted(todo):
            if len(items) >= MAX_ITEMS_PER_POLL:
                self._backlog = True
                break
            got = self._read(key)
            if got is None:  # deleted since the listing
                continue
            read_etag, object_items = got
            (pending if object_items else skipped)[key] = read_etag or etag
            items.extend(object_items)
            self.objects_read += 1
        self._done.update(skipped)
        self._unsaved.update(skipped)
        if items:
            self._pending = pending
        else:
            self._done.update(pending)
            self._unsaved.update(pending)
        return items

    def commit(self, store: Store) -> None:
        self._done.update(self._pending)
        rows = {**self._unsaved, **self._pending}
        save_checkpoints(
            store, {self._row_prefix + key: {"etag": etag} for key, etag in rows.items()}
        )
        self._pending, self._unsaved = {}, {}

    def check(self) -> None:
        """One cheap listing, so that a missing permission fails at start."""
        self._list_page({"Bucket": self.bucket, "Prefix": self.prefix, "MaxKeys": 1})

    # --- S3 ---------------------------------------------------------------------------

    def _client(self) -> Any:
        if self._client_obj is None:
            try:
                self._client_obj = aws.make_client("s3", self.region, self.profile)
            except SourceError as exc:
                raise SourceError(f"{self.label}: {exc.message}", exc.hint) from None
        return self._client_obj

    def _list(self) -> list[tuple[str, str, int]]:
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix}
        if self.page_size:
            params["MaxKeys"] = self.page_size
        found: list[tuple[str, str, int]] = []
        while True:
            page = self._list_page(params)
            for entry in page.get("Contents") or []:
                found.append((str(entry["Key"]), str(entry.get("ETag")), int(entry.get("Size", 0))))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return found
            params["ContinuationToken"] = token

    def _list_page(self, params: dict[str, Any]) -> dict[str, Any]:
        import botocore.exceptions

        try:
            page: dict[str, Any] = aws.with_backoff(
                lambda: self._client().list_objects_v2(**params), self._sleep
            )
            return page
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            if aws.error_code(exc) == "NoSuchBucket":
                raise SourceError(f"{self.label}: bucket {self.bucket!r} does not exist") from None
            raise aws.explain(
                exc, self.label, "s3:ListBucket", f"arn:aws:s3:::{self.bucket}"
            ) from None

    def _read(self, key: str) -> tuple[str | None, list[Item]] | None:
        import botocore.exceptions

        with tempfile.TemporaryDirectory(prefix="lexboard-s3-") as scratch:
            path = Path(scratch) / "object"
            try:
                response = aws.with_backoff(
                    lambda: self._client().get_object(Bucket=self.bucket, Key=key), self._sleep
                )
                body = response["Body"]
                with path.open("wb") as handle:
                    while chunk := body.read(CHUNK):
                        handle.write(chunk)
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                if aws.error_code(exc) in ("NoSuchKey", "404"):
                    return None
                error = aws.explain(
                    exc, self.label, "s3:GetObject", f"arn:aws:s3:::{self.bucket}/{self.prefix}*"
                )
                error.hint = "objects encrypted with a KMS key also need kms:Decrypt on it"
                raise error from None
            where = f"{key}: "
            items: list[Item] = [
                replace(item, position=where + item.position) for item in read_items(path)
            ]
        etag = response.get("ETag")
        return (str(etag) if etag else None), items


def _wanted(key: str, size: int) -> bool:
    if size == 0 or key.endswith("/"):
        return False  # folder markers and empty objects hold no records
    return key.rsplit("/", 1)[-1] not in SKIPPED_NAMES
