"""Where decisions meet the store: load a subject, let a decider decide, append its events.

One command is one transaction, retried a bounded number of times when another writer appended
to the same stream first. A command starts from the subject as this process last stored it
(ledger.service.folded) and folds on only the events appended since, so its cost does not grow
with the stream's length; the store's version check still refuses a save on a stale state.
A batch decides many commands against in-memory subjects and stores every new event of the
batch in a single save when it ends; a lean batch (the bulk import, ledger.service.lean) does the
same on folded states, without aggregates.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from ledger.domain.deciders import Decision
from ledger.domain.errors import Conflict
from ledger.domain.state import SubjectState
from ledger.domain.subject import Locator, Subject
from ledger.domain.values import locator_id_for, subject_id_for
from ledger.service.folded import DEFAULT_CAPACITY, FoldedSubjects

if TYPE_CHECKING:
    from ledger.service.application import CreditLedger
    from ledger.service.lean import LeanBatch

#: How often a command is retried when another writer appended to the same stream first.
WRITE_ATTEMPTS = 20

#: A decider bound to its command: the decision on a subject's state at a record time.
Decide = Callable[[SubjectState, datetime], Decision]


@dataclass
class Batch:
    """What a batch holds until it is stored: aggregates, locators, and then what was written."""

    aggregates: dict[UUID, Any] = field(default_factory=dict)
    extras: list[Any] = field(default_factory=list)
    locators: dict[tuple[str, UUID], str] = field(default_factory=dict)
    missing: set[UUID] = field(default_factory=set)
    appended: int = 0
    position: int = 0


def _back_off(attempt: int) -> None:
    """Sleep a little, more on each attempt, jittered so colliding writers spread out."""
    time.sleep(random.uniform(0, 0.002 * (attempt + 1)))


def _folded_on(aggregate: Any, stored: Iterable[Any]) -> Any:
    """The aggregate (None: not yet started) with stored events applied in stream order."""
    for event in stored:
        aggregate = event.mutate(aggregate)
    return aggregate


class UnitOfWork:
    """The ledger's writes: a decision per command, its events saved in one transaction."""

    def __init__(self, ledger: CreditLedger, *, cached_subjects: int = DEFAULT_CAPACITY) -> None:
        self._ledger = ledger
        # A batch belongs to the thread that opened it: a served ledger's other requests
        # (another delivery, a single command) write on their own meanwhile.
        self._open = threading.local()
        self.folded = FoldedSubjects(cached_subjects)

    @property
    def _batch(self) -> Batch | None:
        return cast("Batch | None", getattr(self._open, "batch", None))

    @_batch.setter
    def _batch(self, batch: Batch | None) -> None:
        self._open.batch = batch

    @property
    def _lean(self) -> LeanBatch | None:
        return cast("LeanBatch | None", getattr(self._open, "lean", None))

    @_lean.setter
    def _lean(self, lean: LeanBatch | None) -> None:
        self._open.lean = lean

    @contextmanager
    def batch(self, missing: set[UUID] | None = None) -> Iterator[Batch]:
        """Run many commands against in-memory aggregates and store them all in one save.

        Commands are decided exactly as they would be one by one — the same rules, the same
        refusals — but nothing is written until the block ends, when every new event of the
        batch is appended in a single transaction. An exception discards the whole batch.
        `missing` names streams known to be empty, so the batch need not look them up one by one.
        """
        if self._batch is not None or self._lean is not None:
            raise RuntimeError("batches do not nest")
        self._batch = Batch(missing=missing or set())
        try:
            yield self._batch
            pending = [a for a in self._batch.aggregates.values() if a._pending_events]
            if pending or self._batch.extras:
                recordings = self._ledger.save(*pending, *self._batch.extras)
                self._batch.appended = len(recordings)
                self._batch.position = self._ledger._position(recordings) or 0
        finally:
            self._batch = None

    @contextmanager
    def lean(self, batch: LeanBatch) -> Iterator[LeanBatch]:
        """Decide commands on the lean batch's folded states (the bulk import); nothing is
        stored until the caller writes the batch (`LeanBatch.write`)."""
        if self._batch is not None or self._lean is not None:
            raise RuntimeError("batches do not nest")
        self._lean = batch
        try:
            yield batch
        finally:
            self._lean = None

    def subject(self, uscc: str | None) -> Subject | None:
        """The subject's aggregate (None: no stream, or no valid credit code to have one)."""
        if uscc is None:
            return None
        subject_id = subject_id_for(uscc)
        batch = self._batch
        if batch is None:
            try:
                return cast("Subject", self._ledger.repository.get(subject_id))
            except AggregateNotFoundError:
                return None
        found = batch.aggregates.get(subject_id)
        if found is None:
            found = self._stored(subject_id)
            if found is not None:
                batch.aggregates[subject_id] = found
        return cast("Subject | None", found)

    def _current(self, uscc: str | None) -> Subject | None:
        """The subject at the stream's current version, owned by the caller: the cached fold
        with the events stored since folded on, or (not cached) its whole stream folded."""
        if uscc is None:
            return None
        subject_id = subject_id_for(uscc)
        cached = self.folded.take(subject_id)
        if cached is None:
            return self.subject(uscc)
        # Each event checks it is the next version of the aggregate, as the repository does.
        return cast(
            "Subject", _folded_on(cached, self._ledger.events.get(subject_id, gt=cached.version))
        )

    def _stored(self, subject_id: UUID) -> Subject | None:
        """Rebuild a subject by folding its events directly (no per-event checks: the store
        guarantees the order), or None when it has no stream."""
        assert self._batch is not None
        if subject_id in self._batch.missing:
            return None
        return cast("Subject | None", _folded_on(None, self._ledger.events.get(subject_id)))

    def locate(self, kind: str, item_id: UUID) -> str | None:
        """The credit code of the subject an objection or repair belongs to (None if none)."""
        if self._batch is not None and (kind, item_id) in self._batch.locators:
            return self._batch.locators[(kind, item_id)]
        if self._lean is not None and (kind, item_id) in self._lean.locators:
            return self._lean.locators[(kind, item_id)]
        repository = self._ledger.repository
        try:
            locator: Locator = repository.get(locator_id_for(kind, item_id))
        except AggregateNotFoundError:
            return None
        # A subject's credit code never changes, so any version of it answers; folded whole, it
        # is kept for the write that follows.
        subject = self.folded.take(locator.subject_id)
        if subject is None:
            subject = cast("Subject", repository.get(locator.subject_id))
        self.folded.keep(subject)
        return subject.state.uscc

    def change(
        self, uscc: str | None, decide: Decide, *, after_last: bool = True
    ) -> tuple[Decision, int | None]:
        """Decide on the subject's current state and save what was decided, retrying when
        another writer appended first; the decision and the ledger position (None in a batch).

        Record time is the clock's, never before the stream's last event (`after_last`).
        """
        if self._lean is not None:
            return self._lean.change(uscc, decide, after_last), None
        if self._batch is not None:
            return self._change_in_batch(uscc, decide, after_last)
        ledger = self._ledger
        for attempt in range(WRITE_ATTEMPTS):
            subject = self._current(uscc)
            try:
                decision = decide(*self._state_and_time(subject, after_last))
            except BaseException:
                # Deciders only read the state: after a refusal it is still the stored one.
                self._give_back(subject)
                raise
            if not decision.created:
                self._give_back(subject)
                return decision, ledger.max_position()
            subject = self._applied(subject, decision)
            try:
                recordings = ledger.save(subject, *self._locators(subject, decision))
            except RecordConflictError:
                # Its pending events were never stored, so this aggregate is not given back.
                _back_off(attempt)
                continue
            self.folded.keep(subject)
            return decision, ledger._position(recordings)
        raise Conflict(
            f"subject {uscc} kept changing under {WRITE_ATTEMPTS} attempts; retry",
            field="uscc",
            rule="concurrent change",
        )

    def _change_in_batch(
        self, uscc: str | None, decide: Decide, after_last: bool
    ) -> tuple[Decision, int | None]:
        batch = self._batch
        assert batch is not None
        subject = self.subject(uscc)
        # A decision is whole or refused, so a refusal leaves the batch's subjects untouched.
        decision = decide(*self._state_and_time(subject, after_last))
        if decision.created:
            subject = self._applied(subject, decision)
            batch.aggregates[subject.id] = subject
            for locator in self._locators(subject, decision):
                batch.extras.append(locator)
                batch.locators[(locator.kind, locator.item_id)] = subject.state.uscc
        return decision, None

    def _state_and_time(
        self, subject: Subject | None, after_last: bool
    ) -> tuple[SubjectState, datetime]:
        state = SubjectState() if subject is None else subject.state
        return state, self._ledger._now(state.last_recorded_at if after_last else None)

    def _give_back(self, subject: Subject | None) -> None:
        if subject is not None:
            self.folded.keep(subject)

    @staticmethod
    def _applied(subject: Subject | None, decision: Decision) -> Subject:
        if subject is None:
            return Subject.start(decision)
        subject.apply(decision)
        return subject

    @staticmethod
    def _locators(subject: Subject, decision: Decision) -> list[Locator]:
        if decision.locate is None:
            return []
        return [Locator(kind=decision.locate, item_id=decision.id, subject_id=subject.id)]
