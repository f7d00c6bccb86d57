"""Settings: one table feeds validation, `lexboard config`, the CLI help and docs.

Precedence: flags > ``LEXBOARD_*`` environment > ``lexboard.toml`` (``--config`` or
``./lexboard.toml`` when present) > defaults. Every value remembers where it came from.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lexboard.errors import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _as_str(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a non-empty string")
    return value.strip()


def _as_optional_str(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _as_str(value)


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "false", "0"):
        return value.strip().lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError("true, false, 1 or 0")


def _as_count(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("an integer ≥ 0")
    try:
        number = int(value.strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ValueError("an integer ≥ 0") from None
    if number < 0 or (not isinstance(value, str) and number != value):
        raise ValueError("an integer ≥ 0")
    return number


def _as_port(value: Any) -> int:
    number = _as_count(value)
    if not 1 <= number <= 65535:
        raise ValueError("a port number from 1 to 65535")
    return number


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return [part.strip() for part in value if part.strip()]
    raise ValueError("a list of strings (comma-separated in the environment)")


def _as_log_level(value: Any) -> str:
    if isinstance(value, str) and value.strip().upper() in LOG_LEVELS:
        return value.strip().upper()
    raise ValueError("one of " + ", ".join(LOG_LEVELS))


def _as_tz(value: Any) -> str:
    name = _as_str(value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("an IANA time zone name such as UTC or America/New_York") from None
    return name


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    parse: Callable[[Any], Any]
    kind: str
    help: str
    sample_parameter: str | None = None
    secret: bool = False  # never printed (lexboard config shows whether it is set)

    @property
    def env(self) -> str:
        return "LEXBOARD_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS: tuple[Setting, ...] = (
    Setting("db", "lexboard.duckdb", _as_str, "path", "The DuckDB store file."),
    Setting(
        "sources",
        [],
        _as_list,
        "list",
        "Where logs come from: paths, globs, cloudwatch://GROUP, s3://BUCKET/PREFIX.",
        "LexConversationLogGroupName",
    ),
    Setting(
        "bot_id",
        None,
        _as_optional_str,
        "string",
        "Bot preselected in the dashboard's filter (the store holds every bot).",
        "BotId",
    ),
    Setting(
        "locale_id",
        None,
        _as_optional_str,
        "string",
        "Locale preselected in the dashboard's filter; metrics without a filter cover all.",
        "BotLocaleId",
    ),
    Setting(
        "sample_bot",
        False,
        _as_bool,
        "bool",
        "Run the sample bot's simulated traffic (lexboard demo turns it on).",
        "ShouldDeploySampleBots",
    ),
    Setting(
        "write_widgets",
        False,
        _as_bool,
        "bool",
        "Offer the write widget that adds missed utterances to an intent.",
        "ShouldAddWriteWidgets",
    ),
    Setting(
        "log_level", "INFO", _as_log_level, "choice", "DEBUG, INFO, WARNING or ERROR.", "LogLevel"
    ),
    Setting(
        "retention_days",
        0,
        _as_count,
        "int",
        "Keep turns this many days back from now; 0 keeps everything.",
        "LogRetentionInDays",
    ),
    Setting(
        "bot_export",
        None,
        _as_optional_str,
        "path",
        "Lex export (folder or .zip) the write widgets add utterances to; without it they "
        "use bot_id and locale_id through the Lex V2 Models API.",
    ),
    Setting("host", "127.0.0.1", _as_str, "string", "Address the server binds."),
    Setting("port", 8050, _as_port, "int", "Port the server listens on."),
    Setting(
        "ssl_certfile",
        None,
        _as_optional_str,
        "path",
        "lexboard serve: TLS certificate (PEM, with its chain); with ssl_keyfile the server "
        "speaks HTTPS.",
    ),
    Setting(
        "ssl_keyfile", None, _as_optional_str, "path", "lexboard serve: the TLS private key (PEM)."
    ),
    Setting("tz", "UTC", _as_tz, "tz", "Default IANA time zone for buckets, hours and weekdays."),
    Setting(
        "follow",
        False,
        _as_bool,
        "bool",
        "lexboard serve: follow path sources (appended lines, new files, rotation) "
        "instead of reading them once at start.",
    ),
    Setting(
        "firehose_access_key",
        None,
        _as_optional_str,
        "string",
        "Enables POST /ingest/firehose: the access key Kinesis Data Firehose sends "
        "(X-Amz-Firehose-Access-Key). Not a user login. Secret: prefer the environment.",
        secret=True,
    ),
)

SETTINGS_BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}
DEFAULT_CONFIG_FILE = "lexboard.toml"


@dataclass
class Settings:
    values: dict[str, Any]
    origins: dict[str, str]
    config_file: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(name)


def _parse(setting: Setting, raw: Any, origin: str) -> Any:
    try:
        return setting.parse(raw)
    except ValueError as exc:
        raise ConfigError(
            f"{setting.name} = {'(secret)' if setting.secret else repr(raw)} from {origin} "
            f"is not valid: expected {exc}",
            hint=setting.help,
        ) from None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def load_settings(
    config: str | Path | None = None,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve every setting; raise ConfigError naming the setting and its origin."""
    env = os.environ if env is None else env
    flags = flags or {}
    values = {s.name: s.parse(s.default) if s.default is not None else None for s in SETTINGS}
    origins = dict.fromkeys(values, "default")

    config_path: Path | None
    if config is not None:
        config_path = Path(config)
    else:
        candidate = (cwd or Path.cwd()) / DEFAULT_CONFIG_FILE
        config_path = candidate if candidate.is_file() else None
    extra: dict[str, Any] = {}
    if config_path is not None:
        for key, raw in _read_file(config_path).items():
            if isinstance(raw, dict):
                extra[key] = raw  # sections such as [auth] belong to their own modules
                continue
            setting = SETTINGS_BY_NAME.get(key)
            if setting is None:
                raise ConfigError(
                    f"unknown setting {key!r} in {config_path}",
                    hint="known settings: " + ", ".join(SETTINGS_BY_NAME),
                )
            values[key] = _parse(setting, raw, str(config_path))
            origins[key] = str(config_path)

    for setting in SETTINGS:
        if setting.env in env:
            origin = f"environment {setting.env}"
            values[setting.name] = _parse(setting, env[setting.env], origin)
            origins[setting.name] = origin

    for name, raw in flags.items():
        if raw is None or (isinstance(raw, tuple | list) and not raw):
            continue
        setting = SETTINGS_BY_NAME[name]
        origin = f"flag {setting.flag}"
        values[name] = _parse(setting, list(raw) if isinstance(raw, tuple) else raw, origin)
        origins[name] = origin

    return Settings(values=values, origins=origins, config_file=config_path, extra=extra)
