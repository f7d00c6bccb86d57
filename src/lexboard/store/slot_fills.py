"""The ``slot_fills`` table: the slot values of fulfilled turns, one row per value.

METRICS.md's slot_values counts, for turns whose intent state is Fulfilled or
ReadyForFulfillment, each filled slot's interpretedValue (else originalValue), each
value of a List slot (they arrive expanded, one element per value), Composite slots
left out. A turn's fills depend on that turn alone, so they are appended with the turn
and deleted with it; the metric then groups a flat table instead of unnesting a list
column of every turn.
"""

from __future__ import annotations

from typing import Any

_FILL_ROWS = """
SELECT ts, bot_id, locale_id, alias_id, input_mode, intent, slot.name AS slot,
       coalesce(slot.interpreted_value, slot.original_value) AS value
FROM (
    SELECT ts, bot_id, locale_id, alias_id, input_mode, intent, unnest(slots) AS slot
    FROM turns
    WHERE {where} AND intent IS NOT NULL
      AND intent_state IN ('Fulfilled', 'ReadyForFulfillment')
)
WHERE slot.shape IS DISTINCT FROM 'Composite' AND slot.name IS NOT NULL
  AND coalesce(slot.interpreted_value, slot.original_value) IS NOT NULL
"""


def add_slot_fills(con: Any, where: str, params: list[object]) -> None:
    """Append the fills of the turns ``where`` selects (inside the caller's transaction)."""
    con.execute(f"INSERT INTO slot_fills BY NAME {_FILL_ROWS.format(where=where)}", params)


def rebuild_slot_fills(con: Any) -> None:
    con.execute("DELETE FROM slot_fills")
    add_slot_fills(con, "true", [])
