"""The read-store port: read-model tables in the ledger's own database, one dialect module per
backend (`sqlite`, `postgres`); what is common to both, and the escaping of text, lives here."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import orjson

from ledger.service.application import CreditLedger
from ledger.store.log import StoredRow, read_pages
from ledger.store.stores import backend_of

#: The most subject ids one read-model query binds (under SQLite's oldest parameter limit).
SUBJECTS_PER_QUERY = 900

# What a read-model column cannot hold as it is: NUL (PostgreSQL text refuses it), lone
# surrogates (no UTF-8 encoding exists, so neither driver can send them), and the backslash
# that introduces the escapes, so that every escaped value reads back to exactly one original.
_UNHOLDABLE = re.compile("[\\\\\x00\ud800-\udfff]")
_ESCAPED = re.compile(r"\\(?:\\|u([0-9a-f]{4}))")


def _escape_one(found: re.Match[str]) -> str:
    char = found.group()
    return "\\\\" if char == "\\" else f"\\u{ord(char):04x}"


def escape_text(text: str) -> str:
    """Text as a read model stores it: NUL and lone surrogates as the visible escapes `\\u0000`
    and `\\udXXX` (four lower-case hex digits), each backslash doubled; all else unchanged.

    Events are immutable, so a read model must hold whatever an older version stored (DOMAIN
    §8): a name with NUL stopped every projection on PostgreSQL for good. The escaped text is
    what read-model answers show (the worklist's names); `unescape_text` gives the original.
    """
    return text if _UNHOLDABLE.search(text) is None else _UNHOLDABLE.sub(_escape_one, text)


def unescape_text(stored: str) -> str:
    """The original of `escape_text`'s result (its exact inverse)."""
    return _ESCAPED.sub(lambda m: "\\" if m.group(1) is None else chr(int(m.group(1), 16)), stored)


def holdable(value: Any) -> Any:
    """A value as bound to a read-model column: text escaped (`escape_text`), lists and
    dictionaries as JSON text of their escaped strings, anything else unchanged.

    Every value written to or compared with a read-model table goes through here (see
    `Cursor`), on both stores and both write paths, so stored and compared text always agree.
    """
    kind = type(value)
    if kind is str:
        return escape_text(value)
    if kind is list or kind is tuple or kind is dict:
        return orjson.dumps(_escaped_strings(value)).decode()
    return value


def _escaped_strings(value: Any) -> Any:
    if isinstance(value, str):
        return escape_text(value)
    if isinstance(value, dict):
        return {escape_text(str(k)): _escaped_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_escaped_strings(v) for v in value]
    return value


_search_unholdable = _UNHOLDABLE.search
_CONTAINERS = (list, tuple, dict)


def bound(params: Sequence[Any]) -> tuple[Any, ...]:
    # `holdable` for each value, with its common case (text needing nothing) inline: this runs
    # for every value a rebuild writes, and a call per value cost more than the check. ASCII
    # text (ids, dates, codes, scores) holds no surrogate, so it needs only the two scans for
    # a NUL or a backslash, which cost less than the pattern (`isascii` reads a flag).
    return tuple(
        [
            (
                v
                if (v.isascii() and "\\" not in v and "\x00" not in v)
                or _search_unholdable(v) is None
                else escape_text(v)
            )
            if type(v) is str
            else (holdable(v) if type(v) in _CONTAINERS else v)
            for v in params
        ]
    )


class Hold(Protocol):
    """An exclusive lock a process holds until it releases it or ends, however it ends."""

    def release(self) -> None:
        """Let the lock go (again: nothing)."""


class Dialect(Protocol):
    """What differs between the backends of the read store (one module each)."""

    #: The read models live in a file of the serving process (its projector runs in process).
    embedded: bool

    def sql(self, statement: str) -> str:
        """A statement written with `%s` placeholders, in the backend's own style."""

    def table(self, name: str) -> str:
        """The quoted, qualified name of one of our tables."""

    def begin(self, raw: Any, *, schema_lock: bool, lock_wait: float | None) -> None:
        """What a transaction does first (lock bounds, the schema lock)."""

    def exists(self, cur: Cursor, name: str) -> bool:
        """Whether a table exists."""

    def write_rows(
        self, cur: Cursor, table: str, names: str, rows: Sequence[Sequence[Any]], on_conflict: str
    ) -> None:
        """INSERT the rows (bound through `holdable`), with the conflict clause."""

    def delete_in(self, cur: Cursor, table: str, column: str, values: Sequence[Any]) -> None:
        """DELETE the rows whose `column` holds one of `values` (bound through `holdable`)."""

    def rowcount(self, raw: Any) -> int:
        """Rows the last statement changed."""

    def hold(self, key: str) -> Hold | None:
        """The exclusive lock named `key` in this store, or None while another holder has it.

        The store or the operating system ends it with its holder's process, so a holder that
        was killed never leaves it taken.
        """

    def tables_with_prefix(self, cur: Cursor, prefix: str) -> list[str]:
        """The names of this store's tables that start with `prefix`."""


class Cursor:
    """A cursor that speaks one placeholder style (`%s`) on both databases.

    Every parameter it binds goes through `holdable`, once: what is written is escaped as
    the read models store text, and what is compared with stored text is escaped alike.
    """

    def __init__(self, raw: Any, dialect: Dialect) -> None:
        self.raw = raw
        self.dialect = dialect

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement."""
        self.raw.execute(self.dialect.sql(statement), bound(params))
        return self

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""
        if rows:
            self.raw.executemany(self.dialect.sql(statement), [bound(r) for r in rows])

    def write_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        on_conflict: str = "",
    ) -> None:
        """INSERT rows into `table` (values in `columns` order), with an optional ON CONFLICT
        (the backend chooses how: see its `write_rows`)."""
        if rows:
            self.dialect.write_rows(self, table, ", ".join(columns), rows, on_conflict)

    def delete_in(self, table: str, column: str, values: Sequence[Any]) -> None:
        """DELETE the rows of `table` whose `column` holds one of `values`."""
        if values:
            self.dialect.delete_in(self, table, column, values)

    @property
    def rowcount(self) -> int:
        """Rows the last statement changed."""
        return self.dialect.rowcount(self.raw)

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
        self.recorder = recorder
        self.datastore = recorder.datastore
        self.events_table = recorder.events_table_name
        self.dialect = _dialect(backend_of(ledger), recorder)
        self.embedded = self.dialect.embedded

    def table(self, name: str) -> str:
        """The quoted, schema-qualified name of one of our tables (never user input)."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"not a table name: {name!r}")
        return self.dialect.table(name)

    @contextmanager
    def transaction(
        self, *, write: bool = True, schema_lock: bool = False, lock_wait: float | None = None
    ) -> Iterator[Cursor]:
        """One transaction; committed on success when writing, rolled back otherwise.

        `schema_lock` first takes the lock that serialises schema changes on PostgreSQL (the
        one the event recorder takes to create its tables), for check-then-create steps.
        `lock_wait` bounds, on PostgreSQL, how many seconds a statement waits for a lock held
        by another session before it fails (SQLite's writers wait the store's lock timeout).
        """
        with self.datastore.transaction(commit=write) as raw:
            self.dialect.begin(raw, schema_lock=schema_lock, lock_wait=lock_wait)
            yield Cursor(raw, self.dialect)

    def hold(self, key: str) -> Hold | None:
        """The exclusive lock named `key` (see `Dialect.hold`), or None while another has it."""
        return self.dialect.hold(key)

    def exists(self, name: str) -> bool:
        """Whether a table exists."""
        with self.transaction(write=False) as cur:
            return self.dialect.exists(cur, name)

    def partition_notifications(
        self, after: int, upto: int, part: int, parts: int
    ) -> list[StoredRow]:
        """Events at positions after `after` up to `upto`, of streams whose id's last byte
        % parts == part, in log order (the log's own partitioned read, `read_pages`)."""
        pages = read_pages(
            self.recorder,
            start=after,
            stop=upto,
            page_size=max(1, upto - after),
            part=part,
            parts=parts,
        )
        return [row for page in pages for row in page]


def _dialect(backend: str, recorder: Any) -> Dialect:
    # Imported here: each backend module imports this one for the shared parts.
    if backend == "sqlite":
        from projections.store.sqlite import SQLiteDialect

        return SQLiteDialect(recorder)
    from projections.store.postgres import PostgresDialect

    return PostgresDialect(recorder)
