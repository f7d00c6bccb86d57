"""Metrics against a plain-Python computation of METRICS.md on generated logs.

Logs cluster around a DST change in America/New_York, share milliseconds (so the
request id decides the order), reuse session ids across originating request ids, bots and
locales, and mix null intents, missed turns with and without an intent, and input modes.
The reference below reads the definitions literally and shares no code with lexboard.
"""

from __future__ import annotations

import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lexboard.metrics import resolve_request, run_metric
from lexboard.store import open_store
from lexboard.store.ingest import Ingestor
from tests.conftest import write_jsonl
from tests.records import lex_record

NY = ZoneInfo("America/New_York")
CHANGES = (
    datetime(2026, 11, 1, 6, tzinfo=UTC),  # fall back: 01:00–02:00 happens twice
    datetime(2026, 3, 8, 7, tzinfo=UTC),  # spring forward: 02:00–03:00 is skipped
)


@dataclass(frozen=True)
class Turn:
    request_id: str
    ts: datetime
    key: tuple[str, str, str, str]  # bot, locale, session id, originating request id
    intent: str | None  # as given in sessionState.intent
    state: str | None
    missed: bool
    mode: str

    @property
    def turn_intent(self) -> str | None:
        return self.intent if self.intent is not None or not self.missed else "FallbackIntent"

    def record(self) -> dict[str, Any]:
        bot, locale, session, orig = self.key
        return lex_record(
            ts=self.ts.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            request_id=self.request_id,
            session_id=session,
            originating_request_id=orig or None,
            bot_id=bot,
            locale_id=locale,
            input_mode=self.mode,
            intent=self.intent,
            state=self.state,
            missed=self.missed,
        )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Turn], datetime, datetime]:
    """Turns within 3 h of a DST change and a window of up to 400 min around it."""
    change = draw(st.sampled_from(CHANGES))
    count = draw(st.integers(1, 30))
    result = []
    for i in range(count):
        key = (
            draw(st.sampled_from(["B1", "B2"])),
            draw(st.sampled_from(["en_US", "fr_FR"])),
            draw(st.sampled_from(["a", "b", "c"])),
            draw(st.sampled_from(["", "o1", "o2"])),
        )
        intent = draw(st.sampled_from([None, "Alpha", "Beta", "FallbackIntent"]))
        result.append(
            Turn(
                request_id=f"{draw(st.sampled_from('xyz'))}{i:03d}",
                ts=change + timedelta(minutes=10 * draw(st.integers(-18, 18))),
                key=key,
                intent=intent,
                state=draw(st.sampled_from([None, "InProgress", "Fulfilled", "Failed"]))
                if intent
                else None,
                missed=draw(st.booleans()),
                mode=draw(st.sampled_from(["Text", "Speech"])),
            )
        )
    start = change + timedelta(minutes=draw(st.integers(-200, 200)))
    return result, start, start + timedelta(minutes=draw(st.integers(0, 400)))


# --- the reference --------------------------------------------------------------------------


@dataclass
class Session:
    turns: list[Turn]

    @property
    def start(self) -> datetime:
        return self.turns[0].ts

    @property
    def duration(self) -> float:
        return (self.turns[-1].ts - self.turns[0].ts).total_seconds()

    def path(self) -> list[str]:
        path: list[str] = []
        for turn in self.turns:
            if turn.turn_intent is not None and (not path or path[-1] != turn.turn_intent):
                path.append(turn.turn_intent)
        return path


def reference(
    log: list[Turn], start: datetime, end: datetime, mode: str | None, max_steps: int, limit: int
) -> dict[str, list[list[Any]]]:
    window = [t for t in log if start <= t.ts < end and mode in (None, t.mode)]
    grouped: dict[tuple[str, ...], list[Turn]] = defaultdict(list)
    for turn in log:
        grouped[turn.key].append(turn)
    sessions = [Session(sorted(ts, key=lambda t: (t.ts, t.request_id))) for ts in grouped.values()]
    sessions = [
        s
        for s in sessions
        if start <= s.start < end and any(mode in (None, t.mode) for t in s.turns)
    ]
    durations = [s.duration for s in sessions]
    lengths = [len(s.turns) for s in sessions]
    missed = sum(t.missed for t in window)

    def mean(values: list[float] | list[int]) -> float | None:
        return sum(values) / len(values) if values else None

    def pct(values: list[float] | list[int], q: int) -> float | None:
        return float(np.percentile(values, q)) if values else None

    intents = Counter(t.turn_intent for t in window if t.turn_intent is not None)
    intent_missed = Counter(t.turn_intent for t in window if t.turn_intent and t.missed)
    paths = Counter(" > ".join(s.path()[:max_steps]) for s in sessions if s.path())

    # America/New_York's offsets are whole hours: its wall-clock hours are UTC hours
    activity = []
    hour = start.replace(minute=0, second=0, microsecond=0)
    while start < end and hour < end:
        following = hour + timedelta(hours=1)
        held = [t for t in window if hour <= t.ts < following]
        activity.append(
            [
                hour.astimezone(NY).isoformat(timespec="milliseconds"),
                len(held),
                sum(1 for s in sessions if hour <= s.start < following),
                sum(t.missed for t in held),
            ]
        )
        hour = following

    return {
        "summary": [
            [
                len(window),
                len(sessions),
                missed,
                missed / len(window) if window else None,
                mean(durations),
                mean(lengths),
            ]
        ],
        "intents": sorted(
            ([i, n, intent_missed[i]] for i, n in intents.items()), key=lambda r: (-r[1], r[0])
        ),
        "session_stats": [
            [
                len(sessions),
                mean(durations),
                pct(durations, 50),
                pct(durations, 90),
                max(durations) if durations else None,
                mean(lengths),
                pct(lengths, 50),
                pct(lengths, 90),
                max(lengths) if lengths else None,
            ]
        ],
        "intent_paths": sorted(([p, n] for p, n in paths.items()), key=lambda r: (-r[1], r[0]))[
            :limit
        ],
        "activity": activity,
    }


def approx(rows: list[list[Any]]) -> list[list[Any]]:
    return [[pytest.approx(v) if isinstance(v, float) else v for v in row] for row in rows]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenario=scenarios(),
    mode=st.sampled_from([None, "Text", "Speech"]),
    max_steps=st.integers(1, 4),
    limit=st.integers(1, 5),
)
def test_metrics_match_reference(
    scenario: tuple[list[Turn], datetime, datetime],
    mode: str | None,
    max_steps: int,
    limit: int,
) -> None:
    log, start, end = scenario
    expected = reference(log, start, end, mode, max_steps, limit)
    params: dict[str, dict[str, str]] = {
        "summary": {},
        "intents": {},
        "session_stats": {},
        "intent_paths": {"max_steps": str(max_steps), "limit": str(limit)},
        "activity": {"bucket": "1h"},
    }
    with tempfile.TemporaryDirectory() as scratch:
        logs = write_jsonl(Path(scratch) / "logs.jsonl", [t.record() for t in log])
        with open_store(Path(scratch) / "store.duckdb") as store:
            ingestor = Ingestor(store)
            ingestor.ingest_file(logs, ingestor.stats_for("logs"))
            ingestor.finish()
            for metric, metric_params in params.items():
                request = resolve_request(
                    metric,
                    start.isoformat(),
                    end.isoformat(),
                    "America/New_York",
                    {"input_mode": mode},
                    metric_params,
                )
                rows = run_metric(store, request).rows
                assert rows == approx(expected[metric]), metric
