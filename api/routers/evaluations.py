"""Annual 31-October evaluations: as published, and as restated after later corrections."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import Ledger, Reader
from api.grade_reads import GradeReadLog
from api.schemas import PROBLEM_RESPONSES, Joined, SubjectYearOut, YearSummaryOut
from ledger.domain.rules.grade import result_changed
from ledger.domain.values import normalize_uscc
from projections.annual import (
    AnnualResults,
    changes_since_publication,
    evaluation_date,
    published_at,
    require_published,
    subject_result,
)

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"], responses=PROBLEM_RESPONSES)
Year = Annotated[int, Path(ge=1900, le=9999, description="the evaluation year")]


@router.get("/{year}", response_model=YearSummaryOut)
def year_summary(year: Year, actor: Reader, ledger: Ledger, reads: GradeReadLog) -> YearSummaryOut:
    """Counts per grade for a year: as published on 31 October, and as restated now."""
    summary = AnnualResults(ledger).summary(year)
    # Counts name no subject's grade: the record names the query and how many were counted.
    reads.record(
        "evaluations", [], as_of=evaluation_date(year), count=sum(summary.restated.values())
    )
    return YearSummaryOut.model_validate(
        Joined(
            summary,
            as_of=evaluation_date(year),
            published_known_at=published_at(year),
            restated_known_at=ledger.clock(),
        )
    )


@router.get("/{year}/subjects/{uscc}", response_model=SubjectYearOut)
def subject_year(
    year: Year, uscc: str, actor: Reader, ledger: Ledger, reads: GradeReadLog
) -> SubjectYearOut:
    """One subject's year: published, restated, current, and the events behind any difference."""
    require_published(ledger, year)
    code = normalize_uscc(uscc)
    events = ledger.history(code)
    now = ledger.clock()
    result = subject_result(ledger, events, year, now)
    current = ledger.evaluate(code)
    changes = changes_since_publication(ledger, events, year)
    reads.record(
        "evaluations.subject",
        [code],
        as_of=evaluation_date(year),
        grade=result.restated.grade if result.restated else None,
    )
    return SubjectYearOut.model_validate(
        Joined(
            result,
            year=year,
            current=current,
            restated_differs=result_changed(result.published, result.restated),
            changes=changes,
            upstream=_upstream_year(ledger, code, year),
        )
    )


def _upstream_year(ledger: Ledger, code: str, year: int) -> dict[str, Any] | None:
    """The upstream's published and restated result for the year, as last pulled."""
    view = ledger.upstream_view(code)
    if view is None or view.result.get("year") != year:
        return None
    return {
        "position": view.position,
        "recorded_at": None if view.recorded_at is None else view.recorded_at.isoformat(),
        "published": view.result.get("published"),
        "restated": view.result.get("restated"),
    }
