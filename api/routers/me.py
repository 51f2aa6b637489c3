"""Who the presented token is: its role, department and fields (for clients like the console)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BeforeValidator, Field

from api.deps import get_actor
from api.schemas import PROBLEM_RESPONSES, Mirror
from ledger.domain.values import Actor

router = APIRouter(prefix="/v1/me", tags=["access"], responses=PROBLEM_RESPONSES)


# The presented token's acting party (`ledger.domain.values.Actor`).
class Me(Mirror):
    token_id: str = Field(validation_alias="actor_id")
    role: str
    department: str | None
    fields: Annotated[list[str], BeforeValidator(sorted)]


@router.get("", response_model=Me)
def whoami(actor: Annotated[Actor, Depends(get_actor)]) -> Me:
    """The caller's token: role, department and the fields it may record in."""
    return Me.model_validate(actor)
