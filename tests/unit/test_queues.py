"""Queue statuses and subject counts (`rules.queues`): overdue from the day after the due date."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from ledger.domain.model import default_models
from ledger.domain.rules.queues import (
    in_queue,
    objection_status,
    overdue,
    repair_status,
    subject_counts,
)
from ledger.domain.state import FactState, ListingState, ObjectionState, RepairState, SubjectState

AT = datetime(2025, 1, 1, tzinfo=UTC)
DUE = date(2025, 3, 14)


def _objection(**changes: object) -> ObjectionState:
    o = ObjectionState(uuid4(), uuid4(), "fact", date(2025, 3, 1), "理由", DUE, AT)
    for key, value in changes.items():
        setattr(o, key, value)
    return o


def _repair(**changes: object) -> RepairState:
    r = RepairState(uuid4(), uuid4(), date(2025, 3, 1), "承诺", DUE, AT)
    for key, value in changes.items():
        setattr(r, key, value)
    return r


@pytest.mark.parametrize(
    ("today", "expected"),
    [(date(2025, 3, 13), False), (DUE, False), (date(2025, 3, 15), True)],
)
def test_an_item_is_overdue_only_after_its_due_date(today: date, expected: bool) -> None:
    assert overdue(DUE, today) is expected


def test_a_pending_objection_is_overdue_past_due_and_a_resolved_one_never() -> None:
    assert objection_status(_objection(), DUE) == "pending"
    assert objection_status(_objection(), date(2025, 3, 15)) == "overdue"
    resolved = _objection(outcome="rejected", resolved_on=date(2025, 4, 1))
    assert objection_status(resolved, date(2026, 1, 1)) == "resolved"


def test_an_undecided_repair_is_overdue_past_due_and_a_decided_one_keeps_its_decision() -> None:
    assert repair_status(_repair(), DUE) == "pending"
    assert repair_status(_repair(), date(2025, 3, 15)) == "overdue"
    late = date(2026, 1, 1)
    assert repair_status(_repair(approved=True, decided_on=DUE), late) == "approved"
    assert repair_status(_repair(approved=False, decided_on=DUE), late) == "rejected"
    revoked = _repair(approved=True, decided_on=DUE, revoked_on=date(2025, 5, 1))
    assert repair_status(revoked, late) == "revoked"


@pytest.mark.parametrize(
    ("status", "wanted", "expected"),
    [
        ("pending", None, True),
        ("resolved", None, True),
        ("overdue", "pending", True),
        ("pending", "pending", True),
        ("resolved", "pending", False),
        ("pending", "overdue", False),
        ("overdue", "overdue", True),
        ("approved", "rejected", False),
    ],
)
def test_a_pending_queue_includes_the_overdue_and_no_other_queue_mixes(
    status: str, wanted: str | None, expected: bool
) -> None:
    assert in_queue(status, wanted) is expected


def test_subject_counts_count_facts_by_the_model_in_force_on_the_day() -> None:
    fact = FactState(uuid4(), "penalty.general", date(2025, 3, 1), "food", "1号", None, None, AT)
    lapsed = FactState(uuid4(), "penalty.general", date(2023, 3, 1), "food", "2号", None, None, AT)
    listing = ListingState(
        uuid4(), "judgment_defaulter", date(2025, 5, 1), "food", "3号", "法院", AT
    )
    state = SubjectState(uscc="x", registered_at=AT)
    state.facts = {fact.fact_id: fact, lapsed.fact_id: lapsed}
    state.listings = {listing.listing_id: listing}
    o = _objection()
    done = _objection(outcome="rejected", resolved_on=date(2025, 4, 1))
    state.objections = {o.objection_id: o, done.objection_id: done}
    r = _repair()
    state.repairs = {r.repair_id: r}
    counts = subject_counts(state, date(2025, 10, 31), default_models())
    assert (counts.facts, counts.facts_counting_today) == (2, 1)
    assert (counts.listings, counts.listings_active_today) == (1, 1)
    assert (counts.objections, counts.objections_pending) == (2, 1)
    assert (counts.repairs, counts.repairs_pending) == (1, 1)
    assert counts.industry_evaluations == 0
    before = subject_counts(state, date(2025, 4, 30), default_models())
    assert before.listings_active_today == 0


def test_subject_counts_count_an_open_ended_fact_as_counting() -> None:
    arrears = FactState(uuid4(), "tax.arrears", date(2020, 5, 1), "taxation", "4号", None, None, AT)
    state = SubjectState(uscc="x", registered_at=AT)
    state.facts = {arrears.fact_id: arrears}
    counts = subject_counts(state, date(2025, 10, 31), default_models())
    assert (counts.facts, counts.facts_counting_today) == (1, 1)
