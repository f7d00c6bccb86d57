"""boto3 clients configured the way the AWS CLI is, and AWS errors as one line each.

Credentials, profiles, region and endpoint come from boto3's own chain (``AWS_PROFILE``,
``AWS_ACCESS_KEY_ID``, ``~/.aws/config``, instance roles, ``AWS_REGION`` /
``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``), so the
same source works against AWS, moto or LocalStack. A source URI may name a ``region`` or
``profile`` to override the chain.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from lexboard.errors import SourceError

T = TypeVar("T")
THROTTLE_RETRIES = 5

THROTTLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "RequestThrottled",
    }
)
DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied", "Forbidden", "403"})
REJECTED_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "ExpiredToken",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "TokenRefreshRequired",
    }
)
CREDENTIALS_HINT = (
    "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with an IAM "
    "role: lexboard finds credentials as the AWS CLI does"
)


def make_client(service: str, region: str | None = None, profile: str | None = None) -> Any:
    """A boto3 client from the standard configuration (``region``/``profile`` override it)."""
    try:
        import boto3
        import botocore.exceptions
    except ImportError:
        raise SourceError(
            f"reading from AWS needs boto3, which is not installed ({service})",
            hint="pip install 'lexboard[aws]'",
        ) from None
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
        return session.client(service)
    except botocore.exceptions.ProfileNotFound as exc:
        raise SourceError(str(exc), hint="aws configure list-profiles") from None
    except botocore.exceptions.NoRegionError:
        raise SourceError(
            f"no AWS region configured for {service}",
            hint="set AWS_REGION (or AWS_DEFAULT_REGION), a region in the profile, or add "
            "?region=R to the source",
        ) from None


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def is_throttling(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLE_CODES


def with_backoff(
    call: Callable[[], T],
    sleep: Callable[[float], None] = time.sleep,
    retries: int = THROTTLE_RETRIES,
    on_throttle: Callable[[], None] | None = None,
) -> T:
    """``call()``, retried with jittered exponential backoff (0.5 s, 1 s … 8 s) while AWS
    throttles it; the last throttling error (or any other) propagates."""
    import botocore.exceptions

    delay = 0.5
    for attempt in range(retries + 1):
        try:
            return call()
        except botocore.exceptions.ClientError as exc:
            if not is_throttling(exc) or attempt >= retries:
                raise
            if on_throttle is not None:
                on_throttle()
            sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 8.0)
    raise AssertionError("unreachable")


def explain(exc: BaseException, label: str, action: str, resource: str) -> SourceError:
    """One line a user can act on, naming the IAM action the source needs."""
    import botocore.exceptions as bex

    need = f"lexboard needs {action} on {resource}"
    if isinstance(exc, bex.NoCredentialsError | bex.PartialCredentialsError):
        return SourceError(f"{label}: no AWS credentials found ({need})", hint=CREDENTIALS_HINT)
    if isinstance(exc, bex.CredentialRetrievalError | bex.TokenRetrievalError):
        return SourceError(f"{label}: cannot get AWS credentials: {exc} ({need})")
    if isinstance(exc, bex.NoRegionError):
        return SourceError(
            f"{label}: no AWS region configured",
            hint="set AWS_REGION (or AWS_DEFAULT_REGION), a region in the profile, or add "
            "?region=R to the source",
        )
    if isinstance(exc, bex.EndpointConnectionError | bex.ConnectTimeoutError):
        return SourceError(f"{label}: cannot reach AWS: {exc}")
    if isinstance(exc, bex.ReadTimeoutError):
        return SourceError(f"{label}: AWS did not answer in time: {exc}")
    if isinstance(exc, bex.ClientError):
        code = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", "")).strip()
        detail = f"{code}: {message}" if message else code
        if code in DENIED_CODES:
            return SourceError(
                f"{label}: access denied: the IAM identity needs {action} on {resource}"
            )
        if code in REJECTED_CODES:
            return SourceError(f"{label}: AWS rejected the credentials ({detail}); {need}")
        if code in THROTTLE_CODES:
            return SourceError(f"{label}: throttled by AWS on {action} ({code}); retrying later")
        return SourceError(f"{label}: {action} failed: {detail}")
    if isinstance(exc, bex.BotoCoreError):
        return SourceError(f"{label}: {action} failed: {exc}")
    return SourceError(f"{label}: {action} failed: {type(exc).__name__}: {exc}")
