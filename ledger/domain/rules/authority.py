"""Who may record what (DOMAIN §4): the one decision every write asks, from the model's table."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ledger.domain.errors import Forbidden
from ledger.domain.model import EvaluationModel, Recorders
from ledger.domain.values import Actor

OWN_FIELDS = "a recorder writes only in its own fields"
SAME_KIND = "a correction keeps the indicator's kind (deduction into deduction, bonus into bonus)"


@dataclass(frozen=True)
class InField:
    """Act on something of a field (end or revoke a fact, decide a repair, an industry
    evaluation, an inspection): the actor must own the field. `name` is the request field."""

    field: str
    name: str = "domain"


@dataclass(frozen=True)
class Enrol:
    """Enrol a subject into fields (registration, joining a field): only into one's own."""

    fields: tuple[str, ...]
    name: str = "fields"


@dataclass(frozen=True)
class RecordIndicator:
    """Record a fact of an indicator in a domain (also: have authority over such a fact)."""

    indicator: str
    domain: str
    name: str = "indicator"


@dataclass(frozen=True)
class PutOnList:
    """Put a subject on a list in a domain (also: delist it, being the listing authority)."""

    list_type: str
    domain: str
    name: str = "list_type"


@dataclass(frozen=True)
class Correct:
    """Resolve an objection as corrected: void the target, re-date it, or change its indicator.

    `kind` is the kind of the target fact's indicator (None for a listing).
    """

    target: RecordIndicator | PutOnList
    kind: str | None = None
    void: bool = False
    decided_on: bool = False
    indicator: str | None = None


Act = InField | Enrol | RecordIndicator | PutOnList | Correct


@dataclass(frozen=True)
class Refusal:
    """Why an act is not allowed: the request field it concerns and the rule."""

    field: str
    rule: str
    message: str

    def error(self) -> Forbidden:
        """The refusal as the ledger's 403 error."""
        return Forbidden(self.message, field=self.field, rule=self.rule)


def decide(actor: Actor, act: Act, model: EvaluationModel) -> Refusal | None:
    """Whether `actor` may perform `act` under `model` (the version in force at the act's date):
    None when it may, else the refusal. Admins and the ledger's tooling may do anything the
    table governs; no one may change a correction's kind."""
    if isinstance(act, Correct):
        return _correct(actor, act, model)
    if actor.unrestricted:
        return None
    if isinstance(act, InField):
        return _own(actor, act.field, act.name)
    if isinstance(act, Enrol):
        for field in act.fields:
            refused = _own(actor, field, act.name)
            if refused is not None:
                return refused
        return None
    if isinstance(act, RecordIndicator):
        return _table(
            actor,
            model.authority.indicators.get(act.indicator),
            f"indicator '{act.indicator}'",
            act.domain,
            act.name,
            model,
        )
    return _table(
        actor,
        model.authority.list_types.get(act.list_type),
        f"list '{act.list_type}'",
        act.domain,
        act.name,
        model,
    )


def require(actor: Actor, act: Act, model: EvaluationModel) -> None:
    """Raise `Forbidden` unless `decide` allows the act."""
    refused = decide(actor, act, model)
    if refused is not None:
        raise refused.error()


def _own(actor: Actor, field: str, name: str) -> Refusal | None:
    if field in actor.fields:
        return None
    return Refusal(
        name,
        OWN_FIELDS,
        f"{name} '{field}' is not among this recorder's fields "
        f"({', '.join(sorted(actor.fields)) or 'none'})",
    )


def _table(
    actor: Actor,
    recorders: Recorders | None,
    what: str,
    domain: str,
    name: str,
    model: EvaluationModel,
) -> Refusal | None:
    refused = _own(actor, domain, "domain")
    if refused is not None:
        return refused
    if recorders is None:
        return Refusal(
            name,
            f"only an admin records what model {model.version} has no authority entry for",
            f"{what} has no entry in the authority table of model {model.version}",
        )
    if recorders.allow(domain):
        return None
    rule = f"{what} may be recorded by {recorders.describe()}; admins always may"
    return Refusal(
        name,
        f"{rule} (model {model.version})",
        f"a recorder may not record {what} in '{domain}': {rule} (model {model.version})",
    )


def _correct(actor: Actor, act: Correct, model: EvaluationModel) -> Refusal | None:
    if act.indicator is not None and act.kind is not None:
        new = model.indicators.get(act.indicator)
        if new is None or new.kind != act.kind:
            return Refusal(
                "correction.indicator",
                SAME_KIND,
                f"a {act.kind} may not be corrected into '{act.indicator}' "
                f"({'not in model ' + model.version if new is None else 'a ' + new.kind})",
            )
    if actor.unrestricted:
        return None
    refused = _own(actor, act.target.domain, "target's field")
    if refused is not None:
        return refused
    name = (
        "correction.indicator"
        if act.indicator is not None
        else "correction.decided_on"
        if act.decided_on
        else "correction.void"
    )
    # The correction stays within what the resolver could itself have recorded.
    refused = decide(actor, replace(act.target, name=name), model)
    if refused is None and act.indicator is not None:
        refused = decide(
            actor, RecordIndicator(act.indicator, act.target.domain, "correction.indicator"), model
        )
    return refused
