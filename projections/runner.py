"""The projection runner: batched catch-up with the tracking position in the same transaction.

Each physical read-model table has its own tracked position. A batch is computed outside any
transaction, then written with a compare-and-set of that position: if another runner moved it
meanwhile, the batch is dropped and recomputed. So every event is applied exactly once, even
with several runners or after a crash between batches.

`rebuild_all` fills a new generation of every table from position 0 beside the live ones,
resumably, from one read of the log (`_pass`: each batch read, decoded and folded once for
all of them), and switches readers to each in one transaction when it has caught up.

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
from typing import Any, Protocol
from uuid import UUID

from ledger.domain.state import SubjectState
from ledger.domain.subject import SUBJECT_EVENT_TOPICS
from ledger.service.application import CreditLedger
from ledger.store.log import by_stream, read_pages
from ledger.store.log import partition_of as partition_of  # the rule, for the passes' callers
from ledger.store.stores import StatisticsKeeper
from projections.grades import SubjectOutcome, outcome
from projections.health import FAILURES, Backoff, ProjectionFailed, ProjectionFailure
from projections.models import READ_MODELS
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


@dataclass(frozen=True)
class Target:
    """A table a pass writes: its read model, the physical table, the key of its position."""

    projection: str
    table: str
    key: str


class YearFeed(Protocol):
    """What a pass feeds a year's computation (`projections.annual.YearPass`)."""

    position: int

    def take(self, subject_id: UUID, events: Sequence[Any]) -> None: ...


@dataclass
class Fed:
    """A year fed by a pass, and the log position it has been fed up to."""

    year: YearFeed
    at: int = 0
    broken: bool = False

    def feed(
        self, start: int, end: int, taken: Sequence[tuple[UUID, list[Any], dict[int, int]]]
    ) -> None:
        """Give the year a batch's events (those up to its position) if the batch continues
        where it stands; a batch that skips ahead leaves it incomplete (`complete`)."""
        if self.broken or start != self.at:
            self.broken = self.broken or start > self.at
            return
        limit = self.year.position
        if start < limit:
            for subject_id, events, positions in taken:
                kept = [e for e in events if positions[e.originator_version] <= limit]
                if kept:
                    self.year.take(subject_id, kept)
        self.at = end

    @property
    def complete(self) -> bool:
        """Whether the year has taken every event up to its position."""
        return not self.broken and self.at >= self.year.position


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
        # The folded states of recently projected subjects (bounded, so memory stays flat): a
        # subject's next batch continues from its state instead of re-reading its history.
        self._states: OrderedDict[UUID, tuple[int, SubjectState]] = OrderedDict()
        #: Renews the store's statistics as the log grows (see `StatisticsKeeper`).
        self.statistics = StatisticsKeeper(ledger)
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

    # -- batches ----------------------------------------------------------------------------

    def _positions(self, keys: Sequence[str]) -> dict[str, int]:
        with self.store.transaction(write=False) as cur:
            return {key: self.tracking.position(cur, key) for key in keys}

    def _pass(
        self,
        targets: Sequence[Target],
        *,
        batch: int,
        until: int | None = None,
        part: int = 0,
        parts: int = 1,
        cache_limit: int = STATE_CACHE,
        progress: Callable[[int], None] | None = None,
        once: bool = False,
        years: Sequence[Fed] = (),
    ) -> tuple[int, dict[str, Exception]]:
        """Feed every target from one read of the log (of one partition); returns the events
        read and the error of each target that failed.

        Each batch is read once, decoded once and folded once, and its outcomes are written
        to every target whose position is where the batch starts: each in its own
        transaction, with its tracked position, so a target that fails (its table gone, a
        lock wait) stops alone and the others go on. Targets that stand at different
        positions (a resumed rebuild) are brought level first: a batch never reads past the
        next position some target already holds. Without `until`, the pass follows the log
        to its head; with `once`, it stops after the first batch that was applied. `years`
        are fed each batch's decoded events too (the annual build in a full rebuild), as
        long as the batches come in order from where each stands.
        """
        errors: dict[str, Exception] = {}
        live = list(targets)
        read = 0
        while live:
            try:
                positions = self._positions([t.key for t in live])
                start = min(positions.values())
                if until is not None and start >= until:
                    break
                group = [t for t in live if positions[t.key] == start]
                bounds = [p for p in positions.values() if p > start]
                if until is not None:
                    bounds.append(until)
                stop = min(bounds, default=None)
                pages = read_pages(
                    self.ledger.recorder,
                    start=start,
                    stop=stop,
                    page_size=batch,
                    part=part,
                    parts=parts if until is not None else 1,
                )
                page = next(pages, None)
            except Exception as exc:  # the store away: every target still to go fails
                for target in live:
                    errors[target.projection] = exc
                break
            outcomes: list[SubjectOutcome] = []
            taken: list[tuple[UUID, list[Any], dict[int, int]]] = []
            if page is None:
                if stop is None:
                    break  # caught up with the log
                end = stop  # nothing of this partition up to there: only the positions move
            else:
                end = page[-1].id
                models = [READ_MODELS[t.projection] for t in group]
                try:
                    outcomes = self._outcomes(
                        page,
                        self.today(),
                        with_changes=any(m.wants_changes for m in models),
                        with_supervision=any(m.wants_supervision for m in models),
                        taken=taken if years else None,
                    )
                except Exception as exc:  # a fold or a read that fails fails the group
                    for target in group:
                        errors[target.projection] = exc
                        live.remove(target)
                    continue
            for fed in years:
                fed.feed(start, end, taken)
            applied = False
            for target in group:
                try:
                    self._apply(target, start, end, outcomes)
                except ConcurrentRunner:
                    continue  # another runner moved it; the next round reads its position
                except Exception as exc:
                    errors[target.projection] = exc
                    live.remove(target)
                    continue
                applied = True
            # Folds of the log, whatever was written: the next batch continues from them.
            self._remember(outcomes, cache_limit)
            if page is not None and applied:
                read += len(page)
            if progress is not None:
                progress(end)
            if once and applied:
                break
        return read, errors

    def _outcomes(
        self,
        notifications: Sequence[Any],
        today: date,
        *,
        with_changes: bool = True,
        with_supervision: bool = True,
        taken: list[tuple[UUID, list[Any], dict[int, int]]] | None = None,
    ) -> list[SubjectOutcome]:
        batch_events = by_stream(notifications, SUBJECT_TOPICS)
        cache = self._states
        results = []
        # One set of versions for the whole batch: each event graded with those known at its
        # record time, today's grades with every version known (DOMAIN §4).
        book = self.ledger.rulebook()
        for subject_id, stream in batch_events.items():
            positions = {n.originator_version: n.id for n in stream}
            cached = cache.pop(subject_id, None)
            start = None
            if cached is not None and cached[0] == min(positions) - 1:
                # The state after the previous batch continues with this batch's events.
                start, events = cached[1], self._decode(stream)
            elif min(positions) == 1:
                # The whole stream so far is in this batch: no need to read it again.
                events = self._decode(stream)
            else:
                events = list(self.ledger.events.get(subject_id, lte=max(positions)))
            if taken is not None:
                # The batch's own events, decoded once, for the years fed alongside.
                taken.append((subject_id, events[-len(stream) :], positions))
            results.append(
                outcome(
                    subject_id,
                    events,
                    positions,
                    today,
                    book,
                    with_changes=with_changes,
                    with_supervision=with_supervision,
                    start=start,
                )
            )
        return results

    def _decode(self, notifications: list[Any]) -> list[Any]:
        return [self.ledger.mapper.to_domain_event(n) for n in notifications]

    def _remember(self, outcomes: Sequence[SubjectOutcome], limit: int = STATE_CACHE) -> None:
        # One cache for every target: a state is a fold of the log, valid for any table, and
        # `_outcomes` continues one only from the version right before its batch's first.
        cache = self._states
        for done in outcomes:
            cache[done.subject_id] = (done.state_version, done.state)
        while len(cache) > limit:
            cache.popitem(last=False)

    def _apply(
        self, target: Target, expected: int, batch_end: int, outcomes: Sequence[SubjectOutcome]
    ) -> None:
        with self.store.transaction(lock_wait=self.lock_wait) as cur:
            if not self.tracking.advance(cur, target.key, expected, batch_end):
                raise ConcurrentRunner(target.key)
            if outcomes:
                READ_MODELS[target.projection].write(cur, self.store.table(target.table), outcomes)

    def step(self, projection: str, table_name: str, batch: int = DEFAULT_BATCH) -> int:
        """Apply the next batch of events to one table; returns how many events it covered."""
        read, errors = self._pass(
            [Target(projection, table_name, table_name)], batch=batch, once=True
        )
        if errors:
            raise errors[projection]
        return read

    def run_once(self, batch: int = DEFAULT_BATCH) -> int:
        """Catch every active read model up with the log; returns events applied.

        A read model that fails does not hold the others back: each is tried, each failure
        recorded (`failures`, the failure counter, the stored row `serve` reads), and then
        `ProjectionFailed` names them all. A later success clears a read model's record.
        """
        errors: dict[str, Exception] = {}
        targets = []
        for name in READ_MODELS:
            try:
                state = self.tables(name)
                assert state is not None
                targets.append(Target(name, state.active, state.active))
            except Exception as exc:
                errors[name] = exc
        # Read models at the same position share each batch's read, decoding and folds.
        applied, stopped = self._pass(targets, batch=batch)
        errors.update(stopped)
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
        if applied:
            try:
                # The live log grows too: the token check and the rulebook's refresh are
                # planned by the statistics, which a store with autovacuum off never renews.
                self.statistics.check()
            except Exception as exc:  # an optimisation only: the next batch checks again
                log.warning("the store's statistics were not refreshed: %s", exc)
        return applied

    def _failed(self, projection: str, exc: Exception) -> ProjectionFailure:
        previous = self.failures.get(projection)
        fresh = failure_of(projection, exc)
        now, error, message = fresh.since, fresh.error, fresh.message
        failure = previous.again(error, message, now) if previous is not None else fresh
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
            done = outcome(subject_id, events, {}, today, self.ledger.rulebook())
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
        """Rebuild one read model from position 0 into a new table, then switch readers to it.

        Resumable: an interrupted rebuild continues from its own tracked position.
        """
        return self.rebuild_all([projection], batch=batch, progress=progress)[projection]

    def rebuild_all(
        self,
        projections: Sequence[str] | None = None,
        *,
        years: Sequence[int] = (),
        batch: int = 5000,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, str]:
        """Rebuild read models (all by default) from one pass of the log, each into a new
        table, and switch readers to each table that caught up; returns the new tables.

        Resumable: each new table continues from its own tracked position. A read model that
        fails is left unswitched (readers keep its live table) and `ProjectionFailed` names
        it, once the others are switched in. `years` are materialised again (as known now,
        up to the head now) from the same pass when it starts from position 0, else each
        from its own pass through the same reader.
        """
        from projections.annual import AnnualResults, YearRows, YearStage

        buildings, head = self.begin_rebuilds(projections)
        targets = [Target(name, table, table) for name, table in buildings.items()]
        known_now = self.ledger.clock()
        fresh = all(p == 0 for p in self._positions([t.key for t in targets]).values())
        annual = AnnualResults(self.ledger)
        collected = (
            [
                YearRows(
                    self.ledger,
                    year,
                    known_now,
                    head,
                    YearStage(annual.tables, year, annual.tables.begin_year(year)),
                )
                for year in years
            ]
            if fresh
            else []
        )
        fed = [Fed(c.year_pass) for c in collected]

        def relay(position: int) -> None:
            if progress is not None:
                progress(position, max(head, position))

        try:
            _, errors = self._pass(targets, batch=batch, progress=relay, years=fed)
            for name, table in buildings.items():
                if name not in errors:
                    self._switch(name, table)
            for n, year in enumerate(years):
                if fed and fed[n].complete:
                    collected[n].close()
                    annual.finish(year, collected[n].stage.staging, known_now, head)
                else:
                    if collected:  # the year's own build takes the lock this pass's stage holds
                        annual.tables.drop_staging(collected[n].stage.staging)
                    annual.build(year)
        finally:
            for rows in collected:
                annual.tables.drop_staging(rows.stage.staging)  # what was not swapped in
        if errors:
            raise ProjectionFailed(
                {name: failure_of(name, exc) for name, exc in errors.items()}
            ) from next(iter(errors.values()))
        relay(self.position(next(iter(buildings.values()))) if buildings else head)
        return buildings

    def begin_rebuild(self, projection: str) -> tuple[str, int]:
        """The new generation of a read model being rebuilt (created if none), and the head now."""
        buildings, head = self.begin_rebuilds([projection])
        return buildings[projection], head

    def begin_rebuilds(
        self, projections: Sequence[str] | None = None
    ) -> tuple[dict[str, str], int]:
        """The new generation of each read model (all by default) being rebuilt, created where
        there is none, and the head now."""
        buildings = {}
        for name in projections or READ_MODELS:
            state = self.tables(name)
            assert state is not None
            buildings[name] = state.building or self._create_generation(name, make_active=False)
        return buildings, self.ledger.max_position()

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
        """Fill one generation with the subjects of one partition (see `rebuild_partitions`)."""
        errors, _ = self.rebuild_partitions(
            {projection: building}, part, parts, until, batch=batch, progress=progress
        )
        if errors:
            raise errors[projection]

    def rebuild_partitions(
        self,
        buildings: dict[str, str],
        part: int,
        parts: int,
        until: int,
        *,
        batch: int = 5000,
        progress: Callable[[int], None] | None = None,
        years: dict[int, str] | None = None,
        known_now: datetime | None = None,
    ) -> tuple[dict[str, Exception], list[int]]:
        """Fill generations (by read model) with the subjects of one partition, up to
        position `until`, from one read of that partition; returns the error of each read
        model that failed (the others are filled), and the years of `years` (year: its
        staging table, from `AnnualTables.begin_year`) whose rows of this partition (known at
        `known_now`, up to `until`) the same read staged (all when the partition starts
        from position 0).

        Subjects are independent, so `parts` processes can each rebuild one partition of the
        same generations at once; each tracks its own position per generation (resumable),
        and `finish_partitioned_rebuild` switches a table in once every partition got to
        `until`.
        """
        targets = [
            Target(name, table, partition_key(table, part, parts))
            for name, table in buildings.items()
        ]
        with self.store.transaction() as cur:
            for target in targets:
                # A partition starts where the generation stands (0, or an earlier rebuild's end).
                self.tracking.track_from(cur, target.key, target.table)
        from projections.annual import AnnualResults, YearRows, YearStage

        fresh = all(p == 0 for p in self._positions([t.key for t in targets]).values())
        now = known_now or self.ledger.clock()
        tables = AnnualResults(self.ledger).tables
        collected = {
            year: YearRows(self.ledger, year, now, until, YearStage(tables, year, staging))
            for year, staging in (years or {}).items()
        }
        fed = {year: Fed(c.year_pass) for year, c in collected.items()} if fresh else {}
        _, errors = self._pass(
            targets,
            batch=batch,
            until=until,
            part=part,
            parts=parts,
            # The workers of one rebuild share the memory one runner would use.
            cache_limit=max(1000, STATE_CACHE // parts),
            progress=progress,
            years=list(fed.values()),
        )
        staged = [year for year, f in fed.items() if f.complete]
        for year in staged:
            collected[year].close()
        return errors, staged

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


def failure_of(projection: str, exc: BaseException) -> ProjectionFailure:
    """A read model's failure now, from its error (the message escaped like stored text, so
    that any answer or log line can carry it)."""
    now = datetime.now(UTC)
    message = escape_text(" ".join(str(exc).split())[:MESSAGE_CHARS])
    return ProjectionFailure(projection, type(exc).__name__, message, since=now, last_at=now)


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
        # The last run's error as text (an exception would keep its batch alive through its
        # traceback) and whether it was read models' failures, set together for the readers.
        self._error: tuple[str, bool] | None = None

    @property
    def failures(self) -> dict[str, ProjectionFailure]:
        """The read models failing now, by name."""
        return dict(self.projector.failures)

    @property
    def last_error(self) -> str | None:
        """Why the last run failed, as it stands now, or None.

        Read models' failures are those the projector still records: a pass clears a read
        model's failure as it succeeds, before its run returns, and readiness must not answer
        ready beside an error that is already gone. Any other failure (the store away) stands
        until a run succeeds.
        """
        if self._error is None:
            return None
        error, read_models_failed = self._error
        if not read_models_failed:
            return error
        failing = self.failures
        return f"ProjectionFailed: {ProjectionFailed(failing)}" if failing else None

    def start(self) -> None:
        """Begin catching up in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current batch."""
        self._stop.set()
        self._thread.join(timeout=30)

    def attempt(self) -> float:
        """One run of the projector; returns the seconds to wait before the next."""
        try:
            self.projector.run_once()
        except Exception as exc:  # keep serving; readiness reports the failure
            self._error = (f"{type(exc).__name__}: {exc}", isinstance(exc, ProjectionFailed))
            return self.backoff.failed()
        self._error = None
        self.backoff.succeeded()
        return self.poll_seconds

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.attempt())
