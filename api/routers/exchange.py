"""An exchange batch sent whole over HTTP (DOMAIN §10): the manifest and the NDJSON file's text,
checked and decided as `credit-ledger exchange import` does with the files (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import Admin, Ledger
from api.problems import Problem
from api.schemas import PROBLEM_RESPONSES
from ledger.domain.exchange import BatchMismatch
from ledger.service.exchange import checked_batch, take_batch

router = APIRouter(prefix="/v1/federation", tags=["federation"], responses=PROBLEM_RESPONSES)


class ExchangeIn(BaseModel):
    manifest: dict[str, Any] = Field(description="the batch's manifest.json, as JSON")
    deliveries: str = Field(
        description="the batch's deliveries.ndjson, its text exactly (the digests are of its "
        "UTF-8 bytes)"
    )


class ExchangeOut(BaseModel):
    source: str = Field(description="the downstream ledger the manifest names")
    lines: int
    accepted: int
    unchanged: int
    refused: int
    earlier: int = Field(description="lines taken before, answered with their first outcome")
    refusals: list[dict[str, Any]] = Field(description="each refused line with the reason")


@router.post("/exchange", response_model=ExchangeOut)
def exchange(body: ExchangeIn, actor: Admin, ledger: Ledger) -> ExchangeOut:
    """Take an exchange batch carried by hand from a ledger without a link (GB/T 39443-2020's
    file mode): refused whole, writing nothing, when the manifest does not match the file
    (every mismatch named); otherwise decided as the manifest's source's deliveries. Sending
    the batch again adds nothing (every line `earlier`)."""
    try:
        manifest, lines = checked_batch(body.manifest, body.deliveries.encode("utf-8"))
    except BatchMismatch as exc:
        raise Problem(
            422,
            exc.message,
            kind=exc.kind,
            extra={
                "rule": exc.rule,
                "errors": [{"loc": ["body", where], "msg": what} for where, what in exc.problems],
            },
        ) from None
    report = take_batch(ledger, manifest, lines)
    return ExchangeOut(
        source=report.source,
        lines=report.lines,
        accepted=report.accepted,
        unchanged=report.unchanged,
        refused=report.refused,
        earlier=report.earlier,
        refusals=report.refusals,
    )
