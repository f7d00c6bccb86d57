"""Simulated customers talking to the sample bot, written as Lex V2 conversation logs.

Each user turn goes through a small Lex: the :class:`~lexboard.sample.classifier.Classifier`
over the bot's *current* sample utterances recognises the intent (or misses it, and
FallbackIntent answers), slots are resolved from the slot types, elicited in priority
order and re-prompted when the value is not one the bot knows, confirmations are asked
and answered, and each turn becomes one record in the shape of ``LEX_V2_LOGS.md``
(``nluConfidence`` a string, none on FallbackIntent, FallbackIntent in ``sessionState``
on a missed turn).

The users have their own language: mostly the bot's sample phrases, often paraphrases
the bot has never seen (so curation has something to add), sometimes off-topic requests,
typos, speech mis-recognitions, invalid slot values; they switch intents, deny
confirmations, give up, come back after the idle timeout. Traffic follows a daily and
weekly rhythm in the users' time zone.

Everything is drawn from ``random.Random`` instances seeded from the caller's seed (never
the global generator, never the wall clock), so a seed and a window give the same
records, byte for byte.
"""

from __future__ import annotations

import heapq
import math
import random
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from lexboard.sample.botdef import FALLBACK_INTENT, BotDef, Intent, Slot, load_bot
from lexboard.sample.classifier import (
    Classification,
    Classifier,
    ReloadingClassifier,
    SlotFill,
    normalize,
)

DEFAULT_TZ = "America/New_York"
MAX_TURNS = 24
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000

# Aliases: production traffic, and the team trying the draft in the console.
PRODUCTION_ALIAS = ("ZK4NW2GQ8T", "Production", "3")
TEST_ALIAS = ("TSTALIASID", "TestBotAlias", "DRAFT")

# Sessions per hour of the local day (relative), weekdays and weekends.
_WEEKDAY_HOURS = (
    0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.45, 0.9, 1.5, 2.0, 2.2, 2.2,
    2.0, 2.1, 2.1, 2.0, 1.8, 1.5, 1.2, 1.0, 0.85, 0.65, 0.45, 0.25,
)  # fmt: skip
_WEEKEND_HOURS = (
    0.2, 0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.35, 0.55, 0.75, 0.9, 0.95,
    0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.5, 0.4, 0.3, 0.25,
)  # fmt: skip
_DAY_FACTOR = (1.1, 1.0, 1.0, 1.0, 0.95, 1.0, 1.0)  # Monday … Sunday
_MEAN_DAY_WEIGHT = (
    sum(_DAY_FACTOR[d] * sum(_WEEKDAY_HOURS if d < 5 else _WEEKEND_HOURS) for d in range(7)) / 7
)

# --- the users' language -------------------------------------------------------------

# What users say for an intent that is NOT among the bot's sample utterances. Some of
# these the classifier still recognises (they are close enough), the others are missed:
# the material of curation.
PARAPHRASES: dict[str, tuple[str, ...]] = {
    "Welcome": ("yo", "hi bank", "hey bot", "good day", "hello?", "hi, anybody home"),
    "CheckBalance": (
        "how much cash do I have",
        "how much money is left",
        "what's left in my account",
        "am I overdrawn",
        "do I have enough money for rent",
        "show my {accountType} funds",
        "what's my available balance",
        "balance on {accountType} please",
        "can I see how much money I have",
        "money in my account?",
        "whats in my acct",
        "tell me what I have in {accountType}",
        "how much have I got",
        "current funds",
        "remaining balance on my {accountType}",
        "how much can I spend",
    ),
    "FollowupBalance": (
        "and {accountType}?",
        "what about the {accountType} one",
        "the other account too",
        "ok and {accountType}",
    ),
    "TransferFunds": (
        "send {transferAmount} bucks to {targetAccountType}",
        "move cash over to {targetAccountType}",
        "put some money in {targetAccountType}",
        "I want to send money from {sourceAccountType} to {targetAccountType}",
        "transfer between my accounts",
        "can you move {transferAmount} for me",
        "top up my {targetAccountType}",
        "pay {transferAmount} into my {targetAccountType} from {sourceAccountType}",
        "shift some funds around",
        "I need money in {targetAccountType}",
    ),
    "ReportLostCard": (
        "my wallet got stolen",
        "I think someone took my card",
        "my card is lost",
        "cancel my {cardType} card asap",
        "card missing",
        "I left my card at a restaurant",
        "stop my card",
        "my {cardType} got stolen",
        "can't find my wallet anywhere",
        "someone is using my card",
    ),
    "OpenAccount": (
        "I'd like a new {newAccountType} account",
        "how can I become a member",
        "sign up",
        "I want to bank with you",
        "get a new account",
        "open up an account for my kid",
        "new {newAccountType} account please",
        "can I have another account",
    ),
    "BranchHours": (
        "what time do you guys open",
        "are you open sunday",
        "when do you close today",
        "is the {branchLocation} office open",
        "closest branch",
        "holiday hours",
        "hours of the {branchLocation} location",
        "till what time are you open",
    ),
    "SpeakToAgent": (
        "talk to a human",
        "I need help from a real person",
        "can I call someone",
        "this isn't working, get me a person",
        "customer service please",
        "speak with somebody",
        "put me through to a person",
    ),
    "Goodbye": (
        "thanks a lot",
        "great thanks",
        "that's everything",
        "ok thank you",
        "perfect thanks",
        "no that's all for today",
        "cool bye",
    ),
}

# Requests the bot has no intent for at all: they land in FallbackIntent.
OFF_TOPIC = (
    "what's the routing number",
    "I want to dispute a charge",
    "can I get a loan",
    "what are your mortgage rates",
    "update my address",
    "reset my password",
    "why was I charged a fee",
    "pay my credit card bill",
    "order new checks",
    "what's the interest rate",
    "change my pin",
    "where's the closest atm",
    "increase my credit limit",
    "can I deposit a check with my phone",
    "report fraud",
    "asdf",
    "do you do currency exchange",
    "my app keeps crashing",
)

_INVALID: dict[str, tuple[str, ...]] = {
    "AccountType": (
        "the business one",
        "my platinum account",
        "investment",
        "the joint one",
        "i don't know",
        "whichever",
        "my main one",
    ),
    "CardType": ("the black one", "amex", "the new one", "both"),
    "BankingService": ("free coffee", "nothing fancy", "the usual stuff", "whatever is free"),
    "BranchLocation": ("chicago", "the one near me", "miami", "near my office"),
    "AMAZON.Date": ("my birthday", "i'd rather not say", "why do you need that", "last spring"),
    "AMAZON.Number": ("a lot", "some money", "all of it", "not sure", "the usual amount"),
}
_YES = ("yes", "yes please", "yeah", "sure", "go ahead", "yep", "correct", "that's right", "ok")
_NO = ("no", "no thanks", "cancel", "wait no", "nope", "don't do that", "no stop")
_UNSURE = ("hmm", "what?", "maybe", "hold on")
_YES_WORDS = frozenset({"yes", "yeah", "yep", "sure", "ok", "okay", "correct", "right", "ahead"})
_NO_WORDS = frozenset({"no", "nope", "cancel", "don't", "dont", "stop", "nah", "not"})
_VALUE_WRAPPERS = ("{v}", "{v}", "{v}", "my {v}", "{v} please", "the {v} one", "it's {v}")
_SPEECH_CONFUSIONS = {
    "balance": "ballots",
    "checking": "chicken",
    "transfer": "trance fur",
    "savings": "saving's",
    "card": "cart",
    "account": "a count",
    "agent": "a gent",
    "lost": "last",
    "open": "hoping",
    "branch": "brunch",
    "hours": "ours",
    "stolen": "swollen",
    "money": "honey",
    "funds": "fawns",
}
_ACCOUNTS = ("Checking", "Savings", "Credit")
_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_NUMBER_WORDS = {
    20: "twenty",
    25: "twenty five",
    40: "forty",
    50: "fifty",
    75: "seventy five",
    100: "one hundred",
    150: "one hundred fifty",
    200: "two hundred",
    250: "two hundred fifty",
    300: "three hundred",
    500: "five hundred",
    750: "seven hundred fifty",
    1000: "one thousand",
    1200: "one thousand two hundred",
    2000: "two thousand",
}
_NAMES = (
    "Maria", "James", "Aisha", "Wei", "Carlos", "Priya", "John", "Fatima", "Michael", "Sofia",
    "David", "Mei", "Robert", "Olga", "Daniel", "Amara", "Luis", "Hannah", "Kenji", "Grace",
    "Ahmed", "Emily", "Jose", "Chloe", "Ivan", "Zoe", "Samuel", "Nadia", "Peter", "Lucia",
    "Omar", "Rachel", "Tom", "Yara", "Kevin", "Elena", "Brian", "Ana", "Raj", "Laura",
)  # fmt: skip
_GOALS = (
    ("CheckBalance", 30),
    ("TransferFunds", 17),
    ("BranchHours", 12),
    ("ReportLostCard", 9),
    ("OpenAccount", 8),
    ("SpeakToAgent", 8),
    ("OffTopic", 9),
)
_POSITIVE = re.compile("thank|great|perfect|awesome|appreciate|cool|love")
_NEGATIVE = re.compile(
    "stolen|lost|wrong|useless|isn't working|not working|fraud|dispute|fee|crash|overdrawn|"
    "missing|why|no stop|don't"
)


_DAY_PREFIX: dict[int, str] = {}


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as Lex writes timestamps: ``2026-11-02T08:00:00.424Z``."""
    day, rest = divmod(ms, _DAY_MS)
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        prefix = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
        _DAY_PREFIX[day] = prefix
    seconds, millis = divmod(rest, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"


def _to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def random_uuid(rng: random.Random) -> str:
    """A random (version 4) UUID drawn from ``rng``."""
    bits = rng.getrandbits(128)
    bits = (bits & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
    bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def hour_weight(local: datetime) -> float:
    """Relative traffic at a local wall-clock time (1.0 = an average hour)."""
    day = local.weekday()
    hours = _WEEKDAY_HOURS if day < 5 else _WEEKEND_HOURS
    return _DAY_FACTOR[day] * hours[local.hour] * 24 / _MEAN_DAY_WEIGHT


# --- users ---------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    user_id: str
    name: str
    channel: str  # CHAT or VOICE
    voice_operation: str  # StartConversation (Amazon Connect) or RecognizeUtterance (app)
    raw_transcripts: bool
    birth: date
    card_last_four: str
    balances: tuple[tuple[str, float], ...]

    def balance(self, account: str) -> str:
        amount = dict(self.balances).get(account, 0.0)
        return f"${amount:,.2f}"


def make_users(seed: int, count: int = 4000) -> list[User]:
    rng = random.Random(f"lexboard-users:{seed}")
    users = []
    for _ in range(count):
        users.append(
            User(
                user_id=str(rng.randrange(100_000_000_000, 999_999_999_999)),
                name=rng.choice(_NAMES),
                channel="CHAT" if rng.random() < 0.62 else "VOICE",
                voice_operation="StartConversation" if rng.random() < 0.8 else "RecognizeUtterance",
                raw_transcripts=rng.random() < 0.6,
                birth=date(1940, 1, 1) + timedelta(days=rng.randrange(0, 65 * 365)),
                card_last_four=f"{rng.randrange(0, 10_000):04d}",
                balances=(
                    ("Checking", round(rng.uniform(15, 9000), 2)),
                    ("Savings", round(rng.uniform(100, 40000), 2)),
                    ("Credit", round(rng.uniform(0, 4000), 2)),
                ),
            )
        )
    return users


@dataclass
class Say:
    """One user input: what Lex hears (``text``), how, and the speech details."""

    text: str
    mode: str  # Text, Speech or DTMF
    raw: str | None = None
    confidence: float | None = None
    alternatives: tuple[tuple[str, float], ...] = ()
    timeout: bool = False


@dataclass
class Reply:
    """What the bot did with a turn, as the user perceives it."""

    status: str  # missed, elicit, confirm, done, failed
    intent: str
    slot: str | None = None
    retry: bool = False


Value = SlotFill | list[SlotFill]
_SCORE_KEYS = ("positive", "negative", "neutral", "mixed")
# After the label, the runner-up sentiments in a plausible order.
_SENTIMENT_ORDER = {
    "POSITIVE": ("POSITIVE", "NEUTRAL", "MIXED", "NEGATIVE"),
    "NEGATIVE": ("NEGATIVE", "NEUTRAL", "MIXED", "POSITIVE"),
    "NEUTRAL": ("NEUTRAL", "POSITIVE", "NEGATIVE", "MIXED"),
    "MIXED": ("MIXED", "NEGATIVE", "POSITIVE", "NEUTRAL"),
}
_NOT_CLASSIFIED = Classification("", (), 1.0)
_NOT_CONFIRMED = "Sorry, I did not get a yes or a no, so I have not done anything."


@dataclass
class _Context:
    name: str
    expires_ms: int
    turns_left: int
    ttl_s: int
    turns: int
    attributes: dict[str, str]


# --- the bot's side: a small Lex ------------------------------------------------------


class _Lex:
    """Lex's runtime for one conversation: intent, slots, confirmation, contexts."""

    def __init__(self, sim: _Simulator, conv: _Conversation) -> None:
        self.sim = sim
        self.conv = conv
        self.intent: Intent | None = None
        self.slots: dict[str, Value | None] = {}
        self.awaiting: str | None = None  # a slot name, "<confirm>", or None
        self.retries = 0
        self.contexts: dict[str, _Context] = {}
        self._turn_contexts: list[_Context] = []

    def _active(self, now: int) -> list[_Context]:
        return [c for c in self.contexts.values() if c.expires_ms > now and c.turns_left > 0]

    def respond(self, say: Say, now: int) -> tuple[dict[str, Any], Reply]:
        classifier = self.sim.classifier
        active = self._active(now)
        self._turn_contexts = active
        for context in active:
            context.turns_left -= 1
        names = [c.name for c in active]
        today = self.sim.local_date(now)
        # A slot value or a yes/no answers the bot's question: Lex does not look for
        # another intent then, and the record lists the current intent alone.
        answered = _NOT_CLASSIFIED
        if self.intent is not None and self.awaiting not in (None, "<confirm>"):
            slot = self.intent.slot(str(self.awaiting))
            fills = classifier.resolver.fill(self.intent, say.text, today, only=slot.name)
            if slot.name in fills and not say.timeout:
                self.slots[slot.name] = fills[slot.name]
                return self._advance(say, now, answered, names)
            cls = classifier.classify(say.text, names)
            if cls.intent is not None and cls.intent != self.intent.name and not say.timeout:
                return self._start(cls.intent, say, now, cls, names, today)
            return self._retry_slot(slot, say, now, cls, names)
        if self.intent is not None and self.awaiting == "<confirm>":
            words = set(normalize(say.text).split())
            if words & _NO_WORDS or say.text == "2":
                declined = self.intent.declination
                return self._close(say, now, answered, names, "Failed", "Denied", declined)
            if words & _YES_WORDS or say.text == "1":
                return self._fulfil(say, now, answered, names, "Confirmed")
            cls = classifier.classify(say.text, names)
            if cls.intent is not None and cls.intent != self.intent.name:
                return self._start(cls.intent, say, now, cls, names, today)
            self.retries += 1
            if self.retries > self.intent.confirmation_retries:
                return self._close(say, now, cls, names, "Failed", "None", _NOT_CONFIRMED)
            return self._emit(say, now, cls, names, "ConfirmIntent", None, retry=True)
        cls = classifier.classify(say.text, names)
        if cls.intent is None:
            return self._missed(say, now, cls, names)
        return self._start(cls.intent, say, now, cls, names, today)

    # --- steps -----------------------------------------------------------------------

    def _start(
        self,
        name: str,
        say: Say,
        now: int,
        cls: Classification,
        names: list[str],
        today: date,
    ) -> tuple[dict[str, Any], Reply]:
        intent = self.sim.bot.intent(name)
        self.intent = intent
        self.slots = {s.name: None for s in intent.slots}
        self.slots.update(self.sim.classifier.resolver.fill(intent, say.text, today))
        for slot in intent.slots:
            if self.slots.get(slot.name) is None and slot.default_context:
                context_name, attribute = slot.default_context
                context = self.contexts.get(context_name)
                value = context.attributes.get(attribute) if context else None
                if value and context_name in names:
                    self.slots[slot.name] = SlotFill(value, value, (value,))
        self.awaiting = None
        self.retries = 0
        return self._advance(say, now, cls, names, recognised=True)

    def _advance(
        self,
        say: Say,
        now: int,
        cls: Classification,
        names: list[str],
        recognised: bool = False,
    ) -> tuple[dict[str, Any], Reply]:
        assert self.intent is not None
        for slot in self.intent.slots:
            if slot.required and self.slots.get(slot.name) is None:
                self.awaiting = slot.name
                self.retries = 0
                return self._emit(say, now, cls, names, "ElicitSlot", slot, recognised=recognised)
        if self.intent.confirmation:
            self.awaiting = "<confirm>"
            self.retries = 0
            return self._emit(say, now, cls, names, "ConfirmIntent", None, recognised=recognised)
        return self._fulfil(say, now, cls, names, "None", recognised=recognised)

    def _retry_slot(
        self, slot: Slot, say: Say, now: int, cls: Classification, names: list[str]
    ) -> tuple[dict[str, Any], Reply]:
        self.retries += 1
        if self.retries > slot.max_retries:
            return self._close(say, now, cls, names, "Failed", "None", slot.failure)
        return self._emit(say, now, cls, names, "ElicitSlot", slot, retry=True)

    def _fulfil(
        self,
        say: Say,
        now: int,
        cls: Classification,
        names: list[str],
        confirmation: str,
        recognised: bool = False,
    ) -> tuple[dict[str, Any], Reply]:
        assert self.intent is not None
        state = "Fulfilled" if self.intent.fulfillment_hook else "ReadyForFulfillment"
        for out in self.intent.output_contexts:
            attributes = {
                k: v.interpreted for k, v in self.slots.items() if isinstance(v, SlotFill)
            }
            context = _Context(
                out.name, now + out.ttl_s * 1000, out.turns, out.ttl_s, out.turns, attributes
            )
            self.contexts[out.name] = context
            self._turn_contexts = [
                *(c for c in self._turn_contexts if c.name != out.name),
                context,
            ]
        return self._close(
            say, now, cls, names, state, confirmation, self.intent.closing, recognised=recognised
        )

    def _close(
        self,
        say: Say,
        now: int,
        cls: Classification,
        names: list[str],
        state: str,
        confirmation: str,
        message: str | None,
        recognised: bool = False,
    ) -> tuple[dict[str, Any], Reply]:
        assert self.intent is not None
        record = self._record(
            say,
            now,
            cls,
            names,
            intent=self.intent,
            state=state,
            confirmation=confirmation,
            action={"type": "Close"},
            messages=self._messages(message or "Okay."),
            recognised=recognised,
        )
        reply = Reply("done" if state != "Failed" else "failed", self.intent.name)
        self.intent, self.slots, self.awaiting, self.retries = None, {}, None, 0
        return record, reply

    def _emit(
        self,
        say: Say,
        now: int,
        cls: Classification,
        names: list[str],
        action_type: str,
        slot: Slot | None,
        retry: bool = False,
        recognised: bool = False,
    ) -> tuple[dict[str, Any], Reply]:
        assert self.intent is not None
        if slot is not None:
            action = {"type": "ElicitSlot", "slotToElicit": slot.name}
            prompt = slot.retry_prompt if retry else slot.prompt
            reply = Reply("elicit", self.intent.name, slot.name, retry)
        else:
            action = {"type": action_type}
            prompt = self.intent.confirmation or ""
            reply = Reply("confirm", self.intent.name, None, retry)
        record = self._record(
            say,
            now,
            cls,
            names,
            intent=self.intent,
            state="InProgress",
            confirmation="None",
            action=action,
            messages=self._messages(prompt),
            recognised=recognised,
        )
        return record, reply

    def _missed(
        self, say: Say, now: int, cls: Classification, names: list[str]
    ) -> tuple[dict[str, Any], Reply]:
        fallback = self.sim.bot.fallback
        message = fallback.closing if fallback and fallback.closing else "Sorry, can you repeat?"
        record = self._record(
            say,
            now,
            cls,
            names,
            intent=None,
            state="ReadyForFulfillment",
            confirmation="None",
            action={"type": "Close"},
            messages=self._messages(message),
            recognised=False,
        )
        return record, Reply("missed", FALLBACK_INTENT)

    # --- records ---------------------------------------------------------------------

    def _render(self, template: str) -> str:
        if "{" not in template and "((" not in template:
            return template

        def value(name: str) -> str:
            filled = self.slots.get(name)
            if isinstance(filled, list):
                return _spoken_list([f.original for f in filled])
            if isinstance(filled, SlotFill):
                return filled.interpreted
            return ""

        text = template
        for name in self.slots:
            text = text.replace("{" + name + "}", value(name))
        account = self.slots.get("accountType")
        if isinstance(account, SlotFill):
            text = text.replace("((balance))", self.conv.user.balance(account.interpreted))
        return text

    def _messages(self, template: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = [
            {"contentType": "PlainText", "content": self._render(template)}
        ]
        if self.intent is not None and self.intent.name == "Welcome" and self.conv.mode == "Text":
            messages.append(
                {
                    "contentType": "ImageResponseCard",
                    "imageResponseCard": {
                        "title": "What can I help you with?",
                        "buttons": [
                            {"text": "Check balance", "value": "check my balance"},
                            {"text": "Transfer funds", "value": "transfer funds"},
                            {"text": "Report a lost card", "value": "report a lost card"},
                        ],
                    },
                }
            )
        return messages

    def _slot_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in self.slots.items():
            if value is None:
                out[name] = None
            elif isinstance(value, list):
                joined = " and ".join(v.original for v in value)
                out[name] = {
                    "shape": "List",
                    "value": {
                        "originalValue": joined,
                        "interpretedValue": joined,
                        "resolvedValues": [],
                    },
                    "values": [_scalar(v) for v in value],
                }
            else:
                out[name] = _scalar(value)
        return out

    def _record(
        self,
        say: Say,
        now: int,
        cls: Classification,
        names: list[str],
        *,
        intent: Intent | None,
        state: str,
        confirmation: str,
        action: dict[str, Any],
        messages: list[dict[str, Any]],
        recognised: bool,
    ) -> dict[str, Any]:
        sim, conv = self.sim, self.conv
        missed = intent is None
        slots = self._slot_json() if intent is not None else {}
        current = {
            "name": intent.name if intent is not None else FALLBACK_INTENT,
            "slots": slots,
            "state": state,
            "confirmationState": confirmation,
        }
        top: dict[str, Any] = {"intent": current}
        interpretations = [top]
        if intent is not None:
            confidence = cls.score if recognised and cls.intent == intent.name else 1.0
            top["nluConfidence"] = f"{confidence:.2f}"
            others = [(n, s) for n, s in cls.ranked if n != intent.name][:3]
        else:
            others = list(cls.ranked[:4])
        if sim.sentiment and say.text:
            top["sentimentResponse"] = conv.sentiment(say.text)
        top["interpretationSource"] = "Lex"
        for name, score in others:
            alternative = sim.bot.intent(name)
            interpretations.append(
                {
                    "intent": {"name": name, "slots": {s.name: None for s in alternative.slots}},
                    "nluConfidence": f"{max(score, 0.01):.2f}",
                    "interpretationSource": "Lex",
                }
            )
        if intent is not None and len(interpretations) < 5:
            interpretations.append(
                {"intent": {"name": FALLBACK_INTENT, "slots": {}}, "interpretationSource": "Lex"}
            )
        contexts = [
            {
                "name": c.name,
                "contextAttributes": c.attributes,
                "timeToLive": {"timeToLiveInSeconds": c.ttl_s, "turnsToLive": c.turns},
            }
            for c in self._turn_contexts
        ]
        if conv.originating_request_id is None:
            conv.originating_request_id = conv.next_request_id
        session_state: dict[str, Any] = {
            "dialogAction": action,
            "intent": current,
            "sessionAttributes": conv.attributes,
            "originatingRequestId": conv.originating_request_id,
        }
        if contexts:
            session_state["activeContexts"] = contexts
        alias_id, alias_name, version = conv.alias
        record: dict[str, Any] = {
            "messageVersion": "2.0",
            "bot": {
                "id": sim.bot.identifier,
                "name": sim.bot.name,
                "aliasId": alias_id,
                "aliasName": alias_name,
                "version": version,
                "localeId": sim.bot.locale,
            },
            "messages": messages,
            "utteranceContext": {
                "inputMode": say.mode,
                "activeContexts": contexts,
                "runtimeHints": {},
                "slotElicitationStyle": "Default",
            },
            "sessionState": session_state,
            "interpretations": interpretations,
            "sessionId": conv.session_id,
            "inputTranscript": say.text,
        }
        if say.raw is not None:
            record["rawInputTranscript"] = say.raw
        record.update(
            {
                "missedUtterance": missed,
                "requestId": conv.next_request_id,
                "timestamp": iso_ms(now),
                "developerOverride": False,
                "inputMode": say.mode,
                "requestAttributes": {},
                "operationName": conv.operation,
                "responseReason": "StartTimeout" if say.timeout else "UtteranceResponse",
            }
        )
        if say.mode != "Text":
            record["audioProperties"] = None
        if say.mode == "Speech" and not say.timeout:
            resolved = {"intent": current["name"]} if not missed else {}
            record["transcriptions"] = [
                {
                    "transcription": say.text,
                    "transcriptionConfidence": say.confidence,
                    "resolvedContext": resolved,
                    "resolvedSlots": {},
                },
                *(
                    {
                        "transcription": text,
                        "transcriptionConfidence": confidence,
                        "resolvedContext": {},
                        "resolvedSlots": {},
                    }
                    for text, confidence in say.alternatives
                ),
            ]
        return record


def _tidy(phrase: str) -> str:
    """A filled-in phrase without doubled words ("deposit account account")."""
    words = phrase.split()
    return " ".join(w for i, w in enumerate(words) if i == 0 or w != words[i - 1])


def _spoken_list(parts: list[str]) -> str:
    """["a", "b", "c"] → "a, b and c"."""
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _scalar(fill: SlotFill) -> dict[str, Any]:
    return {
        "shape": "Scalar",
        "value": {
            "originalValue": fill.original,
            "interpretedValue": fill.interpreted,
            "resolvedValues": list(fill.resolved),
        },
    }


# --- the users' side -------------------------------------------------------------------


TurnStream = Generator[int | dict[str, Any], None, Reply]
Stream = Generator[int | dict[str, Any], None, str]


class _Conversation:
    """One user, one session id; possibly several Lex conversations (after resuming)."""

    def __init__(self, sim: _Simulator, rng: random.Random, user: User, start_ms: int) -> None:
        self.sim = sim
        self.rng = rng
        self.mood = random.Random(rng.getrandbits(64))
        self.user = user
        self.t = start_ms
        local = sim.local(start_ms)
        testing = local.weekday() < 5 and 9 <= local.hour < 18 and rng.random() < 0.07
        self.alias = TEST_ALIAS if testing else PRODUCTION_ALIAS
        voice = user.channel == "VOICE" and not testing
        self.mode = "Speech" if voice else "Text"
        self.operation = user.voice_operation if voice else "RecognizeText"
        self.session_id = random_uuid(rng) if voice else user.user_id
        self.attributes = {"Channel": "VOICE" if voice else "CHAT", "UserName": user.name}
        self.originating_request_id: str | None = None
        self.next_request_id = random_uuid(rng)
        self.frustration = 0
        self.turns = 0
        self.lex = _Lex(sim, self)
        # The values this user means, should the bot ask.
        source = rng.choices(_ACCOUNTS[:2], [0.7, 0.3])[0]
        self.values: dict[str, Any] = {
            "accountType": rng.choices(_ACCOUNTS, [0.55, 0.35, 0.1])[0],
            "newAccountType": rng.choices(_ACCOUNTS, [0.35, 0.5, 0.15])[0],
            "sourceAccountType": source,
            "targetAccountType": "Savings" if source == "Checking" else "Checking",
            "transferAmount": rng.choice(sorted(_NUMBER_WORDS)),
            "cardType": rng.choice(["Debit", "Credit"]),
            "cardLastFour": user.card_last_four,
            "dateOfBirth": user.birth,
            "visitDate": None,
            "services": rng.sample(
                ["OnlineBanking", "MobileAlerts", "DebitCard", "Checkbook", "PaperStatements"],
                rng.choice([1, 2, 2, 3]),
            ),
            "branchLocation": rng.choice(
                [
                    "Manhattan",
                    "Manhattan",
                    "Brooklyn",
                    "Queens",
                    "Jersey City",
                    "Boston",
                    "Philadelphia",
                ]
            ),
        }

    # --- time and turns --------------------------------------------------------------

    def think(self, reply: Reply | None = None) -> None:
        """The user reads (or hears) the bot's reply and answers."""
        rng = self.rng
        if self.mode == "Text":
            gap = 2500 + rng.lognormvariate(8.7, 0.6)
        else:
            gap = 1500 + rng.lognormvariate(8.0, 0.5)
        if reply is not None and reply.status == "elicit" and reply.slot == "dateOfBirth":
            gap += 2000
        self.t += int(min(gap, 90_000))

    def turn(self, say: Say) -> TurnStream:
        yield self.t
        record, reply = self.lex.respond(say, self.t)
        self.next_request_id = random_uuid(self.rng)
        self.turns += 1
        if reply.status in ("missed", "failed") or reply.retry:
            self.frustration += 1
        yield record
        return reply

    def sentiment(self, text: str) -> dict[str, Any]:
        rng = self.mood  # its own generator: sentiment on or off, the talk is the same
        lowered = text.lower()
        positive = _POSITIVE.search(lowered) is not None
        negative = _NEGATIVE.search(lowered) is not None
        p_negative = min(0.8, 0.05 + 0.12 * self.frustration + (0.4 if negative else 0.0))
        p_positive = 0.07 + (0.6 if positive else 0.0)
        p_mixed = 0.03 + (0.15 if positive and negative else 0.0)
        draw = rng.random()
        if draw < p_negative:
            label = "NEGATIVE"
        elif draw < p_negative + p_positive:
            label = "POSITIVE"
        elif draw < p_negative + p_positive + p_mixed:
            label = "MIXED"
        else:
            label = "NEUTRAL"
        main = rng.uniform(0.55, 0.995)
        second = (1 - main) * rng.uniform(0.5, 0.95)
        third = (1 - main - second) * rng.uniform(0.5, 0.95)
        rest = iter((second, third, 1 - main - second - third))
        scores = {
            key.lower(): round(main if key == label else next(rest), 6)
            for key in _SENTIMENT_ORDER[label]
        }
        return {"sentiment": label, "sentimentScore": {k: scores[k] for k in _SCORE_KEYS}}

    # --- what the user says ----------------------------------------------------------

    def _voice(self, text: str, raw: str | None = None) -> Say:
        rng = self.rng
        spoken = normalize(text)
        if rng.random() < 0.09:
            words = spoken.split()
            confusable = [i for i, w in enumerate(words) if w in _SPEECH_CONFUSIONS]
            if confusable:
                i = rng.choice(confusable)
                words[i] = _SPEECH_CONFUSIONS[words[i]]
            elif len(words) > 2:
                del words[rng.randrange(len(words))]
            heard = " ".join(words)
            if heard != spoken:
                confidence = round(rng.uniform(0.32, 0.68), 2)
                alternative = (spoken, round(rng.uniform(0.2, confidence), 2))
                return Say(
                    heard, "Speech", raw=heard, confidence=confidence, alternatives=(alternative,)
                )
        confidence = round(rng.uniform(0.8, 0.99), 2)
        return Say(spoken, "Speech", raw=normalize(raw) if raw else spoken, confidence=confidence)

    def _typed(self, text: str) -> Say:
        rng = self.rng
        typed = text
        if rng.random() < 0.07:
            words = typed.split()
            long = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
            if long:
                i = rng.choice(long)
                word = words[i]
                j = rng.randrange(1, len(word) - 1)
                kind = rng.random()
                if kind < 0.4:
                    word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
                elif kind < 0.7:
                    word = word[:j] + word[j + 1 :]
                else:
                    word = word[:j] + word[j] + word[j:]
                words[i] = word
                typed = " ".join(words)
        if rng.random() < 0.45:
            typed = typed[:1].upper() + typed[1:]
        if rng.random() < 0.2 and not typed.endswith("?"):
            typed += rng.choice(("?", ".", "!", " please"))
        raw = typed if self.user.raw_transcripts else None
        return Say(typed, "Text", raw=raw)

    def _say(self, text: str, raw: str | None = None) -> Say:
        return self._voice(text, raw) if self.mode == "Speech" else self._typed(text)

    def _surface(
        self, slot_name: str, type_name: str, bare: bool = False
    ) -> tuple[str, str | None]:
        """How the user says the value they mean for a slot (text, spoken raw form).

        ``bare`` is the value alone, to go inside a phrase; otherwise a whole answer.
        """
        rng = self.rng
        value = self.values.get(slot_name)
        if type_name == "AMAZON.Date":
            when = value if isinstance(value, date) else self.sim.local_date(self.t)
            if slot_name == "visitDate" or not isinstance(value, date):
                return rng.choice(("today", "tomorrow", "saturday", "on monday")), None
            month = _MONTH_NAMES[when.month - 1]
            forms = (
                f"{month} {when.day} {when.year}",
                f"{when.month}/{when.day}/{when.year}",
                when.isoformat(),
                f"{when.day} {month} {when.year}",
                f"{month} {when.day}, {when.year}",
            )
            return rng.choice(forms if self.mode == "Text" else forms[:1]), None
        if type_name == "AMAZON.Number":
            if slot_name == "cardLastFour":
                digits = str(value)
                return digits, " ".join(_DIGIT_WORDS[int(d)] for d in digits)
            amount = int(value) if isinstance(value, int) else 100
            words = _NUMBER_WORDS.get(amount, str(amount))
            amounts = (f"{amount}", f"${amount}", f"{amount} dollars")
            choice = amounts[0] if bare else rng.choice(amounts)
            return choice, choice.replace(f"${amount}", f"{words} dollars").replace(
                str(amount), words
            )
        slot_type = self.sim.bot.slot_type(type_name)
        wanted = value if isinstance(value, list) else [value]
        phrases = []
        for item in wanted:
            entry = next((v for v in slot_type.values if v.value == item), None)
            options = [s for s in (entry.synonyms if entry else ()) if not s.isdigit()]
            if bare and options and rng.random() < 0.6:
                options = options[:1]  # inside a phrase, mostly the plain word for it
            phrases.append(rng.choice(options or [str(item).lower()]))
        if bare:
            return _spoken_list(phrases), None
        if len(phrases) > 1:
            text = _spoken_list(phrases)
            return rng.choice(("{v}", "{v} please", "I'd like {v}")).replace("{v}", text), None
        wrapper = rng.choice(_VALUE_WRAPPERS)
        return wrapper.replace("{v}", phrases[0]), None

    def opening(self, goal: str, attempt: int) -> Say:
        """The user's request for ``goal`` (an intent name, or OffTopic)."""
        rng = self.rng
        if goal == "OffTopic":
            return self._say(rng.choice(OFF_TOPIC))
        own = self.sim.user_phrases.get(goal, ())
        paraphrases = PARAPHRASES.get(goal, ())
        use_paraphrase = paraphrases and (not own or rng.random() < (0.3 if attempt == 0 else 0.12))
        template = rng.choice(paraphrases if use_paraphrase else own)
        text, raw = template, template
        try:
            slots = self.sim.bot.intent(goal).slots
        except KeyError:  # the intent left the bot since: the user still asks for it
            slots = ()
        for slot in slots:
            ref = "{" + slot.name + "}"
            if ref in text:
                said, spoken = self._surface(slot.name, slot.type_name, bare=True)
                text = text.replace(ref, said)
                raw = raw.replace(ref, spoken or said)
        text, raw = _tidy(text), _tidy(raw)
        return self._say(text, raw)

    def answer(self, intent_name: str, slot_name: str, retry: bool) -> Say:
        rng = self.rng
        slot = self.sim.bot.intent(intent_name).slot(slot_name)
        if self.mode == "Speech" and rng.random() < 0.03:
            return Say("", "Speech", timeout=True)
        invalid = 0.06 if retry else 0.13
        if rng.random() < invalid and slot.type_name in _INVALID:
            return self._say(rng.choice(_INVALID[slot.type_name]))
        if self.mode == "Speech":
            digits_ok = slot.type_name == "AMAZON.Number"
            menu = slot.type_name == "AccountType"
            if (digits_ok and rng.random() < 0.6) or (menu and rng.random() < 0.3):
                if digits_ok:
                    return Say(str(self.values.get(slot_name) or "0"), "DTMF")
                key = {"Checking": "1", "Savings": "2", "Credit": "3"}
                return Say(key.get(str(self.values.get(slot_name)), "1"), "DTMF")
        text, raw = self._surface(slot.name, slot.type_name)
        return self._say(text, raw)

    def confirm(self, deny: float) -> Say:
        rng = self.rng
        if rng.random() < 0.05:
            return self._say(rng.choice(_UNSURE))
        no = rng.random() < deny
        if self.mode == "Speech" and rng.random() < 0.15:
            return Say("2" if no else "1", "DTMF")
        return self._say(rng.choice(_NO if no else _YES))

    # --- the conversation ------------------------------------------------------------

    def plan(self) -> list[str]:
        rng = self.rng
        goals = [g for g, _ in _GOALS]
        weights = [w for _, w in _GOALS]
        plan = []
        if self.mode == "Text" and rng.random() < 0.3:
            plan.append("Welcome")
        main = rng.choices(goals, weights)[0]
        plan.append(main)
        if main == "CheckBalance" and rng.random() < 0.45:
            plan.append("FollowupBalance")
        if rng.random() < 0.12:
            plan.append(rng.choices(goals[:-2], weights[:-2])[0])
        if rng.random() < 0.35:
            plan.append("Goodbye")
        return plan

    def drop_now(self, reply: Reply) -> bool:
        chance = 0.03 + 0.05 * reply.retry + 0.015 * min(self.frustration, 4)
        if self.mode != "Text":
            chance *= 0.6
        return self.rng.random() < chance

    def pursue(self, goal: str) -> Stream:
        """Talk until ``goal`` is done, failed, abandoned or the user leaves."""
        rng = self.rng
        attempts = 0
        if goal == "FollowupBalance":  # "and what about the other account?"
            checked = self.values["accountType"]
            self.values["accountType"] = rng.choice([a for a in _ACCOUNTS if a != checked])
        say = self.opening(goal, attempts)
        while True:
            reply = yield from self.turn(say)
            if self.turns >= MAX_TURNS:
                return "dropped"
            self.think(reply)
            if reply.status == "missed":
                attempts += 1
                if attempts >= 3 or rng.random() < 0.2:
                    return "gave_up"
                if goal != "SpeakToAgent" and rng.random() < 0.25:
                    goal = "SpeakToAgent"
                    attempts = 0
                elif goal == "OffTopic" and rng.random() < 0.5:
                    return "gave_up"
                say = self.opening(goal, attempts)
                continue
            if reply.status in ("done", "failed"):
                if reply.intent != goal and goal != "OffTopic" and rng.random() < 0.7:
                    attempts += 1  # the bot did something else: ask again
                    if attempts >= 3:
                        return "gave_up"
                    say = self.opening(goal, attempts)
                    continue
                return reply.status
            if self.drop_now(reply):
                return "dropped"
            wrong = reply.intent != goal
            if reply.status == "elicit":
                if (wrong and rng.random() < 0.6) or (not wrong and rng.random() < 0.04):
                    if not wrong:  # changes their mind
                        goal = rng.choice(("SpeakToAgent", "CheckBalance", "BranchHours"))
                    attempts += 1
                    say = self.opening(goal, attempts)
                    continue
                say = self.answer(reply.intent, str(reply.slot), reply.retry)
            else:
                deny = {"TransferFunds": 0.2, "ReportLostCard": 0.1, "OpenAccount": 0.25}
                say = self.confirm(0.85 if wrong else deny.get(reply.intent, 0.15))

    def run(self) -> Generator[int | dict[str, Any], None, None]:
        rng = self.rng
        plan = self.plan()
        resumed = False
        while True:
            outcome = "done"
            unfinished = None
            for goal in plan:
                outcome = yield from self.pursue(goal)
                if outcome in ("dropped", "gave_up"):
                    unfinished = goal
                    break
            can_resume = self.attributes["Channel"] == "CHAT" and not resumed
            chance = 0.35 if outcome == "dropped" else 0.04
            if not can_resume or rng.random() >= chance:
                return
            # Back after the idle timeout: same session id, a new conversation.
            resumed = True
            self.t += int(rng.uniform(self.sim.bot.idle_ttl_s + 60, 4 * 3600) * 1000)
            self.originating_request_id = None
            self.lex = _Lex(self.sim, self)
            self.frustration = 0
            self.turns = 0
            if unfinished and unfinished != "OffTopic" and rng.random() < 0.8:
                plan = [unfinished]
            else:
                plan = [rng.choices([g for g, _ in _GOALS], [w for _, w in _GOALS])[0]]


# --- the simulator -------------------------------------------------------------------


@dataclass
class _Simulator:
    bot: BotDef
    classifier: Classifier
    users: list[User]
    zone: ZoneInfo
    sentiment: bool
    user_phrases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _dates: dict[int, date] = field(default_factory=dict)

    @classmethod
    def create(cls, classifier: Classifier, seed: int, tz: str, sentiment: bool) -> _Simulator:
        bot = classifier.bot
        # The users' common phrases are the bot's sample utterances when the traffic
        # starts; what curation adds later came from them (their paraphrases).
        phrases = {i.name: i.utterances for i in bot.intents if not i.is_fallback}
        return cls(bot, classifier, make_users(seed), ZoneInfo(tz), sentiment, phrases)

    def local(self, ms: int) -> datetime:
        return (_EPOCH + timedelta(milliseconds=ms)).astimezone(self.zone)

    def local_date(self, ms: int) -> date:
        # UTC offsets and their changes fall on quarter hours, so local dates change on
        # quarter hours (UTC) too: one lookup per quarter hour.
        quarter = ms // 900_000
        cached = self._dates.get(quarter)
        if cached is None:
            cached = self._dates[quarter] = self.local(quarter * 900_000).date()
        return cached

    def arrivals(self, rng: random.Random, start_ms: int, end_ms: int, per_day: float) -> list[int]:
        """Session start times in [start, end), following the local daily/weekly rhythm."""
        times: list[int] = []
        hour = start_ms - start_ms % _HOUR_MS
        while hour < end_ms:
            lo, hi = max(hour, start_ms), min(hour + _HOUR_MS, end_ms)
            if hi > lo:
                lam = per_day / 24 * hour_weight(self.local(hour)) * (hi - lo) / _HOUR_MS
                times.extend(sorted(rng.randrange(lo, hi) for _ in range(_poisson(rng, lam))))
            hour += _HOUR_MS
        return times

    def conversation(self, rng: random.Random, start_ms: int) -> _Conversation:
        child = random.Random(rng.getrandbits(64))
        return _Conversation(self, child, child.choice(self.users), start_ms)


def simulate_history(
    bot_dir: str | Path,
    start: datetime,
    end: datetime,
    sessions_per_day: float,
    seed: int,
    sentiment: bool = True,
    tz: str = DEFAULT_TZ,
) -> Iterator[dict[str, Any]]:
    """Records of the conversations started in [start, end), in timestamp order.

    Turns that would fall at or after ``end`` are not written (they have not happened
    yet), so a history ending now looks like live traffic caught mid-conversation.
    """
    start_ms, end_ms = _to_ms(start), _to_ms(end)
    classifier = Classifier(load_bot(bot_dir))
    sim = _Simulator.create(classifier, seed, tz, sentiment)
    rng = random.Random(f"lexboard-history:{seed}:{start_ms}:{end_ms}")
    pending: list[tuple[int, str, dict[str, Any]]] = []
    day = start_ms
    while day < end_ms:
        chunk_end = min(day + _DAY_MS, end_ms)
        for begin in sim.arrivals(rng, day, chunk_end, sessions_per_day):
            ts = begin
            for item in sim.conversation(rng, begin).run():
                if isinstance(item, int):
                    ts = item
                elif ts < end_ms:
                    pending.append((ts, item["requestId"], item))
        pending.sort(key=lambda entry: (entry[0], entry[1]))
        cut = 0
        while cut < len(pending) and pending[cut][0] < chunk_end:
            cut += 1
        for _, _, record in pending[:cut]:
            yield record
        del pending[:cut]
        day = chunk_end
    for _, _, record in pending:
        yield record


class LiveTraffic:
    """Conversations happening now, turn by turn, for a demo or ``sample --follow``.

    ``poll(now)`` returns the records of turns with a timestamp in (previous poll, now],
    in timestamp order. Each turn is classified when it happens, against the bot export
    as it is at that moment: an utterance added to an intent is recognised from the
    next poll on.
    """

    def __init__(
        self,
        bot_dir: str | Path,
        seed: int,
        *,
        sessions_per_day: float = 300,
        tz: str = DEFAULT_TZ,
        sentiment: bool = True,
        start: datetime | None = None,
    ) -> None:
        self.bot_dir = Path(bot_dir)
        self.seed = seed
        self.sessions_per_day = sessions_per_day
        self._reloading = ReloadingClassifier(self.bot_dir)
        self._sim = _Simulator.create(self._reloading.current(), seed, tz, sentiment)
        self._clock_ms: int | None = None
        self._rng = random.Random()
        self._waiting: list[tuple[int, int, Generator[int | dict[str, Any], None, None]]] = []
        self._sequence = 0
        if start is not None:
            self._begin(_to_ms(start))

    def _begin(self, clock_ms: int) -> None:
        # The start instant is part of the seed: two runs started at different times
        # never produce the same request ids.
        self._clock_ms = clock_ms
        self._rng = random.Random(f"lexboard-live:{self.seed}:{clock_ms}")

    @property
    def clock(self) -> datetime | None:
        """The instant up to which traffic has been produced."""
        if self._clock_ms is None:
            return None
        return _EPOCH + timedelta(milliseconds=self._clock_ms)

    @property
    def active_conversations(self) -> int:
        return len(self._waiting)

    def poll(self, now: datetime) -> list[dict[str, Any]]:
        """Records of the turns in (previous poll, now]; the first poll starts the clock.

        Without ``start``, the first poll covers the second before ``now``.
        """
        now_ms = _to_ms(now)
        if self._clock_ms is None:
            self._begin(now_ms - 1000)
        assert self._clock_ms is not None
        if now_ms <= self._clock_ms:
            return []
        classifier = self._reloading.current()
        sim = self._sim
        sim.classifier, sim.bot = classifier, classifier.bot
        for begin in sim.arrivals(self._rng, self._clock_ms + 1, now_ms + 1, self.sessions_per_day):
            stream = sim.conversation(self._rng, begin).run()
            first = next(stream)
            assert isinstance(first, int)
            self._push(first, stream)
        out: list[tuple[int, str, dict[str, Any]]] = []
        while self._waiting and self._waiting[0][0] <= now_ms:
            wake, _, stream = heapq.heappop(self._waiting)
            record = next(stream)
            assert isinstance(record, dict)
            out.append((wake, record["requestId"], record))
            following = next(stream, None)
            if following is not None:
                assert isinstance(following, int)
                self._push(following, stream)
        self._clock_ms = now_ms
        out.sort(key=lambda entry: (entry[0], entry[1]))
        return [record for _, _, record in out]

    def _push(self, wake: int, stream: Generator[int | dict[str, Any], None, None]) -> None:
        self._sequence += 1
        heapq.heappush(self._waiting, (wake, self._sequence, stream))
