"""A live bot through the Lex V2 Models API (boto3 ``lexv2-models``) as a curation backend.

Only the ``DRAFT`` version can be edited. ``update_intent`` replaces the whole intent, so
every change starts from a fresh ``describe_intent`` whose answer is sent back, limited
to the members UpdateIntent's input shape accepts (read from botocore's service model, so
response-only fields such as ``creationDateTime`` never go back), with the new
``sampleUtterances``. Credentials, region, profile and ``AWS_ENDPOINT_URL`` come from the
standard boto3 configuration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from lexboard.bots.base import DRAFT, BuildResult, IntentInfo, StatusCallback
from lexboard.errors import BotError

SERVICE = "lexv2-models"
BUILT = ("Built", "ReadyExpressTesting")
FAILED = ("Failed",)
DEFAULT_POLL_S = 5.0
DEFAULT_BUILD_TIMEOUT_S = 900.0
_AUTH_CODES = (
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
)
_DENIED_CODES = ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation")
_CREDENTIALS_HINT = (
    "configure AWS credentials the usual way (AWS_PROFILE, `aws configure`, "
    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance role)"
)


def make_client(
    region: str | None = None, profile: str | None = None, endpoint_url: str | None = None
) -> Any:
    """A ``lexv2-models`` client from the standard configuration (env, profile, files)."""
    try:
        import boto3
        import botocore.exceptions
    except ImportError:
        raise BotError(
            "the Lex V2 Models API needs boto3", hint="pip install 'lexboard[aws]'"
        ) from None
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        return session.client(SERVICE, endpoint_url=endpoint_url)
    except botocore.exceptions.ProfileNotFound as exc:
        raise BotError(f"AWS profile not found: {exc}") from None
    except botocore.exceptions.NoRegionError:
        raise BotError(
            "no AWS region configured for the Lex V2 Models API",
            hint="pass --region, or set AWS_REGION / AWS_DEFAULT_REGION or the profile's region",
        ) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise BotError(f"cannot set up the Lex V2 Models API client: {exc}") from None


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def conform(value: Any, shape: Any) -> Any:
    """``value`` limited, recursively, to the members ``shape`` (a botocore Shape) accepts."""
    kind = getattr(shape, "type_name", None)
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: conform(v, members[k]) for k, v in value.items() if k in members}
    if kind == "list" and isinstance(value, list):
        return [conform(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: conform(v, shape.value) for k, v in value.items()}
    return value


class LexApiBackend:
    """One locale of a bot's DRAFT version in Amazon Lex V2."""

    kind = "api"

    def __init__(
        self,
        bot_id: str,
        locale_id: str,
        *,
        client: Any = None,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        poll_s: float = DEFAULT_POLL_S,
        build_timeout_s: float = DEFAULT_BUILD_TIMEOUT_S,
    ) -> None:
        if not bot_id or not bot_id.strip():
            raise BotError("--bot-id is empty")
        if not locale_id or not locale_id.strip():
            raise BotError("a locale id is needed with --bot-id", hint="add --locale-id en_US")
        self._bot_id = bot_id.strip()
        self._locale_id = locale_id.strip()
        self.client = client if client is not None else make_client(region, profile, endpoint_url)
        self.poll_s = poll_s
        self.build_timeout_s = build_timeout_s
        self._names: dict[str, str] = {}

    # --- the backend interface ---

    @property
    def bot(self) -> str:
        return self._bot_id

    @property
    def bot_id(self) -> str:
        return self._bot_id

    @property
    def bot_name(self) -> str | None:
        return None

    @property
    def locale_id(self) -> str:
        return self._locale_id

    @property
    def location(self) -> str | None:
        region = getattr(self.client.meta, "region_name", None)
        return str(region) if region else None

    def _where(self) -> dict[str, str]:
        return {"botId": self._bot_id, "botVersion": DRAFT, "localeId": self._locale_id}

    def intent_summaries(self) -> list[dict[str, Any]]:
        """``list_intents`` over every page (DRAFT)."""
        summaries: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {**self._where(), "maxResults": 1000}
            if token:
                params["nextToken"] = token
            page = self._call("ListIntents", self.client.list_intents, **params)
            summaries.extend(page.get("intentSummaries") or [])
            token = page.get("nextToken")
            if not token:
                break
        self._names = {str(s["intentName"]): str(s["intentId"]) for s in summaries}
        return summaries

    def describe_intent(self, intent_id: str) -> dict[str, Any]:
        response = self._call(
            "DescribeIntent", self.client.describe_intent, intentId=intent_id, **self._where()
        )
        return dict(response)

    def intents(self) -> list[IntentInfo]:
        infos = []
        for summary in self.intent_summaries():
            described = self.describe_intent(str(summary["intentId"]))
            infos.append(_info(described))
        return infos

    def add_utterances(self, intent: str, utterances: Sequence[str]) -> None:
        described = self.describe_intent(self._intent_id(intent))
        current = list(described.get("sampleUtterances") or [])
        self._update(described, [*current, *({"utterance": u} for u in utterances)])

    def remove_utterance(self, intent: str, utterance: str) -> bool:
        described = self.describe_intent(self._intent_id(intent))
        current = list(described.get("sampleUtterances") or [])
        matches = [i for i, item in enumerate(current) if item.get("utterance") == utterance]
        if not matches:
            return False
        del current[matches[-1]]
        self._update(described, current)
        return True

    def build(
        self,
        on_status: StatusCallback | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> BuildResult:
        """``build_bot_locale`` then ``describe_bot_locale`` until Built, Ready or Failed."""
        pause = sleep or time.sleep
        started = self._call("BuildBotLocale", self.client.build_bot_locale, **self._where())
        statuses: list[str] = []

        def report(status: str) -> None:
            if not statuses or statuses[-1] != status:
                statuses.append(status)
                if on_status:
                    on_status(status)

        report(str(started.get("botLocaleStatus") or "Building"))
        waited = 0.0
        while True:
            described = self._call(
                "DescribeBotLocale", self.client.describe_bot_locale, **self._where()
            )
            status = str(described.get("botLocaleStatus"))
            report(status)
            if status in BUILT or status in FAILED:
                reasons = tuple(_one_line(r) for r in described.get("failureReasons") or ())
                return BuildResult(
                    status, status in BUILT, reasons, tuple(statuses), round(waited, 3)
                )
            if waited >= self.build_timeout_s:
                return BuildResult(
                    status,
                    False,
                    (f"still {status} after {waited:.0f} s; see the Lex console",),
                    tuple(statuses),
                    round(waited, 3),
                )
            pause(self.poll_s)
            waited += self.poll_s

    # --- helpers ---

    def _intent_id(self, name: str) -> str:
        if name not in self._names:
            self.intent_summaries()
        if name not in self._names:
            raise BotError(f"bot {self._bot_id} (DRAFT, {self._locale_id}) has no intent {name!r}")
        return self._names[name]

    def _update(self, described: dict[str, Any], utterances: list[dict[str, Any]]) -> None:
        shape = self.client.meta.service_model.operation_model("UpdateIntent").input_shape
        body = conform(described, shape)
        body.update(self._where())
        body["sampleUtterances"] = utterances
        self._call("UpdateIntent", self.client.update_intent, **body)

    def _call(self, operation: str, method: Callable[..., Any], **params: Any) -> Any:
        """One API call; every failure becomes one BotError line naming what to fix."""
        import botocore.exceptions

        where = f"bot {self._bot_id} (DRAFT, {self._locale_id})"
        action = f"lex:{operation}"
        try:
            return method(**params)
        except (
            botocore.exceptions.NoCredentialsError,
            botocore.exceptions.PartialCredentialsError,
        ):
            raise BotError(
                f"no AWS credentials for the Lex V2 Models API ({action} on {where})",
                hint=_CREDENTIALS_HINT,
            ) from None
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or "Error")
            message = _one_line(error.get("Message") or exc)
            if code in _DENIED_CODES:
                raise BotError(
                    f"AWS denied {action} on {where}: {message}",
                    hint=f"grant the IAM action {action} on the bot "
                    f"(arn:aws:lex:<region>:<account>:bot/{self._bot_id})",
                ) from None
            if code in _AUTH_CODES:
                raise BotError(
                    f"AWS rejected the credentials for {action} ({code}): {message}",
                    hint=_CREDENTIALS_HINT,
                ) from None
            if code == "ResourceNotFoundException":
                raise BotError(f"{operation}: not found: {where}: {message}") from None
            hint = None
            if code in ("ConflictException", "PreconditionFailedException"):
                hint = (
                    "the bot locale is busy or changed meanwhile (a build or another edit); retry"
                )
            raise BotError(f"Lex V2 {operation} failed ({code}): {message}", hint=hint) from None
        except botocore.exceptions.ParamValidationError as exc:
            raise BotError(f"Lex V2 {operation}: invalid request: {_one_line(exc)}") from None
        except botocore.exceptions.BotoCoreError as exc:
            raise BotError(
                f"cannot reach the Lex V2 Models API for {action}: {_one_line(exc)}"
            ) from None


def _info(described: dict[str, Any]) -> IntentInfo:
    return IntentInfo(
        name=str(described.get("intentName")),
        identifier=str(described.get("intentId")) if described.get("intentId") else None,
        utterances=tuple(
            str(u["utterance"])
            for u in described.get("sampleUtterances") or []
            if isinstance(u, dict) and isinstance(u.get("utterance"), str)
        ),
        parent_signature=described.get("parentIntentSignature"),
    )
