"""`CreditLedger.evaluate_many` answers exactly what `evaluate` answers, subject by subject, on
each store, for any valid date and record time, across the store's many-streams queries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from credit_ledger.bootstrap import open_ledger
from credit_ledger.demo import SimulatedClock, load, plan
from ledger.domain.errors import InvalidInput, NotFound
from ledger.service.application import CreditLedger
from ledger.store import stores
from tests.support import postgres_schema, uscc


@pytest.fixture(params=["sqlite", "postgres"])
def demo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CreditLedger]:
    """A ledger holding the demo's histories of 40 subjects (facts, listings, objections…)."""
    if request.param == "postgres":
        with postgres_schema() as url:
            yield from _loaded(url)
    else:
        yield from _loaded(f"sqlite:///{tmp_path}/demo.db")


def _loaded(url: str) -> Iterator[CreditLedger]:
    clock = SimulatedClock(datetime(2019, 1, 1, tzinfo=UTC))
    ledger = open_ledger(url, clock=clock)
    try:
        actions, _ = plan(40, 3, date(2026, 11, 26))
        for _ in load(ledger, clock, actions):
            pass
        yield ledger
    finally:
        ledger.close()


def test_each_subject_of_a_batch_is_evaluated_as_the_single_read_does(
    demo: CreditLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Few streams to a query, so the batch crosses several of the store's queries.
    monkeypatch.setattr(stores, "STREAMS_PER_QUERY", 7)
    codes = [e.uscc for e in demo.subject_registrations()]
    assert len(codes) >= 40
    unknown = uscc(99_001)
    asked = [unknown, *reversed(codes), codes[0]]
    outcomes = set()
    for as_of, known_at in [
        (date(2023, 10, 31), datetime(2023, 11, 1, tzinfo=UTC)),
        (date(2021, 6, 30), datetime(2026, 7, 1, tzinfo=UTC)),
        (date(2026, 1, 1), datetime(2020, 3, 1, tzinfo=UTC)),  # many not yet registered
    ]:
        batch = demo.evaluate_many(asked, as_of=as_of, known_at=known_at)
        assert (batch.as_of, batch.known_at) == (as_of, known_at)
        assert list(batch.results) == [unknown, *reversed(codes)]  # distinct, in order asked
        for code in codes:
            got = batch.results[code]
            outcomes.add(type(got).__name__)
            if isinstance(got, NotFound):
                with pytest.raises(NotFound) as missing:
                    demo.evaluate(code, as_of=as_of, known_at=known_at)
                assert (got.message, got.field) == (missing.value.message, missing.value.field)
            else:
                assert got == demo.evaluate(code, as_of=as_of, known_at=known_at)
        assert isinstance(batch.results[unknown], NotFound)
    assert outcomes == {"Evaluation", "NotFound"}  # registered, and not yet known at K


def test_a_batch_holds_one_to_a_thousand_codes(demo: CreditLedger) -> None:
    code = next(iter(demo.subject_registrations())).uscc
    for size in (0, 1001):
        with pytest.raises(InvalidInput) as refused:
            demo.evaluate_many([code] * size)
        assert (refused.value.field, refused.value.rule) == (
            "uscc",
            "1 to 1000 credit codes per batch",
        )
    assert len(demo.evaluate_many([code] * 1000).results) == 1
