"""Credit repair: when a deduction fact becomes repairable, and which facts may be (DOMAIN §6)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from ledger.domain.errors import InvalidInput, NotEligible
from ledger.domain.model import EvaluationModel, RepairPolicy
from ledger.domain.rules.grade import fact_counts_at
from ledger.domain.state import FactState
from ledger.domain.values import add_months


def repair_eligible_on(
    fact: FactState, model: EvaluationModel, policy: RepairPolicy | None = None
) -> date | None:
    """The first date a repair may be requested for a deduction fact; None for a bonus.

    The minimum publication period is the repair policy's (by default the model's own table,
    the genesis repair policy)."""
    indicator = model.indicator(fact.indicator, field_name="target_id")
    # pragma: no mutate below: a deduction always has a severity (the model refuses one without),
    # so `or` and `and` agree; the test only narrows the type.
    if not indicator.is_deduction or indicator.severity is None:  # pragma: no mutate
        return None
    minimum = (policy or RepairPolicy.of_model(model)).minimum[indicator.severity]
    return add_months(fact.decided_on, minimum.months)


def require_repairable(
    fact: FactState,
    target_id: UUID,
    requested_on: date,
    model: EvaluationModel,
    policy: RepairPolicy | None = None,
) -> None:
    """Refuse a repair of a bonus, before the minimum publication period, or of a fact that no
    longer counts on the day of the request."""
    eligible_on = repair_eligible_on(fact, model, policy)
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
    counts, _, why = fact_counts_at(fact, requested_on, model, policy)
    if not counts:
        raise InvalidInput(
            f"fact {target_id} does not count on {requested_on.isoformat()}: {why}",
            field="target_id",
            rule="only a fact that still counts can be repaired",
        )
