"""Who the presented token is: its role, department and fields (for clients like the console)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.deps import get_actor
from api.schemas import PROBLEM_RESPONSES
from ledger.domain.values import Actor

router = APIRouter(prefix="/v1/me", tags=["access"], responses=PROBLEM_RESPONSES)


class Me(BaseModel):
    token_id: str
    role: str
    department: str | None
    fields: list[str]


@router.get("", response_model=Me)
def whoami(actor: Annotated[Actor, Depends(get_actor)]) -> Me:
    """The caller's token: role, department and the fields it may record in."""
    return Me(
        token_id=actor.actor_id,
        role=actor.role.value,
        department=actor.department,
        fields=sorted(actor.fields),
    )
