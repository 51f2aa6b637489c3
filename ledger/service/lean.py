"""The bulk import's batch: commands decided on folded states held in memory, no aggregates.

Inside `UnitOfWork.lean(batch)` every command still goes through its handler and decider, as
one command alone does; only what a decision is applied to differs. Instead of a `Subject`
aggregate (its event checks, its pending list, a save through the application), the batch holds
each subject's folded state and stream version, builds each decided event as the aggregate
would build it (the same class, the same values, the next version), folds it with the one fold
(`ledger.domain.fold.step`), and at the end encodes every event once and hands the rows to the
chained recorder's `append_on`, on a transaction the caller may add its own writes to.

The events are stored in the order the command path stores a batch (subjects in the order the
batch first touched them, each with its events, then the locators), so the two paths store the
same log. A stream another writer appended to after the batch read it makes the insert fail
(`RecordConflictError`) and nothing of the batch is stored: the caller starts the batch again.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.domain.deciders import Decision
from ledger.domain.deciders.base import Change
from ledger.domain.events import SubjectEvent
from ledger.domain.fold import step
from ledger.domain.state import SubjectState
from ledger.domain.subject import Locator, Subject
from ledger.domain.values import subject_id_for
from ledger.store.stores import read_streams

if TYPE_CHECKING:
    from ledger.service.application import CreditLedger
    from ledger.service.unit_of_work import Decide

#: The stored topics of the aggregates a stream's first event names.
SUBJECT_TOPIC = get_topic(Subject)
LOCATOR_TOPIC = get_topic(Locator)


@dataclass
class Held:
    """One subject as the batch knows it: its folded state, its version, its new events."""

    state: SubjectState
    version: int = 0
    new: list[SubjectEvent] = field(default_factory=list)


class LeanBatch:
    """The subjects one batch of commands touches, and the events decided on them."""

    def __init__(self, ledger: CreditLedger) -> None:
        self._ledger = ledger
        #: Subjects in the order the batch first touched them (the command path's save order).
        self.touched: dict[UUID, Held] = {}
        #: Subjects folded from the store but not touched yet.
        self._stored: dict[UUID, Held] = {}
        #: Subjects known to have no stream.
        self._absent: set[UUID] = set()
        self.locators: dict[tuple[str, UUID], str] = {}
        self._locator_events: list[Any] = []

    def load(self, subject_ids: Collection[UUID]) -> None:
        """Fold the stored streams of these subjects, many to a query; the others have none."""
        wanted = [i for i in subject_ids if i not in self._stored and i not in self.touched]
        if not wanted:
            return
        streams = read_streams(self._ledger, wanted)
        for subject_id in wanted:
            events = streams.get(subject_id)
            if not events:
                self._absent.add(subject_id)
                continue
            state = SubjectState()
            for event in events:
                step(state, event)
            self._stored[subject_id] = Held(state, events[-1].originator_version)

    def _subject(self, subject_id: UUID | None) -> Held | None:
        """The subject as this batch holds it (None: no stream, or no credit code to have one)."""
        if subject_id is None:
            return None
        held = self.touched.get(subject_id)
        if held is None:
            if subject_id not in self._stored and subject_id not in self._absent:
                self.load([subject_id])  # a subject no line of the batch names (a decision)
            held = self._stored.pop(subject_id, None)
            if held is not None:
                self.touched[subject_id] = held
        return held

    def change(self, uscc: str | None, decide: Decide, after_last: bool) -> Decision:
        """Decide on the subject's state in this batch and apply what was decided in memory."""
        subject_id = None if uscc is None else subject_id_for(uscc)
        held = self._subject(subject_id)
        state = SubjectState() if held is None else held.state
        now = self._ledger._now(state.last_recorded_at if after_last else None)
        # A decision is whole or refused, so a refusal leaves the batch's subjects untouched.
        decision = decide(state, now)
        if not decision.created:
            return decision
        if held is None:
            # The first event registers the subject; its stream is named by the code it gives.
            subject_id = Subject.create_id(decision.changes[0].payload["uscc"])
            held = self.touched[subject_id] = Held(SubjectState())
        assert subject_id is not None
        for change in decision.changes:
            held.version += 1
            event = _event(subject_id, held.version, change)
            step(held.state, event)
            held.new.append(event)
        if decision.locate is not None:
            # The locator's stream is its one `Created` event, as `Locator(...)` would make it.
            created: Any = Locator.Created  # its fields are the library's dataclass fields
            self._locator_events.append(
                created(
                    originator_topic=LOCATOR_TOPIC,
                    originator_id=Locator.create_id(decision.locate, decision.id),
                    originator_version=Locator.INITIAL_VERSION,
                    timestamp=Locator.Created.create_timestamp(),
                    kind=decision.locate,
                    item_id=decision.id,
                    subject_id=subject_id,
                )
            )
            self.locators[(decision.locate, decision.id)] = str(held.state.uscc)
        return decision

    def stored_events(self) -> list[StoredEvent]:
        """Every new event of the batch, each encoded once, in the command path's order."""
        to_stored = self._ledger.mapper.to_stored_event
        rows = [to_stored(e) for held in self.touched.values() for e in held.new]
        rows += [to_stored(e) for e in self._locator_events]
        return rows

    def write(self, then: Callable[[Any], None] | None = None) -> list[int]:
        """Store the batch's events, and what `then` writes on the same cursor, in one
        transaction; the events' ledger positions (RecordConflictError: nothing stored)."""
        rows = self.stored_events()
        recorder: Any = self._ledger.recorder
        with recorder.datastore.transaction(commit=True) as cursor:
            positions: list[int] = recorder.append_on(cursor, rows)
            if then is not None:
                then(cursor)
        for listener in self._ledger.save_listeners:
            listener(len(rows))
        return positions


def _event(subject_id: UUID, version: int, change: Change) -> SubjectEvent:
    """The event the aggregate would trigger for a change at this version (its first event is
    the stream's `Created`, naming the aggregate's topic), with the same values."""
    values = dict(change.payload)
    values["originator_id"] = subject_id
    values["originator_version"] = version
    if version == Subject.INITIAL_VERSION:
        values["originator_topic"] = SUBJECT_TOPIC
    if values.get("timestamp") is None:
        values["timestamp"] = change.event.create_timestamp()
    return change.event(**values)
