"""Curation over HTTP: the write widget's endpoints and the CLI's ``utterances`` commands
when this server owns the store.

Reads (missed utterances not yet in the bot, the audit) are always served. Writes (add,
undo, build) exist only with ``write_widgets = true``; they need the editor role, and a
CSRF token unless the request carries a bearer token (which a browser never sends by
itself). Which bot: the ``bot_export`` setting (a Lex export), else ``bot_id`` +
``locale_id`` through the Lex V2 Models API; a lexboard command on this machine may name
another bot explicitly.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from lexboard.bots.base import BotBackend
from lexboard.server.api import LOOPBACK, ApiError, require_editor, state_of
from lexboard.server.auth import User

reads = APIRouter()
writes = APIRouter()
BOT_KEYS = ("bot_export", "bot_id", "locale_id", "region", "profile")


def csrf_token(request: Request, user: User | None) -> str:
    secret: bytes = request.app.state.csrf_secret
    name = user.name if user else ""
    return hmac.new(secret, name.encode(), hashlib.sha256).hexdigest()


def _guard_write(request: Request) -> None:
    """Writes exist only with write_widgets on; then they need an editor and CSRF."""
    if not state_of(request).settings.write_widgets:
        raise ApiError(
            404,
            "not found: curation writes are off on this server",
            "set write_widgets = true to add utterances from lexboard",
        )
    require_editor(request)
    _check_csrf(request)


def _check_csrf(request: Request) -> None:
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return
    given = request.headers.get("x-csrf-token", "")
    expected = csrf_token(request, getattr(request.state, "user", None))
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(403, "missing or wrong CSRF token", "reload the dashboard and retry")


def _backend(request: Request, spec: Mapping[str, Any] | None) -> BotBackend:
    from lexboard.bots.curation import open_backend

    settings = state_of(request).settings
    chosen = {k: v for k, v in (spec or {}).items() if k in BOT_KEYS and v}
    if chosen:
        if request.client is None or request.client.host not in LOOPBACK:
            raise ApiError(403, "naming a bot is only accepted from this machine")
        return open_backend(**chosen)
    if settings.values.get("bot_export"):
        return open_backend(bot_export=settings.bot_export, locale_id=settings.locale_id)
    if settings.bot_id and settings.locale_id:
        return open_backend(bot_id=settings.bot_id, locale_id=settings.locale_id)
    raise ApiError(
        400,
        "no bot to curate: set bot_export, or bot_id and locale_id",
        "see docs/configuration.md",
    )


def _suggestions(request: Request, utterances: list[str]) -> dict[str, str]:
    """For each missed utterance, the intent Lex ranked highest after FallbackIntent."""
    if not utterances:
        return {}
    cursor = state_of(request).store.con.cursor()
    try:
        rows = cursor.execute(
            """
            SELECT utterance, mode(alt) FROM (
                SELECT utterance,
                       list_filter(interpretations,
                                   lambda i: i.intent <> 'FallbackIntent')[1].intent AS alt
                FROM turns WHERE missed AND utterance IN (SELECT unnest($u))
            ) WHERE alt IS NOT NULL GROUP BY utterance
            """,
            {"u": utterances},
        ).fetchall()
    finally:
        cursor.close()
    return {utterance: intent for utterance, intent in rows}


@reads.get("/api/curation/missed")
def missed(request: Request) -> dict[str, Any]:
    from lexboard.bots.curation import list_missed

    query = request.query_params
    backend = _backend(request, query)
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise ApiError(400, "limit must be an integer") from None
    state = state_of(request)
    with state.reading() as store:  # its own cursor: the live writer may be busy
        result = list_missed(
            store,
            backend,
            query.get("from") or None,
            query.get("to") or None,
            query.get("tz") or state.settings.tz,
            limit,
        )
    index = result.columns.index("utterance")
    suggested = _suggestions(request, [row[index] for row in result.rows])
    intents = sorted(i.name for i in backend.intents() if i.name != "FallbackIntent")
    return {
        **result.to_dict(),
        "suggested": {u: i for u, i in suggested.items() if i in intents},
        "intents": intents,
        "backend": {"kind": backend.kind, "bot": backend.bot, "locale_id": backend.locale_id},
        "writable": bool(state.settings.write_widgets),
    }


@reads.get("/api/curation/audit")
def audit(request: Request, limit: int = 50) -> dict[str, Any]:
    from lexboard.bots.curation import audit_entries

    if limit < 1:
        raise ApiError(400, "limit must be at least 1")
    with state_of(request).reading() as store:
        return audit_entries(store, limit)


@reads.get("/api/curation/csrf")
def csrf(request: Request) -> dict[str, Any]:
    return {
        "csrf": csrf_token(request, getattr(request.state, "user", None)),
        "writable": bool(state_of(request).settings.write_widgets),
    }


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


def _who(request: Request, body: Mapping[str, Any]) -> str:
    user: User = request.state.user
    given = body.get("who")
    if user.name == "local" and isinstance(given, str) and given.strip():
        return given.strip()[:100]
    return user.name


@writes.post("/api/curation/add")
async def add(request: Request) -> dict[str, Any]:
    """``{items: [{intent, utterance}, ...]}`` (or ``{intent, utterances}``): each checked."""
    from lexboard.bots.curation import add_utterances

    _guard_write(request)
    body = await _body(request)
    items = body.get("items")
    if items is None and isinstance(body.get("utterances"), list):
        items = [{"intent": body.get("intent"), "utterance": u} for u in body["utterances"]]
    if not isinstance(items, list) or not items or len(items) > 200:
        raise ApiError(400, "items must be a list of 1 to 200 {intent, utterance} objects")
    grouped: dict[str, list[str]] = {}
    for item in items:
        if not (
            isinstance(item, dict)
            and isinstance(item.get("intent"), str)
            and isinstance(item.get("utterance"), str)
        ):
            raise ApiError(400, "each item needs a string intent and a string utterance")
        grouped.setdefault(item["intent"], []).append(item["utterance"])
    state = state_of(request)
    backend = _backend(request, body.get("bot"))
    who = _who(request, body)

    def run() -> list[dict[str, Any]]:
        results = []
        with state.writing() as store:
            for intent, texts in grouped.items():
                results += [c.to_dict() for c in add_utterances(store, backend, intent, texts, who)]
        return results

    return {"results": await run_in_threadpool(run)}


@writes.post("/api/curation/undo")
async def undo(request: Request) -> dict[str, Any]:
    from lexboard.bots.curation import undo as undo_change

    _guard_write(request)
    body = await _body(request)
    audit_id = body.get("id")
    if not isinstance(audit_id, int) or isinstance(audit_id, bool):
        raise ApiError(400, "id must be an audit entry number")
    state = state_of(request)
    who = _who(request, body)

    def run() -> dict[str, Any]:
        with state.writing() as store:
            return undo_change(store, audit_id, who).to_dict()

    return await run_in_threadpool(run)


@writes.post("/api/curation/build")
async def build(request: Request) -> dict[str, Any]:
    from lexboard.bots.curation import build_locale

    _guard_write(request)
    body = await _body(request)
    backend = _backend(request, body.get("bot"))
    if backend.kind != "api":
        raise ApiError(400, "a local export is not built", "build needs the Models API backend")
    state = state_of(request)
    who = _who(request, body)

    def run() -> dict[str, Any]:
        with state.writing() as store:
            return build_locale(store, backend, who).to_dict()

    return await run_in_threadpool(run)
