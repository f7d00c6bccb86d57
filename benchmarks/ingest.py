"""Ingest benchmark: records/s and peak memory of ``lexboard ingest``, end to end.

Generates N realistic Lex V2 records (benchmarks/lexgen.py; not part of the measured
time), then measures, each in its own subprocess so that each peak RSS is its own:

1. ``lexboard ingest FILES --db DB -q``, into a new store (every record is new);
2. a plain ``for line in f: orjson.loads(line)`` loop over the same files, the floor a
   Python reader cannot beat;
3. the same ingest again into the same store: every record is a duplicate, the
   idempotent path of a re-run.

Seconds are wall-clock of the whole subprocess (interpreter start and imports
included); CPU is its user + system time (all threads); peak RSS is its VmHWM.
Goal (2-core machine): at least 100,000 records/s end to end and under 1 GB peak RSS,
whatever the input size.

    python benchmarks/ingest.py                        # 1,000,000 records, one file
    python benchmarks/ingest.py --records 200000 --files 4 --gzip --keep /tmp/lexbench
    python benchmarks/ingest.py --keep /tmp/lexbench --src /tmp/other-checkout/src  # A/B

With --keep the data set is reused by the next run with the same parameters, so two
versions of lexboard (--src) can be compared on the very same files. The machine is
often shared: the table shows CPU seconds and the load average next to wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lexgen

REPO = Path(__file__).resolve().parent.parent
GOAL_RATE = 100_000
GOAL_RSS_MB = 1024
MANIFEST = "lexgen-manifest.json"

# Each measured child runs under this wrapper, which writes its peak RSS (VmHWM, this
# process only, from exec on) to the file named by LEXBENCH_REPORT when it exits:
# ru_maxrss from wait4 would also count the benchmark's own memory, copied at fork.
WRAPPER = """
import atexit, os, runpy, sys

def _report():
    with open("/proc/self/status") as status:
        hwm = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["LEXBENCH_REPORT"], "w") as out:
        out.write(hwm)

atexit.register(_report)
kind, target = sys.argv[1], sys.argv[2]
sys.argv = [target, *sys.argv[3:]]
if kind == "module":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    exec(compile(target, "<benchmark>", "exec"), {"__name__": "__main__"})
"""

# The baseline: what any Python reader of these files pays at least.
ORJSON_LOOP = """
import gzip, sys, orjson
count = 0
for name in sys.argv[1:]:
    with (gzip.open(name, "rb") if name.endswith(".gz") else open(name, "rb")) as f:
        for line in f:
            orjson.loads(line)
            count += 1
print(count)
"""


@dataclass
class Measure:
    what: str
    records: int
    seconds: float
    cpu: float
    rss_mb: float
    note: str = ""
    load: float = 0.0  # 1-minute load average when the step ended

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


LEXBOARD_SRC: Path | None = None  # --src: measure the lexboard package in this folder


def _env() -> dict[str, str]:
    """The caller's environment without LEXBOARD_* (no debug mode, no settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEXBOARD_")}
    if LEXBOARD_SRC is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(LEXBOARD_SRC), env.get("PYTHONPATH", "")) if p
        )
    return env


def _lexboard_location() -> str:
    code = "import lexboard, os; print(os.path.dirname(lexboard.__file__))"
    done = subprocess.run(
        [sys.executable, "-c", code], env=_env(), cwd="/tmp", capture_output=True, text=True
    )
    return done.stdout.strip() or f"not importable: {done.stderr.strip()[-200:]}"


def run_child(kind: str, target: str, args: list[str]) -> tuple[float, float, float, str]:
    """Run a module or code in a new Python: (wall s, CPU s, peak RSS MB, stdout)."""
    with tempfile.NamedTemporaryFile(prefix="lexbench-rss-", delete=False) as report:
        report_path = Path(report.name)
    argv = [sys.executable, "-c", WRAPPER, kind, target, *args]
    env = {**_env(), "LEXBENCH_REPORT": str(report_path)}
    try:
        began = time.perf_counter()
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, env=env, cwd="/tmp")
        assert child.stdout is not None
        out = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        took = time.perf_counter() - began
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            sys.exit(f"benchmark step failed (exit {child.returncode}): {kind} {target[:40]}")
        peak_kib = int(report_path.read_text() or 0)
    finally:
        report_path.unlink(missing_ok=True)
    return took, usage.ru_utime + usage.ru_stime, peak_kib / 1024, out.decode()


def _load() -> float:
    return os.getloadavg()[0]


def last_run_stats(db: Path) -> dict[str, int]:
    """read/new/duplicate/quarantined of the store's latest ingest run."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute(
            'SELECT sum("read"), sum(new), sum(duplicate), sum(quarantined), sum(expired) '
            "FROM ingest_stats WHERE run_id = (SELECT max(id) FROM ingest_runs)"
        ).fetchone()
        turns = con.execute("SELECT count(*) FROM turns").fetchone()
        sessions = con.execute("SELECT count(*) FROM sessions").fetchone()
    finally:
        con.close()
    names = ("read", "new", "duplicate", "quarantined", "expired")
    stats = {name: int(value or 0) for name, value in zip(names, row or (), strict=False)}
    stats["turns"] = int(turns[0]) if turns else 0
    stats["sessions"] = int(sessions[0]) if sessions else 0
    return stats


def ingest(files: list[Path], db: Path, what: str, expect: str, n: int) -> Measure:
    argv = ["ingest", *map(str, files), "--db", str(db), "-q"]
    took, cpu, rss, _ = run_child("module", "lexboard", argv)
    stats = last_run_stats(db)
    note = f"new {stats['new']:,}, duplicate {stats['duplicate']:,}"
    if stats["quarantined"] or stats["expired"]:
        note += f", quarantined {stats['quarantined']:,}, expired {stats['expired']:,}"
    if stats["read"] != n or stats[expect] != n:
        note += f"  WARNING: expected {n:,} read and {expect}"
    return Measure(what, stats["read"], took, cpu, rss, note, _load())


def orjson_loop(files: list[Path], n: int) -> Measure:
    took, cpu, rss, out = run_child("code", ORJSON_LOOP, list(map(str, files)))
    count = int(out.split()[-1])
    note = "" if count == n else f"WARNING: {count:,} lines, expected {n:,}"
    return Measure("orjson.loads loop (same files)", count, took, cpu, rss, note, _load())


def _inside_repo(path: Path) -> bool:
    return path.resolve().is_relative_to(REPO)


def generate(folder: Path, args: argparse.Namespace) -> list[Path]:
    """The data set in ``folder``, reused when a previous run made the very same one."""
    wanted = {
        "records": args.records,
        "files": args.files,
        "gzip": args.gzip,
        "seed": args.seed,
        "lexgen": Path(lexgen.__file__).stat().st_mtime_ns,
    }
    manifest = folder / MANIFEST
    if manifest.exists():
        try:
            saved = json.loads(manifest.read_text())
        except ValueError:
            saved = {}
        paths = [folder / name for name in saved.get("paths", [])]
        if saved.get("params") == wanted and paths and all(p.exists() for p in paths):
            print(f"data: reusing {len(paths)} file(s) in {folder} (same parameters)")
            return paths
    for old in folder.glob("lex-*.jsonl*"):
        old.unlink()
    began = time.perf_counter()
    paths, size = lexgen.write_dataset(
        folder, args.records, args.files, args.gzip, args.seed, jobs=args.jobs
    )
    took = time.perf_counter() - began
    on_disk = sum(p.stat().st_size for p in paths)
    print(
        f"data: generated {args.records:,} records in {len(paths)} file(s) in {took:.1f} s "
        f"({args.records / took:,.0f} records/s); {size / 1e6:,.0f} MB of JSON "
        f"({size / max(args.records, 1):,.0f} B/record), {on_disk / 1e6:,.0f} MB on disk"
    )
    manifest.write_text(json.dumps({"params": wanted, "paths": [p.name for p in paths]}))
    return paths


def print_table(rows: list[Measure]) -> None:
    header = ("what", "records", "seconds", "records/s", "CPU s", "peak RSS MB", "load")
    cells = [
        (
            m.what,
            f"{m.records:,}",
            f"{m.seconds:.2f}",
            f"{m.rate:,.0f}",
            f"{m.cpu:.2f}",
            f"{m.rss_mb:,.0f}",
            f"{m.load:.1f}",
        )
        for m in rows
    ]
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header))]

    def aligned(row: tuple[str, ...]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )

    print(aligned(header))
    print("-" * len(aligned(header)))
    for row in cells:
        print(aligned(row))
    for m in rows:
        if m.note:
            print(f"  {m.what}: {m.note}")
    cpus = os.cpu_count() or 1
    if max(m.load for m in rows) > cpus + 0.5:
        print(
            f"  note: load average above {cpus} CPUs: other processes competed for the CPU;"
            " compare CPU s, or run again on a quiet machine"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark lexboard ingest against a plain orjson loop."
    )
    parser.add_argument("--records", type=int, default=1_000_000, help="default 1,000,000")
    parser.add_argument("--files", type=int, default=1, help="split the records over K files")
    parser.add_argument("--gzip", action="store_true", help="write .jsonl.gz files")
    parser.add_argument(
        "--keep", type=Path, help="keep data and store in DIR (reused when the same)"
    )
    parser.add_argument("--db", type=Path, help="store path (default: in the data folder)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, help="generator processes (default: CPUs)")
    parser.add_argument(
        "--src",
        type=Path,
        help="measure the lexboard package in DIR (a checkout's src/) instead of the installed",
    )
    parser.add_argument(
        "--generate-only", action="store_true", help="make the data (needs --keep), measure nothing"
    )
    args = parser.parse_args(argv)
    if args.records < 1 or args.files < 1:
        parser.error("--records and --files must be at least 1")
    if args.generate_only and args.keep is None:
        parser.error("--generate-only needs --keep DIR")
    if args.src is not None:
        if not (args.src / "lexboard" / "__init__.py").exists():
            parser.error(f"--src {args.src}: no lexboard package there")
        global LEXBOARD_SRC
        LEXBOARD_SRC = args.src.resolve()
    for path in (args.keep, args.db):
        if path is not None and _inside_repo(path):
            parser.error(f"{path} is inside the repository: keep benchmark data out (use /tmp)")

    temporary = args.keep is None
    folder = Path(tempfile.mkdtemp(prefix="lexboard-bench-")) if temporary else args.keep
    folder.mkdir(parents=True, exist_ok=True)
    db = args.db or folder / "bench.duckdb"
    try:
        for stale in (db, db.with_name(db.name + ".wal")):
            if stale.exists():
                if args.db is not None:
                    parser.error(f"{stale} exists: the benchmark needs a new store")
                stale.unlink()
        print(
            f"lexboard ingest benchmark: {args.records:,} records, {args.files} file(s)"
            f"{', gzip' if args.gzip else ''}; {os.cpu_count()} CPUs; Python "
            f"{sys.version.split()[0]}, duckdb {duckdb.__version__}; lexboard from "
            f"{_lexboard_location()}"
        )
        files = generate(folder, args)
        if args.generate_only:
            return 0
        rows = [
            ingest(files, db, "lexboard ingest (new store)", "new", args.records),
            orjson_loop(files, args.records),
            ingest(files, db, "lexboard ingest again (all duplicates)", "duplicate", args.records),
        ]
        print()
        print_table(rows)
        size = db.stat().st_size
        wal = db.with_name(db.name + ".wal")
        wal_size = wal.stat().st_size if wal.exists() else 0
        stats = last_run_stats(db)
        print(
            f"\nstore: {size / 1e6:,.1f} MB ({size / max(stats['turns'], 1):,.0f} B/turn)"
            + (f" + {wal_size / 1e6:,.1f} MB WAL" if wal_size else "")
            + f"; {stats['turns']:,} turns, {stats['sessions']:,} sessions"
        )
        first = rows[0]
        worst_rss = max(rows[0].rss_mb, rows[2].rss_mb)
        print(
            f"goal: ≥ {GOAL_RATE:,} records/s end to end: {first.rate:,.0f} "
            f"({'met' if first.rate >= GOAL_RATE else 'NOT met'}); "
            f"peak RSS < {GOAL_RSS_MB:,} MB: {worst_rss:,.0f} MB "
            f"({'met' if worst_rss < GOAL_RSS_MB else 'NOT met'}); "
            f"ingest / orjson loop time: {first.seconds / rows[1].seconds:.2f}x"
        )
        if not temporary:
            print(f"kept: {folder}" + ("" if args.db else f" (store {db.name})"))
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
