"""When a natural person's identity is due for erasure: the model's retention period (DOMAIN §9)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from ledger.domain.model import default_models
from ledger.domain.rules.retention import retention_ends_on
from ledger.domain.state import SubjectState
from ledger.domain.values import SubjectKind

#: 16:30 UTC on 30 June is already 1 July in China: the period counts from the China date.
LAST = datetime(2021, 6, 30, 16, 30, tzinfo=UTC)
TODAY = date(2026, 12, 1)


def _person(**changes: object) -> SubjectState:
    state = SubjectState(kind=SubjectKind.NATURAL_PERSON, last_recorded_at=LAST)
    return replace(state, **changes)  # type: ignore[arg-type]


def test_a_persons_identity_is_kept_five_years_from_the_china_date_of_its_last_record() -> None:
    assert retention_ends_on(_person(), TODAY, default_models()) == date(2026, 7, 1)


def test_organisations_erased_identities_and_persons_without_records_have_no_end() -> None:
    models = default_models()
    assert retention_ends_on(_person(kind=SubjectKind.ENTERPRISE), TODAY, models) is None
    assert retention_ends_on(_person(identity_erased=True), TODAY, models) is None
    assert retention_ends_on(_person(last_recorded_at=None), TODAY, models) is None
