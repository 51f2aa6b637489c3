"""The `Subject` aggregate and its events: one stream per credit subject, every change an event.

Topics are explicit and versioned; renaming a class must never break stored events, so a new
shape of an event gets a new topic (`…v2`) and the old class stays to read old streams.
Valid time lives in each payload (`decided_on`, `listed_on`, …); record time is the event's
`timestamp`, set by the application's clock, never by a client.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain.errors import Conflict, InvalidInput, NotFound
from ledger.domain.fold import step
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
from ledger.domain.values import Actor, locator_id_for, subject_id_for


def _provenance(actor: Actor, source_document: str | None) -> dict[str, Any]:
    return {
        "actor_id": actor.actor_id,
        "department": actor.department,
        "source_document": source_document,
    }


class Subject(Aggregate):
    """A credit subject's stream. Command methods check the stream's own invariants and emit events.

    Rules that need data beyond the stream (indicators, fields, working days) are checked by the
    application before a command reaches the aggregate.
    """

    TOPIC = "credit.subject.v1"

    class Event(Aggregate.Event):
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

    class Registered(Aggregate.Created, Event):
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

    class FactRecorded(Event):
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

    class FactEnded(Event):
        """CreditFactEnded: the fact stops counting from `ended_on`."""

        TOPIC = "credit.fact_ended.v1"
        fact_id: UUID
        ended_on: date
        reason: str

        def fold(self, state: SubjectState) -> None:
            fact = state.facts[self.fact_id]
            fact.ended_on = self.ended_on
            fact.end_reason = self.reason

    class FactRevoked(Event):
        """CreditFactRevoked: the decision was revoked; the fact is void from the start."""

        TOPIC = "credit.fact_revoked.v1"
        fact_id: UUID
        reason: str

        def fold(self, state: SubjectState) -> None:
            fact = state.facts[self.fact_id]
            fact.revoked = True
            fact.revoke_reason = self.reason

    class FactCorrected(Event):
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

    class Listed(Event):
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
            state.listing_keys.setdefault(
                (self.domain, natural_key(self.document_no)), self.listing_id
            )

    class Delisted(Event):
        """SubjectDelisted: removed by the listing authority; `revoked` voids it from the start."""

        TOPIC = "credit.subject_delisted.v1"
        listing_id: UUID
        delisted_on: date
        reason: str

        def fold(self, state: SubjectState) -> None:
            listing = state.listings[self.listing_id]
            listing.delisted_on = self.delisted_on
            listing.delist_reason = self.reason

    class ObjectionFiled(Event):
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

    class ObjectionResolved(Event):
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

    class RepairRequested(Event):
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

    class RepairDecided(Event):
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

    class RepairRevoked(Event):
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

    class JoinedField(Event):
        """SubjectJoinedField: the subject comes under a field's supervision from `joined_on`."""

        TOPIC = "credit.subject_joined_field.v1"
        field: str
        joined_on: date

        def fold(self, state: SubjectState) -> None:
            if self.field not in state.fields:
                state.fields = sorted([*state.fields, self.field])
            state.memberships.append(Membership(self.field, self.joined_on))

    class LeftField(Event):
        """SubjectLeftField: the subject leaves a field's supervision from `left_on`."""

        TOPIC = "credit.subject_left_field.v1"
        field: str
        left_on: date

        def fold(self, state: SubjectState) -> None:
            state.fields = [f for f in state.fields if f != self.field]
            for membership in state.memberships:
                if membership.field == self.field and membership.until is None:
                    membership.until = self.left_on

    class InspectionResultRecorded(Event):
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

    class IndustryEvaluationRecorded(Event):
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

    @staticmethod
    def create_id(uscc: str) -> UUID:
        """Subject stream ids are derived from the credit code."""
        return subject_id_for(uscc)

    def __init__(self) -> None:
        # The registration event's fold fills the state (see Registered.fold), as in replay.
        self.state = SubjectState()

    @classmethod
    def register(
        cls,
        *,
        uscc: str,
        name: str,
        kind: str,
        fields: list[str],
        established_on: date | None,
        actor: Actor,
        source_document: str | None,
        at: datetime,
    ) -> Subject:
        """Start a subject's stream."""
        return cls._create(
            cls.Registered,
            uscc=uscc,
            name=name,
            kind=kind,
            fields=list(fields),
            established_on=established_on,
            timestamp=at,
            **_provenance(actor, source_document),
        )

    # -- commands ---------------------------------------------------------------------------

    def fact(self, fact_id: UUID) -> FactState:
        """The fact with this id, or NotFound."""
        try:
            return self.state.facts[fact_id]
        except KeyError:
            raise NotFound(
                f"no fact {fact_id} on subject {self.state.uscc}", field="fact_id"
            ) from None

    def listing(self, listing_id: UUID) -> ListingState:
        """The listing with this id, or NotFound."""
        try:
            return self.state.listings[listing_id]
        except KeyError:
            raise NotFound(
                f"no listing {listing_id} on subject {self.state.uscc}", field="listing_id"
            ) from None

    def record_fact(
        self,
        *,
        fact_id: UUID,
        indicator: str,
        decided_on: date,
        domain: str,
        document_no: str,
        description: str | None,
        effective_until: date | None,
        actor: Actor,
        at: datetime,
    ) -> tuple[UUID, bool]:
        """Record a fact; the same `(domain, document_no)` with the same payload is a no-op."""
        existing_id = self.state.fact_keys.get((domain, natural_key(document_no)))
        if existing_id is not None:
            existing = self.state.facts[existing_id]
            if existing.recorded_as == (indicator, decided_on, description, effective_until):
                return existing_id, False
            raise Conflict(
                f"document {domain}/{document_no} is already recorded as fact {existing_id} "
                "with a different payload",
                field="document_no",
                rule="(domain, document_no) is unique per subject",
            )
        if fact_id in self.state.facts:
            raise Conflict(
                f"fact {fact_id} already exists under another document",
                field="fact_id",
                rule="ids are unique",
            )
        self._require_not_before_established(decided_on, "decided_on")
        self.trigger_event(
            self.FactRecorded,
            fact_id=fact_id,
            indicator=indicator,
            decided_on=decided_on,
            domain=domain,
            document_no=document_no,
            description=description,
            effective_until=effective_until,
            timestamp=at,
            **_provenance(actor, document_no),
        )
        return fact_id, True

    def end_fact(
        self,
        *,
        fact_id: UUID,
        ended_on: date,
        reason: str,
        actor: Actor,
        source_document: str | None,
        at: datetime,
    ) -> bool:
        """End a fact from `ended_on`; repeating the same end is a no-op."""
        fact = self.fact(fact_id)
        if fact.ended_on is not None:
            if (fact.ended_on, fact.end_reason) == (ended_on, reason):
                return False
            raise Conflict(
                f"fact {fact_id} already ended on {fact.ended_on.isoformat()}",
                field="ended_on",
                rule="a fact ends once",
            )
        if fact.void:
            raise Conflict(f"fact {fact_id} is void and cannot end", field="fact_id", rule="void")
        if ended_on < fact.decided_on:
            raise InvalidInput(
                f"ended_on {ended_on.isoformat()} is before the fact's decided_on "
                f"{fact.decided_on.isoformat()}",
                field="ended_on",
                rule="ended_on must not be before decided_on",
            )
        self.trigger_event(
            self.FactEnded,
            fact_id=fact_id,
            ended_on=ended_on,
            reason=reason,
            timestamp=at,
            **_provenance(actor, source_document),
        )
        return True

    def revoke_fact(
        self, *, fact_id: UUID, reason: str, actor: Actor, source_document: str | None, at: datetime
    ) -> bool:
        """Void a fact from the start; repeating it is a no-op."""
        fact = self.fact(fact_id)
        if fact.revoked:
            return False
        self.trigger_event(
            self.FactRevoked,
            fact_id=fact_id,
            reason=reason,
            timestamp=at,
            **_provenance(actor, source_document),
        )
        return True

    def add_listing(
        self,
        *,
        listing_id: UUID,
        list_type: str,
        listed_on: date,
        domain: str,
        document_no: str,
        authority: str,
        actor: Actor,
        at: datetime,
    ) -> tuple[UUID, bool]:
        """Put the subject on a dishonesty list; idempotent on `(domain, document_no)`."""
        existing_id = self.state.listing_keys.get((domain, natural_key(document_no)))
        if existing_id is not None:
            existing = self.state.listings[existing_id]
            if (existing.list_type, existing.listed_on, existing.authority) == (
                list_type,
                listed_on,
                authority,
            ):
                return existing_id, False
            raise Conflict(
                f"document {domain}/{document_no} is already recorded as listing {existing_id} "
                "with a different payload",
                field="document_no",
                rule="(domain, document_no) is unique per subject",
            )
        if listing_id in self.state.listings:
            raise Conflict(
                f"listing {listing_id} already exists under another document",
                field="listing_id",
                rule="ids are unique",
            )
        self._require_not_before_established(listed_on, "listed_on")
        self.trigger_event(
            self.Listed,
            listing_id=listing_id,
            list_type=list_type,
            listed_on=listed_on,
            domain=domain,
            document_no=document_no,
            authority=authority,
            timestamp=at,
            **_provenance(actor, document_no),
        )
        return listing_id, True

    def delist(
        self,
        *,
        listing_id: UUID,
        delisted_on: date,
        reason: str,
        actor: Actor,
        source_document: str | None,
        at: datetime,
    ) -> bool:
        """Remove a listing; repeating the same delisting is a no-op."""
        listing = self.listing(listing_id)
        if listing.delisted_on is not None:
            if (listing.delisted_on, listing.delist_reason) == (delisted_on, reason):
                return False
            raise Conflict(
                f"listing {listing_id} was already delisted on {listing.delisted_on.isoformat()}",
                field="delisted_on",
                rule="a listing is removed once",
            )
        if delisted_on < listing.listed_on:
            raise InvalidInput(
                f"delisted_on {delisted_on.isoformat()} is before listed_on "
                f"{listing.listed_on.isoformat()}",
                field="delisted_on",
                rule="delisted_on must not be before listed_on",
            )
        self.trigger_event(
            self.Delisted,
            listing_id=listing_id,
            delisted_on=delisted_on,
            reason=reason,
            timestamp=at,
            **_provenance(actor, source_document),
        )
        return True

    def target(self, target_id: UUID) -> tuple[str, date, str]:
        """Kind (`fact` or `listing`), valid-time start and field of an objection target."""
        if target_id in self.state.facts:
            fact = self.state.facts[target_id]
            return "fact", fact.decided_on, fact.domain
        if target_id in self.state.listings:
            listing = self.state.listings[target_id]
            return "listing", listing.listed_on, listing.domain
        raise NotFound(
            f"no fact or listing {target_id} on subject {self.state.uscc}", field="target_id"
        )

    def file_objection(
        self,
        *,
        objection_id: UUID,
        target_id: UUID,
        filed_on: date,
        grounds: str,
        due_on: date,
        actor: Actor,
        source_document: str | None,
        at: datetime,
    ) -> tuple[ObjectionState | None, bool]:
        """File an objection; the same objection filed again returns the original one.

        "The same" is the same target, filing date and grounds (compared by NFKC), whether the
        original is still pending or already resolved: a repeated filing is not a new dispute.
        """
        key = (target_id, filed_on, natural_key(grounds))
        known = self.state.objections.get(objection_id)
        if known is not None:
            if (known.target_id, known.filed_on, natural_key(known.grounds)) == key:
                return known, False
            raise Conflict(
                f"objection {objection_id} already exists with a different payload",
                field="objection_id",
                rule="ids are unique",
            )
        for earlier in self.state.objections.values():
            if (earlier.target_id, earlier.filed_on, natural_key(earlier.grounds)) == key:
                return earlier, False
        kind, starts_on, _ = self.target(target_id)
        pending = self.state.pending_objection_for(target_id)
        if pending is not None:
            raise Conflict(
                f"objection {pending.objection_id} to {target_id} is still pending",
                field="target_id",
                rule="one pending objection per fact or listing",
            )
        if kind == "fact" and self.state.facts[target_id].void:
            raise Conflict(
                f"fact {target_id} is already void", field="target_id", rule="void facts"
            )
        if filed_on < starts_on:
            raise InvalidInput(
                f"filed_on {filed_on.isoformat()} is before the disputed record's date "
                f"{starts_on.isoformat()}",
                field="filed_on",
                rule="an objection follows the record it disputes",
            )
        self.trigger_event(
            self.ObjectionFiled,
            objection_id=objection_id,
            target_id=target_id,
            target_kind=kind,
            filed_on=filed_on,
            grounds=grounds,
            due_on=due_on,
            timestamp=at,
            **_provenance(actor, source_document),
        )
        return self.state.objections[objection_id], True

    def objection(self, objection_id: UUID) -> ObjectionState:
        """The objection with this id, or NotFound."""
        try:
            return self.state.objections[objection_id]
        except KeyError:
            raise NotFound(f"no objection {objection_id}", field="objection_id") from None

    def resolve_objection(
        self,
        *,
        objection_id: UUID,
        outcome: str,
        resolved_on: date,
        note: str | None,
        void: bool,
        indicator: str | None,
        decided_on: date | None,
        actor: Actor,
        source_document: str | None,
        at: datetime,
    ) -> bool:
        """Resolve an objection; a `corrected` outcome also emits the correction it orders."""
        objection = self.objection(objection_id)
        if not objection.pending:
            if (objection.outcome, objection.resolved_on) == (outcome, resolved_on):
                return False
            raise Conflict(
                f"objection {objection_id} was already resolved as {objection.outcome}",
                field="objection_id",
                rule="an objection is resolved once",
            )
        if resolved_on < objection.filed_on:
            raise InvalidInput(
                f"resolved_on {resolved_on.isoformat()} is before filed_on "
                f"{objection.filed_on.isoformat()}",
                field="resolved_on",
                rule="resolved_on must not be before filed_on",
            )
        self.trigger_event(
            self.ObjectionResolved,
            objection_id=objection_id,
            outcome=outcome,
            resolved_on=resolved_on,
            note=note,
            timestamp=at,
            **_provenance(actor, source_document),
        )
        if outcome != "corrected":
            return True
        if objection.target_kind == "listing":
            # Listings are removed only by their authority; the resolving party is that authority.
            self.trigger_event(
                self.Delisted,
                listing_id=objection.target_id,
                delisted_on=resolved_on,
                reason="revoked",
                timestamp=at,
                **_provenance(actor, source_document),
            )
            return True
        if decided_on is not None:
            self._require_not_before_established(decided_on, "correction.decided_on")
        self.trigger_event(
            self.FactCorrected,
            fact_id=objection.target_id,
            objection_id=objection_id,
            void=void,
            indicator=indicator,
            decided_on=decided_on,
            timestamp=at,
            **_provenance(actor, source_document),
        )
        return True

    def repair(self, repair_id: UUID) -> RepairState:
        """The repair with this id, or NotFound."""
        try:
            return self.state.repairs[repair_id]
        except KeyError:
            raise NotFound(f"no repair {repair_id}", field="repair_id") from None

    def request_repair(
        self,
        *,
        repair_id: UUID,
        target_id: UUID,
        requested_on: date,
        commitment: str,
        due_on: date,
        actor: Actor,
        source_document: str | None,
        at: datetime,
    ) -> tuple[RepairState, bool]:
        """Ask for repair of a fact (eligibility is checked by the application beforehand)."""
        known = self.state.repairs.get(repair_id)
        if known is not None:
            if (known.target_id, known.requested_on, known.commitment) == (
                target_id,
                requested_on,
                commitment,
            ):
                return known, False
            raise Conflict(
                f"repair {repair_id} already exists with a different payload",
                field="repair_id",
                rule="ids are unique",
            )
        for repair in self.state.repairs.values():
            if repair.target_id == target_id and repair.status in ("pending", "approved"):
                if (repair.requested_on, repair.commitment) == (requested_on, commitment):
                    return repair, False
                raise Conflict(
                    f"repair {repair.repair_id} of fact {target_id} is {repair.status}",
                    field="target_id",
                    rule="one open or approved repair per fact",
                )
        self.trigger_event(
            self.RepairRequested,
            repair_id=repair_id,
            target_id=target_id,
            requested_on=requested_on,
            commitment=commitment,
            due_on=due_on,
            timestamp=at,
            **_provenance(actor, source_document),
        )
        return self.state.repairs[repair_id], True

    def decide_repair(
        self,
        *,
        repair_id: UUID,
        approved: bool,
        decided_on: date,
        reason: str,
        actor: Actor,
        source_document: str | None,
        at: datetime,
    ) -> bool:
        """Approve or reject a pending repair; repeating the same decision is a no-op."""
        repair = self.repair(repair_id)
        if repair.approved is not None:
            if (repair.approved, repair.decided_on) == (approved, decided_on):
                return False
            raise Conflict(
                f"repair {repair_id} was already decided", field="repair_id", rule="decided once"
            )
        if decided_on < repair.requested_on:
            raise InvalidInput(
                f"decided_on {decided_on.isoformat()} is before requested_on "
                f"{repair.requested_on.isoformat()}",
                field="decided_on",
                rule="decided_on must not be before requested_on",
            )
        self.trigger_event(
            self.RepairDecided,
            repair_id=repair_id,
            approved=approved,
            decided_on=decided_on,
            reason=reason,
            timestamp=at,
            **_provenance(actor, source_document),
        )
        return True

    def revoke_repair(
        self,
        *,
        repair_id: UUID,
        revoked_on: date,
        reason: str,
        actor: Actor,
        source_document: str | None,
        at: datetime,
    ) -> bool:
        """Undo an approved repair found to rest on false materials."""
        repair = self.repair(repair_id)
        if repair.status == "revoked":
            if repair.revoked_on == revoked_on:
                return False
            raise Conflict(f"repair {repair_id} already revoked", field="repair_id", rule="once")
        if repair.status != "approved":
            raise Conflict(
                f"repair {repair_id} is {repair.status}; only an approved repair can be revoked",
                field="repair_id",
                rule="only approved repairs are revoked",
            )
        assert repair.decided_on is not None
        if revoked_on < repair.decided_on:
            raise InvalidInput(
                f"revoked_on {revoked_on.isoformat()} is before the approval "
                f"{repair.decided_on.isoformat()}",
                field="revoked_on",
                rule="revoked_on must not be before the approval",
            )
        self.trigger_event(
            self.RepairRevoked,
            repair_id=repair_id,
            revoked_on=revoked_on,
            reason=reason,
            timestamp=at,
            **_provenance(actor, source_document),
        )
        return True

    def record_industry_evaluation(
        self,
        *,
        evaluation_id: UUID,
        domain: str,
        evaluated_on: date,
        score: Decimal | None,
        native_grade: str | None,
        grade: str,
        model: str,
        document_no: str | None,
        actor: Actor,
        at: datetime,
    ) -> tuple[UUID, bool]:
        """Record a field's industry evaluation; the same field and date again is a no-op."""
        for existing in self.state.industry_evaluations:
            if (existing.domain, existing.evaluated_on) == (domain, evaluated_on):
                if (existing.score, existing.native_grade, existing.model) == (
                    score,
                    native_grade,
                    model,
                ):
                    return existing.evaluation_id, False
                raise Conflict(
                    f"{domain} already evaluated this subject on {evaluated_on.isoformat()}",
                    field="evaluated_on",
                    rule="one industry evaluation per field and date",
                )
        if domain not in self.state.fields:
            raise InvalidInput(
                f"subject {self.state.uscc} is not in field '{domain}'",
                field="domain",
                rule="an industry evaluation is made for the field's own subjects",
            )
        self._require_not_before_established(evaluated_on, "evaluated_on")
        self.trigger_event(
            self.IndustryEvaluationRecorded,
            evaluation_id=evaluation_id,
            domain=domain,
            evaluated_on=evaluated_on,
            score=score,
            native_grade=native_grade,
            grade=grade,
            model=model,
            document_no=document_no,
            timestamp=at,
            **_provenance(actor, document_no),
        )
        return evaluation_id, True

    def join_field(self, *, field: str, joined_on: date, actor: Actor, at: datetime) -> bool:
        """Bring the subject under a field's supervision; joining again is a no-op."""
        if field in self.state.fields:
            return False
        self._require_not_before_established(joined_on, "joined_on")
        self.trigger_event(
            self.JoinedField,
            field=field,
            joined_on=joined_on,
            timestamp=at,
            **_provenance(actor, None),
        )
        return True

    def leave_field(self, *, field: str, left_on: date, actor: Actor, at: datetime) -> bool:
        """Take the subject out of a field from `left_on`; leaving again is a no-op."""
        if field not in self.state.fields:
            return False
        since = max(
            (
                m.since
                for m in self.state.memberships
                if m.field == field and m.until is None and m.since is not None
            ),
            default=None,
        )
        if since is not None and left_on < since:
            raise InvalidInput(
                f"left_on {left_on.isoformat()} is before the subject joined ({since.isoformat()})",
                field="left_on",
                rule="left_on must not be before joined_on",
            )
        self.trigger_event(
            self.LeftField, field=field, left_on=left_on, timestamp=at, **_provenance(actor, None)
        )
        return True

    def record_inspection_result(
        self,
        *,
        draw_id: UUID,
        field: str,
        inspected_on: date,
        outcome: str,
        fact_id: UUID | None,
        note: str | None,
        actor: Actor,
        at: datetime,
    ) -> bool:
        """Record a drawn inspection's outcome once per draw; the same result again is a no-op."""
        for known in self.state.inspections:
            if known.draw_id == draw_id:
                if (known.outcome, known.inspected_on) == (outcome, inspected_on):
                    return False
                raise Conflict(
                    f"draw {draw_id} already has a result for {self.state.uscc}",
                    field="uscc",
                    rule="one result per drawn subject",
                )
        self.trigger_event(
            self.InspectionResultRecorded,
            draw_id=draw_id,
            field=field,
            inspected_on=inspected_on,
            outcome=outcome,
            fact_id=fact_id,
            note=note,
            timestamp=at,
            **_provenance(actor, None),
        )
        return True

    def _require_not_before_established(self, day: date, field_name: str) -> None:
        established = self.state.established_on
        if established is not None and day < established:
            raise InvalidInput(
                f"{field_name} {day.isoformat()} is before the subject was established "
                f"({established.isoformat()})",
                field=field_name,
                rule="no record before established_on",
            )


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
