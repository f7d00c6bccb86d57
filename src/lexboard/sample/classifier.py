"""A small, real intent classifier over a bot's sample utterances, and slot resolution.

Intent recognition is nearest-neighbour TF-IDF: every sample utterance (with its slot
references filled by example values of the slot's type) becomes a vector of character
3–5-grams and word unigrams, weighted by sublinear TF × IDF and L2-normalised; an
utterance's score for an intent is its best cosine similarity with that intent's
utterances. Below the locale's ``nluConfidenceThreshold`` the turn is missed (Lex then
runs FallbackIntent) and the runners-up keep their scores. Intents with input contexts
compete only while those contexts are active, as in Lex.

Slot values are resolved from the slot types' values and synonyms (``TOP_RESOLUTION``:
anything else is not a value), and for the built-ins the sample bot uses,
``AMAZON.Number`` and ``AMAZON.Date``, by a few patterns.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from lexboard.sample.botdef import BotDef, BotDefinitionError, Intent, export_signature, load_bot

MAX_INTERPRETATIONS = 5
_SLOT_REF = re.compile(r"\{([A-Za-z0-9_]+)\}")
_NON_WORD = re.compile(r"[^a-z0-9']+")
_CACHE_LIMIT = 100_000

# Example values for slot references of the built-in types, when expanding utterances.
_BUILTIN_EXAMPLES = {
    "AMAZON.Number": ("100", "250", "40"),
    "AMAZON.Date": ("today", "tomorrow", "saturday"),
}


def normalize(text: str) -> str:
    """Lower-case words and digits, other characters as single spaces."""
    return " ".join(_NON_WORD.sub(" ", text.lower().replace("’", "'")).split())


def _features(text: str) -> dict[str, float]:
    """Sublinear term frequencies of character 3–5-grams and word unigrams."""
    counts: dict[str, int] = {}
    padded = f" {text} "
    for n in (3, 4, 5):
        for i in range(len(padded) - n + 1):
            gram = padded[i : i + n]
            counts[gram] = counts.get(gram, 0) + 1
    for word in text.split():
        key = "w:" + word
        counts[key] = counts.get(key, 0) + 1
    return {k: 1.0 + math.log(c) for k, c in counts.items()}


@dataclass(frozen=True)
class Classification:
    """Ranked intents for one utterance (best first, at most five) and the verdict."""

    text: str
    ranked: tuple[tuple[str, float], ...]
    threshold: float

    @property
    def intent(self) -> str | None:
        """The recognised intent, or None when the utterance is missed."""
        if self.ranked and self.ranked[0][1] >= self.threshold:
            return self.ranked[0][0]
        return None

    @property
    def missed(self) -> bool:
        return self.intent is None

    @property
    def score(self) -> float:
        return self.ranked[0][1] if self.ranked else 0.0


def expand_utterance(utterance: str, intent: Intent, bot: BotDef, variants: int = 3) -> list[str]:
    """An utterance with its ``{slot}`` references filled by example values of the types."""
    refs = _SLOT_REF.findall(utterance)
    if not refs:
        return [utterance]
    examples: dict[str, tuple[str, ...]] = {}
    for ref in refs:
        try:
            type_name = intent.slot(ref).type_name
        except KeyError:
            examples[ref] = ("",)
            continue
        if type_name in _BUILTIN_EXAMPLES:
            examples[ref] = _BUILTIN_EXAMPLES[type_name]
        else:
            type_values = bot.slot_type(type_name).values
            examples[ref] = tuple(v.value.lower() for v in type_values) or ("",)
    out: list[str] = []
    for k in range(variants):
        # Two references of one type (from X to Y) get different values.
        parts: list[str] = []
        last = 0
        for j, m in enumerate(_SLOT_REF.finditer(utterance)):
            choices = examples[m.group(1)]
            parts += [utterance[last : m.start()], choices[(k + j) % len(choices)]]
            last = m.end()
        filled = "".join([*parts, utterance[last:]])
        if filled not in out:
            out.append(filled)
    return out


class Classifier:
    """TF-IDF nearest-neighbour intent recognition over one bot's sample utterances."""

    def __init__(self, bot: BotDef) -> None:
        self.bot = bot
        self.threshold = bot.threshold
        self.resolver = SlotResolver(bot)
        docs: list[tuple[str, dict[str, float]]] = []
        for intent in bot.intents:
            if intent.is_fallback:
                continue
            for utterance in intent.utterances:
                for text in expand_utterance(utterance, intent, bot):
                    norm = normalize(text)
                    if norm:
                        docs.append((intent.name, _features(norm)))
        df: dict[str, int] = {}
        for _, feats in docs:
            for key in feats:
                df[key] = df.get(key, 0) + 1
        total = len(docs)
        self._idf = {k: math.log((1 + total) / (1 + d)) + 1.0 for k, d in df.items()}
        self._unseen_idf = math.log(1 + total) + 1.0
        self._doc_count = total
        # Documents are grouped by intent: each intent owns one contiguous range.
        self._ranges: list[tuple[str, int, int]] = []
        self._postings: dict[str, list[tuple[int, float]]] = {}
        for index, (intent_name, feats) in enumerate(docs):
            if not self._ranges or self._ranges[-1][0] != intent_name:
                self._ranges.append((intent_name, index, index + 1))
            else:
                name, first, _ = self._ranges[-1]
                self._ranges[-1] = (name, first, index + 1)
            weights = {k: v * self._idf[k] for k, v in feats.items()}
            length = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            for key, weight in weights.items():
                self._postings.setdefault(key, []).append((index, weight / length))
        self._contexts_needed = {i.name: frozenset(i.input_contexts) for i in bot.intents}
        self._cache: dict[tuple[str, frozenset[str]], Classification] = {}

    @classmethod
    def from_path(cls, path: str | Path) -> Classifier:
        return cls(load_bot(path))

    def classify(self, text: str, contexts: Iterable[str] = ()) -> Classification:
        """Rank the intents for ``text``; ``contexts`` are the active context names."""
        norm = normalize(text)
        active = frozenset(contexts)
        key = (norm, active)
        cached = self._cache.get(key)
        if cached is not None:
            return Classification(text, cached.ranked, cached.threshold)
        result = Classification(text, self._rank(norm, active), self.threshold)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = result
        return result

    def _rank(self, norm: str, active: frozenset[str]) -> tuple[tuple[str, float], ...]:
        if not norm:
            return ()
        feats = _features(norm)
        idf, unseen = self._idf, self._unseen_idf
        weights = {k: v * idf.get(k, unseen) for k, v in feats.items()}
        qnorm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        scores = [0.0] * self._doc_count
        postings = self._postings
        for key, weight in weights.items():
            posting = postings.get(key)
            if posting is not None:
                q = weight / qnorm
                for index, dweight in posting:
                    scores[index] += q * dweight
        eligible = []
        for name, first, last in self._ranges:
            if self._contexts_needed.get(name, frozenset()) <= active:
                best = max(scores[first:last])
                if best > 0:
                    eligible.append((name, min(1.0, best)))
        eligible.sort(key=lambda item: (-item[1], item[0]))
        return tuple(eligible[:MAX_INTERPRETATIONS])


class ReloadingClassifier:
    """A classifier that follows its export: edited sample utterances count at once."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._signature = export_signature(self.path)
        self._classifier = Classifier.from_path(self.path)

    def current(self) -> Classifier:
        """The classifier for the export as it is now (the previous one if it is mid-edit)."""
        signature = export_signature(self.path)
        if signature != self._signature:
            try:
                self._classifier = Classifier.from_path(self.path)
                self._signature = signature
            except BotDefinitionError:
                pass  # a half-written file: keep the last good model, retry next time
        return self._classifier


# --- slot values ---------------------------------------------------------------------


@dataclass(frozen=True)
class SlotFill:
    """One resolved value: what the user said, what Lex made of it, the resolutions."""

    original: str
    interpreted: str
    resolved: tuple[str, ...]


_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE_PATTERNS = (
    ("iso", re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")),
    ("us", re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})(?!\d)")),
    (
        "month_day",
        re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?(?![\d])"),
    ),
    (
        "day_month",
        re.compile(
            rf"(?<!\d)(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\b(?:,?\s+(\d{{4}}))?"
        ),
    ),
    ("relative", re.compile(r"\b(today|tomorrow|yesterday|tonight)\b")),
    ("weekday", re.compile(rf"\b({'|'.join(_WEEKDAYS)})\b")),
)
_NUMBER = re.compile(r"(?<![\w.])\$?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(?![\w])")
_SMALL_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_SMALL = {word: value for value, word in enumerate(_SMALL_WORDS.split(" "))}
_TENS_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety"
_TENS = {word: 10 * (i + 2) for i, word in enumerate(_TENS_WORDS.split(" "))}
_NUMBER_WORDS = re.compile(
    r"\b(?:(?:" + "|".join([*_SMALL, *_TENS, "hundred", "thousand", "and"]) + r")\b\s*)+"
)


def _year(text: str | None, default: int) -> int:
    if text is None:
        return default
    value = int(text)
    if len(text) == 2:
        return 2000 + value if value < 30 else 1900 + value
    return value


def _words_to_number(text: str) -> int | None:
    total, current, seen = 0, 0, False
    for word in text.split():
        if word in _SMALL:
            current += _SMALL[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total += max(current, 1) * 1000
            current = 0
        elif word == "and":
            continue
        else:
            return None
        seen = True
    return total + current if seen else None


class SlotResolver:
    """Finds slot values in an utterance, from the bot's slot types."""

    def __init__(self, bot: BotDef) -> None:
        self.bot = bot
        self._patterns: dict[str, tuple[re.Pattern[str], dict[str, str]]] = {}
        for name, slot_type in bot.slot_types.items():
            phrases: dict[str, str] = {}
            for value in slot_type.values:
                for phrase in (value.value, *value.synonyms):
                    norm = normalize(phrase)
                    if norm and norm not in phrases:
                        phrases[norm] = value.value
            words = [p for p in phrases if not p.isdigit()]
            if phrases:
                alternation = (
                    "|".join(re.escape(p) for p in sorted(words, key=lambda p: (-len(p), p)))
                    or "(?!)"
                )
                pattern = re.compile(rf"(?<![a-z0-9'])(?:{alternation})(?![a-z0-9'])")
                self._patterns[name] = (pattern, phrases)

    def find(self, type_name: str, text: str, today: date) -> list[tuple[str, SlotFill]]:
        """Every value of the type in ``text`` in order, each with the word said before it."""
        if type_name == "AMAZON.Number":
            return self._numbers(text)
        if type_name == "AMAZON.Date":
            return self._dates(text, today)
        entry = self._patterns.get(type_name)
        if entry is None:
            return []
        pattern, phrases = entry
        norm = normalize(text)
        if norm.isdigit():
            # A synonym that is a key (DTMF menus: "press 1 for checking") is the whole input.
            return (
                [("", SlotFill(norm, phrases[norm], (phrases[norm],)))] if norm in phrases else []
            )
        return [
            (
                _cue(norm, m.start()),
                SlotFill(m.group(0), phrases[m.group(0)], (phrases[m.group(0)],)),
            )
            for m in pattern.finditer(norm)
        ]

    def _numbers(self, text: str) -> list[tuple[str, SlotFill]]:
        lowered = text.lower()
        found: list[tuple[int, str, SlotFill]] = []
        for m in _NUMBER.finditer(lowered):
            digits = m.group(1).replace(",", "")
            value = digits + (f".{m.group(2)}" if m.group(2) else "")
            found.append(
                (m.start(), _cue(lowered, m.start()), SlotFill(m.group(0), value, (value,)))
            )
        for m in _NUMBER_WORDS.finditer(lowered):
            phrase = m.group(0).strip()
            number = _words_to_number(phrase)
            if number is not None:
                fill = SlotFill(phrase, str(number), (str(number),))
                found.append((m.start(), _cue(lowered, m.start()), fill))
        found.sort(key=lambda item: item[0])
        return [(cue, fill) for _, cue, fill in found]

    def _dates(self, text: str, today: date) -> list[tuple[str, SlotFill]]:
        lowered = normalize_date_text(text)
        found: list[tuple[int, str, SlotFill]] = []
        taken: list[tuple[int, int]] = []
        for kind, pattern in _DATE_PATTERNS:
            for m in pattern.finditer(lowered):
                if any(m.start() < end and start < m.end() for start, end in taken):
                    continue
                value = _date_value(kind, m, today)
                if value is None:
                    continue
                taken.append((m.start(), m.end()))
                iso = value.isoformat()
                found.append(
                    (m.start(), _cue(lowered, m.start()), SlotFill(m.group(0), iso, (iso,)))
                )
        found.sort(key=lambda item: item[0])
        return [(cue, fill) for _, cue, fill in found]

    def fill(
        self, intent: Intent, text: str, today: date, only: str | None = None
    ) -> dict[str, SlotFill | list[SlotFill]]:
        """Slot values of ``intent`` found in ``text`` (only slot ``only`` when eliciting it).

        Two slots of one type are told apart by the word before the value: "from" picks
        the first of them in priority order, "to"/"into" the last, otherwise the first
        still unfilled.
        """
        slots = [intent.slot(only)] if only else list(intent.slots)
        filled: dict[str, SlotFill | list[SlotFill]] = {}
        by_type: dict[str, list[str]] = {}
        for slot in slots:
            by_type.setdefault(slot.type_name, []).append(slot.name)
        for type_name, names in by_type.items():
            matches = self.find(type_name, text, today)
            if not matches:
                continue
            if len(names) == 1:
                slot = intent.slot(names[0])
                if slot.multiple:
                    unique: list[SlotFill] = []
                    for _, fill in matches:
                        if all(u.interpreted != fill.interpreted for u in unique):
                            unique.append(fill)
                    filled[slot.name] = unique
                else:
                    filled[slot.name] = matches[0][1]
                continue
            for cue, fill in matches:
                free = [n for n in names if n not in filled]
                if not free:
                    break
                if cue == "from" and names[0] in free:
                    filled[names[0]] = fill
                elif cue in ("to", "into") and names[-1] in free:
                    filled[names[-1]] = fill
                else:
                    filled[free[0]] = fill
        return filled


_FILLERS = frozenset({"my", "the", "a", "an", "our", "your", "of", "over"})


def _cue(text: str, position: int) -> str:
    """The word said before a value, skipping fillers ("into my savings" → "into")."""
    before = [w for w in text[:position].split() if w not in _FILLERS]
    return before[-1] if before else ""


def normalize_date_text(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9/\-,. ]+", " ", text.lower()).split())


def _date_value(kind: str, m: re.Match[str], today: date) -> date | None:
    try:
        if kind == "iso":
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if kind == "us":
            return date(_year(m.group(3), today.year), int(m.group(1)), int(m.group(2)))
        if kind == "month_day":
            return date(_year(m.group(3), today.year), _MONTHS[m.group(1)], int(m.group(2)))
        if kind == "day_month":
            return date(_year(m.group(3), today.year), _MONTHS[m.group(2)], int(m.group(1)))
        if kind == "relative":
            offset = {"today": 0, "tonight": 0, "tomorrow": 1, "yesterday": -1}[m.group(1)]
            return today + timedelta(days=offset)
        if kind == "weekday":
            ahead = (_WEEKDAYS.index(m.group(1)) - today.weekday()) % 7
            return today + timedelta(days=ahead)
    except (ValueError, KeyError):
        return None
    return None
