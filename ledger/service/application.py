"""The `CreditLedger` application: the one write path, and the time-travel read of one subject.

Every command validates its input against the domain rules, loads the subject's stream, lets the
aggregate check the stream's invariants, and saves all resulting events in one transaction.
A refused command raises a `LedgerError` and writes nothing. Writes retry a bounded number of
times when another writer appended to the same stream first.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar, cast
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder, RecordConflictError

from ledger.domain.catalog import catalogue, industry_grading
from ledger.domain.dates import happened_on, require_date
from ledger.domain.errors import (
    Conflict,
    InvalidInput,
    LedgerError,
    NotEligible,
    NotFound,
)
from ledger.domain.model import ModelRegistry, default_models
from ledger.domain.rules import authority
from ledger.domain.rules.authority import Act, Correct, Enrol, InField, PutOnList, RecordIndicator
from ledger.domain.rules.grade import (
    fact_counts_at,
)
from ledger.domain.rules.repair import repair_eligible_on
from ledger.domain.rules.supervision import (
    default_policies,
)
from ledger.domain.state import ObjectionState, RepairState
from ledger.domain.subject import Locator, Subject
from ledger.domain.text import optional_text
from ledger.domain.values import (
    Actor,
    DelistReason,
    ListType,
    ObjectionOutcome,
    SubjectKind,
    china_date,
    locator_id_for,
    normalize_uscc,
    require_aware,
    subject_id_for,
)
from ledger.domain.workdays import add_working_days
from ledger.service.draws import Draws
from ledger.service.queries import Queries
from ledger.service.tokens import Tokens
from ledger.store.codec import DateAsISO

T = TypeVar("T")

#: Working days a department has to handle an objection or a repair request (DOMAIN §5).
HANDLING_WORKING_DAYS = 10
#: How often a command is retried when another writer appended to the same stream first.
WRITE_ATTEMPTS = 20


@dataclass(frozen=True)
class Written:
    """What a command did: the id it concerns, whether it appended, and the ledger position."""

    id: UUID
    created: bool
    position: int | None
    due_on: date | None = None
    warning: str | None = None
    status: str | None = None


@dataclass
class Batch:
    """What a batch holds until it is stored: aggregates, locators, and then what was written."""

    aggregates: dict[UUID, Any] = field(default_factory=dict)
    extras: list[Any] = field(default_factory=list)
    locators: dict[tuple[str, UUID], str] = field(default_factory=dict)
    missing: set[UUID] = field(default_factory=set)
    appended: int = 0
    position: int = 0


class BatchPoisoned(Exception):
    """A refusal left a subject half-changed in a batch; run the batch command by command."""


def _back_off(attempt: int) -> None:
    """Sleep a little, more on each attempt, jittered so colliding writers spread out."""
    time.sleep(random.uniform(0, 0.002 * (attempt + 1)))


def system_clock() -> datetime:
    """Record time: now, in UTC."""
    return datetime.now(UTC)


def _text(value: str | None, field_name: str, *, required: bool = True) -> str | None:
    """Every text argument of every command passes the one text rule (DOMAIN §8)."""
    if value is None and required:
        raise InvalidInput(f"{field_name} is required", field=field_name, rule="non-empty text")
    return optional_text(value, field_name)


def _choice(value: str, allowed: type[Any], field_name: str) -> str:
    values = [m.value for m in allowed]
    if value not in values:
        raise InvalidInput(
            f"'{value}' is not one of: {', '.join(values)}", field=field_name, rule="enumeration"
        )
    return value


def _date(value: Any, field_name: str) -> date:
    return require_date(value, field_name)


# Application first: its stores are what the mixins' `LedgerParts` declares they use.
class CreditLedger(Application[UUID], Queries, Draws, Tokens):
    """Credit facts, listings, objections and repairs as immutable events, graded on demand."""

    name = "credit_ledger"

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], datetime] = system_clock,
        models: ModelRegistry | None = None,
    ) -> None:
        super().__init__(env)
        self.clock = clock
        self.models = models or default_models()
        self.policies = default_policies()
        self.catalogue = catalogue()
        self._batch: Batch | None = None
        #: Called with the number of events after every save (metrics hook for adapters).
        self.save_listeners: list[Callable[[int], None]] = []

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Store the pending events of the given aggregates in one transaction."""
        recordings = super().save(*objs, **kwargs)
        for listener in self.save_listeners:
            listener(len(recordings))
        return recordings

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        """Add date values to the stored-event JSON."""
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # -- plumbing -----------------------------------------------------------------------------

    def _now(self, last: datetime | None) -> datetime:
        """Record time for the next event on a stream: the clock, never before the stream's last."""
        now = require_aware(self.clock(), field_name="clock")
        return now if last is None or now >= last else last

    def _position(self, recordings: Sequence[Any]) -> int | None:
        ids = [r.notification.id for r in recordings]
        return max(ids) if ids else self.max_position()

    def max_position(self) -> int:
        """The ledger position of the last stored event (0 for an empty ledger)."""
        return self.recorder.max_notification_id() or 0

    # -- batches (bulk import) ---------------------------------------------------------------

    @contextmanager
    def batch(self, missing: set[UUID] | None = None) -> Iterator[Batch]:
        """Run many commands against in-memory aggregates and store them all in one save.

        Commands run exactly as they would one by one — the same rules, the same refusals —
        but nothing is written until the block ends, when every new event of the batch is
        appended in a single transaction. An exception discards the whole batch. `missing` names
        streams known to be empty, so the batch need not look them up one by one.
        """
        if self._batch is not None:
            raise RuntimeError("batches do not nest")
        self._batch = Batch(missing=missing or set())
        try:
            yield self._batch
            pending = [a for a in self._batch.aggregates.values() if a._pending_events]
            if pending or self._batch.extras:
                recordings = self.save(*pending, *self._batch.extras)
                self._batch.appended = len(recordings)
                self._batch.position = self._position(recordings) or 0
        finally:
            self._batch = None

    def _stored_subject(self, subject_id: UUID) -> Subject | None:
        """Rebuild a subject by folding its events directly (no per-event checks: the store
        guarantees the order), or None when it has no stream."""
        if self._batch is not None and subject_id in self._batch.missing:
            return None
        aggregate: Any = None
        for event in self.events.get(subject_id):
            aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
        return cast("Subject | None", aggregate)

    def _load(self, uscc: str) -> Subject:
        batch = self._batch
        subject_id = subject_id_for(uscc)
        if batch is not None:
            found = batch.aggregates.get(subject_id)
            if found is None:
                found = self._stored_subject(subject_id)
                if found is None:
                    raise NotFound(f"no subject with credit code {uscc}", field="uscc")
                batch.aggregates[subject_id] = found
            return cast("Subject", found)
        try:
            subject: Subject = self.repository.get(subject_id)
        except AggregateNotFoundError:
            raise NotFound(f"no subject with credit code {uscc}", field="uscc") from None
        return subject

    def subject_code_of(self, kind: str, item_id: UUID) -> str:
        """The credit code of the subject an objection or repair belongs to (NotFound if none)."""
        return self._subject_of(kind, item_id)

    def _subject_of(self, kind: str, item_id: UUID) -> str:
        if self._batch is not None and (kind, item_id) in self._batch.locators:
            return self._batch.locators[(kind, item_id)]
        try:
            locator: Locator = self.repository.get(locator_id_for(kind, item_id))
        except AggregateNotFoundError:
            raise NotFound(f"no {kind} {item_id}", field=f"{kind}_id") from None
        subject: Subject = self.repository.get(locator.subject_id)
        return subject.state.uscc

    def _change(
        self, uscc: str, command: Callable[[Subject, datetime], tuple[T, list[Any]]]
    ) -> tuple[T, int | None, bool]:
        """Run a command on a subject and save what it emitted, retrying on a concurrent append."""
        if self._batch is not None:
            return self._change_in_batch(uscc, command)
        for attempt in range(WRITE_ATTEMPTS):
            subject = self._load(uscc)
            before = len(subject._pending_events)
            result, extra = command(subject, self._now(subject.state.last_recorded_at))
            appended = len(subject._pending_events) > before
            if not appended:
                return result, self.max_position(), False
            try:
                recordings = self.save(subject, *extra)
            except RecordConflictError:
                _back_off(attempt)
                continue
            return result, self._position(recordings), True
        raise Conflict(
            f"subject {uscc} kept changing under {WRITE_ATTEMPTS} attempts; retry",
            field="uscc",
            rule="concurrent change",
        )

    def _change_in_batch(
        self, uscc: str, command: Callable[[Subject, datetime], tuple[T, list[Any]]]
    ) -> tuple[T, int | None, bool]:
        batch = self._batch
        assert batch is not None
        subject = self._load(uscc)
        before = len(subject._pending_events)
        try:
            result, extra = command(subject, self._now(subject.state.last_recorded_at))
        except LedgerError:
            if len(subject._pending_events) != before:
                # The refusal came after part of the command was applied in memory.
                raise BatchPoisoned(uscc) from None
            raise
        batch.extras.extend(extra)
        for locator in extra:
            batch.locators[(locator.kind, locator.item_id)] = subject.state.uscc
        return result, None, len(subject._pending_events) > before

    def _today(self, now: datetime) -> date:
        return china_date(now)

    def _not_future(self, day: date, now: datetime, field_name: str) -> date:
        """A date of something that happened: within DOMAIN §8's bounds as of record time."""
        return happened_on(day, field_name, today=self._today(now))

    def _require_indicator(self, code: str, on: date, field_name: str = "indicator") -> None:
        """Refuse an indicator no model version defines, listing those in force on `on`.

        Any version's indicators are accepted: a fact outlives the model it was recorded under.
        """
        if not self.models.knows_indicator(code):
            self.models.in_force(on).model.indicator(code, field_name=field_name)

    def _field(self, code: str, field_name: str) -> str:
        return self.catalogue.field(code, field_name=field_name).code

    def _authorize(self, actor: Actor, act: Act, on: date | None) -> None:
        """Ask the one authority rule, under the model version in force on the act's date
        (the latest version when the act has no date)."""
        model = self.models.models[-1] if on is None else self.models.in_force(on).model
        authority.require(actor, act, model)

    # -- commands -----------------------------------------------------------------------------

    def register_subject(
        self,
        *,
        uscc: str,
        name: str,
        kind: str,
        fields: Sequence[str] = (),
        established_on: date | None = None,
        actor: Actor,
        source_document: str | None = None,
    ) -> Written:
        """Register a subject; registering the same code with the same details is a no-op."""
        actor.require("register")
        code = normalize_uscc(uscc)
        clean_name = _text(name, "name")
        assert clean_name is not None
        _choice(kind, SubjectKind, "kind")
        field_codes = sorted({self._field(f, "fields") for f in fields})
        now = self._now(None)
        if established_on is not None:
            self._not_future(established_on, now, "established_on")
        self._authorize(actor, Enrol(tuple(field_codes)), established_on)
        subject_id = subject_id_for(code)
        if self._batch is not None:
            batch = self._batch
            known = batch.aggregates.get(subject_id) or self._stored_subject(subject_id)
            if known is None:
                batch.aggregates[subject_id] = Subject.register(
                    uscc=code,
                    name=clean_name,
                    kind=kind,
                    fields=field_codes,
                    established_on=established_on,
                    actor=actor,
                    source_document=_text(source_document, "source_document", required=False),
                    at=now,
                )
                return Written(subject_id, True, None)
            batch.aggregates[subject_id] = known
            self._same_registration(known, code, clean_name, kind, field_codes, established_on)
            return Written(subject_id, False, None)
        for attempt in range(WRITE_ATTEMPTS):
            try:
                existing: Subject = self.repository.get(subject_id)
            except AggregateNotFoundError:
                subject = Subject.register(
                    uscc=code,
                    name=clean_name,
                    kind=kind,
                    fields=field_codes,
                    established_on=established_on,
                    actor=actor,
                    source_document=_text(source_document, "source_document", required=False),
                    at=now,
                )
                try:
                    recordings = self.save(subject)
                except RecordConflictError:
                    _back_off(attempt)
                    continue
                return Written(subject_id, True, self._position(recordings))
            self._same_registration(existing, code, clean_name, kind, field_codes, established_on)
            return Written(subject_id, False, self.max_position())
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _same_registration(
        existing: Subject,
        code: str,
        name: str,
        kind: str,
        fields: list[str],
        established_on: date | None,
    ) -> None:
        state = existing.state
        if (state.name, state.kind, state.fields, state.established_on) != (
            name,
            kind,
            fields,
            established_on,
        ):
            raise Conflict(
                f"subject {code} is already registered with different details",
                field="uscc",
                rule="a credit code is registered once",
            )

    def record_fact(
        self,
        uscc: str,
        *,
        indicator: str,
        decided_on: date,
        domain: str,
        document_no: str,
        actor: Actor,
        description: str | None = None,
        effective_until: date | None = None,
        fact_id: UUID | None = None,
    ) -> Written:
        """Record a credit fact (DOMAIN §4); idempotent on `(domain, document_no)`."""
        actor.require("record")
        code = normalize_uscc(uscc)
        self._field(domain, "domain")
        _date(decided_on, "decided_on")
        doc = _text(document_no, "document_no")
        desc = _text(description, "description", required=False)
        self._require_indicator(indicator, decided_on)
        self._authorize(actor, RecordIndicator(indicator, domain), decided_on)
        if effective_until is not None and _date(effective_until, "effective_until") <= decided_on:
            raise InvalidInput(
                f"effective_until {effective_until.isoformat()} is not after decided_on "
                f"{decided_on.isoformat()}",
                field="effective_until",
                rule="effective_until must be after decided_on",
            )
        new_id = fact_id or uuid4()

        def command(subject: Subject, now: datetime) -> tuple[tuple[UUID, bool], list[Any]]:
            self._not_future(decided_on, now, "decided_on")
            return subject.record_fact(
                fact_id=new_id,
                indicator=indicator,
                decided_on=decided_on,
                domain=domain,
                document_no=str(doc),
                description=desc,
                effective_until=effective_until,
                actor=actor,
                at=now,
            ), []

        (the_id, _), position, created = self._change(code, command)
        return Written(the_id, created, position)

    def end_fact(
        self,
        uscc: str,
        fact_id: UUID,
        *,
        ended_on: date,
        reason: str,
        actor: Actor,
        source_document: str | None = None,
    ) -> Written:
        """End a fact from `ended_on` (e.g. arrears paid, anomaly removed)."""
        actor.require("record")
        code = normalize_uscc(uscc)
        _date(ended_on, "ended_on")
        why = _text(reason, "reason")

        def command(subject: Subject, now: datetime) -> tuple[bool, list[Any]]:
            self._authorize(actor, InField(subject.fact(fact_id).domain), ended_on)
            self._not_future(ended_on, now, "ended_on")
            return subject.end_fact(
                fact_id=fact_id,
                ended_on=ended_on,
                reason=str(why),
                actor=actor,
                source_document=_text(source_document, "source_document", required=False),
                at=now,
            ), []

        _, position, created = self._change(code, command)
        return Written(fact_id, created, position)

    def revoke_fact(
        self,
        uscc: str,
        fact_id: UUID,
        *,
        reason: str,
        actor: Actor,
        source_document: str | None = None,
    ) -> Written:
        """Revoke a fact: void from the start (the decision itself was revoked)."""
        actor.require("record")
        code = normalize_uscc(uscc)
        why = _text(reason, "reason")

        def command(subject: Subject, now: datetime) -> tuple[bool, list[Any]]:
            fact = subject.fact(fact_id)
            self._authorize(actor, InField(fact.domain), fact.decided_on)
            return subject.revoke_fact(
                fact_id=fact_id,
                reason=str(why),
                actor=actor,
                source_document=_text(source_document, "source_document", required=False),
                at=now,
            ), []

        _, position, created = self._change(code, command)
        return Written(fact_id, created, position)

    def list_subject(
        self,
        uscc: str,
        *,
        list_type: str,
        listed_on: date,
        domain: str,
        document_no: str,
        authority: str,
        actor: Actor,
        listing_id: UUID | None = None,
    ) -> Written:
        """Put a subject on a joint dishonesty list; idempotent on `(domain, document_no)`."""
        actor.require("record")
        code = normalize_uscc(uscc)
        _choice(list_type, ListType, "list_type")
        self._field(domain, "domain")
        _date(listed_on, "listed_on")
        self._authorize(actor, PutOnList(list_type, domain), listed_on)
        doc = _text(document_no, "document_no")
        who = _text(authority, "authority")
        new_id = listing_id or uuid4()

        def command(subject: Subject, now: datetime) -> tuple[tuple[UUID, bool], list[Any]]:
            self._not_future(listed_on, now, "listed_on")
            return subject.add_listing(
                listing_id=new_id,
                list_type=list_type,
                listed_on=listed_on,
                domain=domain,
                document_no=str(doc),
                authority=str(who),
                actor=actor,
                at=now,
            ), []

        (the_id, _), position, created = self._change(code, command)
        return Written(the_id, created, position)

    def delist_subject(
        self,
        uscc: str,
        listing_id: UUID,
        *,
        delisted_on: date,
        reason: str,
        actor: Actor,
        source_document: str | None = None,
    ) -> Written:
        """Remove a listing (listing authority only); `revoked` voids it from the start."""
        actor.require("record")
        code = normalize_uscc(uscc)
        _choice(reason, DelistReason, "reason")
        _date(delisted_on, "delisted_on")

        def command(subject: Subject, now: datetime) -> tuple[bool, list[Any]]:
            listing = subject.listing(listing_id)
            # Only the listing authority removes a listing: whoever may put it on that list.
            self._authorize(
                actor,
                PutOnList(listing.list_type, listing.domain, name="listing_id"),
                listing.listed_on,
            )
            self._not_future(delisted_on, now, "delisted_on")
            return subject.delist(
                listing_id=listing_id,
                delisted_on=delisted_on,
                reason=reason,
                actor=actor,
                source_document=_text(source_document, "source_document", required=False),
                at=now,
            ), []

        _, position, created = self._change(code, command)
        return Written(listing_id, created, position)

    def file_objection(
        self,
        uscc: str,
        *,
        target_id: UUID,
        filed_on: date,
        grounds: str,
        actor: Actor,
        source_document: str | None = None,
        objection_id: UUID | None = None,
    ) -> Written:
        """File an objection to a fact or listing; due in 10 working days (DOMAIN §5)."""
        actor.require("file")
        code = normalize_uscc(uscc)
        _date(filed_on, "filed_on")
        why = _text(grounds, "grounds")
        due = add_working_days(filed_on, HANDLING_WORKING_DAYS)
        new_id = objection_id or uuid4()

        def command(
            subject: Subject, now: datetime
        ) -> tuple[tuple[ObjectionState | None, bool], list[Any]]:
            self._not_future(filed_on, now, "filed_on")
            objection, created = subject.file_objection(
                objection_id=new_id,
                target_id=target_id,
                filed_on=filed_on,
                grounds=str(why),
                due_on=due.due_on,
                actor=actor,
                source_document=_text(source_document, "source_document", required=False),
                at=now,
            )
            extra = [Locator(kind="objection", item_id=new_id, subject_id=subject.id)]
            return (objection, created), extra if created else []

        (objection, _), position, created = self._change(code, command)
        assert objection is not None
        return Written(
            objection.objection_id,
            created,
            position,
            due_on=objection.due_on,
            warning=due.warning,
            status="pending" if objection.pending else "resolved",
        )

    def resolve_objection(
        self,
        objection_id: UUID,
        *,
        outcome: str,
        resolved_on: date,
        actor: Actor,
        note: str | None = None,
        void: bool = False,
        indicator: str | None = None,
        decided_on: date | None = None,
        source_document: str | None = None,
    ) -> Written:
        """Resolve an objection; `corrected` voids or changes the disputed record (DOMAIN §5)."""
        actor.require("record")
        _choice(outcome, ObjectionOutcome, "outcome")
        _date(resolved_on, "resolved_on")
        correcting = outcome == ObjectionOutcome.CORRECTED
        if not correcting and (void or indicator is not None or decided_on is not None):
            raise InvalidInput(
                f"a correction goes only with outcome 'corrected', not '{outcome}'",
                field="correction",
                rule="correction only for a corrected outcome",
            )
        uscc = self._subject_of("objection", objection_id)

        def command(subject: Subject, now: datetime) -> tuple[bool, list[Any]]:
            objection = subject.objection(objection_id)
            kind, start, domain = subject.target(objection.target_id)
            self._authorize(actor, InField(domain, "target's field"), start)
            self._not_future(resolved_on, now, "resolved_on")
            if correcting and objection.pending:
                self._check_correction(kind, void, indicator, decided_on, resolved_on, now)
                self._authorize_correction(
                    subject, objection.target_id, actor, void, indicator, decided_on
                )
            return subject.resolve_objection(
                objection_id=objection_id,
                outcome=outcome,
                resolved_on=resolved_on,
                note=_text(note, "note", required=False),
                void=void,
                indicator=indicator,
                decided_on=decided_on,
                actor=actor,
                source_document=_text(source_document, "source_document", required=False),
                at=now,
            ), []

        _, position, created = self._change(uscc, command)
        return Written(objection_id, created, position, status="resolved")

    def _authorize_correction(
        self,
        subject: Subject,
        target_id: UUID,
        actor: Actor,
        void: bool,
        indicator: str | None,
        decided_on: date | None,
    ) -> None:
        """A correction stays within its kind and within what the resolver may itself record,
        under the model in force at the fact's date as corrected."""
        if target_id in subject.state.listings:
            listing = subject.listing(target_id)
            target = PutOnList(listing.list_type, listing.domain)
            self._authorize(actor, Correct(target, void=void), listing.listed_on)
            return
        fact = subject.fact(target_id)
        recorded = self.models.definition(fact.indicator, fact.decided_on)
        self._authorize(
            actor,
            Correct(
                RecordIndicator(fact.indicator, fact.domain),
                kind=None if recorded is None else recorded.kind,
                void=void,
                decided_on=decided_on is not None,
                indicator=indicator,
            ),
            decided_on or fact.decided_on,
        )

    def _check_correction(
        self,
        kind: str,
        void: bool,
        indicator: str | None,
        decided_on: date | None,
        resolved_on: date,
        now: datetime,
    ) -> None:
        if kind == "listing":
            if indicator is not None or decided_on is not None:
                raise InvalidInput(
                    "a listing can only be voided by a correction",
                    field="correction",
                    rule="listing corrections void the listing",
                )
            return
        if not void and indicator is None and decided_on is None:
            raise InvalidInput(
                "a corrected outcome needs a correction: void, indicator or decided_on",
                field="correction",
                rule="corrected outcome needs a correction",
            )
        if void and (indicator is not None or decided_on is not None):
            raise InvalidInput(
                "a correction either voids the fact or changes it, not both",
                field="correction.void",
                rule="void excludes other changes",
            )
        if indicator is not None:
            self._require_indicator(indicator, resolved_on, "correction.indicator")
        if decided_on is not None:
            self._not_future(decided_on, now, "correction.decided_on")

    def request_repair(
        self,
        uscc: str,
        *,
        target_id: UUID,
        requested_on: date,
        commitment: str,
        actor: Actor,
        source_document: str | None = None,
        repair_id: UUID | None = None,
    ) -> Written:
        """Ask for credit repair of a deduction fact once its minimum publication period passed."""
        actor.require("file")
        code = normalize_uscc(uscc)
        _date(requested_on, "requested_on")
        promise = _text(commitment, "commitment")
        due = add_working_days(requested_on, HANDLING_WORKING_DAYS)
        new_id = repair_id or uuid4()

        def command(subject: Subject, now: datetime) -> tuple[tuple[RepairState, bool], list[Any]]:
            self._not_future(requested_on, now, "requested_on")
            fact = subject.fact(target_id)
            model = self.models.in_force(requested_on).model
            eligible_on = repair_eligible_on(fact, model)
            if eligible_on is None:
                raise InvalidInput(
                    f"fact {target_id} ({fact.indicator}) is a bonus; only deductions are repaired",
                    field="target_id",
                    rule="credit repair applies to deduction facts",
                )
            if requested_on < eligible_on:
                raise NotEligible(
                    f"fact {target_id} may be repaired from {eligible_on.isoformat()} "
                    f"(minimum publication period of its severity)",
                    eligible_on=eligible_on,
                    field="requested_on",
                )
            counts, _, why = fact_counts_at(fact, requested_on, model)
            if not counts:
                raise InvalidInput(
                    f"fact {target_id} does not count on {requested_on.isoformat()}: {why}",
                    field="target_id",
                    rule="only a fact that still counts can be repaired",
                )
            repair, created = subject.request_repair(
                repair_id=new_id,
                target_id=target_id,
                requested_on=requested_on,
                commitment=str(promise),
                due_on=due.due_on,
                actor=actor,
                source_document=_text(source_document, "source_document", required=False),
                at=now,
            )
            extra = [Locator(kind="repair", item_id=new_id, subject_id=subject.id)]
            return (repair, created), extra if created else []

        (repair, _), position, created = self._change(code, command)
        return Written(
            repair.repair_id,
            created,
            position,
            due_on=repair.due_on,
            warning=due.warning,
            status=repair.status,
        )

    def decide_repair(
        self,
        repair_id: UUID,
        *,
        approved: bool,
        decided_on: date,
        reason: str,
        actor: Actor,
        source_document: str | None = None,
    ) -> Written:
        """Approve (the fact stops counting from `decided_on`) or reject a repair request."""
        actor.require("record")
        _date(decided_on, "decided_on")
        if not isinstance(approved, bool):
            raise InvalidInput("approved must be true or false", field="approved", rule="boolean")
        why = _text(reason, "reason")
        uscc = self._subject_of("repair", repair_id)

        def command(subject: Subject, now: datetime) -> tuple[bool, list[Any]]:
            repair = subject.repair(repair_id)
            target = subject.fact(repair.target_id)
            self._authorize(actor, InField(target.domain, "target's field"), target.decided_on)
            self._not_future(decided_on, now, "decided_on")
            return subject.decide_repair(
                repair_id=repair_id,
                approved=approved,
                decided_on=decided_on,
                reason=str(why),
                actor=actor,
                source_document=_text(source_document, "source_document", required=False),
                at=now,
            ), []

        _, position, created = self._change(uscc, command)
        return Written(repair_id, created, position, status="approved" if approved else "rejected")

    def revoke_repair(
        self,
        repair_id: UUID,
        *,
        revoked_on: date,
        reason: str,
        actor: Actor,
        source_document: str | None = None,
    ) -> Written:
        """Revoke an approved repair (false materials): the fact counts again from `revoked_on`."""
        actor.require("record")
        _date(revoked_on, "revoked_on")
        why = _text(reason, "reason")
        uscc = self._subject_of("repair", repair_id)

        def command(subject: Subject, now: datetime) -> tuple[bool, list[Any]]:
            repair = subject.repair(repair_id)
            target = subject.fact(repair.target_id)
            self._authorize(actor, InField(target.domain, "target's field"), target.decided_on)
            self._not_future(revoked_on, now, "revoked_on")
            return subject.revoke_repair(
                repair_id=repair_id,
                revoked_on=revoked_on,
                reason=str(why),
                actor=actor,
                source_document=_text(source_document, "source_document", required=False),
                at=now,
            ), []

        _, position, created = self._change(uscc, command)
        return Written(repair_id, created, position, status="revoked")

    def record_industry_evaluation(
        self,
        uscc: str,
        *,
        domain: str,
        evaluated_on: date,
        model: str,
        actor: Actor,
        score: Decimal | str | None = None,
        native_grade: str | None = None,
        document_no: str | None = None,
        evaluation_id: UUID | None = None,
    ) -> Written:
        """Record a field's industry evaluation, graded A/B/C/D by the unified scale or mapping."""
        actor.require("record")
        code = normalize_uscc(uscc)
        self._field(domain, "domain")
        _date(evaluated_on, "evaluated_on")
        self._authorize(actor, InField(domain), evaluated_on)
        model_name = _text(model, "model")
        value: Decimal | None = None
        if score is not None:
            try:
                value = Decimal(str(score))
            except InvalidOperation:
                raise InvalidInput(
                    f"score '{score}' is not a number", field="score", rule="decimal"
                ) from None
            if not value.is_finite():
                raise InvalidInput("score must be finite", field="score", rule="decimal")
        grade = industry_grading().grade(domain, value, native_grade)
        new_id = evaluation_id or uuid4()

        def command(subject: Subject, now: datetime) -> tuple[tuple[UUID, bool], list[Any]]:
            self._not_future(evaluated_on, now, "evaluated_on")
            return subject.record_industry_evaluation(
                evaluation_id=new_id,
                domain=domain,
                evaluated_on=evaluated_on,
                score=value,
                native_grade=native_grade,
                grade=grade,
                model=str(model_name),
                document_no=_text(document_no, "document_no", required=False),
                actor=actor,
                at=now,
            ), []

        (the_id, _), position, created = self._change(code, command)
        return Written(the_id, created, position, status=grade)

    # -- fields, supervision and inspections --------------------------------------------------

    def join_field(self, uscc: str, *, field: str, joined_on: date, actor: Actor) -> Written:
        """Bring a subject under a field's supervision from `joined_on`."""
        actor.require("record")
        code = normalize_uscc(uscc)
        self._field(field, "field")
        _date(joined_on, "joined_on")
        self._authorize(actor, Enrol((field,), name="field"), joined_on)

        def command(subject: Subject, now: datetime) -> tuple[bool, list[Any]]:
            self._not_future(joined_on, now, "joined_on")
            return subject.join_field(field=field, joined_on=joined_on, actor=actor, at=now), []

        _, position, created = self._change(code, command)
        return Written(subject_id_for(code), created, position)

    def leave_field(self, uscc: str, *, field: str, left_on: date, actor: Actor) -> Written:
        """Take a subject out of a field's supervision from `left_on`."""
        actor.require("record")
        code = normalize_uscc(uscc)
        self._field(field, "field")
        _date(left_on, "left_on")
        self._authorize(actor, InField(field, "field"), left_on)

        def command(subject: Subject, now: datetime) -> tuple[bool, list[Any]]:
            self._not_future(left_on, now, "left_on")
            return subject.leave_field(field=field, left_on=left_on, actor=actor, at=now), []

        _, position, created = self._change(code, command)
        return Written(subject_id_for(code), created, position)

    def record_inspection_result(
        self,
        draw_id: UUID,
        *,
        uscc: str,
        outcome: str,
        inspected_on: date,
        actor: Actor,
        indicator: str | None = None,
        document_no: str | None = None,
        note: str | None = None,
    ) -> Written:
        """Record a drawn subject's inspection: `passed`, or a `finding` that becomes a fact."""
        actor.require("record")
        recorded = self.get_draw(draw_id)
        self._authorize(actor, InField(recorded.field, "field"), recorded.as_of)
        code = normalize_uscc(uscc)
        if code not in {s["uscc"] for s in recorded.selected}:
            raise InvalidInput(
                f"{code} was not drawn in {draw_id}",
                field="uscc",
                rule="results for drawn subjects",
            )
        if outcome not in ("passed", "finding"):
            raise InvalidInput(
                f"'{outcome}' is not one of: passed, finding", field="outcome", rule="enumeration"
            )
        _date(inspected_on, "inspected_on")
        if inspected_on < recorded.as_of:
            raise InvalidInput(
                f"inspected_on {inspected_on.isoformat()} is before the draw's date "
                f"{recorded.as_of.isoformat()}",
                field="inspected_on",
                rule="an inspection follows its draw",
            )
        if outcome == "finding":
            if indicator is None:
                raise InvalidInput(
                    "a finding names the indicator it records", field="indicator", rule="finding"
                )
            self._require_indicator(indicator, inspected_on)
            # A finding becomes a fact in the draw's field: the same authority as recording it.
            self._authorize(actor, RecordIndicator(indicator, recorded.field), inspected_on)
            document_no = _text(document_no, "document_no")
        elif indicator is not None or document_no is not None:
            raise InvalidInput(
                "a passed inspection records no fact", field="indicator", rule="passed"
            )
        fact_id = uuid4() if outcome == "finding" else None
        note = _text(note, "note", required=False)

        def command(subject: Subject, now: datetime) -> tuple[bool, list[Any]]:
            self._not_future(inspected_on, now, "inspected_on")
            changed = subject.record_inspection_result(
                draw_id=draw_id,
                field=recorded.field,
                inspected_on=inspected_on,
                outcome=outcome,
                fact_id=fact_id,
                note=note,
                actor=actor,
                at=now,
            )
            if changed and fact_id is not None:
                subject.record_fact(
                    fact_id=fact_id,
                    indicator=str(indicator),
                    decided_on=inspected_on,
                    domain=recorded.field,
                    document_no=str(document_no),
                    description=note,
                    effective_until=None,
                    actor=actor,
                    at=now,
                )
            return changed, []

        _, position, created = self._change(code, command)
        return Written(fact_id or subject_id_for(code), created, position, status=outcome)
