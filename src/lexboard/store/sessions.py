"""The ``sessions`` table and its child tables, kept current as turns arrive.

A session is METRICS.md's key (bot_id, locale_id, session_id, originating_request_id).
Its row, its distinct session-attribute values (``session_attributes``), its ElicitSlot
turns (``elicitations``) and its missed turns (``missed_turns``) are recomputed from all
its turns whenever a batch touches it, so they are always what a full recomputation
would give; metrics then scan these small flat tables, not the turns. Each computation
gives the session a new ``session_no`` (a surrogate key the child rows carry, so counting
distinct sessions is counting integers).

Runs and paths are kept as text, because DuckDB groups strings many times faster than
lists: ``path`` is the intents of the runs joined by " > " (Lex intent names hold only
letters, digits, "_" and "-"), ``runs`` is each run as intent, unit separator (chr 31),
final state ("" when null), the runs joined by the record separator (chr 30).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lexboard.store.keys import SESSION_KEY, candidate_rows

if TYPE_CHECKING:
    from lexboard.store.db import Store

KEY = ("bot_id", "locale_id", "session_id", "originating_request_id")
_KEY_LIST = ", ".join(KEY)
CHILD_TABLES = (("session_attributes", "start_ts"), ("elicitations", "ts"), ("missed_turns", "ts"))

# Each session to compute gets a new session_no; its turns are read with it (one join on
# the four key strings), so every window and group below works on that integer.
_NUMBERED = f"""
CREATE OR REPLACE TEMP TABLE numbered_sessions AS
SELECT *, nextval('session_nos') AS session_no, {SESSION_KEY} AS session_key
FROM affected_sessions
"""
_TOUCHED = f"""
CREATE OR REPLACE TEMP TABLE touched_turns AS
SELECT n.session_no, bot_id, locale_id, ts, request_id, intent, intent_state, missed,
       bot_name, alias_id, input_mode, dialog_action, slot_to_elicit, session_attributes,
       utterance
FROM turns t JOIN numbered_sessions n USING ({_KEY_LIST})
WHERE t.ts >= $since
"""

# Intent runs: turns in (ts, request_id) order, null intents dropped, split into maximal
# runs of one intent; a run's final state is the intent state of its last turn.
_SESSION_ROWS = """
WITH marked AS (
    SELECT session_no, ts, request_id, intent, intent_state,
           CASE WHEN intent IS DISTINCT FROM lag(intent) OVER (
                    PARTITION BY session_no ORDER BY ts, request_id)
                THEN 1 ELSE 0 END AS starts_run
    FROM touched_turns WHERE intent IS NOT NULL
), numbered AS (
    SELECT *, sum(starts_run) OVER (
        PARTITION BY session_no ORDER BY ts, request_id ROWS UNBOUNDED PRECEDING) AS run_no
    FROM marked
), runs AS (
    SELECT session_no, run_no, any_value(intent) AS intent,
           arg_max_null(intent_state, {'ts': ts, 'request_id': request_id}) AS final_state
    FROM numbered GROUP BY ALL
), run_lists AS (
    SELECT session_no,
           string_agg(intent || chr(31) || coalesce(final_state, ''), chr(30) ORDER BY run_no)
               AS runs,
           string_agg(intent, ' > ' ORDER BY run_no) AS path
    FROM runs GROUP BY ALL
), totals AS (
    SELECT session_no,
           any_value(bot_name) FILTER (WHERE bot_name IS NOT NULL) AS bot_name,
           min(ts) AS start_ts,
           max(ts) AS end_ts,
           epoch(max(ts)) - epoch(min(ts)) AS duration_s,
           count(*)::INTEGER AS turns,
           count(*) FILTER (WHERE missed)::INTEGER AS missed,
           coalesce(list_sort(list(DISTINCT alias_id) FILTER (WHERE alias_id IS NOT NULL)), [])
               AS alias_ids,
           coalesce(list_sort(list(DISTINCT input_mode) FILTER (WHERE input_mode IS NOT NULL)),
                    []) AS input_modes
    FROM touched_turns GROUP BY ALL
)
SELECT n.bot_id, n.locale_id, n.session_id, n.originating_request_id, n.session_key, totals.*,
       coalesce(run_lists.runs, '') AS runs, coalesce(run_lists.path, '') AS path
FROM totals
JOIN numbered_sessions n USING (session_no)
LEFT JOIN run_lists USING (session_no)
"""

# The distinct non-empty attribute values seen on any of the session's turns.
_ATTRIBUTE_ROWS = """
WITH starts AS (
    SELECT session_no, any_value(bot_id) AS bot_id, any_value(locale_id) AS locale_id,
           min(ts) AS start_ts
    FROM touched_turns GROUP BY ALL
), pairs AS (
    SELECT DISTINCT session_no, pair."key" AS attribute, pair."value" AS value
    FROM (SELECT session_no, unnest(session_attributes) AS pair FROM touched_turns)
    WHERE pair."value" IS NOT NULL AND pair."value" <> ''
)
SELECT session_no, starts.start_ts, bot_id, locale_id, pairs.attribute, pairs.value
FROM pairs JOIN starts USING (session_no)
"""

# ElicitSlot turns; a retry when the previous turn (over all the session's turns)
# elicited the same slot of the same intent.
_ELICITATION_ROWS = """
SELECT * EXCLUDE (dialog_action)
FROM (
    SELECT session_no, ts, bot_id, locale_id, alias_id, input_mode, intent,
           slot_to_elicit AS slot,
           coalesce(lag(dialog_action) OVER w = 'ElicitSlot' AND lag(intent) OVER w = intent
                    AND lag(slot_to_elicit) OVER w = slot_to_elicit, false) AS retry,
           dialog_action
    FROM touched_turns
    WINDOW w AS (PARTITION BY session_no ORDER BY ts, request_id)
)
WHERE dialog_action = 'ElicitSlot' AND intent IS NOT NULL AND slot IS NOT NULL
"""

_MISSED_ROWS = """
SELECT session_no, ts, bot_id, locale_id, alias_id, input_mode, utterance
FROM touched_turns
WHERE missed AND utterance IS NOT NULL
"""


def _insert_derived(con: Any, since: datetime | None = None) -> None:
    """Insert the derived rows of the sessions listed in ``affected_sessions``.

    ``since``: no turn of these sessions is older (lets DuckDB skip old row groups).
    """
    con.execute(_NUMBERED)
    con.execute(_TOUCHED, {"since": since or datetime(1, 1, 1, tzinfo=UTC)})
    con.execute(f"INSERT INTO sessions BY NAME {_SESSION_ROWS}")
    con.execute(f"INSERT INTO session_attributes BY NAME {_ATTRIBUTE_ROWS}")
    con.execute(f"INSERT INTO elicitations BY NAME {_ELICITATION_ROWS}")
    con.execute(f"INSERT INTO missed_turns BY NAME {_MISSED_ROWS}")
    con.execute("DROP TABLE touched_turns")
    con.execute("DROP TABLE numbered_sessions")


def refresh_sessions(
    store: Store,
    affected_sql: str,
    params: list[object],
    new_turns_from: datetime | None = None,
) -> None:
    """Recompute the sessions whose keys ``affected_sql`` selects (inside a transaction).

    ``new_turns_from``: the oldest turn stored since these sessions were last computed
    (None: unknown). With the stored sessions' starts it bounds the turns to read.
    """
    store.execute(f"CREATE OR REPLACE TEMP TABLE affected_sessions AS {affected_sql}", params)
    stored, stored_params = candidate_rows(
        store, "sessions", "session_key", f"SELECT {SESSION_KEY} FROM affected_sessions"
    )
    store.execute(
        f"CREATE OR REPLACE TEMP TABLE replaced_sessions AS SELECT session_no, start_ts "
        f"FROM {stored} SEMI JOIN affected_sessions USING ({_KEY_LIST})",
        stored_params,
    )
    earliest, replaced, affected = store.fetchone(
        "SELECT min(start_ts), count(*), (SELECT count(*) FROM affected_sessions) "
        "FROM replaced_sessions"
    )
    # every stored turn of a computed session is at or after its start; the turns of a
    # session not computed yet are all new
    since: datetime | None = None
    if replaced == affected or new_turns_from is not None:
        starts = [t for t in (earliest, new_turns_from) if t is not None]
        since = min(starts) if starts else None
    if earliest is not None:
        # child rows lie at or after their session's start: the bound lets DuckDB skip
        # the row groups of older data when logs arrive roughly in time order
        for table, column in (("sessions", "start_ts"), *CHILD_TABLES):
            store.execute(
                f"DELETE FROM {table} WHERE {column} >= ? "
                f"AND session_no IN (SELECT session_no FROM replaced_sessions)",
                [earliest],
            )
    store.execute("DROP TABLE replaced_sessions")
    _insert_derived(store.con, since)
    store.execute("DROP TABLE affected_sessions")


REBUILD_CHUNK_TURNS = 500_000


def rebuild_all_sessions(con: Any) -> None:
    """Recompute every session (inside the caller's transaction), e.g. after a migration.

    Sessions are rebuilt in slices of about REBUILD_CHUNK_TURNS turns (by a hash of their
    key), so a store of any size fits in memory.
    """
    turns = con.execute("SELECT count(*) FROM turns").fetchone()[0]
    slices = max(1, -(-int(turns) // REBUILD_CHUNK_TURNS))
    for table in ("sessions", *(child for child, _ in CHILD_TABLES)):
        con.execute(f"DELETE FROM {table}")
    for part in range(slices):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE affected_sessions AS SELECT DISTINCT {_KEY_LIST} "
            f"FROM turns WHERE hash({_KEY_LIST}) % {slices} = {part}"
        )
        _insert_derived(con)
    con.execute("DROP TABLE IF EXISTS affected_sessions")
