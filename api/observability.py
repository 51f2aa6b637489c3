"""Prometheus metrics and one structured log line per request."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import orjson
from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.domain.persons import mask_identity_numbers
from projections import health

REGISTRY = CollectorRegistry()
# The projectors' metrics (failures per read model) live with them; /metrics shows them too.
REGISTRY.register(health.REGISTRY)
REQUESTS = Counter(
    "credit_ledger_http_requests_total",
    "HTTP requests answered",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "credit_ledger_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ERRORS = Counter(
    "credit_ledger_http_errors_total",
    "HTTP answers with status >= 400",
    ["route", "status"],
    registry=REGISTRY,
)
EVENTS_APPENDED = Counter(
    "credit_ledger_events_appended_total",
    "Events appended to the ledger by this process",
    registry=REGISTRY,
)

access_log = logging.getLogger("credit_ledger.access")


class JSONFormatter(logging.Formatter):
    """One JSON object per line: easy to ship to any log store."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # A client may put an identity number where a ref belongs: the log never repeats it.
        return mask_identity_numbers(orjson.dumps(entry).decode())


def configure_logging(level: str) -> None:
    """Send the service's own logs to stderr as JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger("credit_ledger")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


class Observe:
    """Measures and logs every answer, as a pure ASGI middleware placed outermost.

    It sees the status each answer was sent with, and renders (through `failure`) the answer
    to any exception no handler took, so 500s and store faults are logged and counted like
    every other answer. (The framework's own catch-all runs outside every middleware.)
    """

    def __init__(self, app: ASGIApp, failure: Callable[[Request, Exception], Response]) -> None:
        self.app = app
        self.failure = failure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        state = request.state  # created now, so what the routes set on it is seen here
        started = time.perf_counter()
        status: int | None = None

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if status is not None:  # the answer has begun: it can only be cut off
                _observe(request, 500, started, getattr(state, "token_id", None))
                raise
            await self.failure(request, exc)(scope, receive, sending)
        _observe(request, status or 500, started, getattr(state, "token_id", None))


def _observe(request: Request, status: int, started: float, token: str | None) -> None:
    elapsed = time.perf_counter() - started
    scope = request.scope
    template = getattr(scope.get("route"), "path", "unmatched")
    method = scope["method"]
    REQUESTS.labels(method, template, str(status)).inc()
    LATENCY.labels(method, template).observe(elapsed)
    if status >= 400:
        ERRORS.labels(template, str(status)).inc()
    # The line is built only when it is written: at level warning it is not, and building its
    # fields (the request's URL object among them) was a twentieth of a read's own time.
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(
            "request",
            extra={
                "fields": {
                    "method": method,
                    "path": scope["path"],
                    "route": template,
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                    "token": token,
                }
            },
        )


def install(app: FastAPI, failure: Callable[[Request, Exception], Response]) -> None:
    """Measure and log every answer; `failure` answers exceptions no handler took.

    Install it after every other middleware, so it is the outermost and sees their answers.
    """
    app.add_middleware(Observe, failure=failure)
