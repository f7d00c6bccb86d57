"""Freshness benchmark: seconds from a Lex turn to its count in ``/api/metrics/summary``.

Starts a real ``moto_server`` and a real ``lexboard serve`` on loopback, the server
following ``cloudwatch://GROUP`` (default polling settings) and accepting Firehose
deliveries on ``POST /ingest/firehose``. Then, at a steady rate and for a while, it

- puts one turn at a time into CloudWatch Logs (``PutLogEvents``, one of 20 streams);
- posts one Firehose delivery at a time (one record: a gzip'd subscription envelope
  holding one turn), as Firehose's HTTP-endpoint delivery does;

each turn timestamped when it is sent. A watcher polls ``/api/metrics/summary`` for each
path (the two paths use different bot ids) and notes when the count reaches each turn.
Latency = seen − event time. Printed: p50, p95 and max per path.

Goal: p95 under 5 s for CloudWatch polling and under 1 s for Firehose push.

    python benchmarks/freshness.py                  # 5 turns/s each, 60 s
    python benchmarks/freshness.py --rate 20 --seconds 30
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.server import free_port, wait_for_http

GOALS = {"cloudwatch": 5.0, "firehose": 1.0}
BOTS = {"cloudwatch": "CWBOT00001", "firehose": "FHBOT00001"}
KEY = "freshness-benchmark-key"
GROUP = "/aws/lex/freshness"


def turn(bot_id: str, stamp: datetime, number: int) -> dict[str, Any]:
    return {
        "messageVersion": "2.0",
        "timestamp": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestId": str(uuid.uuid4()),
        "sessionId": f"{bot_id}-session-{number // 4}",
        "bot": {
            "id": bot_id,
            "name": "BankingBot",
            "aliasId": "TSTALIASID",
            "aliasName": "TestBotAlias",
            "version": "DRAFT",
            "localeId": "en_US",
        },
        "inputMode": "Text",
        "operationName": "RecognizeText",
        "inputTranscript": "what is my balance",
        "missedUtterance": False,
        "developerOverride": False,
        "interpretations": [
            {"intent": {"name": "CheckBalance", "state": "InProgress"}, "nluConfidence": "0.9"}
        ],
        "sessionState": {
            "originatingRequestId": f"{bot_id}-orig-{number // 4}",
            "intent": {"name": "CheckBalance", "state": "InProgress", "slots": {}},
            "dialogAction": {"type": "ElicitSlot", "slotToElicit": "accountType"},
        },
        "messages": [{"contentType": "PlainText", "content": "Which account?"}],
    }


class Lane:
    """One way in: the send times of its turns, and when each became visible."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[float] = []
        self.seen: list[float] = []
        self.lock = threading.Lock()

    def note_sent(self, stamp: float) -> None:
        with self.lock:
            self.sent.append(stamp)

    def note_count(self, count: int, when: float) -> None:
        with self.lock:
            while len(self.seen) < min(count, len(self.sent)):
                self.seen.append(when)


def cloudwatch_sender(path: Lane, rate: float, seconds: float, stop: threading.Event) -> None:
    logs = boto3.client("logs")
    streams = [f"2026/11/02/[$LATEST]{n:02d}" for n in range(20)]
    for stream in streams:
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    start = time.time()
    for number in range(int(rate * seconds)):
        due = start + number / rate
        if (pause := due - time.time()) > 0 and stop.wait(pause):
            return
        stamp = datetime.now(UTC)
        record = turn(BOTS[path.name], stamp, number)
        path.note_sent(stamp.timestamp())
        logs.put_log_events(
            logGroupName=GROUP,
            logStreamName=streams[number % len(streams)],
            logEvents=[{"timestamp": int(stamp.timestamp() * 1000), "message": json.dumps(record)}],
        )


def firehose_sender(
    path: Lane, url: str, rate: float, seconds: float, stop: threading.Event
) -> None:
    client = httpx.Client(timeout=30)
    start = time.time()
    for number in range(int(rate * seconds)):
        due = start + number / rate
        if (pause := due - time.time()) > 0 and stop.wait(pause):
            return
        stamp = datetime.now(UTC)
        record = turn(BOTS[path.name], stamp, number)
        envelope = {
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": GROUP,
            "logStream": "2026/11/02/[$LATEST]00",
            "subscriptionFilters": ["lexboard"],
            "logEvents": [
                {
                    "id": uuid.uuid4().hex,
                    "timestamp": int(stamp.timestamp() * 1000),
                    "message": json.dumps(record),
                }
            ],
        }
        data = base64.b64encode(gzip.compress(json.dumps(envelope).encode())).decode()
        body = {"requestId": str(uuid.uuid4()), "timestamp": int(time.time() * 1000)}
        body["records"] = [{"data": data}]  # type: ignore[assignment]
        path.note_sent(stamp.timestamp())
        response = client.post(
            url + "/ingest/firehose",
            json=body,
            headers={
                "X-Amz-Firehose-Access-Key": KEY,
                "X-Amz-Firehose-Request-Id": body["requestId"],
            },
        )
        if response.status_code != 200:
            raise SystemExit(f"Firehose delivery refused: {response.status_code} {response.text}")


def watcher(paths: list[Lane], url: str, window: tuple[str, str], stop: threading.Event) -> None:
    client = httpx.Client(timeout=30)
    while not stop.is_set():
        for path in paths:
            params = {"from": window[0], "to": window[1], "bot_id": BOTS[path.name]}
            rows = client.get(url + "/api/metrics/summary", params=params).json()["rows"]
            path.note_count(int(rows[0][0] or 0), time.time())
        stop.wait(0.05)


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=5.0, help="turns per second, each path")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="lexboard-freshness-"))
    moto_port, port = free_port(), free_port()
    moto_url, url = f"http://127.0.0.1:{moto_port}", f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEXBOARD_", "AWS_"))}
    env.update(
        {
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(scratch / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "none"),
            "LEXBOARD_FIREHOSE_ACCESS_KEY": KEY,
        }
    )
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    moto_bin = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    moto = subprocess.Popen(
        [moto_bin, "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server: subprocess.Popen[bytes] | None = None
    try:
        wait_for_http(moto, moto_url + "/moto-api/", "moto_server", 60, ready=lambda _: True)
        boto3.client("logs").create_log_group(logGroupName=GROUP)
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "lexboard", "serve"),
                *("--db", str(scratch / "fresh.duckdb"), "--port", str(port)),
                *("--source", f"cloudwatch://{GROUP}"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_http(server, url + "/healthz", "lexboard serve", 60)
        now = datetime.now(UTC)
        window = ((now - timedelta(hours=1)).isoformat(), (now + timedelta(hours=2)).isoformat())
        paths = [Lane("cloudwatch"), Lane("firehose")]
        stop = threading.Event()
        watch = threading.Thread(target=watcher, args=(paths, url, window, stop), daemon=True)
        senders = [
            threading.Thread(
                target=cloudwatch_sender, args=(paths[0], args.rate, args.seconds, stop)
            ),
            threading.Thread(
                target=firehose_sender, args=(paths[1], url, args.rate, args.seconds, stop)
            ),
        ]
        watch.start()
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
        deadline = time.monotonic() + 30
        while any(len(p.seen) < len(p.sent) for p in paths) and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        watch.join(10)
    finally:
        for proc in (server, moto):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"freshness: {args.rate:g} turns/s per path for {args.seconds:g} s")
    print(f"{'path':<12}{'turns':>7}{'seen':>7}{'p50 s':>9}{'p95 s':>9}{'max s':>9}  goal")
    for path in paths:
        lags = [seen - sent for sent, seen in zip(path.sent, path.seen, strict=False)]
        if not lags:
            print(f"{path.name:<12}{len(path.sent):>7}{0:>7}  nothing seen")
            continue
        p50, p95 = percentile(lags, 50), percentile(lags, 95)
        verdict = "met" if p95 < GOALS[path.name] else "MISSED"
        print(
            f"{path.name:<12}{len(path.sent):>7}{len(path.seen):>7}{p50:>9.2f}{p95:>9.2f}"
            f"{max(lags):>9.2f}  p95 < {GOALS[path.name]:g} s: {verdict}"
        )


if __name__ == "__main__":
    main()
