"""The `Subject` aggregate: one stream per credit subject, a thin shell that applies decisions.

Every rule of a write lives in the deciders (`ledger.domain.deciders`), which say what events a
command adds; the aggregate only appends them, so a stream's state has one meaning (each event's
`fold`, `ledger.domain.events`). `Locator` finds the subject of an objection or repair by its id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain import events
from ledger.domain.state import SubjectState
from ledger.domain.values import locator_id_for, subject_id_for

if TYPE_CHECKING:
    from ledger.domain.deciders.base import Decision

__all__ = ["SUBJECT_EVENT_TOPICS", "Locator", "Subject"]


class Subject(Aggregate):
    """A credit subject's stream: the events its decisions add, folded into `state`."""

    TOPIC = "credit.subject.v1"

    # The stream's events keep their old names on the aggregate (`Subject.FactRecorded`, …).
    Event = events.SubjectEvent
    Registered = events.Registered
    FactRecorded = events.FactRecorded
    FactEnded = events.FactEnded
    FactRevoked = events.FactRevoked
    FactCorrected = events.FactCorrected
    Listed = events.Listed
    Delisted = events.Delisted
    ObjectionFiled = events.ObjectionFiled
    ObjectionResolved = events.ObjectionResolved
    RepairRequested = events.RepairRequested
    RepairDecided = events.RepairDecided
    RepairRevoked = events.RepairRevoked
    JoinedField = events.JoinedField
    LeftField = events.LeftField
    InspectionResultRecorded = events.InspectionResultRecorded
    IndustryEvaluationRecorded = events.IndustryEvaluationRecorded
    IdentityErased = events.IdentityErased
    Received = events.Received

    @staticmethod
    def create_id(uscc: str) -> UUID:
        """Subject stream ids are derived from the credit code."""
        return subject_id_for(uscc)

    def __init__(self) -> None:
        # The registration event's fold fills the state (see Registered.fold), as in replay.
        self.state = SubjectState()

    @classmethod
    def start(cls, decision: Decision) -> Subject:
        """Start a stream with a decision whose first event registers the subject."""
        first, *rest = decision.changes
        subject = cls._create(first.event, **first.payload)  # type: ignore[arg-type]
        for change in rest:
            subject.trigger_event(change.event, **change.payload)
        return subject

    def apply(self, decision: Decision) -> None:
        """Append a decision's events to the stream, in order."""
        for change in decision.changes:
            self.trigger_event(change.event, **change.payload)


class Locator(Aggregate):
    """Finds the subject of an objection or repair from its id alone (saved with the subject)."""

    TOPIC = "credit.locator.v1"

    class Event(Aggregate.Event):
        """Base of locator events."""

        TOPIC = "credit.locator_event.v1"

    class Created(Aggregate.Created, Event):
        """The item `item_id` of `kind` lives on subject stream `subject_id`."""

        TOPIC = "credit.locator_created.v1"
        kind: str
        item_id: UUID
        subject_id: UUID

    @staticmethod
    def create_id(kind: str, item_id: UUID) -> UUID:
        """Locator ids are derived from the item, so the item id alone finds it."""
        return locator_id_for(kind, item_id)

    def __init__(self, kind: str, item_id: UUID, subject_id: UUID) -> None:
        self.kind = kind
        self.item_id = item_id
        self.subject_id = subject_id


#: Topics of every event stored on subject streams (what read models follow in the log).
SUBJECT_EVENT_TOPICS: tuple[str, ...] = tuple(
    sorted(
        cls.TOPIC
        for cls in vars(Subject).values()
        if isinstance(cls, type) and issubclass(cls, Subject.Event) and cls is not Subject.Event
    )
)
