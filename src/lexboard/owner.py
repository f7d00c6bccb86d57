"""One owner per store: a running server announces itself next to the store file.

While ``lexboard serve`` or ``demo`` runs it holds the DuckDB file and writes
``<db>.server.json`` (its URL and PID). Other ``lexboard`` commands pointed at that
store send their request to that server instead of opening the file themselves.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lexboard.errors import LexboardError


def owner_file(db: str | Path) -> Path:
    path = Path(db)
    return path.with_name(path.name + ".server.json")


def announce(db: str | Path, url: str, token: str, cafile: str | None = None) -> Path:
    """Write the owner file (mode 0600: its token lets local commands act as an editor).

    ``cafile``: the certificate of a server on HTTPS, which local commands then trust.
    """
    path = owner_file(db)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": url, "pid": os.getpid(), "token": token, "cafile": cafile}, handle)
    tmp.replace(path)
    return path


def withdraw(db: str | Path) -> None:
    path = owner_file(db)
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Server:
    url: str
    token: str | None = None
    cafile: str | None = None  # trust this certificate (the owner's own) over HTTPS


def find_server(db: str | Path) -> Server | None:
    """The live server that owns ``db``, if any."""
    try:
        info = json.loads(owner_file(db).read_text())
        url, pid = str(info["url"]), int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Server(url, info.get("token"), info.get("cafile")) if _alive(pid) else None


def server_for(db: str | Path, explicit: str | None) -> Server | None:
    """``--server URL`` when given, else the owner of ``db``."""
    if explicit:
        return Server(explicit, os.environ.get("LEXBOARD_TOKEN"))
    return find_server(db)


def _tls(server: Server) -> ssl.SSLContext | None:
    """For the owner's HTTPS: its own certificate is the trust anchor (pinned, so the
    name it was issued for need not be the loopback address the file names)."""
    if not server.cafile or not server.url.startswith("https:"):
        return None
    context = ssl.create_default_context(cafile=server.cafile)
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.check_hostname = False
    return context


def call(
    server: Server,
    path: str,
    query: dict[str, Any] | None = None,
    body: Any = None,
    timeout: float = 600,
) -> Any:
    """One API call; a server-side error becomes the same one-line LexboardError."""
    base = server.url
    clean = {k: v for k, v in (query or {}).items() if v is not None}
    url = (
        base.rstrip("/") + path + ("?" + urllib.parse.urlencode(clean, doseq=True) if clean else "")
    )
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method="POST" if data is not None else "GET",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            **({"Authorization": f"Bearer {server.token}"} if server.token else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=_tls(server)) as response:
            payload = response.read()
            kind = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        try:
            problem = json.loads(exc.read())
            raise LexboardError(problem["error"], problem.get("hint")) from None
        except (ValueError, KeyError):
            raise LexboardError(f"server {base} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise LexboardError(f"cannot reach the lexboard server at {base}: {exc}") from None
    return json.loads(payload) if "json" in kind else payload.decode()
