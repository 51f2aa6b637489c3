"""The stores behind the logs: a database URL as the `eventsourcing` environment, bounded waits,
store faults, and the stream reads the library lacks (the only code here that knows SQL)."""

from __future__ import annotations

import select
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Composed, Identifier, Literal
from psycopg_pool import ConnectionPool, PoolTimeout

from ledger.store.chain import SCHEMA_LOCK, ChainedPostgresRecorder

# The library's stored format, written and read faster (see `ledger.store.transcoder`).
TRANSCODER_TOPIC = "ledger.store.transcoder:FastJSONTranscoder"
MAPPER_TOPIC = "ledger.store.transcoder:FastMapper"


class StoreURLError(ValueError):
    """The database URL names no supported store or is malformed."""


class StoreFault(Exception):
    """The store failed to do what was asked, whatever was asked (not a refusal by a rule)."""


class StoreUnavailable(StoreFault):
    """The store cannot be reached or did not answer in time: try again later."""


class StoreFull(StoreFault):
    """The store has no space left to write."""


#: SQLite result codes (the primary code, the low byte of an extended one).
SQLITE_FULL = 13
SQLITE_UNAVAILABLE = frozenset({5, 6, 8, 10, 14, 15})  # busy, locked, readonly, I/O, can't open
#: PostgreSQL's SQLSTATE for a full disk (class 53, insufficient resources).
PG_DISK_FULL = "53100"
#: libpq gives up connecting after this long (it bounds the pool's own connection attempts).
PG_CONNECT_SECONDS = 3
#: The pool's connection attempts back off exponentially; giving up on a slot after this
#: long makes the next request start a fresh attempt, so a store back from an outage is
#: used within seconds rather than at the next of ever longer waits.
PG_RECONNECT_SECONDS = 5.0


def store_fault(exc: BaseException) -> StoreFault | None:
    """What a failure means when it is the store's (unreachable, out of space), else None.

    The store libraries wrap the driver's error (`raise ... from`), so the whole chain of
    causes is read: the driver's error says what happened.
    """
    chain = list(_causes(exc))
    for cause in chain:
        if isinstance(cause, StoreFault):
            return cause
        if isinstance(cause, psycopg.Error) and cause.sqlstate == PG_DISK_FULL:
            return StoreFull(f"the store is out of space: {_first_line(cause)}")
        if isinstance(cause, sqlite3.Error) and _sqlite_code(cause) == SQLITE_FULL:
            return StoreFull(f"the store is out of space: {cause}")
    for cause in chain:
        if isinstance(cause, psycopg.OperationalError | psycopg.InterfaceError):
            return StoreUnavailable(f"the store does not answer: {_first_line(cause)}")
        if isinstance(cause, sqlite3.Error) and _sqlite_code(cause) in SQLITE_UNAVAILABLE:
            return StoreUnavailable(f"the store does not answer: {cause}")
    return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _sqlite_code(exc: sqlite3.Error) -> int:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF
    # Errors raised before a statement ran carry no code; the full disk's message is stable.
    return SQLITE_FULL if "database or disk is full" in str(exc) else -1


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def persistence_env(database_url: str, *, wait_seconds: int) -> dict[str, str]:
    """The `eventsourcing` environment for `sqlite:///PATH` or `postgresql://…` URLs; an
    operation waits at most `wait_seconds` for a pooled PostgreSQL connection."""
    parts = urlsplit(database_url)
    if parts.scheme == "sqlite":
        raw = unquote(parts.path)
        # sqlite:///relative.db gives "/relative.db"; sqlite:////abs/path.db gives "//abs/path.db".
        path = raw[1:] if raw.startswith("/") else raw
        if not path:
            raise StoreURLError("sqlite URL needs a file path: sqlite:///credit-ledger.db")
        if path != ":memory:":
            file = Path(path)
            file.parent.mkdir(parents=True, exist_ok=True)
            path = str(file)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "10",
            "APPLICATION_RECORDER_TOPIC": "ledger.store.chain:ChainedSQLiteRecorder",
            "TRANSCODER_TOPIC": TRANSCODER_TOPIC,
            "MAPPER_TOPIC": MAPPER_TOPIC,
        }
    if parts.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        dbname = unquote(parts.path.lstrip("/"))
        if not dbname:
            raise StoreURLError("postgresql URL needs a database name: postgresql://HOST/DBNAME")
        query = parse_qs(parts.query)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            # The library's name for how long an operation waits for a pooled connection.
            "POSTGRES_CONNECT_TIMEOUT": str(wait_seconds),
            # A connection broken by an outage is replaced when taken, not handed to a request.
            "POSTGRES_PRE_PING": "y",
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_MAX_OVERFLOW": "10",
            "APPLICATION_RECORDER_TOPIC": "ledger.store.chain:ChainedPostgresRecorder",
            "TRANSCODER_TOPIC": TRANSCODER_TOPIC,
            "MAPPER_TOPIC": MAPPER_TOPIC,
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env
    raise StoreURLError(
        f"unsupported database URL scheme '{parts.scheme}': use sqlite:///PATH or postgresql://…"
    )


def process_local(env: Mapping[str, str]) -> bool:
    """Whether a store of this environment exists only inside the process that opens it (an
    in-memory SQLite database), so that no other process can share it."""
    return env.get("SQLITE_DBNAME") == ":memory:"


def audit_env(database_url: str, *, wait_seconds: int) -> dict[str, str]:
    """The environment of the query-audit log: the ledger's store, its own (chained) tables."""
    env = persistence_env(database_url, wait_seconds=wait_seconds)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        env["APPLICATION_RECORDER_TOPIC"] = "ledger.store.chain:ChainedSQLiteAuditRecorder"
    return env


App = TypeVar("App", bound=Application[Any])


def bounded(app: App, *, attempts: int) -> App:
    """The application with its store's waits bounded (PostgreSQL): `attempts` tries of an
    operation whose connection was lost.

    Every read and write then fails within about one pool wait when the store is away, so a
    request answers 503 instead of hanging (see `ChainedPostgresRecorder`).
    """
    recorder: Any = app.recorder
    if isinstance(recorder, ChainedPostgresRecorder):
        recorder.attempts = attempts
        pool = recorder.datastore.pool
        pool.reconnect_timeout = PG_RECONNECT_SECONDS
        # The pool's own check (the library's pre-ping) is a round trip per checkout: three per
        # audited read. This one asks the server only when the socket has something to say.
        pool._check = check_if_stirred  # psycopg_pool keeps its check callback there
        if isinstance(pool.kwargs, dict):
            pool.kwargs["connect_timeout"] = PG_CONNECT_SECONDS
    return app


def check_if_stirred(conn: psycopg.Connection[Any]) -> None:
    """A pooled connection's check before use: raise if it is dead, without a round trip
    when its socket is quiet.

    An idle connection in good health receives nothing. A server that restarted, or ended
    the session, has sent its farewell and closed the socket, which makes it readable: only
    then is the connection pinged (and, dead, replaced by the pool).
    """
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the pooled connection is closed")
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        readable = [-1]
    if readable:
        ConnectionPool.check_connection(conn)


def stream_positions(app: Application[Any], originator_id: UUID) -> dict[int, int]:
    """Ledger position (notification id) of each version of one stream."""
    recorder: Any = app.recorder
    with recorder.datastore.transaction(commit=False) as cursor:
        if isinstance(recorder, SQLiteApplicationRecorder):
            # The table name is the recorder's own, never input.
            query = (
                "SELECT originator_version AS version, rowid AS position "  # noqa: S608
                f"FROM {recorder.events_table_name} WHERE originator_id = ?"
            )
            cursor.execute(query, (originator_id.hex,))
            rows = cursor.fetchall()
        else:
            statement = _on_events(
                "SELECT originator_version AS version, notification_id AS position "
                "FROM {schema}.{table} "
                "WHERE originator_id = %s",
                recorder,
            )
            cursor.execute(statement, (originator_id,))
            rows = cursor.fetchall()
    return {int(r["version"]): int(r["position"]) for r in rows}


def existing_streams(app: Application[Any], originator_ids: list[UUID]) -> set[UUID]:
    """Which of these streams already hold events (one query, for bulk imports)."""
    if not originator_ids:
        return set()
    recorder: Any = app.recorder
    found: set[UUID] = set()
    with recorder.datastore.transaction(commit=False) as cursor:
        for start in range(0, len(originator_ids), 500):
            chunk = originator_ids[start : start + 500]
            if isinstance(recorder, SQLiteApplicationRecorder):
                marks = ",".join("?" * len(chunk))
                cursor.execute(
                    f"SELECT DISTINCT originator_id FROM {recorder.events_table_name} "  # noqa: S608
                    f"WHERE originator_id IN ({marks})",
                    [i.hex for i in chunk],
                )
                found.update(UUID(r["originator_id"]) for r in cursor.fetchall())
            else:
                statement = _on_events(
                    "SELECT DISTINCT originator_id FROM {schema}.{table} "
                    "WHERE originator_id = ANY(%s)",
                    recorder,
                )
                cursor.execute(statement, (chunk,))
                found.update(UUID(str(r["originator_id"])) for r in cursor.fetchall())
    return found


#: Streams read by one query of `read_streams`.
STREAMS_PER_QUERY = 500


def read_streams(app: Application[Any], originator_ids: Sequence[UUID]) -> dict[UUID, list[Any]]:
    """The whole streams of these originators, decoded, oldest first, many to a query.

    For passes over the whole population (the annual evaluation): reading one stream per
    query paid a round trip per subject, most of the pass on PostgreSQL. A stream with no
    events is absent from the result.
    """
    recorder: Any = app.recorder
    streams: dict[UUID, list[Any]] = {}
    to_event = app.mapper.to_domain_event
    convert: Callable[[Any], Any]
    with recorder.datastore.transaction(commit=False) as cursor:
        for start in range(0, len(originator_ids), STREAMS_PER_QUERY):
            chunk = list(originator_ids[start : start + STREAMS_PER_QUERY])
            if isinstance(recorder, SQLiteApplicationRecorder):
                marks = ",".join("?" * len(chunk))
                cursor.execute(
                    "SELECT originator_id, originator_version, topic, state "  # noqa: S608
                    f"FROM {recorder.events_table_name} WHERE originator_id IN ({marks}) "
                    "ORDER BY originator_id, originator_version",
                    [i.hex for i in chunk],
                )
                convert = recorder.convert_originator_id
            else:
                statement = _on_events(
                    "SELECT originator_id, originator_version, topic, state "
                    "FROM {schema}.{table} WHERE originator_id = ANY(%s) "
                    "ORDER BY originator_id, originator_version",
                    recorder,
                )
                cursor.execute(statement, (chunk,))
                convert = _same
            for row in cursor.fetchall():
                stream_id = cast(UUID, convert(row["originator_id"]))
                stored = StoredEvent(
                    originator_id=stream_id,
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                streams.setdefault(stream_id, []).append(to_event(stored))
    return streams


def _same(value: Any) -> Any:
    return value


def _on_events(statement: str, recorder: Any) -> Composed:
    """A statement on the PostgreSQL recorder's events table (`{schema}.{table}` in it)."""
    return SQL(statement).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )


def refresh_statistics(app: Application[Any]) -> None:
    """Have PostgreSQL re-read the events table's statistics (after a bulk load).

    Until autovacuum gets to it, the planner still sees the table as it was before the load,
    and a topic query (the token check of every request, the rulebook's refresh) then walks
    the whole log in position order instead of taking the topic index: 285 ms instead of
    0.1 ms at 650 000 events. SQLite plans by its indexes and needs nothing here.
    """
    recorder: Any = app.recorder
    if isinstance(recorder, ChainedPostgresRecorder):
        with recorder.datastore.get_connection() as conn:
            conn.execute(_on_events("ANALYZE {schema}.{table}", recorder))


#: The log size below which the statistics are not refreshed on the way (a small table plans
#: well whatever they say).
STATISTICS_FROM = 25_000


class StatisticsKeeper:
    """Refreshes the store's statistics each time the log has doubled since they last were.

    PostgreSQL plans a topic read (the token check of every request, the rulebook's refresh
    every few seconds) by the events table's statistics, and autovacuum may be off (as on
    this project's CI machines) or behind a load: with an empty table's statistics it walks
    the whole log for each such read, so an import slowed as the log grew (2,900 events/s at
    3 million events, against 22,500 for the whole million-subject import once refreshed).
    A refresh on each doubling costs a few sampled reads in all. The first check reads where
    the log stands, so a keeper can be made while the store is away.
    """

    def __init__(self, app: Application[Any]) -> None:
        self.app = app
        self.at: int | None = None

    def check(self) -> bool:
        """Refresh the statistics if the log has doubled since; whether it did."""
        head = self.app.recorder.max_notification_id() or 0
        if self.at is None:
            self.at = max(head, STATISTICS_FROM)
            return False
        if head < 2 * self.at:
            return False
        self.refresh()
        self.at = head
        return True

    def refresh(self) -> None:
        """Refresh them now (after a bulk load)."""
        refresh_statistics(self.app)


#: The one-row table the write probe commits to, beside the read models.
PROBE_TABLE = "store_probe"


class WriteProbe:
    """Whether the store takes a write now: a committed one-row write, waited for briefly.

    The write (an upsert of one row, so the table never grows) exercises what every write
    needs: a connection, the write lock, space for the log and a durable commit. It runs in
    its own thread and is waited for at most `timeout` seconds, so the caller never hangs;
    while one probe is still waiting, the next call reports that instead of starting another.
    """

    def __init__(self, app: Application[Any]) -> None:
        self.recorder: Any = app.recorder
        self.sqlite = isinstance(self.recorder, SQLiteApplicationRecorder)
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None
        self._outcome: BaseException | None = None
        self._created = False

    def check(self, timeout: float) -> None:
        """Return if a write committed within `timeout` s; else raise the `StoreFault`."""
        self.begin(timeout)
        self.wait(timeout)

    def begin(self, timeout: float) -> None:
        """Start a probe, unless one started earlier still waits (then that one counts)."""
        with self._lock:
            if self._running is None or not self._running.is_alive():
                self._outcome = None
                self._running = threading.Thread(
                    target=self._probe, args=(timeout,), name="write-probe", daemon=True
                )
                self._running.start()

    def wait(self, timeout: float) -> None:
        """Wait at most `timeout` s for the probe begun; raise the `StoreFault` if it failed."""
        running = self._running
        assert running is not None, "begin() first"
        running.join(max(0.0, timeout))
        if running.is_alive():
            raise StoreUnavailable("the store did not take a write in time")
        outcome = self._outcome
        if outcome is not None:
            raise store_fault(outcome) or StoreUnavailable(
                f"the store refused a write: {_first_line(outcome)}"
            )

    def _probe(self, timeout: float) -> None:
        try:
            self._write(timeout)
        except BaseException as exc:  # reported to the caller, who names it
            if not self.sqlite and isinstance(exc.__cause__, PoolTimeout):
                exc = self._why_no_connection(exc)
            self._outcome = exc

    def _why_no_connection(self, exc: BaseException) -> BaseException:
        """The pool only says it had no connection; a direct attempt says why (refused...)."""
        try:
            own_connection(self.recorder, connect_timeout=2).close()
        except psycopg.Error as direct:
            return direct
        return exc

    def _write(self, timeout: float) -> None:
        datastore = self.recorder.datastore
        with datastore.transaction(commit=True) as cursor:
            if self.sqlite:
                if not self._created:
                    cursor.execute(
                        f"CREATE TABLE IF NOT EXISTS {PROBE_TABLE} "
                        "(id INTEGER PRIMARY KEY, probed_at TEXT NOT NULL)"
                    )
                cursor.execute(
                    f"INSERT INTO {PROBE_TABLE} VALUES (1, datetime('now')) "  # noqa: S608
                    "ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at"
                )
            else:
                table = SQL("{schema}.{table}").format(
                    schema=Identifier(datastore.schema), table=Identifier(PROBE_TABLE)
                )
                # The server gives up on its side too, so no probe lingers there.
                waits = Literal(max(1, int(timeout * 1000)))  # milliseconds
                cursor.execute(SQL("SET LOCAL statement_timeout = {0}").format(waits))
                cursor.execute(SQL("SET LOCAL lock_timeout = {0}").format(waits))
                if not self._created:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                    cursor.execute(
                        SQL(
                            "CREATE TABLE IF NOT EXISTS {table} "
                            "(id integer PRIMARY KEY, probed_at timestamptz NOT NULL)"
                        ).format(table=table)
                    )
                cursor.execute(
                    SQL(
                        "INSERT INTO {table} VALUES (1, now()) "
                        "ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at"
                    ).format(table=table)
                )
        self._created = True


def own_connection(recorder: Any, **options: Any) -> psycopg.Connection[Any]:
    """A PostgreSQL connection of its own (not pooled, autocommit) to the recorder's database,
    as its pool connects (`options` added): for what lives as long as a session (a lock)."""
    kwargs = {k: v for k, v in dict(recorder.datastore.pool.kwargs).items() if k != "row_factory"}
    return psycopg.connect(**{**kwargs, "autocommit": True, **options})


def backend_of(app: Application[Any]) -> str:
    """Which backend holds an application's store: `sqlite` or `postgres` (asked here only, so
    no other package branches on the recorder's class)."""
    return "sqlite" if isinstance(app.recorder, SQLiteApplicationRecorder) else "postgres"
