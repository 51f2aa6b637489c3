"""Retention of natural persons' identities (DOMAIN §9): when an identity is to be erased."""

from __future__ import annotations

from datetime import date

from ledger.domain.model import ModelRegistry, person_rules
from ledger.domain.state import SubjectState
from ledger.domain.values import SubjectKind, china_date


def retention_ends_on(state: SubjectState, today: date, models: ModelRegistry) -> date | None:
    """The first day a person's identity is no longer kept: the retention period of the model
    in force today, counted from the day of the person's last recorded event. None for an
    organisation, an identity already erased, or a model that sets no retention period."""
    if state.kind != SubjectKind.NATURAL_PERSON or state.identity_erased:
        return None
    if state.last_recorded_at is None:
        return None
    retention = person_rules(models.in_force(today).model).retention
    if retention is None:
        return None
    return retention.end_after(china_date(state.last_recorded_at))
