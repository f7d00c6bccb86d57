"""Optional CloudWatch exporter: the store's counts as custom metrics, AWS-sample style.

For teams whose alarms live in CloudWatch. The AWS Lex V2 analytics sample turns
conversation logs into metrics with metric filters, one namespace per bot and locale,
``Lex/Activity/<bot id>/<locale>``, dimensioned by alias name and version plus the
intent or the input mode. This exporter puts the same shape with PutMetricData, counted
by event time over one window (default the last complete 5 minutes):

- ``RequestCount`` and ``MissedUtteranceCount``: dimensions BotAliasName, BotVersion,
  InputMode (a group with requests and no misses gets a 0, so alarms see data);
- ``IntentCount``: dimensions BotAliasName, BotVersion, Intent (turns with an intent;
  intents outside the store's top ``top_intents`` become ``other``, as in /metrics).

A value the log lacks is put as ``unset`` (CloudWatch refuses empty dimension values).
Each datum is timestamped at the window's start. Windows align to multiples of their
length (since the Unix epoch), so a cron entry every 5 minutes with ``--window 5m``
puts each event once; running the same window twice puts it twice (PutMetricData has no
idempotency), and events ingested after their window was exported are not put.
Credentials, region and endpoint come from the standard AWS configuration
(``AWS_PROFILE``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``, ...).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lexboard.checks import NEVER_FOLDED, OTHER_INTENT
from lexboard.checks import top_intents as store_top_intents
from lexboard.errors import LexboardError
from lexboard.store.db import Store

DEFAULT_PREFIX = "Lex/Activity"
DEFAULT_WINDOW_S = 300.0
DEFAULT_TOP_INTENTS = 50
BATCH = 1000  # PutMetricData takes up to 1,000 metrics per request
UNSET = "unset"

_GROUPS = """
SELECT bot_id, locale_id, coalesce(nullif(alias_name, ''), $unset),
       coalesce(nullif(bot_version, ''), $unset), {column}, count(*), count(*) FILTER (WHERE missed)
FROM turns
WHERE ts >= $window_from AND ts < $window_to {extra}
GROUP BY ALL
ORDER BY ALL
"""


class CloudWatchExportError(LexboardError):
    """The export cannot run or CloudWatch refused it."""


@dataclass(frozen=True)
class Datum:
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    value: float
    timestamp: datetime

    def to_aws(self) -> dict[str, Any]:
        return {
            "MetricName": self.metric_name,
            "Dimensions": [{"Name": n, "Value": v} for n, v in self.dimensions],
            "Timestamp": self.timestamp,
            "Value": self.value,
            "Unit": "Count",
        }


def export_window(window_s: float, end: datetime | None = None) -> tuple[datetime, datetime]:
    """``[start, end)``: ``end`` as given, else now floored to a multiple of the window."""
    if end is None:
        now = datetime.now(UTC).timestamp()
        end = datetime.fromtimestamp(math.floor(now / window_s) * window_s, UTC)
    end = end.astimezone(UTC)
    return end - timedelta(seconds=window_s), end


def _dimension(value: str) -> str:
    return value[:1024]


def build_metric_data(
    store: Store,
    start: datetime,
    end: datetime,
    prefix: str = DEFAULT_PREFIX,
    top_intents: int = DEFAULT_TOP_INTENTS,
) -> list[Datum]:
    """Every datum of the window, in a stable order (namespace, metric, dimensions)."""
    prefix = prefix.strip().rstrip("/")
    if not prefix:
        raise CloudWatchExportError("the namespace prefix is empty", hint="e.g. Lex/Activity")
    keep = [*store_top_intents(store, top_intents), *NEVER_FOLDED]
    params = {"window_from": start, "window_to": end, "unset": UNSET}
    cursor = store.con.cursor()
    try:
        by_mode = cursor.execute(
            _GROUPS.format(column="coalesce(nullif(input_mode, ''), $unset)", extra=""), params
        ).fetchall()
        by_intent = cursor.execute(
            _GROUPS.format(
                column=f"CASE WHEN list_contains($keep, intent) THEN intent "
                f"ELSE '{OTHER_INTENT}' END",
                extra="AND intent IS NOT NULL",
            ),
            {**params, "keep": keep},
        ).fetchall()
    finally:
        cursor.close()
    data: list[Datum] = []
    for bot_id, locale_id, alias, version, mode, requests, missed in by_mode:
        namespace = f"{prefix}/{bot_id}/{locale_id}"
        dims = (
            ("BotAliasName", _dimension(alias)),
            ("BotVersion", _dimension(version)),
            ("InputMode", _dimension(mode)),
        )
        data.append(Datum(namespace, "RequestCount", dims, float(requests), start))
        data.append(Datum(namespace, "MissedUtteranceCount", dims, float(missed), start))
    for bot_id, locale_id, alias, version, intent, requests, _ in by_intent:
        intent_dims = (
            ("BotAliasName", _dimension(alias)),
            ("BotVersion", _dimension(version)),
            ("Intent", _dimension(intent)),
        )
        namespace = f"{prefix}/{bot_id}/{locale_id}"
        data.append(Datum(namespace, "IntentCount", intent_dims, float(requests), start))
    data.sort(key=lambda d: (d.namespace, d.metric_name, d.dimensions))
    return data


def make_client(region: str | None = None, profile: str | None = None) -> Any:
    """A CloudWatch client from the standard AWS configuration."""
    try:
        import boto3
        import botocore.exceptions
    except ImportError:
        raise CloudWatchExportError(
            "the CloudWatch exporter needs boto3", hint="pip install 'lexboard[aws]'"
        ) from None
    try:
        return boto3.Session(profile_name=profile, region_name=region).client("cloudwatch")
    except botocore.exceptions.ProfileNotFound as exc:
        raise CloudWatchExportError(f"AWS profile not found: {exc}") from None
    except botocore.exceptions.NoRegionError:
        raise CloudWatchExportError(
            "no AWS region configured for CloudWatch",
            hint="pass --region, or set AWS_REGION / AWS_DEFAULT_REGION or the profile's region",
        ) from None


def put_metric_data(client: Any, data: Sequence[Datum]) -> int:
    """PutMetricData, one call per namespace and batch; returns the number of calls."""
    import botocore.exceptions

    calls = 0
    namespaces = sorted({d.namespace for d in data})
    for namespace in namespaces:
        items = [d.to_aws() for d in data if d.namespace == namespace]
        for i in range(0, len(items), BATCH):
            try:
                client.put_metric_data(Namespace=namespace, MetricData=items[i : i + BATCH])
            except botocore.exceptions.ClientError as exc:
                error = exc.response.get("Error", {})
                raise CloudWatchExportError(
                    f"CloudWatch refused PutMetricData for {namespace}: "
                    f"{error.get('Code', '?')}: {error.get('Message', exc)}"
                ) from None
            except botocore.exceptions.NoCredentialsError:
                raise CloudWatchExportError(
                    "no AWS credentials for CloudWatch",
                    hint="configure AWS credentials the usual way (AWS_PROFILE, "
                    "`aws configure`, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a role)",
                ) from None
            except botocore.exceptions.BotoCoreError as exc:
                raise CloudWatchExportError(f"cannot reach CloudWatch: {exc}") from None
            calls += 1
    return calls


def plan(
    store: Store,
    prefix: str = DEFAULT_PREFIX,
    window_s: float = DEFAULT_WINDOW_S,
    end: datetime | None = None,
    top_intents: int = DEFAULT_TOP_INTENTS,
) -> dict[str, Any]:
    """What an export of the window puts, as JSON-able data (``GET /api/export/cloudwatch``)."""
    start, stop = export_window(window_s, end)
    data = build_metric_data(store, start, stop, prefix, top_intents)
    return {
        "from": start.isoformat(timespec="milliseconds"),
        "to": stop.isoformat(timespec="milliseconds"),
        "namespaces": sorted({d.namespace for d in data}),
        "metrics": len(data),
        "data": [
            {
                "namespace": d.namespace,
                "metric": d.metric_name,
                "dimensions": [list(pair) for pair in d.dimensions],
                "value": d.value,
            }
            for d in data
        ],
    }


def data_of(planned: dict[str, Any]) -> list[Datum]:
    """The data of a ``plan`` (possibly one that came over HTTP), ready to put."""
    timestamp = datetime.fromisoformat(planned["from"])
    return [
        Datum(
            d["namespace"],
            d["metric"],
            tuple((str(n), str(v)) for n, v in d["dimensions"]),
            float(d["value"]),
            timestamp,
        )
        for d in planned["data"]
    ]


def export(
    store: Store,
    client: Any,
    prefix: str = DEFAULT_PREFIX,
    window_s: float = DEFAULT_WINDOW_S,
    end: datetime | None = None,
    top_intents: int = DEFAULT_TOP_INTENTS,
) -> dict[str, Any]:
    """Plan the window and put it; the plan plus the number of PutMetricData calls."""
    planned = plan(store, prefix, window_s, end, top_intents)
    return {**planned, "calls": put_metric_data(client, data_of(planned))}
