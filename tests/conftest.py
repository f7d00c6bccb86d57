from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest

CASES = Path(__file__).parent / "cases"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store.duckdb"


def write_jsonl(path: Path, records: Iterable[Any], gz: bool = False) -> Path:
    data = b"".join(orjson.dumps(r) + b"\n" for r in records)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def run_lexboard(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The real command, in a subprocess, as a user runs it."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LEXBOARD_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "lexboard", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=timeout,
    )


@pytest.fixture
def lexboard() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_lexboard
