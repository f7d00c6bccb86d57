"""The errors lexboard raises on purpose: each is one sentence a user can act on.

The CLI prints ``str(error)`` on one line (plus the hint) and exits non-zero; anything
else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class LexboardError(Exception):
    """A problem the user can fix: bad input, bad settings, a busy store."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(LexboardError):
    """A setting has a bad value; the message says which, where it came from, what is allowed."""


class SourceError(LexboardError):
    """A source cannot be read at all (missing path, unreadable, not logs)."""


class StoreError(LexboardError):
    """The store cannot be opened or written."""


class StoreInUse(StoreError):
    """Another process holds the DuckDB file."""


class MetricError(LexboardError):
    """A metric request is invalid: unknown metric or parameter, bad value, bad window."""


class BotError(LexboardError):
    """A bot (Lex export or Lex V2 Models API) cannot be read or changed."""


class StrictModeFailure(LexboardError):
    """`--strict` ingest quarantined at least one record."""

    exit_code = 1
