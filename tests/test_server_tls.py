"""`lexboard serve` over HTTPS (DESIGN decision 6), and where it listens."""

from __future__ import annotations

import ipaddress
import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lexboard.owner import owner_file
from tests.conftest import run_lexboard, write_jsonl
from tests.records import lex_record
from tests.server import free_port, running_server, trust


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lexboard test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _one_line_error(result: object) -> str:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.returncode != 0  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    return str(stderr)


def test_https_serves_and_local_commands_reach_it(tmp_path: Path, tls: tuple[Path, Path]) -> None:
    db = tmp_path / "s.duckdb"
    records = [lex_record(ts="2026-11-02T10:00:00.000Z", session_id="a", transcript="hi")]
    assert run_lexboard("ingest", str(write_jsonl(tmp_path / "l.jsonl", records)), "--db", str(db))
    with running_server(db, tls=tls) as url:
        assert url.startswith("https://")
        assert httpx.get(url + "/healthz", verify=trust(tls[0])).status_code == 200
        with pytest.raises(httpx.HTTPError):  # nothing in clear text
            httpx.get(url.replace("https:", "http:") + "/healthz", timeout=5)
        announced = json.loads(owner_file(db).read_text())
        assert announced["url"] == url and announced["cafile"] == str(tls[0])
        # another command on the store goes to the owner, over HTTPS, trusting its certificate
        result = run_lexboard(
            "metrics", "summary", "--db", str(db), "--from", "2026-11-02", "--to", "2026-11-03",
            "--format", "json",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["rows"][0][summary["columns"].index("requests")] == 1


def test_tls_needs_both_files_and_files_that_load(tmp_path: Path, tls: tuple[Path, Path]) -> None:
    db = str(tmp_path / "s.duckdb")
    half = run_lexboard(
        "serve", "--db", db, "--port", str(free_port()), "--ssl-certfile", str(tls[0])
    )
    said = _one_line_error(half)
    assert "ssl_certfile is set (flag --ssl-certfile) but ssl_keyfile is not" in said
    garbage = tmp_path / "not-a-cert.pem"
    garbage.write_text("hello")
    bad = run_lexboard(
        "serve", "--db", db, "--port", str(free_port()),
        "--ssl-certfile", str(garbage), "--ssl-keyfile", str(tls[1]),
    )  # fmt: skip
    said = _one_line_error(bad)
    assert f"ssl_certfile = {garbage}" in said and "cannot load them" in said


def test_a_port_in_use_is_one_line_before_any_work(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = str(holder.getsockname()[1])
        served = run_lexboard("serve", "--db", str(tmp_path / "s.duckdb"), "--port", port)
        assert f"cannot listen on 127.0.0.1:{port}" in _one_line_error(served)
        assert "serving" not in served.stderr
        demo = run_lexboard("demo", "--db", str(tmp_path / "d" / "demo.duckdb"), "--port", port)
        assert f"cannot listen on 127.0.0.1:{port}" in _one_line_error(demo)
        assert "demo store" not in demo.stderr  # it did not build the history first
