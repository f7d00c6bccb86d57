"""The sample bot: a Lex V2 export in the real layout, and the classifier over it."""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import date
from pathlib import Path

import pytest

from lexboard.sample.botdef import BotDefinitionError, load_bot, sample_bot_dir
from lexboard.sample.classifier import (
    Classifier,
    ReloadingClassifier,
    SlotFill,
    expand_utterance,
)

BOT = sample_bot_dir()
LOCALE = BOT / "BankingBot" / "BotLocales" / "en_US"
TODAY = date(2026, 11, 2)


def _json(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(path.read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(load_bot(BOT))


def test_export_layout_is_lexs() -> None:
    assert _json(BOT / "manifest.json")["metaData"] == {
        "schemaVersion": "1",
        "resourceType": "BOT",
        "fileFormat": "LexJson",
    }
    bot = _json(BOT / "BankingBot" / "Bot.json")
    assert bot["name"] == "BankingBot" and bot["version"] == "DRAFT"
    assert len(bot["identifier"]) == 10 and bot["idleSessionTTLInSeconds"] == 300
    locale = _json(LOCALE / "BotLocale.json")
    assert locale["identifier"] == "en_US" and 0 < locale["nluConfidenceThreshold"] < 1
    intents = {p.name: _json(p / "Intent.json") for p in sorted((LOCALE / "Intents").iterdir())}
    required = {"Welcome", "CheckBalance", "FollowupBalance", "TransferFunds", "FallbackIntent"}
    assert required <= set(intents) and len(intents) >= 8  # four required + at least three
    slot_types = {p.name for p in (LOCALE / "SlotTypes").iterdir()}
    multiple = []
    for name, intent in intents.items():
        assert intent["name"] == name
        for key in ("identifier", "sampleUtterances", "slotPriorities", "intentClosingSetting"):
            assert key in intent, (name, key)
        if name == "FallbackIntent":
            assert intent["identifier"] == "FALLBCKINT"
            assert intent["sampleUtterances"] is None
            assert intent["parentIntentSignature"] == "AMAZON.FallbackIntent"
            continue
        utterances = [u["utterance"] for u in intent["sampleUtterances"]]
        assert 15 <= len(utterances) <= 30, name
        assert len(set(utterances)) == len(utterances), name
        for priority in intent["slotPriorities"]:
            slot_file = LOCALE / "Intents" / name / "Slots" / priority["slotName"] / "Slot.json"
            slot = _json(slot_file)
            assert slot["name"] == priority["slotName"]
            type_name = slot["slotTypeName"]
            assert type_name.startswith("AMAZON.") or type_name in slot_types, type_name
            if (slot.get("multipleValuesSetting") or {}).get("allowMultipleValues"):
                multiple.append((name, slot["name"]))
            for ref in [u for u in utterances if "{" in u]:
                inner = ref[ref.index("{") + 1 : ref.index("}")]
                assert (LOCALE / "Intents" / name / "Slots" / inner).is_dir(), (name, ref)
    assert multiple == [("OpenAccount", "services")]
    builtins = {
        _json(p)["slotTypeName"] for p in LOCALE.glob("Intents/*/Slots/*/Slot.json")
    } - slot_types
    assert {"AMAZON.Date", "AMAZON.Number"} <= builtins
    for type_dir in (LOCALE / "SlotTypes").iterdir():
        values = _json(type_dir / "SlotType.json")["slotTypeValues"]
        assert values and all(v["sampleValue"]["value"] and v["synonyms"] for v in values)


def test_model_reads_directory_and_zip(tmp_path: Path) -> None:
    bot = load_bot(BOT)
    archive = tmp_path / "BankingBot.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(BOT.rglob("*.json")):
            zf.write(path, path.relative_to(BOT).as_posix())
    zipped = load_bot(archive)
    assert [i.name for i in zipped.intents] == [i.name for i in bot.intents]
    assert zipped.intents == bot.intents and zipped.slot_types == bot.slot_types
    assert load_bot(BOT / "BankingBot").intents == bot.intents  # the bot's own folder
    transfer = bot.intent("TransferFunds")
    assert [s.name for s in transfer.slots] == [
        "sourceAccountType",
        "targetAccountType",
        "transferAmount",
    ]
    assert transfer.confirmation and transfer.declination and transfer.fulfillment_hook
    assert bot.intent("OpenAccount").slot("services").multiple
    assert bot.intent("FollowupBalance").input_contexts == ("contextCheckBalance",)
    assert bot.fallback is not None and bot.fallback.utterances == ()
    assert bot.threshold == pytest.approx(0.45)


def test_bad_exports_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(BotDefinitionError, match="no such bot export"):
        load_bot(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BotDefinitionError, match=r"no Bot\.json"):
        load_bot(tmp_path / "empty")
    copy = tmp_path / "copy"
    shutil.copytree(BOT, copy)
    (copy / "BankingBot/BotLocales/en_US/Intents/Welcome/Intent.json").write_text("{oops")
    with pytest.raises(BotDefinitionError, match=r"Welcome/Intent.json: not valid JSON"):
        load_bot(copy)


def test_every_sample_utterance_is_recognised_as_its_intent(classifier: Classifier) -> None:
    bot = classifier.bot
    for intent in bot.intents:
        for utterance in intent.utterances:
            for text in expand_utterance(utterance, intent, bot):
                result = classifier.classify(text, intent.input_contexts)
                assert result.intent == intent.name, (text, result.ranked)
                assert result.score == pytest.approx(1.0)


def test_gibberish_is_missed_with_runners_up(classifier: Classifier) -> None:
    for text in ("what's the routing number", "I want to dispute a charge", "zzkx qq"):
        result = classifier.classify(text)
        assert result.missed and result.intent is None, (text, result.ranked)
    result = classifier.classify("pay my credit card bill")
    assert result.missed
    assert 1 <= len(result.ranked) <= 5
    assert all(0 < score < classifier.threshold for _, score in result.ranked)
    assert [s for _, s in result.ranked] == sorted((s for _, s in result.ranked), reverse=True)
    assert "FallbackIntent" not in dict(result.ranked)


def test_paraphrases_generalise_and_contexts_gate(classifier: Classifier) -> None:
    assert classifier.classify("How much cash do I have?").intent == "CheckBalance"
    assert classifier.classify("my wallet got stolen").intent == "ReportLostCard"
    assert classifier.classify("Waht can I ask you").intent == "Welcome"  # a typo
    # FollowupBalance needs contextCheckBalance, as in Lex.
    assert classifier.classify("what about savings").intent != "FollowupBalance"
    followup = classifier.classify("what about savings", ["contextCheckBalance"])
    assert followup.intent == "FollowupBalance"


def test_added_utterance_changes_recognition(tmp_path: Path) -> None:
    copy = tmp_path / "bot"
    shutil.copytree(BOT, copy)
    live = ReloadingClassifier(copy)
    phrase = "how much can I spend"
    before = live.current().classify(phrase)
    assert before.missed and before.ranked  # missed, with runners-up
    intent_json = copy / "BankingBot/BotLocales/en_US/Intents/CheckBalance/Intent.json"
    data = json.loads(intent_json.read_text())
    data["sampleUtterances"].append({"utterance": phrase})
    intent_json.write_text(json.dumps(data, indent=2))
    after = live.current().classify(phrase)
    assert after.intent == "CheckBalance" and after.score == pytest.approx(1.0)
    assert live.current().classify("How much can I spend?").intent == "CheckBalance"
    # A half-written file keeps the last good model instead of failing.
    intent_json.write_text('{"name": "CheckBalance", "sampleUtter')
    assert live.current().classify(phrase).intent == "CheckBalance"


def test_slot_values_from_types(classifier: Classifier) -> None:
    bot, resolver = classifier.bot, classifier.resolver
    transfer = bot.intent("TransferFunds")
    fills = resolver.fill(transfer, "transfer $1,200 from my savings into checking", TODAY)
    assert fills == {
        "sourceAccountType": SlotFill("savings", "Savings", ("Savings",)),
        "targetAccountType": SlotFill("checking", "Checking", ("Checking",)),
        "transferAmount": SlotFill("$1,200", "1200", ("1200",)),
    }
    fills = resolver.fill(transfer, "move 50 to my savings account", TODAY)
    assert set(fills) == {"targetAccountType", "transferAmount"}
    services = resolver.fill(
        bot.intent("OpenAccount"), "online banking, text alerts and a checkbook", TODAY
    )["services"]
    assert isinstance(services, list)
    assert [s.interpreted for s in services] == ["OnlineBanking", "MobileAlerts", "Checkbook"]
    balance = bot.intent("CheckBalance")
    for said in ("april 12 1985", "4/12/1985", "1985-04-12", "12 april 1985", "April 12th, 1985"):
        fill = resolver.fill(balance, said, TODAY, only="dateOfBirth")["dateOfBirth"]
        assert isinstance(fill, SlotFill) and fill.interpreted == "1985-04-12", said
    assert resolver.fill(balance, "my birthday", TODAY, only="dateOfBirth") == {}
    assert resolver.fill(balance, "the platinum one", TODAY, only="accountType") == {}
    # A phone-menu key is a value only as the whole input (DTMF).
    assert resolver.fill(balance, "2", TODAY, only="accountType")["accountType"] == SlotFill(
        "2", "Savings", ("Savings",)
    )
    hours = resolver.fill(bot.intent("BranchHours"), "is brooklyn open saturday", TODAY)
    assert hours["visitDate"] == SlotFill("saturday", "2026-11-07", ("2026-11-07",))
