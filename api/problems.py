"""RFC 9457 problem responses: every refusal says what was wrong, and never shows a stack trace."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ledger.domain.errors import InvalidVersion, LedgerError, NotEligible
from ledger.service.identity import IdentityUnavailable
from ledger.store.stores import StoreFull, store_fault

log = logging.getLogger("credit_ledger.api")

STATUS_OF_KIND = {
    "invalid": 422,
    "not_eligible": 422,
    "not_found": 404,
    "conflict": 409,
    "forbidden": 403,
}
TITLES = {
    400: "Malformed request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    422: "Refused by a ledger rule",
    500: "Internal error",
    503: "Not available",
    507: "Insufficient storage",
}


class ProblemResponse(Response):
    """`application/problem+json`, serialised with orjson."""

    media_type = "application/problem+json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class Problem(Exception):
    """A refusal raised by the HTTP layer itself (authentication, roles, waiting)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind or TITLES.get(status, "error").lower().replace(" ", "-")
        self.headers = headers
        self.extra = extra or {}


def problem(
    status: int,
    detail: str,
    *,
    kind: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    """A problem+json response."""
    return ProblemResponse(
        problem_body(status, detail, kind=kind, **extra), status_code=status, headers=headers
    )


def problem_body(status: int, detail: str, *, kind: str, **extra: Any) -> dict[str, Any]:
    """The RFC 9457 body: an answer's, or one item's of a batch answer."""
    return {
        "type": f"urn:credit-ledger:problem:{kind}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }


def _loc(loc: tuple[Any, ...] | list[Any]) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in loc]


def install(app: FastAPI) -> None:
    """Map every error to a problem response."""

    @app.exception_handler(LedgerError)
    async def ledger_error(request: Request, exc: LedgerError) -> Response:
        status = STATUS_OF_KIND.get(exc.kind, 422)
        extra: dict[str, Any] = {}
        if exc.field is not None:
            where = (
                "path"
                if exc.field in request.path_params
                else "body"
                if request.method in ("POST", "PUT", "PATCH")
                else "query"
            )
            extra["errors"] = [{"loc": [where, exc.field], "msg": exc.message}]
        if exc.rule is not None:
            extra["rule"] = exc.rule
        if isinstance(exc, NotEligible):
            extra["eligible_on"] = exc.eligible_on.isoformat()
        if isinstance(exc, InvalidVersion):
            extra["line"] = exc.line
        return problem(status, exc.message, kind=exc.kind, **extra)

    @app.exception_handler(IdentityUnavailable)
    async def identity_unavailable(request: Request, exc: IdentityUnavailable) -> Response:
        return problem(503, str(exc), kind="identity-unavailable")

    @app.exception_handler(Problem)
    async def http_problem(request: Request, exc: Problem) -> Response:
        return problem(exc.status, exc.detail, kind=exc.kind, headers=exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": _loc(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        where = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors)
        return problem(400, f"malformed request: {where}", kind="malformed", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers) if exc.headers else None
        return problem(exc.status_code, str(exc.detail), kind="http", headers=headers)


def store_problem(exc: BaseException, retry_after: int) -> ProblemResponse | None:
    """The answer to a store fault: 507 out of space, 503 with Retry-After unavailable."""
    fault = store_fault(exc)
    if fault is None:
        return None
    if isinstance(fault, StoreFull):
        return problem(507, "the store is out of space: nothing was written", kind="store-full")
    wait = retry_after
    return problem(
        503,
        f"the store is unavailable (it does not answer); retry after {wait} s",
        kind="store-unavailable",
        headers={"Retry-After": str(wait)},
    )


def failure(request: Request, exc: Exception) -> ProblemResponse:
    """The answer to an exception no handler took (called by `api.observability.Observe`,
    inside which every answer is logged and counted): a store fault's 503 or 507, else 500."""
    answer = store_problem(exc, request.app.state.config.retry_after_seconds)
    if answer is not None:
        log.warning("store fault on %s %s: %s", request.method, request.url.path, store_fault(exc))
        return answer
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "the service failed to answer; the error was logged", kind="internal")
