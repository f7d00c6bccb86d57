"""A Lex V2 export (folder or zip) keeps every byte but the added utterance."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from lexboard.bots.export import LexExport, add_to_intent_json, remove_from_intent_json
from lexboard.errors import BotError
from tests.conftest import CASES

PIZZA = CASES / "bots" / "PizzaOrders-DRAFT-LexJson"
SAMPLE = Path(__file__).resolve().parents[1] / "src" / "lexboard" / "sample" / "bot"
EN = "PizzaOrders/BotLocales/en_US/Intents"
FR = "PizzaOrders/BotLocales/fr_FR/Intents"


def _copy(tmp_path: Path, source: Path = PIZZA) -> Path:
    target = tmp_path / source.name
    shutil.copytree(source, target)
    return target


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _only_insertion(before: bytes, after: bytes) -> bytes:
    """The bytes inserted into ``before`` to make ``after`` (failing if anything else changed)."""
    assert len(after) > len(before)
    prefix = next(
        (i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b), len(before)
    )
    extra = len(after) - len(before)
    assert after[prefix + extra :] == before[prefix:], "bytes outside one insertion changed"
    return after[prefix : prefix + extra]


def _utterances(raw: bytes) -> list[str]:
    return [u["utterance"] for u in json.loads(raw)["sampleUtterances"] or []]


CASES_TO_EDIT = [
    pytest.param(
        PIZZA, f"{EN}/OrderPizza/Intent.json", "en_US", "OrderPizza", id="4-space+unknown"
    ),
    pytest.param(PIZZA, f"{FR}/CommanderPizza/Intent.json", "fr_FR", "CommanderPizza", id="fr"),
]
if SAMPLE.exists():
    CASES_TO_EDIT.append(
        pytest.param(
            SAMPLE,
            "BankingBot/BotLocales/en_US/Intents/CheckBalance/Intent.json",
            None,
            "CheckBalance",
            id="sample-bot",
        )
    )


@pytest.mark.parametrize(("source", "member", "locale", "intent"), CASES_TO_EDIT)
def test_folder_keeps_every_byte_but_the_added_utterance(
    tmp_path: Path, source: Path, member: str, locale: str | None, intent: str
) -> None:
    root = _copy(tmp_path, source)
    before = _snapshot(root)
    export = LexExport(root, locale)
    export.add_utterances(intent, ["how late are you open tonight — ¿sí?"])
    after = _snapshot(root)
    assert after.keys() == before.keys()
    assert {k for k in after if after[k] != before[k]} == {member}
    inserted = _only_insertion(before[member], after[member])
    text = inserted.decode()
    assert text.startswith(",")
    assert json.loads(text[1:]) == {"utterance": "how late are you open tonight — ¿sí?"}
    assert _utterances(after[member]) == [
        *_utterances(before[member]),
        "how late are you open tonight — ¿sí?",
    ]
    # laid out like its neighbours: the new element's lines are indented as theirs are
    lines = after[member].decode().splitlines()
    at = next(i for i, line in enumerate(lines) if "¿sí?" in line)
    previous = next(i for i in range(at - 1, 0, -1) if '"utterance"' in lines[i])
    indent = len(lines[previous]) - len(lines[previous].lstrip())
    assert len(lines[at]) - len(lines[at].lstrip()) == indent
    # and undo gives the original bytes back
    assert export.remove_utterance(intent, "how late are you open tonight — ¿sí?")
    assert _snapshot(root) == before
    assert not list(root.rglob("*.tmp"))


def test_empty_array_is_filled_in_the_files_own_style(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / EN / "StoreHours" / "Intent.json"
    before = path.read_bytes()
    LexExport(root, "en_US").add_utterances("StoreHours", ["when do you open", "opening hours"])
    after = path.read_bytes()
    expected = before.replace(
        b'"sampleUtterances": [],',
        b'"sampleUtterances": [\n'
        b"        {\n"
        b'            "utterance": "when do you open"\n'
        b"        },\n"
        b"        {\n"
        b'            "utterance": "opening hours"\n'
        b"        }\n"
        b"    ],",
    )
    assert after == expected


def test_null_and_missing_arrays(tmp_path: Path) -> None:
    null = b'{\n  "name": "Hours",\n  "sampleUtterances": null,\n  "slotPriorities": []\n}\n'
    added = add_to_intent_json(null, ["opening hours"])
    assert added == (
        b'{\n  "name": "Hours",\n  "sampleUtterances": [\n    {\n'
        b'      "utterance": "opening hours"\n    }\n  ],\n  "slotPriorities": []\n}\n'
    )
    missing = b'{\n  "name": "Hours",\n  "slotPriorities": []\n}\n'
    added = add_to_intent_json(missing, ["opening hours"])
    assert json.loads(added) == {
        "name": "Hours",
        "slotPriorities": [],
        "sampleUtterances": [{"utterance": "opening hours"}],
    }
    assert added.startswith(b'{\n  "name": "Hours",\n  "slotPriorities": [],\n  "sampleUtterances"')


def test_compact_crlf_bom_and_ascii_escaped_files() -> None:
    compact = b'{"name":"A","sampleUtterances":[{"utterance":"hi"}],"x":1}'
    out = add_to_intent_json(compact, ["hello"])
    assert (
        out == b'{"name":"A","sampleUtterances":[{"utterance":"hi"},{"utterance":"hello"}],"x":1}'
    )
    assert remove_from_intent_json(out, "hello") == compact

    crlf = (
        b'{\r\n  "name": "A",\r\n  "sampleUtterances": [\r\n'
        b'    {\r\n      "utterance": "hi"\r\n    }\r\n  ]\r\n}\r\n'
    )
    out = add_to_intent_json(crlf, ["hello"])
    assert b"\n" not in out.replace(b"\r\n", b"")
    assert _only_insertion(crlf, out) == b',\r\n    {\r\n      "utterance": "hello"\r\n    }'

    bom = b"\xef\xbb\xbf" + crlf
    assert add_to_intent_json(bom, ["hello"]).startswith(b"\xef\xbb\xbf{")

    escaped = b'{"name": "Caf\\u00e9", "sampleUtterances": [{"utterance": "un caf\\u00e9"}]}'
    out = add_to_intent_json(escaped, ["deux cafés"])
    assert out.isascii() and b"deux caf\\u00e9s" in out

    raw = '{"name": "Café", "sampleUtterances": []}'.encode()
    assert "deux cafés".encode() in add_to_intent_json(raw, ["deux cafés"])


def test_remove_first_middle_and_only_element() -> None:
    raw = (
        b'{\n  "sampleUtterances": [\n    {"utterance": "a"},\n'
        b'    {"utterance": "b"},\n    {"utterance": "c"}\n  ]\n}'
    )
    first = remove_from_intent_json(raw, "a")
    assert first is not None and _utterances(first) == ["b", "c"]
    assert first == raw.replace(b'{"utterance": "a"},\n    ', b"")
    middle = remove_from_intent_json(raw, "b")
    assert middle is not None and _utterances(middle) == ["a", "c"]
    only = remove_from_intent_json(b'{"sampleUtterances": [{"utterance": "a"}], "k": 1}', "a")
    assert only == b'{"sampleUtterances": [], "k": 1}'
    assert remove_from_intent_json(raw, "A") is None  # exact text only
    assert remove_from_intent_json(b'{"sampleUtterances": null}', "a") is None


def _zip_from(root: Path, target: Path) -> list[str]:
    """A zip as the Lex console makes it: folder entries too, one member stored."""
    names = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.comment = b"exported by a test"
        for path in sorted(root.rglob("*")):
            name = path.relative_to(root).as_posix() + ("/" if path.is_dir() else "")
            info = zipfile.ZipInfo(name, date_time=(2026, 10, 30, 8, 15, 42))
            info.external_attr = (0o40755 << 16) | 0x10 if path.is_dir() else 0o100644 << 16
            stored = name.endswith("manifest.json")
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            zf.writestr(info, b"" if path.is_dir() else path.read_bytes())
            names.append(name)
    return names


@pytest.mark.parametrize("source", [PIZZA, *([SAMPLE] if SAMPLE.exists() else [])])
def test_zip_is_rewritten_with_the_same_members(tmp_path: Path, source: Path) -> None:
    archive = tmp_path / "export.zip"
    names = _zip_from(source, archive)
    with zipfile.ZipFile(archive) as zf:
        before = {i.filename: (i, zf.read(i)) for i in zf.infolist()}
    export = LexExport(archive, "en_US")
    intent = next(i for i in export.intents() if i.utterances and not i.is_fallback)
    export.add_utterances(intent.name, ["a brand new way to say it"])
    with zipfile.ZipFile(archive) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == names
        assert zf.comment == b"exported by a test"
        after = {i.filename: (i, zf.read(i)) for i in zf.infolist()}
    changed = [name for name in names if after[name][1] != before[name][1]]
    assert len(changed) == 1 and changed[0].endswith(f"/{intent.name}/Intent.json")
    inserted = _only_insertion(before[changed[0]][1], after[changed[0]][1])
    assert json.loads(inserted.decode()[1:]) == {"utterance": "a brand new way to say it"}
    for name in names:
        old, new = before[name][0], after[name][0]
        assert (new.date_time, new.compress_type, new.external_attr) == (
            old.date_time,
            old.compress_type,
            old.external_attr,
        )
    assert export.remove_utterance(intent.name, "a brand new way to say it")
    with zipfile.ZipFile(archive) as zf:
        assert {i.filename: zf.read(i) for i in zf.infolist()} == {
            k: v[1] for k, v in before.items()
        }
    assert [p.name for p in tmp_path.iterdir()] == ["export.zip"]


@pytest.mark.parametrize("as_zip", [False, True])
def test_a_failed_write_leaves_the_export_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_zip: bool
) -> None:
    root = _copy(tmp_path)
    target = root
    if as_zip:
        target = tmp_path / "export.zip"
        _zip_from(root, target)
    before = target.read_bytes() if as_zip else _snapshot(root)
    export = LexExport(target, "en_US")

    def refuse(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(BotError, match="No space left on device"):
        export.add_utterances("OrderPizza", ["a large one"])
    assert (target.read_bytes() if as_zip else _snapshot(root)) == before
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_intents_and_bot_identity() -> None:
    export = LexExport(PIZZA, "en_US")
    assert (export.bot, export.bot_id, export.bot_name) == (
        "PZZORD3R01",
        "PZZORD3R01",
        "PizzaOrders",
    )
    intents = {i.name: i for i in export.intents()}
    assert set(intents) == {"OrderPizza", "StoreHours", "FallbackIntent"}
    assert intents["FallbackIntent"].is_fallback and intents["FallbackIntent"].utterances == ()
    assert intents["OrderPizza"].utterances[1] == "order a {size} pizza"
    assert LexExport(PIZZA, "fr_FR").intents()[0].name == "CommanderPizza"


def test_export_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(BotError, match=r"holds locales en_US, fr_FR; pick one") as info:
        LexExport(PIZZA)
    assert info.value.hint == "add --locale-id"
    with pytest.raises(BotError, match=r"has no locale 'de_DE' \(it has en_US, fr_FR\)"):
        LexExport(PIZZA, "de_DE")
    with pytest.raises(BotError, match="does not exist"):
        LexExport(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(BotError, match=r"neither a Lex export directory nor a \.zip"):
        LexExport(tmp_path / "notes.txt")
    with pytest.raises(BotError, match="is not a Lex V2 export"):
        LexExport(tmp_path)
    with pytest.raises(BotError, match="has no intent 'Nope'"):
        LexExport(PIZZA, "en_US").add_utterances("Nope", ["x"])
    root = _copy(tmp_path)
    (root / EN / "StoreHours" / "Intent.json").write_text('{"name": "StoreHours", ')
    with pytest.raises(BotError, match=r"StoreHours/Intent.json is not valid JSON"):
        LexExport(root, "en_US").intents()
