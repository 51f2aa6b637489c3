"""Reading the ordered log: the one loop that pages a recorder's notifications.

Every pass over the log — the projectors, the one-pass rebuild and its partitions, the annual
build, the token and audit scans — reads through `read_pages` (or `read_log`, its events one
by one), so bounds, order and page sizes mean the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from itertools import chain
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.rows import tuple_row

from ledger.store.chain import ChainedPostgresRecorder

#: Notifications asked for per query when the caller names no page size.
PAGE_SIZE = 1000

# Stored ids on SQLite are 32 lower-case hex digits; the last two are the last byte.
_SQLITE_LAST_BYTE = (
    "((instr('0123456789abcdef', substr(originator_id, 31, 1)) - 1) * 16"
    " + instr('0123456789abcdef', substr(originator_id, 32, 1)) - 1)"
)


class StoredRow(NamedTuple):
    """One stored event as a pass reads it: what a `Notification` holds, as a plain tuple."""

    id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


def partition_of(subject_id: UUID, parts: int) -> int:
    """Which of `parts` partitions a stream belongs to (its id's last byte, modulo parts)."""
    return (subject_id.int & 0xFF) % parts


def by_stream(rows: Sequence[Any], topics: Collection[str]) -> dict[UUID, list[Any]]:
    """The rows of these topics grouped by stream, in log order within each stream and in the
    order each stream first appears (a page of the log, ready to fold subject by subject)."""
    # One dictionary lookup per row: hashing a UUID is a Python-level call.
    streams: dict[UUID, list[Any]] = {}
    for row in rows:
        if row.topic in topics:
            stream = streams.get(row.originator_id)
            if stream is None:
                streams[row.originator_id] = [row]
            else:
                stream.append(row)
    return streams


def read_pages(
    recorder: ApplicationRecorder,
    *,
    topics: Sequence[str] = (),
    start: int = 0,
    stop: int | None = None,
    page_size: int = PAGE_SIZE,
    limit: int | None = None,
    part: int = 0,
    parts: int | None = None,
) -> Iterator[list[Any]]:
    """The log's notifications after position `start` up to and including `stop`, in log order,
    a page (one query) at a time.

    `topics` keeps only events of those topics (all when empty); `limit` bounds how many
    notifications are read in all, and the last query asks for no more than remain. Pages are
    never empty, and a page is read only when the previous one has been consumed.

    With `parts`, a pass's read: the rows (`StoredRow`) of the streams in partition `part`
    (`partition_of`), straight from the events table as plain tuples — a pass reads every
    event, and a notification object per row cost as much as reading it — each query asking
    for a window of `page_size` × `parts` positions. A bounded window keeps the ordered index
    scan even where the planner's statistics are stale after a bulk load (with a LIMIT over
    the whole remaining log, PostgreSQL sorted all of it each time). `parts=1` is the whole log.
    """
    if page_size < 1:
        raise ValueError("page_size must be positive")
    fetch: Callable[[int, int], list[Any]]
    if parts is None:

        def fetch(position: int, size: int) -> list[Any]:
            return list(
                recorder.select_notifications(
                    start=position,
                    limit=size,
                    stop=stop,
                    topics=topics,
                    inclusive_of_start=False,
                )
            )

        upto = stop
    else:
        if topics or limit is not None:
            raise ValueError("a partition's read takes neither topics nor a limit")
        if not 0 <= part < parts:
            raise ValueError("part must be in 0 .. parts - 1")
        upto = (recorder.max_notification_id() or 0) if stop is None else stop
        window = page_size * parts
        read = _partition_reader(recorder, part, parts)

        def fetch(position: int, size: int) -> list[Any]:
            # Windows holding none of the partition's rows are passed over.
            while position < upto:
                rows = read(position, min(upto, position + window))
                if rows:
                    return rows
                position += window
            return []

    position = start
    remaining = limit
    while (upto is None or position < upto) and (remaining is None or remaining > 0):
        size = page_size if remaining is None else min(page_size, remaining)
        page = fetch(position, size)
        if not page:
            return
        yield page
        position = page[-1].id
        if remaining is not None:
            remaining -= len(page)


def read_log(
    recorder: ApplicationRecorder,
    *,
    topics: Sequence[str] = (),
    start: int = 0,
    stop: int | None = None,
    page_size: int = PAGE_SIZE,
    limit: int | None = None,
) -> Iterator[Notification]:
    """The notifications of `read_pages`, one by one (same bounds, same order, same queries)."""
    return chain.from_iterable(
        read_pages(
            recorder, topics=topics, start=start, stop=stop, page_size=page_size, limit=limit
        )
    )


def _partition_reader(
    recorder: ApplicationRecorder, part: int, parts: int
) -> Callable[[int, int], list[StoredRow]]:
    """A function reading the partition's rows at positions after `after` up to `upto`."""
    if isinstance(recorder, ChainedPostgresRecorder):
        return _postgres_reader(recorder, part, parts)
    if isinstance(recorder, SQLiteApplicationRecorder):
        return _sqlite_reader(recorder, part, parts)

    def generic(after: int, upto: int) -> list[StoredRow]:
        # Any other recorder (in memory): its notifications, the partition kept in Python.
        found = recorder.select_notifications(
            start=after, limit=upto - after, stop=upto, inclusive_of_start=False
        )
        return [
            StoredRow(n.id, n.originator_id, n.originator_version, n.topic, n.state)  # type: ignore[arg-type]
            for n in found
            if parts == 1 or partition_of(n.originator_id, parts) == part  # type: ignore[arg-type]
        ]

    return generic


def _postgres_reader(
    recorder: ChainedPostgresRecorder, part: int, parts: int
) -> Callable[[int, int], list[StoredRow]]:
    table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
    where = "" if parts == 1 else "AND get_byte(uuid_send(originator_id), 15) %% %s = %s "
    statement = (
        "SELECT notification_id, originator_id, originator_version, topic, state "  # noqa: S608
        f"FROM {table} WHERE notification_id > %s AND notification_id <= %s "
        f"{where}ORDER BY notification_id"
    )
    extra = () if parts == 1 else (parts, part)

    def read(after: int, upto: int) -> list[StoredRow]:
        # Binary results: the stored bytes come as they are, not hex-escaped and decoded
        # again, which halved the time to read a row.
        with (
            recorder.datastore.transaction(commit=False) as cursor,
            cursor.connection.cursor(binary=True, row_factory=tuple_row) as rows,
        ):
            rows.execute(statement, (after, upto, *extra))
            return [StoredRow._make(row) for row in rows.fetchall()]

    return read


def _sqlite_reader(
    recorder: SQLiteApplicationRecorder, part: int, parts: int
) -> Callable[[int, int], list[StoredRow]]:
    where = "" if parts == 1 else f"AND {_SQLITE_LAST_BYTE} % ? = ? "
    statement = (
        "SELECT rowid, originator_id, originator_version, topic, state "  # noqa: S608
        f"FROM {recorder.events_table_name} WHERE rowid > ? AND rowid <= ? "
        f"{where}ORDER BY rowid"
    )
    extra = () if parts == 1 else (parts, part)
    convert = recorder.convert_originator_id

    def read(after: int, upto: int) -> list[StoredRow]:
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (after, upto, *extra))
            # sqlite3.Row unpacks like a tuple.
            return [
                StoredRow(position, convert(stream), version, topic, state)  # type: ignore[arg-type]
                for position, stream, version, topic, state in cursor.fetchall()
            ]

    return read


def last_position(recorder: ApplicationRecorder, topics: Sequence[str], after: int) -> int:
    """The log position of the last event of `topics` stored after `after`; `after` if none.

    One aggregate query on the stores' recorders; any other recorder (in memory) reads the
    notifications themselves."""
    if not topics:
        raise ValueError("name the topics to look for")
    ask = getattr(recorder, "last_notification_id", None)
    if ask is not None:
        found: int | None = ask(topics, after)
        return after if found is None else found
    latest = after
    for notification in read_log(recorder, topics=topics, start=after):
        latest = notification.id
    return latest
