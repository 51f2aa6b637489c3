"""Tamper evidence for stored events: immutability triggers and a hash chain kept on append.

Each stored event gets a link, `sha256(previous link | position | stream | version | topic |
state bytes)`, written in the same transaction as the event, while the store's write lock
serialises appends. A store created with SM3 (GB/T 32905) chains with it instead: the choice is
recorded in the store (`{events}_chain_hash`), and both appends and `verify` read it there.
The database refuses UPDATE, DELETE and TRUNCATE of events and links, so only someone able to
bypass triggers (a superuser) can change a row — and `verify` then finds the first position
whose recomputed link no longer matches.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import sqlite3
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore
from psycopg import Cursor
from psycopg.errors import DuplicateObject
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Identifier, Literal
from psycopg_pool import PoolTimeout

from ledger.store.transcoder import uuid_from_hex

GENESIS = "0" * 64
IMMUTABLE_MESSAGE = "stored events are immutable"
# From this many events per insert (an import's batch), PostgreSQL gets them by binary COPY.
COPY_FROM = 64
SCHEMA_LOCK = 0x6372_6C67  # the advisory lock key serialising schema creation ("crlg")
#: Attempts of a PostgreSQL operation whose connection was lost (the library makes ten, each
#: waiting for a pooled connection: about 50 s before a request learns the store is down).
STORE_ATTEMPTS = 3
RETRY_PAUSE = 0.2  # between attempts, as the library pauses

Method = TypeVar("Method", bound=Callable[..., Any])


#: The hashes a chain can use; a store without a recorded choice uses the first.
CHAIN_HASHES = ("sha256", "sm3")


def chain_link(
    previous: str,
    position: int,
    originator_id: UUID | str,
    version: int,
    topic: str,
    state: bytes,
    hash_name: str = "sha256",
) -> str:
    """The link of one stored event, covering the previous link and the event's stored bytes."""
    digest = hashlib.sha256() if hash_name == "sha256" else hashlib.new(hash_name)
    digest.update(f"{previous}|{position}|{originator_id}|{version}|{topic}|".encode())
    digest.update(state)
    return digest.hexdigest()


def _links(
    previous: str, ids: Sequence[int], events: Sequence[StoredEvent], hash_name: str = "sha256"
) -> list[tuple[int, str]]:
    rows = []
    for position, event in zip(ids, events, strict=True):
        previous = chain_link(
            previous,
            position,
            event.originator_id,
            event.originator_version,
            event.topic,
            event.state,
            hash_name,
        )
        rows.append((position, previous))
    return rows


def _hash_table(recorder: Any) -> str:
    return f"{recorder.events_table_name}_chain_hash"


def read_chain_hash(recorder: Any, cursor: Any) -> str:
    """The hash a chained log uses, as its store records it (none recorded: SHA-256)."""
    table = _hash_table(recorder)
    if isinstance(recorder, SQLiteApplicationRecorder):
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        if cursor.fetchone() is None:
            return CHAIN_HASHES[0]
        cursor.execute(f"SELECT hash FROM {table}")  # noqa: S608 - our own table name
    else:
        qualified = f'"{recorder.datastore.schema}"."{table}"'
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (qualified,))
        row = cursor.fetchone()
        if not (row and row["found"]):
            return CHAIN_HASHES[0]
        cursor.execute(
            SQL("SELECT hash FROM {schema}.{table}").format(
                schema=Identifier(recorder.datastore.schema), table=Identifier(table)
            )
        )
    row = cursor.fetchone()
    return str(row["hash"]) if row else CHAIN_HASHES[0]


def stored_chain_hash(recorder: Any) -> str:
    """The hash a chained log's store records for it (what `verify_chain` recomputes with)."""
    with recorder.datastore.transaction(commit=False) as cursor:
        return read_chain_hash(recorder, cursor)


def settle_chain_hash(recorder: Any, wanted: str) -> str:
    """The hash of a chained log: the one its store records, or — for a store with no events
    yet — `wanted`, recorded now. An existing store keeps the hash it was created with."""
    if wanted not in CHAIN_HASHES:
        raise ValueError(f"chain hash must be one of {', '.join(CHAIN_HASHES)}, not {wanted!r}")
    if not isinstance(recorder, ChainedSQLiteRecorder | ChainedPostgresRecorder):
        return CHAIN_HASHES[0]
    empty = not recorder.max_notification_id()
    with recorder.datastore.transaction(commit=True) as cursor:
        found = read_chain_hash(recorder, cursor)
        if found == CHAIN_HASHES[0] and wanted != found and empty:
            table = _hash_table(recorder)
            if isinstance(recorder, ChainedSQLiteRecorder):
                # The write lock, taken by the first statement, makes the check and the row one.
                cursor.execute(f"CREATE TABLE IF NOT EXISTS {table} (hash TEXT NOT NULL)")
                cursor.execute(
                    f"INSERT INTO {table} SELECT ? WHERE NOT EXISTS (SELECT 1 FROM {table})",  # noqa: S608
                    (wanted,),
                )
            else:
                name = SQL("{schema}.{table}").format(
                    schema=Identifier(recorder.datastore.schema), table=Identifier(table)
                )
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                cursor.execute(
                    SQL("CREATE TABLE IF NOT EXISTS {0} (hash text NOT NULL)").format(name)
                )
                cursor.execute(
                    SQL("INSERT INTO {0} SELECT %s WHERE NOT EXISTS (SELECT 1 FROM {0})").format(
                        name
                    ),
                    (wanted,),
                )
            found = read_chain_hash(recorder, cursor)
    recorder.chain_hash = found
    return found


class ChainedSQLiteRecorder(SQLiteApplicationRecorder):
    """The stock SQLite recorder plus immutability triggers and a hash-chain table."""

    #: The chain's hash, read from the store on the first append (`read_chain_hash`).
    chain_hash: str | None = None

    def __init__(
        self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"
    ) -> None:
        # The base constructor builds the create statements, which name the chain table.
        self.chain_table_name = f"{events_table_name}_chain"
        super().__init__(datastore, events_table_name=events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {self.chain_table_name} "
            "(notification_id INTEGER PRIMARY KEY, link TEXT NOT NULL)"
        )
        # Queues and token lists select by topic; without an index each is a full scan.
        statements.append(
            f"CREATE INDEX IF NOT EXISTS {self.events_table_name}_topic "
            f"ON {self.events_table_name} (topic)"
        )
        for table in (self.events_table_name, self.chain_table_name):
            for operation in ("UPDATE", "DELETE"):
                statements.append(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{operation.lower()} "
                    f"BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{IMMUTABLE_MESSAGE}'); END"
                )
        return statements

    def convert_originator_id(self, originator_id: str) -> UUID | str:
        # Every read of events turns stored ids back into UUIDs; the stock way re-parses them.
        if self.datastore.originator_id_type == "uuid":
            return uuid_from_hex(originator_id)
        return originator_id

    def last_notification_id(self, topics: Sequence[str], after: int) -> int | None:
        """The log position of the last event of `topics` stored after `after`, or None."""
        marks = ", ".join("?" * len(topics))
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT max(rowid) FROM {self.events_table_name} "  # noqa: S608 - our table
                f"WHERE topic IN ({marks}) AND rowid > ?",
                (*topics, after),
            )
            found = c.fetchone()[0]
        return None if found is None else int(found)

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        if not ids:
            return ids
        # The insert above holds SQLite's write lock, so no other append can interleave here.
        c.execute(
            f"SELECT link FROM {self.chain_table_name} "  # noqa: S608 - our own table name
            "ORDER BY notification_id DESC LIMIT 1"
        )
        row = c.fetchone()
        if self.chain_hash is None:
            self.chain_hash = read_chain_hash(self, c)
        c.executemany(
            f"INSERT INTO {self.chain_table_name} VALUES (?, ?)",  # noqa: S608
            _links(row["link"] if row else GENESIS, ids, stored_events, self.chain_hash),
        )
        return ids

    def append_on(self, c: Any, stored_events: Sequence[StoredEvent]) -> list[int]:
        """Insert events and their links on the caller's open write transaction (a bulk
        import's batch, committed with its checkpoint); their positions, in order.

        One `executemany` for the rows: under the write lock the first insert takes, SQLite
        gives them the rowids after the largest, consecutively (events are never deleted).
        A stream version already stored raises `IntegrityError` (a `RecordConflictError`).
        """
        if not stored_events:
            return []
        try:
            c.executemany(
                self.insert_events_statement,
                [
                    (e.originator_id.hex, e.originator_version, e.topic, e.state)
                    if isinstance(e.originator_id, UUID)
                    else (e.originator_id, e.originator_version, e.topic, e.state)
                    for e in stored_events
                ],
            )
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
        c.execute(f"SELECT MAX(rowid) AS last FROM {self.events_table_name}")  # noqa: S608
        last = int(c.fetchone()["last"])
        ids = list(range(last - len(stored_events) + 1, last + 1))
        c.execute(
            f"SELECT link FROM {self.chain_table_name} "  # noqa: S608 - our own table name
            "ORDER BY notification_id DESC LIMIT 1"
        )
        row = c.fetchone()
        c.executemany(
            f"INSERT INTO {self.chain_table_name} VALUES (?, ?)",  # noqa: S608
            _links(row["link"] if row else GENESIS, ids, stored_events),
        )
        return ids


class ChainedSQLiteAuditRecorder(ChainedSQLiteRecorder):
    """The audit log's recorder: its own tables in the same embedded database file."""

    def __init__(
        self, datastore: SQLiteDatastore, events_table_name: str = "stored_audit_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)


def _worth_another_attempt(exc: Exception) -> bool:
    """Whether an operation that failed may succeed at once if tried again.

    A lost connection may: the pool hands out another. A pool that gave no connection for
    its whole wait means the store is away, and a server out of resources (SQLSTATE class 53:
    disk full, out of memory) gives the same answer again: both end the attempts at once.
    """
    cause = exc.__cause__
    if isinstance(cause, PoolTimeout):
        return False
    return not (isinstance(cause, psycopg.Error) and (cause.sqlstate or "").startswith("53"))


def _attempts(operation: Method) -> Method:
    """`operation` tried at most `self.attempts` times while its connection is lost."""

    @functools.wraps(operation)
    def attempted(self: Any, *args: Any, **kwargs: Any) -> Any:
        tries = 1
        while True:
            try:
                return operation(self, *args, **kwargs)
            except (InterfaceError, OperationalError) as exc:
                if tries >= self.attempts or not _worth_another_attempt(exc):
                    raise
            tries += 1
            time.sleep(RETRY_PAUSE)

    return cast(Method, attempted)


def _bounded(method: Method) -> Method:
    """A library method with its own retries (ten attempts) replaced by `_attempts`."""
    return _attempts(cast(Method, inspect.unwrap(method)))


class ChainedPostgresRecorder(PostgresApplicationRecorder):
    """The stock PostgreSQL recorder plus immutability triggers and a hash-chain table.

    Its reads and writes make at most `attempts` tries (see `_attempts`), so a request on a
    store that went away learns it within one pool wait instead of ten.
    """

    #: Set per store from the settings (`credit_ledger.bootstrap`).
    attempts = STORE_ATTEMPTS
    #: The chain's hash, read from the store before the first append (`read_chain_hash`).
    chain_hash: str | None = None
    select_notifications = _bounded(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _bounded(PostgresApplicationRecorder.max_notification_id)
    _insert_by_statement = _bounded(PostgresApplicationRecorder.insert_events)

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "stored_events",
        copy_from: int = COPY_FROM,
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.chain_table_name = f"{events_table_name}_chain"
        self.copy_from = copy_from
        self._sequence: str | None = None
        schema = Identifier(self.datastore.schema)
        chain = Identifier(self.chain_table_name)
        function = Identifier("credit_ledger_refuse_change")
        # Queues and token lists select by topic; without an index each is a full scan.
        self.sql_create_statements.append(
            SQL("CREATE INDEX IF NOT EXISTS {index} ON {schema}.{table} (topic)").format(
                index=Identifier(f"{events_table_name}_topic"),
                schema=schema,
                table=Identifier(events_table_name),
            )
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{chain} "
                "(notification_id bigint PRIMARY KEY, link text NOT NULL)"
            ).format(schema=schema, chain=chain)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}() RETURNS trigger "
                "LANGUAGE plpgsql AS $BODY$ BEGIN "
                "RAISE EXCEPTION '"
                + IMMUTABLE_MESSAGE
                + ": % on % refused', TG_OP, TG_TABLE_NAME; "
                "END; $BODY$"
            ).format(schema=schema, function=function)
        )
        for table in (self.events_table_name, self.chain_table_name):
            self.sql_create_statements.append(
                SQL(
                    "CREATE OR REPLACE TRIGGER {trigger} BEFORE UPDATE OR DELETE "
                    "ON {schema}.{table} FOR EACH ROW EXECUTE FUNCTION {schema}.{function}()"
                ).format(
                    trigger=Identifier(f"{table}_immutable"),
                    schema=schema,
                    table=Identifier(table),
                    function=function,
                )
            )
            self.sql_create_statements.append(
                SQL(
                    "CREATE OR REPLACE TRIGGER {trigger} BEFORE TRUNCATE ON {schema}.{table} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION {schema}.{function}()"
                ).format(
                    trigger=Identifier(f"{table}_no_truncate"),
                    schema=schema,
                    table=Identifier(table),
                    function=function,
                )
            )
        # One statement appends a small batch: it takes the table lock, inserts, links and,
        # run on the pool's autocommit connection, commits — all inside the server. The lock is
        # then never held across a round trip to a Python thread waiting for the GIL, which is
        # what made concurrent appends (the audit log's group commits) queue behind each other.
        self.append_function = f"{events_table_name}_append"
        id_type = SQL(self.datastore.originator_id_type)
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{append}("
                "ids {id_type}[], versions bigint[], topics text[], states bytea[]) "
                "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ "
                "DECLARE previous text; nid bigint; "
                "BEGIN "
                "SET LOCAL lock_timeout = '{lock_timeout}s'; "
                "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
                "NOTIFY {channel}; "
                "SELECT link INTO previous FROM {schema}.{chain} "
                "ORDER BY notification_id DESC LIMIT 1; "
                "previous := coalesce(previous, {genesis}); "
                "FOR i IN 1 .. coalesce(array_length(ids, 1), 0) LOOP "
                "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
                "VALUES (ids[i], versions[i], topics[i], states[i]) "
                "RETURNING notification_id INTO nid; "
                # The same link as `chain_link`: previous|position|stream|version|topic| + state.
                "previous := encode(sha256(convert_to(previous || '|' || nid || '|' || "
                "ids[i]::text || '|' || versions[i] || '|' || topics[i] || '|', 'UTF8') "
                "|| states[i]), 'hex'); "
                "INSERT INTO {schema}.{chain} VALUES (nid, previous); "
                "RETURN NEXT nid; "
                "END LOOP; "
                "END; $BODY$"
            ).format(
                schema=schema,
                append=Identifier(self.append_function),
                id_type=id_type,
                lock_timeout=SQL(str(int(self.datastore.lock_timeout))),
                table=Identifier(events_table_name),
                channel=Identifier(self.channel_name),
                chain=chain,
                genesis=Literal(GENESIS),
            )
        )
        self._append_call = SQL(
            "SELECT * FROM {schema}.{append}(ARRAY[{{marks}}]::{id_type}[], "
            "ARRAY[{{marks}}]::bigint[], ARRAY[{{marks}}]::text[], ARRAY[{{marks}}]::bytea[])"
        ).format(schema=schema, append=Identifier(self.append_function), id_type=id_type)
        # Statements rendered to bytes, by what they are for (`_rendered`).
        self._statements: dict[Hashable, bytes] = {}
        self.select_last_link = SQL(
            "SELECT link FROM {schema}.{chain} ORDER BY notification_id DESC LIMIT 1"
        ).format(schema=schema, chain=chain)
        self.insert_links = SQL("INSERT INTO {schema}.{chain} VALUES (%s, %s)").format(
            schema=schema, chain=chain
        )
        self.copy_events = SQL(
            "COPY {schema}.{table} "
            "(notification_id, originator_id, originator_version, topic, state) "
            "FROM STDIN (FORMAT BINARY)"
        ).format(schema=schema, table=Identifier(events_table_name))
        self.copy_links = SQL(
            "COPY {schema}.{chain} (notification_id, link) FROM STDIN (FORMAT BINARY)"
        ).format(schema=schema, chain=chain)
        self.select_last_of_topics = SQL(
            "SELECT max(notification_id) FROM {schema}.{table} "
            "WHERE topic = ANY(%s) AND notification_id > %s"
        ).format(schema=schema, table=Identifier(events_table_name))

    @_bounded
    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """The library's read of a stream, its statement composed once per shape.

        The library composes it on every call, and psycopg renders a composed statement
        (quoting its identifiers) on every execution: a read of one subject per request.
        """
        shape = (gt is not None, lte is not None, desc, limit is not None)
        params = [originator_id, *(v for v in (gt, lte, limit) if v is not None)]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            statement = self._rendered(
                ("select_events", shape), conn, lambda: self._select_events_of(shape)
            )
            curs.execute(statement, params, prepare=True)
            return [
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]

    def _select_events_of(self, shape: tuple[bool, bool, bool, bool]) -> Composable:
        # The library's statement for the shape, clause by clause as `select_events` adds them.
        gt, lte, desc, limit = shape
        statement = self.select_events_statement
        if gt:
            statement += SQL(" AND originator_version > %s")
        if lte:
            statement += SQL(" AND originator_version <= %s")
        statement += SQL(" ORDER BY originator_version") + SQL(" DESC" if desc else " ASC")
        if limit:
            statement += SQL(" LIMIT %s")
        return statement

    def _rendered(
        self,
        key: Hashable,
        conn: psycopg.Connection[Any],
        compose: Callable[[], Composable],
    ) -> bytes:
        """The statement `compose()` gives for `key`, rendered to bytes on first use.

        psycopg renders a composed statement (quoting its identifiers) on every execution,
        and the library composes some of its statements on every call: on a read's path,
        each is rendered once instead.
        """
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statements[key] = compose().as_bytes(conn)
        return statement

    def create_table(self) -> None:
        # The library's steps (types, then tables and functions, then type adapters) in one
        # transaction that first takes an advisory lock: processes starting together
        # (`serve --workers`, rebuild workers) would otherwise run the same CREATE TYPE /
        # CREATE OR REPLACE statements at once and deadlock. One connection, so a pool of
        # one suffices.
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            for statement in self.sql_create_statements:
                if "CREATE TYPE" in statement.as_string():
                    # No IF NOT EXISTS for types: try in a savepoint, as the library does.
                    with contextlib.suppress(DuplicateObject), curs.connection.transaction():
                        curs.execute(statement, prepare=False)
            self._create_table(curs)
        self.datastore.register_type_adapters()

    @_attempts
    def last_notification_id(self, topics: Sequence[str], after: int) -> int | None:
        """The log position of the last event of `topics` stored after `after`, or None.

        One statement composed once (the library composes its query on every call) and
        prepared by the server: a check asked on every request, normally answering none.
        """
        # One statement on the pool's autocommit connection: no BEGIN and ROLLBACK around it.
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            statement = self._rendered("last_of_topics", conn, lambda: self.select_last_of_topics)
            curs.execute(statement, (list(topics), after), prepare=True)
            row = curs.fetchone()
        found = None if row is None else row["max"]
        return None if found is None else int(found)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Large batches (imports) go in by binary COPY, small ones by the server-side append."""
        # The library passes `tracking=None` on every save of a plain application.
        if self.chain_hash is None:
            with self.datastore.transaction(commit=False) as curs:
                self.chain_hash = read_chain_hash(self, curs)
        # The server-side append links with sha256 only: another hash links here, in Python.
        if (
            any(v is not None for v in kwargs.values())
            or self.datastore.enable_db_functions
            or self.chain_hash != "sha256"
        ):
            ids: Sequence[int] | None = self._insert_by_statement(stored_events, **kwargs)
            return ids
        if len(stored_events) < self.copy_from:
            appended: Sequence[int] = self._append(stored_events)
            return appended
        copied: Sequence[int] = self._copy_events(stored_events)
        return copied

    @_attempts
    def _append(self, stored_events: Sequence[StoredEvent]) -> Sequence[int]:
        if not stored_events:
            return []
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            # The pool's connections are in autocommit: this one statement is the transaction.
            curs.execute(
                self._append_call_for(len(stored_events), conn),
                [
                    *[e.originator_id for e in stored_events],
                    *[e.originator_version for e in stored_events],
                    *[e.topic for e in stored_events],
                    *[e.state for e in stored_events],
                ],
                prepare=True,
            )
            return [int(row[self.append_function]) for row in curs.fetchall()]

    def _append_call_for(self, count: int, conn: psycopg.Connection[Any]) -> bytes:
        """The append's call for `count` events, composed once: one scalar parameter per value.

        Four list parameters went through psycopg's array dumper, written in Python, on every
        append: a sixth of an audit record's own time. Scalars are dumped in C, and the server
        builds the arrays.
        """
        return self._rendered(
            ("append", count),
            conn,
            lambda: SQL(self._append_call.as_string(conn)).format(
                marks=SQL(", ").join([SQL("%s")] * count)
            ),
        )

    @_attempts
    def _copy_events(self, stored_events: Sequence[StoredEvent]) -> Sequence[int]:
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            return self.append_on(curs, stored_events)

    def append_on(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent]) -> list[int]:
        """Insert events and their links by binary COPY on the caller's open transaction (a
        bulk import's batch, committed with its checkpoint); their positions, in order.

        A stream version already stored raises `IntegrityError` (a `RecordConflictError`);
        the transaction is then aborted, and the caller's block rolls back all it wrote.
        """
        if not stored_events:
            return []
        # The library's order: the EXCLUSIVE lock first, so ids are issued and committed
        # in the same order and no reader passes a gap that fills in later.
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(
            "SELECT nextval(%s) AS id FROM generate_series(1, %s) ORDER BY 1",
            (self._id_sequence(curs), len(stored_events)),
        )
        ids = [int(row["id"]) for row in curs.fetchall()]
        id_type = "uuid" if self.datastore.originator_id_type == "uuid" else "text"
        try:
            with curs.copy(self.copy_events) as copy:
                copy.set_types(["int8", id_type, "int8", "text", "bytea"])
                for position, event in zip(ids, stored_events, strict=True):
                    copy.write_row(
                        (
                            position,
                            event.originator_id,
                            event.originator_version,
                            event.topic,
                            event.state,
                        )
                    )
        except psycopg.errors.UniqueViolation as exc:
            raise IntegrityError(str(exc)) from exc
        curs.execute(self.select_last_link)
        row = curs.fetchone()
        with curs.copy(self.copy_links) as copy:
            copy.set_types(["int8", "text"])
            links = _links(
                row["link"] if row else GENESIS, ids, stored_events, self.chain_hash or "sha256"
            )
            for link in links:
                copy.write_row(link)
        return ids

    def _id_sequence(self, curs: Cursor[DictRow]) -> str:
        if self._sequence is None:
            curs.execute(
                "SELECT pg_get_serial_sequence(%s, 'notification_id') AS seq",
                (f'"{self.datastore.schema}"."{self.events_table_name}"',),
            )
            found = curs.fetchone()
            assert found is not None
            self._sequence = str(found["seq"])
        return self._sequence

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if not ids:
            return ids
        # Still inside the insert's transaction, under its EXCLUSIVE lock on the events table.
        curs.execute(self.select_last_link)
        row = curs.fetchone()
        curs.executemany(
            self.insert_links,
            _links(
                row["link"] if row else GENESIS, ids, stored_events, self.chain_hash or "sha256"
            ),
        )
        return ids


@dataclass(frozen=True)
class ChainReport:
    """What `verify` found in one chained log."""

    table: str
    events: int
    head: str
    head_position: int
    problems: tuple[str, ...]


VERIFY_PAGE = 20_000


def _page(recorder: Any, after: int) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """The next events after `after` and the chain links of their positions (or, past the last
    event, every remaining link), in one short read transaction: a log of millions of events is
    checked in flat memory, and no transaction idles while Python hashes."""
    if isinstance(recorder, ChainedSQLiteRecorder):
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT rowid AS position, originator_id, originator_version, topic, state "  # noqa: S608
                f"FROM {recorder.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (after, VERIFY_PAGE),
            )
            events = [dict(r) for r in c.fetchall()]
            until = events[-1]["position"] if events else 2**63 - 1
            c.execute(
                f"SELECT notification_id AS position, link FROM {recorder.chain_table_name} "  # noqa: S608
                "WHERE notification_id > ? AND notification_id <= ?",
                (after, until),
            )
            links = {int(r["position"]): r["link"] for r in c.fetchall()}
        for event in events:
            raw = event["originator_id"]
            event["originator_id"] = UUID(raw) if len(raw) == 32 else raw
        return events, links
    schema = Identifier(recorder.datastore.schema)
    with recorder.datastore.transaction(commit=False) as curs:
        curs.execute(
            SQL(
                "SELECT notification_id AS position, originator_id, originator_version, "
                "topic, state FROM {schema}.{table} WHERE notification_id > %s "
                "ORDER BY notification_id LIMIT %s"
            ).format(schema=schema, table=Identifier(recorder.events_table_name)),
            (after, VERIFY_PAGE),
        )
        events = [dict(r) for r in curs.fetchall()]
        until = events[-1]["position"] if events else 2**63 - 1
        curs.execute(
            SQL(
                "SELECT notification_id AS position, link FROM {schema}.{chain} "
                "WHERE notification_id > %s AND notification_id <= %s"
            ).format(schema=schema, chain=Identifier(recorder.chain_table_name)),
            (after, until),
        )
        links = {int(r["position"]): r["link"] for r in curs.fetchall()}
    return events, links


def _as_bytes(value: Any) -> bytes:
    # A row rewritten by hand may come back as text rather than a blob; it is still checked.
    return value.encode() if isinstance(value, str) else bytes(value)


def verify_chain(recorder: Any, anchor: tuple[int, str] | None = None) -> ChainReport:
    """Recompute every link from the stored rows and compare with the stored chain.

    `anchor` is a (position, link) pair recorded earlier outside the database (printed by an
    earlier `verify`): a chain rewritten wholesale by a superuser no longer reaches it. The log
    is read a page of positions at a time, so memory does not grow with it.
    """
    if isinstance(recorder, ChainedSQLiteRecorder):
        table = recorder.events_table_name
    elif isinstance(recorder, ChainedPostgresRecorder):
        table = f"{recorder.datastore.schema}.{recorder.events_table_name}"
    else:
        return ChainReport(
            str(type(recorder).__name__), 0, GENESIS, 0, ("store keeps no hash chain",)
        )
    hash_name = stored_chain_hash(recorder)
    problems: list[str] = []
    previous = GENESIS
    count = 0
    head_position = 0
    anchor_reached = False
    after = 0
    while True:
        events, links = _page(recorder, after)
        for event in events:
            position = int(event["position"])
            expected = chain_link(
                previous,
                position,
                event["originator_id"],
                event["originator_version"],
                event["topic"],
                _as_bytes(event["state"]),
                hash_name,
            )
            if anchor is not None and position == anchor[0]:
                anchor_reached = expected == anchor[1]
            stored = links.pop(position, None)
            if stored is None:
                problems.append(f"{table} position {position}: event has no chain link")
            elif stored != expected:
                problems.append(
                    f"{table} position {position}: stored event differs from the chain "
                    f"(stream {event['originator_id']} version {event['originator_version']})"
                )
            # Continue from the stored link, so one changed row is reported once, not forever.
            previous = stored or expected
            head_position = position
        count += len(events)
        # Links left over in this page's range have no event (deleted?).
        for position in sorted(links):
            problems.append(f"{table} position {position}: chain link without its event (deleted?)")
        if not events:
            break
        after = head_position
    if anchor is not None and not anchor_reached:
        problems.append(
            f"{table} position {anchor[0]}: the chain no longer reaches the anchored link "
            f"{anchor[1]}"
        )
    return ChainReport(table, count, previous, head_position, tuple(problems))
