"""Bots: a Lex V2 export (directory or zip) or the Lex V2 Models API, and curation over both.

The server's write endpoints and the CLI call ``lexboard.bots.curation``; the backends
live in ``export`` and ``lexapi`` (which imports boto3 only when used).
"""

from lexboard.bots.base import BotBackend, BuildResult, IntentInfo
from lexboard.bots.curation import (
    Change,
    add_utterances,
    audit_entries,
    audit_entry,
    build_locale,
    list_missed,
    open_backend,
    undo,
)

__all__ = [
    "BotBackend",
    "BuildResult",
    "Change",
    "IntentInfo",
    "add_utterances",
    "audit_entries",
    "audit_entry",
    "build_locale",
    "list_missed",
    "open_backend",
    "undo",
]
