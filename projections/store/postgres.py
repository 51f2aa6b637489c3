"""The read store on PostgreSQL: a schema of its own, bounded lock waits, COPY for batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.store.chain import SCHEMA_LOCK
from ledger.store.stores import own_connection
from projections.store import Cursor, bound

#: From this many rows a write goes through a staging table (see `write_rows`).
STAGE_FROM = 64


class PostgresDialect:
    """What the read store does differently on a PostgreSQL schema."""

    embedded = False

    def __init__(self, recorder: Any) -> None:
        self.schema = recorder.datastore.schema
        self._recorder = recorder

    def sql(self, statement: str) -> str:
        """psycopg speaks `%s` already."""
        return statement

    def table(self, name: str) -> str:
        """A table of the ledger's schema."""
        return f'"{self.schema}"."{name}"'

    def begin(self, raw: Any, *, schema_lock: bool, lock_wait: float | None) -> None:
        """Bound the transaction's lock waits; take the schema lock when asked."""
        if lock_wait is not None:
            raw.execute(
                "SELECT set_config('lock_timeout', %s, true)", (f"{int(lock_wait * 1000)}ms",)
            )
        if schema_lock:
            raw.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))

    def exists(self, cur: Cursor, name: str) -> bool:
        """Whether the schema holds the table."""
        cur.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema=%s AND table_name=%s",
            (self.schema, name),
        )
        return cur.fetchone() is not None

    def write_rows(
        self, cur: Cursor, table: str, names: str, rows: Sequence[Sequence[Any]], on_conflict: str
    ) -> None:
        """A small batch by `executemany`; a larger one copied into a transaction-scoped staging
        table and inserted from there in one statement.

        `executemany` paid a round of the protocol and a statement per row, which was most of
        a rebuild batch's write time. The effect is the same either way, conflict clause
        included; a batch never holds one key twice (one row per subject, or per position),
        which PostgreSQL would refuse loudly.
        """
        if len(rows) < STAGE_FROM:
            marks = ", ".join(["%s"] * len(rows[0]))
            cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks}) {on_conflict}", rows)
            return
        stage = '"stage_' + "".join(c if c.isalnum() else "_" for c in table) + '"'
        cur.raw.execute(f"CREATE TEMP TABLE {stage} (LIKE {table}) ON COMMIT DROP")
        with cur.raw.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(bound(row))
        cur.raw.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} {on_conflict}")
        cur.raw.execute(f"DROP TABLE {stage}")

    def delete_in(self, cur: Cursor, table: str, column: str, values: Sequence[Any]) -> None:
        """One statement for the whole batch (a statement per value was a round each)."""
        cur.raw.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)", (list(bound(values)),))

    def rowcount(self, raw: Any) -> int:
        """psycopg's count."""
        return int(raw.rowcount)

    def hold(self, key: str) -> _SessionLock | None:
        """A session advisory lock on a connection of its own, named by schema and key.

        Not a pooled connection: the lock lives as long as its session, and PostgreSQL ends
        the session (and the lock) when the holder's process dies or its connection drops.
        """
        conn = own_connection(self._recorder)
        try:
            taken = conn.execute(
                "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (f"{self.schema}.{key}",)
            ).fetchone()
        except BaseException:
            conn.close()
            raise
        if taken is None or not taken[0]:
            conn.close()
            return None
        return _SessionLock(conn)

    def tables_with_prefix(self, cur: Cursor, prefix: str) -> list[str]:
        """The schema's tables whose names start with `prefix`."""
        cur.execute(
            "SELECT table_name AS name FROM information_schema.tables "
            "WHERE table_schema = %s AND starts_with(table_name, %s) ORDER BY table_name",
            (self.schema, prefix),
        )
        return [str(row["name"]) for row in cur.fetchall()]


class _SessionLock:
    """A held advisory lock: closing its session releases it."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def release(self) -> None:
        """End the session, and with it the lock."""
        self._conn.close()
