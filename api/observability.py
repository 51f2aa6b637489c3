"""Prometheus metrics and one structured log line per request."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import orjson
from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.responses import Response

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
        return orjson.dumps(entry).decode()


def configure_logging(level: str) -> None:
    """Send the service's own logs to stderr as JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger("credit_ledger")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def install(app: FastAPI) -> None:
    """Measure and log every request."""

    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        REQUESTS.labels(request.method, template, str(response.status_code)).inc()
        LATENCY.labels(request.method, template).observe(elapsed)
        if response.status_code >= 400:
            ERRORS.labels(template, str(response.status_code)).inc()
        access_log.info(
            "request",
            extra={
                "fields": {
                    "method": request.method,
                    "path": request.url.path,
                    "route": template,
                    "status": response.status_code,
                    "ms": round(elapsed * 1000, 2),
                    "token": getattr(request.state, "token_id", None),
                }
            },
        )
        return response
