"""Source arguments → source objects.

- ``cloudwatch://LOG_GROUP[?prefix=STREAM_PREFIX&region=R&profile=P&interval=S&overlap=S]``
  (a group whose name starts with ``/`` takes three slashes: ``cloudwatch:///aws/lex/Bot``);
- ``s3://BUCKET/PREFIX[?region=R&profile=P&interval=S]``;
- anything else is a path, a directory or a glob: read once at start, or followed
  (``--follow``).

The label of a source (what ``/api/status`` and the ingest counts call it, and the key of
its checkpoint) is its canonical URI: the group or bucket and prefix, plus ``prefix`` and
``region`` for CloudWatch; ``profile``, ``interval`` and ``overlap`` do not change it.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl, quote, unquote

from lexboard.errors import ConfigError
from lexboard.sources.cloudwatch import DEFAULT_INTERVAL_S as CW_INTERVAL_S
from lexboard.sources.cloudwatch import DEFAULT_OVERLAP_S, CloudWatchSource
from lexboard.sources.follow import FollowSource
from lexboard.sources.s3 import DEFAULT_INTERVAL_S as S3_INTERVAL_S
from lexboard.sources.s3 import S3Source
from lexboard.store.db import Store

SCHEMES = ("cloudwatch://", "s3://")
_CLOUDWATCH_PARAMS = ("prefix", "region", "profile", "interval", "overlap")
_S3_PARAMS = ("region", "profile", "interval")

LiveSourceObject = CloudWatchSource | S3Source | FollowSource


def _split(text: str, scheme: str, allowed: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    rest = text.strip()[len(scheme) :]
    path, _, query = rest.partition("?")
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in allowed:
            raise ConfigError(
                f"{text}: unknown option {key!r}", hint=f"{scheme} takes " + ", ".join(allowed)
            )
        params[key] = value
    return unquote(path), params


def _seconds(text: str, params: dict[str, str], name: str, default: float, low: float) -> float:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw.removesuffix("s"))
    except ValueError:
        value = -1.0
    if value < low:
        raise ConfigError(f"{text}: {name}={raw!r} is not a number of seconds ≥ {low:g}")
    return value


def cloudwatch_label(group: str, prefix: str | None = None, region: str | None = None) -> str:
    label = f"cloudwatch://{quote(group, safe='/._-#')}"
    query = [(k, v) for k, v in (("prefix", prefix), ("region", region)) if v]
    if query:
        label += "?" + "&".join(f"{k}={quote(v, safe='/._-')}" for k, v in query)
    return label


def parse_cloudwatch(
    text: str,
    store: Store | None = None,
    since: datetime | None = None,
    **options: object,
) -> CloudWatchSource:
    group, params = _split(text, "cloudwatch://", _CLOUDWATCH_PARAMS)
    if not group:
        raise ConfigError(
            f"{text}: no log group", hint="cloudwatch://LOG_GROUP, e.g. cloudwatch://lex-logs"
        )
    prefix = params.get("prefix") or None
    region = params.get("region") or None
    return CloudWatchSource(
        group,
        prefix=prefix,
        region=region,
        profile=params.get("profile") or None,
        interval_s=_seconds(text, params, "interval", CW_INTERVAL_S, 0.1),
        overlap_s=_seconds(text, params, "overlap", DEFAULT_OVERLAP_S, 0.0),
        since=since,
        store=store,
        label=cloudwatch_label(group, prefix, region),
        **options,  # type: ignore[arg-type]
    )


def parse_s3(text: str, store: Store | None = None, **options: object) -> S3Source:
    path, params = _split(text, "s3://", _S3_PARAMS)
    bucket, _, prefix = path.partition("/")
    if not bucket:
        raise ConfigError(f"{text}: no bucket", hint="s3://BUCKET/PREFIX")
    return S3Source(
        bucket,
        prefix,
        region=params.get("region") or None,
        profile=params.get("profile") or None,
        interval_s=_seconds(text, params, "interval", S3_INTERVAL_S, 0.1),
        store=store,
        label=f"s3://{bucket}/{prefix}",
        **options,  # type: ignore[arg-type]
    )


def live_source(
    text: str,
    store: Store | None = None,
    since: datetime | None = None,
    follow: bool = False,
) -> LiveSourceObject | None:
    """The live source ``text`` stands for; None for a path that is not followed (it is
    read once, by ``sources.files``)."""
    lowered = text.strip().lower()
    if lowered.startswith("cloudwatch://"):
        return parse_cloudwatch(text, store, since)
    if lowered.startswith("s3://"):
        return parse_s3(text, store)
    if follow:
        return FollowSource(text, store=store)
    return None


def open_live_sources(
    arguments: list[str],
    store: Store,
    since: datetime | None = None,
    follow: bool = False,
) -> tuple[list[LiveSourceObject], list[str]]:
    """``serve``'s sources: the live ones (checked with one cheap AWS call each, so that
    missing credentials or permissions fail at start in one line) and the paths to read
    once."""
    live: list[LiveSourceObject] = []
    paths: list[str] = []
    for text in arguments:
        source = live_source(text, store, since, follow)
        if source is None:
            paths.append(text)
        else:
            live.append(source)
    for source in live:
        if isinstance(source, CloudWatchSource | S3Source):
            source.check()
    return live, paths
