"""The query-audit log: every read of a grade is itself an immutable event (who, what, why)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import JSONTranscoder
from eventsourcing.utils import EnvType, get_topic

from ledger.domain.text import optional_text
from ledger.store.codec import DateAsISO
from ledger.store.log import read_log

#: The longest purpose a caller may state (the API's query parameter has the same bound).
MAX_PURPOSE = 200


class GradeRead(Aggregate):
    """One answer that carried grades, scores or tiers, recorded as it is served.

    A record names every subject whose grade the answer carried (`subjects`): one record per
    answer, not one per subject, so a worklist page of a thousand subjects is one append, and
    an auditor still finds the department that saw subject X's grade by asking for X. An answer
    of aggregate counts (the annual summary) names no subject, only its query and the count.
    """

    TOPIC = "credit.grade_read.v1"

    class Event(Aggregate.Event):
        """Base of audit events."""

        TOPIC = "credit.grade_read_event.v1"

    class Recorded(Aggregate.Created, Event):
        """A read was served.

        Version 2 added `subjects` (every subject the answer carried) and `query` (the method,
        path and query string asked); a version 1 record carried at most its one `uscc`.
        """

        TOPIC = "credit.grade_read_recorded.v1"
        class_version = 2
        token_id: str
        role: str
        department: str | None
        endpoint: str
        uscc: str | None
        purpose: str | None
        as_of: date | None
        known_at: datetime | None
        grade: str | None
        count: int
        subjects: list[str]
        query: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """A version 1 record carried the one subject it named, if any, and no query."""
            state["subjects"] = [state["uscc"]] if state.get("uscc") else []
            state["query"] = None

    @staticmethod
    def create_id() -> UUID:
        """Each read is its own stream: concurrent readers never contend."""
        return uuid4()

    def __init__(
        self,
        token_id: str,
        role: str,
        department: str | None,
        endpoint: str,
        uscc: str | None,
        purpose: str | None,
        as_of: date | None,
        known_at: datetime | None,
        grade: str | None,
        count: int,
        subjects: list[str],
        query: str | None,
    ) -> None:
        self.token_id = token_id
        self.uscc = uscc
        self.subjects = subjects


#: The stored topic of the audit record's aggregate (its explicit `TOPIC`).
READ_TOPIC = get_topic(GradeRead)


def read_record(
    *, originator_id: UUID | None = None, timestamp: datetime | None = None, **fields: Any
) -> GradeRead.Recorded:
    """The one event of a new `GradeRead` stream, as `GradeRead._create` builds it (the same
    topics, version and values), without building the aggregate around it."""
    return GradeRead.Recorded(
        originator_id=GradeRead.create_id() if originator_id is None else originator_id,
        originator_version=GradeRead.INITIAL_VERSION,
        timestamp=GradeRead.Recorded.create_timestamp() if timestamp is None else timestamp,
        originator_topic=READ_TOPIC,
        **fields,
    )


@dataclass
class _PendingRead:
    """A read waiting for the transaction that records it (see `QueryAudit.record_read`)."""

    read: GradeRead.Recorded
    done: bool = False
    position: int = 0
    failure: BaseException | None = field(default=None, repr=False)


class QueryAudit(Application[UUID]):
    """The append-only audit log of grade reads, kept apart from the credit events.

    A separate event table keeps audit appends from contending with credit writes and keeps
    grade reads out of the credit log that projections and the feed follow.
    """

    name = "credit_ledger_audit"

    def __init__(self, env: EnvType | None = None) -> None:
        super().__init__(env)
        self._pending: list[_PendingRead] = []
        self._pending_lock = threading.Lock()
        self._commit_lock = threading.Lock()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        """Add date values to the stored-event JSON."""
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def record_read(
        self,
        *,
        token_id: str,
        role: str,
        department: str | None,
        endpoint: str,
        uscc: str | None,
        purpose: str | None,
        as_of: date | None = None,
        known_at: datetime | None = None,
        grade: str | None = None,
        count: int | None = None,
        subjects: Iterable[str] | None = None,
        query: str | None = None,
    ) -> int:
        """Append one audit record; returns its position in the audit log.

        `subjects` are the credit codes of every subject the answer carried (default: `uscc`);
        `uscc` is kept for a single-subject answer; `count` defaults to the number of subjects
        (for an aggregate answer, pass how many subjects it counted).
        """
        # The purpose is the caller's text like any other: the boundary's text rule applies.
        purpose = optional_text(purpose, "purpose", max_length=MAX_PURPOSE)
        named = list(dict.fromkeys(subjects)) if subjects is not None else []
        if subjects is None and uscc is not None:
            named = [uscc]
        if uscc is None and len(named) == 1:
            uscc = named[0]
        read = read_record(
            token_id=token_id,
            role=role,
            department=department,
            endpoint=endpoint,
            uscc=uscc,
            purpose=purpose,
            as_of=as_of,
            known_at=known_at,
            grade=grade,
            count=len(named) if count is None else count,
            subjects=named,
            query=query,
        )
        return self._record_together(_PendingRead(read))

    def _record_together(self, mine: _PendingRead) -> int:
        # Group commit: a read is served only once its record is committed, and the commit
        # (a durable write, under the store's write lock) is most of a read's cost. Reads that
        # arrive while a commit is under way queue up; whoever commits next stores all the
        # queued reads in one transaction, and each caller returns once its own is stored.
        with self._pending_lock:
            self._pending.append(mine)
        with self._commit_lock:
            if not mine.done:
                with self._pending_lock:
                    group, self._pending = self._pending, []
                try:
                    positions = self.store_reads([p.read for p in group])
                except BaseException as exc:
                    for pending in group:
                        pending.failure, pending.done = exc, True
                else:
                    for pending, position in zip(group, positions, strict=True):
                        pending.position, pending.done = position, True
        if mine.failure is not None:
            raise mine.failure
        return mine.position

    def store_reads(self, records: Sequence[GradeRead.Recorded]) -> list[int]:
        """Store audit records in one write; their positions in the audit log, in order.

        Each record is the one event of a new stream, so the application's `save` (collect an
        aggregate's pending events, check each against protocols, cache, snapshot, notify)
        has nothing to do for it but encode and insert: it was a third of a record's own time.
        """
        ids = self.recorder.insert_events([self.mapper.to_stored_event(r) for r in records])
        if ids is None or len(ids) != len(records):  # an application recorder gives them all
            raise RuntimeError("the audit store gave no position for a record it stored")
        return [int(i) for i in ids]

    def reads(
        self,
        *,
        uscc: str | None = None,
        token_id: str | None = None,
        after: int = 0,
        limit: int = 100,
        scan: int = 10_000,
    ) -> tuple[list[tuple[int, GradeRead.Recorded]], int]:
        """Audit records after a position matching the filters, and the position scanned to.

        At most `scan` records are examined per call, so a filter that matches rarely still
        answers promptly; the returned position is the cursor to continue from.
        """
        found: list[tuple[int, GradeRead.Recorded]] = []
        position = after
        if limit <= 0:
            return found, position
        for notification in read_log(self.recorder, start=after, page_size=500, limit=scan):
            position = notification.id
            event = self.mapper.to_domain_event(notification)
            if not isinstance(event, GradeRead.Recorded):
                continue
            if uscc is not None and uscc not in event.subjects:
                continue
            if token_id is not None and event.token_id != token_id:
                continue
            found.append((notification.id, event))
            if len(found) >= limit:
                break
        return found, position
