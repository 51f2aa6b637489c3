"""Liveness, readiness and metrics for operators."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from api.deps import Ledger
from api.observability import REGISTRY
from api.problems import Problem

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(ledger: Ledger) -> dict[str, object]:
    """Readiness: the store answers; reports the ledger position."""
    try:
        position = ledger.max_position()
    except Exception as exc:  # any store failure means not ready
        raise Problem(503, f"the store does not answer: {type(exc).__name__}") from None
    return {"status": "ready", "position": position}


@router.get("/metrics")
def metrics() -> Response:
    """Prometheus exposition of this process's metrics."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
