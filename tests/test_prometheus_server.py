"""/metrics of a real `lexboard serve`: promtool check metrics, auth, and a real Prometheus
scraping it whose PromQL answers match `lexboard metrics summary` on the same data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lexboard.server.auth import hash_secret
from lexboard.store import open_store
from lexboard.store.ingest import ingest_sources
from tests.conftest import run_lexboard, write_jsonl
from tests.records import lex_record
from tests.server import free_port, running_server, stop, wait_for_http

TOKEN = "scraper-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
RULES = Path(__file__).parent.parent / "deploy" / "prometheus" / "lexboard-rules.yml"
WINDOW = ("--from", "2026-11-01", "--to", "2026-11-04")

pytestmark = pytest.mark.skipif(
    (shutil.which("promtool") is None or shutil.which("prometheus") is None)
    and not os.environ.get("CI"),
    reason="prometheus/promtool missing: apt-get install prometheus (.ci/run does)",
)


def ingest(db: Path, logs: Path) -> None:
    """Ingest in process (the CLI's own ingest is tested elsewhere); the file is closed after."""
    with open_store(db) as store:
        ingest_sources(store, [(str(logs), [logs])])


def _records() -> list[dict[str, Any]]:
    """Two bots, misses, both input modes, all on 2026-11-02 (inside the summary window)."""
    records = []
    for i in range(40):
        records.append(
            lex_record(
                ts=f"2026-11-02T10:{i:02d}:00.000Z",
                session_id=f"s{i % 7}",
                bot_id="BOT1" if i % 3 else "BOT2",
                bot_name="BankingBot" if i % 3 else "ShopBot",
                input_mode="Speech" if i % 2 else "Text",
                missed=i % 5 == 0,
                intent=None if i % 5 == 0 else ("CheckBalance", "TransferFunds", "Hours")[i % 3],
                sentiment=("NEGATIVE", "POSITIVE", "NEUTRAL", None)[i % 4],
            )
        )
    return records


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("prom")
    config = root / "lexboard.toml"
    config.write_text(
        "[[auth.tokens]]\n"
        'name = "prometheus"\nrole = "viewer"\n'
        f'token_hash = "{hash_secret(TOKEN)}"\n'
        "[prometheus]\n"
        'ratio_window = "5m"\ntop_intents = 2\n'
    )
    db = root / "store.duckdb"
    logs = write_jsonl(root / "logs.jsonl", _records())
    ingest(db, logs)
    with running_server(db, "--config", str(config)) as url:
        yield url, root


def test_metrics_need_auth_and_pass_promtool(server: tuple[str, Path]) -> None:
    url, _ = server
    assert httpx.get(url + "/metrics", timeout=10).status_code == 401
    response = httpx.get(url + "/metrics", headers=BEARER, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    check = subprocess.run(
        ["promtool", "check", "metrics"],
        input=response.text,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # top_intents = 2 from [prometheus]: Hours is folded, FallbackIntent never is.
    intents = {
        line.split('intent="')[1].split('"')[0]
        for line in response.text.splitlines()
        if line.startswith("lex_requests_total{")
    }
    assert intents == {"CheckBalance", "TransferFunds", "other", "FallbackIntent"}
    folded = httpx.get(url + "/metrics", params={"top_intents": "50"}, headers=BEARER, timeout=10)
    assert 'intent="Hours"' in folded.text
    bad = httpx.get(url + "/metrics", params={"window": "soon"}, headers=BEARER, timeout=10)
    assert bad.status_code == 400 and "not a duration" in bad.json()["error"]


def _query(base: str, promql: str) -> list[dict[str, Any]]:
    response = httpx.get(base + "/api/v1/query", params={"query": promql}, timeout=5)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def _wait_for(base: str, promql: str, deadline: float) -> list[dict[str, Any]]:
    while True:
        try:
            result = _query(base, promql)
            if result:
                return result
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"Prometheus gave no result for {promql} in time")
        time.sleep(0.25)


@pytest.fixture(scope="module")
def prometheus(server: tuple[str, Path]) -> Iterator[str]:
    url, root = server
    port = free_port()
    token_file = root / "token"
    token_file.write_text(TOKEN)
    config = root / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(RULES)],
                "scrape_configs": [
                    {
                        "job_name": "lexboard",
                        "authorization": {"type": "Bearer", "credentials_file": str(token_file)},
                        "static_configs": [{"targets": [url.removeprefix("http://")]}],
                    }
                ],
            }
        )
    )
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={root / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(proc, base + "/-/ready", "prometheus", 30)
        yield base
    finally:
        stop(proc)


def _value(result: list[dict[str, Any]]) -> float:
    (sample,) = result
    return float(sample["value"][1])


def test_promql_matches_metrics_summary(server: tuple[str, Path], prometheus: str) -> None:
    url, root = server
    deadline = time.monotonic() + 30
    up = _wait_for(prometheus, 'up{job="lexboard"} == 1', deadline)
    assert _value(up) == 1  # the scrape with the bearer token succeeds
    requests = _value(_wait_for(prometheus, "sum(lex_requests_total)", deadline))
    missed = _value(_wait_for(prometheus, "sum(lex_missed_utterances_total)", deadline))

    # The CLI goes to the server that owns the store (it announced itself next to it).
    cli = run_lexboard(
        "metrics", "summary", "--db", str(root / "store.duckdb"), *WINDOW, "--format", "json"
    )
    assert cli.returncode == 0, cli.stderr
    result = json.loads(cli.stdout)
    summary = dict(zip(result["columns"], result["rows"][0], strict=True))
    assert (requests, missed) == (summary["requests"], summary["missed"]) == (40, 8)

    per_bot = _wait_for(prometheus, "sum by (bot_id) (lex_missed_utterances_total)", deadline)
    by_bot = {s["metric"]["bot_id"]: float(s["value"][1]) for s in per_bot}
    for bot_id, value in by_bot.items():
        api = httpx.get(
            url + "/api/metrics/summary",
            params={"from": "2026-11-01", "to": "2026-11-04", "bot_id": bot_id},
            headers=BEARER,
            timeout=10,
        ).json()
        assert value == dict(zip(api["columns"], api["rows"][0], strict=True))["missed"]
    assert sum(by_bot.values()) == missed

    # The shipped rules load in a real server too.
    rules = httpx.get(prometheus + "/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert {r["name"] for g in rules for r in g["rules"]} == {
        "LexHighMissedUtteranceRatio",
        "LexNoTraffic",
        "LexboardIngestLag",
        "LexNegativeSentimentSpike",
    }
