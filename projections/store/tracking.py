"""The runner's own tables: each table's tracked position, which generation serves, failures."""

from __future__ import annotations

from typing import Any

from projections.store import Cursor, ReadStore

TRACKING = "projection_tracking"
REGISTRY = "projection_tables"
#: The read models whose projector is failing, one row each while it fails.
FAILING = "projection_failures"


class Tracking:
    """Statements on the runner's bookkeeping tables, each run on a cursor the caller holds, so
    that a position moves in the same transaction as the rows it covers."""

    def __init__(self, store: ReadStore) -> None:
        self.tracking = store.table(TRACKING)
        self.registry = store.table(REGISTRY)
        self.failing = store.table(FAILING)

    def create(self, cur: Cursor) -> None:
        """Create the three tables where they are missing."""
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.tracking} "
            "(table_name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
        )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.registry} "
            "(projection TEXT PRIMARY KEY, active TEXT NOT NULL, building TEXT)"
        )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.failing} "
            "(projection TEXT PRIMARY KEY, error TEXT NOT NULL, message TEXT NOT NULL, "
            "since TEXT NOT NULL, last_at TEXT NOT NULL, failures BIGINT NOT NULL)"
        )

    # -- registry: which table serves a read model, which one is being rebuilt ------------------

    def registered(self, cur: Cursor) -> set[str]:
        """The (versioned) read models that have a serving table."""
        cur.execute(f"SELECT projection FROM {self.registry}")
        return {r["projection"] for r in cur.fetchall()}

    def entry(self, cur: Cursor, projection: str) -> dict[str, Any] | None:
        """A read model's registry row (`active`, `building`), if registered."""
        cur.execute(
            f"SELECT active, building FROM {self.registry} WHERE projection = %s",
            (projection,),
        )
        return cur.fetchone()

    def register(self, cur: Cursor, projection: str, table_name: str) -> None:
        """Make a table the serving one of a read model not registered yet."""
        cur.execute(
            f"INSERT INTO {self.registry} (projection, active) "
            "VALUES (%s, %s) ON CONFLICT (projection) DO NOTHING",
            (projection, table_name),
        )

    def building(self, cur: Cursor, projection: str, table_name: str) -> None:
        """Name the table a read model is being rebuilt into."""
        cur.execute(
            f"UPDATE {self.registry} SET building = %s WHERE projection = %s",
            (table_name, projection),
        )

    def switch(self, cur: Cursor, projection: str, building: str) -> None:
        """Serve the rebuilt table, and forget the tracked partitions of its rebuild."""
        cur.execute(
            f"UPDATE {self.registry} SET active = %s, building = NULL "
            "WHERE projection = %s AND building = %s",
            (building, projection, building),
        )
        # Partitions of this generation (this rebuild's, or an abandoned attempt's).
        # Their keys are `building#…` (see partition_key): the range '#' .. '$' (next char).
        cur.execute(
            f"DELETE FROM {self.tracking} WHERE table_name > %s AND table_name < %s",
            (f"{building}#", f"{building}$"),
        )

    # -- tracked positions: one per table, and one per partition of a rebuild -----------------

    def keys(self, cur: Cursor) -> set[str]:
        """Every tracked table and partition."""
        cur.execute(f"SELECT table_name FROM {self.tracking}")
        return {r["table_name"] for r in cur.fetchall()}

    def track(self, cur: Cursor, key: str) -> None:
        """Start tracking a new table at position 0."""
        cur.execute(
            f"INSERT INTO {self.tracking} (table_name, position) VALUES (%s, 0)",
            (key,),
        )

    def track_from(self, cur: Cursor, key: str, origin: str) -> None:
        """Start tracking a partition where its table stands (kept if tracked already)."""
        cur.execute(
            f"INSERT INTO {self.tracking} (table_name, position) "
            f"SELECT %s, position FROM {self.tracking} WHERE table_name = %s "
            "ON CONFLICT (table_name) DO NOTHING",
            (key, origin),
        )

    def position(self, cur: Cursor, key: str) -> int:
        """The last ledger position applied under a key (0 when untracked)."""
        cur.execute(
            f"SELECT position FROM {self.tracking} WHERE table_name = %s",
            (key,),
        )
        row = cur.fetchone()
        return int(row["position"]) if row else 0

    def advance(self, cur: Cursor, key: str, expected: int, position: int) -> bool:
        """Move a key from `expected` to `position`; False when someone moved it first.

        The compare-and-set takes the write lock first, then proves nobody moved on.
        """
        cur.execute(
            f"UPDATE {self.tracking} SET position = %s WHERE table_name = %s AND position = %s",
            (position, key, expected),
        )
        return cur.rowcount == 1

    def set_position(self, cur: Cursor, key: str, position: int) -> None:
        """Set a key's position (a partitioned rebuild's table, once every part got there)."""
        cur.execute(
            f"UPDATE {self.tracking} SET position = %s WHERE table_name = %s",
            (position, key),
        )

    def drop(self, cur: Cursor, table: str, key: str) -> None:
        """Drop a table (quoted name) and its tracked position."""
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(f"DELETE FROM {self.tracking} WHERE table_name = %s", (key,))

    # -- failures: a row per read model whose projector fails, for `serve` to report ----------

    def failed(self, cur: Cursor, projection: str, error: str, message: str, at: str) -> None:
        """Record a failure: the first of a run sets `since`, each one counts."""
        cur.execute(
            f"INSERT INTO {self.failing} "
            "(projection, error, message, since, last_at, failures) "
            "VALUES (%s, %s, %s, %s, %s, 1) ON CONFLICT (projection) DO UPDATE SET "
            "error = excluded.error, message = excluded.message, "
            f"last_at = excluded.last_at, failures = {FAILING}.failures + 1",
            (projection, error, message, at, at),
        )

    def succeeded(self, cur: Cursor, projection: str) -> None:
        """Forget a read model's failure row."""
        cur.execute(f"DELETE FROM {self.failing} WHERE projection = %s", (projection,))

    def failures(self, cur: Cursor) -> list[dict[str, Any]]:
        """Every failure row, by read model."""
        cur.execute(f"SELECT * FROM {self.failing} ORDER BY projection")
        return cur.fetchall()
