"""`lexboard ingest` on broken input, as a user runs it: nothing crashes, nothing is lost.

Each bad input is ingested next to a good file. The good records (in the bad file and
around it) all reach the store; each bad one is in ``quarantine`` with its file, its
position (line, item or event id) and a reason that says what is wrong; a rerun adds
nothing and duplicates nothing; ``--strict`` turns any quarantine into exit 1.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from tests.conftest import CASES, run_lexboard
from tests.records import lex_record

MANIFEST: dict[str, Any] = json.loads((CASES / "manifest.json").read_text())
COMPANION = "good/bankingbot-2026-11-02.jsonl"

# bad sample -> what its quarantine reason must say (positions come from the manifest)
BAD_CASES = {
    "bad/truncated-line.jsonl": r"not valid JSON \(unexpected end of data",
    "bad/garbage-line.jsonl": r"not valid UTF-8",
    "bad/core-dump.bin": r"binary data, not Lex conversation logs",
    "bad/invalid-utf8.jsonl": r"not valid UTF-8",
    "bad/numbers.json": r"not a Lex V2 record: the JSON is a number",
    "bad/not-lex.jsonl": r"not a Lex V2 record: a JSON object without requestId",
    "bad/lex-v1.jsonl": r"Lex V1 record",
    "bad/empty.jsonl": r"empty file",
    "bad/truncated.jsonl.gz": r"truncated or corrupt",
}


def _ids(name: str) -> set[str]:
    return {rid for _, rid in MANIFEST[name]["records"]}


def _no_crash(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout


def _store(db: Path) -> tuple[list[str], list[tuple[str, str, str, str]]]:
    """(request ids of all turns, quarantine rows (source, position, reason, raw_start))."""
    with duckdb.connect(str(db), read_only=True) as con:
        turns = [r for (r,) in con.execute("SELECT request_id FROM turns").fetchall()]
        quarantine = con.execute(
            "SELECT source, position, reason, raw_start FROM quarantine ORDER BY ALL"
        ).fetchall()
    return turns, quarantine


def _ingest(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_lexboard("ingest", *(str(a) for a in args))


def _check_run(
    bad: list[Path],
    good_ids: set[str],
    expected_bad: list[tuple[Path, str]],
    reason: str | dict[str, str],
    db: Path,
    extra_inputs: tuple[Path, ...] = (),
) -> None:
    """Ingest, check, rerun with --strict, check again."""
    inputs = [*bad, *extra_inputs, CASES / COMPANION]
    good_ids = good_ids | _ids(COMPANION)
    first = _ingest(*inputs, "--db", db)
    _no_crash(first)
    assert first.returncode == 0, first.stderr
    turns, quarantine = _store(db)
    assert len(turns) == len(set(turns))
    assert set(turns) == good_ids
    assert [(s, p) for s, p, _, _ in quarantine] == sorted((str(f), p) for f, p in expected_bad)
    for source, position, why, raw_start in quarantine:
        pattern = reason if isinstance(reason, str) else reason[position]
        assert re.search(pattern, why), (source, position, why)
        assert len(raw_start or "") <= 200
    # The summary names the first bad record of each source: file, position, reason.
    named = [
        line.removeprefix("quarantined, first: ")
        for line in first.stderr.splitlines()
        if line.startswith("quarantined, first: ")
    ]
    assert named
    assert set(named) <= {f"{s}: {p}: {r}" for s, p, r, _ in quarantine}

    again = _ingest(*inputs, "--db", db, "--strict", "-q")
    _no_crash(again)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == [
        f"Error: {len(quarantine)} records quarantined (--strict)"
    ]
    turns_after, quarantine_after = _store(db)
    assert sorted(turns_after) == sorted(turns)
    assert [q[:3] for q in quarantine_after] == [q[:3] for q in quarantine]


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_bad_sample_is_quarantined_and_good_records_kept(name: str, db_path: Path) -> None:
    path = CASES / name
    expected = [(path, position) for position in MANIFEST[name]["bad"]]
    assert expected, "every bad sample has at least one bad position"
    _check_run([path], _ids(name), expected, BAD_CASES[name], db_path)


def test_reasons_say_what_is_wrong(db_path: Path) -> None:
    """All bad samples in one run: one quarantine row each, each reason its own."""
    bad = [CASES / name for name in sorted(BAD_CASES)]
    result = _ingest(*bad, CASES / COMPANION, "--db", db_path, "-q")
    _no_crash(result)
    assert result.returncode == 0, result.stderr
    turns, quarantine = _store(db_path)
    assert set(turns) == set().union(*(_ids(n) for n in BAD_CASES), _ids(COMPANION))
    by_file: dict[str, list[str]] = {}
    for source, _, reason, _ in quarantine:
        by_file.setdefault(source, []).append(reason)
    for name, pattern in BAD_CASES.items():
        reasons = by_file[str(CASES / name)]
        assert len(reasons) == len(MANIFEST[name]["bad"])
        assert all(re.search(pattern, r) for r in reasons)
    v1 = by_file[str(CASES / "bad/lex-v1.jsonl")][0]
    assert "V1" in v1 and "V2" in v1  # says what it is and what lexboard reads


def test_ten_megabyte_line(tmp_path: Path, db_path: Path) -> None:
    good = [lex_record(request_id=f"big-{i}") for i in range(3)]
    cut = orjson.dumps(lex_record(request_id="big-cut"))[:-1]
    monster = cut + b',"dialogEventLogs":"' + b"x" * 10_000_000  # never closed
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"\n".join([orjson.dumps(good[0]), monster, *map(orjson.dumps, good[1:])]))
    assert path.stat().st_size > 10_000_000
    _check_run(
        [path], {r["requestId"] for r in good}, [(path, "line 2")], "not valid JSON", db_path
    )
    _, quarantine = _store(db_path)
    assert quarantine[0][3].startswith('{"messageVersion":"2.0"')  # the start, not 10 MB


def test_directory_with_unreadable_files(tmp_path: Path, db_path: Path) -> None:
    logs = tmp_path / "logs"
    shutil.copytree(CASES / "good", logs)
    dangling = logs / "2026" / "11" / "gone.jsonl"
    dangling.parent.mkdir(parents=True)
    dangling.symlink_to(tmp_path / "deleted-by-rotation.jsonl")
    corrupt = logs / "firehose" / "lexboard-stream-1-2026-11-02-19-00-00-9a1b.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(range(256)) * 4)
    good_ids = set().union(*(_ids(n) for n in MANIFEST if n.startswith("good/")))
    # The good files are copies: same request ids as the companion, so they count once.
    _check_run(
        [logs],
        good_ids,
        [(dangling, "file"), (corrupt, "file")],
        r"cannot read: No such file|gzip file is truncated or corrupt",
        db_path,
    )
    _, quarantine = _store(db_path)
    reasons = {Path(s).name: r for s, _, r, _ in quarantine}
    assert "No such file" in reasons["gone.jsonl"]
    assert "gzip" in reasons[corrupt.name] and "corrupt" in reasons[corrupt.name]


def _events_doc(name: str) -> dict[str, Any]:
    return json.loads((CASES / name).read_text())


def test_bad_events_are_named_by_event_id(tmp_path: Path, db_path: Path) -> None:
    """In filter-log-events output and in subscription envelopes, the event id is the position."""
    page = _events_doc("good/filter-log-events.json")
    events = page["events"]
    events[1]["message"] = events[1]["message"][:300]  # cut off
    v1 = json.loads((CASES / "bad/lex-v1.jsonl").read_text().splitlines()[1])
    events[2]["message"] = json.dumps(v1)
    saved = tmp_path / "filter-log-events.json"
    saved.write_text(json.dumps(page, indent=4))

    envelope = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/aws/lex/BankingBot/TestBotAlias",
        "logStream": "lex-conversation-logs-7",
        "subscriptionFilters": ["lexboard-firehose"],
        "logEvents": [
            {"id": "3" * 56, "timestamp": 1_762_070_400_000, "message": "START RequestId: x"},
            {
                "id": "4" * 56,
                "timestamp": 1_762_070_401_000,
                "message": json.dumps(lex_record(request_id="sub-ok")),
            },
        ],
    }
    firehose = tmp_path / "firehose.gz"
    firehose.write_bytes(gzip.compress(json.dumps(envelope).encode()))

    kept = {events[0]["message"], events[3]["message"]}
    good_ids = {json.loads(m)["requestId"] for m in kept} | {"sub-ok"}
    expected = [
        (saved, f"event {events[1]['eventId']}"),
        (saved, f"event {events[2]['eventId']}"),
        (firehose, f"object 1 lex-conversation-logs-7 event {'3' * 56}"),
    ]
    reasons = {
        expected[0][1]: r"message is not valid JSON",
        expected[1][1]: r"Lex V1 record",
        expected[2][1]: r"message is not valid JSON",
    }
    _check_run([saved, firehose], good_ids, expected, reasons, db_path)


def test_strict_exits_zero_when_nothing_is_quarantined(db_path: Path) -> None:
    result = _ingest(CASES / "good", "--db", db_path, "--strict", "-q")
    _no_crash(result)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_missing_path_is_one_line(tmp_path: Path, db_path: Path) -> None:
    missing = tmp_path / "exports" / "000000.gz"
    result = _ingest(CASES / COMPANION, missing, "--db", db_path)
    _no_crash(result)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [f"Error: {missing}: no such file or directory"]
    assert not db_path.exists()  # refused before anything was opened


def test_glob_matching_nothing_is_one_line(tmp_path: Path, db_path: Path) -> None:
    result = _ingest(str(tmp_path / "*.jsonl.gz"), "--db", db_path)
    _no_crash(result)
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: ") and "no files match" in line


@pytest.mark.parametrize(
    "names",
    [["bad/core-dump.bin"], ["bad/numbers.json"], ["bad/core-dump.bin", "bad/empty.jsonl"]],
)
def test_only_garbage_fails_with_one_clear_line(names: list[str], db_path: Path) -> None:
    result = _ingest(*(CASES / n for n in names), "--db", db_path, "-q")
    _no_crash(result)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    (error,) = errors
    assert "no Lex V2 records found" in error and str(CASES / names[0]) in error
    turns, quarantine = _store(db_path)  # still, what was wrong is on record
    assert turns == [] and len(quarantine) == sum(len(MANIFEST[n]["bad"]) for n in names)
