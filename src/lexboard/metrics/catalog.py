"""Metrics as data: id, title, definition, level, parameters, columns and SQL file.

Definitions follow ``METRICS.md`` word for word where they can; ``docs/metrics.md`` is
generated from this table (``python -m lexboard.docs``) and a test fails when it
is stale. Defining a metric here is separate from running it (``run.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from lexboard.errors import MetricError


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # int | bool | str | choice (an int may also list its allowed choices)
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string | integer | float | boolean | timestamp
    help: str = ""


ParamResolver = Callable[[dict[str, Any], datetime, datetime, str], dict[str, Any]]


@dataclass(frozen=True)
class Metric:
    id: str
    title: str
    description: str
    level: str  # turn | session | mixed
    columns: tuple[Column, ...]
    order: str
    params: tuple[Param, ...] = field(default_factory=tuple)
    # Optional hook run after the parameters are parsed: (params, from, to, tz) → params.
    # For defaults that depend on the window and checks that need it; raises MetricError.
    resolve: ParamResolver | None = field(default=None, compare=False, repr=False)

    @cached_property
    def sql(self) -> str:
        return (resources.files("lexboard.metrics") / "sql" / f"{self.id}.sql").read_text()

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


# --- activity's time buckets -------------------------------------------------------------

BUCKETS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}
MAX_BUCKETS = 5000


def default_bucket(span: timedelta) -> str:
    """From the elapsed real time ``to − from``: ≤ 6 h → 5m, ≤ 3 d → 1h, else 1d."""
    if span <= timedelta(hours=6):
        return "5m"
    if span <= timedelta(days=3):
        return "1h"
    return "1d"


def count_buckets(bucket: str, start: datetime, end: datetime, tz: str) -> int:
    """How many buckets ``activity`` gives: exact near MAX_BUCKETS, an estimate far from it.

    The exact count follows activity.sql: a sub-day bucket is an instant's tz wall-clock
    time truncated to the bucket, with that instant's UTC offset; sampling ``from`` and
    every UTC multiple of min(bucket, 15 min) in the window meets every bucket.
    """
    if end <= start:
        return 0
    zone = ZoneInfo(tz)
    if bucket == "1d":
        first_day = start.astimezone(zone).date()
        last_day = (end - timedelta(microseconds=1)).astimezone(zone).date()
        return (last_day - first_day).days + 1
    width = BUCKETS[bucket]
    estimate = (end - start) / width
    if abs(estimate - MAX_BUCKETS) > 100:  # a DST change moves the count by one only
        return math.ceil(estimate)
    step = min(width, timedelta(minutes=15))
    minutes = width // timedelta(minutes=1)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    sample = epoch - ((epoch - start) // step) * step  # the first multiple of step ≥ start
    samples = [start]
    while sample < end:
        samples.append(sample)
        sample += step
    keys: set[datetime] = set()
    for instant in samples:
        local = instant.astimezone(zone)
        offset = local.utcoffset() or timedelta(0)
        wall = local.replace(tzinfo=None)
        floor = wall.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
            minutes=(wall.hour * 60 + wall.minute) // minutes * minutes
        )
        keys.add(floor - offset)
    return len(keys)


def _activity_params(
    params: dict[str, Any], start: datetime, end: datetime, tz: str
) -> dict[str, Any]:
    bucket = params.get("bucket") or default_bucket(end - start)
    count = count_buckets(bucket, start, end, tz)
    if count > MAX_BUCKETS:
        fitting = [
            name
            for name, width in BUCKETS.items()
            if width > BUCKETS[bucket] and count_buckets(name, start, end, tz) <= MAX_BUCKETS
        ]
        hint = (
            "choose a coarser bucket: " + ", ".join(fitting)
            if fitting
            else "choose a shorter window (1d buckets: at most 5,000 days)"
        )
        raise MetricError(
            f"activity with bucket={bucket} would have {count:,} buckets, "
            f"more than {MAX_BUCKETS:,}",
            hint=hint,
        )
    return {**params, "bucket": bucket}


METRICS: tuple[Metric, ...] = (
    Metric(
        id="summary",
        title="Summary",
        description=(
            "Requests are the turns (log records) whose timestamp is in the window; missed "
            "are those Lex marked as missedUtterance; missed_rate = missed / requests (null "
            "with no requests). Sessions, and the average session duration and turns per "
            "session, are over the sessions that started in the window, with all their "
            "turns."
        ),
        level="mixed",
        columns=(
            Column("requests", "integer", "turns in the window"),
            Column("sessions", "integer", "sessions started in the window"),
            Column("missed", "integer", "missed turns in the window"),
            Column("missed_rate", "float", "missed / requests"),
            Column("avg_session_duration_s", "float", "mean session duration, seconds"),
            Column("avg_turns_per_session", "float", "mean turns per session"),
        ),
        order="one row",
    ),
    Metric(
        id="activity",
        title="Activity over time",
        description=(
            "Per time bucket: requests = the turns in the window whose timestamp falls in "
            "the bucket, missed = those Lex marked as missedUtterance, sessions = the "
            "sessions that started in it. Buckets follow the wall clock of tz: a sub-day "
            "bucket is the tz wall-clock time truncated to 1, 5 or 15 minutes or the hour, "
            "and keeps the UTC offset of the instants it holds (so a repeated DST hour gives "
            "two buckets and a skipped one none); a 1d bucket runs from local midnight to "
            "local midnight (23 h or 25 h on DST days; where midnight is skipped, from the "
            "day's first instant). Every bucket from the one holding from up to to appears, "
            "zero-filled; a window with from = to has none. The default bucket follows the "
            "elapsed time to − from: up to 6 h 5m, up to 3 days 1h, else 1d. More than 5,000 "
            "buckets is an error."
        ),
        level="mixed",
        columns=(
            Column("bucket", "timestamp", "start of the bucket, with the UTC offset it had"),
            Column("requests", "integer", "turns in the bucket"),
            Column("sessions", "integer", "sessions that started in the bucket"),
            Column("missed", "integer", "missed turns in the bucket"),
        ),
        order="bucket asc",
        params=(
            Param(
                "bucket",
                "choice",
                None,
                "bucket size; default from the window span (≤ 6 h 5m, ≤ 3 d 1h, else 1d)",
                choices=tuple(BUCKETS),
            ),
        ),
        resolve=_activity_params,
    ),
    Metric(
        id="sentiment",
        title="Sentiment",
        description=(
            "The turns in the window that carry Lex's sentiment label "
            "(interpretations[0].sentimentResponse.sentiment: POSITIVE, NEGATIVE, NEUTRAL or "
            "MIXED, only when sentiment analysis is enabled on the alias), counted by label. "
            "Turns without a label are left out."
        ),
        level="turn",
        columns=(
            Column("sentiment", "string", "Lex's sentiment label"),
            Column("requests", "integer", "turns with that label"),
        ),
        order="requests desc, sentiment asc",
    ),
    Metric(
        id="modality",
        title="Input modes",
        description=(
            "The turns in the window counted by inputMode (Text, Speech, DTMF); turns "
            "without an inputMode are counted under an empty (null) input_mode, listed last "
            "among equal counts."
        ),
        level="turn",
        columns=(
            Column("input_mode", "string", "inputMode of the turn"),
            Column("requests", "integer", "turns in that mode"),
        ),
        order="requests desc, input_mode asc",
    ),
    Metric(
        id="intents",
        title="Intents",
        description=(
            "The turns in the window counted by turn intent (sessionState.intent.name; "
            "FallbackIntent on a missed turn that has none); turns without an intent are "
            "left out. missed = the missed turns among them."
        ),
        level="turn",
        columns=(
            Column("intent", "string", "turn intent"),
            Column("requests", "integer", "turns with that intent"),
            Column("missed", "integer", "missed turns with that intent"),
        ),
        order="requests desc, intent asc",
    ),
    Metric(
        id="missed_utterances",
        title="Missed utterances",
        description=(
            "The missed turns in the window grouped by utterance (inputTranscript "
            "lower-cased, whitespace collapsed and trimmed; turns without a transcript left "
            "out): count = missed turns, sessions = distinct sessions (bot, locale, "
            "sessionId, originatingRequestId) they came from, last_seen = the latest "
            "timestamp. The first limit utterances."
        ),
        level="turn",
        columns=(
            Column("utterance", "string", "normalised transcript"),
            Column("count", "integer", "missed turns with that utterance"),
            Column("sessions", "integer", "distinct sessions among them"),
            Column("last_seen", "timestamp", "latest of their timestamps"),
        ),
        order="count desc, utterance asc",
        params=(Param("limit", "int", 10, "rows to return", minimum=1),),
    ),
    Metric(
        id="top_utterances",
        title="Top utterances",
        description=(
            "All turns in the window grouped by utterance (normalised inputTranscript; "
            "turns without a transcript left out): count = turns, top_intent = the most "
            "frequent non-null turn intent among them (ties: alphabetically first; null if "
            "none has an intent), missed = the missed turns among them. The first limit "
            "utterances."
        ),
        level="turn",
        columns=(
            Column("utterance", "string", "normalised transcript"),
            Column("count", "integer", "turns with that utterance"),
            Column("top_intent", "string", "most frequent turn intent among them"),
            Column("missed", "integer", "missed turns among them"),
        ),
        order="count desc, utterance asc",
        params=(Param("limit", "int", 10, "rows to return", minimum=1),),
    ),
    Metric(
        id="message_history",
        title="Message history",
        description=(
            "The turns in the window themselves, newest first: timestamp, sessionId, the "
            "raw inputTranscript, turn intent, missed flag and inputMode. missed_only keeps "
            "the missed turns; q keeps the turns whose transcript contains q, ignoring case. "
            "The first limit turns."
        ),
        level="turn",
        columns=(
            Column("ts", "timestamp", "turn timestamp"),
            Column("session_id", "string", "sessionId"),
            Column("transcript", "string", "raw inputTranscript"),
            Column("intent", "string", "turn intent"),
            Column("missed", "boolean", "missedUtterance"),
            Column("input_mode", "string", "inputMode"),
        ),
        order="ts desc, request_id asc",
        params=(
            Param("limit", "int", 100, "rows to return", minimum=1),
            Param("missed_only", "bool", False, "only missed turns"),
            Param("q", "str", None, "case-insensitive substring of the transcript"),
        ),
    ),
    Metric(
        id="top_sessions",
        title="Top sessions",
        description=(
            "The sessions that started in the window, longest first, with all their turns "
            "(also those after to): start and end = first and last turn, duration_s = end − "
            "start, turns = number of turns, missed = missed turns. originating_request_id "
            "is empty when the records have none. The first limit sessions."
        ),
        level="session",
        columns=(
            Column("session_id", "string", "sessionId"),
            Column("originating_request_id", "string", "sessionState.originatingRequestId"),
            Column("start", "timestamp", "first turn"),
            Column("end", "timestamp", "last turn"),
            Column("duration_s", "float", "end − start, seconds"),
            Column("turns", "integer", "turns of the session"),
            Column("missed", "integer", "missed turns of the session"),
        ),
        order="turns desc, duration_s desc, session_id asc",
        params=(Param("limit", "int", 10, "rows to return", minimum=1),),
    ),
    Metric(
        id="session_stats",
        title="Session statistics",
        description=(
            "Over the sessions that started in the window, with all their turns: how many, "
            "and the mean, median (p50), 90th percentile and maximum of their duration "
            "(seconds from first to last turn) and of their number of turns. Percentiles "
            "interpolate linearly between ranks (numpy's default); with no sessions, "
            "sessions = 0 and the rest is null."
        ),
        level="session",
        columns=(
            Column("sessions", "integer", "sessions started in the window"),
            Column("avg_duration_s", "float", "mean duration, seconds"),
            Column("p50_duration_s", "float", "median duration, seconds"),
            Column("p90_duration_s", "float", "90th percentile of duration, seconds"),
            Column("max_duration_s", "float", "longest duration, seconds"),
            Column("avg_turns", "float", "mean turns per session"),
            Column("p50_turns", "float", "median turns per session"),
            Column("p90_turns", "float", "90th percentile of turns per session"),
            Column("max_turns", "integer", "most turns in a session"),
        ),
        order="one row",
    ),
    Metric(
        id="session_heatmap",
        title="Sessions by weekday and hour",
        description=(
            "The sessions that started in the window by the tz weekday (0 = Monday … 6 = "
            "Sunday) and hour block of their start; hour is the block's first hour "
            "(blocks of block_hours hours from midnight). All 7 × 24/block_hours cells "
            "appear, zero-filled."
        ),
        level="session",
        columns=(
            Column("day_of_week", "integer", "0 = Monday … 6 = Sunday"),
            Column("hour", "integer", "first hour of the block, 0–23"),
            Column("sessions", "integer", "sessions that started in the cell"),
        ),
        order="day_of_week asc, hour asc",
        params=(
            Param(
                "block_hours",
                "int",
                2,
                "hours per block",
                choices=("1", "2", "3", "4", "6"),
                minimum=1,
            ),
        ),
    ),
    Metric(
        id="intent_heatmap",
        title="Intents by hour",
        description=(
            "The turns in the window with a turn intent, by intent and tz hour of day "
            "(0–23); cells without turns are left out."
        ),
        level="turn",
        columns=(
            Column("intent", "string", "turn intent"),
            Column("hour", "integer", "hour of day, 0–23"),
            Column("requests", "integer", "turns"),
        ),
        order="intent asc, hour asc",
    ),
    Metric(
        id="intent_paths",
        title="Intent paths",
        description=(
            "The sessions that started in the window by path: the intents of the session's "
            "turns in order (null intents dropped) with consecutive repeats collapsed, cut "
            'to the first max_steps intents and joined with " > ". Sessions without any '
            "intent are left out. The first limit paths."
        ),
        level="session",
        columns=(
            Column("path", "string", 'intents joined with " > "'),
            Column("sessions", "integer", "sessions with that path"),
        ),
        order="sessions desc, path asc",
        params=(
            Param("limit", "int", 20, "rows to return", minimum=1),
            Param("max_steps", "int", 6, "intents kept per path", minimum=1),
        ),
    ),
    Metric(
        id="intent_flow",
        title="Intent flow",
        description=(
            "The links of a Sankey diagram of the same cut paths p (every session started "
            "in the window with a non-empty path, no limit): (0, START, p[0]), (i, p[i−1], "
            "p[i]) for i = 1 … len−1 and (len, p[len−1], END), with sessions = how many "
            "sessions have that link. The END link comes at step len(cut path) even when "
            "the path was cut."
        ),
        level="session",
        columns=(
            Column("step", "integer", "position of the link"),
            Column("source", "string", "intent, or START"),
            Column("target", "string", "intent, or END"),
            Column("sessions", "integer", "sessions with that link"),
        ),
        order="step asc, sessions desc, source asc, target asc",
        params=(Param("max_steps", "int", 6, "intents kept per path", minimum=1),),
    ),
    Metric(
        id="slot_values",
        title="Slot values",
        description=(
            "In the turns of the window whose intent state is Fulfilled or "
            "ReadyForFulfillment: each filled slot's interpretedValue (else its "
            "originalValue) counted by intent and slot; a List slot counts each of its "
            "values, every occurrence counts, Composite slots are not counted. The limit "
            "most frequent values of each (intent, slot)."
        ),
        level="turn",
        columns=(
            Column("intent", "string", "turn intent"),
            Column("slot", "string", "slot name"),
            Column("value", "string", "interpretedValue, else originalValue"),
            Column("count", "integer", "occurrences"),
        ),
        order="intent asc, slot asc, count desc, value asc",
        params=(Param("limit", "int", 10, "values per (intent, slot)", minimum=1),),
    ),
    Metric(
        id="session_attributes",
        title="Session attributes",
        description=(
            "For the sessions that started in the window, over all their turns: per session "
            "attribute and value, the number of distinct sessions in which "
            "sessionAttributes[attribute] = value on any turn; empty values are left out. "
            "The limit most frequent values of each attribute."
        ),
        level="session",
        columns=(
            Column("attribute", "string", "session attribute name"),
            Column("value", "string", "attribute value"),
            Column("sessions", "integer", "sessions with that value"),
        ),
        order="attribute asc, sessions desc, value asc",
        # at most 100,000: the top values are picked with min_by(…, n), whose n DuckDB
        # caps below 1,000,000
        params=(Param("limit", "int", 10, "values per attribute", minimum=1, maximum=100_000),),
    ),
    Metric(
        id="intent_outcomes",
        title="Intent outcomes",
        description=(
            "Every intent run (maximal run of turns with one intent, null intents dropped) "
            "of the sessions that started in the window, except FallbackIntent runs, by "
            "intent: success when the run's final state (the intent state of its last "
            "turn) is Fulfilled or ReadyForFulfillment; otherwise failed when that state is "
            "Failed or the next run is FallbackIntent; otherwise switched when a next run "
            "exists; otherwise dropped. The dialog action is ignored."
        ),
        level="session",
        columns=(
            Column("intent", "string", "intent of the runs"),
            Column("runs", "integer", "runs of that intent"),
            Column("success", "integer", "runs ending Fulfilled or ReadyForFulfillment"),
            Column("failed", "integer", "runs ending Failed or followed by FallbackIntent"),
            Column("switched", "integer", "runs followed by another intent"),
            Column("dropped", "integer", "last runs that did not succeed or fail"),
        ),
        order="runs desc, intent asc",
    ),
    Metric(
        id="conversation_outcomes",
        title="Conversation outcomes",
        description=(
            "The sessions that started in the window, by outcome: in_progress when the last "
            "turn is less than idle_timeout_s before now; else dropped when the session has "
            "no intent run; failure when its last run is FallbackIntent; success when its "
            "last run's final state is Fulfilled or ReadyForFulfillment; failure when it is "
            "Failed; otherwise dropped. All four rows always appear."
        ),
        level="session",
        columns=(
            Column("outcome", "string", "success, failure, dropped or in_progress"),
            Column("sessions", "integer", "sessions with that outcome"),
        ),
        order="success, failure, dropped, in_progress",
        params=(
            Param(
                "idle_timeout_s",
                "int",
                300,
                "seconds without a turn after which a session is over (Lex's default idle TTL)",
                minimum=0,
            ),
        ),
    ),
    Metric(
        id="slot_retries",
        title="Slot retries",
        description=(
            "The turns in the window whose dialog action is ElicitSlot (with a turn intent "
            "and a slotToElicit), by intent and slot: elicitations = those turns, retries = "
            "those whose previous turn in the session (over all its turns, unfiltered) also "
            "elicited the same slot of the same intent."
        ),
        level="turn",
        columns=(
            Column("intent", "string", "turn intent"),
            Column("slot", "string", "slotToElicit"),
            Column("elicitations", "integer", "turns eliciting the slot"),
            Column("retries", "integer", "re-elicitations of the slot"),
        ),
        order="retries desc, elicitations desc, intent asc, slot asc",
    ),
)

CATALOG: dict[str, Metric] = {metric.id: metric for metric in METRICS}
