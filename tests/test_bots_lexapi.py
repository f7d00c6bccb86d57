"""The Lex V2 Models API path through botocore's Stubber on a real ``lexv2-models`` client.

The Stubber checks every call's parameters against the real service model (and every
canned response against the output shape); nothing leaves the process.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
from botocore.stub import Stubber  # noqa: E402

from lexboard.bots.curation import add_utterances, audit_entries, build_locale, undo  # noqa: E402
from lexboard.bots.lexapi import LexApiBackend  # noqa: E402
from lexboard.errors import BotError  # noqa: E402
from lexboard.store import Store, open_store  # noqa: E402

BOT, LOCALE = "BOTID12345", "en_US"
WHERE = {"botId": BOT, "botVersion": "DRAFT", "localeId": LOCALE}
STAMP = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def aws_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and a region; no profile, config file or metadata service."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def client() -> Any:
    return boto3.client("lexv2-models", region_name="us-east-1")


@pytest.fixture
def stub(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "store.duckdb") as s:
        yield s


def summary(intent_id: str, name: str) -> dict[str, Any]:
    return {"intentId": intent_id, "intentName": name, "lastUpdatedDateTime": STAMP}


def described(intent_id: str, name: str, utterances: list[str]) -> dict[str, Any]:
    """What describe_intent answers: read-only fields and nested settings included."""
    answer: dict[str, Any] = {
        **WHERE,
        "intentId": intent_id,
        "intentName": name,
        "description": f"{name} (test)",
        "creationDateTime": STAMP,
        "lastUpdatedDateTime": STAMP,
        "slotPriorities": [{"priority": 1, "slotId": "SLOT000001"}],
        "fulfillmentCodeHook": {"enabled": True, "active": True},
        "dialogCodeHook": {"enabled": False},
        "intentClosingSetting": {
            "closingResponse": {
                "messageGroups": [{"message": {"plainTextMessage": {"value": "Done."}}}],
                "allowInterrupt": True,
            },
            "active": True,
        },
        "outputContexts": [{"name": "ctx", "timeToLiveInSeconds": 90, "turnsToLive": 5}],
    }
    if name == "FallbackIntent":
        answer["parentIntentSignature"] = "AMAZON.FallbackIntent"
    else:
        answer["sampleUtterances"] = [{"utterance": u} for u in utterances]
    return answer


def expected_update(answer: dict[str, Any], utterances: list[str]) -> dict[str, Any]:
    """The exact update_intent parameters: the description minus read-only fields."""
    body = copy.deepcopy(answer)
    for read_only in ("creationDateTime", "lastUpdatedDateTime"):
        body.pop(read_only)
    body["sampleUtterances"] = [{"utterance": u} for u in utterances]
    return body


INTENTS = {
    "FALLBCKINT": ("FallbackIntent", []),
    "CHKBAL0001": ("CheckBalance", ["what is my balance", "check balance"]),
    "XFER000001": ("TransferFunds", ["transfer money", "move funds"]),
}


def stub_listing(stub: Stubber, pages: int = 2) -> None:
    """list_intents over ``pages`` pages, then describe_intent for each intent."""
    ids = list(INTENTS)
    chunks = [ids[:1], ids[1:]] if pages == 2 else [ids]
    for number, chunk in enumerate(chunks):
        params: dict[str, Any] = {**WHERE, "maxResults": 1000}
        if number:
            params["nextToken"] = f"page-{number}"
        response: dict[str, Any] = {
            **WHERE,
            "intentSummaries": [summary(i, INTENTS[i][0]) for i in chunk],
        }
        if number < len(chunks) - 1:
            response["nextToken"] = f"page-{number + 1}"
        stub.add_response("list_intents", response, params)
    for intent_id in ids:
        name, utterances = INTENTS[intent_id]
        stub.add_response(
            "describe_intent",
            described(intent_id, name, utterances),
            {**WHERE, "intentId": intent_id},
        )


def test_intents_follow_pagination(client: Any, stub: Stubber) -> None:
    stub_listing(stub, pages=2)
    intents = LexApiBackend(BOT, LOCALE, client=client).intents()
    assert [(i.name, i.identifier, i.utterances) for i in intents] == [
        ("FallbackIntent", "FALLBCKINT", ()),
        ("CheckBalance", "CHKBAL0001", ("what is my balance", "check balance")),
        ("TransferFunds", "XFER000001", ("transfer money", "move funds")),
    ]
    assert intents[0].is_fallback and not intents[1].is_fallback


def test_add_describes_then_updates_with_exact_parameters(
    client: Any, stub: Stubber, store: Store
) -> None:
    stub_listing(stub)
    answer = described("CHKBAL0001", "CheckBalance", ["what is my balance", "check balance"])
    stub.add_response("describe_intent", answer, {**WHERE, "intentId": "CHKBAL0001"})
    new = ["how much money have i got", "balance of my savings"]
    stub.add_response(
        "update_intent",
        {**expected_update(answer, ["what is my balance", "check balance", *new])},
        expected_update(answer, ["what is my balance", "check balance", *new]),
    )
    backend = LexApiBackend(BOT, LOCALE, client=client)
    changes = add_utterances(
        store, backend, "CheckBalance", [*new, "Check  BALANCE", "move funds"], who="ana"
    )
    assert [(c.utterance, c.result) for c in changes] == [
        ("how much money have i got", "added"),
        ("balance of my savings", "added"),
        ("Check BALANCE", "refused"),
        ("move funds", "refused"),
    ]
    assert changes[2].detail == "already a sample utterance of intent CheckBalance"
    assert changes[3].detail == "already a sample utterance of intent TransferFunds"
    rows = audit_entries(store)["rows"]
    assert {(r["backend"], r["bot"], r["locale"], r["location"], r["who"]) for r in rows} == {
        ("api", BOT, LOCALE, "us-east-1", "ana")
    }


def test_update_sends_only_what_update_intent_accepts(client: Any, stub: Stubber) -> None:
    """Response-only keys (today's and tomorrow's) never go back to UpdateIntent."""
    stub.add_response(
        "list_intents", {**WHERE, "intentSummaries": [summary("CHKBAL0001", "CheckBalance")]}
    )
    answer = described("CHKBAL0001", "CheckBalance", ["check balance"])
    stub.add_response("describe_intent", answer, {**WHERE, "intentId": "CHKBAL0001"})
    stub.add_response(
        "update_intent", {}, expected_update(answer, ["check balance", "what do i have"])
    )
    backend = LexApiBackend(BOT, LOCALE, client=client)
    backend.add_utterances("CheckBalance", ["what do i have"])
    update = client.meta.service_model.operation_model("UpdateIntent").input_shape.members
    assert "creationDateTime" not in update and "lastUpdatedDateTime" not in update


@pytest.mark.parametrize(
    ("code", "status"), [("ConflictException", 409), ("PreconditionFailedException", 412)]
)
def test_conflict_is_one_line_and_audited_as_failed(
    client: Any, stub: Stubber, store: Store, code: str, status: int
) -> None:
    stub_listing(stub, pages=1)
    answer = described("XFER000001", "TransferFunds", ["transfer money", "move funds"])
    stub.add_response("describe_intent", answer, {**WHERE, "intentId": "XFER000001"})
    stub.add_client_error(
        "update_intent",
        service_error_code=code,
        service_message="The bot locale is being built.\nTry again later.",
        http_status_code=status,
        expected_params=expected_update(
            answer, ["transfer money", "move funds", "send cash to my savings"]
        ),
    )
    backend = LexApiBackend(BOT, LOCALE, client=client)
    [change] = add_utterances(store, backend, "TransferFunds", ["send cash to my savings"], "ana")
    assert change.result == "failed"
    assert change.detail == (
        f"Lex V2 UpdateIntent failed ({code}): The bot locale is being built. Try again later."
    )
    assert "\n" not in change.detail
    [row] = audit_entries(store)["rows"]
    assert (row["result"], row["detail"]) == ("failed", change.detail)


def test_access_denied_names_the_iam_action(client: Any, stub: Stubber, store: Store) -> None:
    stub.add_client_error(
        "list_intents",
        service_error_code="AccessDeniedException",
        service_message="User: arn:aws:iam::123456789012:user/ana is not authorized",
        http_status_code=403,
        expected_params={**WHERE, "maxResults": 1000},
    )
    backend = LexApiBackend(BOT, LOCALE, client=client)
    with pytest.raises(BotError) as info:
        add_utterances(store, backend, "CheckBalance", ["hello"], "ana")
    assert str(info.value).startswith(f"AWS denied lex:ListIntents on bot {BOT} (DRAFT, en_US)")
    assert "lex:ListIntents" in (info.value.hint or "")
    [row] = audit_entries(store)["rows"]
    assert row["result"] == "failed" and "lex:ListIntents" in row["detail"]


def test_update_denied_names_update_intent(client: Any, stub: Stubber) -> None:
    stub.add_response(
        "list_intents", {**WHERE, "intentSummaries": [summary("CHKBAL0001", "CheckBalance")]}
    )
    answer = described("CHKBAL0001", "CheckBalance", [])
    stub.add_response("describe_intent", answer, {**WHERE, "intentId": "CHKBAL0001"})
    stub.add_client_error(
        "update_intent", service_error_code="AccessDeniedException", http_status_code=403
    )
    with pytest.raises(BotError, match="AWS denied lex:UpdateIntent"):
        LexApiBackend(BOT, LOCALE, client=client).add_utterances("CheckBalance", ["hi there"])


def test_missing_credentials_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    # loopback and a closed port: even if signing were skipped nothing could leave
    backend = LexApiBackend(BOT, LOCALE, endpoint_url="http://127.0.0.1:9")
    with pytest.raises(BotError) as info:
        backend.intents()
    assert str(info.value) == (
        f"no AWS credentials for the Lex V2 Models API (lex:ListIntents on bot {BOT} "
        "(DRAFT, en_US))"
    )
    assert "AWS_PROFILE" in (info.value.hint or "")


def test_undo_removes_through_the_api(client: Any, stub: Stubber, store: Store) -> None:
    stub.add_response(
        "list_intents", {**WHERE, "intentSummaries": [summary("CHKBAL0001", "CheckBalance")]}
    )
    answer = described("CHKBAL0001", "CheckBalance", ["check balance"])
    stub.add_response("describe_intent", answer, {**WHERE, "intentId": "CHKBAL0001"})
    stub.add_response("describe_intent", answer, {**WHERE, "intentId": "CHKBAL0001"})
    stub.add_response("update_intent", {}, expected_update(answer, ["check balance", "my money"]))
    backend = LexApiBackend(BOT, LOCALE, client=client)
    [added] = add_utterances(store, backend, "CheckBalance", ["my money"], "ana")
    assert added.ok
    after = described("CHKBAL0001", "CheckBalance", ["check balance", "my money"])
    stub.add_response("describe_intent", after, {**WHERE, "intentId": "CHKBAL0001"})
    stub.add_response("update_intent", {}, expected_update(after, ["check balance"]))
    change = undo(store, int(added.id or 0), "ana", backend=backend)
    assert (change.result, change.detail) == (
        "undone",
        f"removed the utterance added by entry {added.id}",
    )
    assert undo(store, int(added.id or 0), "ana", backend=backend).result == "refused"


def stub_build(stub: Stubber, statuses: list[str], final: dict[str, Any]) -> None:
    stub.add_response(
        "build_bot_locale",
        {**WHERE, "botLocaleStatus": "Building", "lastBuildSubmittedDateTime": STAMP},
        WHERE,
    )
    for status in statuses:
        stub.add_response("describe_bot_locale", {**WHERE, "botLocaleStatus": status}, WHERE)
    stub.add_response("describe_bot_locale", {**WHERE, **final}, WHERE)


def test_build_until_built(client: Any, stub: Stubber, store: Store) -> None:
    stub_build(stub, ["Building", "Building"], {"botLocaleStatus": "Built"})
    slept: list[float] = []
    seen: list[str] = []
    backend = LexApiBackend(BOT, LOCALE, client=client, poll_s=2.0)
    result = build_locale(store, backend, "ana", on_status=seen.append, sleep=slept.append)
    assert (result.status, result.ok, result.failure_reasons) == ("Built", True, ())
    assert seen == ["Building", "Built"]
    assert slept == [2.0, 2.0]
    [row] = audit_entries(store)["rows"]
    assert (row["action"], row["result"], row["intent"]) == ("build", "Built", None)


def test_failed_build_shows_the_reasons(client: Any, stub: Stubber, store: Store) -> None:
    reasons = [
        "Failed to build the bot locale: utterance 'move {amount}' references slot amount, "
        "which the intent TransferFunds does not have.",
        "Intent CheckBalance: duplicate sample utterance.",
    ]
    stub_build(stub, ["Building"], {"botLocaleStatus": "Failed", "failureReasons": reasons})
    backend = LexApiBackend(BOT, LOCALE, client=client, poll_s=1.0)
    result = build_locale(store, backend, "ana", sleep=lambda _: None)
    assert (result.status, result.ok) == ("Failed", False)
    assert result.failure_reasons == tuple(reasons)
    assert result.summary() == "build Failed: " + "; ".join(reasons)
    [row] = audit_entries(store)["rows"]
    assert (row["result"], row["detail"]) == ("Failed", "; ".join(reasons))


def test_build_gives_up_after_the_timeout(client: Any, stub: Stubber) -> None:
    stub_build(stub, ["Building", "Building"], {"botLocaleStatus": "Building"})
    backend = LexApiBackend(BOT, LOCALE, client=client, poll_s=5.0, build_timeout_s=10.0)
    result = backend.build(sleep=lambda _: None)
    assert (result.status, result.ok) == ("Building", False)
    assert result.failure_reasons == ("still Building after 10 s; see the Lex console",)


def test_build_conflict_is_one_line(client: Any, stub: Stubber) -> None:
    stub.add_client_error(
        "build_bot_locale",
        service_error_code="PreconditionFailedException",
        service_message="Bot locale is already building.",
        http_status_code=412,
        expected_params=WHERE,
    )
    with pytest.raises(
        BotError,
        match=r"^Lex V2 BuildBotLocale failed \(PreconditionFailedException\): Bot locale is "
        r"already building\.$",
    ):
        LexApiBackend(BOT, LOCALE, client=client).build(sleep=lambda _: None)


def test_conform_drops_response_only_keys_at_every_depth(client: Any) -> None:
    from lexboard.bots.lexapi import conform

    shape = client.meta.service_model.operation_model("UpdateIntent").input_shape
    answer = {
        **described("CHKBAL0001", "CheckBalance", ["check balance"]),
        "ResponseMetadata": {"RequestId": "r-1", "HTTPStatusCode": 200},
        "someFieldAddedNextYear": {"x": 1},
    }
    answer["sampleUtterances"][0]["utteranceScore"] = 0.9
    answer["dialogCodeHook"]["lastInvokedAt"] = STAMP
    body = conform(answer, shape)
    assert set(body) <= set(shape.members)
    assert "ResponseMetadata" not in body and "someFieldAddedNextYear" not in body
    assert body["sampleUtterances"] == [{"utterance": "check balance"}]
    assert body["dialogCodeHook"] == {"enabled": False}
    assert body["intentClosingSetting"] == answer["intentClosingSetting"]
