"""Every answer carrying a grade, score or tier is on the audit log: one mechanism, no way around.

Three parts, so that a new route cannot serve grades unrecorded:

- `GradeReadLog`, the dependency a grade-bearing route takes: it records the read (who, which
  subjects, the query, the caller's `purpose`) through the query-audit log's group commit, and
  adds the `purpose` query parameter to every such route.
- `GradeReadGuard`, a pure ASGI middleware around every request: it withholds (500
  problem+json) any JSON or CSV answer that carries grade, score or tier keys when no audit
  record was written for that request — whatever the route, router or mount that made it.
- `check_routes`, run when the app is built: a route whose response model declares grade,
  score or tier fields but does not take `GradeReadLog` stops the service from starting.

Multi-subject answers (worklists, draws and their populations, feed pages, the audit log
itself) are one record naming every subject the answer carried; see `service.audit.GradeRead`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import TypeAdapter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.config import ServiceConfig
from api.deps import authenticate, bearer, get_actor, get_audit, permit, presented
from api.problems import problem
from ledger.domain.model import default_models
from ledger.domain.values import Actor, Role
from ledger.service.application import CreditLedger
from ledger.service.audit import MAX_PURPOSE, QueryAudit

log = logging.getLogger("credit_ledger.api")

#: A key naming a grade, score or tier: `grade`, `grade_en`, `public_score`, `tier`, ...
GRADE_NAME = r"(?:[a-z0-9]+_)*(?:grade|score|tier)(?:_[a-z0-9]+)*"
_GRADE_NAME = re.compile(GRADE_NAME)
#: The grade labels of every model version shipped (优 良 中 差), as the models state them.
GRADE_LABELS = "|".join(
    sorted({re.escape(label) for model in default_models().models for label in model.labels})
)
#: The same as a JSON object key, or a key that is itself a grade label (counts per grade).
#: In JSON a string value cannot hold an unescaped quote, so `"…":` only ever matches a key.
_JSON_KEY = re.compile(rf'"(?:{GRADE_NAME}|{GRADE_LABELS})"\s*:'.encode())
#: The same as a column of a CSV header line (an export).
_CSV_COLUMN = re.compile(rf'(?:^|,)"?{GRADE_NAME}"?(?:,|$)'.encode())
STATE_KEY = "credit_ledger.grade_reads"
#: The `purpose` parameter of every grade read, as its documentation says it.
PURPOSE_DESCRIPTION = "why you read it: kept in the query-audit log"


def is_grade_name(name: str) -> bool:
    """Whether a field or key names a grade, score or tier."""
    return _GRADE_NAME.fullmatch(name) is not None


def carries_grades(content_type: str, body: bytes) -> bool:
    """Whether an answer's body carries grade, score or tier values (JSON keys, CSV columns)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "text/csv":
        header = body.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].rstrip(b"\r")
        return _CSV_COLUMN.search(header) is not None
    if kind.endswith("json"):
        return _JSON_KEY.search(body) is not None
    return False


@dataclass
class RequestReads:
    """The audit positions written for one request (the guard reads them before answering)."""

    positions: list[int] = field(default_factory=list)


@dataclass
class GradeReads:
    """Records the grade reads of one request: the caller, its query and stated purpose."""

    audit: QueryAudit
    actor: Actor
    query: str
    purpose: str | None
    marks: RequestReads

    def record(
        self,
        endpoint: str,
        subjects: Iterable[str],
        *,
        grade: str | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
        count: int | None = None,
        purpose: str | None = None,
    ) -> int:
        """Record, before it is served, that this answer carried these subjects' grades.

        `purpose` is one stated in the request's body (a read by POST); without it, the
        `purpose` query parameter's."""
        position = self.audit.record_read(
            token_id=self.actor.actor_id,
            role=self.actor.role.value,
            department=self.actor.department,
            endpoint=endpoint,
            uscc=None,
            subjects=subjects,
            purpose=self.purpose if purpose is None else purpose,
            as_of=as_of,
            known_at=known_at,
            grade=grade,
            count=count,
            query=self.query,
        )
        self.marks.positions.append(position)
        return position


async def grade_reads(
    request: Request,
    actor: Annotated[Actor, Depends(get_actor)],
    audit: Annotated[QueryAudit, Depends(get_audit)],
    purpose: Annotated[
        str | None,
        Query(max_length=MAX_PURPOSE, description=PURPOSE_DESCRIPTION),
    ] = None,
) -> GradeReads:
    """The grade-read recorder of this request (the guard must be installed around the app).

    A coroutine, as it only reads the request: no hop to the thread pool.
    """
    return _recorder(request, actor, purpose, audit)


def _recorder(request: Request, actor: Actor, purpose: str | None, audit: QueryAudit) -> GradeReads:
    marks = request.scope.get("state", {}).get(STATE_KEY)
    if not isinstance(marks, RequestReads):
        raise RuntimeError("GradeReadGuard is not installed: grade reads would go unchecked")
    query = f"{request.method} {request.url.path}"
    if request.url.query:
        query += f"?{request.url.query}"
    return GradeReads(audit, actor, query, purpose, marks)


GradeReadLog = Annotated[GradeReads, Depends(grade_reads)]


@dataclass
class GradeReadAccess:
    """A hot read's one dependency: the presented secret and the grade-read log, not yet opened.

    A route taking it is a coroutine that does all its blocking work in one call to the
    thread pool, opening the log there (`open`: the token check, then the role check) before
    it reads anything. Each dependency FastAPI solves, and each hop to the pool and back,
    costs a read of one subject about as much as the read itself.
    """

    request: Request
    secret: str
    purpose: str | None

    @property
    def ledger(self) -> CreditLedger:
        """The application the service was started with."""
        ledger: CreditLedger = self.request.app.state.ledger
        return ledger

    @property
    def config(self) -> ServiceConfig:
        """The configuration the service was started with."""
        config: ServiceConfig = self.request.app.state.config
        return config

    @property
    def audit(self) -> QueryAudit:
        """The query-audit log."""
        audit: QueryAudit = self.request.app.state.audit
        return audit

    def open(self, allowed: frozenset[Role], what: str) -> GradeReads:
        """The request's grade-read recorder, once the token and its role admit it (401/403).

        Blocking: call it inside the route's hop to the thread pool."""
        actor = permit(authenticate(self.request, self.ledger, self.secret), allowed, what)
        return _recorder(self.request, actor, self.purpose, self.audit)


async def grade_read_access(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    purpose: Annotated[
        str | None,
        Query(max_length=MAX_PURPOSE, description=PURPOSE_DESCRIPTION),
    ] = None,
) -> GradeReadAccess:
    """The hot read's access: only whether a token is presented at all is checked here (401),
    as that needs no store, so nothing blocks the event loop."""
    return GradeReadAccess(request, presented(credentials), purpose)


GradeReadOnce = Annotated[GradeReadAccess, Depends(grade_read_access)]


class GradeReadGuard:
    """Withholds every grade-bearing answer for which no audit record was written.

    JSON and CSV answers are held until complete and scanned for grade, score or tier keys;
    other answers (pages, scripts, metrics) pass through unbuffered. `schema_paths` (the
    OpenAPI document) name grade fields but carry no subject's values, and are not held.
    """

    def __init__(self, app: ASGIApp, schema_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.schema_paths = schema_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.schema_paths:
            await self.app(scope, receive, send)
            return
        marks = RequestReads()
        scope.setdefault("state", {})[STATE_KEY] = marks
        start: Message | None = None
        content_type = ""
        chunks: list[bytes] = []

        async def guarded(message: Message) -> None:
            nonlocal start, content_type
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                content_type = headers.get(b"content-type", b"").decode("latin-1")
                kind = content_type.split(";", 1)[0].strip().lower()
                if not (kind.endswith("json") or kind == "text/csv"):
                    await send(message)
                    return
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            if not marks.positions and carries_grades(content_type, body):
                log.error(
                    "withheld an answer carrying grades without an audit record",
                    extra={"fields": {"method": scope.get("method"), "path": scope.get("path")}},
                )
                withheld = problem(
                    500,
                    "the answer carries grades but no audit record was written for it, "
                    "so it was withheld; the error was logged",
                    kind="unaudited-grade-read",
                )
                await withheld(scope, receive, send)
                return
            await send(start)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, guarded)


def _dependencies(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _dependencies(sub)


def _schema_names(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            yield from _schema_names(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _schema_names(value)


def grade_fields(route: APIRoute) -> list[str]:
    """The grade, score or tier fields the route's response model declares."""
    if route.response_model is None:
        return []
    schema = TypeAdapter(route.response_model).json_schema(mode="serialization")
    return sorted({n for n in _schema_names(schema) if is_grade_name(n)})


def check_routes(app: FastAPI) -> None:
    """Refuse to build a service with a route that answers grades and does not record them."""
    unrecorded = [
        f"{','.join(sorted(route.methods or ()))} {route.path} (answers {', '.join(names)})"
        for route in app.routes
        if isinstance(route, APIRoute)
        and (names := grade_fields(route))
        and not {grade_reads, grade_read_access} & set(_dependencies(route.dependant))
    ]
    if unrecorded:
        raise RuntimeError(
            "routes answer grades without recording the read (take `GradeReadLog`): "
            + "; ".join(unrecorded)
        )


def install(app: FastAPI) -> None:
    """Put the guard around every request of the app."""
    schema = frozenset({app.openapi_url} if app.openapi_url else ())
    app.add_middleware(GradeReadGuard, schema_paths=schema)
