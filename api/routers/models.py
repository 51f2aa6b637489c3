"""The rules' data the ledger grades with: evaluation models, industry bands, supervision."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Ledger, Reader
from api.model_schemas import EvaluationModelOut, IndustryOut, ModelsOut, SupervisionPolicyOut
from api.schemas import PROBLEM_RESPONSES
from ledger.domain.catalog import industry_grading

router = APIRouter(prefix="/v1/models", tags=["models"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=ModelsOut)
def list_models(actor: Reader, ledger: Ledger) -> ModelsOut:
    """Every evaluation model version (bands with labels and codes, indicators, authority), the
    industry A–D bands and the supervision policy versions, as the ledger loaded them.

    Reference data about rules, not about any subject: no grade read, so not on the audit log.
    The console draws its grade bands from this answer instead of restating them."""
    return ModelsOut(
        models=[EvaluationModelOut.model_validate(m) for m in ledger.models.models],
        industry=IndustryOut.model_validate(industry_grading()),
        supervision=[SupervisionPolicyOut.model_validate(p) for p in ledger.policies.policies],
    )
