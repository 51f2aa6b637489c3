"""The ledger's reads: a subject's state, history and evaluation, listings from the log."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from ledger.domain.dates import known_by_now, require_date
from ledger.domain.errors import InvalidInput, NotFound
from ledger.domain.fold import fold, step
from ledger.domain.rules.grade import Evaluation, evaluate_history
from ledger.domain.rules.supervision import Supervision, supervise
from ledger.domain.state import ObjectionState, RepairState, SubjectState
from ledger.domain.subject import SUBJECT_EVENT_TOPICS, Subject
from ledger.domain.values import china_date, normalize_uscc, subject_id_for
from ledger.store.log import read_log
from ledger.store.stores import read_streams

if TYPE_CHECKING:
    from ledger.service.parts import LedgerParts
else:
    LedgerParts = object


#: The most subjects one batch read evaluates (a department's list of bidders).
MAX_BATCH = 1000


@dataclass(frozen=True)
class BatchEvaluation:
    """Many subjects evaluated at one valid date D as known at one record time K.

    `results` holds, per distinct credit code in the order asked, its evaluation or why there
    is none (no such subject, or none known at K): an unknown code is an answer, not a failure.
    """

    as_of: date
    known_at: datetime
    results: dict[str, Evaluation | NotFound]


def require_batch_size(count: int) -> None:
    """Refuse a batch of no credit codes, or of more than one request may ask for."""
    if not 1 <= count <= MAX_BATCH:
        raise InvalidInput(
            f"a batch asks for 1 to {MAX_BATCH:,} credit codes; got {count:,}",
            field="uscc",
            rule=f"1 to {MAX_BATCH} credit codes per batch",
        )


def _unknown(code: str) -> NotFound:
    return NotFound(f"no subject with credit code {code}", field="uscc")


class Queries(LedgerParts):
    """Reads of the ledger: folded states, histories, evaluations and listings."""

    def today(self) -> date:
        """Today's date in China Standard Time, by the ledger's clock."""
        return china_date(self.clock())

    def subject(self, uscc: str) -> SubjectState:
        """The subject's current state, folded from its whole stream."""
        return fold(self.history(uscc))  # type: ignore[arg-type]

    def _scan(self, topics: Sequence[str]) -> Iterator[Any]:
        for notification in read_log(self.recorder, topics=topics, page_size=5000):
            yield self.mapper.to_domain_event(notification)

    def uscc_of(self, subject_id: UUID) -> str:
        """The credit code of a subject stream (from its registration event)."""
        first = next(iter(self.events.get(subject_id, lte=1)), None)
        if first is None:
            raise NotFound(f"no subject stream {subject_id}", field="subject_id")
        return str(first.uscc)  # type: ignore[attr-defined]

    def subject_registrations(self) -> Iterator[Any]:
        """Every subject's registration event, in ledger order (the population of the ledger)."""
        return self._scan([Subject.Registered.TOPIC])

    def _partial_states(self, topics: Sequence[str]) -> dict[UUID, SubjectState]:
        """Per-subject states folded from only the events with these topics (for listings)."""
        states: dict[Any, SubjectState] = {}
        for event in self._scan(topics):
            step(states.setdefault(event.originator_id, SubjectState()), event)
        return states

    def objections(self) -> list[tuple[UUID, ObjectionState]]:
        """Every objection with its subject's stream id (see `uscc_of`)."""
        topics = [Subject.ObjectionFiled.TOPIC, Subject.ObjectionResolved.TOPIC]
        return [
            (sid, objection)
            for sid, state in self._partial_states(topics).items()
            for objection in state.objections.values()
        ]

    def repairs(self) -> list[tuple[UUID, RepairState]]:
        """Every repair request with its subject's stream id (see `uscc_of`)."""
        topics = [
            Subject.RepairRequested.TOPIC,
            Subject.RepairDecided.TOPIC,
            Subject.RepairRevoked.TOPIC,
        ]
        return [
            (sid, repair)
            for sid, state in self._partial_states(topics).items()
            for repair in state.repairs.values()
        ]

    def history(self, uscc: str) -> list[DomainEventProtocol[UUID]]:
        """Every stored event of a subject in stream order (no aggregate replay on this path)."""
        code = normalize_uscc(uscc)
        events = list(self.events.get(subject_id_for(code)))
        if not events:
            raise _unknown(code)
        return events

    def _valid_and_known(
        self, as_of: date | None, known_at: datetime | None
    ) -> tuple[date, datetime]:
        """A read's valid date D (default: today, CST) and record time K (default: now; never
        after it), both by the ledger's clock read once."""
        now = self.clock()
        k = known_by_now(known_at, "known_at", now=now) if known_at is not None else now
        d = require_date(as_of, "as_of") if as_of is not None else china_date(now)
        return d, k

    def evaluate(
        self, uscc: str, *, as_of: date | None = None, known_at: datetime | None = None
    ) -> Evaluation:
        """The explained evaluation at valid date D (default: today, CST) as known at K (now)."""
        d, k = self._valid_and_known(as_of, known_at)
        events = self.history(uscc)
        return evaluate_history(events, d, k, self.models_at(k))  # type: ignore[arg-type]

    def evaluate_many(
        self,
        codes: Sequence[str],
        *,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> BatchEvaluation:
        """The explained evaluations of many subjects at one D as known at one K (as `evaluate`).

        Each subject's stream is read once, many streams to a query (one round trip per
        `STREAMS_PER_QUERY` subjects, not one per subject), folded by the one fold and graded
        by the same rules as the single read. A code asked twice is evaluated once.
        """
        require_batch_size(len(codes))
        d, k = self._valid_and_known(as_of, known_at)
        wanted = {code: subject_id_for(code) for code in map(normalize_uscc, codes)}
        streams = read_streams(self, list(wanted.values()))  # type: ignore[arg-type]
        results: dict[str, Evaluation | NotFound] = {}
        models = self.models_at(k)
        for code, subject_id in wanted.items():
            events = streams.get(subject_id)
            if not events:
                results[code] = _unknown(code)
                continue
            try:
                results[code] = evaluate_history(events, d, k, models)
            except NotFound as unknown_then:  # registered after K
                results[code] = unknown_then
        return BatchEvaluation(d, k, results)

    def supervision(
        self,
        uscc: str,
        *,
        field: str,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> Supervision:
        """A subject's supervision tier in a field at D as known at K (DOMAIN §6)."""
        self._field(field, "field")
        d, k = self._valid_and_known(as_of, known_at)
        state = fold(self.history(uscc), k)  # type: ignore[arg-type]
        if not state.registered:
            raise NotFound(f"subject not known at {k.isoformat()}", field="known_at")
        return supervise(state, field, d, k, self.models_at(k), self.policies_at(k))

    def states_at(self, position: int) -> dict[Any, SubjectState]:
        """Every subject's state from the events at or before a ledger position."""
        states: dict[Any, SubjectState] = {}
        notifications = read_log(
            self.recorder, topics=SUBJECT_EVENT_TOPICS, stop=position, page_size=1000
        )
        for notification in notifications:
            event = self.mapper.to_domain_event(notification)
            state = states.setdefault(notification.originator_id, SubjectState())
            step(state, event)  # type: ignore[arg-type]
        return states
