"""Turns a `CREDIT_LEDGER_DATABASE_URL` into the `eventsourcing` persistence environment."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Composed, Identifier

from ledger.application import CreditLedger, system_clock
from ledger.audit import QueryAudit

# The library's stored format, written and read faster (see `credit_ledger.transcoder`).
TRANSCODER_TOPIC = "credit_ledger.transcoder:FastJSONTranscoder"
MAPPER_TOPIC = "credit_ledger.transcoder:FastMapper"


class StoreURLError(ValueError):
    """The database URL names no supported store or is malformed."""


def persistence_env(database_url: str) -> dict[str, str]:
    """The `eventsourcing` environment for `sqlite:///PATH` or `postgresql://…` URLs."""
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
            "APPLICATION_RECORDER_TOPIC": "credit_ledger.chain:ChainedSQLiteRecorder",
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
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_MAX_OVERFLOW": "10",
            "APPLICATION_RECORDER_TOPIC": "credit_ledger.chain:ChainedPostgresRecorder",
            "TRANSCODER_TOPIC": TRANSCODER_TOPIC,
            "MAPPER_TOPIC": MAPPER_TOPIC,
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env
    raise StoreURLError(
        f"unsupported database URL scheme '{parts.scheme}': use sqlite:///PATH or postgresql://…"
    )


def open_audit(database_url: str) -> QueryAudit:
    """The query-audit log on the same store as the ledger, in its own (chained) tables."""
    env = persistence_env(database_url)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        env["APPLICATION_RECORDER_TOPIC"] = "credit_ledger.chain:ChainedSQLiteAuditRecorder"
    return QueryAudit(env=env)


def stream_positions(app: CreditLedger, originator_id: UUID) -> dict[int, int]:
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


def open_ledger(database_url: str, *, clock: Callable[[], datetime] = system_clock) -> CreditLedger:
    """The one place that builds the application and its store from a database URL."""
    return CreditLedger(env=persistence_env(database_url), clock=clock)


def existing_streams(app: CreditLedger, originator_ids: list[UUID]) -> set[UUID]:
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


def read_streams(app: CreditLedger, originator_ids: Sequence[UUID]) -> dict[UUID, list[Any]]:
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
