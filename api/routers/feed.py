"""The change feed: grade changes in ledger order, for department systems to poll."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import MAX_POSITION, Config, Ledger, Projections, Reader, wait_for_position
from api.grade_reads import GradeReadLog
from api.schemas import PROBLEM_RESPONSES, FeedItem, FeedPage

router = APIRouter(prefix="/v1/feed", tags=["feed"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=FeedPage)
def read_feed(
    actor: Reader,
    ledger: Ledger,
    config: Config,
    reads: GradeReadLog,
    projections: Projections,
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="the `next` of the last page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    min_position: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
) -> FeedPage:
    """Grade changes after a cursor, oldest first; `next` is the cursor for the following page.

    Each item is one event's effect on one subject's grade, as of the event's record date, so a
    poller that stores `next` never misses or applies a change twice.
    """
    wait_for_position(ledger, min_position, projections, seconds=config.read_wait_seconds)
    rows = projections.feed_after(after, limit)
    items = [FeedItem.model_validate(r) for r in rows]
    reads.record("feed", [item.uscc for item in items], count=len(items))
    return FeedPage(items=items, next=items[-1].position if items else after)
