"""Per-subject outcomes of a batch of events: the grade after each event and the grade today.

Both read models (current grades, change feed) are functions of these outcomes, which come from
the ledger's one evaluation (`rules.grade`), so read models never disagree with the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from ledger.domain.fold import step
from ledger.domain.model import ModelRegistry
from ledger.domain.rulebook import Rulebook
from ledger.domain.rules.grade import Evaluation, evaluate, next_change_on, result_changed
from ledger.domain.rules.supervision import (
    PolicyRegistry,
    Supervision,
    default_policies,
    in_field,
    supervise,
)
from ledger.domain.state import SubjectState
from ledger.domain.subject import Subject
from ledger.domain.values import china_date


@dataclass(frozen=True)
class GradeChange:
    """A change of a subject's grade caused by one event, as of the event's record date."""

    position: int
    subject_id: UUID
    uscc: str
    kind: str  # "grade", "industry" or "inspection"
    field: str | None
    detail: str | None
    topic: str
    recorded_at: str
    as_of: date
    evaluation: Evaluation
    previous: Evaluation | None
    valid_until: date | None


@dataclass(frozen=True)
class SubjectOutcome:
    """Where a subject stands after a batch: its state, its grade today, the changes on the way."""

    subject_id: UUID
    state: SubjectState
    today: Evaluation
    valid_until: date | None
    last_position: int
    changes: tuple[GradeChange, ...]
    supervision: tuple[Supervision, ...]
    state_version: int = 0


def outcome(
    subject_id: UUID,
    events: Sequence[Any],
    positions: dict[int, int],
    today: date,
    models: ModelRegistry | Rulebook,
    policies: PolicyRegistry | None = None,
    *,
    with_changes: bool = True,
    with_supervision: bool = True,
    start: SubjectState | None = None,
) -> SubjectOutcome:
    """Fold a subject's events (its whole stream up to the batch's end) and grade it.

    `positions` maps the versions that belong to the batch to their ledger positions; only
    those produce feed entries. The evaluation before and after each such event is taken at
    the event's record date (China time), so the feed is a pure function of the log.

    Given the `Rulebook`, each event is graded with the versions known at its record time and
    today's grade with every version known; given one registry, everything is graded with it.
    """

    def known_at(k: datetime | None) -> ModelRegistry:
        return models.models_at(k) if isinstance(models, Rulebook) else models

    if policies is None:
        policies = models.policies_at() if isinstance(models, Rulebook) else default_policies()
    # `start` is the state folded from the versions before `events` (the runner's cache).
    state = start if start is not None else SubjectState()
    changes: list[GradeChange] = []
    # The evaluation after the previous event, at its date, and the first date it may change
    # without an event (`next_change_on`, the rule current grades are kept by): the state
    # before the next event is that same state, so up to that date it is also the next
    # event's `before` in every respect the feed keeps (score, grade, listing) — half the
    # evaluations of a rebuild.
    last: tuple[date, Evaluation, date | None, ModelRegistry] | None = None
    for event in events:
        position = positions.get(event.originator_version) if with_changes else None
        if position is None:
            step(state, event)
            last = None
            continue
        as_of = china_date(event.timestamp)
        then = known_at(event.timestamp)
        # The previous `after` stands for this `before` only under the same versions: a
        # version published between the two events may grade the same state differently.
        if last is not None and last[3] is then and (last[2] is None or as_of < last[2]):
            before: Evaluation | None = last[1]
        else:
            before = evaluate(state, as_of, event.timestamp, then) if state.registered else None
        step(state, event)
        after = evaluate(state, as_of, event.timestamp, then)
        valid_until = next_change_on(after, then)
        last = (as_of, after, valid_until, then)
        kind, field, detail = _published(event, state, then)
        if kind is None and result_changed(before, after):
            kind = "grade"
        if kind is not None:
            changes.append(
                GradeChange(
                    position=position,
                    subject_id=subject_id,
                    uscc=state.uscc,
                    kind=kind,
                    field=field,
                    detail=detail,
                    topic=type(event).TOPIC,
                    recorded_at=event.timestamp.isoformat(),
                    as_of=as_of,
                    evaluation=after,
                    previous=before,
                    valid_until=valid_until,
                )
            )
    assert state.last_recorded_at is not None
    latest = known_at(None)
    now = evaluate(state, today, state.last_recorded_at, latest)
    tiers = tuple(
        supervise(state, f, today, state.last_recorded_at, latest, policies, public=now)
        for f in sorted(state.fields)
        if with_supervision and in_field(state, f, today)
    )
    return SubjectOutcome(
        subject_id=subject_id,
        state=state,
        today=now,
        valid_until=next_change_on(now, latest),
        last_position=max(positions.values(), default=0),
        changes=tuple(changes),
        supervision=tiers,
        state_version=events[-1].originator_version if events else 0,
    )


def _published(
    event: Any, state: SubjectState, models: ModelRegistry
) -> tuple[str | None, str | None, str | None]:
    """Events the feed publishes whatever the public grade does: industry grades, inspections,
    and, where the repair policy says so (NDRC Order 36), the notice to stop using a repaired
    record (its field, and the fact's id)."""
    if isinstance(event, Subject.IndustryEvaluationRecorded):
        return "industry", event.domain, event.grade
    if isinstance(event, Subject.InspectionResultRecorded):
        return "inspection", event.field, event.outcome
    if isinstance(event, Subject.RepairDecided) and event.approved:
        repair = state.repairs.get(event.repair_id)
        if repair is not None and models.repairs.in_force(event.decided_on).stop_using_notice:
            fact = state.facts.get(repair.target_id)
            return "stop_using", fact.domain if fact else None, str(repair.target_id)
    return None, None, None
