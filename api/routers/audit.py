"""The query-audit log, for auditors: who read which grade, when and why."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import MAX_POSITION, Audit, Auditor
from api.grade_reads import GradeReadLog
from api.schemas import PROBLEM_RESPONSES, AuditPage, AuditRecord, Joined

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=PROBLEM_RESPONSES)


@router.get("/reads", response_model=AuditPage)
def list_reads(
    actor: Auditor,
    audit: Audit,
    reads: GradeReadLog,
    uscc: Annotated[str | None, Query(max_length=64)] = None,
    token: Annotated[str | None, Query(max_length=64, description="token id")] = None,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Audit records after a cursor, filtered by subject and/or token (`uscc` finds every
    record whose answer carried that subject). The records name the grades that were served,
    so reading them is itself recorded."""
    found, position = audit.reads(uscc=uscc, token_id=token, after=after, limit=limit)
    items = [AuditRecord.model_validate(Joined(e, position=pos)) for pos, e in found]
    reads.record("audit.reads", [s for _, e in found for s in e.subjects], count=len(items))
    return AuditPage(items=items, next=position)
