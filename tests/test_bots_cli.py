"""``lexboard utterances``: the real command on a real DuckDB file and a real export."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import CASES, run_lexboard, write_jsonl
from tests.records import lex_record

PIZZA = CASES / "bots" / "PizzaOrders-DRAFT-LexJson"
ORDER = "PizzaOrders/BotLocales/en_US/Intents/OrderPizza/Intent.json"
SAMPLE = Path(__file__).resolve().parents[1] / "src" / "lexboard" / "sample" / "bot"
NO_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def _missed(text: str, minute: int, session: str, bot_id: str = "PZZORD3R01") -> dict:  # type: ignore[type-arg]
    return lex_record(
        ts=f"2026-11-02T10:{minute:02d}:00.000Z",
        session_id=session,
        bot_id=bot_id,
        bot_name="PizzaOrders",
        transcript=text,
        intent="FallbackIntent",
        state="ReadyForFulfillment",
        missed=True,
        confidence=None,
    )


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    export = tmp_path / "export"
    shutil.copytree(PIZZA, export)
    db = tmp_path / "store.duckdb"
    logs = write_jsonl(
        tmp_path / "logs.jsonl",
        [
            _missed("a calzone please", 1, "s1"),
            _missed("a calzone please", 2, "s2"),
            _missed("a calzone please", 3, "s2"),
            _missed("pizza please", 4, "s3"),
            _missed("do you deliver", 5, "s4"),
        ],
    )
    done = run_lexboard("ingest", str(logs), "--db", str(db), "--quiet")
    assert done.returncode == 0, done.stderr
    return export, db


WINDOW = ["--from", "2026-11-02", "--to", "2026-11-03"]


def test_list_add_audit_undo(setup: tuple[Path, Path], tmp_path: Path) -> None:
    export, db = setup
    bot = ["--bot-export", str(export), "--locale-id", "en_US"]
    listed = run_lexboard(
        "utterances", "list-missed", "--db", str(db), *WINDOW, *bot, "--format", "json"
    )
    assert listed.returncode == 0, listed.stderr
    result = json.loads(listed.stdout)
    assert [(r[0], r[1], r[2]) for r in result["rows"]] == [
        ("a calzone please", 3, 2),
        ("do you deliver", 1, 1),
    ]
    table = run_lexboard("utterances", "list-missed", "--db", str(db), *WINDOW, *bot)
    assert table.returncode == 0 and "a calzone please" in table.stdout

    original = (export / ORDER).read_bytes()
    added = run_lexboard(
        "utterances", "add", "--db", str(db), "--intent", "OrderPizza", *bot,
        "--who", "ana", "a calzone please", "Pizza  Please", "{size} one",
    )  # fmt: skip
    assert added.returncode == 1, added.stderr
    lines = added.stdout.splitlines()
    assert lines == [
        'added    #1  OrderPizza  "a calzone please"',
        'refused  #2  OrderPizza  "Pizza Please"  already a sample utterance of intent OrderPizza',
        'refused  #3  OrderPizza  "{size} one"  obfuscated: contains the slot placeholder '
        "{size} (slot obfuscation hides what the user said)",
    ]
    relisted = run_lexboard(
        "utterances", "list-missed", "--db", str(db), *WINDOW, *bot, "--format", "json"
    )
    assert [r[0] for r in json.loads(relisted.stdout)["rows"]] == ["do you deliver"]

    audit = run_lexboard("utterances", "audit", "--db", str(db), "--format", "json")
    assert audit.returncode == 0, audit.stderr
    listing = json.loads(audit.stdout)
    assert listing["total"] == 3
    first = listing["rows"][-1]
    assert (first["id"], first["who"], first["result"], first["utterance"]) == (
        1,
        "ana",
        "added",
        "a calzone please",
    )
    assert first["undoable"] is True

    undone = run_lexboard("utterances", "undo", "1", "--db", str(db), "--who", "bo")
    assert undone.returncode == 0, undone.stderr
    assert undone.stdout.startswith('undone   #4  OrderPizza  "a calzone please"')
    assert (export / ORDER).read_bytes() == original
    twice = run_lexboard("utterances", "undo", "1", "--db", str(db))
    assert twice.returncode == 1
    assert "entry 1 was undone already (entry 4)" in twice.stdout
    unknown = run_lexboard("utterances", "undo", "42", "--db", str(db))
    assert unknown.returncode == 2
    assert unknown.stderr.splitlines()[0] == "Error: no audit entry 42"

    shown = run_lexboard("utterances", "audit", "--db", str(db), env={"COLUMNS": "250"})
    assert shown.returncode == 0
    assert "Curation audit (5 entries)" in shown.stdout and "undone by #4" in shown.stdout


def test_zip_export_and_json_output(setup: tuple[Path, Path], tmp_path: Path) -> None:
    export, db = setup
    archive = shutil.make_archive(str(tmp_path / "pizza"), "zip", export)
    done = run_lexboard(
        "utterances", "add", "--db", str(db), "--intent", "StoreHours",
        "--bot-export", archive, "--locale-id", "en_US", "--format", "json", "when do you open",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [result] = json.loads(done.stdout)["results"]
    assert (result["result"], result["utterance"]) == ("added", "when do you open")
    audit = json.loads(
        run_lexboard("utterances", "audit", "--db", str(db), "--format", "json").stdout
    )
    assert audit["rows"][0]["location"] == archive


@pytest.mark.skipif(not SAMPLE.exists(), reason="no sample bot")
def test_the_sample_bot_export(tmp_path: Path) -> None:
    export = tmp_path / "bot"
    shutil.copytree(SAMPLE, export)
    db = tmp_path / "store.duckdb"
    done = run_lexboard(
        "utterances", "add", "--db", str(db), "--intent", "CheckBalance",
        "--bot-export", str(export), "how much cash have i got", "check my balance",
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == 'added    #1  CheckBalance  "how much cash have i got"'
    assert "already a sample utterance of intent CheckBalance" in done.stdout
    assert run_lexboard("utterances", "undo", "1", "--db", str(db)).returncode == 0
    assert (
        export / "BankingBot/BotLocales/en_US/Intents/CheckBalance/Intent.json"
    ).read_bytes() == (
        SAMPLE / "BankingBot/BotLocales/en_US/Intents/CheckBalance/Intent.json"
    ).read_bytes()


def test_a_store_owned_by_a_server_is_curated_through_it(setup: tuple[Path, Path]) -> None:
    """DESIGN 1: while a server owns the store, the commands go through its API."""
    from tests.server import running_server

    export, db = setup
    bot = ["--bot-export", str(export), "--locale-id", "en_US"]
    with running_server(db) as url:  # write_widgets off: reads work, writes do not exist
        listing = run_lexboard(
            "utterances", "list-missed", *bot, "--db", str(db), "--format", "json"
        )
        assert listing.returncode == 0, listing.stderr
        assert json.loads(listing.stdout)["metric"] == "missed_utterances"
        refused = run_lexboard(
            "utterances", "add", "--intent", "OrderPizza", *bot, "a calzone please", "--db", str(db)
        )
        assert refused.returncode == 2
        assert "curation writes are off" in refused.stderr
        assert url
    with running_server(db, env={"LEXBOARD_WRITE_WIDGETS": "true"}):
        added = run_lexboard(
            "utterances",
            "add",
            "--intent",
            "OrderPizza",
            *bot,
            "a calzone please",
            "--db",
            str(db),
            "--who",
            "cli-user",
            "--format",
            "json",
        )
        assert added.returncode == 0, added.stderr
        result = json.loads(added.stdout)["results"][0]
        assert result["result"] == "added"
        assert b"a calzone please" in (export / ORDER).read_bytes()
        audit = json.loads(
            run_lexboard("utterances", "audit", "--db", str(db), "--format", "json").stdout
        )
        assert audit["rows"][0]["who"] == "cli-user"
        undone = run_lexboard("utterances", "undo", str(result["id"]), "--db", str(db))
        assert undone.returncode == 0, undone.stderr
    assert b"a calzone please" not in (export / ORDER).read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "--intent", "X", "hello"], "Error: say which bot: --bot-export PATH, or --bot-id "
         "ID --locale-id L"),
        (["add", "--intent", "OrderPizza", "--bot-export", "EXPORT", "--locale-id", "en_US",
          "--build", "hello"],
         "Error: --build needs the Models API (--bot-id); an export is not built"),
        (["list-missed", "--bot-export", "EXPORT"],
         "Error: EXPORT_PATH holds locales en_US, fr_FR; pick one"),
        (["list-missed", "--bot-id", "BOT1"], "Error: a locale id is needed with --bot-id"),
    ],
)  # fmt: skip
def test_usage_errors_are_one_line(setup: tuple[Path, Path], args: list[str], message: str) -> None:
    export, db = setup
    args = [str(export) if a == "EXPORT" else a for a in args]
    done = run_lexboard("utterances", *args, "--db", str(db), env=NO_AWS)
    assert done.returncode == 2, done.stdout
    assert done.stderr.splitlines()[0] == message.replace("EXPORT_PATH", str(export))


def test_unreachable_api_is_one_line(setup: tuple[Path, Path]) -> None:
    _, db = setup
    env = {**NO_AWS, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    done = run_lexboard(
        "utterances", "list-missed", "--db", str(db), "--bot-id", "BOTID12345",
        "--locale-id", "en_US", env=env,
    )  # fmt: skip
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("Error: cannot reach the Lex V2 Models API for lex:ListIntents: ")
