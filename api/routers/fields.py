"""The supervision fields catalogue, department worklists, and inspector pools."""

from __future__ import annotations

from typing import Annotated, get_args

from fastapi import APIRouter, Path, Query

from api.deps import MAX_POSITION, Config, Ledger, Projections, Reader, Recorder, wait_for_position
from api.grade_reads import GradeReadLog
from api.schemas import (
    PROBLEM_RESPONSES,
    Changed,
    FieldOut,
    InspectorsIn,
    Joined,
    Worklist,
    WorklistItem,
)
from ledger.domain.catalog import catalogue
from ledger.domain.rules.supervision import Letter, Tier

router = APIRouter(prefix="/v1/fields", tags=["fields"], responses=PROBLEM_RESPONSES)
FieldCode = Annotated[str, Path(max_length=100, description="a field code, e.g. food")]


@router.get("", response_model=list[FieldOut])
def list_fields() -> list[FieldOut]:
    """Every field code with its owning department (public reference data)."""
    cat = catalogue()
    return [
        FieldOut.model_validate(Joined(f, department_zh=cat.departments[f.department].name_zh))
        for f in cat.fields.values()
    ]


@router.get("/{field}/subjects", response_model=Worklist)
def worklist(
    field: FieldCode,
    actor: Reader,
    ledger: Ledger,
    config: Config,
    reads: GradeReadLog,
    projections: Projections,
    tier: Annotated[Tier | None, Query()] = None,
    grade: Annotated[Letter | None, Query()] = None,
    after: Annotated[str | None, Query(max_length=64, description="the last uscc seen")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    min_position: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
) -> Worklist:
    """A department's worklist: the field's subjects by tier and grade, from the read model.

    The read is audited with every subject on the page; an export is built from such pages."""
    catalogue().field(field, field_name="field")
    wait_for_position(ledger, min_position, projections, seconds=config.read_wait_seconds)
    counts, rows = projections.worklist(field, tier=tier, grade=grade, after=after, limit=limit)
    items = [WorklistItem.model_validate(r) for r in rows]
    reads.record("worklist", [item.uscc for item in items])
    return Worklist(
        field=field,
        counts={t: counts.get(t, 0) for t in get_args(Tier)},
        items=items,
        next=items[-1].uscc if len(items) == limit else None,
    )


@router.put("/{field}/inspectors", response_model=Changed)
def register_inspectors(
    field: FieldCode, body: InspectorsIn, actor: Recorder, ledger: Ledger
) -> Changed:
    """Register or replace the field's inspector pool (two are assigned to each drawn subject)."""
    written = ledger.register_inspectors(field, inspectors=body.inspectors, actor=actor)
    return Changed(id=written.id, changed=written.created, position=written.position or 0)
