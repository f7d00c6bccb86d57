"""Authentication and roles for the server.

Users (HTTP Basic, salted scrypt password hashes) and bearer tokens (stored as hashes)
live in ``lexboard.toml`` under ``[auth]``; each has a role, ``viewer`` or ``editor``.
On a loopback bind with no users configured the local user is an editor (the demo);
binding any other address requires ``[auth]``. The Firehose access key is separate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from lexboard.errors import ConfigError

ROLES = ("viewer", "editor")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def is_editor(self) -> bool:
        return self.role == "editor"


LOCAL_EDITOR = User("local", "editor")


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64): what ``lexboard auth hash-password`` prints."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT, dklen=32)
    encode = base64.b64encode
    return (
        f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}$"
        f"{encode(salt).decode()}${encode(digest).decode()}"
    )


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            secret.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True)
class Credential:
    user: User
    secret_hash: str


class Authenticator:
    """Who is asking: from ``[auth]`` users (Basic) and tokens (Bearer)."""

    def __init__(self, section: dict[str, Any] | None, where: str = "lexboard.toml") -> None:
        section = section or {}
        self.users = [
            self._entry(e, "password_hash", where, "users")
            for e in self._list(section, "users", where)
        ]
        self.tokens = [
            self._entry(e, "token_hash", where, "tokens")
            for e in self._list(section, "tokens", where)
        ]
        self._known: dict[bytes, User] = {}
        unknown = set(section) - {"users", "tokens"}
        if unknown:
            raise ConfigError(
                f"unknown key [auth] {sorted(unknown)[0]} in {where}",
                hint="[auth] takes users and tokens",
            )

    @property
    def configured(self) -> bool:
        return bool(self.users or self.tokens)

    @staticmethod
    def _list(section: dict[str, Any], key: str, where: str) -> list[Any]:
        value = section.get(key, [])
        if not isinstance(value, list):
            raise ConfigError(f"[auth] {key} in {where} must be a list of tables")
        return value

    @staticmethod
    def _entry(entry: Any, secret_key: str, where: str, kind: str) -> Credential:
        if not isinstance(entry, dict):
            raise ConfigError(f"[auth] {kind} in {where}: each entry must be a table")
        name, role, secret = entry.get("name"), entry.get("role", "viewer"), entry.get(secret_key)
        if not isinstance(name, str) or not name:
            raise ConfigError(f"[auth] {kind} in {where}: an entry has no name")
        if role not in ROLES:
            raise ConfigError(
                f"[auth] {kind} {name!r} in {where}: role {role!r} is not viewer or editor"
            )
        if not isinstance(secret, str) or not secret.startswith("scrypt$"):
            raise ConfigError(
                f"[auth] {kind} {name!r} in {where}: {secret_key} must be a scrypt hash",
                hint="make one with: lexboard auth hash-password",
            )
        return Credential(User(name, role), secret)

    def authenticate(self, authorization: str | None) -> User | None:
        """The user behind an Authorization header; scrypt runs once per distinct header."""
        if not authorization:
            return None
        key = hashlib.sha256(authorization.encode()).digest()
        if key in self._known:
            return self._known[key]
        user = self._check(authorization)
        if user is not None:
            if len(self._known) > 1024:
                self._known.clear()
            self._known[key] = user
        return user

    def _check(self, authorization: str) -> User | None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            for token in self.tokens:
                if verify_secret(value.strip(), token.secret_hash):
                    return token.user
            return None
        if scheme.lower() == "basic":
            try:
                name, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except (ValueError, binascii.Error, UnicodeDecodeError):
                return None
            for user in self.users:
                # verify even on a name mismatch so timing does not reveal user names
                if verify_secret(password, user.secret_hash) and hmac.compare_digest(
                    user.user.name.encode(), name.encode()
                ):
                    return user.user
        return None
