"""Subject events: every change to a credit subject's stream, each with its meaning (`fold`).

Topics are explicit and versioned; renaming a class must never break stored events, so a new
shape of an event gets a new topic (`…v2`) and the old class stays to read old streams.
Valid time lives in each payload (`decided_on`, `listed_on`, …); record time is the event's
`timestamp`, set by the application's clock, never by a client.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from ledger.domain.fold import step
from ledger.domain.persons import ERASED
from ledger.domain.state import (
    FactState,
    IndustryEvaluationState,
    InspectionResultState,
    ListingState,
    Membership,
    ObjectionState,
    RepairState,
    SubjectState,
    Suspension,
)
from ledger.domain.text import natural_key


class SubjectEvent(Aggregate.Event):
    """Base of subject events: who wrote it, for which department, from which document."""

    TOPIC = "credit.subject_event.v1"
    actor_id: str
    department: str | None
    source_document: str | None

    def apply(self, aggregate: Any) -> None:
        step(aggregate.state, self)

    def fold(self, state: SubjectState) -> None:
        """Apply this event to a folded state (the one place each event's meaning lives)."""
        raise NotImplementedError


class Registered(Aggregate.Created, SubjectEvent):
    """SubjectRegistered: the subject enters the ledger."""

    TOPIC = "credit.subject_registered.v1"
    uscc: str
    name: str
    kind: str
    fields: list[str]
    established_on: date | None

    def fold(self, state: SubjectState) -> None:
        state.uscc = self.uscc
        state.name = self.name
        state.kind = self.kind
        state.fields = list(self.fields)
        state.memberships = [Membership(f, None) for f in self.fields]
        state.established_on = self.established_on
        state.registered_at = self.timestamp
        state.last_recorded_at = self.timestamp


class FactRecorded(SubjectEvent):
    """CreditFactRecorded: one indicator occurrence, counting from `decided_on`."""

    TOPIC = "credit.fact_recorded.v1"
    fact_id: UUID
    indicator: str
    decided_on: date
    domain: str
    document_no: str
    description: str | None
    effective_until: date | None

    def fold(self, state: SubjectState) -> None:
        state.facts[self.fact_id] = FactState(
            fact_id=self.fact_id,
            indicator=self.indicator,
            decided_on=self.decided_on,
            domain=self.domain,
            document_no=self.document_no,
            description=self.description,
            effective_until=self.effective_until,
            recorded_at=self.timestamp,
            recorded_as=(
                self.indicator,
                self.decided_on,
                self.description,
                self.effective_until,
            ),
        )
        # The key compares by NFKC; the first fact under a key stays its owner, also for
        # streams stored before keys were compared that way.
        state.fact_keys.setdefault((self.domain, natural_key(self.document_no)), self.fact_id)


class FactEnded(SubjectEvent):
    """CreditFactEnded: the fact stops counting from `ended_on`."""

    TOPIC = "credit.fact_ended.v1"
    fact_id: UUID
    ended_on: date
    reason: str

    def fold(self, state: SubjectState) -> None:
        fact = state.facts[self.fact_id]
        fact.ended_on = self.ended_on
        fact.end_reason = self.reason


class FactRevoked(SubjectEvent):
    """CreditFactRevoked: the decision was revoked; the fact is void from the start."""

    TOPIC = "credit.fact_revoked.v1"
    fact_id: UUID
    reason: str

    def fold(self, state: SubjectState) -> None:
        fact = state.facts[self.fact_id]
        fact.revoked = True
        fact.revoke_reason = self.reason


class FactCorrected(SubjectEvent):
    """CreditFactCorrected: an objection's correction, over the fact's whole valid time."""

    TOPIC = "credit.fact_corrected.v1"
    fact_id: UUID
    objection_id: UUID
    void: bool
    indicator: str | None
    decided_on: date | None

    def fold(self, state: SubjectState) -> None:
        fact = state.facts[self.fact_id]
        fact.corrected_by.append(self.objection_id)
        if self.void:
            fact.voided_by = self.objection_id
        if self.indicator is not None:
            fact.indicator = self.indicator
        if self.decided_on is not None:
            fact.decided_on = self.decided_on


class Listed(SubjectEvent):
    """SubjectListed: put on a joint reward-and-punishment dishonesty list."""

    TOPIC = "credit.subject_listed.v1"
    listing_id: UUID
    list_type: str
    listed_on: date
    domain: str
    document_no: str
    authority: str

    def fold(self, state: SubjectState) -> None:
        state.listings[self.listing_id] = ListingState(
            listing_id=self.listing_id,
            list_type=self.list_type,
            listed_on=self.listed_on,
            domain=self.domain,
            document_no=self.document_no,
            authority=self.authority,
            recorded_at=self.timestamp,
        )
        state.listing_keys.setdefault((self.domain, natural_key(self.document_no)), self.listing_id)


class Delisted(SubjectEvent):
    """SubjectDelisted: removed by the listing authority; `revoked` voids it from the start."""

    TOPIC = "credit.subject_delisted.v1"
    listing_id: UUID
    delisted_on: date
    reason: str

    def fold(self, state: SubjectState) -> None:
        listing = state.listings[self.listing_id]
        listing.delisted_on = self.delisted_on
        listing.delist_reason = self.reason


class ObjectionFiled(SubjectEvent):
    """ObjectionFiled: the subject disputes a fact or listing."""

    TOPIC = "credit.objection_filed.v1"
    objection_id: UUID
    target_id: UUID
    target_kind: str
    filed_on: date
    grounds: str
    due_on: date

    def fold(self, state: SubjectState) -> None:
        state.objections[self.objection_id] = ObjectionState(
            objection_id=self.objection_id,
            target_id=self.target_id,
            target_kind=self.target_kind,
            filed_on=self.filed_on,
            grounds=self.grounds,
            due_on=self.due_on,
            recorded_at=self.timestamp,
        )


class ObjectionResolved(SubjectEvent):
    """ObjectionResolved: corrected, rejected or undetermined; the flag clears."""

    TOPIC = "credit.objection_resolved.v1"
    objection_id: UUID
    outcome: str
    resolved_on: date
    note: str | None

    def fold(self, state: SubjectState) -> None:
        objection = state.objections[self.objection_id]
        objection.outcome = self.outcome
        objection.resolved_on = self.resolved_on
        objection.note = self.note


class RepairRequested(SubjectEvent):
    """RepairRequested: credit repair asked for a deduction fact, with a commitment."""

    TOPIC = "credit.repair_requested.v1"
    repair_id: UUID
    target_id: UUID
    requested_on: date
    commitment: str
    due_on: date

    def fold(self, state: SubjectState) -> None:
        state.repairs[self.repair_id] = RepairState(
            repair_id=self.repair_id,
            target_id=self.target_id,
            requested_on=self.requested_on,
            commitment=self.commitment,
            due_on=self.due_on,
            recorded_at=self.timestamp,
        )


class RepairDecided(SubjectEvent):
    """RepairDecided: approved (the fact stops counting from `decided_on`) or rejected."""

    TOPIC = "credit.repair_decided.v1"
    repair_id: UUID
    approved: bool
    decided_on: date
    reason: str

    def fold(self, state: SubjectState) -> None:
        repair = state.repairs[self.repair_id]
        repair.approved = self.approved
        repair.decided_on = self.decided_on
        repair.reason = self.reason
        fact = state.facts.get(repair.target_id)
        # A state folded from repair events alone (queue listings) has no facts to suspend.
        if self.approved and fact is not None:
            fact.suspensions.append(Suspension(self.repair_id, self.decided_on))


class RepairRevoked(SubjectEvent):
    """RepairRevoked: an approval on false materials undone; the fact counts again from then."""

    TOPIC = "credit.repair_revoked.v1"
    repair_id: UUID
    revoked_on: date
    reason: str

    def fold(self, state: SubjectState) -> None:
        repair = state.repairs[self.repair_id]
        repair.revoked_on = self.revoked_on
        repair.revoke_reason = self.reason
        fact = state.facts.get(repair.target_id)
        for suspension in fact.suspensions if fact is not None else []:
            if suspension.repair_id == self.repair_id:
                suspension.until = self.revoked_on


class JoinedField(SubjectEvent):
    """SubjectJoinedField: the subject comes under a field's supervision from `joined_on`."""

    TOPIC = "credit.subject_joined_field.v1"
    field: str
    joined_on: date

    def fold(self, state: SubjectState) -> None:
        if self.field not in state.fields:
            state.fields = sorted([*state.fields, self.field])
        state.memberships.append(Membership(self.field, self.joined_on))


class LeftField(SubjectEvent):
    """SubjectLeftField: the subject leaves a field's supervision from `left_on`."""

    TOPIC = "credit.subject_left_field.v1"
    field: str
    left_on: date

    def fold(self, state: SubjectState) -> None:
        state.fields = [f for f in state.fields if f != self.field]
        for membership in state.memberships:
            if membership.field == self.field and membership.until is None:
                membership.until = self.left_on


class InspectionResultRecorded(SubjectEvent):
    """InspectionResultRecorded: the outcome of a drawn inspection, made public."""

    TOPIC = "credit.inspection_result_recorded.v1"
    draw_id: UUID
    field: str
    inspected_on: date
    outcome: str
    fact_id: UUID | None
    note: str | None

    def fold(self, state: SubjectState) -> None:
        state.inspections.append(
            InspectionResultState(
                draw_id=self.draw_id,
                field=self.field,
                inspected_on=self.inspected_on,
                outcome=self.outcome,
                fact_id=self.fact_id,
                note=self.note,
                recorded_at=self.timestamp,
            )
        )


class IndustryEvaluationRecorded(SubjectEvent):
    """IndustryEvaluationRecorded: a field's A/B/C/D grade, in force until the next one."""

    TOPIC = "credit.industry_evaluation_recorded.v1"
    evaluation_id: UUID
    domain: str
    evaluated_on: date
    score: Decimal | None
    native_grade: str | None
    grade: str
    model: str
    document_no: str | None

    def fold(self, state: SubjectState) -> None:
        state.industry_evaluations.append(
            IndustryEvaluationState(
                evaluation_id=self.evaluation_id,
                domain=self.domain,
                evaluated_on=self.evaluated_on,
                score=self.score,
                native_grade=self.native_grade,
                grade=self.grade,
                model=self.model,
                document_no=self.document_no,
                recorded_at=self.timestamp,
            )
        )


class IdentityErased(SubjectEvent):
    """IdentityErased: a natural person's data key was destroyed (crypto-shredding, DOMAIN §9);
    the stream stays and grades as before, its sealed identity can no longer be opened."""

    TOPIC = "credit.identity_erased.v1"
    reason: str

    def fold(self, state: SubjectState) -> None:
        state.name = ERASED
        state.identity_erased = True


class Received(SubjectEvent):
    """DeliveryReceived: the events before it on the stream (those of one decision) came from a
    downstream ledger's record `source_position` (DOMAIN §10); it changes no grade."""

    TOPIC = "credit.delivery_received.v1"
    source: str
    source_position: int
    source_topic: str

    def fold(self, state: SubjectState) -> None:
        if self.source not in state.sources:
            state.sources.append(self.source)


#: Every event class stored on subject streams, by class name (the aggregate's names for them).
SUBJECT_EVENTS: dict[str, type[SubjectEvent]] = {
    cls.__name__: cls
    for cls in (
        Registered,
        FactRecorded,
        FactEnded,
        FactRevoked,
        FactCorrected,
        Listed,
        Delisted,
        ObjectionFiled,
        ObjectionResolved,
        RepairRequested,
        RepairDecided,
        RepairRevoked,
        JoinedField,
        LeftField,
        InspectionResultRecorded,
        IndustryEvaluationRecorded,
        IdentityErased,
        Received,
    )
}

# Stored events name their class by topic; reading a stream must find the class even where the
# aggregate (which registers them too) was never imported. The base is never stored.
for _cls in SUBJECT_EVENTS.values():
    register_topic(_cls.TOPIC, _cls)
