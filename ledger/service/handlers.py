"""Command handlers: each command type's way to its subject, its decider and the store.

`CreditLedger.handle(command)` looks the handler up here. A handler finds the subject the
command is about (by credit code, or by the objection or repair it names), lets the unit of work
load it and decide on its state, and answers what was written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from ledger.domain import commands
from ledger.domain.commands import Command
from ledger.domain.deciders import Context, Decision, decide
from ledger.domain.errors import LedgerError, NotFound
from ledger.domain.federation import Receipt, received
from ledger.domain.inspections import InspectionDraw
from ledger.domain.state import SubjectState
from ledger.domain.values import normalize_uscc

if TYPE_CHECKING:
    from ledger.service.application import CreditLedger


@dataclass(frozen=True)
class Written:
    """What a command did: the id it concerns, whether it appended, and the ledger position."""

    id: UUID
    created: bool
    position: int | None
    due_on: date | None = None
    warning: str | None = None
    status: str | None = None


Handler = Callable[["CreditLedger", Any], Written]


def _code(uscc: object) -> str | None:
    """The stream a credit code names; None when it names none (its decider refuses it in turn,
    after the checks that come first)."""
    try:
        return normalize_uscc(uscc)  # type: ignore[arg-type]
    except (LedgerError, TypeError, AttributeError):
        return None


def _decided(
    ledger: CreditLedger,
    uscc: str | None,
    command: commands.SubjectCommand,
    *,
    draw: InspectionDraw | None = None,
    after_last: bool = True,
    receipt: Receipt | None = None,
) -> Written:
    """Decide the command on its subject's state and store what was decided (with the
    `receipt` of a downstream ledger's delivery after its events, DOMAIN §10)."""
    # Drawn once, so a retried command keeps the id it would have been given.
    new_id = uuid4()

    def on_state(state: SubjectState, now: datetime) -> Decision:
        context = Context(
            now=now,
            models=ledger.models,
            catalogue=ledger.catalogue,
            policies=ledger.policies,
            new_id=new_id,
            draw=draw,
        )
        decision = decide(state, command, context)
        if receipt is None:
            return decision
        return received(decision, context, command.actor, receipt, state)

    decision, position = ledger.unit_of_work.change(uscc, on_state, after_last=after_last)
    return Written(
        decision.id,
        decision.created,
        position,
        due_on=decision.due_on,
        warning=decision.warning,
        status=decision.status,
    )


def on_subject(ledger: CreditLedger, command: Any, receipt: Receipt | None = None) -> Written:
    """A command naming its subject by credit code."""
    return _decided(ledger, _code(command.uscc), command, receipt=receipt)


def on_registration(
    ledger: CreditLedger, command: commands.RegisterSubject, receipt: Receipt | None = None
) -> Written:
    """A registration: record time is the clock's alone (a new stream has no last event)."""
    return _decided(ledger, _code(command.uscc), command, after_last=False, receipt=receipt)


def on_objection(
    ledger: CreditLedger, command: commands.ResolveObjection, receipt: Receipt | None = None
) -> Written:
    """A command naming an objection: its subject is found by the objection's id."""
    uscc = ledger.unit_of_work.locate("objection", command.objection_id)
    return _decided(ledger, uscc, command, receipt=receipt)


def on_repair(
    ledger: CreditLedger,
    command: commands.DecideRepair | commands.RevokeRepair,
    receipt: Receipt | None = None,
) -> Written:
    """A command naming a repair: its subject is found by the repair's id."""
    uscc = ledger.unit_of_work.locate("repair", command.repair_id)
    return _decided(ledger, uscc, command, receipt=receipt)


def on_inspection_result(ledger: CreditLedger, command: commands.RecordInspectionResult) -> Written:
    """An inspection result, decided against its draw."""
    try:
        draw: InspectionDraw | None = ledger.get_draw(command.draw_id)
    except NotFound:
        draw = None
    return _decided(ledger, _code(command.uscc), command, draw=draw)


def on_publication(ledger: CreditLedger, command: commands.PublishVersion) -> Written:
    """A model or policy version goes to the global rulebook stream, not a subject's."""
    return ledger.publish(command)


def on_inspectors(ledger: CreditLedger, command: commands.RegisterInspectors) -> Written:
    """An inspector pool is its field's own stream, not a subject's."""
    return ledger.register_inspectors(
        command.field, inspectors=command.inspectors, actor=command.actor
    )


#: The handler of each command type.
HANDLERS: dict[type[Any], Handler] = {
    commands.RegisterSubject: on_registration,
    commands.RecordFact: on_subject,
    commands.EndFact: on_subject,
    commands.RevokeFact: on_subject,
    commands.ListSubject: on_subject,
    commands.DelistSubject: on_subject,
    commands.FileObjection: on_subject,
    commands.ResolveObjection: on_objection,
    commands.RequestRepair: on_subject,
    commands.DecideRepair: on_repair,
    commands.RevokeRepair: on_repair,
    commands.RecordIndustryEvaluation: on_subject,
    commands.JoinField: on_subject,
    commands.LeaveField: on_subject,
    commands.RecordInspectionResult: on_inspection_result,
    commands.EraseIdentity: on_subject,
    commands.RegisterInspectors: on_inspectors,
    commands.PublishVersion: on_publication,
}


#: The commands a downstream ledger's delivery may carry (its records of subjects, §10), each
#: with its handler from HANDLERS; these handlers take the delivery's receipt.
DELIVERABLE: dict[type[Any], Callable[..., Written]] = {
    kind: HANDLERS[kind]
    for kind in (
        commands.RegisterSubject,
        commands.RecordFact,
        commands.EndFact,
        commands.RevokeFact,
        commands.ListSubject,
        commands.DelistSubject,
        commands.FileObjection,
        commands.ResolveObjection,
        commands.RequestRepair,
        commands.DecideRepair,
        commands.RevokeRepair,
        commands.JoinField,
        commands.LeaveField,
    )
}


def handle(ledger: CreditLedger, command: Command) -> Written:
    """Carry out one command on the ledger."""
    return HANDLERS[type(command)](ledger, command)


def handle_delivered(ledger: CreditLedger, command: Command, receipt: Receipt) -> Written:
    """Carry out a downstream ledger's delivered command, noting where it came from."""
    handler = DELIVERABLE.get(type(command))
    if handler is None:
        raise LedgerError(
            f"{type(command).__name__} is not delivered between ledgers",
            field="command",
            rule="deliveries carry registrations, facts, listings, objections and repairs",
        )
    return handler(ledger, command, receipt)
