"""Liveness, readiness and metrics for operators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from api.deps import Ledger, Projections
from api.observability import REGISTRY
from api.problems import Problem
from projections.health import ProjectionFailure
from projections.runner import BackgroundProjector, Projector

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, ledger: Ledger, projections: Projections) -> dict[str, object]:
    """Readiness: the store answers and every read model is being brought up to date (503 naming
    those that fail, see `projection_health`); reports the ledger position and their lag."""
    background = request.app.state.background
    try:
        position = ledger.max_position()
        lag = projections.lag()
        not_projecting = projection_health(background, projections, lag)
    except Exception as exc:  # any store failure means not ready
        raise Problem(503, f"the store does not answer: {type(exc).__name__}") from None
    if not_projecting is not None:
        raise not_projecting
    return {
        "status": "ready",
        "position": position,
        "projection_lag": lag,
        "projector": "in-process" if background is not None else "external",
        "projector_error": background.last_error if background is not None else None,
    }


def projection_health(
    background: BackgroundProjector | None, projector: Projector, lag: dict[str, int]
) -> Problem | None:
    """503 naming each read model that cannot be brought up to date, or None when all can.

    Failing are the read models this process's own projector failed on last, and those an
    external `project` worker recorded as failing (its stored failure row) while they lag.
    """
    failing: dict[str, ProjectionFailure] = dict(background.failures) if background else {}
    for stored in projector.stored_failures():
        if stored.projection not in failing and lag.get(stored.projection, 0) > 0:
            failing[stored.projection] = stored
    if not failing:
        return None
    return Problem(
        503,
        "; ".join(f.describe() for f in failing.values()),
        kind="projection-failing",
        headers={"Retry-After": "5"},
        extra={
            "projections": [
                {
                    "projection": f.projection,
                    "error": f.error,
                    "message": f.message,
                    "since": f.since.isoformat(),
                    "failures": f.failures,
                    "lag": lag.get(f.projection),
                }
                for f in failing.values()
            ]
        },
    )


@router.get("/metrics")
def metrics() -> Response:
    """Prometheus exposition of this process's metrics."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
