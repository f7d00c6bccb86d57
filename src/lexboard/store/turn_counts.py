"""The ``turn_counts`` table: turns counted per 15-minute UTC grain and dimension.

The turn-count metrics (summary, activity, intents, sentiment, modality, intent heatmap)
sum these rows for the grains wholly inside the window and count the turns of the two
part-grains at its edges one by one (metrics/run.py), so they stay exact for any window
while reading a few hundred thousand rows instead of every turn; the Prometheus counters
(all-time totals) sum them all. UTC offsets and DST changes fall on quarter hours, so a
grain lies within one local hour and one bucket of any size from 15 minutes up.

A grain's rows are recomputed from its turns whenever turns enter or leave it, so there
is one row per (grain, dimensions) and no drift between the turns and their counts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

GRAIN_US = 900_000_000  # 15 minutes
_GRAIN_SPAN = timedelta(microseconds=GRAIN_US)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GRAIN = f"epoch_us(ts) // {GRAIN_US}"

# bot, alias and version names ride along with their ids (they add no rows), for the
# labels of the Prometheus counters
_COUNT_ROWS = f"""
SELECT {_GRAIN} AS grain, bot_id, bot_name, locale_id, alias_id, alias_name, bot_version,
       input_mode, intent, sentiment, missed, count(*) AS requests
FROM turns
WHERE {{where}}
GROUP BY ALL
"""
REBUILD = (
    f"DELETE FROM turn_counts; INSERT INTO turn_counts BY NAME {_COUNT_ROWS.format(where='true')}"
)


def grain_of(instant: datetime) -> int:
    """The number of the grain ``instant`` falls in."""
    return (instant - _EPOCH) // _GRAIN_SPAN


def grains_within(start: datetime, end: datetime) -> tuple[int, int]:
    """The grains wholly inside [start, end): first, and one past the last."""
    return -((_EPOCH - start) // _GRAIN_SPAN), grain_of(end)


def refresh_turn_counts(con: Any, where: str, params: list[object]) -> None:
    """Recompute the grains holding the turns ``where`` selects (inside a transaction).

    Call it after turns are added; for turns removed, select the grains they were in.
    """
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE touched_grains AS "
        f"SELECT DISTINCT {_GRAIN} AS grain FROM turns WHERE {where}",
        params,
    )
    _recount(con)


def recount_grains(con: Any, first: int, last: int) -> None:
    """Recompute the grains ``first`` to ``last`` (e.g. after retention cut turns)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE touched_grains AS SELECT range AS grain FROM range(?, ?)",
        [first, last + 1],
    )
    _recount(con)


def _recount(con: Any) -> None:
    first = con.execute("SELECT min(grain) FROM touched_grains").fetchone()[0]
    if first is not None:
        con.execute(
            "DELETE FROM turn_counts WHERE grain >= ? "
            "AND grain IN (SELECT grain FROM touched_grains)",
            [first],
        )
        # the lower bound on ts lets DuckDB skip the row groups of older turns
        where = (
            f"ts >= make_timestamptz(?::BIGINT * {GRAIN_US}) "
            f"AND {_GRAIN} IN (SELECT grain FROM touched_grains)"
        )
        con.execute(f"INSERT INTO turn_counts BY NAME {_COUNT_ROWS.format(where=where)}", [first])
    con.execute("DROP TABLE touched_grains")
