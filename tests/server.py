"""Running the real `lexboard serve` in a subprocess on a free loopback port."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx


def trust(cert: Path) -> ssl.SSLContext:
    """A client context that trusts this certificate (a test's self-signed one)."""
    return ssl.create_default_context(cafile=str(cert))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    db: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    port: int | None = None,
    tls: tuple[Path, Path] | None = None,
) -> Iterator[str]:
    """The server's URL; with ``tls`` (certificate, key) it serves HTTPS."""
    port = port or free_port()
    if tls:
        extra = (*extra, "--ssl-certfile", str(tls[0]), "--ssl-keyfile", str(tls[1]))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LEXBOARD_")}
    full_env.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "lexboard", "serve", "--db", str(db), "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
    )
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    try:
        wait_for_http(proc, url + "/healthz", "server", 60, verify=trust(tls[0]) if tls else True)
        yield url
    finally:
        stop(proc, 15)


def wait_for_http(
    proc: subprocess.Popen[Any],
    url: str,
    name: str,
    timeout: float,
    ready: Callable[[int], bool] = lambda status: status == 200,
    log: Callable[[], str] | None = None,
    verify: ssl.SSLContext | bool = True,
) -> None:
    """Wait until ``url`` answers with a status ``ready`` accepts; fail if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            said = log() if log else (proc.stderr.read() if proc.stderr else "")
            raise RuntimeError(f"{name} exited: {said}")
        try:
            if ready(httpx.get(url, timeout=1, verify=verify).status_code):
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start in {timeout:g} s")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[Any], timeout: float = 10) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
