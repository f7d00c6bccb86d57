"""A local Lex V2 bot export (``LexJson``, a directory or a ``.zip``) as a curation backend.

Layout (Lex's own)::

    manifest.json
    <Bot>/Bot.json
    <Bot>/BotLocales/<locale>/BotLocale.json
    <Bot>/BotLocales/<locale>/Intents/<Intent>/Intent.json
    ...

Changes touch one thing only: the ``sampleUtterances`` array of one ``Intent.json``. The
file is edited as text, so every other key, the key order, the indentation and the line
endings stay byte for byte what they were; the edit is checked by parsing the result.
Files are replaced atomically (temporary file + ``os.replace``); a zip is rewritten whole
with the same members in the same order, every other member's content unchanged.
"""

from __future__ import annotations

import codecs
import json
import os
import stat
import struct
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from lexboard.bots.base import BuildResult, IntentInfo, StatusCallback
from lexboard.errors import BotError

INTENT_FILE = "Intent.json"
UTTERANCES_KEY = "sampleUtterances"

# --- editing Intent.json as text -----------------------------------------------------

_WS = frozenset(" \t\n\r")
_DECODER = json.JSONDecoder()


class _Malformed(ValueError):
    pass


@dataclass(frozen=True)
class _Member:
    key: str
    key_start: int
    colon: str  # the text between the key and its value, e.g. ": "
    value_start: int
    value_end: int


def _ws(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in _WS:
        i += 1
    return i


def _expect(text: str, i: int, char: str) -> None:
    if i >= len(text) or text[i] != char:
        raise _Malformed(f"expected {char!r} at character {i}")


def _value_end(text: str, i: int) -> int:
    _, end = _DECODER.raw_decode(text, i)
    return int(end)


def _object_members(text: str, start: int) -> tuple[list[_Member], int]:
    """The members of the object at ``start`` and the index just past its ``}``."""
    _expect(text, start, "{")
    i = _ws(text, start + 1)
    members: list[_Member] = []
    if i < len(text) and text[i] == "}":
        return members, i + 1
    while True:
        _expect(text, i, '"')
        key, key_end = _DECODER.raw_decode(text, i)
        j = _ws(text, key_end)
        _expect(text, j, ":")
        value_start = _ws(text, j + 1)
        value_end = _value_end(text, value_start)
        members.append(_Member(str(key), i, text[key_end:value_start], value_start, value_end))
        i = _ws(text, value_end)
        if i < len(text) and text[i] == ",":
            i = _ws(text, i + 1)
            continue
        _expect(text, i, "}")
        return members, i + 1


def _array_items(text: str, start: int) -> list[tuple[int, int]]:
    _expect(text, start, "[")
    i = _ws(text, start + 1)
    items: list[tuple[int, int]] = []
    if i < len(text) and text[i] == "]":
        return items
    while True:
        end = _value_end(text, i)
        items.append((i, end))
        i = _ws(text, end)
        if i < len(text) and text[i] == ",":
            i = _ws(text, i + 1)
            continue
        _expect(text, i, "]")
        return items


@dataclass
class _Doc:
    text: str
    bom: bytes
    data: dict[str, Any]
    members: list[_Member]
    object_start: int
    object_end: int

    @property
    def newline(self) -> str:
        return "\r\n" if "\r\n" in self.text else "\n"

    @property
    def ascii_only(self) -> bool:
        """Mimic the file: \\u escapes when it has them and no raw non-ASCII text."""
        return self.text.isascii() and "\\u" in self.text

    def encode(self, value: str) -> str:
        return json.dumps(value, ensure_ascii=self.ascii_only)

    def member(self, key: str) -> _Member | None:
        found = [m for m in self.members if m.key == key]
        return found[-1] if found else None  # JSON's rule: the last duplicate wins

    def indent_of(self, index: int) -> str | None:
        """The whitespace that starts the line at ``index``; None when not on its own line."""
        line_start = self.text.rfind("\n", 0, index) + 1
        prefix = self.text[line_start:index]
        return prefix if line_start > 0 and not prefix.strip() else None

    def to_bytes(self, text: str) -> bytes:
        return self.bom + text.encode("utf-8")


def _parse(raw: bytes, where: str) -> _Doc:
    bom = codecs.BOM_UTF8 if raw.startswith(codecs.BOM_UTF8) else b""
    try:
        text = raw[len(bom) :].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BotError(f"{where} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BotError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BotError(f"{where} does not hold a JSON object (an intent definition)")
    try:
        start = _ws(text, 0)
        members, end = _object_members(text, start)
    except (ValueError, IndexError) as exc:  # cannot happen for text json.loads accepted
        raise BotError(f"{where} could not be scanned: {exc}") from None
    return _Doc(text, bom, data, members, start, end)


def _utterance_list(doc: _Doc, where: str) -> list[Any]:
    value = doc.data.get(UTTERANCES_KEY)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BotError(f"{where}: {UTTERANCES_KEY} is not a list")
    return value


def _element_style(doc: _Doc, item: tuple[int, int]) -> tuple[str, str, str] | None:
    """(after ``{``, between key and value, before ``}``) as an existing element has them."""
    text = doc.text
    if text[item[0]] != "{":
        return None
    members, _ = _object_members(text, item[0])
    if not members:
        return None
    return (
        text[item[0] + 1 : members[0].key_start],
        members[0].colon,
        text[members[-1].value_end : item[1] - 1],
    )


def _new_array(doc: _Doc, key_indent: str | None, colon: str, utterances: Sequence[str]) -> str:
    """A whole ``[...]`` for an empty or null array, formatted like the rest of the file."""
    if key_indent is None:  # the file is compact
        sep = ", " if colon.endswith(" ") else ","
        return (
            "["
            + sep.join("{" + '"utterance"' + colon + doc.encode(u) + "}" for u in utterances)
            + "]"
        )
    nl = doc.newline
    unit = key_indent or "  "  # sampleUtterances is a top-level key: its indent is one level
    outer, inner = key_indent + unit, key_indent + unit + unit
    elements = [
        "{" + nl + inner + '"utterance"' + colon + doc.encode(u) + nl + outer + "}"
        for u in utterances
    ]
    return "[" + nl + outer + ("," + nl + outer).join(elements) + nl + key_indent + "]"


def add_to_intent_json(raw: bytes, utterances: Sequence[str], where: str = INTENT_FILE) -> bytes:
    """``raw`` with these utterances appended to ``sampleUtterances``, nothing else changed."""
    doc = _parse(raw, where)
    before = _utterance_list(doc, where)
    if not utterances:
        return raw
    text = doc.text
    member = doc.member(UTTERANCES_KEY)
    if member is None:  # no key at all: add it after the last member
        last = doc.members[-1] if doc.members else None
        indent = doc.indent_of(last.key_start) if last else None
        colon = last.colon if last else ": "
        array = _new_array(doc, indent, colon, utterances)
        if last is None:
            new_text = (
                text[: doc.object_start + 1]
                + '"sampleUtterances": '
                + array
                + text[doc.object_start + 1 :]
            )
        else:
            lead = ("," + doc.newline + indent) if indent is not None else ", "
            new_text = (
                text[: last.value_end]
                + lead
                + '"sampleUtterances"'
                + colon
                + array
                + text[last.value_end :]
            )
    else:
        items = _array_items(text, member.value_start) if text[member.value_start] == "[" else []
        if not items:  # null or []
            array = _new_array(doc, doc.indent_of(member.key_start), member.colon, utterances)
            new_text = text[: member.value_start] + array + text[member.value_end :]
        else:
            style = _element_style(doc, items[-1]) or ("", ": ", "")
            if len(items) >= 2:
                sep = text[items[-2][1] : items[-1][0]]
            else:
                sep = "," + text[member.value_start + 1 : items[0][0]]
            inner, colon, closing = style
            added = "".join(
                sep + "{" + inner + '"utterance"' + colon + doc.encode(u) + closing + "}"
                for u in utterances
            )
            end = items[-1][1]
            new_text = text[:end] + added + text[end:]
    expected = dict(doc.data)
    expected[UTTERANCES_KEY] = [*before, *({"utterance": u} for u in utterances)]
    _check(new_text, expected, where)
    return doc.to_bytes(new_text)


def remove_from_intent_json(raw: bytes, utterance: str, where: str = INTENT_FILE) -> bytes | None:
    """``raw`` without that sample utterance (exact text); None when the intent lacks it."""
    doc = _parse(raw, where)
    before = _utterance_list(doc, where)
    member = doc.member(UTTERANCES_KEY)
    if member is None or doc.text[member.value_start] != "[":
        return None
    matches = [
        i
        for i, item in enumerate(before)
        if isinstance(item, dict) and item.get("utterance") == utterance
    ]
    if not matches:
        return None
    index = matches[-1]  # lexboard appends, so its own copy is the last one
    text = doc.text
    items = _array_items(text, member.value_start)
    if len(items) == 1:
        new_text = text[: member.value_start] + "[]" + text[member.value_end :]
    elif index > 0:
        new_text = text[: items[index - 1][1]] + text[items[index][1] :]
    else:
        new_text = text[: items[0][0]] + text[items[1][0] :]
    expected = dict(doc.data)
    expected[UTTERANCES_KEY] = before[:index] + before[index + 1 :]
    _check(new_text, expected, where)
    return doc.to_bytes(new_text)


def _check(new_text: str, expected: dict[str, Any], where: str) -> None:
    try:
        ok = json.loads(new_text) == expected
    except ValueError:
        ok = False
    if not ok:  # a bug, never a user's problem; refuse rather than write a broken file
        raise BotError(f"lexboard could not edit {where} safely; the file was left unchanged")


# --- the export ----------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.lexboard-{os.getpid()}.tmp")
    try:
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BotError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _strip_zip64_extra(extra: bytes) -> bytes:
    """Extra fields without the Zip64 one, which zipfile writes afresh when it needs it."""
    out, i = b"", 0
    while i + 4 <= len(extra):
        header_id, size = struct.unpack("<HH", extra[i : i + 4])
        if header_id != 0x0001:
            out += extra[i : i + 4 + size]
        i += 4 + size
    return out


def _rewrite_zip(path: Path, replacements: dict[str, bytes]) -> None:
    """The same zip (members, order, names, times, attributes, comments) with new contents."""
    tmp = path.with_name(f".{path.name}.lexboard-{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp, "w") as zout:
            zout.comment = zin.comment
            for info in zin.infolist():
                data = replacements.get(info.filename)
                if data is None:
                    data = zin.read(info)
                copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                copy.compress_type = info.compress_type
                copy.comment = info.comment
                copy.extra = _strip_zip64_extra(info.extra)
                copy.create_system = info.create_system
                copy.create_version = info.create_version
                copy.external_attr = info.external_attr
                copy.internal_attr = info.internal_attr
                zout.writestr(copy, data, compress_type=info.compress_type)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    except (OSError, zipfile.BadZipFile, RuntimeError) as exc:
        tmp.unlink(missing_ok=True)
        raise BotError(f"cannot rewrite {path}: {exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class _IntentFile:
    member: str
    info: IntentInfo


class LexExport:
    """One locale of a Lex V2 export: read its intents, add and remove sample utterances."""

    kind = "export"

    def __init__(self, path: str | Path, locale_id: str | None = None) -> None:
        self.path = Path(path).expanduser().resolve()
        if self.path.is_dir():
            self.is_zip = False
        elif self.path.is_file():
            if not zipfile.is_zipfile(self.path):
                raise BotError(
                    f"{self.path} is neither a Lex export directory nor a .zip",
                    hint="export the bot from the Lex console (LexJson) and pass the zip or "
                    "its unzipped folder",
                )
            self.is_zip = True
        else:
            raise BotError(f"bot export {self.path} does not exist")
        members = self._members()
        found: dict[tuple[str, str], list[str]] = {}
        for member in members:
            parts = PurePosixPath(member).parts
            if (
                len(parts) >= 5
                and parts[-1] == INTENT_FILE
                and parts[-3] == "Intents"
                and parts[-5] == "BotLocales"
            ):
                found.setdefault(("/".join(parts[:-5]), parts[-4]), []).append(member)
        if not found:
            raise BotError(
                f"{self.path} is not a Lex V2 export: no "
                "<Bot>/BotLocales/<locale>/Intents/<Intent>/Intent.json inside"
            )
        bots = sorted({bot for bot, _ in found})
        if len(bots) > 1:
            raise BotError(
                f"{self.path} holds {len(bots)} bots ({', '.join(bots)}); "
                "lexboard edits an export of one bot"
            )
        self._bot_dir = bots[0]
        locales = sorted(locale for _, locale in found)
        if locale_id is None:
            if len(locales) > 1:
                raise BotError(
                    f"{self.path} holds locales {', '.join(locales)}; pick one",
                    hint="add --locale-id",
                )
            locale_id = locales[0]
        elif locale_id not in locales:
            raise BotError(f"{self.path} has no locale {locale_id!r} (it has {', '.join(locales)})")
        self._locale_id = locale_id
        self._intent_members = sorted(found[(self._bot_dir, locale_id)])
        bot_json = f"{self._bot_dir}/Bot.json" if self._bot_dir else "Bot.json"
        bot: dict[str, Any] = {}
        if bot_json in members:
            try:
                loaded = json.loads(self._read(bot_json))
                bot = loaded if isinstance(loaded, dict) else {}
            except ValueError:
                bot = {}
        self._bot_identifier = (
            bot.get("identifier") if isinstance(bot.get("identifier"), str) else None
        )
        name = bot.get("name")
        self._bot_name = (
            name if isinstance(name, str) else PurePosixPath(self._bot_dir).name or None
        )

    # --- the backend interface ---

    @property
    def bot(self) -> str:
        return self._bot_identifier or self._bot_name or self.path.name

    @property
    def bot_id(self) -> str | None:
        return self._bot_identifier

    @property
    def bot_name(self) -> str | None:
        return self._bot_name

    @property
    def locale_id(self) -> str:
        return self._locale_id

    @property
    def location(self) -> str:
        return str(self.path)

    def intents(self) -> list[IntentInfo]:
        return [f.info for f in self._intent_files()]

    def add_utterances(self, intent: str, utterances: Sequence[str]) -> None:
        member = self._member_of(intent)
        raw = self._read(member)
        self._write(member, add_to_intent_json(raw, utterances, self._where(member)))

    def remove_utterance(self, intent: str, utterance: str) -> bool:
        member = self._member_of(intent)
        changed = remove_from_intent_json(self._read(member), utterance, self._where(member))
        if changed is None:
            return False
        self._write(member, changed)
        return True

    def build(
        self,
        on_status: StatusCallback | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> BuildResult:
        raise BotError(
            "a bot export is not built by lexboard",
            hint="import the export into Lex (or use --bot-id with --build)",
        )

    # --- files ---

    def _where(self, member: str) -> str:
        return f"{self.path}!{member}" if self.is_zip else str(self.path / member)

    def _members(self) -> list[str]:
        if self.is_zip:
            try:
                with zipfile.ZipFile(self.path) as zf:
                    return [n for n in zf.namelist() if not n.endswith("/")]
            except (OSError, zipfile.BadZipFile) as exc:
                raise BotError(f"cannot read {self.path}: {exc}") from None
        return sorted(
            p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file()
        )

    def _read(self, member: str) -> bytes:
        try:
            if self.is_zip:
                with zipfile.ZipFile(self.path) as zf:
                    return zf.read(member)
            return (self.path / member).read_bytes()
        except (OSError, KeyError, zipfile.BadZipFile, RuntimeError) as exc:
            raise BotError(f"cannot read {self._where(member)}: {exc}") from None

    def _write(self, member: str, data: bytes) -> None:
        if self.is_zip:
            _rewrite_zip(self.path, {member: data})
        else:
            _write_atomic(self.path / member, data)

    def _intent_files(self) -> list[_IntentFile]:
        files = []
        for member in self._intent_members:
            where = self._where(member)
            doc = _parse(self._read(member), where)
            data = doc.data
            folder = PurePosixPath(member).parts[-2]
            name = data.get("name") if isinstance(data.get("name"), str) else folder
            utterances = tuple(
                str(item["utterance"])
                for item in _utterance_list(doc, where)
                if isinstance(item, dict) and isinstance(item.get("utterance"), str)
            )
            identifier = data.get("identifier")
            parent = data.get("parentIntentSignature")
            files.append(
                _IntentFile(
                    member,
                    IntentInfo(
                        name=str(name),
                        identifier=identifier if isinstance(identifier, str) else None,
                        utterances=utterances,
                        parent_signature=parent if isinstance(parent, str) else None,
                    ),
                )
            )
        return files

    def _member_of(self, intent: str) -> str:
        for f in self._intent_files():
            if f.info.name == intent:
                return f.member
        raise BotError(f"{self.path} has no intent {intent!r} in locale {self._locale_id}")
