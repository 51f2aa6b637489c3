"""Natural persons: finding a person's ref by identity number, which never goes in a URL."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Audit, Ledger, Reader
from api.schemas import PROBLEM_RESPONSES, PersonLookupIn, PersonRef
from ledger.domain.values import subject_id_for

router = APIRouter(prefix="/v1/persons", tags=["subjects"], responses=PROBLEM_RESPONSES)


@router.post("/lookup", response_model=PersonRef)
def lookup_person(body: PersonLookupIn, actor: Reader, ledger: Ledger, audit: Audit) -> PersonRef:
    """The ref of a registered natural person, by the keyed hash of the number (audited: it
    tells that the person is on the ledger)."""
    ref = ledger.lookup_person(body.id_number)
    audit.record_read(
        token_id=actor.actor_id,
        role=actor.role.value,
        department=actor.department,
        endpoint="lookup_person",
        uscc=ref,
        purpose=None,
        query="POST /v1/persons/lookup",
    )
    return PersonRef(ref=ref, subject_id=subject_id_for(ref))
