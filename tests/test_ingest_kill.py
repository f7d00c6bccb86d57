"""A killed ingest leaves whole batches; rerunning it gives exactly one clean run's store.

Also: one writer per store. A second process pointed at a store in use is told, in one
line, which process holds it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pytest

from tests.conftest import CASES, run_lexboard
from tests.records import lex_record

N_FILES = 30
PER_FILE = 1_000
BAD_EVERY = 7  # every 7th file holds one cut-off line: it takes the Python path
INTENTS = ("CheckBalance", "TransferFunds", "CheckBalance", "OrderCard")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LEXBOARD_")}


def _start_ingest(logs: Path, db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lexboard", "ingest", str(logs), "--db", str(db), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """N_FILES JSON Lines files; sessions span files, some resume (new originating id)."""
    folder = tmp_path_factory.mktemp("kill") / "logs"
    folder.mkdir()
    start = datetime(2026, 11, 2, tzinfo=UTC)
    ids: set[str] = set()
    n = 0
    for number in range(N_FILES):
        lines = []
        for _ in range(PER_FILE):
            n += 1
            missed = n % 9 == 0
            request_id = f"req-{n:07d}"
            ids.add(request_id)
            ts = (start + timedelta(seconds=n * 7)).isoformat(timespec="milliseconds")
            record = lex_record(
                ts=ts.replace("+00:00", "Z"),
                session_id=f"sess-{n % 1_201}",
                originating_request_id=f"orig-{n // 12_000}",
                request_id=request_id,
                transcript=f"utterance {n % 97}",
                intent="FallbackIntent" if missed else INTENTS[n % 4],
                state="ReadyForFulfillment" if missed or n % 5 == 0 else "InProgress",
                missed=missed,
                confidence=None if missed else f"0.{50 + n % 50}",
                input_mode="Speech" if n % 11 == 0 else "Text",
            )
            lines.append(orjson.dumps(record))
        if number % BAD_EVERY == 3:
            lines.insert(PER_FILE // 2, orjson.dumps(lex_record())[:150])
        (folder / f"part-{number:03d}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return folder, ids


def _count(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return int(con.execute("SELECT count(*) FROM turns").fetchone()[0])


def _differences(db: Path, reference: Path) -> dict[str, int]:
    """Rows in one store and not the other (both ways), per table, ignoring batch ids and
    times and the sessions' surrogate numbers (child rows are compared by session key)."""
    key = "s.bot_id, s.locale_id, s.session_id, s.originating_request_id"
    child = f"FROM {{db}}{{t}} c JOIN {{db}}sessions s USING (session_no) SELECT {key}, c.*"
    queries = {
        "turns": "FROM {db}turns SELECT * EXCLUDE (ingest_batch, ingested_at)",
        "sessions": "FROM {db}sessions SELECT * EXCLUDE (session_no)",
        "quarantine": "FROM {db}quarantine SELECT source, position, reason, raw_start",
        "slot_fills": "FROM {db}slot_fills SELECT *",
        "turn_counts": "FROM {db}turn_counts SELECT *",
        **{
            t: child.replace("{t}", t).replace("c.*", "c.* EXCLUDE (session_no)")
            for t in ("session_attributes", "elicitations", "missed_turns")
        },
    }
    out: dict[str, int] = {}
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute(f"ATTACH '{reference}' AS ref (READ_ONLY)")
        for table, query in queries.items():
            for a, b in (("", "ref."), ("ref.", "")):
                sql = f"SELECT count(*) FROM ({query.format(db=a)} EXCEPT ALL "
                sql += f"{query.format(db=b)})"
                out[f"{a}{table} - {b}{table}"] = int(con.execute(sql).fetchone()[0])
    return out


def _open_part(pid: int) -> int:
    """The highest part-NNN file the process has open, or -1."""
    highest = -1
    try:
        for fd in os.scandir(f"/proc/{pid}/fd"):
            try:
                name = os.path.basename(os.readlink(fd.path))
            except OSError:
                continue
            if name.startswith("part-") and name.endswith(".jsonl"):
                highest = max(highest, int(name[5:8]))
    except OSError:
        pass
    return highest


def test_killed_ingest_then_rerun_equals_one_clean_run(
    logs: tuple[Path, set[str]], tmp_path: Path
) -> None:
    folder, ids = logs
    clean = tmp_path / "clean.duckdb"
    killed = tmp_path / "killed.duckdb"
    reference = _start_ingest(folder, clean)  # one clean run, alongside
    process = _start_ingest(folder, killed)
    try:
        # Meanwhile, a second writer is refused and told who holds the store.
        while not killed.exists() and process.poll() is None:
            time.sleep(0.01)
        second = run_lexboard("ingest", str(CASES / "good"), "--db", str(killed))
        assert second.returncode != 0
        assert "Traceback" not in second.stderr
        error = second.stderr.splitlines()[0]
        assert error.startswith(f"Error: store {killed} is in use by PID {process.pid} (")
        assert "lexboard ingest" in error
        # Kill it once it has a file of the second half open (sniffing it or mid-batch).
        deadline = time.monotonic() + 60
        while _open_part(process.pid) < N_FILES // 2 and process.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        assert process.returncode == -signal.SIGKILL, "the ingest ended before it was killed"
    except BaseException:
        reference.kill()
        raise
    finally:
        process.kill()
    try:
        _check_killed_then_rerun(folder, ids, killed)
    finally:
        reference.communicate(timeout=120)
    assert reference.returncode == 0
    assert _count(clean) == len(ids)
    assert set(_differences(killed, clean).values()) == {0}


def _check_killed_then_rerun(folder: Path, ids: set[str], killed: Path) -> None:
    partial = _count(killed)
    assert 0 < partial < len(ids)

    # A crash never leaves half a batch: each file (one batch here) is all in or all out,
    # and a file's quarantine rows come with its turns.
    with duckdb.connect(str(killed), read_only=True) as con:
        per_file = dict(con.execute("SELECT source, count(*) FROM turns GROUP BY ALL").fetchall())
        quarantined = {
            s for (s,) in con.execute("SELECT DISTINCT source FROM quarantine").fetchall()
        }
        session_turns = con.execute("SELECT sum(turns) FROM sessions").fetchone()[0]
    assert set(per_file.values()) <= {PER_FILE}
    assert quarantined <= set(per_file)
    assert session_turns == partial  # sessions were kept in step with the turns

    rerun = run_lexboard("ingest", str(folder), "--db", str(killed), "-q")
    assert rerun.returncode == 0, rerun.stderr
    with duckdb.connect(str(killed), read_only=True) as con:
        total, distinct = con.execute(
            "SELECT count(*), count(DISTINCT request_id) FROM turns"
        ).fetchone()
        stored = {r for (r,) in con.execute("SELECT request_id FROM turns").fetchall()}
        bad = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    assert total == distinct == len(ids)
    assert stored == ids
    assert bad == len(range(3, N_FILES, BAD_EVERY))


def test_store_in_use_names_the_holder(tmp_path: Path, db_path: Path) -> None:
    holder_script = tmp_path / "hold_store.py"
    holder_script.write_text(
        "import sys, time\n"
        "from lexboard.store import open_store\n"
        "store = open_store(sys.argv[1])\n"
        "print('ready', flush=True)\n"
        "time.sleep(120)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, str(holder_script), str(db_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = run_lexboard("ingest", str(CASES / "good"), "--db", str(db_path))
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        errors = [line for line in lines if line.startswith("Error:")]
        assert len(errors) == 1 and all(
            line.startswith("Hint:") for line in lines if line not in errors
        )
        (error,) = errors
        assert f"store {db_path} is in use by PID {holder.pid} (" in error
        assert str(holder_script) in error  # the holder's command line
    finally:
        holder.kill()
        holder.wait()
    # Once the holder is gone, the store is usable and nothing was written by the refused run.
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM turns").fetchone() == (0,)
    again = run_lexboard("ingest", str(CASES / "good"), "--db", str(db_path), "--strict", "-q")
    assert again.returncode == 0, again.stderr
