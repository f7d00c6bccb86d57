"""Authentication and roles over HTTP: [auth] users (Basic) and tokens (Bearer)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lexboard.errors import ConfigError
from lexboard.server.auth import Authenticator, hash_secret, verify_secret
from tests.conftest import run_lexboard, write_jsonl
from tests.records import lex_record
from tests.server import running_server

EDITOR_PASSWORD = "correct horse battery"
VIEWER_TOKEN = "viewer-token-0123456789"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    root = tmp_path_factory.mktemp("auth")
    config = root / "lexboard.toml"
    config.write_text(
        "[[auth.users]]\n"
        'name = "ana"\nrole = "editor"\n'
        f'password_hash = "{hash_secret(EDITOR_PASSWORD)}"\n'
        "[[auth.tokens]]\n"
        'name = "wallboard"\nrole = "viewer"\n'
        f'token_hash = "{hash_secret(VIEWER_TOKEN)}"\n'
    )
    db = root / "store.duckdb"
    logs = write_jsonl(root / "l.jsonl", [lex_record(ts="2026-11-02T10:00:00.000Z")])
    assert run_lexboard("ingest", str(logs), "--db", str(db)).returncode == 0
    with running_server(db, "--config", str(config)) as url:
        yield url, db, root


def test_requests_need_credentials(secured: tuple[str, Path, Path]) -> None:
    url, _, _ = secured
    assert httpx.get(url + "/healthz").status_code == 200
    anonymous = httpx.get(url + "/api/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert anonymous.json()["error"] == "authentication required"
    assert httpx.get(url + "/", auth=("ana", "wrong")).status_code == 401
    assert httpx.get(url + "/", auth=("bob", EDITOR_PASSWORD)).status_code == 401
    assert httpx.get(url + "/", auth=("ana", EDITOR_PASSWORD)).status_code == 200
    bearer = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
    assert httpx.get(url + "/api/metrics/summary", headers=bearer).status_code == 200
    assert (
        httpx.get(url + "/api/status", headers={"Authorization": "Bearer nope"}).status_code == 401
    )


def test_roles(secured: tuple[str, Path, Path]) -> None:
    url, _, root = secured
    body = {"sources": [["x", [str(root / "l.jsonl")]]]}
    viewer = httpx.post(
        url + "/api/ingest", json=body, headers={"Authorization": f"Bearer {VIEWER_TOKEN}"}
    )
    assert viewer.status_code == 403 and "editor" in viewer.json()["error"]
    editor = httpx.post(url + "/api/ingest", json=body, auth=("ana", EDITOR_PASSWORD))
    assert editor.status_code == 200 and editor.json()["sources"][0]["duplicate"] == 1


def test_local_commands_use_the_owner_token(secured: tuple[str, Path, Path]) -> None:
    _, db, _ = secured
    result = run_lexboard(
        "metrics",
        "summary",
        "--db",
        str(db),
        "--from",
        "2026-11-02",
        "--to",
        "2026-11-03",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows"][0][0] == 1
    assert (db.parent / (db.name + ".server.json")).stat().st_mode & 0o077 == 0


def test_hashes_and_config_errors() -> None:
    stored = hash_secret("s3cret-pass")
    assert verify_secret("s3cret-pass", stored) and not verify_secret("other", stored)
    assert stored != hash_secret("s3cret-pass")  # salted
    with pytest.raises(ConfigError, match="role 'admin'"):
        Authenticator({"users": [{"name": "x", "role": "admin", "password_hash": stored}]})
    with pytest.raises(ConfigError, match="must be a scrypt hash") as info:
        Authenticator({"users": [{"name": "x", "password_hash": "plain"}]})
    assert "lexboard auth hash-password" in (info.value.hint or "")


def test_cli_hash_password_snippet_round_trips(tmp_path: Path) -> None:
    import subprocess
    import sys
    import tomllib

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lexboard",
            "auth",
            "hash-password",
            "--name",
            "eve",
            "--role",
            "editor",
        ],
        input="long enough pw\n",
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    entry = tomllib.loads(result.stdout)["auth"]["users"][0]
    assert entry["name"] == "eve" and verify_secret("long enough pw", entry["password_hash"])
