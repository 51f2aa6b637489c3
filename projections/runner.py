"""The projection runner: batched catch-up with the tracking position in the same transaction.

Each physical read-model table has its own tracked position. A batch is computed outside any
transaction, then written with a compare-and-set of that position: if another runner moved it
meanwhile, the batch is dropped and recomputed. So every event is applied exactly once, even
with several runners or after a crash between batches.

`rebuild` fills a new generation of a table from position 0 beside the live one, resumably,
and switches readers to it in one transaction when it has caught up.

A read model that cannot be brought up to date (its table gone, the store away, a bug) does
not stop the others: `run_once` records the failure (in memory, in the failure counter and in
the store, where `serve` sees an external worker's) and raises `ProjectionFailed`; callers
retry with `Backoff`. Stored text never fails a write: the store escapes what it cannot hold.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from ledger.domain.state import SubjectState
from ledger.domain.subject import SUBJECT_EVENT_TOPICS
from ledger.service.application import CreditLedger
from ledger.store.log import read_pages
from projections.grades import SubjectOutcome, outcome
from projections.health import FAILURES, Backoff, ProjectionFailed, ProjectionFailure
from projections.models import READ_MODELS, ReadModel
from projections.store import Cursor, ReadStore, escape_text, tables, unescape_text
from projections.store.tracking import Tracking

log = logging.getLogger("credit_ledger.projections")

#: How much of an error's message is kept (a driver's message may quote a whole statement).
MESSAGE_CHARS = 500
#: Seconds a batch waits for a lock on its read model's table before it fails (PostgreSQL).
LOCK_WAIT = 10.0
DEFAULT_BATCH = 1000
STATE_CACHE = 20_000
SUBJECT_TOPICS = frozenset(SUBJECT_EVENT_TOPICS)


class ConcurrentRunner(Exception):
    """Another runner advanced the table first; the batch is recomputed."""


@dataclass(frozen=True)
class TableState:
    """Which physical table serves a read model, and any generation being rebuilt."""

    projection: str
    active: str
    building: str | None


class Projector:
    """Keeps the read models of one ledger."""

    def __init__(
        self,
        ledger: CreditLedger,
        *,
        today: Callable[[], date] | None = None,
        lock_wait: float = LOCK_WAIT,
    ) -> None:
        self.ledger = ledger
        # A batch waits this long for a lock on its table (someone's LOCK TABLE, a long ALTER)
        # and then fails, so the wait is reported and retried rather than silent and endless.
        self.lock_wait = lock_wait
        self.store = ReadStore(ledger)
        self.tracking = Tracking(self.store)
        self.today = today or ledger.today
        # Per table, the folded states of recently projected subjects (bounded, so memory stays
        # flat): a subject's next batch continues from its state instead of re-reading history.
        self._states: dict[str, OrderedDict[UUID, tuple[int, SubjectState]]] = {}
        #: The read models this process failed to bring up to date, until it next succeeds.
        self.failures: dict[str, ProjectionFailure] = {}
        # Read models whose stored failure row may exist (an earlier process may have left
        # one): it is deleted after their next success, then no more statements are spent.
        self._clear_stored = set(READ_MODELS)
        self._setup()

    # -- tables -------------------------------------------------------------------------------

    def _setup(self) -> None:
        # Under the schema lock, so processes starting together do not race to create tables.
        with self.store.transaction(schema_lock=True) as cur:
            self.tracking.create(cur)
            registered = self.tracking.registered(cur)
            for name in READ_MODELS:
                if _versioned(name) not in registered:
                    self._create_generation_with(cur, name, make_active=True)

    def tables(self, projection: str) -> TableState | None:
        """The registry entry of a read model."""
        with self.store.transaction(write=False) as cur:
            row = self.tracking.entry(cur, _versioned(projection))
        return TableState(projection, row["active"], row["building"]) if row else None

    def active_table(self, projection: str) -> str:
        """The quoted name of the table readers should use now."""
        state = self.tables(projection)
        assert state is not None
        return self.store.table(state.active)

    def _create_generation(self, projection: str, *, make_active: bool) -> str:
        with self.store.transaction(schema_lock=True) as cur:
            return self._create_generation_with(cur, projection, make_active=make_active)

    def _create_generation_with(self, cur: Cursor, projection: str, *, make_active: bool) -> str:
        model = READ_MODELS[projection]
        taken = self.tracking.keys(cur)
        generation = 1
        while f"{_versioned(projection)}_g{generation}" in taken:
            generation += 1
        name = f"{_versioned(projection)}_g{generation}"
        model.create(cur, self.store.table(name))
        self.tracking.track(cur, name)
        if make_active:
            self.tracking.register(cur, _versioned(projection), name)
        else:
            self.tracking.building(cur, _versioned(projection), name)
        return name

    def position(self, table_name: str) -> int:
        """The last ledger position applied to a table."""
        with self.store.transaction(write=False) as cur:
            return self.tracking.position(cur, table_name)

    def lag(self) -> dict[str, int]:
        """How many ledger positions each active read model is behind the log's head."""
        head = self.ledger.max_position()
        lags = {}
        for name in READ_MODELS:
            state = self.tables(name)
            assert state is not None
            lags[name] = max(0, head - self.position(state.active))
        return lags

    def caught_up_to(self) -> int:
        """The position every active read model has reached."""
        positions = []
        for name in READ_MODELS:
            state = self.tables(name)
            assert state is not None
            positions.append(self.position(state.active))
        return min(positions)

    # -- batches ------------------------------------------------------------------------------

    def _notifications(self, after: int, limit: int) -> list[Any]:
        # Unfiltered, so the tracked position passes over token events too and lag reads true.
        return next(read_pages(self.ledger.recorder, start=after, page_size=limit), [])

    def _outcomes(
        self,
        notifications: Sequence[Any],
        today: date,
        model: ReadModel | None = None,
        cache: OrderedDict[UUID, tuple[int, SubjectState]] | None = None,
    ) -> list[SubjectOutcome]:
        # One dictionary lookup per event: hashing a UUID is a Python-level call.
        batch_events: dict[UUID, list[Any]] = {}
        for n in notifications:
            if n.topic in SUBJECT_TOPICS:
                stream = batch_events.get(n.originator_id)
                if stream is None:
                    batch_events[n.originator_id] = [n]
                else:
                    stream.append(n)
        results = []
        for subject_id, stream in batch_events.items():
            positions = {n.originator_version: n.id for n in stream}
            cached = cache.pop(subject_id, None) if cache is not None else None
            start = None
            if cached is not None and cached[0] == min(positions) - 1:
                # The state after the previous batch continues with this batch's events.
                start, events = cached[1], self._decode(stream)
            elif min(positions) == 1:
                # The whole stream so far is in this batch: no need to read it again.
                events = self._decode(stream)
            else:
                events = list(self.ledger.events.get(subject_id, lte=max(positions)))
            results.append(
                outcome(
                    subject_id,
                    events,
                    positions,
                    today,
                    self.ledger.models,
                    with_changes=model is None or model.wants_changes,
                    with_supervision=model is None or model.wants_supervision,
                    start=start,
                )
            )
        return results

    def _decode(self, notifications: list[Any]) -> list[Any]:
        return [self.ledger.mapper.to_domain_event(n) for n in notifications]

    def _remember(
        self, table_name: str, outcomes: Sequence[SubjectOutcome], limit: int = STATE_CACHE
    ) -> None:
        cache = self._states.setdefault(table_name, OrderedDict())
        for done in outcomes:
            cache[done.subject_id] = (done.state_version, done.state)
        while len(cache) > limit:
            cache.popitem(last=False)

    def _apply(
        self,
        model: ReadModel,
        table_name: str,
        expected: int,
        batch_end: int,
        outcomes: Sequence[SubjectOutcome],
        tracking_key: str | None = None,
    ) -> None:
        # A table's position is tracked under its own name, a partition's under its key.
        key = tracking_key or table_name
        with self.store.transaction(lock_wait=self.lock_wait) as cur:
            if not self.tracking.advance(cur, key, expected, batch_end):
                raise ConcurrentRunner(key)
            model.write(cur, self.store.table(table_name), outcomes)

    def step(self, projection: str, table_name: str, batch: int = DEFAULT_BATCH) -> int:
        """Apply the next batch of events to one table; returns how many events it covered."""
        model = READ_MODELS[projection]
        for _ in range(10):
            start = self.position(table_name)
            notifications = self._notifications(start, batch)
            if not notifications:
                return 0
            cache = self._states.get(table_name)
            outcomes = self._outcomes(notifications, self.today(), model, cache)
            try:
                self._apply(model, table_name, start, notifications[-1].id, outcomes)
            except ConcurrentRunner:
                # States folded for a batch that was not applied must not continue anything.
                self._states.pop(table_name, None)
                continue
            except BaseException:
                self._states.pop(table_name, None)
                raise
            self._remember(table_name, outcomes)
            return len(notifications)
        return 0

    def run_once(self, batch: int = DEFAULT_BATCH) -> int:
        """Catch every active read model up with the log; returns events applied.

        A read model that fails does not hold the others back: each is tried, each failure
        recorded (`failures`, the failure counter, the stored row `serve` reads), and then
        `ProjectionFailed` names them all. A later success clears a read model's record.
        """
        applied = 0
        errors: dict[str, Exception] = {}
        for name in READ_MODELS:
            try:
                state = self.tables(name)
                assert state is not None
                while done := self.step(name, state.active, batch):
                    applied += done
            except Exception as exc:
                errors[name] = exc
        if "current_grades" not in errors and "supervision" not in errors:
            # Lapsed grades are rewritten in both tables; counted as the current grades' work.
            try:
                applied += self.refresh()
            except Exception as exc:
                errors["current_grades"] = exc
        for name in READ_MODELS:
            if name not in errors:
                self._succeeded(name)
        if errors:
            failed = {name: self._failed(name, exc) for name, exc in errors.items()}
            raise ProjectionFailed(failed) from next(iter(errors.values()))
        return applied

    def _failed(self, projection: str, exc: Exception) -> ProjectionFailure:
        now = datetime.now(UTC)
        error = type(exc).__name__
        # Escaped like stored text, so that any answer or log line can carry it.
        message = escape_text(" ".join(str(exc).split())[:MESSAGE_CHARS])
        previous = self.failures.get(projection)
        failure = (
            previous.again(error, message, now)
            if previous is not None
            else ProjectionFailure(projection, error, message, since=now, last_at=now)
        )
        self.failures[projection] = failure
        FAILURES.labels(projection).inc()
        self._clear_stored.add(projection)
        log.warning(
            "projection failed",
            extra={
                "fields": {
                    "projection": projection,
                    "error": error,
                    "detail": message,  # ("message" is the log line's own)
                    "since": failure.since.isoformat(),
                    "failures": failure.failures,
                }
            },
        )
        # The traceback, for a bug in a fold, once per run of failures (debug: operators see
        # the warning above; a traceback in a worker's output reads as a crash).
        if previous is None:
            log.debug("projection failure traceback", exc_info=exc)
        try:
            with self.store.transaction() as cur:
                self.tracking.failed(cur, projection, error, message, now.isoformat())
        except Exception as stored:
            # The store may be what fails; this process's own record stands meanwhile.
            log.debug("projection failure not stored: %s", type(stored).__name__)
        return failure

    def _succeeded(self, projection: str) -> None:
        self.failures.pop(projection, None)
        if projection not in self._clear_stored:
            return
        try:
            with self.store.transaction() as cur:
                self.tracking.succeeded(cur, projection)
        except Exception as exc:
            log.debug("projection failure not cleared: %s", type(exc).__name__)
            return
        self._clear_stored.discard(projection)

    def stored_failures(self) -> list[ProjectionFailure]:
        """The read models some projector (this process's or another's) failed on last."""
        with self.store.transaction(write=False) as cur:
            rows = self.tracking.failures(cur)
        return [
            ProjectionFailure(
                projection=r["projection"],
                error=r["error"],
                message=unescape_text(r["message"]),  # as `_failed` made it (stored escaped)
                since=datetime.fromisoformat(r["since"]),
                last_at=datetime.fromisoformat(r["last_at"]),
                failures=int(r["failures"]),
            )
            for r in rows
        ]

    def refresh(self) -> int:
        """Re-grade subjects whose grade today may have lapsed (a fact stopped counting).

        No event marks such a change, so it is found by date: rows whose `valid_until` has come.
        A row is rewritten only if no batch moved it on meanwhile (its last position unchanged).
        """
        grades, tiers = self.tables("current_grades"), self.tables("supervision")
        assert grades is not None
        assert tiers is not None
        today = self.today()
        grades_table = self.store.table(grades.active)
        with self.store.transaction(write=False) as cur:
            stale = tables.lapsed(cur, grades_table, today.isoformat())
        outcomes = []
        for row in stale:
            subject_id = UUID(row["subject_id"])
            events = list(self.ledger.events.get(subject_id))
            done = outcome(subject_id, events, {}, today, self.ledger.models)
            outcomes.append(replace(done, last_position=int(row["last_position"])))
        if not outcomes:
            return 0
        refreshed = []
        with self.store.transaction(lock_wait=self.lock_wait) as cur:
            for done in outcomes:
                if tables.delete_unchanged(cur, grades_table, done.state.uscc, done.last_position):
                    refreshed.append(done)
            READ_MODELS["current_grades"].write(cur, grades_table, refreshed)
            READ_MODELS["supervision"].write(cur, self.store.table(tiers.active), refreshed)
        return len(refreshed)

    # -- rebuild ------------------------------------------------------------------------------

    def rebuild(
        self,
        projection: str,
        *,
        batch: int = 5000,
        progress: Callable[[int, int], None] | None = None,
    ) -> str:
        """Rebuild a read model from position 0 into a new table, then switch readers to it.

        Resumable: an interrupted rebuild continues from its own tracked position.
        """
        building, head = self.begin_rebuild(projection)
        while self.step(projection, building, batch):
            if progress is not None:
                progress(self.position(building), head)
        self._switch(projection, building)
        if progress is not None:
            progress(self.position(building), head)
        return building

    def begin_rebuild(self, projection: str) -> tuple[str, int]:
        """The new generation of a read model being rebuilt (created if none), and the head now."""
        state = self.tables(projection)
        assert state is not None
        building = state.building or self._create_generation(projection, make_active=False)
        return building, self.ledger.max_position()

    def rebuild_partition(
        self,
        projection: str,
        building: str,
        part: int,
        parts: int,
        until: int,
        *,
        batch: int = 5000,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Fill a generation with the subjects of one partition, up to position `until`.

        Subjects are independent, so `parts` processes can each rebuild one partition of the
        same generation at once; each tracks its own position (resumable), and
        `finish_partitioned_rebuild` switches the table in once every partition got to `until`.
        """
        key = partition_key(building, part, parts)
        model = READ_MODELS[projection]
        with self.store.transaction() as cur:
            # A partition starts where the generation stands (0, or an earlier rebuild's end).
            self.tracking.track_from(cur, key, building)
        while (start := self.position(key)) < until:
            # A window of positions holding about `batch` events of this partition.
            end = min(until, start + batch * parts)
            notifications = self.store.partition_notifications(start, end, part, parts)
            cache = self._states.get(key)
            outcomes = self._outcomes(notifications, self.today(), model, cache)
            try:
                self._apply(model, building, start, end, outcomes, tracking_key=key)
            except BaseException:
                self._states.pop(key, None)
                raise
            # The workers of one rebuild share the memory one runner would use.
            self._remember(key, outcomes, limit=max(1000, STATE_CACHE // parts))
            if progress is not None:
                progress(end)

    def finish_partitioned_rebuild(
        self, projection: str, building: str, parts: int, until: int
    ) -> None:
        """Switch in a generation every partition of which has reached `until`."""
        keys = [partition_key(building, part, parts) for part in range(parts)]
        behind = [key for key in keys if self.position(key) < until]
        if behind:
            raise RuntimeError(f"partitions not finished: {', '.join(behind)}")
        with self.store.transaction() as cur:
            self.tracking.set_position(cur, building, until)
        self._switch(projection, building)

    def _switch(self, projection: str, building: str) -> None:
        state = self.tables(projection)
        assert state is not None
        with self.store.transaction() as cur:
            self.tracking.switch(cur, _versioned(projection), building)
        # The switched-in table may be a batch behind the head; the runner carries it on.
        self._drop(state.active)

    def _drop(self, table_name: str) -> None:
        with self.store.transaction() as cur:
            self.tracking.drop(cur, self.store.table(table_name), table_name)

    def rows_of_subjects(self, projection: str, subject_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The active rows of a read model for these subjects, in key order."""
        if not subject_ids:
            return []
        model = READ_MODELS[projection]
        table = self.active_table(projection)
        with self.store.transaction(write=False) as cur:
            return tables.rows_of_subjects(cur, table, model.key(), subject_ids)

    def feed_after(self, after: int, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` rows of the active feed after a ledger position, oldest first."""
        table = self.active_table("feed")
        with self.store.transaction(write=False) as cur:
            return tables.page_after(cur, table, after, limit)

    def worklist(
        self,
        field: str,
        *,
        tier: str | None = None,
        grade: str | None = None,
        after: str | None = None,
        limit: int,
    ) -> tuple[dict[str, int], list[dict[str, Any]]]:
        """A field's count of subjects per tier, and a page of its supervision rows in
        credit-code order (of a tier and grade, after a code), read together."""
        table = self.active_table("supervision")
        with self.store.transaction(write=False) as cur:
            counts = tables.tier_counts(cur, table, field)
            rows = tables.worklist_rows(
                cur, table, field, tier=tier, grade=grade, after=after, limit=limit
            )
        return counts, rows

    def rows(self, projection: str, table_name: str | None = None) -> list[dict[str, Any]]:
        """Every row of a read model's table, in key order (for comparisons and checks)."""
        model = READ_MODELS[projection]
        name = table_name or self.tables(projection).active  # type: ignore[union-attr]
        with self.store.transaction(write=False) as cur:
            return tables.every_row(cur, self.store.table(name), model.key())


def partition_key(building: str, part: int, parts: int) -> str:
    """The tracking key of one partition of a generation being rebuilt."""
    return f"{building}#{part}/{parts}"


def partition_of(subject_id: UUID, parts: int) -> int:
    """Which of `parts` partitions a subject belongs to (its id's last byte, modulo parts)."""
    return (subject_id.int & 0xFF) % parts


def _versioned(projection: str) -> str:
    # A new table shape is a new version: its tables start empty and fill from position 0,
    # while tables of older versions are left alone (and unused).
    return f"{projection}_v{READ_MODELS[projection].version}"


class BackgroundProjector:
    """Runs a projector in a daemon thread of the service (the embedded default).

    A failing run is retried after a bounded exponential backoff (`Backoff`, from
    `poll_seconds` up to `longest_backoff`); readiness reports the projector's `failures`.
    """

    def __init__(
        self, projector: Projector, poll_seconds: float = 0.5, longest_backoff: float = 30.0
    ) -> None:
        self.projector = projector
        self.poll_seconds = poll_seconds
        self.backoff = Backoff(poll_seconds, longest_backoff)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="projector", daemon=True)
        self.last_error: str | None = None

    @property
    def failures(self) -> dict[str, ProjectionFailure]:
        """The read models failing now, by name."""
        return dict(self.projector.failures)

    def start(self) -> None:
        """Begin catching up in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current batch."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.projector.run_once()
            except Exception as exc:  # keep serving; readiness reports the failure
                self.last_error = f"{type(exc).__name__}: {exc}"
                wait = self.backoff.failed()
            else:
                self.last_error = None
                self.backoff.succeeded()
                wait = self.poll_seconds
            self._stop.wait(wait)
