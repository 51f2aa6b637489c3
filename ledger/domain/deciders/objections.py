"""Deciders of objections: filing one, and resolving it with the correction it orders."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from ledger.domain import events
from ledger.domain.commands import (
    FileObjection,
    ResolveObjection,
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
    happened,
    known_indicator,
    not_before_established,
    objection_of,
    registered,
    target_of,
    text,
)
from ledger.domain.errors import Conflict, InvalidInput
from ledger.domain.rules.authority import Correct, InField, PutOnList, RecordIndicator
from ledger.domain.rules.queues import handling_due
from ledger.domain.state import ObjectionState, SubjectState
from ledger.domain.text import natural_key
from ledger.domain.values import Actor, ObjectionOutcome, normalize_uscc
from ledger.domain.workdays import DueDate


def file_objection(state: SubjectState, command: FileObjection, ctx: Context) -> Decision:
    """File an objection, due in 10 working days; the same objection filed again answers the
    original one ("the same": target, filing date and grounds compared by NFKC, pending or not:
    a repeated filing is not a new dispute)."""
    actor, target_id, filed_on = command.actor, command.target_id, command.filed_on
    actor.require("file")
    code = normalize_uscc(command.uscc)
    require_date(filed_on, "filed_on")
    grounds = str(text(command.grounds, "grounds"))
    due = handling_due(filed_on)
    registered(state, code)
    happened(ctx, filed_on, "filed_on")
    source = text(command.source_document, "source_document", required=False)
    objection_id = command.objection_id or ctx.new_id
    key = (target_id, filed_on, natural_key(grounds))
    known = state.objections.get(objection_id)
    if known is not None:
        if (known.target_id, known.filed_on, natural_key(known.grounds)) == key:
            return _filed(known, due)
        raise Conflict(
            f"objection {objection_id} already exists with a different payload",
            field="objection_id",
            rule="ids are unique",
        )
    for earlier in state.objections.values():
        if (earlier.target_id, earlier.filed_on, natural_key(earlier.grounds)) == key:
            return _filed(earlier, due)
    kind, starts_on, _ = target_of(state, target_id)
    pending = state.pending_objection_for(target_id)
    if pending is not None:
        raise Conflict(
            f"objection {pending.objection_id} to {target_id} is still pending",
            field="target_id",
            rule="one pending objection per fact or listing",
        )
    if kind == "fact" and state.facts[target_id].void:
        raise Conflict(f"fact {target_id} is already void", field="target_id", rule="void facts")
    if filed_on < starts_on:
        raise InvalidInput(
            f"filed_on {filed_on.isoformat()} is before the disputed record's date "
            f"{starts_on.isoformat()}",
            field="filed_on",
            rule="an objection follows the record it disputes",
        )
    filed = change(
        events.ObjectionFiled,
        ctx,
        actor,
        source,
        objection_id=objection_id,
        target_id=target_id,
        target_kind=kind,
        filed_on=filed_on,
        grounds=grounds,
        due_on=due.due_on,
    )
    return Decision(
        objection_id,
        (filed,),
        locate="objection",
        due_on=due.due_on,
        warning=due.warning,
        status="pending",
    )


def _filed(objection: ObjectionState, due: DueDate) -> Decision:
    """The answer to an objection filed again: the original one, as it stands."""
    return Decision(
        objection.objection_id,
        due_on=objection.due_on,
        warning=due.warning,
        status="pending" if objection.pending else "resolved",
    )


def resolve_objection(state: SubjectState, command: ResolveObjection, ctx: Context) -> Decision:
    """Resolve an objection; a `corrected` outcome also adds the correction it orders."""
    actor, objection_id, resolved_on = command.actor, command.objection_id, command.resolved_on
    void, indicator, decided_on = command.void, command.indicator, command.decided_on
    actor.require("record")
    choice(command.outcome, ObjectionOutcome, "outcome")
    require_date(resolved_on, "resolved_on")
    correcting = command.outcome == ObjectionOutcome.CORRECTED
    if not correcting and (void or indicator is not None or decided_on is not None):
        raise InvalidInput(
            f"a correction goes only with outcome 'corrected', not '{command.outcome}'",
            field="correction",
            rule="correction only for a corrected outcome",
        )
    objection = objection_of(state, objection_id)
    kind, start, domain = target_of(state, objection.target_id)
    authorize(ctx, actor, InField(domain, "target's field"), start)
    happened(ctx, resolved_on, "resolved_on")
    if correcting and objection.pending:
        check_correction(ctx, kind, void, indicator, decided_on, resolved_on)
        authorize_correction(ctx, state, objection.target_id, actor, void, indicator, decided_on)
    note = text(command.note, "note", required=False)
    source = text(command.source_document, "source_document", required=False)
    answer = Decision(objection_id, status="resolved")
    if not objection.pending:
        if (objection.outcome, objection.resolved_on) == (command.outcome, resolved_on):
            return answer
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
    changes: list[Change] = [
        change(
            events.ObjectionResolved,
            ctx,
            actor,
            source,
            objection_id=objection_id,
            outcome=command.outcome,
            resolved_on=resolved_on,
            note=note,
        )
    ]
    if correcting and objection.target_kind == "listing":
        # Listings are removed only by their authority; the resolving party is that authority.
        changes.append(
            change(
                events.Delisted,
                ctx,
                actor,
                source,
                listing_id=objection.target_id,
                delisted_on=resolved_on,
                reason="revoked",
            )
        )
    elif correcting:
        if decided_on is not None:
            not_before_established(state, decided_on, "correction.decided_on")
        changes.append(
            change(
                events.FactCorrected,
                ctx,
                actor,
                source,
                fact_id=objection.target_id,
                objection_id=objection_id,
                void=void,
                indicator=indicator,
                decided_on=decided_on,
            )
        )
    return Decision(objection_id, tuple(changes), status="resolved")


def check_correction(
    ctx: Context,
    kind: str,
    void: bool,
    indicator: str | None,
    decided_on: date | None,
    resolved_on: date,
) -> None:
    """A correction says what it changes, within its kind: a listing is only voided; a fact is
    voided, or given another indicator or decision date (a known one, a date that happened)."""
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
        known_indicator(ctx, indicator, resolved_on, "correction.indicator")
    if decided_on is not None:
        happened(ctx, decided_on, "correction.decided_on")


def authorize_correction(
    ctx: Context,
    state: SubjectState,
    target_id: UUID,
    actor: Actor,
    void: bool,
    indicator: str | None,
    decided_on: date | None,
) -> None:
    """A correction stays within what the resolver may itself record, under the model in force
    at the fact's date as corrected."""
    if target_id in state.listings:
        listing = state.listings[target_id]
        target = PutOnList(listing.list_type, listing.domain)
        authorize(ctx, actor, Correct(target, void=void), listing.listed_on)
        return
    fact = fact_of(state, target_id)
    recorded = ctx.models.definition(fact.indicator, fact.decided_on)
    authorize(
        ctx,
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
