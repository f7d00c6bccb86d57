"""The ``lexboard`` command: a thin layer over the library.

Every LexboardError becomes one line on stderr (plus its hint) and a non-zero exit;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial, wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from lexboard import __version__
from lexboard.config import SETTINGS, Settings, load_settings
from lexboard.errors import LexboardError, SourceError, StrictModeFailure
from lexboard.logs.formats import FORMATS as LOG_FORMATS
from lexboard.metrics import CATALOG, resolve_request, run_metric
from lexboard.output import FORMATS as OUTPUT_FORMATS
from lexboard.output import to_csv, to_json, to_table
from lexboard.sources.files import FileSource, expand
from lexboard.store import open_store
from lexboard.store.ingest import Ingestor, IngestSummary

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
@friendly
def ingest(
    paths: tuple[str, ...],
    db: str | None,
    config: str | None,
    fmt: str | None,
    strict: bool,
    retention_days: str | None,
    quiet: bool,
) -> None:
    """Read Lex V2 conversation logs (files, directories, globs) into the store."""
    settings = _settings(config, db=db, retention_days=retention_days)
    sources = [expand(path) for path in paths]
    with open_store(settings.db) as store:
        ingestor = Ingestor(store, settings.retention_days, command="ingest " + " ".join(paths))
        status = "failed"
        try:
            ingestor.apply_retention()
            _ingest_sources(ingestor, sources, fmt, quiet)
            status = "ok"
        finally:
            summary = ingestor.finish(status)
    if not quiet:
        _print_summary(summary)
    _judge(summary, sources, strict)


def _ingest_sources(
    ingestor: Ingestor, sources: list[FileSource], fmt: str | None, quiet: bool
) -> None:
    total_bytes = sum(_size(f) for s in sources for f in s.files)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[records]:,} records · {task.fields[rate]:,.0f}/s"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=quiet or not err.is_terminal,
    )
    with progress:
        task = progress.add_task("ingest", total=total_bytes, records=0, rate=0.0)
        done_bytes = 0

        def show(records: int, completed: int) -> None:
            elapsed = progress.tasks[0].elapsed or 1e-9
            progress.update(task, completed=completed, records=records, rate=records / elapsed)

        for source in sources:
            stats = ingestor.stats_for(source.label)
            for path in source.files:
                progress.update(task, description=_short(path))
                size = _size(path)
                work = partial(ingestor.ingest_file, path, stats, fmt)
                if progress.disable:
                    work()
                else:
                    before = ingestor.summary.total("read")
                    expected = _estimate_records(path, size)
                    report = _file_reporter(show, before, expected, done_bytes, size)
                    _with_query_progress(work, ingestor, report)
                done_bytes += size
                show(ingestor.summary.total("read"), done_bytes)


def _file_reporter(
    show: Callable[[int, int], None], records: int, expected: int, done: int, size: int
) -> Callable[[float], None]:
    """Scale one file's progress fraction to (records, bytes) of the whole run."""

    def report(fraction: float) -> None:
        show(records + int(expected * fraction), done + int(size * fraction))

    return report


def _with_query_progress(
    work: Callable[[], None], ingestor: Ingestor, report: Callable[[float], None]
) -> None:
    """Run ``work`` in a thread; meanwhile move the bar with DuckDB's own query progress."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(work)
        best = 0.0
        while True:
            try:
                future.result(timeout=0.2)
                return
            except FutureTimeout:
                fraction = ingestor.store.con.query_progress() / 100
                if 0 < fraction <= 1 and fraction > best:
                    best = fraction
                    report(best)


def _estimate_records(path: Path, size: int) -> int:
    """Records in a JSON Lines file, from the line length of its first 64 KB."""
    try:
        with path.open("rb") as handle:
            head = handle.read(65536)
    except OSError:
        return 0
    lines = head.count(b"\n")
    return int(size * lines / len(head)) if lines and not head.startswith(b"\x1f\x8b") else 0


def _short(path: Path) -> str:
    name = path.name
    return name if len(name) <= 32 else "…" + name[-31:]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


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


def _judge(summary: IngestSummary, sources: list[FileSource], strict: bool) -> None:
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
@friendly
def quarantine(db: str | None, config: str | None, limit: int, fmt: str) -> None:
    """List quarantined records: where they were and why they were refused."""
    settings = _settings(config, db=db)
    with open_store(settings.db, read_only=True) as store:
        total = store.fetchone("SELECT count(*) FROM quarantine")[0]
        rows = store.fetchall(
            "SELECT source, position, reason, raw_start FROM quarantine "
            "ORDER BY quarantined_at DESC, source, position LIMIT ?",
            [limit],
        )
    if fmt == "json":
        import orjson

        keys = ("source", "position", "reason", "raw_start")
        click.echo(
            orjson.dumps({"total": total, "rows": [dict(zip(keys, r, strict=True)) for r in rows]})
        )
        return
    table = Table(title=f"Quarantine ({total:,} records)", title_justify="left")
    for column in ("source", "position", "reason", "raw start"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text(str(v or "")[:80]) for v in row))
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
