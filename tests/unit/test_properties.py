"""Properties of time travel: what was recorded after K never changes state(D, K)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.model import default_models
from ledger.domain.rules.grade import evaluate_history
from tests.histories import BASE, build, histories
from tests.support import uscc


@settings(max_examples=150, deadline=None)
@given(ops=histories, d=st.integers(min_value=0, max_value=7 * 365), cut=st.integers(min_value=0))
def test_events_recorded_after_k_never_change_the_state_at_d_as_known_at_k(
    ops: list,
    d: int,
    cut: int,  # type: ignore[type-arg]
) -> None:
    events = build(uscc(1), ops).events
    known_at = events[cut % len(events)].timestamp
    as_of = BASE + timedelta(days=d)
    known_prefix = [e for e in events if e.timestamp <= known_at]
    models = default_models()
    assert evaluate_history(events, as_of, known_at, models) == evaluate_history(
        known_prefix, as_of, known_at, models
    )


@settings(max_examples=100, deadline=None)
@given(ops=histories, d=st.integers(min_value=0, max_value=7 * 365))
def test_the_score_stays_within_0_and_100_and_the_grade_matches_it(ops: list, d: int) -> None:  # type: ignore[type-arg]
    events = build(uscc(1), ops).events
    ev = evaluate_history(events, BASE + timedelta(days=d), events[-1].timestamp, default_models())
    assert 0 <= ev.score <= 100
    expected = "优" if ev.score > 85 else "良" if ev.score > 70 else "中" if ev.score > 50 else "差"
    assert ev.score_grade == expected
    assert ev.grade == ("差" if ev.listed else expected)
    assert ev.score == max(0, min(100, 80 - ev.deductions + min(ev.bonuses, 20)))
    assert date(2020, 1, 1) <= ev.as_of
