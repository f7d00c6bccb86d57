"""The embedded DuckDB store: the only package that imports duckdb."""

from lexboard.store.db import Store, open_store

__all__ = ["Store", "open_store"]
