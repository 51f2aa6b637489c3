"""Subjects and everything recorded on their streams: facts, listings, objections, repairs."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from starlette.concurrency import run_in_threadpool

from api.deps import (
    AUDITORS,
    Admin,
    Audit,
    Auditor,
    Filer,
    Ledger,
    Reader,
    Recorder,
)
from api.evaluation_read import EvaluationQuery, answer
from api.grade_reads import GradeReadLog, GradeReadOnce
from api.schemas import (
    PROBLEM_RESPONSES,
    Changed,
    DelistIn,
    EraseIn,
    EvaluationOut,
    FactCreated,
    FactEndIn,
    FactIn,
    FactRevokeIn,
    HistoryEvent,
    HistoryOut,
    IdentityOut,
    IndustryEvaluationCreated,
    IndustryEvaluationIn,
    IsoDate,
    IsoInstant,
    Joined,
    JoinFieldIn,
    LeaveFieldIn,
    ListingCreated,
    ListingIn,
    ObjectionCreated,
    ObjectionIn,
    PersonCreated,
    PersonOut,
    RepairCreated,
    RepairIn,
    SubjectCreated,
    SubjectIn,
    SubjectOut,
    SupervisionOut,
)
from api.upstream import SubjectUpstreamOut, beside_upstream
from ledger.domain.commands import (
    DelistSubject,
    EndFact,
    FileObjection,
    JoinField,
    LeaveField,
    ListSubject,
    RecordFact,
    RecordIndustryEvaluation,
    RegisterSubject,
    RequestRepair,
    RevokeFact,
)
from ledger.domain.errors import Forbidden, InvalidInput
from ledger.domain.persons import ERASED
from ledger.domain.rules.queues import subject_counts
from ledger.domain.values import Actor, SubjectKind, normalize_uscc, subject_id_for
from ledger.service.application import Written
from ledger.store.stores import stream_positions

router = APIRouter(prefix="/v1/subjects", tags=["subjects"], responses=PROBLEM_RESPONSES)


def _created(response: Response, written: Written) -> None:
    """201 for a new record, 200 for a repeat of one already stored."""
    response.status_code = status.HTTP_201_CREATED if written.created else status.HTTP_200_OK


def _position(written: Written) -> int:
    return written.position or 0


# The hot read comes first: FastAPI tries a router's routes one by one, and each route it
# passes costs about 33,000 instructions (bench.cost: 3.92 M -> 3.53 M a read, first
# rather than thirteenth). No route before it could match its path.
@router.get("/{uscc}/evaluation", response_model=EvaluationOut)
async def get_evaluation(
    uscc: str, access: GradeReadOnce, query: Annotated[EvaluationQuery, Query()]
) -> EvaluationOut:
    """The explained evaluation at `as_of` as known at `known_at`; the read is audited.

    The service answers this request with `api.evaluation_read.ROUTE`, the same query and
    work outside FastAPI's per-request machinery; this route documents it and is its reference.
    """
    return await run_in_threadpool(answer, access, uscc, query)


@router.post("", status_code=201, response_model=SubjectCreated | PersonCreated)
def register_subject(
    body: SubjectIn, actor: Recorder, ledger: Ledger, response: Response
) -> SubjectCreated:
    """Register a subject (idempotent: the same details again answer 200).

    A natural person (`kind: natural_person`) is registered by `id_number` instead of `uscc`
    and answered with an opaque `ref`, which every path takes in place of a credit code."""
    if (body.kind == SubjectKind.NATURAL_PERSON) != (body.id_number is not None) or (
        body.uscc is None
    ) == (body.id_number is None):
        raise InvalidInput(
            "a natural person is registered by id_number, any other subject by uscc",
            field="id_number" if body.kind == SubjectKind.NATURAL_PERSON else "uscc",
            rule="kind natural_person takes id_number; other kinds take uscc",
        )
    if body.id_number is not None:
        person = ledger.register_person(
            id_number=body.id_number,
            name=body.name,
            actor=actor,
            fields=body.fields,
            source_document=body.source_document,
        )
        _created(response, person.written)
        return PersonCreated(
            uscc=person.ref,
            ref=person.ref,
            subject_id=person.written.id,
            position=_position(person.written),
        )
    assert body.uscc is not None
    written = ledger.handle(
        RegisterSubject(
            uscc=body.uscc,
            name=body.name,
            kind=body.kind,
            fields=body.fields,
            established_on=body.established_on,
            actor=actor,
            source_document=body.source_document,
        )
    )
    _created(response, written)
    return SubjectCreated(
        uscc=normalize_uscc(body.uscc), subject_id=written.id, position=_position(written)
    )


@router.get("/{uscc}", response_model=SubjectOut | PersonOut)
def get_subject(
    uscc: str,
    actor: Reader,
    ledger: Ledger,
    audit: Audit,
    reveal: Annotated[
        bool, Query(description="a person's full identity: admin or auditor, with a purpose")
    ] = False,
    purpose: Annotated[
        str | None, Query(max_length=200, description="the legal purpose of a reveal (audited)")
    ] = None,
) -> SubjectOut:
    """A subject, its fields and counts of what is recorded about it; a natural person's
    identity masked, or revealed to an admin or auditor stating a purpose (audited)."""
    state = ledger.subject(uscc)
    assert state.registered_at is not None
    joined = Joined(
        state,
        subject_id=subject_id_for(state.uscc),
        counts=subject_counts(state, ledger.today(), ledger.models),
    )
    if state.kind != SubjectKind.NATURAL_PERSON:
        if reveal:
            raise InvalidInput(
                "only a natural person's identity is revealed", field="reveal", rule="DOMAIN §9"
            )
        return SubjectOut.model_validate(joined)
    if reveal:
        _may_reveal(actor, purpose)
        audit.record_read(
            token_id=actor.actor_id,
            role=actor.role.value,
            department=actor.department,
            endpoint="reveal_identity",
            uscc=state.uscc,
            purpose=purpose,
            query=f"GET /v1/subjects/{state.uscc}?reveal=true",
        )
    identity = ledger.person_identity(state)
    if identity is None:
        shown = IdentityOut(name=ERASED, id_number=ERASED, revealed=False)
    else:
        seen = identity if reveal else identity.masked
        shown = IdentityOut(name=seen.name, id_number=seen.id_number, revealed=reveal)
    return PersonOut.model_validate(Joined(joined, identity=shown))


def _may_reveal(actor: Actor, purpose: str | None) -> None:
    """A reveal is an admin's or auditor's, and states its legal purpose (DOMAIN §9)."""
    if actor.role not in AUDITORS:
        raise Forbidden(
            f"role '{actor.role.value}' may not reveal a person's identity; "
            "allowed: admin, auditor",
            field="reveal",
            rule="a reveal needs admin or auditor",
        )
    if purpose is None or not purpose.strip():
        raise InvalidInput(
            "revealing a person's identity needs the legal purpose: ?purpose=…",
            field="purpose",
            rule="a reveal states its legal purpose (audited)",
        )


@router.post("/{uscc}/erase", response_model=Changed)
def erase_identity(uscc: str, body: EraseIn, actor: Admin, ledger: Ledger) -> Changed:
    """Erase a natural person's identity by destroying its data key (crypto-shredding): the
    events stay and grade as before; the identity reads `[erased]` from then on."""
    written = ledger.erase_person(uscc, reason=body.reason, actor=actor)
    return Changed(id=written.id, changed=written.created, position=_position(written))


@router.post("/{uscc}/facts", status_code=201, response_model=FactCreated)
def record_fact(
    uscc: str, body: FactIn, actor: Recorder, ledger: Ledger, response: Response
) -> FactCreated:
    """Record a credit fact in one of the recorder's own fields."""
    written = ledger.handle(
        RecordFact(
            uscc=uscc,
            indicator=body.indicator,
            decided_on=body.decided_on,
            domain=body.domain,
            document_no=body.document_no,
            description=body.description,
            effective_until=body.effective_until,
            actor=actor,
        )
    )
    _created(response, written)
    return FactCreated(fact_id=written.id, position=_position(written))


@router.post("/{uscc}/facts/{fact_id}/end", response_model=Changed)
def end_fact(uscc: str, fact_id: UUID, body: FactEndIn, actor: Recorder, ledger: Ledger) -> Changed:
    """End a fact from `ended_on` (arrears paid, anomaly removed)."""
    written = ledger.handle(
        EndFact(
            uscc=uscc,
            fact_id=fact_id,
            ended_on=body.ended_on,
            reason=body.reason,
            actor=actor,
            source_document=body.source_document,
        )
    )
    return Changed(id=fact_id, changed=written.created, position=_position(written))


@router.post("/{uscc}/facts/{fact_id}/revoke", response_model=Changed)
def revoke_fact(
    uscc: str, fact_id: UUID, body: FactRevokeIn, actor: Recorder, ledger: Ledger
) -> Changed:
    """Revoke a fact: void from the start."""
    written = ledger.handle(
        RevokeFact(
            uscc=uscc,
            fact_id=fact_id,
            reason=body.reason,
            actor=actor,
            source_document=body.source_document,
        )
    )
    return Changed(id=fact_id, changed=written.created, position=_position(written))


@router.post("/{uscc}/listings", status_code=201, response_model=ListingCreated)
def list_subject(
    uscc: str, body: ListingIn, actor: Recorder, ledger: Ledger, response: Response
) -> ListingCreated:
    """Put the subject on a joint dishonesty list (graded 差 while listed)."""
    written = ledger.handle(
        ListSubject(
            uscc=uscc,
            list_type=body.list_type,
            listed_on=body.listed_on,
            domain=body.domain,
            document_no=body.document_no,
            authority=body.authority,
            actor=actor,
        )
    )
    _created(response, written)
    return ListingCreated(listing_id=written.id, position=_position(written))


@router.post("/{uscc}/listings/{listing_id}/delist", response_model=Changed)
def delist_subject(
    uscc: str, listing_id: UUID, body: DelistIn, actor: Recorder, ledger: Ledger
) -> Changed:
    """Remove a listing; reason `revoked` voids it from the start."""
    written = ledger.handle(
        DelistSubject(
            uscc=uscc,
            listing_id=listing_id,
            delisted_on=body.delisted_on,
            reason=body.reason,
            actor=actor,
            source_document=body.source_document,
        )
    )
    return Changed(id=listing_id, changed=written.created, position=_position(written))


@router.post("/{uscc}/objections", status_code=201, response_model=ObjectionCreated)
def file_objection(
    uscc: str, body: ObjectionIn, actor: Filer, ledger: Ledger, response: Response
) -> ObjectionCreated:
    """File an objection to a fact or listing; due in 10 working days."""
    written = ledger.handle(
        FileObjection(
            uscc=uscc,
            target_id=body.target_id,
            filed_on=body.filed_on,
            grounds=body.grounds,
            actor=actor,
            source_document=body.source_document,
        )
    )
    _created(response, written)
    assert written.due_on is not None
    return ObjectionCreated(
        objection_id=written.id,
        status=written.status or "pending",
        due_on=written.due_on,
        position=_position(written),
        warning=written.warning,
    )


@router.post("/{uscc}/repairs", status_code=201, response_model=RepairCreated)
def request_repair(
    uscc: str, body: RepairIn, actor: Filer, ledger: Ledger, response: Response
) -> RepairCreated:
    """Request credit repair of a deduction fact (422 with `eligible_on` when too early)."""
    written = ledger.handle(
        RequestRepair(
            uscc=uscc,
            target_id=body.target_id,
            requested_on=body.requested_on,
            commitment=body.commitment,
            actor=actor,
            source_document=body.source_document,
        )
    )
    _created(response, written)
    assert written.due_on is not None
    return RepairCreated(
        repair_id=written.id,
        due_on=written.due_on,
        status=written.status or "pending",
        position=_position(written),
        warning=written.warning,
    )


@router.post(
    "/{uscc}/industry-evaluations", status_code=201, response_model=IndustryEvaluationCreated
)
def record_industry_evaluation(
    uscc: str,
    body: IndustryEvaluationIn,
    actor: Recorder,
    ledger: Ledger,
    reads: GradeReadLog,
    response: Response,
) -> IndustryEvaluationCreated:
    """Record a field's industry evaluation: a 100-point score or the field's native grade.

    The answer carries the grade the score maps to, so it is audited like any grade read."""
    written = ledger.handle(
        RecordIndustryEvaluation(
            uscc=uscc,
            domain=body.domain,
            evaluated_on=body.evaluated_on,
            model=body.model,
            score=body.score,
            native_grade=body.native_grade,
            document_no=body.document_no,
            actor=actor,
        )
    )
    _created(response, written)
    reads.record(
        "industry_evaluation",
        [normalize_uscc(uscc)],
        grade=written.status or None,
        as_of=body.evaluated_on,
    )
    return IndustryEvaluationCreated(
        evaluation_id=written.id, grade=written.status or "", position=_position(written)
    )


@router.get("/{uscc}/supervision", response_model=SupervisionOut)
def get_supervision(
    uscc: str,
    actor: Reader,
    ledger: Ledger,
    reads: GradeReadLog,
    field: Annotated[str, Query(max_length=100, description="the supervision field")],
    as_of: Annotated[IsoDate | None, Query(description="valid date (default today, CST)")] = None,
    known_at: Annotated[IsoInstant | None, Query(description="record-time instant")] = None,
) -> SupervisionOut:
    """The subject's supervision tier in a field, with its basis; the read is audited."""
    sup = ledger.supervision(uscc, field=field, as_of=as_of, known_at=known_at)
    reads.record(
        "supervision", [sup.uscc], as_of=sup.as_of, known_at=sup.public.known_at, grade=sup.grade
    )
    return SupervisionOut.model_validate(sup)


@router.post("/{uscc}/fields", response_model=Changed)
def join_field(uscc: str, body: JoinFieldIn, actor: Recorder, ledger: Ledger) -> Changed:
    """Bring the subject under one of the recorder's fields from `joined_on`."""
    written = ledger.handle(
        JoinField(uscc=uscc, field=body.field, joined_on=body.joined_on, actor=actor)
    )
    return Changed(id=written.id, changed=written.created, position=written.position or 0)


@router.post("/{uscc}/fields/{field}/leave", response_model=Changed)
def leave_field(
    uscc: str, field: str, body: LeaveFieldIn, actor: Recorder, ledger: Ledger
) -> Changed:
    """Take the subject out of a field from `left_on`."""
    written = ledger.handle(LeaveField(uscc=uscc, field=field, left_on=body.left_on, actor=actor))
    return Changed(id=written.id, changed=written.created, position=written.position or 0)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


@router.get("/{uscc}/history", response_model=HistoryOut)
def get_history(uscc: str, actor: Auditor, ledger: Ledger, reads: GradeReadLog) -> HistoryOut:
    """Every event of the subject in order, with its ledger position and record time."""
    events = ledger.history(uscc)
    subject_id = events[0].originator_id
    positions = stream_positions(ledger, subject_id)
    items = []
    for event in events:
        recorded_at: datetime = event.timestamp  # type: ignore[attr-defined]
        payload = {
            k: _jsonable(v)
            for k, v in event.__dict__.items()
            if k not in ("originator_id", "originator_version", "timestamp", "originator_topic")
        }
        items.append(
            HistoryEvent(
                position=positions.get(event.originator_version),
                version=event.originator_version,
                topic=type(event).TOPIC,  # type: ignore[attr-defined]
                recorded_at=recorded_at,
                payload=payload,
            )
        )
    code = normalize_uscc(uscc)
    reads.record("history", [code], count=len(items))
    return HistoryOut(uscc=code, subject_id=subject_id, events=items)


@router.get("/{uscc}/upstream", response_model=SubjectUpstreamOut)
def get_upstream(
    uscc: str, actor: Reader, ledger: Ledger, reads: GradeReadLog
) -> SubjectUpstreamOut:
    """This ledger's own result for the subject beside its upstream's (as last pulled by
    `credit-ledger sync`), and where they differ (DOMAIN §10)."""
    code = normalize_uscc(uscc)
    answer = beside_upstream(ledger, code)
    reads.record(
        "subjects.upstream", [code], grade=(answer.local.get("current") or {}).get("grade")
    )
    return answer
