"""Commands: what a caller asks the ledger to write, one frozen value per subject command.

Fields are named as the import file's arguments (`credit_ledger.bulk`); an id left out is drawn
by the ledger when the command is handled. Every command names its acting party (`actor`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger.domain.dates import parse_date
from ledger.domain.errors import InvalidInput
from ledger.domain.values import Actor


@dataclass(frozen=True, kw_only=True)
class RegisterSubject:
    """Register a subject; the same code with the same details again is a no-op."""

    uscc: str
    name: str
    kind: str
    actor: Actor
    fields: Sequence[str] = ()
    established_on: date | None = None
    source_document: str | None = None


@dataclass(frozen=True, kw_only=True)
class EraseIdentity:
    """Destroy a natural person's identity (DOMAIN §9): admins, with the lawful reason."""

    uscc: str
    reason: str
    actor: Actor


@dataclass(frozen=True, kw_only=True)
class RecordFact:
    """Record a credit fact (DOMAIN §4); idempotent on `(domain, document_no)`."""

    uscc: str
    indicator: str
    decided_on: date
    domain: str
    document_no: str
    actor: Actor
    description: str | None = None
    effective_until: date | None = None
    fact_id: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class EndFact:
    """End a fact from `ended_on` (e.g. arrears paid, anomaly removed)."""

    uscc: str
    fact_id: UUID
    ended_on: date
    reason: str
    actor: Actor
    source_document: str | None = None


@dataclass(frozen=True, kw_only=True)
class RevokeFact:
    """Revoke a fact: void from the start (the decision itself was revoked)."""

    uscc: str
    fact_id: UUID
    reason: str
    actor: Actor
    source_document: str | None = None


@dataclass(frozen=True, kw_only=True)
class ListSubject:
    """Put a subject on a joint dishonesty list; idempotent on `(domain, document_no)`."""

    uscc: str
    list_type: str
    listed_on: date
    domain: str
    document_no: str
    authority: str
    actor: Actor
    listing_id: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class DelistSubject:
    """Remove a listing (listing authority only); `revoked` voids it from the start."""

    uscc: str
    listing_id: UUID
    delisted_on: date
    reason: str
    actor: Actor
    source_document: str | None = None


@dataclass(frozen=True, kw_only=True)
class FileObjection:
    """File an objection to a fact or listing; due in 10 working days (DOMAIN §5)."""

    uscc: str
    target_id: UUID
    filed_on: date
    grounds: str
    actor: Actor
    source_document: str | None = None
    objection_id: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class ResolveObjection:
    """Resolve an objection; `corrected` voids or changes the disputed record (DOMAIN §5)."""

    objection_id: UUID
    outcome: str
    resolved_on: date
    actor: Actor
    note: str | None = None
    void: bool = False
    indicator: str | None = None
    decided_on: date | None = None
    source_document: str | None = None


@dataclass(frozen=True, kw_only=True)
class RequestRepair:
    """Ask for credit repair of a deduction fact once its minimum publication period passed."""

    uscc: str
    target_id: UUID
    requested_on: date
    commitment: str
    actor: Actor
    source_document: str | None = None
    repair_id: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class DecideRepair:
    """Approve (the fact stops counting from `decided_on`) or reject a repair request."""

    repair_id: UUID
    approved: bool
    decided_on: date
    reason: str
    actor: Actor
    source_document: str | None = None


@dataclass(frozen=True, kw_only=True)
class RevokeRepair:
    """Revoke an approved repair (false materials): the fact counts again from `revoked_on`."""

    repair_id: UUID
    revoked_on: date
    reason: str
    actor: Actor
    source_document: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordIndustryEvaluation:
    """Record a field's industry evaluation, graded A/B/C/D by the unified scale or mapping."""

    uscc: str
    domain: str
    evaluated_on: date
    model: str
    actor: Actor
    score: Decimal | str | None = None
    native_grade: str | None = None
    document_no: str | None = None
    evaluation_id: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class JoinField:
    """Bring a subject under a field's supervision from `joined_on`."""

    uscc: str
    field: str
    joined_on: date
    actor: Actor


@dataclass(frozen=True, kw_only=True)
class LeaveField:
    """Take a subject out of a field's supervision from `left_on`."""

    uscc: str
    field: str
    left_on: date
    actor: Actor


@dataclass(frozen=True, kw_only=True)
class RecordInspectionResult:
    """Record a drawn subject's inspection: `passed`, or a `finding` that becomes a fact."""

    draw_id: UUID
    uscc: str
    outcome: str
    inspected_on: date
    actor: Actor
    indicator: str | None = None
    document_no: str | None = None
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class RegisterInspectors:
    """Register (or replace) a field's inspector pool for double-random draws."""

    field: str
    inspectors: Sequence[str]
    actor: Actor


@dataclass(frozen=True, kw_only=True)
class PublishVersion:
    """Publish a version of the evaluation model, the supervision policy or the repair policy
    (admin): `source` is the file's text, validated before it is stored on the global stream.
    Publishing the same file again is a no-op."""

    kind: str
    source: str
    actor: Actor
    reason: str


#: A command that writes to one subject's stream.
SubjectCommand = (
    RegisterSubject
    | RecordFact
    | EndFact
    | RevokeFact
    | ListSubject
    | DelistSubject
    | FileObjection
    | ResolveObjection
    | RequestRepair
    | DecideRepair
    | RevokeRepair
    | RecordIndustryEvaluation
    | JoinField
    | LeaveField
    | RecordInspectionResult
    | EraseIdentity
)
Command = SubjectCommand | RegisterInspectors | PublishVersion

#: The import file's command names (`credit_ledger.bulk`) and the command each one is
#: (inspection results are recorded against a draw, never imported).
COMMANDS: dict[str, type[Command]] = {
    "register_subject": RegisterSubject,
    "record_fact": RecordFact,
    "end_fact": EndFact,
    "revoke_fact": RevokeFact,
    "list_subject": ListSubject,
    "delist_subject": DelistSubject,
    "file_objection": FileObjection,
    "resolve_objection": ResolveObjection,
    "request_repair": RequestRepair,
    "decide_repair": DecideRepair,
    "revoke_repair": RevokeRepair,
    "record_industry_evaluation": RecordIndustryEvaluation,
    "register_inspectors": RegisterInspectors,
    "join_field": JoinField,
    "leave_field": LeaveField,
}


#: Arguments of an import line (or a delivery) that are dates, and that are ids.
DATE_ARGUMENTS = frozenset(
    {
        "decided_on",
        "effective_until",
        "ended_on",
        "listed_on",
        "delisted_on",
        "filed_on",
        "resolved_on",
        "requested_on",
        "established_on",
        "evaluated_on",
        "revoked_on",
        "joined_on",
        "left_on",
    }
)
ID_ARGUMENTS = frozenset(
    {"fact_id", "listing_id", "objection_id", "repair_id", "target_id", "evaluation_id"}
)


def argument(key: str, value: Any) -> Any:
    """One JSON argument as the command takes it: dates and ids parsed (InvalidInput naming
    `args.KEY` when one does not parse); everything else as given, for the deciders to check."""
    if value is None:
        return None
    if key in DATE_ARGUMENTS:
        try:
            return parse_date(value, key)
        except InvalidInput as refused:
            raise InvalidInput(
                f"args.{key}: {refused.message}", field=f"args.{key}", rule=refused.rule
            ) from None
    if key in ID_ARGUMENTS:
        try:
            return UUID(str(value))
        except ValueError:
            raise InvalidInput(
                f"args.{key}: {value!r} is not a valid {key}", field=f"args.{key}", rule="a UUID"
            ) from None
    return value


def command_of(name: str, args: Mapping[str, Any], actor: Actor) -> Command:
    """The command an import-file name and JSON arguments stand for, by `actor`."""
    if name not in COMMANDS:
        raise InvalidInput(
            f"unknown command {name!r}", field="command", rule=", ".join(sorted(COMMANDS))
        )
    kwargs = {key: argument(key, value) for key, value in args.items() if key != "actor"}
    try:
        return COMMANDS[name](**kwargs, actor=actor)
    except TypeError as exc:
        raise InvalidInput(
            f"arguments do not fit {name}: {exc}", field="args", rule=f"the arguments of {name}"
        ) from None
