"""What curation needs from a bot, whichever backend holds it (a Lex export or the API)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

FALLBACK_INTENT = "FallbackIntent"
FALLBACK_IDENTIFIER = "FALLBCKINT"
FALLBACK_SIGNATURE = "AMAZON.FallbackIntent"
DRAFT = "DRAFT"


@dataclass(frozen=True)
class IntentInfo:
    """One intent of a bot locale with its sample utterances, as the bot holds them now."""

    name: str
    identifier: str | None
    utterances: tuple[str, ...]
    parent_signature: str | None = None

    @property
    def is_fallback(self) -> bool:
        return (
            self.name == FALLBACK_INTENT
            or self.identifier == FALLBACK_IDENTIFIER
            or self.parent_signature == FALLBACK_SIGNATURE
        )


@dataclass(frozen=True)
class BuildResult:
    """How a build of the DRAFT bot locale ended (``ok`` for Built / ReadyExpressTesting)."""

    status: str
    ok: bool
    failure_reasons: tuple[str, ...] = ()
    statuses: tuple[str, ...] = field(default=())
    waited_s: float = 0.0

    def summary(self) -> str:
        if self.ok:
            return f"build {self.status}"
        if self.failure_reasons:
            return f"build {self.status}: " + "; ".join(self.failure_reasons)
        return f"build {self.status}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "ok": self.ok,
            "failure_reasons": list(self.failure_reasons),
            "statuses": list(self.statuses),
            "waited_s": self.waited_s,
        }


StatusCallback = Callable[[str], None]


class BotBackend(Protocol):
    """One interface over a Lex V2 export (directory or zip) and the Lex V2 Models API.

    ``kind`` is ``export`` or ``api``; ``bot`` names the bot in the audit (the bot id, or
    the export's bot identifier or name); ``location`` lets an audit entry find the bot
    again for an undo (the export's absolute path, or the API's region).
    """

    kind: str

    @property
    def bot(self) -> str: ...

    @property
    def bot_id(self) -> str | None: ...

    @property
    def bot_name(self) -> str | None: ...

    @property
    def locale_id(self) -> str: ...

    @property
    def location(self) -> str | None: ...

    def intents(self) -> list[IntentInfo]:
        """Every intent of the locale with its sample utterances (fresh, not cached)."""
        ...

    def add_utterances(self, intent: str, utterances: Sequence[str]) -> None:
        """Append these sample utterances to the intent (already checked by curation)."""
        ...

    def remove_utterance(self, intent: str, utterance: str) -> bool:
        """Remove one sample utterance (exact text); False when the intent does not have it."""
        ...

    def build(
        self,
        on_status: StatusCallback | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> BuildResult:
        """Build the DRAFT locale and wait for the outcome (the API only)."""
        ...
