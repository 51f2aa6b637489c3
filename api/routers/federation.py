"""Federation (DOMAIN §10): a downstream ledger delivers here and reads its subjects' results;
this ledger's own sync state, parked deliveries and differences from its upstream."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import MAX_POSITION, Config, Downstream, Federated, Ledger, Overseer, Reader
from api.grade_reads import GradeReadLog
from api.schemas import PROBLEM_RESPONSES
from api.upstream import SubjectUpstreamOut, beside_upstream, latest_year, result_of
from ledger.service.federation import MAX_DELIVERIES

router = APIRouter(prefix="/v1/federation", tags=["federation"], responses=PROBLEM_RESPONSES)


class DeliveryIn(BaseModel):
    position: int = Field(ge=1, le=MAX_POSITION, description="the source ledger's position")
    last: int | None = Field(
        default=None, ge=1, le=MAX_POSITION, description="the position of its last event"
    )
    command: str = Field(max_length=64, description="the import-file command, e.g. record_fact")
    args: dict[str, Any]
    topic: str | None = Field(default=None, max_length=128, description="the source's topic")
    department: str | None = Field(default=None, max_length=64)
    subject_id: str | None = None
    recorded_at: str | None = None


class DeliveriesIn(BaseModel):
    items: list[DeliveryIn] = Field(max_length=MAX_DELIVERIES)
    retry: bool = Field(
        default=False,
        description="decide items already taken again (the credit office re-delivering a "
        "parked record after a fix); otherwise such items answer their first outcome",
    )


class OutcomeOut(BaseModel):
    position: int
    last: int
    status: Literal["accepted", "unchanged", "refused"]
    earlier: bool = Field(default=False, description="taken before: the first outcome again")
    id: str | None = None
    kind: str | None = None
    reason: str | None = None
    field: str | None = None
    rule: str | None = None


class DeliveriesOut(BaseModel):
    source: str
    outcomes: list[OutcomeOut]
    acknowledged: int = Field(description="the highest source position taken so far")


class InboxOut(BaseModel):
    source: str
    acknowledged: int
    taken: int
    refused: list[OutcomeOut]


class ResultItem(BaseModel):
    position: int = Field(description="this ledger's position of the subject's last change")
    uscc: str
    result: dict[str, Any]


class ResultsPage(BaseModel):
    items: list[ResultItem]
    next: int = Field(description="the cursor for the following page")
    year: int | None = Field(description="the latest published year the results carry")


class SyncStateOut(BaseModel):
    upstream: str | None = Field(description="this ledger's upstream (null: none configured)")
    acknowledged: int = Field(description="local position up to which the upstream answered")
    delivered: int
    parked: int
    pulled: int = Field(description="upstream position up to which results were pulled")
    pulled_year: int | None
    results_recorded: int
    waiting_since: str | None = Field(
        description="record time of the oldest record the upstream has not acknowledged"
    )
    position: int = Field(description="this ledger's last position")
    inboxes: list[InboxOut] = Field(description="downstream ledgers delivering here")


def _refused(outcomes: dict[int, dict[str, Any]]) -> list[OutcomeOut]:
    return [OutcomeOut.model_validate(o) for o in outcomes.values() if o["status"] == "refused"]


@router.post("/deliveries", response_model=DeliveriesOut)
def deliver(body: DeliveriesIn, actor: Downstream, ledger: Ledger) -> DeliveriesOut:
    """Take a downstream ledger's records, in its log order, decided under this ledger's rules.

    Every item answers `accepted`, `unchanged` (held already) or `refused` with the field and
    rule; the batch is one transaction with the note of what was taken, so a re-delivery after
    a crash answers as the first delivery did (`earlier`) and records nothing twice.
    """
    answers = ledger.receive(
        actor, [i.model_dump(exclude_none=True) for i in body.items], retry=body.retry
    )
    inbox = ledger.inbox(str(actor.name))
    return DeliveriesOut(
        source=str(actor.name),
        outcomes=[OutcomeOut.model_validate(a) for a in answers],
        acknowledged=0 if inbox is None else inbox.upto,
    )


@router.get("/inbox", response_model=InboxOut)
def own_inbox(actor: Federated, ledger: Ledger) -> InboxOut:
    """What this ledger took from the calling downstream ledger so far."""
    source = str(actor.name or "")
    inbox = ledger.inbox(source)
    if inbox is None:
        return InboxOut(source=source, acknowledged=0, taken=0, refused=[])
    return InboxOut(
        source=source,
        acknowledged=inbox.upto,
        taken=len(inbox.outcomes),
        refused=_refused(inbox.outcomes),
    )


@router.get("/results", response_model=ResultsPage)
def results(
    actor: Downstream,
    ledger: Ledger,
    reads: GradeReadLog,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION, description="the last page's `next`")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> ResultsPage:
    """The results of the subjects the calling downstream ledger reports, for each subject whose
    records changed after `after`, in log order: its current evaluation and the latest year's
    published and restated results. Every result read is recorded."""
    changed, upto = ledger.reported_after(str(actor.name), after, limit)
    items = [ResultItem(position=p, uscc=u, result=result_of(ledger, u)) for p, u in changed]
    reads.record("federation.results", [i.uscc for i in items], count=len(items))
    return ResultsPage(items=items, next=upto, year=latest_year(ledger))


@router.get("/state", response_model=SyncStateOut)
def state(actor: Overseer, ledger: Ledger, config: Config) -> SyncStateOut:
    """How far the flow went each way: deliveries acknowledged and parked, results pulled, and
    the downstream ledgers delivering here."""
    upstream = config.upstream_url
    log = None if upstream is None else ledger.sync_log(upstream)
    waiting = None if upstream is None else ledger.waiting(0 if log is None else log.acknowledged)
    inboxes = [
        InboxOut(
            source=i.source,
            acknowledged=i.upto,
            taken=len(i.outcomes),
            refused=_refused(i.outcomes),
        )
        for i in ledger.inboxes()
    ]
    return SyncStateOut(
        upstream=upstream,
        acknowledged=0 if log is None else log.acknowledged,
        delivered=0 if log is None else log.delivered,
        parked=0 if log is None else len(log.parked),
        pulled=0 if log is None else log.pulled,
        pulled_year=None if log is None else log.pulled_year,
        results_recorded=0 if log is None else log.recorded,
        waiting_since=(
            None
            if waiting is None or waiting.recorded_at is None
            else waiting.recorded_at.isoformat()
        ),
        position=ledger.max_position(),
        inboxes=inboxes,
    )


@router.get("/parked", response_model=list[dict[str, Any]])
def parked(actor: Overseer, ledger: Ledger, config: Config) -> list[dict[str, Any]]:
    """Deliveries the upstream refused, with its reason: kept for the credit office, never
    retried blindly (`credit-ledger sync --retry-parked` delivers them again)."""
    if config.upstream_url is None:
        return []
    log = ledger.sync_log(config.upstream_url)
    return [] if log is None else [log.parked[p] for p in sorted(log.parked)]


@router.get("/differences", response_model=list[SubjectUpstreamOut])
def different(actor: Reader, ledger: Ledger, reads: GradeReadLog) -> list[SubjectUpstreamOut]:
    """The subjects whose local result differs from the upstream's, with both explanations."""
    found = [beside_upstream(ledger, v.uscc) for v in ledger.upstream_views()]
    found = [f for f in found if f.differs]
    reads.record("federation.differences", [f.uscc for f in found], count=len(found))
    return found
