"""64-bit keys of the store's natural keys, for finding a few rows among millions.

Finding which of a batch's request ids (or sessions) the store already has by comparing
strings reads every stored id; comparing 8-byte keys first reads a column of integers,
then only the matching rows' own columns are compared. A key is md5-based, not DuckDB's
``hash()``, which may change between DuckDB versions: a changed key would hide stored
rows. Two natural keys may share a key, so a match is only a candidate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lexboard.store.db import Store

REQUEST_KEY = "md5_number_lower(request_id)"
SESSION_KEY = (
    "md5_number_lower(concat_ws(chr(31), bot_id, locale_id, session_id, originating_request_id))"
)

# More candidates than this (a big file read again: all are stored) and the caller
# compares with the whole table instead, which is then as fast.
CANDIDATE_LIMIT = 100_000


def candidate_rows(
    store: Store, table: str, key_column: str, keys_sql: str
) -> tuple[str, list[Any]]:
    """A relation (and its parameters) holding at least the rows of ``table`` whose
    ``key_column`` is one of ``keys_sql``'s values; the caller joins it on the natural key.
    """
    rows = store.fetchall(
        f"SELECT rowid FROM {table} WHERE {key_column} IN ({keys_sql}) LIMIT {CANDIDATE_LIMIT + 1}"
    )
    if len(rows) > CANDIDATE_LIMIT:
        return table, []
    return (
        f"(SELECT * FROM {table} WHERE rowid IN (SELECT unnest(?::BIGINT[])))",
        [[row for (row,) in rows]],
    )
