"""The single-subject evaluation read, the service's hottest path, answered without FastAPI's
per-request machinery.

FastAPI's `GET /v1/subjects/{uscc}/evaluation` (in `api.routers.subjects`) documents the read
and is its reference: its query is `EvaluationQuery`, its work is `answer`. `ROUTE`, a plain
Starlette route placed ahead of every other route, serves the same request with the same
model, the same access and audit, and the same answer model, and skips what FastAPI does for
each request around them (solving dependencies, validating the answer a second time, the
exit stacks): `python -m bench.cost` on a 20,000-subject PostgreSQL store counted 3.55 M
instructions a read through FastAPI and 2.64 M through this route. Every middleware (limits,
masking, the grade-read guard, the observer) and exception handler wraps it as it wraps
FastAPI's routes, so a problem answer is the same: `tests/api/test_evaluation_read.py` asks
both routes the same requests. `check_routes` sees only FastAPI's routes; the grade-read
guard withholds this one's answer, as any other, if it wrote no audit record.
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from api.deps import MAX_POSITION, READERS, bearer, presented, wait_for_position
from api.grade_reads import PURPOSE_DESCRIPTION, GradeReadAccess
from api.schemas import EvaluationOut, IsoDate, IsoInstant
from ledger.service.audit import MAX_PURPOSE

PATH = "/v1/subjects/{uscc}/evaluation"


class EvaluationQuery(BaseModel):
    """The query of an evaluation read: which valid date, as known when."""

    model_config = ConfigDict(extra="ignore")

    as_of: IsoDate | None = Field(None, description="valid date (default today, CST)")
    known_at: IsoInstant | None = Field(
        None, description="record-time instant with offset (default now)"
    )
    min_position: int | None = Field(
        None, ge=0, le=MAX_POSITION, description="answer only once the ledger holds this position"
    )


class _AuditedQuery(EvaluationQuery):
    # FastAPI's route takes `purpose` through its grade-read dependency; this route reads it
    # with the rest of the query, under the same bound.
    purpose: str | None = Field(None, max_length=MAX_PURPOSE, description=PURPOSE_DESCRIPTION)


def answer(access: GradeReadAccess, uscc: str, query: EvaluationQuery) -> EvaluationOut:
    """The read itself, blocking (call it in the thread pool): the token and its role, the
    position waited for, the evaluation, and its audit record before it is answered."""
    reads = access.open(READERS, "read grades")
    ledger = access.ledger
    wait_for_position(ledger, query.min_position, seconds=access.config.read_wait_seconds)
    ev = ledger.evaluate(uscc, as_of=query.as_of, known_at=query.known_at)
    reads.record("evaluation", [ev.uscc], as_of=ev.as_of, known_at=ev.known_at, grade=ev.grade)
    return EvaluationOut.model_validate(ev)


def _refused(errors: list[Any]) -> RequestValidationError:
    # As FastAPI reports a query parameter it refused: located under "query".
    return RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in errors])


def _for_access(error: Any) -> bool:
    # `purpose` belongs to the access dependency in FastAPI's route, solved before the token.
    return bool(error["loc"][:1] == ("purpose",))


async def evaluation(request: Request) -> Response:
    """`GET /v1/subjects/{uscc}/evaluation`, as FastAPI's route answers it.

    In FastAPI's order: the access dependency first (`purpose` refused, else no token: 401),
    then the read's own query; every refused parameter is named in one 400.
    """
    refused: list[Any] = []
    try:
        query = _AuditedQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        refused = list(exc.errors())
    if any(_for_access(e) for e in refused):
        raise _refused(sorted(refused, key=lambda e: not _for_access(e)))  # listed first
    secret = presented(await bearer(request))
    if refused:
        raise _refused(refused)
    access = GradeReadAccess(request, secret, query.purpose)
    uscc: str = request.path_params["uscc"]

    def body() -> bytes:
        return answer(access, uscc, query).model_dump_json().encode()

    return Response(await run_in_threadpool(body), media_type="application/json")


class _NamedRoute(Route):
    """A Starlette route that names itself in the scope, as FastAPI's routes do: the access
    log and the metrics label a request by `scope["route"].path`."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE:
            child["route"] = self
        return match, child


ROUTE = _NamedRoute(PATH, evaluation, methods=["GET"])
#: Starlette would answer HEAD with every GET route; FastAPI's route answers GET alone.
ROUTE.methods = {"GET"}
