"""A subject's result as one ledger tells another (DOMAIN §10), and the answers built on it.

The upstream answers each reported subject's result in this shape; the downstream stores it as
pulled and computes its own in the same shape, so the two compare field by field
(`ledger.domain.federation.differences`). Instants of "as known now" are left out: they change
on every read and are not part of the result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.schemas import EvaluationOut
from ledger.domain.federation import differences
from ledger.service.application import CreditLedger
from projections.annual import published_at, subject_result


class DifferenceOut(BaseModel):
    what: str = Field(description="the part and field that differ, e.g. `restated.grade`")
    local: Any
    upstream: Any


class UpstreamOut(BaseModel):
    position: int = Field(description="the upstream ledger position the result was read at")
    recorded_at: datetime | None = Field(description="when this ledger recorded it")
    upstream: str
    result: dict[str, Any]


class SubjectUpstreamOut(BaseModel):
    uscc: str
    local: dict[str, Any] = Field(
        description="this ledger's own computation: `current` evaluation, the latest `year` "
        "and that year's `published` and `restated` results"
    )
    upstream: UpstreamOut | None = Field(description="the upstream's result, null until pulled")
    differs: bool
    differences: list[DifferenceOut]


def latest_year(ledger: CreditLedger) -> int | None:
    """The latest year whose 31-October evaluation is published (its day has ended)."""
    now = ledger.clock()
    year = now.year if published_at(now.year) <= now else now.year - 1
    return year if year >= 2000 else None


def _evaluation(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    answer = EvaluationOut.model_validate(value).model_dump(mode="json")
    answer.pop("known_at", None)
    return answer


def result_of(ledger: CreditLedger, uscc: str) -> dict[str, Any]:
    """A subject's result as this ledger computes it now (JSON)."""
    events = ledger.history(uscc)
    year = latest_year(ledger)
    annual = None if year is None else subject_result(ledger, events, year, ledger.clock())
    return {
        "current": _evaluation(ledger.evaluate(uscc)),
        "year": year,
        "published": None if annual is None else _evaluation(annual.published),
        "restated": None if annual is None else _evaluation(annual.restated),
    }


def beside_upstream(ledger: CreditLedger, uscc: str) -> SubjectUpstreamOut:
    """The local result beside the upstream's, and where they differ."""
    local = result_of(ledger, uscc)
    view = ledger.upstream_view(uscc)
    upstream = None
    found = []
    if view is not None and view.result:
        upstream = UpstreamOut(
            position=view.position,
            recorded_at=view.recorded_at,
            upstream=view.upstream,
            result=view.result,
        )
        found = [
            DifferenceOut(what=d.what, local=d.local, upstream=d.upstream)
            for d in differences(local, view.result)
        ]
    return SubjectUpstreamOut(
        uscc=uscc, local=local, upstream=upstream, differs=bool(found), differences=found
    )
