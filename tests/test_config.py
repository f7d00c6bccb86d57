"""Settings: one table, three layers (file < environment < flags), errors that say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from lexboard.config import SETTINGS, load_settings
from lexboard.docs import configuration_md
from lexboard.errors import ConfigError


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(env={}, cwd=tmp_path)
    assert settings.retention_days == 0  # DESIGN: keep everything unless asked
    assert settings.host == "127.0.0.1" and settings.port == 8050 and settings.tz == "UTC"
    assert settings.sources == [] and settings.write_widgets is False
    assert set(settings.origins.values()) == {"default"}


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    (tmp_path / "lexboard.toml").write_text(
        'retention_days = 30\nbot_id = "FILEBOT"\nsources = ["a/", "b/"]\nport = 9000\n'
    )
    env = {"LEXBOARD_RETENTION_DAYS": "60", "LEXBOARD_SOURCES": "x, y", "LEXBOARD_PORT": "9100"}
    settings = load_settings(env=env, cwd=tmp_path, flags={"port": "9200"})
    assert settings.bot_id == "FILEBOT"
    assert settings.origins["bot_id"] == str(tmp_path / "lexboard.toml")
    assert settings.retention_days == 60
    assert settings.origins["retention_days"] == "environment LEXBOARD_RETENTION_DAYS"
    assert settings.sources == ["x", "y"]
    assert settings.port == 9200 and settings.origins["port"] == "flag --port"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LEXBOARD_RETENTION_DAYS": "ninety"}, "retention_days = 'ninety' from environment"),
        ({"LEXBOARD_RETENTION_DAYS": "-1"}, "integer ≥ 0"),
        ({"LEXBOARD_WRITE_WIDGETS": "maybe"}, "true, false, 1 or 0"),
        ({"LEXBOARD_LOG_LEVEL": "LOUD"}, "DEBUG, INFO, WARNING, ERROR"),
        ({"LEXBOARD_TZ": "Mars/Olympus"}, "IANA time zone"),
        ({"LEXBOARD_PORT": "70000"}, "port number"),
    ],
)
def test_bad_values_name_setting_origin_and_allowed(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env, cwd=tmp_path)


def test_bad_file(tmp_path: Path) -> None:
    config = tmp_path / "lexboard.toml"
    config.write_text("retention_days = 'x'\n")
    with pytest.raises(ConfigError, match=str(config)):
        load_settings(env={}, cwd=tmp_path)
    config.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="unknown setting 'colour'") as info:
        load_settings(env={}, cwd=tmp_path)
    assert "retention_days" in (info.value.hint or "")
    config.write_text("retention_days = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(env={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml", env={})


def test_cli_config_shows_values_and_sources(tmp_path: Path, lexboard) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "lexboard.toml").write_text('tz = "Europe/Paris"\n')
    result = lexboard("config", cwd=tmp_path, env={"LEXBOARD_BOT_ID": "B1", "COLUMNS": "250"})
    assert result.returncode == 0, result.stderr
    lines = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "Europe/Paris" in lines["tz"] and "lexboard.toml" in lines["tz"]
    assert "B1" in lines["bot_id"] and "environment LEXBOARD_BOT_ID" in lines["bot_id"]
    assert "default" in lines["retention_days"]
    bad = lexboard("config", cwd=tmp_path, env={"LEXBOARD_PORT": "x"})
    assert bad.returncode == 2
    assert bad.stderr.startswith("Error: port = 'x' from environment LEXBOARD_PORT")
    assert "Traceback" not in bad.stderr


def test_every_setting_is_documented() -> None:
    text = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
    assert text == configuration_md(), "docs/configuration.md is stale: run make docs"
    for setting in SETTINGS:
        assert f"`{setting.name}`" in text and setting.env in text
