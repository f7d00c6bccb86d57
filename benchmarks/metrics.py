"""Metric latency at 1M and 10M turns, beside pandas over the raw JSON at 1M.

Builds (or reuses) stores of realistic records (benchmarks/lexgen.py: ~8 turns per
session over 30 days), then runs every metric of the catalog over the 30-day window
``--repeat`` times and prints p50/p95 latency per metric and for the whole catalog.
At the smallest size it also times what an analyst would do otherwise: pandas reading
the raw JSON Lines (``json_normalize``) and computing a few of the same figures.

    python benchmarks/metrics.py                 # 1M and 10M turns
    python benchmarks/metrics.py --sizes 1000000 --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import lexgen

from lexboard.metrics import CATALOG, resolve_request, run_metric
from lexboard.store import open_store
from lexboard.store.ingest import ingest_sources

CHUNK = 1_000_000
WINDOW_FROM = lexgen.DEFAULT_START
WINDOW_TO = lexgen.DEFAULT_START + timedelta(days=lexgen.DEFAULT_DAYS)


def build_store(folder: Path, n: int) -> Path:
    db = folder / f"metrics-{n}.duckdb"
    if db.exists():
        print(f"reusing {db}")
        open_store(db, memory_limit="2GB").close()  # migrates a store of an older lexboard
        return db
    started = time.perf_counter()
    with open_store(db, memory_limit="2GB") as store:
        done = 0
        while done < n:
            size = min(CHUNK, n - done)
            chunk = folder / f"chunk-{done}.jsonl"
            lexgen.write_file(chunk, size, seed=done // CHUNK)
            ingest_sources(store, [("bench", [chunk])], "jsonl", 0, "benchmark")
            chunk.unlink()
            done += size
            print(f"  {done:,} / {n:,} turns ingested ({time.perf_counter() - started:.0f} s)")
        store.execute("CHECKPOINT")
    return db


def time_metrics(db: Path, repeat: int, tz: str) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {metric: [] for metric in CATALOG}
    with open_store(db, read_only=True, memory_limit="2GB") as store:
        for metric in CATALOG:  # warm-up: first touch of each table's columns
            run_metric(
                store, resolve_request(metric, WINDOW_FROM.isoformat(), WINDOW_TO.isoformat(), tz)
            )
        for _ in range(repeat):
            for metric in CATALOG:
                request = resolve_request(
                    metric, WINDOW_FROM.isoformat(), WINDOW_TO.isoformat(), tz
                )
                started = time.perf_counter()
                run_metric(store, request)
                timings[metric].append(time.perf_counter() - started)
    return timings


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def pandas_baseline(folder: Path, n: int) -> list[tuple[str, float]]:
    try:
        import pandas as pd
    except ImportError:
        return [("pandas not installed (pip install pandas)", float("nan"))]
    path = folder / "pandas.jsonl"
    lexgen.write_file(path, n, seed=0)
    results = []
    started = time.perf_counter()
    frame = pd.json_normalize(pd.read_json(path, lines=True).to_dict("records"))
    results.append(("load + json_normalize", time.perf_counter() - started))
    frame["ts"] = pd.to_datetime(frame["timestamp"], utc=True)
    window = frame[(frame.ts >= WINDOW_FROM) & (frame.ts < WINDOW_TO)]
    started = time.perf_counter()
    key = ["bot.id", "bot.localeId", "sessionId", "sessionState.originatingRequestId"]
    sessions = frame.groupby(key, dropna=False)["ts"].agg(["min", "max", "count"])
    sessions = sessions[(sessions["min"] >= WINDOW_FROM) & (sessions["min"] < WINDOW_TO)]
    _ = (
        len(window),
        window["missedUtterance"].sum(),
        (sessions["max"] - sessions["min"]).dt.total_seconds().mean(),
        sessions["count"].mean(),
    )
    results.append(("summary", time.perf_counter() - started))
    started = time.perf_counter()
    window.groupby("sessionState.intent.name").size().sort_values(ascending=False)
    results.append(("intents", time.perf_counter() - started))
    started = time.perf_counter()
    utterances = window["inputTranscript"].str.lower().str.split().str.join(" ")
    utterances.value_counts().head(10)
    results.append(("top_utterances", time.perf_counter() - started))
    path.unlink()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--tz", default="America/New_York")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/lexboard-bench"))
    parser.add_argument("--no-pandas", action="store_true")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {}
    for n in sizes:
        print(f"store of {n:,} turns")
        results[n] = time_metrics(build_store(args.folder, n), args.repeat, args.tz)
    header = f"{'metric':24}" + "".join(
        f"{f'{n / 1e6:g}M p50':>12}{f'{n / 1e6:g}M p95':>12}" for n in sizes
    )
    print("\nlatency per metric, 30-day window, tz " + args.tz + " (ms)")
    print(header)
    for metric in CATALOG:
        cells = "".join(
            f"{pct(results[n][metric], 0.5) * 1000:12.1f}"
            f"{pct(results[n][metric], 0.95) * 1000:12.1f}"
            for n in sizes
        )
        print(f"{metric:24}{cells}")
    totals = "".join(
        f"{sum(statistics.median(t) for t in results[n].values()) * 1000:12.1f}{'':12}"
        for n in sizes
    )
    print(f"{'whole catalog (sum p50)':24}{totals}")
    if not args.no_pandas:
        n = sizes[0]
        print(f"\npandas over the raw JSON Lines, {n:,} records (s)")
        for what, seconds in pandas_baseline(args.folder, n):
            print(f"  {what:28}{seconds:10.2f}")


if __name__ == "__main__":
    main()
