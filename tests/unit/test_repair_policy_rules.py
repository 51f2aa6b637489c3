"""The repair policy as versioned data (NDRC Order 36): a deduction stops counting after its
maximum publication period under a policy that has one; bonuses, and policies without one,
are untouched; the count of facts counting today and repair eligibility follow the policy."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

import pytest

from ledger.domain.errors import InvalidInput, NotEligible
from ledger.domain.model import ModelRegistry, RepairPolicy, RepairRegistry, default_models
from ledger.domain.rulebook import publishable_file
from ledger.domain.rules.grade import evaluate, fact_counts_at, next_change_on, publication_end
from ledger.domain.rules.queues import subject_counts
from ledger.domain.rules.repair import repair_eligible_on, require_repairable
from ledger.domain.rules.versions import parse_version
from ledger.domain.state import FactState, SubjectState

GENESIS = default_models()
MODEL = GENESIS.models[0]
ORDER_36 = parse_version("repair", publishable_file("repair-2026.toml"))
assert isinstance(ORDER_36, RepairPolicy)
BOTH = ModelRegistry(list(GENESIS.models), RepairRegistry((*GENESIS.repairs.policies, ORDER_36)))
AT = datetime(2025, 1, 1, tzinfo=UTC)


def fact(indicator: str, decided_on: date, n: int = 1) -> FactState:
    return FactState(
        fact_id=UUID(int=n),
        indicator=indicator,
        decided_on=decided_on,
        domain="taxation",
        document_no=f"doc-{n}",
        description=None,
        effective_until=None,
        recorded_at=AT,
    )


def test_a_deduction_stops_counting_when_its_maximum_publication_ends() -> None:
    arrears = fact("tax.arrears", date(2025, 1, 10))  # until ended, severity general
    assert publication_end(arrears, MODEL, ORDER_36) == date(2026, 1, 10)
    assert publication_end(arrears, MODEL, None) is None
    assert fact_counts_at(arrears, date(2026, 1, 9), MODEL, ORDER_36) == (
        True,
        date(2026, 1, 10),
        "",
    )
    assert fact_counts_at(arrears, date(2026, 1, 10), MODEL, ORDER_36) == (
        False,
        None,
        "publication ended on 2026-01-10 (maximum publication period of repair policy "
        "NDRC-36-2025)",
    )
    assert fact_counts_at(arrears, date(2030, 1, 1), MODEL) == (True, None, "")


def test_a_period_ending_first_is_still_said_as_before_and_bonuses_have_no_maximum() -> None:
    minor = fact("penalty.minor", date(2026, 5, 1))  # 3 months either way
    assert fact_counts_at(minor, date(2026, 8, 1), MODEL, ORDER_36)[2] == (
        "publication ended on 2026-08-01 (maximum publication period of repair policy NDRC-36-2025)"
    )
    honour = fact("honor.national", date(2024, 1, 1))
    assert publication_end(honour, MODEL, ORDER_36) is None
    assert fact_counts_at(honour, date(2026, 12, 31), MODEL, ORDER_36) == (
        True,
        date(2027, 1, 1),
        "",
    )


def test_the_evaluation_uses_the_repair_policy_in_force_at_d() -> None:
    state = SubjectState(uscc="x", registered_at=AT)
    arrears = fact("tax.arrears", date(2025, 1, 10))
    state.facts[arrears.fact_id] = arrears
    before = evaluate(state, date(2026, 3, 31), AT, BOTH)
    after = evaluate(state, date(2026, 4, 1), AT, BOTH)
    assert (before.score, after.score) == (75, 80)
    assert [e.reason for e in after.excluded] == [
        "publication ended on 2026-01-10 (maximum publication period of repair policy NDRC-36-2025)"
    ]
    # Until then the read models must look again on the policy's first day.
    assert next_change_on(before, BOTH) == date(2026, 4, 1)
    assert next_change_on(before, GENESIS) is None
    assert subject_counts(state, date(2026, 3, 31), BOTH).facts_counting_today == 1
    assert subject_counts(state, date(2026, 4, 1), BOTH).facts_counting_today == 0


def test_repair_eligibility_reads_the_policy_and_a_lapsed_fact_is_not_repaired() -> None:
    general = fact("penalty.general", date(2026, 1, 5))
    assert repair_eligible_on(general, MODEL, ORDER_36) == date(2026, 4, 5)
    with pytest.raises(NotEligible):
        require_repairable(general, general.fact_id, date(2026, 4, 4), MODEL, ORDER_36)
    lapsed = fact("tax.arrears", date(2025, 1, 10))
    with pytest.raises(InvalidInput, match="does not count on 2026-04-15: publication ended"):
        require_repairable(lapsed, lapsed.fact_id, date(2026, 4, 15), MODEL, ORDER_36)
    require_repairable(lapsed, lapsed.fact_id, date(2025, 12, 15), MODEL, ORDER_36)
