"""A Lex V2 bot export (directory or zip, ``LexJson`` format) read into a small model.

Only what the sample bot's classifier and simulated users need is modelled: intents
with their sample utterances, slots (in priority order) and prompts, and slot types
with their values and synonyms. The export layout is Lex's own::

    manifest.json
    <Bot>/Bot.json
    <Bot>/BotLocales/<locale>/BotLocale.json
    <Bot>/BotLocales/<locale>/Intents/<Intent>/Intent.json
    <Bot>/BotLocales/<locale>/Intents/<Intent>/Slots/<Slot>/Slot.json
    <Bot>/BotLocales/<locale>/SlotTypes/<Type>/SlotType.json

Reading never changes the export; keys this model does not know are simply ignored.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from lexboard.errors import LexboardError

FALLBACK_INTENT = "FallbackIntent"
FALLBACK_IDENTIFIER = "FALLBCKINT"
DEFAULT_THRESHOLD = 0.45
DEFAULT_IDLE_TTL_S = 300


class BotDefinitionError(LexboardError):
    """A bot export cannot be read (missing files, bad JSON, no locale)."""


def sample_bot_dir() -> Path:
    """The sample bot shipped with lexboard: an export directory (read it, don't edit it)."""
    return Path(__file__).resolve().parent / "bot"


@dataclass(frozen=True)
class SlotTypeValue:
    value: str
    synonyms: tuple[str, ...]


@dataclass(frozen=True)
class SlotType:
    name: str
    values: tuple[SlotTypeValue, ...]

    @property
    def builtin(self) -> bool:
        return self.name.startswith("AMAZON.")


@dataclass(frozen=True)
class Slot:
    name: str
    type_name: str
    required: bool
    multiple: bool
    prompt: str
    retry_prompt: str
    max_retries: int
    failure: str
    default_context: tuple[str, str] | None  # (#context, slot) from defaultValueSpecification


@dataclass(frozen=True)
class OutputContext:
    name: str
    ttl_s: int
    turns: int


@dataclass(frozen=True)
class Intent:
    name: str
    identifier: str
    utterances: tuple[str, ...]
    slots: tuple[Slot, ...]  # in slotPriorities order
    confirmation: str | None
    declination: str | None
    confirmation_retries: int
    closing: str | None
    input_contexts: tuple[str, ...]
    output_contexts: tuple[OutputContext, ...]
    fulfillment_hook: bool

    @property
    def is_fallback(self) -> bool:
        return self.identifier == FALLBACK_IDENTIFIER or self.name == FALLBACK_INTENT

    def slot(self, name: str) -> Slot:
        for slot in self.slots:
            if slot.name == name:
                return slot
        raise KeyError(name)


@dataclass(frozen=True)
class BotDef:
    name: str
    identifier: str
    version: str
    locale: str
    threshold: float
    idle_ttl_s: int
    intents: tuple[Intent, ...]
    slot_types: dict[str, SlotType]
    source: str

    def intent(self, name: str) -> Intent:
        for intent in self.intents:
            if intent.name == name:
                return intent
        raise KeyError(name)

    @property
    def fallback(self) -> Intent | None:
        return next((i for i in self.intents if i.is_fallback), None)

    def slot_type(self, name: str) -> SlotType:
        return self.slot_types.get(name) or SlotType(name, ())


# --- reading -------------------------------------------------------------------------


def _read_tree(path: Path) -> dict[str, bytes]:
    """Every JSON file of the export, by its POSIX path inside the export."""
    if path.is_file():
        try:
            with zipfile.ZipFile(path) as archive:
                return {
                    info.filename: archive.read(info)
                    for info in archive.infolist()
                    if info.filename.endswith(".json") and not info.is_dir()
                }
        except (zipfile.BadZipFile, OSError) as exc:
            raise BotDefinitionError(
                f"{path}: not a Lex export zip ({exc})", hint="export the bot as LexJson"
            ) from None
    if not path.is_dir():
        raise BotDefinitionError(f"{path}: no such bot export (directory or zip)")
    tree: dict[str, bytes] = {}
    for file in sorted(path.rglob("*.json")):
        try:
            tree[file.relative_to(path).as_posix()] = file.read_bytes()
        except OSError as exc:
            raise BotDefinitionError(f"{file}: cannot read ({exc.strerror or exc})") from None
    return tree


def _json(tree: dict[str, bytes], name: str, where: str) -> Any:
    try:
        return orjson.loads(tree[name])
    except orjson.JSONDecodeError as exc:
        raise BotDefinitionError(f"{where}/{name}: not valid JSON ({exc})") from None


def _message(group_holder: Any) -> tuple[str | None, str | None]:
    """The first message of a prompt or response, and its first variation."""
    if not isinstance(group_holder, dict):
        return None, None
    groups = group_holder.get("messageGroupsList")
    if not isinstance(groups, list) or not groups or not isinstance(groups[0], dict):
        return None, None

    def text(message: Any) -> str | None:
        if not isinstance(message, dict):
            return None
        for key in ("plainTextMessage", "ssmlMessage"):
            value = message.get(key)
            if isinstance(value, dict) and isinstance(value.get("value"), str):
                return str(value["value"])
        return None

    first = text(groups[0].get("message"))
    variations = groups[0].get("variations")
    second = text(variations[0]) if isinstance(variations, list) and variations else None
    return first, second


def _slot(data: dict[str, Any], fallback_name: str) -> Slot:
    elicitation = data.get("valueElicitationSetting") or {}
    prompt_spec = elicitation.get("promptSpecification") or {}
    prompt, variation = _message(prompt_spec)
    capture = elicitation.get("slotCaptureSetting") or {}
    failure, _ = _message(capture.get("failureResponse"))
    default_context = None
    default_spec = elicitation.get("defaultValueSpecification")
    if isinstance(default_spec, dict):
        for item in default_spec.get("defaultValueList") or []:
            value = item.get("defaultValue") if isinstance(item, dict) else None
            if isinstance(value, str) and value.startswith("#") and "." in value:
                context, _, slot_name = value[1:].partition(".")
                default_context = (context, slot_name)
                break
    multiple = data.get("multipleValuesSetting") or {}
    retries = prompt_spec.get("maxRetries")
    return Slot(
        name=str(data.get("name") or fallback_name),
        type_name=str(data.get("slotTypeName") or data.get("slotTypeId") or ""),
        required=elicitation.get("slotConstraint", "Required") == "Required",
        multiple=bool(multiple.get("allowMultipleValues")) if isinstance(multiple, dict) else False,
        prompt=prompt or f"What is the {fallback_name}?",
        retry_prompt=variation or prompt or f"Sorry, what is the {fallback_name}?",
        max_retries=retries if isinstance(retries, int) and retries >= 0 else 2,
        failure=failure or "Sorry, I could not understand. Goodbye.",
        default_context=default_context,
    )


def _intent(tree: dict[str, bytes], base: str, where: str) -> Intent:
    data = _json(tree, f"{base}/Intent.json", where)
    if not isinstance(data, dict):
        raise BotDefinitionError(f"{where}/{base}/Intent.json: not a JSON object")
    name = str(data.get("name") or base.rsplit("/", 1)[-1])
    utterances = tuple(
        str(u["utterance"])
        for u in data.get("sampleUtterances") or []
        if isinstance(u, dict) and isinstance(u.get("utterance"), str) and u["utterance"].strip()
    )
    slot_files = sorted(
        k for k in tree if k.startswith(f"{base}/Slots/") and k.endswith("Slot.json")
    )
    by_name: dict[str, Slot] = {}
    for key in slot_files:
        slot_data = _json(tree, key, where)
        if isinstance(slot_data, dict):
            slot = _slot(slot_data, key.split("/")[-2])
            by_name[slot.name] = slot
    order = [
        str(p.get("slotName"))
        for p in sorted(
            (p for p in data.get("slotPriorities") or [] if isinstance(p, dict)),
            key=lambda p: int(p["priority"]) if isinstance(p.get("priority"), int) else 999,
        )
    ]
    slots = [by_name[n] for n in order if n in by_name]
    slots += [s for n, s in by_name.items() if n not in order]
    confirmation_setting = data.get("intentConfirmationSetting")
    confirmation = declination = None
    confirmation_retries = 1
    if isinstance(confirmation_setting, dict) and confirmation_setting.get("isActive", True):
        spec = confirmation_setting.get("promptSpecification")
        confirmation, _ = _message(spec)
        declination, _ = _message(confirmation_setting.get("declinationResponse"))
        if isinstance(spec, dict) and isinstance(spec.get("maxRetries"), int):
            confirmation_retries = spec["maxRetries"]
    closing_setting = data.get("intentClosingSetting")
    closing = None
    if isinstance(closing_setting, dict) and closing_setting.get("isActive", True):
        closing, _ = _message(closing_setting.get("closingResponse"))
    hook = data.get("fulfillmentCodeHook")
    return Intent(
        name=name,
        identifier=str(data.get("identifier") or ""),
        utterances=utterances,
        slots=tuple(slots),
        confirmation=confirmation,
        declination=declination,
        confirmation_retries=confirmation_retries,
        closing=closing,
        input_contexts=tuple(
            str(c["name"]) for c in data.get("inputContexts") or [] if isinstance(c, dict)
        ),
        output_contexts=tuple(
            OutputContext(
                str(c["name"]),
                int(c.get("timeToLiveInSeconds") or 90),
                int(c.get("turnsToLive") or 5),
            )
            for c in data.get("outputContexts") or []
            if isinstance(c, dict) and "name" in c
        ),
        fulfillment_hook=bool(hook.get("enabled")) if isinstance(hook, dict) else False,
    )


def _slot_type(data: Any, fallback_name: str) -> SlotType:
    values: list[SlotTypeValue] = []
    items = data.get("slotTypeValues") if isinstance(data, dict) else None
    for item in items or []:
        if not isinstance(item, dict):
            continue
        sample = item.get("sampleValue")
        value = sample.get("value") if isinstance(sample, dict) else None
        if not isinstance(value, str):
            continue
        synonyms = tuple(
            str(s["value"])
            for s in item.get("synonyms") or []
            if isinstance(s, dict) and isinstance(s.get("value"), str)
        )
        values.append(SlotTypeValue(value, synonyms))
    name = data.get("name") if isinstance(data, dict) else None
    return SlotType(str(name or fallback_name), tuple(values))


def _bot_root(tree: dict[str, bytes], where: str) -> str:
    roots = sorted(
        k[: -len("Bot.json")] for k in tree if k == "Bot.json" or k.endswith("/Bot.json")
    )
    roots = [r for r in roots if r.count("/") <= 1]
    if not roots:
        raise BotDefinitionError(
            f"{where}: no Bot.json found", hint="point at a Lex V2 export (directory or zip)"
        )
    if len(roots) > 1:
        raise BotDefinitionError(f"{where}: several bots in one export ({', '.join(roots)})")
    return roots[0]


def load_bot(path: str | Path, locale: str | None = None) -> BotDef:
    """Read a Lex V2 export: a zip, its unpacked directory, or the bot's own folder."""
    source = Path(path)
    where = str(source)
    tree = _read_tree(source)
    root = _bot_root(tree, where)
    bot = _json(tree, f"{root}Bot.json", where)
    if not isinstance(bot, dict):
        raise BotDefinitionError(f"{where}/{root}Bot.json: not a JSON object")
    locales = sorted(
        {
            k[len(f"{root}BotLocales/") :].split("/")[0]
            for k in tree
            if k.startswith(f"{root}BotLocales/")
        }
    )
    chosen = locale or (
        "en_US" if "en_US" in locales else (locales[0] if len(locales) == 1 else None)
    )
    if chosen is None or chosen not in locales:
        raise BotDefinitionError(
            f"{where}: locale {chosen or '(none given)'} not in the export",
            hint="locales: " + (", ".join(locales) or "none"),
        )
    base = f"{root}BotLocales/{chosen}"
    locale_data = tree.get(f"{base}/BotLocale.json")
    threshold = DEFAULT_THRESHOLD
    if locale_data is not None:
        parsed = _json(tree, f"{base}/BotLocale.json", where)
        value = parsed.get("nluConfidenceThreshold") if isinstance(parsed, dict) else None
        if isinstance(value, int | float) and 0 <= value <= 1:
            threshold = float(value)
    intent_dirs = sorted(
        k[: -len("/Intent.json")]
        for k in tree
        if k.startswith(f"{base}/Intents/")
        and k.endswith("/Intent.json")
        and k.count("/") == base.count("/") + 3
    )
    intents = tuple(_intent(tree, d, where) for d in intent_dirs)
    slot_types: dict[str, SlotType] = {}
    for key in sorted(
        k for k in tree if k.startswith(f"{base}/SlotTypes/") and k.endswith("/SlotType.json")
    ):
        slot_type = _slot_type(_json(tree, key, where), key.split("/")[-2])
        slot_types[slot_type.name] = slot_type
    ttl = bot.get("idleSessionTTLInSeconds")
    return BotDef(
        name=str(bot.get("name") or root.rstrip("/") or "bot"),
        identifier=str(bot.get("identifier") or ""),
        version=str(bot.get("version") or "DRAFT"),
        locale=chosen,
        threshold=threshold,
        idle_ttl_s=ttl if isinstance(ttl, int) and ttl > 0 else DEFAULT_IDLE_TTL_S,
        intents=intents,
        slot_types=slot_types,
        source=where,
    )


def export_signature(path: str | Path) -> tuple[tuple[str, int, int], ...]:
    """A cheap fingerprint of an export directory (or zip): changes when any file changes."""
    source = Path(path)
    files = [source] if source.is_file() else sorted(source.rglob("*.json"))
    signature = []
    for file in files:
        try:
            stat = file.stat()
        except OSError:
            continue
        signature.append((str(file), stat.st_mtime_ns, stat.st_size))
    return tuple(signature)
