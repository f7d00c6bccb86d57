"""The CloudWatch exporter against a real `moto_server` on loopback (no AWS, no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lexboard.cloudwatch_export import build_metric_data, data_of, export_window, plan
from lexboard.store import open_store
from lexboard.store.ingest import ingest_sources
from tests.aws import aws_env, moto_endpoint  # noqa: F401  (the session fixture)
from tests.conftest import run_lexboard, write_jsonl
from tests.records import lex_record
from tests.server import running_server

boto3 = pytest.importorskip("boto3")
END = datetime(2026, 11, 2, 10, 5, tzinfo=UTC)


def ingest(db: Path, logs: Path) -> None:
    """Ingest in process (the CLI's own ingest is tested elsewhere); the file is closed after."""
    with open_store(db) as store:
        ingest_sources(store, [(str(logs), [logs])])


def _records(end: datetime) -> list[dict[str, Any]]:
    """In [end − 5m, end): BOT1/en_US on two aliases and modes, a miss; BOT2/fr_FR; and one
    turn just outside the window on each side."""

    def at(seconds_before: float) -> str:
        ts = end - timedelta(seconds=seconds_before)
        return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    prod = {"alias_name": "prod", "version": "3"}
    return [
        lex_record(ts=at(60), intent="CheckBalance", **prod),
        lex_record(ts=at(50), intent="CheckBalance", input_mode="Speech", **prod),
        lex_record(ts=at(40), missed=True, intent=None, **prod),
        lex_record(ts=at(30), intent="Transfer", alias_name="beta", version="DRAFT"),
        lex_record(ts=at(20), bot_id="BOT2", locale_id="fr_FR", intent=None, alias_name=None),
        lex_record(ts=at(301), intent="CheckBalance", **prod),  # before the window
        lex_record(ts=at(0), intent="CheckBalance", **prod),  # at its (exclusive) end
    ]


def test_metric_data_in_the_samples_shape(tmp_path: Path) -> None:
    logs = write_jsonl(tmp_path / "logs.jsonl", _records(END))
    with open_store(tmp_path / "store.duckdb") as store:
        ingest_sources(store, [("logs", [logs])])
        start, end = export_window(300, END)
        data = build_metric_data(store, start, end)
        folded = build_metric_data(store, start, end, "Custom/Lex/", top_intents=0)
        planned = plan(store, window_s=300, end=END)
    got = {(d.namespace, d.metric_name, d.dimensions): d.value for d in data}
    bank = "Lex/Activity/BOT1/en_US"
    prod = (("BotAliasName", "prod"), ("BotVersion", "3"))
    beta = (("BotAliasName", "beta"), ("BotVersion", "DRAFT"))
    unset = (("BotAliasName", "unset"), ("BotVersion", "DRAFT"))
    assert got == {
        (bank, "RequestCount", (*prod, ("InputMode", "Text"))): 2,
        (bank, "MissedUtteranceCount", (*prod, ("InputMode", "Text"))): 1,
        (bank, "RequestCount", (*prod, ("InputMode", "Speech"))): 1,
        (bank, "MissedUtteranceCount", (*prod, ("InputMode", "Speech"))): 0,
        (bank, "RequestCount", (*beta, ("InputMode", "Text"))): 1,
        (bank, "MissedUtteranceCount", (*beta, ("InputMode", "Text"))): 0,
        (bank, "IntentCount", (*prod, ("Intent", "CheckBalance"))): 2,
        (bank, "IntentCount", (*prod, ("Intent", "FallbackIntent"))): 1,
        (bank, "IntentCount", (*beta, ("Intent", "Transfer"))): 1,
        ("Lex/Activity/BOT2/fr_FR", "RequestCount", (*unset, ("InputMode", "Text"))): 1,
        ("Lex/Activity/BOT2/fr_FR", "MissedUtteranceCount", (*unset, ("InputMode", "Text"))): 0,
    }
    assert {d.timestamp for d in data} == {END - timedelta(minutes=5)}
    assert {d.namespace for d in folded} == {"Custom/Lex/BOT1/en_US", "Custom/Lex/BOT2/fr_FR"}
    assert {dict(d.dimensions)["Intent"] for d in folded if d.metric_name == "IntentCount"} == {
        "other",
        "FallbackIntent",
    }
    assert data_of(json.loads(json.dumps(planned))) == data  # the plan survives HTTP


def test_default_window_is_the_last_complete_one() -> None:
    start, end = export_window(300)
    assert end.timestamp() % 300 == 0 and end <= datetime.now(UTC) < end + timedelta(minutes=5)
    assert end - start == timedelta(minutes=5)


@pytest.fixture(scope="module")
def moto(
    moto_endpoint: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    return aws_env(moto_endpoint, tmp_path_factory.mktemp("aws"))


def _cloudwatch(env: dict[str, str]) -> Any:
    return boto3.client(
        "cloudwatch",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _sum(client: Any, namespace: str, name: str, dims: dict[str, str], start: datetime) -> float:
    stats = client.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=start - timedelta(minutes=1),
        EndTime=start + timedelta(minutes=10),
        Period=60,
        Statistics=["Sum"],
    )
    return float(sum(point["Sum"] for point in stats["Datapoints"]))


def test_export_cloudwatch_puts_and_reads_back(tmp_path: Path, moto: dict[str, str]) -> None:
    now = datetime.now(UTC)
    end = datetime.fromtimestamp(now.timestamp() // 300 * 300, UTC)  # the default window
    db = tmp_path / "store.duckdb"
    logs = write_jsonl(tmp_path / "logs.jsonl", _records(end))
    ingest(db, logs)
    done = run_lexboard(
        "export-cloudwatch",
        "--db",
        str(db),
        "--namespace-prefix",
        "Lex/Activity",
        "--window",
        "5m",
        "--to",
        end.isoformat(),
        "--format",
        "json",
        env=moto,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["metrics"] == 11 and summary["calls"] == 2  # one call per namespace

    client = _cloudwatch(moto)
    listed = client.list_metrics(Namespace="Lex/Activity/BOT1/en_US")["Metrics"]
    assert {m["MetricName"] for m in listed} == {
        "RequestCount",
        "MissedUtteranceCount",
        "IntentCount",
    }
    assert {"Name": "Intent", "Value": "FallbackIntent"} in [
        d for m in listed if m["MetricName"] == "IntentCount" for d in m["Dimensions"]
    ]
    start = end - timedelta(minutes=5)
    prod_text = {"BotAliasName": "prod", "BotVersion": "3", "InputMode": "Text"}
    bank = "Lex/Activity/BOT1/en_US"
    assert _sum(client, bank, "RequestCount", prod_text, start) == 2
    assert _sum(client, bank, "MissedUtteranceCount", prod_text, start) == 1
    intent = {"BotAliasName": "prod", "BotVersion": "3", "Intent": "CheckBalance"}
    assert _sum(client, bank, "IntentCount", intent, start) == 2
    fr = {"BotAliasName": "unset", "BotVersion": "DRAFT", "InputMode": "Text"}
    assert _sum(client, "Lex/Activity/BOT2/fr_FR", "RequestCount", fr, start) == 1

    # With a server owning the store, the data comes from it; the CLI puts it.
    with running_server(db):
        again = run_lexboard(
            "export-cloudwatch",
            "--db",
            str(db),
            "--namespace-prefix",
            "Routed",
            "--to",
            end.isoformat(),
            env=moto,
        )
        assert again.returncode == 0, again.stderr
        assert "put 11 metric values" in again.stderr
    assert _sum(client, "Routed/BOT1/en_US", "RequestCount", prod_text, start) == 2


def test_export_cloudwatch_errors_are_one_line(tmp_path: Path, moto: dict[str, str]) -> None:
    db = tmp_path / "store.duckdb"
    logs = write_jsonl(tmp_path / "logs.jsonl", _records(END))
    ingest(db, logs)
    bad = run_lexboard("export-cloudwatch", "--db", str(db), "--window", "soon", env=moto)
    assert bad.returncode == 2 and "--window = 'soon' is not a duration" in bad.stderr
    anonymous = {**moto, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    refused = run_lexboard(
        "export-cloudwatch", "--db", str(db), "--to", END.isoformat(), env=anonymous
    )
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith("Error: no AWS credentials for CloudWatch")
    dry = run_lexboard(
        "export-cloudwatch", "--db", str(db), "--dry-run", "--to", END.isoformat(), env=anonymous
    )
    assert dry.returncode == 0 and "would put 11 metric values" in dry.stderr
    assert (
        "Lex/Activity/BOT1/en_US RequestCount {BotAliasName=prod, BotVersion=3, InputMode=Text} 2"
        in dry.stdout
    )
