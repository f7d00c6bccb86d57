"""POST /ingest/firehose against the real `lexboard serve`, as Firehose delivers."""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import socket
import time
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from lexboard.config import load_settings
from lexboard.server import firehose
from lexboard.server.app import create_app
from lexboard.server.auth import hash_secret
from lexboard.store import open_store
from tests.records import lex_record
from tests.server import running_server

KEY = "fh-key-0123456789abcdef"
PASSWORD = "correct horse battery"
AUTH = ("ana", PASSWORD)
_tags = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with user authentication on: Firehose must not need a user login."""
    root = tmp_path_factory.mktemp("firehose")
    config = root / "lexboard.toml"
    config.write_text(
        '[[auth.users]]\nname = "ana"\nrole = "viewer"\n'
        f'password_hash = "{hash_secret(PASSWORD)}"\n'
    )
    env = {"LEXBOARD_FIREHOSE_ACCESS_KEY": KEY}
    with running_server(root / "store.duckdb", "--config", str(config), env=env) as url:
        yield url


def envelope(count: int, tag: str, stream: str = "lex-stream") -> tuple[dict[str, Any], list[str]]:
    now = datetime.now(UTC)
    events, ids = [], []
    for number in range(count):
        stamp = now - timedelta(seconds=count - number)
        request_id = f"{tag}-{number}"
        record = lex_record(
            ts=stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            request_id=request_id,
            session_id=f"{tag}-session",
        )
        events.append(
            {
                "id": uuid.uuid4().hex,
                "timestamp": int(stamp.timestamp() * 1000),
                "message": json.dumps(record),
            }
        )
        ids.append(request_id)
    value = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/aws/lex/BankingBot",
        "logStream": stream,
        "subscriptionFilters": ["lexboard"],
        "logEvents": events,
    }
    return value, ids


CONTROL = {
    "messageType": "CONTROL_MESSAGE",
    "owner": "CloudwatchLogs",
    "logGroup": "",
    "logStream": "",
    "subscriptionFilters": [],
    "logEvents": [{"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking health"}],
}


def data(value: Any, gz: bool = True) -> dict[str, str]:
    raw = json.dumps(value).encode()
    return {"data": base64.b64encode(gzip.compress(raw) if gz else raw).decode()}


def delivery(*records: dict[str, str]) -> tuple[str, bytes]:
    request_id = str(uuid.uuid4())
    body = {"requestId": request_id, "timestamp": int(time.time() * 1000), "records": list(records)}
    return request_id, json.dumps(body).encode()


def post(url: str, body: bytes, key: str | None = KEY, **headers: str) -> httpx.Response:
    sent = {"Content-Type": "application/json", "X-Amz-Firehose-Protocol-Version": "1.0", **headers}
    if key is not None:
        sent["X-Amz-Firehose-Access-Key"] = key
    return httpx.post(url + firehose.PATH, content=body, headers=sent, timeout=30)


def counts(url: str) -> dict[str, int]:
    status = httpx.get(url + "/api/status", auth=AUTH, timeout=10).json()
    source = next((s for s in status["sources"] if s["source"] == "firehose"), {})
    return {
        "turns": status["turns"],
        "quarantined": status["quarantined"],
        "new": source.get("new", 0),
        "duplicate": source.get("duplicate", 0),
    }


def test_a_delivery_is_stored_and_a_retry_stores_nothing_twice(server: str) -> None:
    tag = f"fh{next(_tags)}"
    first, _ = envelope(3, tag + "a")
    second, _ = envelope(2, tag + "b", stream="other")
    request_id, body = delivery(data(first), data(second))
    before = counts(server)
    started = time.monotonic()
    response = post(server, body)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"requestId", "timestamp"}
    assert response.json()["requestId"] == request_id
    assert abs(response.json()["timestamp"] - time.time() * 1000) < 60_000
    after = counts(server)  # visible as soon as Firehose has its answer
    assert after["turns"] == before["turns"] + 5 and after["new"] == before["new"] + 5
    assert time.monotonic() - started < 10

    retried = post(server, body)  # Firehose did not see the 200 and sends it again
    assert retried.status_code == 200 and retried.json()["requestId"] == request_id
    again = counts(server)
    assert again["turns"] == after["turns"] and again["duplicate"] == after["duplicate"] + 5

    status = httpx.get(server + "/api/status", auth=AUTH).json()
    source = next(s for s in status["sources"] if s["source"] == "firehose")
    assert source["live"] is True and source["last_error"] is None
    assert source["last_event"] is not None and 0 <= source["lag_s"] < 60
    summary = httpx.get(server + "/api/metrics/summary", auth=AUTH).json()
    assert summary["rows"][0][0] >= 5


def test_keys_are_checked_and_are_not_user_logins(server: str) -> None:
    value, _ = envelope(1, f"fh{next(_tags)}")
    _, body = delivery(data(value))
    before = counts(server)
    missing = post(server, body, key=None)
    assert missing.status_code == 401 and "errorMessage" in missing.json()
    wrong = post(server, body, key=KEY[:-1] + "x")
    assert wrong.status_code == 403 and wrong.json()["errorMessage"] == "wrong access key"
    user_only = httpx.post(server + firehose.PATH, content=body, auth=AUTH)
    assert user_only.status_code == 401
    assert counts(server) == before
    assert httpx.get(server + "/api/status").status_code == 401  # the rest still needs a user


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x00\x01 not json", "body is not JSON"),
        (b'{"requestId": "r", "records": "nope"}', "no records list"),
        (b'{"requestId": "r", "records": [{"nodata": 1}]}', "records[0] has no data string"),
        (b'{"requestId": "r", "records": [{"data": "%%%not base64"}]}', "records[0].data is not"),
    ],
)
def test_garbage_bodies_get_a_4xx_and_never_touch_the_store(
    server: str, body: bytes, message: str
) -> None:
    before = counts(server)
    response = post(server, body)
    assert response.status_code == 400
    assert message in response.json()["errorMessage"]
    assert set(response.json()) == {"requestId", "timestamp", "errorMessage"}
    assert counts(server) == before


def test_oversize_bodies_are_refused_before_they_are_read(server: str) -> None:
    before = counts(server)
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /ingest/firehose HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"X-Amz-Firehose-Access-Key: {KEY}\r\n".encode()
            + f"Content-Length: {200 << 20}\r\n\r\n".encode()
            + b'{"records": ['
        )
        answer = b""  # the answer comes without the 200 MiB being sent
        while not answer.endswith(b"}") and (chunk := sock.recv(65536)):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"over the 96 MiB limit" in answer

    bomb = gzip.compress(b" " * ((96 << 20) + 10), compresslevel=9)  # small on the wire
    response = post(server, bomb, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413 and "unzipped" in response.json()["errorMessage"]
    assert counts(server) == before


def test_control_messages_alone_store_nothing(server: str) -> None:
    before = counts(server)
    _, body = delivery(data(CONTROL), data(CONTROL))
    response = post(server, body)
    assert response.status_code == 200 and "errorMessage" not in response.json()
    assert counts(server) == before


def test_a_bad_record_is_quarantined_and_the_rest_is_stored(server: str) -> None:
    tag = f"fh{next(_tags)}"
    good, _ = envelope(2, tag)
    extracted = lex_record(request_id=f"{tag}-extracted", ts=datetime.now(UTC).isoformat())
    broken = {"data": base64.b64encode(gzip.compress(b'{"messageType": ')[:-6]).decode()}
    request_id, body = delivery(data(good), broken, data(extracted, gz=False), data(CONTROL))
    before = counts(server)
    response = post(server, body)
    assert response.status_code == 200
    after = counts(server)
    assert after["turns"] == before["turns"] + 3
    assert after["quarantined"] == before["quarantined"] + 1
    entries = httpx.get(server + "/api/quarantine", auth=AUTH).json()["rows"]
    assert any(e["position"].startswith(f"{request_id} record 1: ") for e in entries)


def test_gzip_content_encoding_is_accepted(server: str) -> None:
    value, _ = envelope(2, f"fh{next(_tags)}")
    _, body = delivery(data(value))
    before = counts(server)
    response = post(server, gzip.compress(body), **{"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    assert counts(server)["turns"] == before["turns"] + 2


def test_no_access_key_setting_no_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with warnings.catch_warnings():  # Starlette would rather have httpx2 for its TestClient
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    value, _ = envelope(1, f"fh{next(_tags)}")
    _, body = delivery(data(value))
    with open_store(tmp_path / "s.duckdb") as store:
        settings = load_settings(flags={"db": str(store.path)}, env={}, cwd=tmp_path)
        with TestClient(create_app(settings, store=store), client=("127.0.0.1", 5000)) as client:
            response = client.post(
                firehose.PATH, content=body, headers={"X-Amz-Firehose-Access-Key": KEY}
            )
            assert response.status_code == 404

        # A streamed body without Content-Length is cut off at the limit too.
        monkeypatch.setattr(firehose, "MAX_BODY_BYTES", 1 << 20)
        settings = load_settings(
            flags={"db": str(store.path)}, env={"LEXBOARD_FIREHOSE_ACCESS_KEY": KEY}, cwd=tmp_path
        )
        with TestClient(create_app(settings, store=store), client=("127.0.0.1", 5000)) as client:
            chunks = (b" " * 65536 for _ in range(64))
            response = client.post(
                firehose.PATH, content=chunks, headers={"X-Amz-Firehose-Access-Key": KEY}
            )
            assert response.status_code == 413
            assert (
                client.post(
                    firehose.PATH, content=body, headers={"X-Amz-Firehose-Access-Key": KEY}
                ).status_code
                == 200
            )
        assert store.fetchone("SELECT count(*) FROM turns")[0] == 1
