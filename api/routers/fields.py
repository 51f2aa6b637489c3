"""The supervision fields catalogue of the plan's annex."""

from __future__ import annotations

from fastapi import APIRouter

from api.schemas import FieldOut
from ledger.catalog import catalogue

router = APIRouter(prefix="/v1/fields", tags=["fields"])


@router.get("", response_model=list[FieldOut])
def list_fields() -> list[FieldOut]:
    """Every field code with its owning department (public reference data)."""
    cat = catalogue()
    return [
        FieldOut(
            code=f.code,
            name_zh=f.name_zh,
            name_en=f.name_en,
            department=f.department,
            department_zh=cat.departments[f.department].name_zh,
        )
        for f in cat.fields.values()
    ]
