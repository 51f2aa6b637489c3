"""What a decider is given (`Context`) and answers (`Decision`); the checks deciders share.

A decider is a pure function of a subject's state, a command and its context: it refuses the
command with a `LedgerError`, or says which events to append and what the command did. It never
reads a store, a clock or a random source — the context brings the record time and a fresh id.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from ledger.domain.catalog import Catalogue
from ledger.domain.dates import happened_on
from ledger.domain.errors import Conflict, InvalidInput, NotFound
from ledger.domain.events import SubjectEvent
from ledger.domain.inspections import InspectionDraw
from ledger.domain.model import ModelRegistry, RepairPolicy
from ledger.domain.rules import authority
from ledger.domain.rules.authority import Act
from ledger.domain.rules.supervision import PolicyRegistry
from ledger.domain.state import FactState, ListingState, ObjectionState, RepairState, SubjectState
from ledger.domain.text import natural_key, optional_text
from ledger.domain.values import Actor, china_date


@dataclass(frozen=True)
class Context:
    """What a command is decided against besides the stream: record time, rules and a fresh id."""

    #: Record time of the events the command adds (never before the stream's last event).
    now: datetime
    models: ModelRegistry
    catalogue: Catalogue
    policies: PolicyRegistry
    #: The id of a new fact, listing, objection, repair or evaluation the command names no id for.
    new_id: UUID
    #: The draw an inspection result is recorded against (None: no such draw).
    draw: InspectionDraw | None = None

    def repair_policy(self, on: date) -> RepairPolicy:
        """The repair policy in force on a date (graded with the models)."""
        return self.models.repairs.in_force(on)

    @property
    def today(self) -> date:
        """Today in China Standard Time, as of record time."""
        return china_date(self.now)


@dataclass(frozen=True)
class Change:
    """One event to append: its class and the values it is built with (record time included)."""

    event: type[SubjectEvent]
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Decision:
    """What a command does: the events to append (none: a no-op) and what to answer."""

    id: UUID
    changes: tuple[Change, ...] = ()
    #: The kind of a new item (`objection`, `repair`) whose subject is found by its id alone.
    locate: str | None = None
    due_on: date | None = None
    warning: str | None = None
    status: str | None = None

    @property
    def created(self) -> bool:
        """Whether the command appends anything."""
        return bool(self.changes)


def change(
    event: type[SubjectEvent], ctx: Context, actor: Actor, document: str | None, **values: Any
) -> Change:
    """An event of `actor`'s, from `document`, at the context's record time."""
    return Change(
        event,
        {
            **values,
            "timestamp": ctx.now,
            "actor_id": actor.actor_id,
            "department": actor.department,
            "source_document": document,
        },
    )


def text(value: str | None, field_name: str, *, required: bool = True) -> str | None:
    """Every text argument of every command passes the one text rule (DOMAIN §8)."""
    if value is None and required:
        raise InvalidInput(f"{field_name} is required", field=field_name, rule="non-empty text")
    return optional_text(value, field_name)


def choice(value: str, allowed: type[StrEnum], field_name: str) -> str:
    """A value of an enumeration, or InvalidInput listing the allowed values."""
    values = [m.value for m in allowed]
    if value not in values:
        raise InvalidInput(
            f"'{value}' is not one of: {', '.join(values)}", field=field_name, rule="enumeration"
        )
    return value


def field(ctx: Context, code: str, field_name: str) -> str:
    """A field of the catalogue, or InvalidInput."""
    return ctx.catalogue.field(code, field_name=field_name).code


def happened(ctx: Context, day: date, field_name: str) -> date:
    """A date of something that happened: within DOMAIN §8's bounds as of record time."""
    return happened_on(day, field_name, today=ctx.today)


def known_indicator(ctx: Context, code: str, on: date, field_name: str = "indicator") -> None:
    """Refuse an indicator no model version defines, listing those in force on `on`.

    Any version's indicators are accepted: a fact outlives the model it was recorded under.
    """
    if not ctx.models.knows_indicator(code):
        ctx.models.in_force(on).model.indicator(code, field_name=field_name)


def authorize(ctx: Context, actor: Actor, act: Act, on: date | None) -> None:
    """Ask the one authority rule about an act on a day (see `authorize_under`)."""
    authorize_under(ctx.models, actor, act, on)


def authorize_under(models: ModelRegistry, actor: Actor, act: Act, on: date | None) -> None:
    """Ask the one authority rule, under the model version in force on the act's date
    (the latest version when the act has no date)."""
    model = models.models[-1] if on is None else models.in_force(on).model
    authority.require(actor, act, model)


def registered(state: SubjectState, uscc: str) -> None:
    """Refuse a command on a subject the ledger does not hold."""
    if not state.registered:
        raise NotFound(f"no subject with credit code {uscc}", field="uscc")


def not_before_established(state: SubjectState, day: date, field_name: str) -> None:
    """Nothing is recorded about a subject before it was established."""
    established = state.established_on
    if established is not None and day < established:
        raise InvalidInput(
            f"{field_name} {day.isoformat()} is before the subject was established "
            f"({established.isoformat()})",
            field=field_name,
            rule="no record before established_on",
        )


def recorded_once(
    kind: str,
    keys: Mapping[tuple[str, str], UUID],
    ids: Container[UUID],
    *,
    domain: str,
    document_no: str,
    new_id: UUID,
    same: Callable[[UUID], bool],
) -> UUID | None:
    """A document is recorded once per subject (`(domain, document_no)`, compared by NFKC).

    Returns the id already holding the document when its payload is the `same` (the command is
    then a no-op), or None for a new record. A different payload under the document, or a new
    id already used under another document, is a Conflict.
    """
    existing_id = keys.get((domain, natural_key(document_no)))
    if existing_id is not None:
        if same(existing_id):
            return existing_id
        raise Conflict(
            f"document {domain}/{document_no} is already recorded as {kind} {existing_id} "
            "with a different payload",
            field="document_no",
            rule="(domain, document_no) is unique per subject",
        )
    if new_id in ids:
        raise Conflict(
            f"{kind} {new_id} already exists under another document",
            field=f"{kind}_id",
            rule="ids are unique",
        )
    return None


def fact_of(state: SubjectState, fact_id: UUID) -> FactState:
    """The fact with this id, or NotFound."""
    try:
        return state.facts[fact_id]
    except KeyError:
        raise NotFound(f"no fact {fact_id} on subject {state.uscc}", field="fact_id") from None


def listing_of(state: SubjectState, listing_id: UUID) -> ListingState:
    """The listing with this id, or NotFound."""
    try:
        return state.listings[listing_id]
    except KeyError:
        raise NotFound(
            f"no listing {listing_id} on subject {state.uscc}", field="listing_id"
        ) from None


def objection_of(state: SubjectState, objection_id: UUID) -> ObjectionState:
    """The objection with this id, or NotFound (also when no subject holds it)."""
    try:
        return state.objections[objection_id]
    except KeyError:
        raise NotFound(f"no objection {objection_id}", field="objection_id") from None


def repair_of(state: SubjectState, repair_id: UUID) -> RepairState:
    """The repair with this id, or NotFound (also when no subject holds it)."""
    try:
        return state.repairs[repair_id]
    except KeyError:
        raise NotFound(f"no repair {repair_id}", field="repair_id") from None


def target_of(state: SubjectState, target_id: UUID) -> tuple[str, date, str]:
    """Kind (`fact` or `listing`), valid-time start and field of an objection target."""
    if target_id in state.facts:
        fact = state.facts[target_id]
        return "fact", fact.decided_on, fact.domain
    if target_id in state.listings:
        listing = state.listings[target_id]
        return "listing", listing.listed_on, listing.domain
    raise NotFound(f"no fact or listing {target_id} on subject {state.uscc}", field="target_id")
