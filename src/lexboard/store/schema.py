"""Versioned migrations. Never edit a shipped migration: add the next one.

``sessions`` is derived from ``turns``: a migration that changes its shape lists itself in
``REBUILD_DERIVED_AFTER`` and the derived tables are recomputed from the turns, so no
derived data is ever migrated by hand.
"""

from __future__ import annotations

from lexboard.store.keys import REQUEST_KEY, SESSION_KEY
from lexboard.store.turn_counts import REBUILD as REBUILD_TURN_COUNTS

TURN_TABLE = """
CREATE TABLE turns (
    request_id VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    session_id VARCHAR NOT NULL,
    originating_request_id VARCHAR NOT NULL,
    bot_id VARCHAR NOT NULL,
    bot_name VARCHAR,
    alias_id VARCHAR,
    alias_name VARCHAR,
    bot_version VARCHAR,
    locale_id VARCHAR NOT NULL,
    operation VARCHAR,
    input_mode VARCHAR,
    transcript VARCHAR,
    raw_transcript VARCHAR,
    utterance VARCHAR,
    missed BOOLEAN NOT NULL,
    developer_override BOOLEAN NOT NULL,
    intent VARCHAR,
    intent_state VARCHAR,
    confirmation_state VARCHAR,
    dialog_action VARCHAR,
    slot_to_elicit VARCHAR,
    nlu_confidence DOUBLE,
    interpretations STRUCT(intent VARCHAR, confidence DOUBLE)[],
    sentiment VARCHAR,
    sentiment_positive DOUBLE,
    sentiment_negative DOUBLE,
    sentiment_neutral DOUBLE,
    sentiment_mixed DOUBLE,
    slots STRUCT(name VARCHAR, shape VARCHAR, original_value VARCHAR, interpreted_value VARCHAR)[],
    session_attributes STRUCT("key" VARCHAR, "value" VARCHAR)[],
    request_attributes STRUCT("key" VARCHAR, "value" VARCHAR)[],
    messages STRUCT(content_type VARCHAR, content VARCHAR)[],
    response_reason VARCHAR,
    transcription_confidence DOUBLE,
    raw VARCHAR USING COMPRESSION zstd,
    source VARCHAR,
    position VARCHAR,
    ingest_batch BIGINT,
    ingested_at TIMESTAMPTZ
);
"""

SESSION_TABLE = """
CREATE TABLE sessions (
    bot_id VARCHAR NOT NULL,
    locale_id VARCHAR NOT NULL,
    session_id VARCHAR NOT NULL,
    originating_request_id VARCHAR NOT NULL,
    bot_name VARCHAR,
    start_ts TIMESTAMPTZ NOT NULL,
    end_ts TIMESTAMPTZ NOT NULL,
    duration_s DOUBLE NOT NULL,
    turns INTEGER NOT NULL,
    missed INTEGER NOT NULL,
    alias_ids VARCHAR[] NOT NULL,
    input_modes VARCHAR[] NOT NULL,
    runs STRUCT(intent VARCHAR, final_state VARCHAR)[] NOT NULL
);
"""

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        TURN_TABLE
        + SESSION_TABLE
        + """
CREATE TABLE quarantine (
    source VARCHAR NOT NULL,
    position VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    raw_start VARCHAR,
    ingest_run BIGINT,
    quarantined_at TIMESTAMPTZ NOT NULL
);
CREATE SEQUENCE ingest_run_ids START 1;
CREATE SEQUENCE ingest_batch_ids START 1;
CREATE TABLE ingest_runs (
    id BIGINT PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status VARCHAR NOT NULL,
    command VARCHAR
);
CREATE TABLE ingest_stats (
    run_id BIGINT NOT NULL,
    source VARCHAR NOT NULL,
    files BIGINT NOT NULL,
    "read" BIGINT NOT NULL,
    new BIGINT NOT NULL,
    duplicate BIGINT NOT NULL,
    quarantined BIGINT NOT NULL,
    expired BIGINT NOT NULL,
    last_event_ts TIMESTAMPTZ,
    lag_s DOUBLE,
    finished_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE checkpoints (
    source VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
""",
    ),
    (
        2,
        # Curation's audit: every attempt to add or remove a sample utterance (and builds).
        # location = the export's absolute path, or the AWS region of the Models API.
        """
CREATE SEQUENCE utterance_audit_ids START 1;
CREATE TABLE utterance_audit (
    id BIGINT PRIMARY KEY DEFAULT nextval('utterance_audit_ids'),
    "at" TIMESTAMPTZ NOT NULL,
    who VARCHAR NOT NULL,
    backend VARCHAR NOT NULL,
    bot VARCHAR NOT NULL,
    locale VARCHAR NOT NULL,
    intent VARCHAR,
    utterance VARCHAR,
    action VARCHAR NOT NULL,
    result VARCHAR NOT NULL,
    detail VARCHAR,
    location VARCHAR,
    undoes BIGINT
);
""",
    ),
    (
        3,
        # Per-session derived columns for the session_attributes and slot_retries metrics,
        # so they scan sessions instead of every turn; filled by rebuilding sessions.
        """
ALTER TABLE sessions ADD COLUMN attributes STRUCT("key" VARCHAR, "value" VARCHAR)[]
    DEFAULT [];
ALTER TABLE sessions ADD COLUMN elicitations STRUCT(
    request_id VARCHAR, ts TIMESTAMPTZ, alias_id VARCHAR, input_mode VARCHAR,
    intent VARCHAR, slot VARCHAR, retry BOOLEAN)[] DEFAULT [];
""",
    ),
    (
        4,
        # The path (the intents of the runs, in order) as its own list, so the path
        # metrics slice it instead of transforming every session's runs.
        "ALTER TABLE sessions ADD COLUMN path VARCHAR[] DEFAULT [];",
    ),
    (
        5,
        # Faster session metrics: runs and path as text (DuckDB groups strings far faster
        # than lists), a surrogate session_no, and flat child tables instead of lists of
        # structs, which are slow to scan: the session attribute values, the ElicitSlot
        # turns and the missed turns of each session, and the filled slots of each turn.
        # store/sessions.py and store/slot_fills.py keep them current.
        """
CREATE SEQUENCE session_nos START 1;
ALTER TABLE sessions DROP COLUMN runs;
ALTER TABLE sessions DROP COLUMN path;
ALTER TABLE sessions DROP COLUMN attributes;
ALTER TABLE sessions DROP COLUMN elicitations;
ALTER TABLE sessions ADD COLUMN session_no BIGINT DEFAULT 0;
ALTER TABLE sessions ADD COLUMN runs VARCHAR DEFAULT '';
ALTER TABLE sessions ADD COLUMN path VARCHAR DEFAULT '';
CREATE TABLE session_attributes (
    session_no BIGINT NOT NULL,
    start_ts TIMESTAMPTZ NOT NULL,
    bot_id VARCHAR NOT NULL,
    locale_id VARCHAR NOT NULL,
    attribute VARCHAR NOT NULL,
    value VARCHAR NOT NULL
);
CREATE TABLE elicitations (
    session_no BIGINT NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    bot_id VARCHAR NOT NULL,
    locale_id VARCHAR NOT NULL,
    alias_id VARCHAR,
    input_mode VARCHAR,
    intent VARCHAR NOT NULL,
    slot VARCHAR NOT NULL,
    retry BOOLEAN NOT NULL
);
CREATE TABLE missed_turns (
    session_no BIGINT NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    bot_id VARCHAR NOT NULL,
    locale_id VARCHAR NOT NULL,
    alias_id VARCHAR,
    input_mode VARCHAR,
    utterance VARCHAR NOT NULL
);
CREATE TABLE slot_fills (
    ts TIMESTAMPTZ NOT NULL,
    bot_id VARCHAR NOT NULL,
    locale_id VARCHAR NOT NULL,
    alias_id VARCHAR,
    input_mode VARCHAR,
    intent VARCHAR NOT NULL,
    slot VARCHAR NOT NULL,
    value VARCHAR NOT NULL
);
""",
    ),
    (
        6,
        # 64-bit keys of each request id and each session (store/keys.py), so that finding
        # the stored records and sessions a batch meets again scans integers instead of
        # every stored id string: a live batch into 10M turns takes 0.24 s instead of 0.5.
        f"""
ALTER TABLE turns ADD COLUMN request_key UBIGINT;
UPDATE turns SET request_key = {REQUEST_KEY};
ALTER TABLE sessions ADD COLUMN session_key UBIGINT;
UPDATE sessions SET session_key = {SESSION_KEY};
""",
    ),
    (
        7,
        # Turns counted per 15-minute grain (store/turn_counts.py), so that the turn-count
        # metrics and Prometheus scrapes read a few hundred thousand rows, not every turn.
        f"""
CREATE TABLE turn_counts (
    grain BIGINT NOT NULL,
    bot_id VARCHAR NOT NULL,
    bot_name VARCHAR,
    locale_id VARCHAR NOT NULL,
    alias_id VARCHAR,
    alias_name VARCHAR,
    bot_version VARCHAR,
    input_mode VARCHAR,
    intent VARCHAR,
    sentiment VARCHAR,
    missed BOOLEAN NOT NULL,
    requests BIGINT NOT NULL
);
{REBUILD_TURN_COUNTS};
""",
    ),
)

# After these migrations the tables derived from the turns are recomputed.
REBUILD_DERIVED_AFTER = frozenset({3, 4, 5})
LATEST_VERSION = MIGRATIONS[-1][0]
