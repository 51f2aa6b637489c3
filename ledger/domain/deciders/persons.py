"""Deciders of natural persons' rules (DOMAIN §9): how a person is registered, which indicators
never apply to one, and the erasure of an identity by crypto-shredding."""

from __future__ import annotations

from datetime import date

from ledger.domain import events
from ledger.domain.commands import EraseIdentity
from ledger.domain.deciders.base import Context, Decision, change, registered, text
from ledger.domain.errors import InvalidInput
from ledger.domain.model import person_rules
from ledger.domain.persons import SEALED, is_person_ref
from ledger.domain.state import SubjectState
from ledger.domain.values import SubjectKind, normalize_uscc, subject_id_for


def registrable(code: str, name: str, kind: str) -> None:
    """A natural person is registered under its ref with its identity sealed; an organisation
    under a credit code. Personal information never reaches an event in the clear."""
    person = kind == SubjectKind.NATURAL_PERSON
    if person != is_person_ref(code):
        raise InvalidInput(
            "a natural person is registered by identity number (its ref), an organisation by "
            "its credit code",
            field="uscc",
            rule="kind natural_person takes a person's ref; other kinds a credit code",
        )
    if person:
        match = SEALED.fullmatch(name)
        if match is None or match.group(1) != code:
            raise InvalidInput(
                "a natural person's name is stored only sealed under their data key: register "
                "persons with kind natural_person, id_number and name",
                field="name",
                rule="personal information is stored encrypted (DOMAIN §9)",
            )


def applicable(ctx: Context, state: SubjectState, indicator: str, on: date) -> None:
    """Refuse an indicator the model in force on `on` says never applies to natural persons."""
    if state.kind != SubjectKind.NATURAL_PERSON:
        return
    model = ctx.models.in_force(on).model
    if indicator in person_rules(model).not_applicable:
        raise InvalidInput(
            f"indicator '{indicator}' does not apply to natural persons under model "
            f"{model.version}: simple-procedure penalties on natural persons are not recorded",
            field="indicator",
            rule="Henan Social Credit Regulation; the model's natural_persons.not_applicable",
        )


def erase_identity(state: SubjectState, command: EraseIdentity, ctx: Context) -> Decision:
    """Record that a person's data key is destroyed; erasing an erased identity is a no-op."""
    actor = command.actor
    actor.require("erase")
    code = normalize_uscc(command.uscc)
    reason = str(text(command.reason, "reason"))
    registered(state, code)
    if state.kind != SubjectKind.NATURAL_PERSON:
        raise InvalidInput(
            "only a natural person's identity is erased",
            field="uscc",
            rule="erasure by crypto-shredding applies to natural persons (DOMAIN §9)",
        )
    subject_id = subject_id_for(code)
    if state.identity_erased:
        return Decision(subject_id)
    return Decision(subject_id, (change(events.IdentityErased, ctx, actor, None, reason=reason),))
