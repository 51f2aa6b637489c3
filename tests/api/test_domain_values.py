"""The API's statuses, tiers and letters are the values the domain answers, no more and no fewer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import get_args
from uuid import uuid4

from ledger.domain.rules.queues import (
    ObjectionStatus,
    RepairStatus,
    objection_status,
    repair_status,
)
from ledger.domain.rules.supervision import LETTERS, Letter, Tier, default_policies
from ledger.domain.state import ObjectionState, RepairState

DUE = date(2024, 3, 15)
BEFORE, AFTER = DUE - timedelta(days=1), DUE + timedelta(days=1)
NOW = datetime(2024, 3, 1, tzinfo=UTC)


def _objection(outcome: str | None) -> ObjectionState:
    return ObjectionState(uuid4(), uuid4(), "fact", date(2024, 3, 1), "g", DUE, NOW, outcome)


def _repair(approved: bool | None, revoked_on: date | None = None) -> RepairState:
    return RepairState(
        uuid4(), uuid4(), date(2024, 3, 1), "c", DUE, NOW, approved, BEFORE, revoked_on=revoked_on
    )


def test_the_objection_statuses_are_those_the_queue_rule_answers() -> None:
    answered = {
        objection_status(_objection(outcome), today)
        for outcome in (None, "corrected")
        for today in (BEFORE, AFTER)
    }
    assert answered == set(get_args(ObjectionStatus))


def test_the_repair_statuses_are_those_the_queue_rule_answers() -> None:
    repairs = [_repair(None), _repair(True), _repair(False), _repair(True, revoked_on=AFTER)]
    answered = {repair_status(r, today) for r in repairs for today in (BEFORE, AFTER)}
    assert answered == set(get_args(RepairStatus))


def test_the_tiers_and_letters_are_those_of_the_supervision_policies() -> None:
    tiers = {
        rule.tier
        for policy in default_policies().policies
        for rows in (policy.default, *policy.fields.values())
        for rule in rows.values()
    }
    assert tiers == set(get_args(Tier))
    assert get_args(Letter) == LETTERS
