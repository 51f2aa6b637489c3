"""Liveness, readiness and metrics for operators."""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from api.deps import Audit, Ledger, Projections, projection_health
from api.observability import REGISTRY
from api.problems import Problem
from api.schemas import PROBLEM_RESPONSES
from ledger.service.application import CreditLedger
from ledger.service.audit import QueryAudit
from ledger.store.stores import StoreFault, StoreFull, WriteProbe

router = APIRouter(tags=["operations"])
_probe_lock = threading.Lock()


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


#: Why readiness can fail, each a problem `type` of its own (`urn:credit-ledger:problem:KIND`).
NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {
        **PROBLEM_RESPONSES[503],
        "description": "not ready, the `type` naming why: `store-unavailable` or `store-full` "
        "(with `store`), `projection-failing`, or `sync-stalled` (with `sync`: the upstream "
        "and the waiting position)",
    }
}


@router.get("/readyz", responses=NOT_READY)
def readyz(
    request: Request, ledger: Ledger, audit: Audit, projections: Projections
) -> dict[str, object]:
    """Readiness: the store takes a write and every read model is being brought up to date;
    reports the ledger position and the read models' lag.

    Not ready is a 503 problem naming why — the store unreachable or out of space
    (`store_health`, within `CREDIT_LEDGER_READY_TIMEOUT_SECONDS`), the read models that fail
    (`projection_health`), or, with an upstream configured, a record that waited longer than
    `CREDIT_LEDGER_SYNC_STALL_SECONDS` for its acknowledgement (`sync_health`).
    """
    store_health(request.app.state, ledger, audit)
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
        "sync": sync_health(request.app.state.config, ledger),
    }


def sync_health(config: Any, ledger: CreditLedger) -> dict[str, Any] | None:
    """The sync's part of readiness (with an upstream configured): 503 when a record has
    waited longer than `CREDIT_LEDGER_SYNC_STALL_SECONDS` for the upstream's acknowledgement."""
    upstream = config.upstream_url
    if upstream is None:
        return None
    log = ledger.sync_log(upstream)
    acknowledged = 0 if log is None else log.acknowledged
    waiting = ledger.waiting(acknowledged)
    if waiting is not None and waiting.recorded_at is not None:
        # Waiting counts from the record or from the sync's last answer, whichever is later:
        # a sync working through an old backlog is slow, not stalled.
        since = waiting.recorded_at
        if log is not None and log.modified_on > since:
            since = log.modified_on
        waited = (ledger.clock() - since).total_seconds()
        if waited > config.sync_stall_seconds:
            raise Problem(
                503,
                f"sync stalled: the record at position {waiting.position} waits for {upstream}, "
                f"which acknowledged nothing for {waited:.0f} s (limit "
                f"{config.sync_stall_seconds:.0f} s); is `credit-ledger sync` running and the "
                "upstream reachable?",
                kind="sync-stalled",
                extra={
                    "sync": {
                        "upstream": upstream,
                        "acknowledged": acknowledged,
                        "waiting_position": waiting.position,
                        "waiting_since": waiting.recorded_at.isoformat(),
                    }
                },
            )
    return {
        "upstream": upstream,
        "acknowledged": acknowledged,
        "parked": 0 if log is None else len(log.parked),
        "waiting_since": None if waiting is None else str(waiting.recorded_at),
    }


def store_health(state: Any, ledger: CreditLedger, audit: QueryAudit) -> None:
    """The store's part of readiness: a write commits within the ready timeout, else 503.

    Both logs are probed, together: the credit log's store and the audit log's (written on
    every grade read; on PostgreSQL it has its own connections). The problem names which log,
    the store's state (`unreachable` or `out-of-space`) and its error.
    """
    with _probe_lock:
        probes = getattr(state, "write_probes", None)
        if probes is None:
            probes = state.write_probes = {"ledger": WriteProbe(ledger), "audit": WriteProbe(audit)}
    settings = state.config
    timeout = settings.ready_timeout_seconds
    deadline = time.monotonic() + timeout
    for probe in probes.values():
        probe.begin(timeout)
    for log, probe in probes.items():
        try:
            probe.wait(deadline - time.monotonic())
        except StoreFault as fault:
            full = isinstance(fault, StoreFull)
            condition = "out-of-space" if full else "unreachable"
            raise Problem(
                503,
                f"not ready ({log} log): {fault}",
                kind="store-full" if full else "store-unavailable",  # as requests' 507 and 503
                headers={"Retry-After": str(settings.retry_after_seconds)},
                extra={"store": {"status": condition, "log": log, "error": str(fault)}},
            ) from None


@router.get("/metrics")
def metrics() -> Response:
    """Prometheus exposition of this process's metrics."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
