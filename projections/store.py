"""SQL access to read-model tables in the ledger's own database (SQLite file or PG schema)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.sqlite import SQLiteApplicationRecorder

from ledger.application import CreditLedger


class Cursor:
    """A cursor that speaks one placeholder style (`%s`) on both databases."""

    def __init__(self, raw: Any, sqlite: bool) -> None:
        self.raw = raw
        self.sqlite = sqlite

    def _sql(self, statement: str) -> str:
        return statement.replace("%s", "?") if self.sqlite else statement

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement."""
        self.raw.execute(self._sql(statement), tuple(params))
        return self

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""
        if rows:
            self.raw.executemany(self._sql(statement), [tuple(r) for r in rows])

    def fetchall(self) -> list[dict[str, Any]]:
        """All rows as dictionaries."""
        return [dict(row) for row in self.raw.fetchall()]

    def fetchone(self) -> dict[str, Any] | None:
        """The next row as a dictionary, if any."""
        row = self.raw.fetchone()
        return dict(row) if row is not None else None


class ReadStore:
    """Read-model tables beside the event store, reached through the store's own connections."""

    def __init__(self, ledger: CreditLedger) -> None:
        recorder: Any = ledger.recorder
        self.datastore = recorder.datastore
        self.sqlite = isinstance(recorder, SQLiteApplicationRecorder)
        self.schema = None if self.sqlite else recorder.datastore.schema

    def table(self, name: str) -> str:
        """The quoted, schema-qualified name of one of our tables (never user input)."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"not a table name: {name!r}")
        return f'"{name}"' if self.sqlite else f'"{self.schema}"."{name}"'

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Cursor]:
        """One transaction; committed on success when writing, rolled back otherwise."""
        with self.datastore.transaction(commit=write) as raw:
            yield Cursor(raw, self.sqlite)

    def exists(self, name: str) -> bool:
        """Whether a table exists."""
        with self.transaction(write=False) as cur:
            if self.sqlite:
                cur.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=%s", (name,))
            else:
                cur.execute(
                    "SELECT 1 FROM information_schema.tables "
                    "WHERE table_schema=%s AND table_name=%s",
                    (self.schema, name),
                )
            return cur.fetchone() is not None
