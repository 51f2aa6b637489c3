"""Credit repair: decisions by the recording department, revocation, and the request queue."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from api.deps import Ledger, Reader, Recorder, due_queue
from api.schemas import (
    PROBLEM_RESPONSES,
    Decided,
    DecideIn,
    Joined,
    RepairList,
    RepairOut,
    RevokeRepairIn,
)
from ledger.domain.commands import DecideRepair, RevokeRepair
from ledger.domain.rules.queues import RepairStatus, repair_status

router = APIRouter(prefix="/v1/repairs", tags=["repairs"], responses=PROBLEM_RESPONSES)


@router.post("/{repair_id}/decide", response_model=Decided)
def decide_repair(repair_id: UUID, body: DecideIn, actor: Recorder, ledger: Ledger) -> Decided:
    """Approve (the fact stops counting from `decided_on`) or reject a repair request."""
    written = ledger.handle(
        DecideRepair(
            repair_id=repair_id,
            approved=body.approved,
            decided_on=body.decided_on,
            reason=body.reason,
            actor=actor,
            source_document=body.source_document,
        )
    )
    return Decided(
        repair_id=repair_id,
        status=str(written.status),  # the decider's answer: approved or rejected
        changed=written.created,
        position=written.position or 0,
    )


@router.post("/{repair_id}/revoke", response_model=Decided)
def revoke_repair(
    repair_id: UUID, body: RevokeRepairIn, actor: Recorder, ledger: Ledger
) -> Decided:
    """Revoke an approval made on false materials: the fact counts again from `revoked_on`."""
    written = ledger.handle(
        RevokeRepair(
            repair_id=repair_id,
            revoked_on=body.revoked_on,
            reason=body.reason,
            actor=actor,
            source_document=body.source_document,
        )
    )
    return Decided(
        repair_id=repair_id,
        status=str(written.status),
        changed=written.created,
        position=written.position or 0,
    )


@router.get("", response_model=RepairList)
def list_repairs(
    actor: Reader,
    ledger: Ledger,
    status: Annotated[RepairStatus | None, Query()] = None,
    uscc: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="the most urgent first")] = 500,
) -> RepairList:
    """Repair requests by status, earliest due first; `overdue` are undecided past due (CST)."""
    today = ledger.today()
    entries = (
        (
            sid,
            r.due_on,
            r.repair_id,
            repair_status(r, today),
            r,
        )
        for sid, r in ledger.repairs()
    )
    page, total = due_queue(ledger, entries, status=status, uscc=uscc, limit=limit)
    items = [
        RepairOut.model_validate(Joined(r, uscc=code, status=state)) for code, state, r in page
    ]
    return RepairList(items=items, total=total)
