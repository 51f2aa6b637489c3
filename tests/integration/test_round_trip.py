"""A random history evaluated in memory equals the same history stored and reloaded."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.domain.rules.grade import evaluate_history
from ledger.service.application import CreditLedger
from tests.histories import BASE, build, histories
from tests.support import uscc

_codes = itertools.count(1000)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ops=histories,
    days=st.lists(st.integers(min_value=0, max_value=7 * 365), min_size=1, max_size=4),
)
def test_a_history_evaluates_the_same_after_storing_and_reloading(
    stored_ledger: CreditLedger,
    ops: list,
    days: list[int],  # type: ignore[type-arg]
) -> None:
    code = uscc(next(_codes))
    built = build(code, ops)
    stored_ledger.save(*built.events)
    reloaded = stored_ledger.history(code)
    assert [type(e) for e in reloaded] == [type(e) for e in built.events]
    assert [e.__dict__ for e in reloaded] == [e.__dict__ for e in built.events]
    for d in days:
        as_of = BASE + timedelta(days=d)
        for known_at in {
            built.events[0].timestamp,
            built.events[len(built.events) // 2].timestamp,
            built.events[-1].timestamp,
        }:
            assert evaluate_history(reloaded, as_of, known_at, stored_ledger.models) == (
                evaluate_history(built.events, as_of, known_at, stored_ledger.models)
            )
