"""Double-random inspection draws ("双随机、一公开"): draw, verify from the seed, record results."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from api.deps import Ledger, Reader, Recorder
from api.grade_reads import GradeReadLog
from api.schemas import (
    PROBLEM_RESPONSES,
    DrawIn,
    DrawOut,
    DrawPopulation,
    DrawVerified,
    Joined,
    ResultIn,
    ResultOut,
)
from ledger.domain.commands import RecordInspectionResult
from ledger.domain.inspections import InspectionDraw
from ledger.domain.values import normalize_uscc

router = APIRouter(prefix="/v1/inspections", tags=["inspections"], responses=PROBLEM_RESPONSES)


def _audited(reads: GradeReadLog, endpoint: str, recorded: InspectionDraw) -> DrawOut:
    out = DrawOut.model_validate(recorded)
    reads.record(endpoint, [s.uscc for s in out.selected], as_of=recorded.as_of)
    return out


@router.post("/draws", status_code=201, response_model=DrawOut)
def make_draw(body: DrawIn, actor: Recorder, ledger: Ledger, reads: GradeReadLog) -> DrawOut:
    """Draw a field's sample at `as_of`; per grade stratum ceil(ratio × n) subjects with the
    smallest sha256(seed|uscc); a seed is generated and published when none is given."""
    recorded, _ = ledger.make_draw(field=body.field, as_of=body.as_of, seed=body.seed, actor=actor)
    return _audited(reads, "draw", recorded)


@router.get("/draws/{draw_id}", response_model=DrawOut)
def get_draw(draw_id: UUID, actor: Reader, ledger: Ledger, reads: GradeReadLog) -> DrawOut:
    """A recorded draw."""
    return _audited(reads, "draw", ledger.get_draw(draw_id))


@router.get("/draws/{draw_id}/verify", response_model=DrawVerified)
def verify_draw(draw_id: UUID, actor: Reader, ledger: Ledger) -> DrawVerified:
    """Recompute the draw from the ledger with its published seed; say whether it matches."""
    differences = ledger.verify_draw(draw_id)
    return DrawVerified(draw_id=draw_id, valid=not differences, differences=differences)


@router.get("/draws/{draw_id}/population", response_model=DrawPopulation)
def draw_population(
    draw_id: UUID, actor: Reader, ledger: Ledger, reads: GradeReadLog
) -> DrawPopulation:
    """The population the draw was made from: with the seed, enough to recompute it anywhere."""
    recorded = ledger.get_draw(draw_id)
    members = ledger.field_population(recorded.field, recorded.as_of, recorded.position)
    reads.record("draw.population", [m.uscc for m in members], as_of=recorded.as_of)
    return DrawPopulation.model_validate(Joined(recorded, members=members))


@router.post("/draws/{draw_id}/results", status_code=201, response_model=ResultOut)
def record_result(
    draw_id: UUID, body: ResultIn, actor: Recorder, ledger: Ledger, response: Response
) -> ResultOut:
    """Record a drawn subject's inspection: `passed`, or a `finding` recorded as a credit fact."""
    written = ledger.handle(
        RecordInspectionResult(
            draw_id=draw_id,
            uscc=body.uscc,
            outcome=body.outcome,
            inspected_on=body.inspected_on,
            indicator=body.indicator,
            document_no=body.document_no,
            note=body.note,
            actor=actor,
        )
    )
    if not written.created:
        response.status_code = 200
    return ResultOut(
        draw_id=draw_id,
        uscc=normalize_uscc(body.uscc),
        outcome=body.outcome,
        fact_id=written.id if body.outcome == "finding" else None,
        position=written.position or 0,
    )
