"""Credit repair: when a deduction fact becomes repairable (DOMAIN §6)."""

from __future__ import annotations

from datetime import date

from ledger.domain.model import EvaluationModel
from ledger.domain.state import FactState
from ledger.domain.values import add_months


def repair_eligible_on(fact: FactState, model: EvaluationModel) -> date | None:
    """The first date a repair may be requested for a deduction fact; None for a bonus."""
    indicator = model.indicator(fact.indicator, field_name="target_id")
    # pragma: no mutate below: a deduction always has a severity (the model refuses one without),
    # so `or` and `and` agree; the test only narrows the type.
    if not indicator.is_deduction or indicator.severity is None:  # pragma: no mutate
        return None
    minimum = model.repair_minimum[indicator.severity]
    return add_months(fact.decided_on, minimum.months)
