"""The read store on SQLite: `?` placeholders, plain table names, one writer at a time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.store import Cursor


class SQLiteDialect:
    """What the read store does differently on an SQLite file."""

    embedded = True

    def __init__(self, recorder: Any) -> None:
        del recorder  # (the PostgreSQL dialect needs its schema)

    def sql(self, statement: str) -> str:
        """`%s` placeholders as SQLite's `?`."""
        return statement.replace("%s", "?")

    def table(self, name: str) -> str:
        """A table of the file's one schema."""
        return f'"{name}"'

    def begin(self, raw: Any, *, schema_lock: bool, lock_wait: float | None) -> None:
        """Nothing: one writer holds the file's lock (waiting the store's lock timeout)."""

    def exists(self, cur: Cursor, name: str) -> bool:
        """Whether the file holds the table."""
        cur.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=%s", (name,))
        return cur.fetchone() is not None

    def write_rows(
        self, cur: Cursor, table: str, names: str, rows: Sequence[Sequence[Any]], on_conflict: str
    ) -> None:
        """One prepared INSERT for all rows (in process, a row costs no round trip)."""
        marks = ", ".join(["%s"] * len(rows[0]))
        cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks}) {on_conflict}", rows)

    def delete_in(self, cur: Cursor, table: str, column: str, values: Sequence[Any]) -> None:
        """One prepared DELETE for all values (in process, a value costs no round trip)."""
        cur.executemany(f"DELETE FROM {table} WHERE {column} = %s", [(v,) for v in values])

    def rowcount(self, raw: Any) -> int:
        """The wrapped sqlite3 cursor's count."""
        return int(getattr(raw, "sqlite_cursor", raw).rowcount)
