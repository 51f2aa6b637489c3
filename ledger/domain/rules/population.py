"""Populations: who is evaluated on a date (annual results, counts)."""

from __future__ import annotations

from datetime import date

from ledger.domain.model import ModelRegistry, default_models, person_rules
from ledger.domain.state import SubjectState
from ledger.domain.values import SubjectKind


def in_population(state: SubjectState, as_of: date, models: ModelRegistry | None = None) -> bool:
    """Whether a subject is in the population evaluated at D (annual results, counts):
    registered, and existing on that date; a natural person only if the model in force at D
    counts them (DOMAIN §9)."""
    if not (state.registered and state.exists_on(as_of)):
        return False
    if state.kind == SubjectKind.NATURAL_PERSON:
        model = (models or default_models()).in_force(as_of).model
        return person_rules(model).in_population
    return True
