"""Populations: who is evaluated on a date (annual results, counts)."""

from __future__ import annotations

from datetime import date

from ledger.domain.state import SubjectState


def in_population(state: SubjectState, as_of: date) -> bool:
    """Whether a subject is in the population evaluated at D (annual results, counts):
    registered, and existing on that date."""
    return state.registered and state.exists_on(as_of)
