"""Where the server listens: its socket, bound before any slow start-up work, and TLS.

``lexboard serve`` and ``demo`` bind first, so a port in use is one line at once (not a
uvicorn log line after the store was built), and hand the socket to uvicorn. With
``ssl_certfile`` and ``ssl_keyfile`` the server speaks HTTPS (DESIGN decision 6).
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

from lexboard.config import Settings
from lexboard.errors import ConfigError


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening, or a one-line ConfigError."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"host = {host}: not an address this machine has ({exc})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="another program (perhaps another lexboard) holds that port: use --port",
        ) from None
    return sock


def tls_files(settings: Settings) -> tuple[str, str] | None:
    """(certificate, key) when TLS is configured and both load; None when it is not."""
    cert, key = settings.ssl_certfile, settings.ssl_keyfile
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        given, missing = (
            ("ssl_certfile", "ssl_keyfile") if key is None else ("ssl_keyfile", "ssl_certfile")
        )
        raise ConfigError(
            f"{given} is set ({settings.origins[given]}) but {missing} is not",
            hint="HTTPS needs both: --ssl-certfile CERT.pem --ssl-keyfile KEY.pem",
        )
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"ssl_certfile = {cert} ({settings.origins['ssl_certfile']}), ssl_keyfile = {key} "
            f"({settings.origins['ssl_keyfile']}): cannot load them: {exc}",
            hint="PEM files: the certificate (and its chain) and its private key",
        ) from None
    return cert, key


def run(app: Any, sock: socket.socket, tls: tuple[str, str] | None = None) -> None:
    """Serve ``app`` on ``sock`` until interrupted."""
    import uvicorn

    certfile, keyfile = tls or (None, None)
    config = uvicorn.Config(app, log_level="warning", ssl_certfile=certfile, ssl_keyfile=keyfile)
    uvicorn.Server(config).run(sockets=[sock])
