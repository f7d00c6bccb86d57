"""The S3 source against a real moto_server: CloudWatch exports and Firehose objects."""

from __future__ import annotations

import gzip
import itertools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from lexboard.errors import SourceError
from lexboard.sources.live import pump
from lexboard.sources.s3 import S3Source
from lexboard.sources.uri import parse_s3
from lexboard.store import open_store
from lexboard.store.db import Store
from lexboard.store.ingest import Ingestor
from tests.aws import REGION, moto_endpoint  # noqa: F401  (the session fixture)
from tests.records import lex_record

_buckets = itertools.count(1)
BASE = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def s3(moto_endpoint: str) -> Any:  # noqa: F811
    return boto3.client("s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"lex-logs-{next(_buckets)}-{time.time_ns()}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "store.duckdb") as opened:
        yield opened


def export_object(tag: str, count: int) -> tuple[bytes, list[str]]:
    """A CreateExportTask object: gzip'd ``<timestamp> <message>`` lines."""
    ids, lines = [], []
    for number in range(count):
        stamp = BASE + timedelta(seconds=number)
        record = lex_record(ts=_iso(stamp), request_id=f"{tag}-{number}")
        lines.append(f"{_iso(stamp)} {json.dumps(record)}\n")
        ids.append(record["requestId"])
    return gzip.compress("".join(lines).encode()), ids


def envelope(tag: str, count: int, stream: str = "lex-stream") -> tuple[dict[str, Any], list[str]]:
    events, ids = [], []
    for number in range(count):
        stamp = BASE + timedelta(minutes=5, seconds=number)
        record = lex_record(ts=_iso(stamp), request_id=f"{tag}-{number}")
        events.append(
            {
                "id": f"{number:056d}",
                "timestamp": int(stamp.timestamp() * 1000),
                "message": json.dumps(record),
            }
        )
        ids.append(record["requestId"])
    return (
        {
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": "/aws/lex/BankingBot",
            "logStream": stream,
            "subscriptionFilters": ["lexboard"],
            "logEvents": events,
        },
        ids,
    )


CONTROL = {
    "messageType": "CONTROL_MESSAGE",
    "owner": "CloudwatchLogs",
    "logGroup": "",
    "logStream": "",
    "subscriptionFilters": [],
    "logEvents": [{"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking health"}],
}


def firehose_object(*envelopes: dict[str, Any]) -> bytes:
    """What Firehose writes to S3: gzip'd envelopes back to back, no separator."""
    return gzip.compress(b"".join(json.dumps(e).encode() for e in envelopes))


def _stored(store: Store) -> set[str]:
    return {r[0] for r in store.fetchall("SELECT request_id FROM turns")}


def test_exports_and_firehose_objects_a_changed_object_and_a_restart(
    s3: Any, bucket: str, tmp_path: Path
) -> None:
    expected: set[str] = set()
    for task, stream in itertools.product(("task-1", "task-2"), ("s1", "s2")):
        body, ids = export_object(f"{task}-{stream}", 30)
        s3.put_object(Bucket=bucket, Key=f"exports/{task}/{stream}/000000.gz", Body=body)
        expected.update(ids)
    s3.put_object(Bucket=bucket, Key="exports/aws-logs-write-test", Body=b"Permission Check")
    first, first_ids = envelope("fh-a", 20)
    second, second_ids = envelope("fh-b", 15, stream="other")
    s3.put_object(
        Bucket=bucket,
        Key="firehose/2026/11/02/19/lex-1-2026-11-02-19-00-00-abc.gz",
        Body=firehose_object(CONTROL, first, second),
    )
    s3.put_object(
        Bucket=bucket,
        Key="firehose/2026/11/02/19/lex-1-2026-11-02-19-05-00-def.gz",
        Body=firehose_object(CONTROL),
    )
    expected.update(first_ids + second_ids)

    db = tmp_path / "s3.duckdb"
    with open_store(db) as store:
        source = S3Source(bucket, store=store, page_size=2)  # listing pages of two keys
        ingestor = Ingestor(store, command="test")
        assert pump(source, ingestor, store, datetime.now(UTC)) == 4 * 30 + 35
        assert _stored(store) == expected
        assert store.fetchone("SELECT count(*) FROM quarantine")[0] == 0
        assert pump(source, ingestor, store, datetime.now(UTC)) == 0  # nothing is read twice

        # Firehose writes an object again (new ETag): it is read again, its old records
        # count as duplicates and the new ones are stored.
        grown, grown_ids = envelope("fh-a", 25)
        s3.put_object(
            Bucket=bucket,
            Key="firehose/2026/11/02/19/lex-1-2026-11-02-19-00-00-abc.gz",
            Body=firehose_object(grown, second),
        )
        before = source.objects_read
        assert pump(source, ingestor, store, datetime.now(UTC)) == 25 + 15
        assert source.objects_read == before + 1
        stats = ingestor.stats_for(source.label)
        assert stats.new == len(expected) + 5 and stats.duplicate == 35
        ingestor.finish()

    with open_store(db) as store:  # restart: the checkpoint (key → ETag) holds
        source = S3Source(bucket, store=store)
        assert source.poll(datetime.now(UTC)) == []
        assert _stored(store) == expected | set(grown_ids)


def test_a_corrupt_object_is_quarantined_by_key(s3: Any, bucket: str, store: Store) -> None:
    good, ids = export_object("good", 3)
    s3.put_object(Bucket=bucket, Key="logs/good/s/000000.gz", Body=good)
    s3.put_object(Bucket=bucket, Key="logs/bad/s/000000.gz", Body=good[: len(good) // 2])
    s3.put_object(Bucket=bucket, Key="elsewhere/x.gz", Body=good)
    source = parse_s3(f"s3://{bucket}/logs/?region={REGION}", store)
    assert source.label == f"s3://{bucket}/logs/"
    ingestor = Ingestor(store, command="test")
    pump(source, ingestor, store, datetime.now(UTC))
    assert _stored(store) == set(ids)
    positions = [r[0] for r in store.fetchall("SELECT position FROM quarantine")]
    assert positions and all(p.startswith("logs/bad/s/000000.gz: ") for p in positions)


def _stubbed() -> tuple[S3Source, Stubber]:
    client = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    return S3Source("secret-bucket", "lex/", client=client, sleep=lambda _: None), Stubber(client)


def test_missing_permissions_name_the_iam_action() -> None:
    source, stubber = _stubbed()
    with stubber:
        stubber.add_client_error("list_objects_v2", "AccessDenied", "Access Denied", 403)
        with pytest.raises(SourceError) as listing:
            source.check()
        stubber.add_response(
            "list_objects_v2",
            {"IsTruncated": False, "Contents": [{"Key": "lex/a.gz", "ETag": '"1"', "Size": 9}]},
        )
        stubber.add_client_error("get_object", "AccessDenied", "Access Denied", 403)
        with pytest.raises(SourceError) as reading:
            source.poll(datetime.now(UTC))
        stubber.add_client_error("list_objects_v2", "NoSuchBucket", "no", 404)
        with pytest.raises(SourceError) as missing:
            source.poll(datetime.now(UTC))
    assert "s3:ListBucket" in listing.value.message and "\n" not in listing.value.message
    assert "s3:GetObject" in reading.value.message and "secret-bucket/lex/" in reading.value.message
    assert missing.value.message == "s3://secret-bucket/lex/: bucket 'secret-bucket' does not exist"
