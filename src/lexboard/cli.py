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
from lexboard.owner import call, server_for
from lexboard.progress import IngestProgress
from lexboard.sources.files import expand
from lexboard.store import open_store
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
    owner = server_for(settings.db, server)
    if owner:
        listing = call(owner, "/api/quarantine", {"limit": limit})
    else:
        with open_store(settings.db, read_only=True) as store:
            listing = quarantine_entries(store, limit)
    if fmt == "json":
        click.echo(json.dumps(listing))
        return
    table = Table(title=f"Quarantine ({listing['total']:,} records)", title_justify="left")
    for column in ("source", "position", "reason", "raw_start"):
        table.add_column(column, overflow="fold")
    for row in listing["rows"]:
        table.add_row(*(Text(str(row[c] or "")[:80]) for c in row))
    out.print(table)


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
    owner = server_for(settings.db, server)
    if owner:
        query = {"from": request.echo()["from"], "to": request.echo()["to"], "tz": request.tz}
        query.update({k: v for k, v in request.filters.items() if v is not None})
        query.update({k: v for k, v in parsed.items()})
        result = Result(**call(owner, f"/api/metrics/{metric_id}", query))
    else:
        with open_store(settings.db, read_only=True) as store:
            result = run_metric(store, request)
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
@click.option("--source", "sources", multiple=True, help="Logs to ingest at start (repeatable).")
@friendly
def serve(
    db: str | None,
    config: str | None,
    host: str | None,
    port: str | None,
    sources: tuple[str, ...],
) -> None:
    """Serve the API and dashboard over the store (which this process then owns)."""
    settings = _settings(config, db=db, host=host, port=port, sources=sources)
    from lexboard.server.auth import Authenticator

    auth = Authenticator(settings.extra.get("auth"), str(settings.config_file))
    if settings.host not in LOOPBACK_HOSTS and not auth.configured:
        raise ConfigError(
            f"host = {settings.host} ({settings.origins['host']}) is not a loopback address "
            "and no authentication is configured",
            hint="bind 127.0.0.1, or configure [auth] users in lexboard.toml",
        )
    import uvicorn

    from lexboard.server.app import create_app

    url = f"http://{settings.host}:{settings.port}"
    with open_store(settings.db) as store:
        if settings.sources:
            found = [expand(path) for path in settings.sources]
            summary = ingest_sources(
                store,
                [(s.label, s.files) for s in found],
                None,
                settings.retention_days,
                "serve --source",
            )
            _print_summary(summary)
        app = create_app(settings, store=store, announce_url=url)
        err.print(Text(f"lexboard serving {settings.db} at {url}  (Ctrl-C stops)"))
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


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
    owner = server_for(settings.db, server)
    if owner:
        page = build_report(from_server(owner), start, end, tz or settings.tz, filters)
    else:
        with open_store(settings.db, read_only=True) as store:
            page = build_report(from_store(store), start, end, tz or settings.tz, filters)
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
        table.add_row(
            setting.name,
            Text(repr(value) if not isinstance(value, str) else value),
            Text(settings.origins[setting.name]),
            setting.env,
            setting.help,
        )
    out.print(table)


@cli.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8050, type=int)
@click.option("--db", "db")
@friendly
def demo(host: str, port: int, db: str | None) -> None:
    """The sample bot, its history and a live dashboard (arrives with the sample-bot issue)."""
    err.print(
        "lexboard demo: not yet. The sample bot and dashboard land with issues 4 and 5; "
        "meanwhile try `lexboard ingest tests/cases/good` and `lexboard metrics summary`."
    )
    sys.exit(3)


def main() -> None:
    cli(prog_name="lexboard")
