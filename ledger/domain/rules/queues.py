"""Objection and repair queues: when an item is due, its status on a day (overdue included), and
the counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, cast

from ledger.domain.model import ModelRegistry
from ledger.domain.rules.grade import fact_counts_at, listing_active_at
from ledger.domain.state import ObjectionState, RepairState, SubjectState
from ledger.domain.workdays import DueDate, add_working_days

#: Working days a department has to handle an objection or a repair request (DOMAIN §5).
HANDLING_WORKING_DAYS = 10

#: What an objection's queue answers on a day.
ObjectionStatus = Literal["pending", "overdue", "resolved"]
#: What a repair request's queue answers on a day.
RepairStatus = Literal["pending", "overdue", "approved", "rejected", "revoked"]

#: The statuses a queue answers that still wait for a decision.
OPEN = frozenset({"pending", "overdue"})


def handling_due(received_on: date) -> DueDate:
    """When an objection or repair request received on a day must be handled by."""
    return add_working_days(received_on, HANDLING_WORKING_DAYS)


def overdue(due_on: date, today: date) -> bool:
    """Whether an undecided item is overdue: its due date (CST) has passed."""
    return due_on < today


def objection_status(objection: ObjectionState, today: date) -> ObjectionStatus:
    """`resolved`; or, while pending, `overdue` once past its due date, else `pending`."""
    if not objection.pending:
        return "resolved"
    return "overdue" if overdue(objection.due_on, today) else "pending"


def repair_status(repair: RepairState, today: date) -> RepairStatus:
    """The repair's decision (`approved`, `rejected`, `revoked`); undecided, `overdue` once past
    its due date, else `pending`."""
    status = cast(RepairStatus, repair.status)
    return "overdue" if status == "pending" and overdue(repair.due_on, today) else status


def in_queue(status: str, wanted: str | None) -> bool:
    """Whether an item of `status` answers a queue asked for `wanted` (none: every item);
    `pending` includes the overdue, which are pending too."""
    return wanted is None or status == wanted or (wanted == "pending" and status in OPEN)


@dataclass(frozen=True)
class SubjectCounts:
    """What is recorded about a subject, and how much of it holds or waits on a day."""

    facts: int
    facts_counting_today: int
    listings: int
    listings_active_today: int
    objections: int
    objections_pending: int
    repairs: int
    repairs_pending: int
    industry_evaluations: int


def subject_counts(state: SubjectState, today: date, models: ModelRegistry) -> SubjectCounts:
    """Counts of a subject's records; facts count by the model in force `today`, as the
    evaluation of that day counts them."""
    model = models.in_force(today).model
    policy = models.repairs.in_force(today)
    return SubjectCounts(
        facts=len(state.facts),
        facts_counting_today=sum(
            1 for f in state.facts.values() if fact_counts_at(f, today, model, policy)[0]
        ),
        listings=len(state.listings),
        listings_active_today=sum(
            1 for li in state.listings.values() if listing_active_at(li, today)
        ),
        objections=len(state.objections),
        objections_pending=sum(1 for o in state.objections.values() if o.pending),
        repairs=len(state.repairs),
        repairs_pending=sum(1 for r in state.repairs.values() if r.status == "pending"),
        industry_evaluations=len(state.industry_evaluations),
    )
