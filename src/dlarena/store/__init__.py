"""Results storage: SQLite by default."""

from dlarena.store.sqlite import SCHEMA_VERSION, Store, StoredCell, StoredRun

__all__ = ["SCHEMA_VERSION", "Store", "StoredCell", "StoredRun"]
