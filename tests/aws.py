"""A real ``moto_server`` on 127.0.0.1 for the AWS source tests (import the fixture).

The environment points boto3 at it the standard way (``AWS_ENDPOINT_URL``, dummy keys,
``AWS_DEFAULT_REGION``), so the code under test, and any ``lexboard serve`` subprocess,
configures itself exactly as it would against AWS. Nothing leaves loopback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server import free_port, stop, wait_for_http

REGION = "us-east-1"


def aws_env(endpoint: str, tmp: Path) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "aws-credentials"),
    }


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a moto server shared by the session; the process env points at it."""
    binary = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    saved = dict(os.environ)
    try:
        wait_for_http(
            proc,
            url + "/moto-api/",
            "moto_server",
            30,
            ready=lambda status: status < 500,
            log=lambda: log.read_text()[-2000:],
        )
        os.environ.update(aws_env(url, tmp_path_factory.mktemp("aws")))
        yield url
    finally:
        os.environ.clear()
        os.environ.update(saved)
        stop(proc)
