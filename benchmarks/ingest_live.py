"""Live ingest into a big store: seconds per small batch, as a live source delivers them.

Copies the store built by benchmarks/metrics.py (built if missing; default 10M turns),
then ingests ``--batches`` files of ``--size`` records each, stamped within the last few
minutes as a CloudWatch or Firehose batch would be, and prints the per-batch latency
(p50, p95, max). What a live dashboard lags behind the bot by grows with this figure.

    python benchmarks/ingest_live.py [--turns 10000000] [--batches 20] [--size 100]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import lexgen
from metrics import WINDOW_TO, build_store

from lexboard.store import open_store
from lexboard.store.ingest import ingest_sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=10_000_000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/lexboard-bench"))
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    source = build_store(args.folder, args.turns)
    with tempfile.TemporaryDirectory(dir=args.folder) as scratch:
        db = Path(scratch) / "live.duckdb"
        shutil.copyfile(source, db)
        timings = []
        with open_store(db, memory_limit="2GB") as store:
            for number in range(args.batches):
                batch = Path(scratch) / f"batch-{number}.jsonl"
                end = WINDOW_TO + timedelta(minutes=number)  # each batch a minute later
                lexgen.write_file(
                    batch,
                    args.size,
                    seed=10_000 + number,
                    start=end - timedelta(minutes=5),
                    days=5 / 1440,
                )
                began = time.perf_counter()
                summary = ingest_sources(store, [("live", [batch])], "jsonl", 0, "benchmark")
                timings.append(time.perf_counter() - began)
                assert summary.total("new") == args.size
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(
        f"{args.batches} batches of {args.size} records into a store of {args.turns:,} turns: "
        f"p50 {statistics.median(timings):.2f} s, p95 {p95:.2f} s, max {max(timings):.2f} s"
    )


if __name__ == "__main__":
    main()
