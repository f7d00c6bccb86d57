"""The ``lexboard`` command: a thin layer over the library.

Every LexboardError becomes one line on stderr (plus its hint) and a non-zero exit;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lexboard import __version__
from lexboard.config import SETTINGS, Settings, load_settings
from lexboard.errors import ConfigError, LexboardError, SourceError, StrictModeFailure
from lexboard.logs.formats import FORMATS as LOG_FORMATS
from lexboard.metrics import CATALOG, Result, resolve_request, run_metric
from lexboard.output import FORMATS as OUTPUT_FORMATS
from lexboard.output import to_csv, to_json, to_table
from lexboard.owner import Server, call, server_for
from lexboard.progress import IngestProgress
from lexboard.sources.files import expand
from lexboard.store import Store, open_store
from lexboard.store.ingest import IngestSummary, ingest_sources, summary_from_dict
from lexboard.store.overview import quarantine_entries

F = TypeVar("F", bound=Callable[..., Any])
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False)


def friendly(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LexboardError as exc:
            err.print(Text(f"Error: {exc.message}", style="bold red"))
            if exc.hint:
                err.print(Text(f"Hint: {exc.hint}"))
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            err.print(Text("Interrupted: whole batches are kept; run the command again."))
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def _settings(config: str | None, **flags: Any) -> Settings:
    return load_settings(config, flags)


T = TypeVar("T")


def _read(
    settings: Settings,
    server: str | None,
    remote: Callable[[Server], T],
    local: Callable[[Store], T],
) -> T:
    """A read through the server that owns the store (DESIGN decision 1), else the file."""
    owner = server_for(settings.db, server)
    if owner:
        return remote(owner)
    with open_store(settings.db, read_only=True) as store:
        return local(store)


config_option = click.option(
    "--config", "config", type=click.Path(dir_okay=False), help="lexboard.toml to read."
)
db_option = click.option("--db", "db", help="DuckDB store file (default ./lexboard.duckdb).")
server_option = click.option(
    "--server", help="URL of the lexboard server that owns the store (found automatically)."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lexboard")
def cli() -> None:
    """Analytics for Amazon Lex V2 bots, from their conversation logs."""


# --- ingest --------------------------------------------------------------------------


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@db_option
@config_option
@click.option(
    "--format", "fmt", type=click.Choice(LOG_FORMATS), help="Skip sniffing: read as this format."
)
@click.option("--strict", is_flag=True, help="Exit 1 when any record is quarantined.")
@click.option("--retention-days", type=str, help="Drop turns older than N days (0 keeps all).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary.")
@server_option
@friendly
def ingest(
    paths: tuple[str, ...],
    db: str | None,
    config: str | None,
    fmt: str | None,
    strict: bool,
    retention_days: str | None,
    quiet: bool,
    server: str | None,
) -> None:
    """Read Lex V2 conversation logs (files, directories, globs) into the store."""
    settings = _settings(config, db=db, retention_days=retention_days)
    sources = [expand(path) for path in paths]
    command = "ingest " + " ".join(paths)
    owner = server_for(settings.db, server)
    if owner:
        body = {
            "sources": [[s.label, [str(f.resolve()) for f in s.files]] for s in sources],
            "format": fmt,
            "command": command,
        }
        summary = summary_from_dict(call(owner, "/api/ingest", body=body))
    else:
        with open_store(settings.db) as store, IngestProgress(err, sources, quiet) as progress:
            summary = ingest_sources(
                store,
                [(s.label, s.files) for s in sources],
                fmt,
                settings.retention_days,
                command,
                progress.run_file if progress.enabled else None,
            )
    if not quiet:
        _print_summary(summary)
    _judge(summary, strict)


def _print_summary(summary: IngestSummary) -> None:
    table = Table(title="Ingest summary", title_justify="left")
    for column in ("source", "files", "read", "new", "duplicate", "quarantined", "expired"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for s in summary.sources:
        table.add_row(
            Text(s.source),
            *(f"{getattr(s, c):,}" for c in ("files", "read", "new", "duplicate")),
            *(f"{getattr(s, c):,}" for c in ("quarantined", "expired")),
        )
    err.print(table)
    if summary.removed_by_retention:
        err.print(f"retention removed {summary.removed_by_retention:,} turns older than the cutoff")
    for s in summary.sources:
        if s.first_problem:
            err.print(Text(f"quarantined, first: {s.first_problem}", style="yellow"))


def _judge(summary: IngestSummary, strict: bool) -> None:
    quarantined = summary.total("quarantined")
    good = summary.total("read") - quarantined
    if quarantined and good == 0:
        first = next((s.first_problem for s in summary.sources if s.first_problem), "")
        raise SourceError(
            f"no Lex V2 records found ({quarantined:,} quarantined; first: {first})",
            hint="see lexboard quarantine, or pick the format with --format",
        )
    if strict and quarantined:
        raise StrictModeFailure(f"{quarantined:,} records quarantined (--strict)")


@cli.command()
@db_option
@config_option
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@server_option
@friendly
def quarantine(
    db: str | None, config: str | None, limit: int, fmt: str, server: str | None
) -> None:
    """List quarantined records: where they were and why they were refused."""
    settings = _settings(config, db=db)
    listing = _read(
        settings,
        server,
        lambda owner: call(owner, "/api/quarantine", {"limit": limit}),
        lambda store: quarantine_entries(store, limit),
    )
    if fmt == "json":
        click.echo(json.dumps(listing))
        return
    table = Table(title=f"Quarantine ({listing['total']:,} records)", title_justify="left")
    for column in ("source", "position", "reason", "raw_start"):
        table.add_column(column, overflow="fold")
    for row in listing["rows"]:
        table.add_row(*(Text(str(row[c] or "")[:80]) for c in row))
    out.print(table)


@cli.command()
@click.argument("session_id")
@db_option
@config_option
@click.option("--tz", help="IANA time zone for the times (default: setting tz).")
@click.option("--bot-id")
@click.option("--locale-id")
@click.option("--originating-request-id")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@server_option
@friendly
def session(
    session_id: str,
    db: str | None,
    config: str | None,
    tz: str | None,
    bot_id: str | None,
    locale_id: str | None,
    originating_request_id: str | None,
    fmt: str,
    server: str | None,
) -> None:
    """Every conversation under a session id, turn by turn."""
    from urllib.parse import quote

    from lexboard.metrics.request import parse_zone
    from lexboard.store.transcripts import session_transcripts

    settings = _settings(config, db=db)
    zone = parse_zone(tz or settings.tz)
    narrow = {
        "bot_id": bot_id,
        "locale_id": locale_id,
        "originating_request_id": originating_request_id,
    }
    path = f"/api/sessions/{quote(session_id, safe='')}"
    conversations = _read(
        settings,
        server,
        lambda owner: call(owner, path, {"tz": zone, **narrow})["conversations"],
        lambda store: session_transcripts(store, session_id, zone, **narrow),
    )
    if not conversations:
        raise LexboardError(f"no session {session_id!r} in {settings.db}")
    if fmt == "json":
        click.echo(
            json.dumps({"session_id": session_id, "tz": zone, "conversations": conversations})
        )
        return
    for number, conversation in enumerate(conversations, start=1):
        key = conversation["key"]
        out.print(
            Text(
                f"Conversation {number}: bot {key['bot_id']} · {key['locale_id']} · "
                f"originating request {key['originating_request_id'] or '—'}",
                style="bold",
            )
        )
        for turn in conversation["turns"]:
            flag = " · MISSED" if turn["missed"] else ""
            confidence = turn["confidence"]
            shown = f" ({confidence:.2f})" if confidence is not None else ""
            out.print(Text(f"  {turn['ts']} · {turn['input_mode'] or '—'}{flag}", style="dim"))
            out.print(Text(f"  user: {turn['transcript'] or '(no transcript)'}"))
            out.print(Text(f"  → {turn['intent'] or '—'}{shown} {turn['intent_state'] or ''}"))
            for reply in turn["bot_reply"]:
                out.print(Text(f"  bot: {reply}", style="cyan"))


# --- metrics -------------------------------------------------------------------------


@cli.command()
@click.argument("metric_id", required=False)
@click.option("--list", "list_", is_flag=True, help="List the catalog.")
@db_option
@config_option
@click.option("--from", "start", help="Window start (inclusive), ISO-8601; default to − 24 h.")
@click.option("--to", "end", help="Window end (exclusive), ISO-8601; default now.")
@click.option("--tz", help="IANA time zone for buckets and naive times (default: setting tz).")
@click.option("--bot-id")
@click.option("--locale-id")
@click.option("--alias-id")
@click.option("--input-mode")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Metric parameter.")
@click.option("--format", "fmt", type=click.Choice(OUTPUT_FORMATS), default="table")
@server_option
@friendly
def metrics(
    metric_id: str | None,
    list_: bool,
    db: str | None,
    config: str | None,
    start: str | None,
    end: str | None,
    tz: str | None,
    bot_id: str | None,
    locale_id: str | None,
    alias_id: str | None,
    input_mode: str | None,
    params: tuple[str, ...],
    fmt: str,
    server: str | None,
) -> None:
    """Compute one metric of the catalog (see --list)."""
    if list_ or metric_id is None:
        _print_catalog(fmt)
        return
    settings = _settings(config, db=db)
    parsed: dict[str, str] = {}
    for item in params:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise LexboardError(f"--param {item!r} is not NAME=VALUE")
        parsed[name.strip()] = value
    request = resolve_request(
        metric_id,
        start,
        end,
        tz or settings.tz,
        {"bot_id": bot_id, "locale_id": locale_id, "alias_id": alias_id, "input_mode": input_mode},
        parsed,
    )
    echo = request.echo()
    query = {"from": echo["from"], "to": echo["to"], "tz": request.tz, **parsed}
    query.update({k: v for k, v in request.filters.items() if v is not None})
    result = _read(
        settings,
        server,
        lambda owner: Result(**call(owner, f"/api/metrics/{metric_id}", query)),
        lambda store: run_metric(store, request),
    )
    if fmt == "json":
        click.echo(to_json(result))
    elif fmt == "csv":
        click.echo(to_csv(result), nl=False)
    else:
        out.print(to_table(result, request.metric.title))


def _print_catalog(fmt: str) -> None:
    if fmt == "json":
        import orjson

        click.echo(
            orjson.dumps(
                [
                    {
                        "id": m.id,
                        "title": m.title,
                        "level": m.level,
                        "columns": [c.name for c in m.columns],
                        "params": [p.name for p in m.params],
                    }
                    for m in CATALOG.values()
                ]
            ).decode()
        )
        return
    table = Table(title="Metric catalog", title_justify="left")
    for column in ("id", "level", "columns", "parameters"):
        table.add_column(column)
    for m in CATALOG.values():
        table.add_row(
            m.id,
            m.level,
            ", ".join(c.name for c in m.columns),
            ", ".join(f"{p.name}={p.default}" for p in m.params) or "—",
        )
    out.print(table)


# --- serve ---------------------------------------------------------------------------

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@cli.command()
@db_option
@config_option
@click.option("--host", help="Address to bind (default 127.0.0.1).")
@click.option("--port", help="Port (default 8050).")
@click.option("--ssl-certfile", help="TLS certificate (PEM): with --ssl-keyfile, serve HTTPS.")
@click.option("--ssl-keyfile", help="TLS private key (PEM).")
@click.option(
    "--source",
    "sources",
    multiple=True,
    help="Logs (repeatable): PATH (read at start, or followed with --follow), "
    "cloudwatch://LOG_GROUP[?prefix=P&region=R], s3://BUCKET/PREFIX: followed live.",
)
@click.option(
    "--follow/--no-follow",
    default=None,
    help="Follow PATH sources: appended lines, new files, rotation (setting follow).",
)
@click.option(
    "--since",
    help="Where a CloudWatch source without a checkpoint starts: ISO-8601 or a duration "
    "back from now (24h, 7d); default now − its overlap window.",
)
@friendly
def serve(
    db: str | None,
    config: str | None,
    host: str | None,
    port: str | None,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    sources: tuple[str, ...],
    follow: bool | None,
    since: str | None,
) -> None:
    """Serve the API and dashboard over the store (which this process then owns)."""
    settings = _settings(
        config,
        db=db,
        host=host,
        port=port,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        sources=sources,
        follow=follow,
    )
    from lexboard.server.auth import Authenticator

    auth = Authenticator(settings.extra.get("auth"), str(settings.config_file))
    if settings.host not in LOOPBACK_HOSTS and not auth.configured:
        raise ConfigError(
            f"host = {settings.host} ({settings.origins['host']}) is not a loopback address "
            "and no authentication is configured",
            hint="bind 127.0.0.1, or configure [auth] users in lexboard.toml",
        )
    from lexboard.server.app import create_app
    from lexboard.server.listen import listen, run, tls_files
    from lexboard.sources.live import parse_since
    from lexboard.sources.uri import open_live_sources

    tls = tls_files(settings)
    sock = listen(settings.host, settings.port)  # before the store: a port in use says so now
    url = f"{'https' if tls else 'http'}://{settings.host}:{settings.port}"
    with sock, open_store(settings.db) as store:
        live, paths = open_live_sources(
            settings.sources, store, parse_since(since), settings.follow
        )
        if paths:
            found = [expand(path) for path in paths]
            summary = ingest_sources(
                store,
                [(s.label, s.files) for s in found],
                None,
                settings.retention_days,
                "serve --source",
            )
            _print_summary(summary)
        for source in live:
            err.print(Text(f"live source {source.label}"))
        app = create_app(settings, store=store, announce_url=url, sources=live)
        err.print(Text(f"lexboard serving {settings.db} at {url}  (Ctrl-C stops)"))
        run(app, sock, tls)


@cli.command()
@db_option
@config_option
@click.option("--from", "start", help="Window start (inclusive), ISO-8601; default to − 24 h.")
@click.option("--to", "end", help="Window end (exclusive), ISO-8601; default now.")
@click.option("--tz", help="IANA time zone (default: setting tz).")
@click.option("--bot-id")
@click.option("--locale-id")
@click.option("--alias-id")
@click.option("--input-mode")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="HTML file to write.")
@server_option
@friendly
def report(
    db: str | None,
    config: str | None,
    start: str | None,
    end: str | None,
    tz: str | None,
    bot_id: str | None,
    locale_id: str | None,
    alias_id: str | None,
    input_mode: str | None,
    out: str,
    server: str | None,
) -> None:
    """Write one self-contained HTML report with the dashboard's widgets."""
    from lexboard.report import build_report, from_server, from_store

    settings = _settings(config, db=db)
    filters = {
        "bot_id": bot_id,
        "locale_id": locale_id,
        "alias_id": alias_id,
        "input_mode": input_mode,
    }
    zone = tz or settings.tz
    page = _read(
        settings,
        server,
        lambda owner: build_report(from_server(owner), start, end, zone, filters),
        lambda store: build_report(from_store(store), start, end, zone, filters),
    )
    target = Path(out)
    if not target.parent.exists():
        raise LexboardError(f"cannot write {out}: folder {target.parent} does not exist")
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)
    err.print(Text(f"wrote {out} ({len(page) / 1e6:.1f} MB)"))


@cli.group()
def auth() -> None:
    """Users and tokens for lexboard.toml's [auth] section."""


@auth.command("hash-password")
@click.option("--name", default="ana", show_default=True, help="User name for the snippet.")
@click.option("--role", type=click.Choice(["viewer", "editor"]), default="viewer")
@friendly
def hash_password(name: str, role: str) -> None:
    """Read a password (prompt, or one line on stdin) and print an [auth] users entry."""
    from lexboard.server.auth import hash_secret

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        raise LexboardError("the password is shorter than 8 characters")
    digest = hash_secret(password)
    click.echo(f'[[auth.users]]\nname = "{name}"\nrole = "{role}"\npassword_hash = "{digest}"')


@auth.command("new-token")
@click.option("--name", default="dashboard-viewer", show_default=True)
@click.option("--role", type=click.Choice(["viewer", "editor"]), default="viewer")
@friendly
def new_token(name: str, role: str) -> None:
    """Make a random bearer token: the token on stderr, its [auth] entry on stdout."""
    import secrets

    from lexboard.server.auth import hash_secret

    token = secrets.token_urlsafe(32)
    err.print(Text(f"token (shown once): {token}"))
    click.echo(
        f'[[auth.tokens]]\nname = "{name}"\nrole = "{role}"\ntoken_hash = "{hash_secret(token)}"'
    )


# --- alarms: check and export-cloudwatch --------------------------------------------


@cli.command()
@db_option
@config_option
@click.option(
    "--window", default="15m", show_default=True, help="Trailing window of the rate rules."
)
@click.option(
    "--min-requests",
    default=50,
    show_default=True,
    type=click.IntRange(min=0),
    help="Skip a rate rule whose window holds fewer turns than this.",
)
@click.option("--max-missed-rate", default="0.2", show_default=True, help="Rate 0-1, or off.")
@click.option(
    "--max-lag",
    default="5m",
    show_default=True,
    help="Ingest time − event time of each source's newest batch, or off.",
)
@click.option(
    "--max-negative-rate",
    default="0.3",
    show_default=True,
    help="NEGATIVE share of the turns with a sentiment label, 0-1, or off.",
)
@click.option("--bot-id")
@click.option("--locale-id")
@click.option("--alias-id")
@click.option("--input-mode")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--verbose", "-v", is_flag=True, help="Also print the rules that hold.")
@server_option
def check(
    db: str | None,
    config: str | None,
    window: str,
    min_requests: int,
    max_missed_rate: str,
    max_lag: str,
    max_negative_rate: str,
    bot_id: str | None,
    locale_id: str | None,
    alias_id: str | None,
    input_mode: str | None,
    fmt: str,
    verbose: bool,
    server: str | None,
) -> None:
    """Alert rules for cron: exit 0 all hold, 1 one line per broken rule, 2 error."""
    try:
        report = _run_check(
            db,
            config,
            window,
            min_requests,
            max_missed_rate,
            max_lag,
            max_negative_rate,
            {
                "bot_id": bot_id,
                "locale_id": locale_id,
                "alias_id": alias_id,
                "input_mode": input_mode,
            },
            server,
        )
    except LexboardError as exc:
        err.print(Text(f"Error: {exc.message}", style="bold red"))
        if exc.hint:
            err.print(Text(f"Hint: {exc.hint}"))
        sys.exit(2)
    except Exception as exc:  # a bug must not read as "a rule is broken" (exit 1)
        import traceback

        traceback.print_exc()
        err.print(Text(f"Error: check failed unexpectedly: {exc}", style="bold red"))
        sys.exit(2)
    if fmt == "json":
        click.echo(json.dumps(report))
    else:
        for rule in report["rules"]:
            if rule["status"] == "broken":
                click.echo(rule["message"])
            elif rule["status"] == "skipped" or verbose:
                err.print(Text(rule["message"]))
    sys.exit(0 if report["ok"] else 1)


def _run_check(
    db: str | None,
    config: str | None,
    window: str,
    min_requests: int,
    max_missed_rate: str,
    max_lag: str,
    max_negative_rate: str,
    filters: dict[str, str | None],
    server: str | None,
) -> dict[str, Any]:
    from lexboard.checks import CheckConfig, run_checks

    settings = _settings(config, db=db)
    check_config = CheckConfig.parse(
        window, min_requests, max_missed_rate, max_lag, max_negative_rate, filters
    )
    report: dict[str, Any] = _read(
        settings,
        server,
        lambda owner: call(owner, "/api/check", check_config.to_query(), timeout=120),
        lambda store: run_checks(store, check_config),
    )
    return report


@cli.command("export-cloudwatch")
@db_option
@config_option
@click.option("--namespace-prefix", default="Lex/Activity", show_default=True)
@click.option("--window", default="5m", show_default=True, help="Length of the window put.")
@click.option(
    "--to", "end", help="Window end, ISO-8601 (default: now floored to a multiple of --window)."
)
@click.option(
    "--top-intents",
    default=50,
    show_default=True,
    type=click.IntRange(min=0),
    help="Intents beyond the most frequent N are put as 'other'.",
)
@click.option("--region", help="AWS region (default: the standard AWS configuration).")
@click.option("--profile", help="AWS profile (default: the standard AWS configuration).")
@click.option("--dry-run", is_flag=True, help="Print what would be put; call nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@server_option
@friendly
def export_cloudwatch(
    db: str | None,
    config: str | None,
    namespace_prefix: str,
    window: str,
    end: str | None,
    top_intents: int,
    region: str | None,
    profile: str | None,
    dry_run: bool,
    fmt: str,
    server: str | None,
) -> None:
    """Put the window's counts into CloudWatch (namespace PREFIX/<bot id>/<locale>)."""
    from zoneinfo import ZoneInfo

    from lexboard import cloudwatch_export as cw
    from lexboard.checks import format_duration, parse_duration
    from lexboard.metrics.request import parse_instant

    settings = _settings(config, db=db)
    window_s = parse_duration(window, "--window")
    end_at = parse_instant(end, ZoneInfo(settings.tz), "--to") if end else None
    client = None if dry_run else cw.make_client(region, profile)
    query = {
        "namespace_prefix": namespace_prefix,
        "window": format_duration(window_s),
        "to": end_at.isoformat() if end_at else None,
        "top_intents": top_intents,
    }
    planned = _read(
        settings,
        server,
        lambda owner: call(owner, "/api/export/cloudwatch", query, timeout=120),
        lambda store: cw.plan(store, namespace_prefix, window_s, end_at, top_intents),
    )
    planned["calls"] = 0 if client is None else cw.put_metric_data(client, cw.data_of(planned))
    planned["dry_run"] = dry_run
    if fmt == "json":
        click.echo(json.dumps(planned))
        return
    verb = "would put" if dry_run else "put"
    err.print(
        Text(
            f"{verb} {planned['metrics']:,} metric values for [{planned['from']}, {planned['to']})"
            f" in {len(planned['namespaces'])} namespaces"
            + (f" ({planned['calls']} PutMetricData calls)" if not dry_run else "")
        )
    )
    if dry_run:
        for d in planned["data"]:
            dims = ", ".join(f"{n}={v}" for n, v in d["dimensions"])
            click.echo(f"{d['namespace']} {d['metric']} {{{dims}}} {d['value']:g}")


# --- utterances (curation) -----------------------------------------------------------


def _bot_options(func: F) -> F:
    options = [
        click.option("--bot-export", help="The bot as a Lex V2 export (LexJson .zip or folder)."),
        click.option("--bot-id", help="The bot's id, through the Lex V2 Models API (DRAFT)."),
        click.option("--locale-id", help="Locale (needed with --bot-id; picks an export's)."),
        click.option("--region", help="AWS region for the Models API (default: boto3's)."),
        click.option("--profile", help="AWS profile for the Models API (default: boto3's)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _curation_backend(
    bot_export: str | None,
    bot_id: str | None,
    locale_id: str | None,
    region: str | None,
    profile: str | None,
) -> Any:
    from lexboard.bots.curation import open_backend

    return open_backend(
        bot_export=bot_export, bot_id=bot_id, locale_id=locale_id, region=region, profile=profile
    )


def _bot_spec(
    bot_export: str | None,
    bot_id: str | None,
    locale_id: str | None,
    region: str | None,
    profile: str | None,
) -> dict[str, str | None]:
    """The bot named on the command line, for the server that owns the store."""
    return {
        "bot_export": str(Path(bot_export).resolve()) if bot_export else None,
        "bot_id": bot_id,
        "locale_id": locale_id,
        "region": region,
        "profile": profile,
    }


class _RemoteChange:
    """A curation result as the server sent it, shaped like bots.curation.Change."""

    def __init__(self, entry: dict[str, Any]) -> None:
        self.entry = entry
        for key, value in entry.items():
            setattr(self, key, value)

    def to_dict(self) -> dict[str, Any]:
        return self.entry


def _as_change(entry: dict[str, Any]) -> Any:
    return _RemoteChange(entry)


def _print_change(change: Any) -> None:
    line = Text(f"{change.result:<8}", style="green" if change.ok else "bold red")
    line.append(f" #{change.id}  {change.intent or '—'}  ")
    line.append(json.dumps(change.utterance, ensure_ascii=False))
    if change.detail:
        line.append(f"  {change.detail}")
    out.print(line, soft_wrap=True)


@cli.group()
def utterances() -> None:
    """Curation: missed utterances into the bot's sample utterances, audited and undoable."""


@utterances.command("list-missed")
@db_option
@config_option
@click.option("--from", "start", help="Window start (inclusive), ISO-8601; default to − 24 h.")
@click.option("--to", "end", help="Window end (exclusive), ISO-8601; default now.")
@click.option("--tz", help="IANA time zone for naive times (default: setting tz).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1))
@_bot_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@server_option
@friendly
def utterances_list_missed(
    db: str | None,
    config: str | None,
    start: str | None,
    end: str | None,
    tz: str | None,
    limit: int,
    bot_export: str | None,
    bot_id: str | None,
    locale_id: str | None,
    region: str | None,
    profile: str | None,
    fmt: str,
    server: str | None,
) -> None:
    """Missed utterances that are not yet sample utterances of the bot, with counts."""
    from lexboard.bots.curation import list_missed

    settings = _settings(config, db=db)

    def remote(owner: Server) -> Result:
        query = {
            "from": start,
            "to": end,
            "tz": tz or settings.tz,
            "limit": limit,
            **_bot_spec(bot_export, bot_id, locale_id, region, profile),
        }
        body = call(owner, "/api/curation/missed", query)
        return Result(body["metric"], body["params"], body["columns"], body["rows"])

    def local(store: Store) -> Result:
        backend = _curation_backend(bot_export, bot_id, locale_id, region, profile)
        return list_missed(store, backend, start, end, tz or settings.tz, limit)

    result = _read(settings, server, remote, local)
    bot = result.params["bot"]
    if fmt == "json":
        click.echo(to_json(result))
    else:
        out.print(to_table(result, f"Missed utterances not in {bot}"))
    if not result.params["bot_in_store"]:
        err.print(Text(f"note: the store has no conversations of bot {bot}"))


@utterances.command("add")
@click.argument("texts", nargs=-1, required=True, metavar="UTTERANCE...")
@click.option("--intent", required=True, help="The intent to add the utterances to.")
@_bot_options
@click.option("--build", is_flag=True, help="Then build the DRAFT locale and wait (API only).")
@db_option
@config_option
@click.option("--who", help="Name for the audit (default: your user name).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@server_option
@friendly
def utterances_add(
    texts: tuple[str, ...],
    intent: str,
    bot_export: str | None,
    bot_id: str | None,
    locale_id: str | None,
    region: str | None,
    profile: str | None,
    build: bool,
    db: str | None,
    config: str | None,
    who: str | None,
    fmt: str,
    server: str | None,
) -> None:
    """Add utterances to an intent (each checked and audited); exit 1 if any is refused."""
    from lexboard.bots.curation import add_utterances, build_locale

    settings = _settings(config, db=db)
    if build and bot_id is None:
        raise LexboardError("--build needs the Models API (--bot-id); an export is not built")
    owner = server_for(settings.db, server)
    if owner:
        spec = _bot_spec(bot_export, bot_id, locale_id, region, profile)
        items = [{"intent": intent, "utterance": text} for text in texts]
        reply = call(owner, "/api/curation/add", body={"items": items, "bot": spec, "who": who})
        changes = [_as_change(entry) for entry in reply["results"]]
        if fmt == "json":
            click.echo(json.dumps(reply, ensure_ascii=False))
        else:
            for change in changes:
                _print_change(change)
        if build and any(c.ok for c in changes):
            built_reply = call(owner, "/api/curation/build", body={"bot": spec, "who": who})
            err.print(Text(f"build: {built_reply['status']}"))
            if not built_reply["ok"]:
                sys.exit(1)
        if not all(c.ok for c in changes):
            sys.exit(1)
        return
    backend = _curation_backend(bot_export, bot_id, locale_id, region, profile)
    built = None
    with open_store(settings.db) as store:
        changes = add_utterances(store, backend, intent, list(texts), who)
        if fmt != "json":
            for change in changes:
                _print_change(change)
        if build and any(c.ok for c in changes):
            built = build_locale(
                store,
                backend,
                who,
                on_status=None if fmt == "json" else lambda s: err.print(Text(f"build: {s}")),
            )
            if fmt != "json":
                style = "green" if built.ok else "bold red"
                err.print(Text(built.summary(), style=style))
    if fmt == "json":
        payload: dict[str, Any] = {"results": [c.to_dict() for c in changes]}
        if built is not None:
            payload["build"] = built.to_dict()
        click.echo(json.dumps(payload, ensure_ascii=False))
    if not all(c.ok for c in changes) or (built is not None and not built.ok):
        sys.exit(1)


@utterances.command("build")
@click.option("--bot-id", required=True, help="The bot's id (its DRAFT version is built).")
@click.option("--locale-id", required=True)
@click.option("--region", help="AWS region (default: boto3's).")
@click.option("--profile", help="AWS profile (default: boto3's).")
@db_option
@config_option
@click.option("--who", help="Name for the audit (default: your user name).")
@server_option
@friendly
def utterances_build(
    bot_id: str,
    locale_id: str,
    region: str | None,
    profile: str | None,
    db: str | None,
    config: str | None,
    who: str | None,
    server: str | None,
) -> None:
    """Build the bot's DRAFT locale and wait for Built or Failed (audited)."""
    from lexboard.bots.curation import build_locale

    settings = _settings(config, db=db)
    owner = server_for(settings.db, server)
    if owner:
        spec = _bot_spec(None, bot_id, locale_id, region, profile)
        reply = call(owner, "/api/curation/build", body={"bot": spec, "who": who})
        out.print(Text(f"build {reply['status']}", style="green" if reply["ok"] else "bold red"))
        if not reply["ok"]:
            sys.exit(1)
        return
    backend = _curation_backend(None, bot_id, locale_id, region, profile)
    with open_store(settings.db) as store:
        built = build_locale(
            store, backend, who, on_status=lambda s: err.print(Text(f"build: {s}"))
        )
    out.print(Text(built.summary(), style="green" if built.ok else "bold red"))
    if not built.ok:
        sys.exit(1)


@utterances.command("audit")
@db_option
@config_option
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@server_option
@friendly
def utterances_audit(
    db: str | None, config: str | None, limit: int, fmt: str, server: str | None
) -> None:
    """Every curation attempt, newest first: who, when, what, where, and how it ended."""
    from lexboard.bots.curation import audit_entries

    settings = _settings(config, db=db)
    listing = _read(
        settings,
        server,
        lambda owner: call(owner, "/api/curation/audit", {"limit": limit}),
        lambda store: audit_entries(store, limit),
    )
    if fmt == "json":
        click.echo(json.dumps(listing, ensure_ascii=False))
        return
    table = Table(title=f"Curation audit ({listing['total']:,} entries)", title_justify="left")
    for column in ("id", "at (UTC)", "who", "bot", "intent", "utterance", "action", "result"):
        table.add_column(column, overflow="fold")
    for row in listing["rows"]:
        result = row["result"] + (f", undone by #{row['undone_by']}" if row["undone_by"] else "")
        if row["detail"]:
            result += f": {row['detail']}"
        table.add_row(
            str(row["id"]),
            Text(str(row["at"])[:19].replace("T", " ")),
            Text(row["who"]),
            Text(f"{row['backend']}:{row['bot']}/{row['locale']}"),
            Text(row["intent"] or ""),
            Text(json.dumps(row["utterance"], ensure_ascii=False) if row["utterance"] else ""),
            Text(row["action"]),
            Text(result),
        )
    out.print(table)


@utterances.command("undo")
@click.argument("audit_id", type=int, metavar="ID")
@db_option
@config_option
@click.option("--who", help="Name for the audit (default: your user name).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@server_option
@friendly
def utterances_undo(
    audit_id: int,
    db: str | None,
    config: str | None,
    who: str | None,
    fmt: str,
    server: str | None,
) -> None:
    """Remove an utterance lexboard added (audit entry ID); exit 1 if refused."""
    from lexboard.bots.curation import undo

    settings = _settings(config, db=db)
    owner = server_for(settings.db, server)
    if owner:
        change = _as_change(call(owner, "/api/curation/undo", body={"id": audit_id, "who": who}))
    else:
        with open_store(settings.db, create=False) as store:
            change = undo(store, audit_id, who)
    if fmt == "json":
        click.echo(json.dumps(change.to_dict(), ensure_ascii=False))
    else:
        _print_change(change)
    if not change.ok:
        sys.exit(1)


# --- config and demo -----------------------------------------------------------------


@cli.command("config")
@config_option
@friendly
def config_command(config: str | None) -> None:
    """Print the effective settings and where each comes from."""
    settings = _settings(config)
    table = Table(title="Settings", title_justify="left")
    for column in ("setting", "value", "from", "environment variable", "help"):
        table.add_column(column)
    for setting in SETTINGS:
        value = settings.values[setting.name]
        if setting.secret and value is not None:
            value = "(set)"  # a secret is never printed
        table.add_row(
            setting.name,
            Text(repr(value) if not isinstance(value, str) else value),
            Text(settings.origins[setting.name]),
            setting.env,
            setting.help,
        )
    out.print(table)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, show_default=True, type=click.IntRange(1, 65535))
@click.option("--db", "db", help="Demo store (default: a lexboard-demo folder in the temp dir).")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 400))
@click.option("--sessions-per-day", default=300, show_default=True, type=click.FloatRange(1))
@click.option(
    "--live-sessions-per-day",
    default=2880,
    show_default=True,
    type=click.FloatRange(0),
    help="Rate of the live traffic (2880 = 2 a minute).",
)
@click.option(
    "--interval",
    default=3.0,
    show_default=True,
    type=click.FloatRange(0.5),
    help="Seconds between live traffic batches.",
)
@click.option("--seed", default=7, show_default=True, type=int)
@friendly
def demo(
    host: str,
    port: int,
    db: str | None,
    days: int,
    sessions_per_day: float,
    live_sessions_per_day: float,
    interval: float,
    seed: int,
) -> None:
    """The sample bot, its history and a live dashboard: the whole product in one command."""
    import time
    from datetime import UTC, datetime

    from lexboard import demo as demo_lib
    from lexboard.server.app import create_app
    from lexboard.server.listen import listen, run

    if host not in LOOPBACK_HOSTS:
        raise ConfigError(f"the demo binds loopback only, not {host}", hint="use 127.0.0.1")
    sock = listen(host, port)  # before the history is built: a port in use says so now
    folder = Path(db).parent if db else demo_lib.default_demo_dir()
    files = demo_lib.prepare(folder, Path(db) if db else None)
    started = time.monotonic()
    now = datetime.now(UTC)
    with err.status(f"simulating {days} days of the sample bot's conversations…"):
        records = demo_lib.write_history(files, days, sessions_per_day, seed, now)
    settings = load_settings(
        flags={
            "db": str(files.db),
            "host": host,
            "port": port,
            "write_widgets": True,
            "sample_bot": True,
            "bot_export": str(files.bot),
        },
    )
    url = f"http://{host}:{port}"
    with sock, open_store(files.db) as store:
        source = expand(str(files.history))
        with IngestProgress(err, [source], quiet=False) as progress:
            ingest_sources(
                store,
                [(source.label, source.files)],
                "jsonl",
                0,
                "demo history",
                progress.run_file if progress.enabled else None,
            )
        err.print(
            Text(
                f"demo store {files.db}: {records:,} turns of {days} days, built in "
                f"{time.monotonic() - started:.1f} s; bot copy {files.bot}"
            )
        )
        traffic = demo_lib.SampleBotTraffic(
            files.bot, seed + 1, live_sessions_per_day, interval, start=now
        )
        app = create_app(settings, store=store, announce_url=url, sources=[traffic])
        err.print(
            Text(
                f"lexboard demo at {url}  (live traffic every {interval:g} s; Ctrl-C stops)",
                style="bold green",
            )
        )
        run(app, sock)


@cli.command()
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder to write."
)
@click.option("--days", default=30, show_default=True, type=click.IntRange(min=0), help="History.")
@click.option(
    "--sessions-per-day",
    default=300,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Average conversations a day (busier on weekday business hours).",
)
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same output.")
@click.option("--end", help="End of the history, ISO-8601 (default now): fixes the output.")
@click.option("--tz", default="America/New_York", show_default=True, help="Users' time zone.")
@click.option(
    "--format",
    "fmt",
    default="jsonl",
    show_default=True,
    type=click.Choice(LOG_FORMATS),
    help="One of the formats ingest reads (DESIGN decision 7).",
)
@click.option("--no-sentiment", is_flag=True, help="As if sentiment analysis were off.")
@click.option("--bot-export", help="Lex V2 export (dir or zip) to talk to (default: sample bot).")
@click.option("--follow", is_flag=True, help="Then append live traffic to OUT/live.jsonl.")
@click.option(
    "--interval",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0.05),
    help="Seconds between appends with --follow.",
)
@friendly
def sample(
    out_dir: str,
    days: int,
    sessions_per_day: float,
    seed: int,
    end: str | None,
    tz: str,
    fmt: str,
    no_sentiment: bool,
    bot_export: str | None,
    follow: bool,
    interval: float,
) -> None:
    """Write the sample bot's simulated traffic as Lex V2 conversation logs."""
    import time
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from lexboard.metrics.request import parse_instant, parse_zone
    from lexboard.sample.botdef import load_bot, sample_bot_dir
    from lexboard.sample.simulate import LiveTraffic, simulate_history
    from lexboard.sample.writers import append_jsonl, write_records

    zone = parse_zone(tz)
    bot_dir = Path(bot_export) if bot_export else sample_bot_dir()
    bot = load_bot(bot_dir)
    now = datetime.now(UTC)
    until = parse_instant(end, ZoneInfo(zone), "--end") if end else now
    until = until.replace(microsecond=until.microsecond // 1000 * 1000)
    since = until - timedelta(days=days)
    out = Path(out_dir)
    records = simulate_history(
        bot_dir, since, until, sessions_per_day, seed, sentiment=not no_sentiment, tz=zone
    )
    label = f"{seed}:{since.isoformat()}:{until.isoformat()}"
    written = write_records(records, out, fmt, label, bot.name)
    err.print(
        f"wrote {len(written.files):,} files, {written.records:,} records ({fmt}, {days} days "
        f"to {until.isoformat(timespec='seconds')}, seed {seed}) to {out}"
    )
    if not follow:
        return
    live_path = out / "live.jsonl"
    live = LiveTraffic(
        bot_dir,
        seed,
        sessions_per_day=sessions_per_day,
        tz=zone,
        sentiment=not no_sentiment,
        start=max(until, datetime.now(UTC)),
    )
    err.print(f"following: live traffic goes to {live_path} (Ctrl-C stops)")
    appended = 0
    try:
        while True:
            time.sleep(interval)
            appended += append_jsonl(live_path, live.poll(datetime.now(UTC)))
    except KeyboardInterrupt:
        err.print(f"stopped: {appended:,} live records appended to {live_path}")


def main() -> None:
    cli(prog_name="lexboard")
