"""Objections: resolution by the recording department, and the pending/overdue/resolved queues."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from api.deps import Ledger, Reader, Recorder, due_queue
from api.schemas import (
    PROBLEM_RESPONSES,
    Joined,
    ObjectionList,
    ObjectionOut,
    Resolved,
    ResolveIn,
)
from ledger.domain.commands import ResolveObjection
from ledger.domain.rules.queues import ObjectionStatus, objection_status

router = APIRouter(prefix="/v1/objections", tags=["objections"], responses=PROBLEM_RESPONSES)


@router.post("/{objection_id}/resolve", response_model=Resolved)
def resolve_objection(
    objection_id: UUID, body: ResolveIn, actor: Recorder, ledger: Ledger
) -> Resolved:
    """Resolve an objection; `corrected` with a correction voids or changes the record."""
    correction = body.correction
    written = ledger.handle(
        ResolveObjection(
            objection_id=objection_id,
            outcome=body.outcome,
            resolved_on=body.resolved_on,
            note=body.note,
            void=correction.void if correction else False,
            indicator=correction.indicator if correction else None,
            decided_on=correction.decided_on if correction else None,
            actor=actor,
            source_document=body.source_document,
        )
    )
    return Resolved(
        objection_id=objection_id,
        status=str(written.status),
        outcome=body.outcome,
        changed=written.created,
        position=written.position or 0,
    )


@router.get("", response_model=ObjectionList)
def list_objections(
    actor: Reader,
    ledger: Ledger,
    status: Annotated[ObjectionStatus | None, Query()] = None,
    uscc: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="the most urgent first")] = 500,
) -> ObjectionList:
    """Objections by status, earliest due first; `overdue` are pending past their due date (CST)."""
    today = ledger.today()
    entries = (
        (
            sid,
            o.due_on,
            o.objection_id,
            objection_status(o, today),
            o,
        )
        for sid, o in ledger.objections()
    )
    page, total = due_queue(ledger, entries, status=status, uscc=uscc, limit=limit)
    items = [
        ObjectionOut.model_validate(Joined(o, uscc=code, status=state)) for code, state, o in page
    ]
    return ObjectionList(items=items, total=total)
