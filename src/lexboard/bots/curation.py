"""Curation: missed utterances back into the bot, checked, audited and undoable.

One interface (``BotBackend``) over a Lex export and the Lex V2 Models API; the rules
live here, so both backends (and the CLI and the dashboard) refuse the same things:

- FallbackIntent takes no sample utterances;
- an utterance already a sample utterance of any intent of the locale (case and
  whitespace ignored) is refused, naming that intent;
- obfuscated text (``{Slot}`` placeholders, or any brace: Lex reads braces as slot
  references), empty text and text over 500 characters are refused;
- an intent holds at most 1,500 sample utterances: refused at the limit, warned from 1,400.

Every attempt (added, refused, failed, undone, builds) is a row of ``utterance_audit``;
``undo`` removes an utterance that lexboard added, once.
"""

from __future__ import annotations

import getpass
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from lexboard.bots.base import BotBackend, BuildResult, IntentInfo, StatusCallback
from lexboard.errors import BotError, LexboardError
from lexboard.metrics import Result, resolve_request, run_metric
from lexboard.store.db import Store

MAX_UTTERANCES_PER_INTENT = 1500
WARN_UTTERANCES_AT = 1400
MAX_UTTERANCE_CHARS = 500
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")

ADDED, REFUSED, FAILED, UNDONE, PENDING = "added", "refused", "failed", "undone", "pending"


def normalize(text: str) -> str:
    """The comparison key: lower-cased, whitespace collapsed and trimmed."""
    return " ".join(text.lower().split())


def clean(text: str) -> str:
    """The text that is added: whitespace collapsed and trimmed, case kept."""
    return " ".join(text.split())


def default_who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return "unknown"


# --- backends --------------------------------------------------------------------------


def open_backend(
    *,
    bot_export: str | Path | None = None,
    bot_id: str | None = None,
    locale_id: str | None = None,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    client: Any = None,
) -> BotBackend:
    """The export at ``bot_export``, or bot ``bot_id``'s DRAFT ``locale_id`` through the API."""
    if (bot_export is None) == (bot_id is None):
        raise BotError(
            "say which bot: --bot-export PATH, or --bot-id ID --locale-id L",
            hint="the export is the Lex console's LexJson zip or its folder",
        )
    if bot_export is not None:
        from lexboard.bots.export import LexExport

        return LexExport(bot_export, locale_id)
    from lexboard.bots.lexapi import LexApiBackend

    return LexApiBackend(
        str(bot_id),
        locale_id or "",
        client=client,
        region=region,
        profile=profile,
        endpoint_url=endpoint_url,
    )


def backend_for_entry(entry: dict[str, Any]) -> BotBackend:
    """The backend an audit entry was made with (its export path, or the API's region)."""
    if entry["backend"] == "export":
        if not entry.get("location"):
            raise BotError(f"audit entry {entry['id']} does not say where the export was")
        return open_backend(bot_export=entry["location"], locale_id=entry["locale"])
    if entry["backend"] == "api":
        return open_backend(
            bot_id=entry["bot"], locale_id=entry["locale"], region=entry.get("location")
        )
    raise BotError(f"audit entry {entry['id']} has an unknown backend {entry['backend']!r}")


# --- rules -----------------------------------------------------------------------------


def known_utterances(intents: Sequence[IntentInfo]) -> dict[str, str]:
    """normalized sample utterance → the (first) intent that has it."""
    known: dict[str, str] = {}
    for intent in intents:
        for utterance in intent.utterances:
            known.setdefault(normalize(utterance), intent.name)
    return known


def text_refusal(text: str) -> str | None:
    """Why this text can never be a sample utterance (whatever the intent), or None."""
    cleaned = clean(text)
    if not cleaned:
        return "empty utterance"
    if len(cleaned) > MAX_UTTERANCE_CHARS:
        return f"longer than {MAX_UTTERANCE_CHARS} characters ({len(cleaned):,})"
    placeholder = _PLACEHOLDER.search(cleaned)
    if placeholder:
        return (
            f"obfuscated: contains the slot placeholder {placeholder.group(0)} "
            "(slot obfuscation hides what the user said)"
        )
    if "{" in cleaned or "}" in cleaned:
        return "contains a brace, which Lex reads as a slot reference"
    if any(unicodedata.category(c) == "Cc" for c in cleaned):
        return "contains control characters"
    return None


def find_intent(intents: Sequence[IntentInfo], name: str) -> IntentInfo | None:
    for intent in intents:
        if intent.name == name:
            return intent
    folded = [i for i in intents if i.name.lower() == name.strip().lower()]
    return folded[0] if len(folded) == 1 else None


@dataclass(frozen=True)
class Change:
    """The outcome of one attempt: ``result`` is added, refused, failed or undone."""

    id: int | None
    action: str
    intent: str | None
    utterance: str | None
    result: str
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.result in (ADDED, UNDONE)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "intent": self.intent,
            "utterance": self.utterance,
            "result": self.result,
            "detail": self.detail,
            "ok": self.ok,
        }


def plan_additions(
    intents: Sequence[IntentInfo], intent_name: str, utterances: Sequence[str]
) -> list[tuple[str, str | None, str | None]]:
    """For each utterance: (text to add, refusal or None, warning or None), in order.

    Pure: the rules over the bot as it is. Earlier accepted items of the batch count as
    already in the bot for later ones (duplicates, the 1,500 limit).
    """
    intent = find_intent(intents, intent_name)
    known = known_utterances(intents)
    count = len(intent.utterances) if intent else 0
    plan: list[tuple[str, str | None, str | None]] = []
    names = ", ".join(i.name for i in intents) or "none"
    for raw in utterances:
        text = clean(raw)
        refusal = text_refusal(raw)
        warning = None
        if refusal is None:
            if intent is None:
                refusal = f"no intent {intent_name!r} (intents: {names})"
            elif intent.is_fallback:
                refusal = f"{intent.name} is the fallback intent, which takes no sample utterances"
            elif normalize(text) in known:
                owner = known[normalize(text)]
                refusal = f"already a sample utterance of intent {owner}"
            elif count >= MAX_UTTERANCES_PER_INTENT:
                refusal = (
                    f"intent {intent.name} already has {count:,} sample utterances "
                    f"(Lex's limit is {MAX_UTTERANCES_PER_INTENT:,})"
                )
        if refusal is None and intent is not None:
            count += 1
            known[normalize(text)] = f"{intent.name} (earlier in this batch)"
            if count >= WARN_UTTERANCES_AT:
                warning = (
                    f"warning: intent {intent.name} now has {count:,} of "
                    f"{MAX_UTTERANCES_PER_INTENT:,} sample utterances"
                )
        plan.append((text, refusal, warning))
    return plan


# --- the audit -------------------------------------------------------------------------

AUDIT_COLUMNS = (
    "id",
    "at",
    "who",
    "backend",
    "bot",
    "locale",
    "intent",
    "utterance",
    "action",
    "result",
    "detail",
    "location",
    "undoes",
)


def _record(
    store: Store,
    backend: BotBackend | dict[str, Any],
    who: str,
    action: str,
    intent: str | None,
    utterance: str | None,
    result: str,
    detail: str | None = None,
    undoes: int | None = None,
) -> int:
    if isinstance(backend, dict):
        kind, bot, locale, location = (
            backend["backend"],
            backend["bot"],
            backend["locale"],
            backend.get("location"),
        )
    else:
        kind, bot, locale, location = (
            backend.kind,
            backend.bot,
            backend.locale_id,
            backend.location,
        )
    row = store.fetchone(
        'INSERT INTO utterance_audit ("at", who, backend, bot, locale, intent, utterance, action,'
        " result, detail, location, undoes) VALUES (now(), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " RETURNING id",
        [who, kind, bot, locale, intent, utterance, action, result, detail, location, undoes],
    )
    return int(row[0])


def _settle(store: Store, ids: Sequence[int], result: str, details: Sequence[str | None]) -> None:
    for audit_id, detail in zip(ids, details, strict=True):
        store.execute(
            "UPDATE utterance_audit SET result = ?, detail = ? WHERE id = ?",
            [result, detail, audit_id],
        )


def _iso(value: Any) -> Any:
    return value.isoformat(timespec="milliseconds") if isinstance(value, datetime) else value


_SELECT_AUDIT = (
    "SELECT "
    + ", ".join(f'a."{c}"' for c in AUDIT_COLUMNS)
    + ", (SELECT min(u.id) FROM utterance_audit u WHERE u.undoes = a.id AND u.result = 'undone')"
    " AS undone_by FROM utterance_audit a"
)


def _entry(row: Sequence[Any]) -> dict[str, Any]:
    entry = {c: _iso(v) for c, v in zip((*AUDIT_COLUMNS, "undone_by"), row, strict=True)}
    entry["undoable"] = (
        entry["action"] == "add" and entry["result"] == ADDED and entry["undone_by"] is None
    )
    return entry


def audit_entries(store: Store, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """The audit, newest first: ``{"total": n, "columns": [...], "rows": [entry, ...]}``.

    Each entry has the table's columns plus ``undone_by`` (the undo's id) and ``undoable``.
    """
    if not store.fetchone(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'utterance_audit'"
        " AND database_name = current_database()"
    )[0]:  # a store from before the audit, opened read-only
        return {"total": 0, "columns": [*AUDIT_COLUMNS, "undone_by", "undoable"], "rows": []}
    total = store.fetchone("SELECT count(*) FROM utterance_audit")[0]
    rows = store.fetchall(
        _SELECT_AUDIT + " ORDER BY a.id DESC LIMIT ? OFFSET ?", [int(limit), int(offset)]
    )
    return {
        "total": int(total),
        "columns": [*AUDIT_COLUMNS, "undone_by", "undoable"],
        "rows": [_entry(r) for r in rows],
    }


def audit_entry(store: Store, audit_id: int) -> dict[str, Any] | None:
    row = store.fetchone(_SELECT_AUDIT + " WHERE a.id = ?", [int(audit_id)])
    return _entry(row) if row else None


# --- the operations --------------------------------------------------------------------


def add_utterances(
    store: Store,
    backend: BotBackend,
    intent: str,
    utterances: Sequence[str],
    who: str | None = None,
) -> list[Change]:
    """Check each utterance, add the accepted ones to ``intent``, audit every one.

    Each utterance gets its own Change, in order; a refused one does not block the
    others. A backend failure while writing marks that batch's accepted items ``failed``
    with the one-line reason. Raises BotError only when the bot cannot be read at all
    (after auditing the attempts as failed).
    """
    who = who or default_who()
    if not utterances:
        raise BotError("no utterances given")
    try:
        intents = backend.intents()
    except LexboardError as exc:
        for raw in utterances:
            _record(store, backend, who, "add", intent, clean(raw), FAILED, exc.message)
        raise
    target = find_intent(intents, intent)
    intent_name = target.name if target else intent
    plan = plan_additions(intents, intent, utterances)
    changes: list[Change | None] = []
    pending: list[tuple[int, int, str, str | None]] = []  # (position, audit id, text, warning)
    for position, (text, refusal, warning) in enumerate(plan):
        if refusal is not None:
            audit_id = _record(store, backend, who, "add", intent_name, text, REFUSED, refusal)
            changes.append(Change(audit_id, "add", intent_name, text, REFUSED, refusal))
        else:
            audit_id = _record(store, backend, who, "add", intent_name, text, PENDING, warning)
            pending.append((position, audit_id, text, warning))
            changes.append(None)
    if pending:
        ids = [p[1] for p in pending]
        try:
            backend.add_utterances(intent_name, [p[2] for p in pending])
        except LexboardError as exc:
            _settle(store, ids, FAILED, [exc.message] * len(ids))
            for position, audit_id, text, _ in pending:
                changes[position] = Change(audit_id, "add", intent_name, text, FAILED, exc.message)
        else:
            _settle(store, ids, ADDED, [p[3] for p in pending])
            for position, audit_id, text, warning in pending:
                changes[position] = Change(audit_id, "add", intent_name, text, ADDED, warning)
    return [c for c in changes if c is not None]


def undo(
    store: Store,
    audit_id: int,
    who: str | None = None,
    backend: BotBackend | None = None,
) -> Change:
    """Remove the utterance that audit entry ``audit_id`` added; the undo is audited too.

    Refused (and audited) when that entry did not add an utterance, was undone already,
    or the intent no longer has the utterance. Raises BotError for an unknown id.
    """
    who = who or default_who()
    entry = audit_entry(store, audit_id)
    if entry is None:
        raise BotError(f"no audit entry {audit_id}", hint="see lexboard utterances audit")
    intent, utterance = entry["intent"], entry["utterance"]

    def refuse(reason: str) -> Change:
        new_id = _record(store, entry, who, "undo", intent, utterance, REFUSED, reason, audit_id)
        return Change(new_id, "undo", intent, utterance, REFUSED, reason)

    if entry["action"] != "add":
        return refuse(f"entry {audit_id} is an {entry['action']}, not an addition")
    if entry["result"] != ADDED:
        return refuse(f"entry {audit_id} added nothing (it was {entry['result']})")
    if entry["undone_by"] is not None:
        return refuse(f"entry {audit_id} was undone already (entry {entry['undone_by']})")
    try:
        target = backend or backend_for_entry(entry)
    except LexboardError as exc:
        new_id = _record(
            store, entry, who, "undo", intent, utterance, FAILED, exc.message, audit_id
        )
        return Change(new_id, "undo", intent, utterance, FAILED, exc.message)
    new_id = _record(store, entry, who, "undo", intent, utterance, PENDING, None, audit_id)
    try:
        removed = target.remove_utterance(intent, utterance)
    except LexboardError as exc:
        _settle(store, [new_id], FAILED, [exc.message])
        return Change(new_id, "undo", intent, utterance, FAILED, exc.message)
    if not removed:
        reason = f"intent {intent} no longer has this sample utterance"
        _settle(store, [new_id], REFUSED, [reason])
        return Change(new_id, "undo", intent, utterance, REFUSED, reason)
    detail = f"removed the utterance added by entry {audit_id}"
    _settle(store, [new_id], UNDONE, [detail])
    return Change(new_id, "undo", intent, utterance, UNDONE, detail)


def build_locale(
    store: Store,
    backend: BotBackend,
    who: str | None = None,
    on_status: StatusCallback | None = None,
    sleep: Callable[[float], None] | None = None,
) -> BuildResult:
    """Build the DRAFT locale (API backend) and wait; audited as action ``build``."""
    who = who or default_who()
    audit_id = _record(store, backend, who, "build", None, None, PENDING)
    try:
        result = backend.build(on_status=on_status, sleep=sleep)
    except LexboardError as exc:
        _settle(store, [audit_id], FAILED, [exc.message])
        raise
    _settle(
        store,
        [audit_id],
        result.status,
        ["; ".join(result.failure_reasons) if result.failure_reasons else None],
    )
    return result


def _store_bot_id(store: Store, backend: BotBackend) -> tuple[str | None, bool]:
    """The bot id the store knows this bot by, and whether the store has it at all."""
    if backend.bot_id:
        row = store.fetchone("SELECT 1 FROM sessions WHERE bot_id = ? LIMIT 1", [backend.bot_id])
        if row:
            return backend.bot_id, True
    if backend.bot_name:
        rows = store.fetchall(
            "SELECT DISTINCT bot_id FROM sessions WHERE bot_name = ?", [backend.bot_name]
        )
        if len(rows) == 1:
            return str(rows[0][0]), True
    return backend.bot_id or backend.bot_name or backend.bot, False


def list_missed(
    store: Store,
    backend: BotBackend,
    start: str | None = None,
    end: str | None = None,
    tz: str | None = None,
    limit: int = 20,
    now: datetime | None = None,
) -> Result:
    """The ``missed_utterances`` metric for this bot and locale, minus what the bot has.

    Columns: the metric's (utterance, count, sessions, last_seen) plus ``note``: None, or
    why the utterance cannot be added as it is (obfuscated, too long). ``params`` echoes
    the window and adds ``bot``, ``backend`` and ``bot_in_store``.
    """
    if limit < 1:
        raise BotError(f"limit = {limit} is below 1")
    known = known_utterances(backend.intents())
    bot_id, in_store = _store_bot_id(store, backend)
    request = resolve_request(
        "missed_utterances",
        start,
        end,
        tz,
        {"bot_id": bot_id, "locale_id": backend.locale_id},
        {"limit": limit + len(known)},
        now=now,
    )
    result = run_metric(store, request)
    index = result.columns.index("utterance")
    rows = []
    for row in result.rows:
        text = row[index]
        if not isinstance(text, str) or normalize(text) in known:
            continue
        rows.append([*row, text_refusal(text)])
        if len(rows) == limit:
            break
    params = {
        **result.params,
        "limit": limit,
        "bot": backend.bot,
        "backend": backend.kind,
        "bot_in_store": in_store,
    }
    return Result(result.metric, params, [*result.columns, "note"], rows)
