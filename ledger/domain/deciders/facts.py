"""Deciders of a subject's registration, its credit facts and its listings (DOMAIN §3–§4)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from ledger.domain import events
from ledger.domain.commands import (
    DelistSubject,
    EndFact,
    ListSubject,
    RecordFact,
    RegisterSubject,
    RevokeFact,
)
from ledger.domain.dates import require_date
from ledger.domain.deciders.base import (
    Change,
    Context,
    Decision,
    authorize,
    change,
    choice,
    fact_of,
    field,
    happened,
    known_indicator,
    listing_of,
    not_before_established,
    recorded_once,
    registered,
    text,
)
from ledger.domain.deciders.persons import applicable, registrable
from ledger.domain.errors import Conflict, InvalidInput
from ledger.domain.rules.authority import Enrol, InField, PutOnList, RecordIndicator
from ledger.domain.state import SubjectState
from ledger.domain.values import (
    Actor,
    DelistReason,
    ListType,
    SubjectKind,
    normalize_uscc,
    subject_id_for,
)


def register_subject(state: SubjectState, command: RegisterSubject, ctx: Context) -> Decision:
    """Register a subject; registering the same code with the same details is a no-op."""
    actor = command.actor
    actor.require("register")
    code = normalize_uscc(command.uscc)
    name = str(text(command.name, "name"))
    choice(command.kind, SubjectKind, "kind")
    registrable(code, name, command.kind)
    fields = sorted({field(ctx, f, "fields") for f in command.fields})
    established_on = command.established_on
    if established_on is not None:
        happened(ctx, established_on, "established_on")
    authorize(ctx, actor, Enrol(tuple(fields)), established_on)
    subject_id = subject_id_for(code)
    if state.registered:
        if (state.name, state.kind, state.fields, state.established_on) != (
            name,
            command.kind,
            fields,
            established_on,
        ):
            raise Conflict(
                f"subject {code} is already registered with different details",
                field="uscc",
                rule="a credit code is registered once",
            )
        return Decision(subject_id)
    source = text(command.source_document, "source_document", required=False)
    registration = change(
        events.Registered,
        ctx,
        actor,
        source,
        uscc=code,
        name=name,
        kind=command.kind,
        fields=fields,
        established_on=established_on,
    )
    return Decision(subject_id, (registration,))


def record_fact(state: SubjectState, command: RecordFact, ctx: Context) -> Decision:
    """Record a credit fact; the same `(domain, document_no)` with the same payload is a no-op."""
    actor, decided_on, until = command.actor, command.decided_on, command.effective_until
    actor.require("record")
    code = normalize_uscc(command.uscc)
    field(ctx, command.domain, "domain")
    require_date(decided_on, "decided_on")
    document_no = str(text(command.document_no, "document_no"))
    description = text(command.description, "description", required=False)
    known_indicator(ctx, command.indicator, decided_on)
    authorize(ctx, actor, RecordIndicator(command.indicator, command.domain), decided_on)
    if until is not None and require_date(until, "effective_until") <= decided_on:
        raise InvalidInput(
            f"effective_until {until.isoformat()} is not after decided_on {decided_on.isoformat()}",
            field="effective_until",
            rule="effective_until must be after decided_on",
        )
    registered(state, code)
    applicable(ctx, state, command.indicator, decided_on)
    happened(ctx, decided_on, "decided_on")
    fact_id, recorded = new_fact(
        state,
        ctx,
        actor,
        fact_id=command.fact_id or ctx.new_id,
        indicator=command.indicator,
        decided_on=decided_on,
        domain=command.domain,
        document_no=document_no,
        description=description,
        effective_until=until,
    )
    return Decision(fact_id, () if recorded is None else (recorded,))


def new_fact(
    state: SubjectState,
    ctx: Context,
    actor: Actor,
    *,
    fact_id: UUID,
    indicator: str,
    decided_on: date,
    domain: str,
    document_no: str,
    description: str | None,
    effective_until: date | None,
) -> tuple[UUID, Change | None]:
    """The fact's id and its event; the same document with the same payload again adds none."""
    existing_id = recorded_once(
        "fact",
        state.fact_keys,
        state.facts,
        domain=domain,
        document_no=document_no,
        new_id=fact_id,
        same=lambda known: (
            state.facts[known].recorded_as == (indicator, decided_on, description, effective_until)
        ),
    )
    if existing_id is not None:
        return existing_id, None
    not_before_established(state, decided_on, "decided_on")
    recorded = change(
        events.FactRecorded,
        ctx,
        actor,
        document_no,
        fact_id=fact_id,
        indicator=indicator,
        decided_on=decided_on,
        domain=domain,
        document_no=document_no,
        description=description,
        effective_until=effective_until,
    )
    return fact_id, recorded


def end_fact(state: SubjectState, command: EndFact, ctx: Context) -> Decision:
    """End a fact from `ended_on`; repeating the same end is a no-op."""
    actor, fact_id, ended_on = command.actor, command.fact_id, command.ended_on
    actor.require("record")
    code = normalize_uscc(command.uscc)
    require_date(ended_on, "ended_on")
    reason = str(text(command.reason, "reason"))
    registered(state, code)
    fact = fact_of(state, fact_id)
    authorize(ctx, actor, InField(fact.domain), ended_on)
    happened(ctx, ended_on, "ended_on")
    source = text(command.source_document, "source_document", required=False)
    if fact.ended_on is not None:
        if (fact.ended_on, fact.end_reason) == (ended_on, reason):
            return Decision(fact_id)
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
    ended = change(
        events.FactEnded, ctx, actor, source, fact_id=fact_id, ended_on=ended_on, reason=reason
    )
    return Decision(fact_id, (ended,))


def revoke_fact(state: SubjectState, command: RevokeFact, ctx: Context) -> Decision:
    """Void a fact from the start; repeating it is a no-op."""
    actor, fact_id = command.actor, command.fact_id
    actor.require("record")
    code = normalize_uscc(command.uscc)
    reason = str(text(command.reason, "reason"))
    registered(state, code)
    fact = fact_of(state, fact_id)
    authorize(ctx, actor, InField(fact.domain), fact.decided_on)
    source = text(command.source_document, "source_document", required=False)
    if fact.revoked:
        return Decision(fact_id)
    revoked = change(events.FactRevoked, ctx, actor, source, fact_id=fact_id, reason=reason)
    return Decision(fact_id, (revoked,))


def list_subject(state: SubjectState, command: ListSubject, ctx: Context) -> Decision:
    """Put the subject on a dishonesty list; idempotent on `(domain, document_no)`."""
    actor, listed_on, domain = command.actor, command.listed_on, command.domain
    actor.require("record")
    code = normalize_uscc(command.uscc)
    choice(command.list_type, ListType, "list_type")
    field(ctx, domain, "domain")
    require_date(listed_on, "listed_on")
    authorize(ctx, actor, PutOnList(command.list_type, domain), listed_on)
    document_no = str(text(command.document_no, "document_no"))
    who = str(text(command.authority, "authority"))
    registered(state, code)
    happened(ctx, listed_on, "listed_on")
    listing_id = command.listing_id or ctx.new_id
    existing_id = recorded_once(
        "listing",
        state.listing_keys,
        state.listings,
        domain=domain,
        document_no=document_no,
        new_id=listing_id,
        same=lambda known: (
            (
                state.listings[known].list_type,
                state.listings[known].listed_on,
                state.listings[known].authority,
            )
            == (command.list_type, listed_on, who)
        ),
    )
    if existing_id is not None:
        return Decision(existing_id)
    not_before_established(state, listed_on, "listed_on")
    listed = change(
        events.Listed,
        ctx,
        actor,
        document_no,
        listing_id=listing_id,
        list_type=command.list_type,
        listed_on=listed_on,
        domain=domain,
        document_no=document_no,
        authority=who,
    )
    return Decision(listing_id, (listed,))


def delist_subject(state: SubjectState, command: DelistSubject, ctx: Context) -> Decision:
    """Remove a listing (its authority only); repeating the same delisting is a no-op."""
    actor, listing_id, delisted_on = command.actor, command.listing_id, command.delisted_on
    actor.require("record")
    code = normalize_uscc(command.uscc)
    choice(command.reason, DelistReason, "reason")
    require_date(delisted_on, "delisted_on")
    registered(state, code)
    listing = listing_of(state, listing_id)
    # Only the listing authority removes a listing: whoever may put it on that list.
    authorize(
        ctx,
        actor,
        PutOnList(listing.list_type, listing.domain, name="listing_id"),
        listing.listed_on,
    )
    happened(ctx, delisted_on, "delisted_on")
    source = text(command.source_document, "source_document", required=False)
    if listing.delisted_on is not None:
        if (listing.delisted_on, listing.delist_reason) == (delisted_on, command.reason):
            return Decision(listing_id)
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
    delisted = change(
        events.Delisted,
        ctx,
        actor,
        source,
        listing_id=listing_id,
        delisted_on=delisted_on,
        reason=command.reason,
    )
    return Decision(listing_id, (delisted,))
