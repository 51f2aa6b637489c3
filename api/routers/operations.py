"""Liveness, readiness and metrics for operators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from api.deps import Ledger, Projections
from api.observability import REGISTRY
from api.problems import Problem

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, ledger: Ledger, projections: Projections) -> dict[str, object]:
    """Readiness: the store answers; reports the ledger position and the read models' lag."""
    try:
        position = ledger.max_position()
        lag = projections.lag()
    except Exception as exc:  # any store failure means not ready
        raise Problem(503, f"the store does not answer: {type(exc).__name__}") from None
    background = request.app.state.background
    return {
        "status": "ready",
        "position": position,
        "projection_lag": lag,
        "projector": "in-process" if background is not None else "external",
        "projector_error": background.last_error if background is not None else None,
    }


@router.get("/metrics")
def metrics() -> Response:
    """Prometheus exposition of this process's metrics."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
