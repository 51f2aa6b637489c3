"""Who is evaluated on a date: registered subjects that exist on it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from ledger.domain.rules.population import in_population
from ledger.domain.state import SubjectState

AT = datetime(2024, 1, 1, tzinfo=UTC)


def test_a_registered_subject_is_in_the_population_from_its_establishment_day() -> None:
    state = SubjectState(uscc="x", registered_at=AT, established_on=date(2022, 6, 1))
    assert in_population(state, date(2022, 6, 1))
    assert in_population(state, date(2023, 10, 31))
    assert not in_population(state, date(2022, 5, 31))


def test_a_subject_without_an_establishment_day_is_in_every_population_once_registered() -> None:
    assert in_population(SubjectState(uscc="x", registered_at=AT), date(2020, 10, 31))


def test_an_unregistered_state_is_in_no_population() -> None:
    assert not in_population(SubjectState(), date(2023, 10, 31))
    assert not in_population(SubjectState(established_on=date(2020, 1, 1)), date(2023, 10, 31))
