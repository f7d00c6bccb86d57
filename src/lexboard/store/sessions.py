"""The ``sessions`` table: one row per conversation, kept current as turns arrive.

A session is METRICS.md's key (bot_id, locale_id, session_id, originating_request_id).
Its row is recomputed from all its turns whenever a batch touches it, so it is always
what a full recomputation would give; session metrics then scan sessions, not turns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lexboard.store.db import Store

KEY = ("bot_id", "locale_id", "session_id", "originating_request_id")
_KEY_LIST = ", ".join(KEY)
_KEY_MATCH = " AND ".join(f"s.{k} = a.{k}" for k in KEY)

# Intent runs: turns in (ts, request_id) order, null intents dropped, split into maximal
# runs of one intent; a run's final state is the intent state of its last turn.
_SESSION_ROWS = f"""
WITH touched AS NOT MATERIALIZED (
    SELECT {_KEY_LIST}, ts, request_id, intent, intent_state, missed, bot_name, alias_id,
           input_mode, dialog_action, slot_to_elicit, session_attributes
    FROM turns t SEMI JOIN affected_sessions a USING ({_KEY_LIST})
), marked AS (
    SELECT {_KEY_LIST}, ts, request_id, intent, intent_state,
           CASE WHEN intent IS DISTINCT FROM lag(intent) OVER (
                    PARTITION BY {_KEY_LIST} ORDER BY ts, request_id)
                THEN 1 ELSE 0 END AS starts_run
    FROM touched WHERE intent IS NOT NULL
), numbered AS (
    SELECT *, sum(starts_run) OVER (
        PARTITION BY {_KEY_LIST} ORDER BY ts, request_id ROWS UNBOUNDED PRECEDING) AS run_no
    FROM marked
), runs AS (
    SELECT {_KEY_LIST}, run_no, any_value(intent) AS intent,
           list(intent_state ORDER BY ts, request_id)[-1] AS final_state
    FROM numbered GROUP BY ALL
), run_lists AS (
    SELECT {_KEY_LIST},
           list({{'intent': intent, 'final_state': final_state}} ORDER BY run_no) AS runs,
           list(intent ORDER BY run_no) AS path
    FROM runs GROUP BY ALL
), elicited AS (
    -- ElicitSlot turns; a retry when the previous turn (over all turns) elicited the same
    -- slot of the same intent
    SELECT {_KEY_LIST}, ts, request_id, alias_id, input_mode, intent, slot_to_elicit,
           coalesce(lag(dialog_action) OVER w = 'ElicitSlot' AND lag(intent) OVER w = intent
                    AND lag(slot_to_elicit) OVER w = slot_to_elicit, false) AS retry,
           dialog_action
    FROM touched
    WINDOW w AS (PARTITION BY {_KEY_LIST} ORDER BY ts, request_id)
), elicitation_lists AS (
    SELECT {_KEY_LIST},
           list({{'request_id': request_id, 'ts': ts, 'alias_id': alias_id,
                  'input_mode': input_mode, 'intent': intent, 'slot': slot_to_elicit,
                  'retry': retry}} ORDER BY ts, request_id) AS elicitations
    FROM elicited
    WHERE dialog_action = 'ElicitSlot' AND intent IS NOT NULL AND slot_to_elicit IS NOT NULL
    GROUP BY ALL
), attribute_lists AS (
    -- the distinct non-empty attribute values seen on any of the session's turns
    SELECT {_KEY_LIST},
           list(DISTINCT {{'key': pair."key", 'value': pair."value"}}) AS attributes
    FROM (SELECT {_KEY_LIST}, unnest(session_attributes) AS pair FROM touched)
    WHERE pair."value" IS NOT NULL AND pair."value" <> ''
    GROUP BY ALL
), totals AS (
    SELECT {_KEY_LIST},
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
    FROM touched GROUP BY ALL
)
SELECT totals.*, coalesce(run_lists.runs, []) AS runs, coalesce(run_lists.path, []) AS path,
       coalesce(attribute_lists.attributes, []) AS attributes,
       coalesce(elicitation_lists.elicitations, []) AS elicitations
FROM totals
LEFT JOIN run_lists USING ({_KEY_LIST})
LEFT JOIN attribute_lists USING ({_KEY_LIST})
LEFT JOIN elicitation_lists USING ({_KEY_LIST})
"""


def refresh_sessions(store: Store, affected_sql: str, params: list[object]) -> None:
    """Recompute the sessions whose keys ``affected_sql`` selects (inside a transaction)."""
    store.execute(f"CREATE OR REPLACE TEMP TABLE affected_sessions AS {affected_sql}", params)
    store.execute(
        f"DELETE FROM sessions s WHERE EXISTS "
        f"(SELECT 1 FROM affected_sessions a WHERE {_KEY_MATCH})"
    )
    store.execute(f"INSERT INTO sessions BY NAME {_SESSION_ROWS}")
    store.execute("DROP TABLE affected_sessions")


REBUILD_CHUNK_TURNS = 500_000


def rebuild_all_sessions(con: Any) -> None:
    """Recompute every session (inside the caller's transaction), e.g. after a migration.

    Sessions are rebuilt in slices of about REBUILD_CHUNK_TURNS turns (by a hash of their
    key), so a store of any size fits in memory.
    """
    turns = con.execute("SELECT count(*) FROM turns").fetchone()[0]
    slices = max(1, -(-int(turns) // REBUILD_CHUNK_TURNS))
    con.execute("DELETE FROM sessions")
    for part in range(slices):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE affected_sessions AS SELECT DISTINCT {_KEY_LIST} "
            f"FROM turns WHERE hash({_KEY_LIST}) % {slices} = {part}"
        )
        con.execute(f"INSERT INTO sessions BY NAME {_SESSION_ROWS}")
    con.execute("DROP TABLE IF EXISTS affected_sessions")
