"""The state of one subject as folded from its events: plain data, no rules about grades.

Both the write path (the `Subject` aggregate) and every read path (time travel, projections,
replay) build this same state by folding events in stream order, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID


@dataclass
class Suspension:
    """An approved repair: the fact stops counting from `start` until the repair is revoked."""

    repair_id: UUID
    start: date
    until: date | None = None


@dataclass
class FactState:
    """One credit fact with everything later events said about it."""

    fact_id: UUID
    indicator: str
    decided_on: date
    domain: str
    document_no: str
    description: str | None
    effective_until: date | None
    recorded_at: datetime
    ended_on: date | None = None
    end_reason: str | None = None
    revoked: bool = False
    revoke_reason: str | None = None
    voided_by: UUID | None = None
    corrected_by: list[UUID] = field(default_factory=list)
    suspensions: list[Suspension] = field(default_factory=list)
    #: The payload as first recorded (before any correction), for idempotent writes.
    recorded_as: tuple[object, ...] = ()

    @property
    def void(self) -> bool:
        """A revoked fact, or one voided by an objection, never counted."""
        return self.revoked or self.voided_by is not None


@dataclass
class ListingState:
    """One listing on a joint dishonesty list, with its delisting if any."""

    listing_id: UUID
    list_type: str
    listed_on: date
    domain: str
    document_no: str
    authority: str
    recorded_at: datetime
    delisted_on: date | None = None
    delist_reason: str | None = None

    @property
    def void(self) -> bool:
        """A listing delisted as `revoked` never held."""
        return self.delist_reason == "revoked"


@dataclass
class ObjectionState:
    """An objection to a fact or listing and, once resolved, its outcome."""

    objection_id: UUID
    target_id: UUID
    target_kind: str
    filed_on: date
    grounds: str
    due_on: date
    recorded_at: datetime
    outcome: str | None = None
    resolved_on: date | None = None
    note: str | None = None

    @property
    def pending(self) -> bool:
        """Filed and not yet resolved (as known to this state)."""
        return self.outcome is None

    def pending_on(self, day: date) -> bool:
        """Whether the objection was open on a valid date."""
        if day < self.filed_on:
            return False
        return self.resolved_on is None or day < self.resolved_on


@dataclass
class RepairState:
    """A credit-repair request for a deduction fact and its decision."""

    repair_id: UUID
    target_id: UUID
    requested_on: date
    commitment: str
    due_on: date
    recorded_at: datetime
    approved: bool | None = None
    decided_on: date | None = None
    reason: str | None = None
    revoked_on: date | None = None
    revoke_reason: str | None = None

    @property
    def status(self) -> str:
        """`pending`, `approved`, `rejected` or `revoked`."""
        if self.approved is None:
            return "pending"
        if not self.approved:
            return "rejected"
        return "revoked" if self.revoked_on is not None else "approved"


@dataclass
class IndustryEvaluationState:
    """A field's industry credit evaluation, in force from `evaluated_on` until the next one."""

    evaluation_id: UUID
    domain: str
    evaluated_on: date
    score: Decimal | None
    native_grade: str | None
    grade: str
    model: str
    document_no: str | None
    recorded_at: datetime


@dataclass
class Membership:
    """A subject's membership of a supervision field over valid time."""

    field: str
    since: date | None
    until: date | None = None

    def holds_on(self, day: date) -> bool:
        """Whether the subject was in the field on a valid date."""
        return (self.since is None or self.since <= day) and (
            self.until is None or day < self.until
        )


@dataclass
class InspectionResultState:
    """The outcome of one drawn inspection of the subject."""

    draw_id: UUID
    field: str
    inspected_on: date
    outcome: str
    fact_id: UUID | None
    note: str | None
    recorded_at: datetime


@dataclass
class SubjectState:
    """Everything known about one subject after folding a prefix of its stream."""

    uscc: str = ""
    name: str = ""
    kind: str = ""
    fields: list[str] = field(default_factory=list)
    established_on: date | None = None
    registered_at: datetime | None = None
    last_recorded_at: datetime | None = None
    facts: dict[UUID, FactState] = field(default_factory=dict)
    #: (domain, NFKC of document_no) -> the first fact recorded under that natural key.
    fact_keys: dict[tuple[str, str], UUID] = field(default_factory=dict)
    listings: dict[UUID, ListingState] = field(default_factory=dict)
    #: (domain, NFKC of document_no) -> the first listing recorded under that natural key.
    listing_keys: dict[tuple[str, str], UUID] = field(default_factory=dict)
    objections: dict[UUID, ObjectionState] = field(default_factory=dict)
    repairs: dict[UUID, RepairState] = field(default_factory=dict)
    industry_evaluations: list[IndustryEvaluationState] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)
    inspections: list[InspectionResultState] = field(default_factory=list)
    #: A natural person whose data key was destroyed: `name` then reads `[erased]` (DOMAIN §9).
    identity_erased: bool = False
    #: The downstream ledgers whose deliveries recorded events here (DOMAIN §10).
    sources: list[str] = field(default_factory=list)

    @property
    def registered(self) -> bool:
        """Whether the registration event has been folded in."""
        return self.registered_at is not None

    def exists_on(self, day: date) -> bool:
        """Whether the subject existed on a valid date: established by then, or with no
        establishment date (it then counts as always existing, DOMAIN §1)."""
        return self.established_on is None or self.established_on <= day

    def in_field_on(self, field_code: str, day: date) -> bool:
        """Whether the subject belonged to a field on a valid date (and existed then)."""
        if not self.exists_on(day):
            return False
        return any(m.field == field_code and m.holds_on(day) for m in self.memberships)

    def pending_objection_for(self, target_id: UUID) -> ObjectionState | None:
        """The open objection to a fact or listing, if any."""
        for objection in self.objections.values():
            if objection.target_id == target_id and objection.pending:
                return objection
        return None
