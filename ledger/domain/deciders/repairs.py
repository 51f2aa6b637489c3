"""Deciders of credit repair: the request, its decision and its revocation (DOMAIN §6)."""

from __future__ import annotations

from ledger.domain import events
from ledger.domain.commands import (
    DecideRepair,
    RequestRepair,
    RevokeRepair,
)
from ledger.domain.dates import require_date
from ledger.domain.deciders.base import (
    Context,
    Decision,
    authorize,
    change,
    fact_of,
    happened,
    registered,
    repair_of,
    text,
)
from ledger.domain.errors import Conflict, InvalidInput
from ledger.domain.rules.authority import InField
from ledger.domain.rules.queues import handling_due
from ledger.domain.rules.repair import require_repairable
from ledger.domain.state import SubjectState
from ledger.domain.values import normalize_uscc


def request_repair(state: SubjectState, command: RequestRepair, ctx: Context) -> Decision:
    """Ask for repair of a deduction fact once repairable; the same request again answers the
    original one."""
    actor, target_id, requested_on = command.actor, command.target_id, command.requested_on
    actor.require("file")
    code = normalize_uscc(command.uscc)
    require_date(requested_on, "requested_on")
    commitment = str(text(command.commitment, "commitment"))
    due = handling_due(requested_on)
    registered(state, code)
    happened(ctx, requested_on, "requested_on")
    fact = fact_of(state, target_id)
    require_repairable(
        fact,
        target_id,
        requested_on,
        ctx.models.in_force(requested_on).model,
        ctx.repair_policy(requested_on),
    )
    source = text(command.source_document, "source_document", required=False)
    repair_id = command.repair_id or ctx.new_id
    known = state.repairs.get(repair_id)
    if known is not None:
        if (known.target_id, known.requested_on, known.commitment) != (
            target_id,
            requested_on,
            commitment,
        ):
            raise Conflict(
                f"repair {repair_id} already exists with a different payload",
                field="repair_id",
                rule="ids are unique",
            )
        return Decision(repair_id, due_on=known.due_on, warning=due.warning, status=known.status)
    for repair in state.repairs.values():
        if repair.target_id == target_id and repair.status in ("pending", "approved"):
            if (repair.requested_on, repair.commitment) == (requested_on, commitment):
                return Decision(
                    repair.repair_id,
                    due_on=repair.due_on,
                    warning=due.warning,
                    status=repair.status,
                )
            raise Conflict(
                f"repair {repair.repair_id} of fact {target_id} is {repair.status}",
                field="target_id",
                rule="one open or approved repair per fact",
            )
    requested = change(
        events.RepairRequested,
        ctx,
        actor,
        source,
        repair_id=repair_id,
        target_id=target_id,
        requested_on=requested_on,
        commitment=commitment,
        due_on=due.due_on,
    )
    return Decision(
        repair_id,
        (requested,),
        locate="repair",
        due_on=due.due_on,
        warning=due.warning,
        status="pending",
    )


def decide_repair(state: SubjectState, command: DecideRepair, ctx: Context) -> Decision:
    """Approve or reject a pending repair; repeating the same decision is a no-op."""
    actor, repair_id, decided_on, approved = (
        command.actor,
        command.repair_id,
        command.decided_on,
        command.approved,
    )
    actor.require("record")
    require_date(decided_on, "decided_on")
    if not isinstance(approved, bool):
        raise InvalidInput("approved must be true or false", field="approved", rule="boolean")
    reason = str(text(command.reason, "reason"))
    repair = repair_of(state, repair_id)
    target = fact_of(state, repair.target_id)
    authorize(ctx, actor, InField(target.domain, "target's field"), target.decided_on)
    happened(ctx, decided_on, "decided_on")
    source = text(command.source_document, "source_document", required=False)
    answer = Decision(repair_id, status="approved" if approved else "rejected")
    if repair.approved is not None:
        if (repair.approved, repair.decided_on) == (approved, decided_on):
            return answer
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
    decided = change(
        events.RepairDecided,
        ctx,
        actor,
        source,
        repair_id=repair_id,
        approved=approved,
        decided_on=decided_on,
        reason=reason,
    )
    return Decision(repair_id, (decided,), status=answer.status)


def revoke_repair(state: SubjectState, command: RevokeRepair, ctx: Context) -> Decision:
    """Undo an approved repair found to rest on false materials; again is a no-op."""
    actor, repair_id, revoked_on = command.actor, command.repair_id, command.revoked_on
    actor.require("record")
    require_date(revoked_on, "revoked_on")
    reason = str(text(command.reason, "reason"))
    repair = repair_of(state, repair_id)
    target = fact_of(state, repair.target_id)
    authorize(ctx, actor, InField(target.domain, "target's field"), target.decided_on)
    happened(ctx, revoked_on, "revoked_on")
    source = text(command.source_document, "source_document", required=False)
    answer = Decision(repair_id, status="revoked")
    if repair.status == "revoked":
        if repair.revoked_on == revoked_on:
            return answer
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
    revoked = change(
        events.RepairRevoked,
        ctx,
        actor,
        source,
        repair_id=repair_id,
        revoked_on=revoked_on,
        reason=reason,
    )
    return Decision(repair_id, (revoked,), status="revoked")
