"""The CloudWatch Logs source against a real moto_server (FilterLogEvents over HTTP)."""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.stub import Stubber

from lexboard.errors import SourceError
from lexboard.sources import cloudwatch
from lexboard.sources.cloudwatch import CloudWatchSource
from lexboard.sources.live import load_checkpoint, pump
from lexboard.sources.uri import parse_cloudwatch
from lexboard.store import open_store
from lexboard.store.db import Store
from lexboard.store.ingest import Ingestor
from tests.aws import REGION, moto_endpoint  # noqa: F401  (the session fixture)
from tests.conftest import run_lexboard
from tests.records import lex_record
from tests.server import running_server

_groups = itertools.count(1)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
def logs(moto_endpoint: str) -> Any:  # noqa: F811
    return boto3.client("logs")


@pytest.fixture
def group(logs: Any) -> str:
    name = f"/aws/lex/test-{next(_groups)}-{time.time_ns()}"
    logs.create_log_group(logGroupName=name)
    return name


def put(logs: Any, group: str, stream: str, stamps: list[datetime], tag: str) -> list[str]:
    """One Lex record per time, into ``stream`` (created when new); their request ids."""
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    ids: list[str] = []
    events = []
    for number, stamp in enumerate(sorted(stamps)):
        request_id = f"{tag}-{stream}-{number}"
        record = lex_record(
            ts=_iso(stamp), request_id=request_id, session_id=f"{stream}-{number // 4}"
        )
        events.append({"timestamp": _ms(stamp), "message": json.dumps(record)})
        ids.append(request_id)
    for start in range(0, len(events), 5000):
        logs.put_log_events(
            logGroupName=group, logStreamName=stream, logEvents=events[start : start + 5000]
        )
    return ids


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "store.duckdb") as opened:
        yield opened


def _turns(store: Store) -> tuple[int, int]:
    total, distinct = store.fetchone("SELECT count(*), count(DISTINCT request_id) FROM turns")
    return int(total), int(distinct)


def test_ten_thousand_events_in_twenty_streams_resumed_after_a_restart(
    logs: Any, group: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    begin = now - timedelta(minutes=12)
    expected: set[str] = set()
    for stream in range(20):  # 500 events each, spread over ten minutes, streams interleaved
        stamps = [begin + timedelta(milliseconds=1200 * i + 37 * stream) for i in range(500)]
        expected.update(put(logs, group, f"2026/11/02/[$LATEST]{stream:02d}", stamps, "a"))
    assert len(expected) == 10_000

    # Backfill in one-minute windows of 1,000-event pages: several polls, each paginated.
    monkeypatch.setattr(cloudwatch, "BACKFILL_WINDOW_MS", 60_000)
    monkeypatch.setattr(cloudwatch, "TARGET_EVENTS", 1500)  # so the window stays near 1 min
    db = tmp_path / "cw.duckdb"
    with open_store(db) as store:
        source = CloudWatchSource(
            group, since=begin - timedelta(seconds=1), store=store, page_size=1000
        )
        ingestor = Ingestor(store, command="test")
        polls = [pump(source, ingestor, store, datetime.now(UTC)) for _ in range(4)]
        assert all(polls) and sum(polls) < 10_000
        assert source.interval_s == 0.0  # a backlog: the worker polls again at once
        assert source.calls > len(polls)  # pages followed with nextToken
        checkpoint = load_checkpoint(store, source.label)
        assert checkpoint["high"] == source.high
        # A crash after a batch is stored but before its checkpoint: read again, stored once.
        replayed = source.poll(datetime.now(UTC))
        ingestor.ingest_items(
            replayed, source.label, ingestor.stats_for(source.label), replace=False
        )
        halfway = _turns(store)
        ingestor.finish()

    with open_store(db) as store:  # the restart
        source = CloudWatchSource(group, since=now, store=store, page_size=1000)
        assert source.resumed and source.high == checkpoint["high"]
        ingestor = Ingestor(store, command="test")
        for _ in range(40):
            pump(source, ingestor, store, datetime.now(UTC))
            if source.interval_s > 0:
                break
        assert source.interval_s == cloudwatch.DEFAULT_INTERVAL_S  # caught up
        stats = ingestor.stats_for(source.label)
        assert _turns(store) == (10_000, 10_000)
        assert halfway[0] + stats.new == 10_000
        # Only the replayed batch is read twice: the overlap is de-duplicated by event id.
        assert stats.duplicate == len(replayed) > 0 and stats.quarantined == 0
        stored = {r[0] for r in store.fetchall("SELECT request_id FROM turns")}
        assert stored == expected


def test_late_events_older_than_the_checkpoint_are_taken(
    logs: Any, group: str, store: Store
) -> None:
    clock = [1000.0]
    now = datetime.now(UTC)
    put(logs, group, "stream-a", [now - timedelta(seconds=s) for s in (50, 40, 30)], "on-time")
    source = CloudWatchSource(
        group, since=now - timedelta(minutes=1), store=store, clock=lambda: clock[0]
    )
    ingestor = Ingestor(store, command="test")
    assert pump(source, ingestor, store, datetime.now(UTC)) == 3
    high = source.high

    # Events that CloudWatch makes searchable late: their timestamps are before the checkpoint.
    late = put(
        logs, group, "stream-b", [datetime.fromtimestamp((high - 45_000) / 1000, UTC)], "late"
    )
    recent = put(
        logs, group, "stream-b", [datetime.fromtimestamp((high - 3_000) / 1000, UTC)], "recent"
    )
    clock[0] += 1
    assert pump(source, ingestor, store, datetime.now(UTC)) == 1  # a fast poll: the recent one
    clock[0] += cloudwatch.SWEEP_EVERY_S  # then the sweep over the whole overlap window
    assert pump(source, ingestor, store, datetime.now(UTC)) == 1
    assert pump(source, ingestor, store, datetime.now(UTC)) == 0  # nothing twice
    stored = {r[0] for r in store.fetchall("SELECT request_id FROM turns")}
    assert set(late) | set(recent) <= stored and len(stored) == 5
    assert ingestor.stats_for(source.label).duplicate == 0


def test_stream_prefix_and_uri(logs: Any, group: str, store: Store) -> None:
    now = datetime.now(UTC)
    put(logs, group, "lex/alias-1/a", [now - timedelta(seconds=5)], "in")
    put(logs, group, "other/b", [now - timedelta(seconds=5)], "out")
    uri = f"cloudwatch://{group}?prefix=lex/&region={REGION}&interval=0.5"
    source = parse_cloudwatch(uri, store, since=now - timedelta(minutes=1))
    assert source.prefix == "lex/" and source.interval_s == 0.5
    assert source.label == f"cloudwatch://{group}?prefix=lex/&region={REGION}"
    ingestor = Ingestor(store, command="test")
    assert pump(source, ingestor, store, datetime.now(UTC)) == 1
    assert store.fetchall("SELECT request_id FROM turns") == [("in-lex/alias-1/a-0",)]


def _stubbed(group: str) -> tuple[CloudWatchSource, Stubber, list[float]]:
    client = boto3.client(
        "logs",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    sleeps: list[float] = []
    source = CloudWatchSource(group, client=client, sleep=sleeps.append)
    return source, Stubber(client), sleeps


def test_throttling_is_retried_with_backoff() -> None:
    source, stubber, sleeps = _stubbed("g")
    record = lex_record(ts=_iso(datetime.now(UTC)), request_id="r-1")
    event = {
        "eventId": "1" * 56,
        "timestamp": _ms(datetime.now(UTC)),
        "logStreamName": "s",
        "message": json.dumps(record),
        "ingestionTime": _ms(datetime.now(UTC)),
    }
    with stubber:
        stubber.add_client_error("filter_log_events", "ThrottlingException", "Rate exceeded")
        stubber.add_client_error("filter_log_events", "ThrottlingException", "Rate exceeded")
        stubber.add_response("filter_log_events", {"events": [event], "nextToken": "t2"})
        stubber.add_response("filter_log_events", {"events": []})
        items = source.poll(datetime.now(UTC))
    assert [i.position for i in items] == [f"s event {'1' * 56}"]
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] * 0.3 and source.throttled == 2


def test_access_denied_and_missing_group_are_one_line() -> None:
    source, stubber, _ = _stubbed("lex-logs")
    with stubber:
        stubber.add_client_error(
            "filter_log_events", "AccessDeniedException", "not authorized", http_status_code=400
        )
        with pytest.raises(SourceError) as denied:
            source.check()
        stubber.add_client_error("filter_log_events", "ResourceNotFoundException", "nope")
        with pytest.raises(SourceError) as missing:
            source.poll(datetime.now(UTC))
    assert "\n" not in denied.value.message
    assert "logs:FilterLogEvents" in denied.value.message and "lex-logs" in denied.value.message
    assert missing.value.message == "cloudwatch://lex-logs: log group 'lex-logs' does not exist"


def test_serve_without_credentials_names_the_iam_action(tmp_path: Path) -> None:
    env = {
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SESSION_TOKEN": "",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_DEFAULT_REGION": REGION,
    }
    result = run_lexboard(
        "serve", "--db", str(tmp_path / "s.duckdb"), "--source", "cloudwatch://lex-logs", env=env
    )
    assert result.returncode == 2, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("Error: cloudwatch://lex-logs: no AWS credentials found")
    assert "logs:FilterLogEvents" in first and "Traceback" not in result.stderr


def test_serve_follows_a_log_group(logs: Any, group: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    put(logs, group, "before", [now - timedelta(minutes=5)], "old")
    label = f"cloudwatch://{group}"
    with running_server(
        tmp_path / "s.duckdb", "--source", f"{label}?interval=0.3", "--since", "10m"
    ) as url:
        put(logs, group, "live", [datetime.now(UTC) - timedelta(seconds=1)] * 1, "live")
        deadline = time.monotonic() + 20
        while True:
            status = httpx.get(url + "/api/status", timeout=5).json()
            mine = [s for s in status["sources"] if s["source"] == label]
            if mine and mine[0]["new"] == 2:
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
    assert mine[0]["live"] is True and mine[0]["last_error"] is None
    assert mine[0]["lag_s"] is not None and mine[0]["last_event"] is not None
    with open_store(tmp_path / "s.duckdb") as store:  # the worker saved the checkpoint
        assert load_checkpoint(store, label)["high"] > _ms(now) - 60_000
