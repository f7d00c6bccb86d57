"""Curation's rules, batch results, audit and undo (library level, real store, real export)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lexboard.bots.curation import (
    MAX_UTTERANCES_PER_INTENT,
    add_utterances,
    audit_entries,
    list_missed,
    open_backend,
    plan_additions,
    undo,
)
from lexboard.bots.export import LexExport
from lexboard.errors import BotError
from lexboard.store import Store, open_store
from lexboard.store.ingest import ingest_sources
from tests.conftest import CASES, write_jsonl
from tests.records import lex_record

PIZZA = CASES / "bots" / "PizzaOrders-DRAFT-LexJson"
ORDER = "PizzaOrders/BotLocales/en_US/Intents/OrderPizza/Intent.json"


@pytest.fixture
def export(tmp_path: Path) -> LexExport:
    root = tmp_path / "export"
    shutil.copytree(PIZZA, root)
    return LexExport(root, "en_US")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "store.duckdb") as s:
        yield s


def _results(changes: list) -> list[tuple[str, str | None]]:  # type: ignore[type-arg]
    return [(c.result, c.detail) for c in changes]


@pytest.mark.parametrize(
    ("utterance", "reason"),
    [
        ("", "empty utterance"),
        ("   \t ", "empty utterance"),
        ("x" * 501, "longer than 500 characters (501)"),
        (
            "I want a {size} pizza",
            "obfuscated: contains the slot placeholder {size} "
            "(slot obfuscation hides what the user said)",
        ),
        ("a pizza {", "contains a brace, which Lex reads as a slot reference"),
        ("a pizza\x1b[31m now", "contains control characters"),
        ("PIZZA   please", "already a sample utterance of intent OrderPizza"),
    ],
)
def test_each_refusal_reason(export: LexExport, store: Store, utterance: str, reason: str) -> None:
    before = (export.path / ORDER).read_bytes()
    [change] = add_utterances(store, export, "OrderPizza", [utterance], "ana")
    assert (change.result, change.detail) == ("refused", reason)
    assert (export.path / ORDER).read_bytes() == before


def test_exactly_500_characters_is_accepted(export: LexExport, store: Store) -> None:
    [change] = add_utterances(store, export, "OrderPizza", ["y" * 500], "ana")
    assert change.result == "added"


def test_fallback_intent_takes_nothing(export: LexExport, store: Store) -> None:
    [change] = add_utterances(store, export, "FallbackIntent", ["what a nice day"], "ana")
    assert change.result == "refused"
    assert change.detail == (
        "FallbackIntent is the fallback intent, which takes no sample utterances"
    )


def test_duplicate_names_the_intent_that_has_it(export: LexExport, store: Store) -> None:
    [change] = add_utterances(store, export, "StoreHours", ["Can I  get a PIZZA"], "ana")
    assert change.detail == "already a sample utterance of intent OrderPizza"


def test_unknown_intent_is_refused_with_the_list(export: LexExport, store: Store) -> None:
    [change] = add_utterances(store, export, "OrderPasta", ["pasta please"], "ana")
    assert change.result == "refused"
    assert (
        change.detail == "no intent 'OrderPasta' (intents: FallbackIntent, OrderPizza, StoreHours)"
    )


def test_a_batch_gives_one_result_each_and_bad_items_block_nothing(
    export: LexExport, store: Store
) -> None:
    changes = add_utterances(
        store,
        export,
        "OrderPizza",
        ["a large margherita", "{size} pizza", "pizza please", "A  large MARGHERITA", "two pizzas"],
        "ana",
    )
    assert _results(changes) == [
        ("added", None),
        (
            "refused",
            "obfuscated: contains the slot placeholder {size} (slot obfuscation hides what the "
            "user said)",
        ),
        ("refused", "already a sample utterance of intent OrderPizza"),
        ("refused", "already a sample utterance of intent OrderPizza (earlier in this batch)"),
        ("added", None),
    ]
    [order] = [i for i in export.intents() if i.name == "OrderPizza"]
    assert order.utterances[-2:] == ("a large margherita", "two pizzas")
    listing = audit_entries(store)
    assert listing["total"] == 5
    assert [r["result"] for r in reversed(listing["rows"])] == [
        "added",
        "refused",
        "refused",
        "refused",
        "added",
    ]
    row = listing["rows"][0]
    assert (row["who"], row["backend"], row["bot"], row["locale"], row["intent"]) == (
        "ana",
        "export",
        "PZZORD3R01",
        "en_US",
        "OrderPizza",
    )
    assert row["location"] == str(export.path) and row["action"] == "add" and row["undoable"]


def _with_count(export: LexExport, count: int) -> None:
    path = export.path / ORDER
    data = json.loads(path.read_text())
    data["sampleUtterances"] = [{"utterance": f"pizza number {n}"} for n in range(count)]
    path.write_text(json.dumps(data, indent=4))


def test_warns_near_the_limit_and_refuses_at_it(export: LexExport, store: Store) -> None:
    _with_count(export, 1398)
    changes = add_utterances(store, export, "OrderPizza", ["one more", "and another"], "ana")
    assert _results(changes) == [
        ("added", None),
        ("added", "warning: intent OrderPizza now has 1,400 of 1,500 sample utterances"),
    ]
    _with_count(export, MAX_UTTERANCES_PER_INTENT - 1)
    changes = add_utterances(store, export, "OrderPizza", ["the last one", "too many"], "ana")
    assert _results(changes) == [
        ("added", "warning: intent OrderPizza now has 1,500 of 1,500 sample utterances"),
        ("refused", "intent OrderPizza already has 1,500 sample utterances (Lex's limit is 1,500)"),
    ]


def test_plan_is_pure_and_cleans_whitespace(export: LexExport) -> None:
    plan = plan_additions(export.intents(), "StoreHours", ["  when   do you\topen "])
    assert plan == [("when do you open", None, None)]


def test_undo_once_and_only_what_lexboard_added(export: LexExport, store: Store) -> None:
    original = (export.path / ORDER).read_bytes()
    added, refused = add_utterances(store, export, "OrderPizza", ["pizza now", "pizza please"])
    change = undo(store, int(added.id or 0), "bo")
    assert (change.result, change.action) == ("undone", "undo")
    assert (export.path / ORDER).read_bytes() == original
    again = undo(store, int(added.id or 0), "bo")
    assert (again.result, again.detail) == (
        "refused",
        f"entry {added.id} was undone already (entry {change.id})",
    )
    not_added = undo(store, int(refused.id or 0), "bo")
    assert (not_added.result, not_added.detail) == (
        "refused",
        f"entry {refused.id} added nothing (it was refused)",
    )
    of_an_undo = undo(store, int(change.id or 0), "bo")
    assert of_an_undo.detail == f"entry {change.id} is an undo, not an addition"
    with pytest.raises(BotError, match="no audit entry 999"):
        undo(store, 999, "bo")
    rows = {r["id"]: r for r in audit_entries(store)["rows"]}
    assert rows[int(added.id or 0)]["undone_by"] == change.id
    assert not rows[int(added.id or 0)]["undoable"]
    assert rows[int(change.id or 0)]["undoes"] == added.id
    assert rows[int(change.id or 0)]["who"] == "bo"


def test_undo_after_someone_removed_it_by_hand(export: LexExport, store: Store) -> None:
    [added] = add_utterances(store, export, "StoreHours", ["are you open on sunday"], "ana")
    export.remove_utterance("StoreHours", "are you open on sunday")
    change = undo(store, int(added.id or 0), "ana")
    assert (change.result, change.detail) == (
        "refused",
        "intent StoreHours no longer has this sample utterance",
    )


def test_backend_failure_marks_the_batch_failed(
    export: LexExport, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(intent: str, utterances: object) -> None:
        raise BotError("cannot write /x/Intent.json: Read-only file system")

    monkeypatch.setattr(export, "add_utterances", broken)
    changes = add_utterances(store, export, "OrderPizza", ["pizza tonight", "{size}"], "ana")
    assert [c.result for c in changes] == ["failed", "refused"]
    assert changes[0].detail == "cannot write /x/Intent.json: Read-only file system"
    assert [r["result"] for r in audit_entries(store)["rows"]] == ["refused", "failed"]


def test_open_backend_needs_exactly_one_bot(tmp_path: Path) -> None:
    with pytest.raises(BotError, match="say which bot"):
        open_backend()
    with pytest.raises(BotError, match="say which bot"):
        open_backend(bot_export=PIZZA, bot_id="X")
    with pytest.raises(BotError, match="a locale id is needed"):
        open_backend(bot_id="BOT1", region="us-east-1")


def test_list_missed_leaves_out_what_the_bot_has(
    tmp_path: Path, export: LexExport, store: Store
) -> None:
    def missed(text: str, n: int, session: str) -> dict:  # type: ignore[type-arg]
        return lex_record(
            ts=f"2026-11-02T10:{n:02d}:00.000Z",
            session_id=session,
            bot_id="PZZORD3R01",
            bot_name="PizzaOrders",
            transcript=text,
            intent="FallbackIntent",
            state="ReadyForFulfillment",
            missed=True,
            confidence=None,
        )

    records = [
        missed("a calzone please", 1, "s1"),
        missed("A calzone please", 2, "s2"),
        missed("Pizza please", 3, "s3"),  # the bot has it
        missed("do you deliver", 4, "s3"),
        missed("my card ending {cardLastFour}", 5, "s4"),
        lex_record(
            ts="2026-11-02T10:06:00.000Z",
            bot_id="OTHERBOT01",
            transcript="elsewhere",
            missed=True,
            intent="FallbackIntent",
            confidence=None,
        ),
    ]
    log = write_jsonl(tmp_path / "logs.jsonl", records)
    ingest_sources(store, [("logs", [log])])
    result = list_missed(store, export, "2026-11-02", "2026-11-03", "UTC", limit=10)
    assert result.columns == ["utterance", "count", "sessions", "last_seen", "note"]
    assert [row[:3] + row[4:] for row in result.rows] == [
        ["a calzone please", 2, 2, None],
        ["do you deliver", 1, 1, None],
        [
            "my card ending {cardlastfour}",
            1,
            1,
            "obfuscated: contains the slot placeholder {cardlastfour} (slot obfuscation hides "
            "what the user said)",
        ],
    ]
    assert result.params["bot_id"] == "PZZORD3R01" and result.params["bot_in_store"]
    assert list_missed(store, export, "2026-11-02", "2026-11-03", "UTC", limit=1).rows[0][0] == (
        "a calzone please"
    )
