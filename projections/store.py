"""SQL access to read-model tables in the ledger's own database (SQLite file or PG schema)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple
from uuid import UUID

import orjson
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.rows import tuple_row

from ledger.application import CreditLedger
from ledger.store.chain import SCHEMA_LOCK

#: From this many rows a PostgreSQL write goes through a staging table (see `write_rows`).
STAGE_FROM = 64

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


def _bound(params: Sequence[Any]) -> tuple[Any, ...]:
    # `holdable` for each value, with its common case (text needing nothing) inline: this runs
    # for every value a rebuild writes, and a call per value cost more than the check.
    return tuple(
        [
            (v if _search_unholdable(v) is None else escape_text(v))
            if type(v) is str
            else (holdable(v) if type(v) in _CONTAINERS else v)
            for v in params
        ]
    )


class StoredRow(NamedTuple):
    """One stored event as read for a rebuild: what a `Notification` holds, as a tuple."""

    id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


class Cursor:
    """A cursor that speaks one placeholder style (`%s`) on both databases.

    Every parameter it binds goes through `holdable`, once: what is written is escaped as
    the read models store text, and what is compared with stored text is escaped alike.
    """

    def __init__(self, raw: Any, sqlite: bool) -> None:
        self.raw = raw
        self.sqlite = sqlite

    def _sql(self, statement: str) -> str:
        return statement.replace("%s", "?") if self.sqlite else statement

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement."""
        self.raw.execute(self._sql(statement), _bound(params))
        return self

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""
        if rows:
            self.raw.executemany(self._sql(statement), [_bound(r) for r in rows])

    def write_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        on_conflict: str = "",
    ) -> None:
        """INSERT rows into `table` (values in `columns` order), with an optional ON CONFLICT.

        On PostgreSQL a batch of rows is copied into a transaction-scoped staging table and
        inserted from there in one statement: `executemany` paid a round of the protocol and
        a statement per row, which was most of a rebuild batch's write time. The effect is
        the same either way, conflict clause included; a batch never holds one key twice (one
        row per subject, or per position), which PostgreSQL would refuse loudly.
        """
        if not rows:
            return
        names = ", ".join(columns)
        if self.sqlite or len(rows) < STAGE_FROM:
            marks = ", ".join(["%s"] * len(columns))
            self.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks}) {on_conflict}", rows)
            return
        stage = '"stage_' + "".join(c if c.isalnum() else "_" for c in table) + '"'
        self.raw.execute(f"CREATE TEMP TABLE {stage} (LIKE {table}) ON COMMIT DROP")
        with self.raw.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(_bound(row))
        self.raw.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} {on_conflict}")
        self.raw.execute(f"DROP TABLE {stage}")

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
        self.events_table = recorder.events_table_name
        self._convert_id = getattr(recorder, "convert_originator_id", None)

    def table(self, name: str) -> str:
        """The quoted, schema-qualified name of one of our tables (never user input)."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"not a table name: {name!r}")
        return f'"{name}"' if self.sqlite else f'"{self.schema}"."{name}"'

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
            if lock_wait is not None and not self.sqlite:
                raw.execute(
                    "SELECT set_config('lock_timeout', %s, true)", (f"{int(lock_wait * 1000)}ms",)
                )
            if schema_lock and not self.sqlite:
                raw.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
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

    def partition_notifications(
        self, after: int, upto: int, part: int, parts: int
    ) -> list[StoredRow]:
        """Events at positions after `after` up to `upto`, of streams whose id's last byte
        % parts == part, in log order.

        The partition is chosen in SQL, so a process rebuilding one partition reads only its
        own rows (`projections.runner.partition_of` is the same rule in Python). Callers ask
        for a window of positions rather than a number of rows: a bounded range keeps the
        ordered index scan even where the planner's statistics are stale after a bulk load
        (with a LIMIT over the whole remaining log, PostgreSQL sorted all of it each time).
        Rows come back as plain tuples: a rebuild reads every event, and building a
        dictionary and a notification object per row cost as much as reading it.
        """
        with self.transaction(write=False) as cur:
            if self.sqlite:
                # Stored ids are 32 lower-case hex digits; the last two are the last byte.
                last_byte = (
                    "((instr('0123456789abcdef', substr(originator_id, 31, 1)) - 1) * 16"
                    " + instr('0123456789abcdef', substr(originator_id, 32, 1)) - 1)"
                )
                cur.execute(
                    "SELECT rowid, originator_id, originator_version, topic, state "
                    f"FROM {self.events_table} WHERE rowid > %s AND rowid <= %s "
                    f"AND {last_byte} % %s = %s ORDER BY rowid",
                    (after, upto, parts, part),
                )
                convert = self._convert_id
                assert convert is not None
                # sqlite3.Row unpacks like a tuple.
                return [
                    StoredRow(position, convert(stream), version, topic, state)
                    for position, stream, version, topic, state in cur.raw.fetchall()
                ]
            # Binary results: the stored bytes come as they are, not hex-escaped and decoded
            # again, which halved the time to read a row.
            with cur.raw.connection.cursor(binary=True, row_factory=tuple_row) as rows:
                rows.execute(
                    "SELECT notification_id, originator_id, originator_version, topic, state "
                    f'FROM "{self.schema}"."{self.events_table}" '
                    "WHERE notification_id > %s AND notification_id <= %s "
                    "AND get_byte(uuid_send(originator_id), 15) %% %s = %s "
                    "ORDER BY notification_id",
                    (after, upto, parts, part),
                )
                return [StoredRow._make(row) for row in rows.fetchall()]
