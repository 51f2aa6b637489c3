"""The FastAPI application factory: routers, error mapping, metrics, on the stores it is given."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import docs, evaluation_read, grade_reads, limits, masking, observability, problems
from api.config import ServiceConfig
from api.console.router import router as console_router
from api.routers import audit as audit_routes
from api.routers import (
    batch,
    evaluations,
    exchange,
    federation,
    feed,
    fields,
    inspections,
    me,
    models,
    objections,
    operations,
    persons,
    repairs,
    subjects,
)
from ledger.service.application import CreditLedger
from ledger.service.audit import QueryAudit
from projections.runner import BackgroundProjector, Projector

DESCRIPTION = """
The credit ledger's HTTP API (v1). Every credit fact, listing, objection and repair is an
immutable event; evaluations answer for any valid date (`as_of`) as known at any record time
(`known_at`). Results are shared for government supervision only and are not an endorsement.
Errors are `application/problem+json` (RFC 9457).
"""


def create_app(
    config: ServiceConfig,
    *,
    ledger: CreditLedger | None = None,
    audit: QueryAudit | None = None,
    opener: Callable[[], tuple[CreditLedger, QueryAudit]] | None = None,
) -> FastAPI:
    """Build the service on the given stores, or on those `opener` opens when it starts (each
    worker process its own) and closes when it stops. The composition root
    (`credit_ledger.bootstrap`) supplies the configuration and the opener."""
    settings = config
    if (ledger is None) != (audit is None) or (ledger is None and opener is None):
        raise ValueError("create_app needs both stores, or an opener of them")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = ledger is None
        if ledger is None:
            assert opener is not None
            app.state.ledger, app.state.audit = opener()
        else:
            app.state.ledger = ledger
            app.state.audit = audit
        app.state.ledger.save_listeners.append(observability.EVENTS_APPENDED.inc)
        if ledger is None:
            app.state.projector = Projector(app.state.ledger)
        background = None
        in_process = settings.projector == "in-process" or (
            settings.projector == "auto" and app.state.projector.store.embedded
        )
        if in_process:
            background = BackgroundProjector(
                app.state.projector, longest_backoff=settings.projector_backoff_seconds
            )
            background.start()
        app.state.background = background
        if owned:
            # A served process: what it holds from now on (stores, rulebook, routes) lives
            # as long as it does. Frozen, the cyclic collector no longer walks it: a full
            # collection had come every two seconds or so under load, stopping every request
            # of the worker for 30-90 ms, and now walks only what requests made since.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if background is not None:
                background.stop()
            if owned:
                app.state.ledger.close()
                app.state.audit.close()

    observability.configure_logging(settings.log_level)
    # Swagger UI and ReDoc come from files shipped in a package (mounted at docs.ASSETS), never
    # a CDN; the pages themselves are api.docs, which forbid the browser any outside host.
    app = FastAPIOffline(
        docs_url=None,
        redoc_url=None,
        static_url=docs.ASSETS,
        title="credit-ledger",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    if ledger is not None and audit is not None:
        # Given stores are usable at once, with or without a lifespan run (ASGI test clients).
        app.state.ledger = ledger
        app.state.audit = audit
        app.state.projector = Projector(ledger)
        app.state.background = None
    app.state.config = config
    problems.install(app)
    # Middleware added later wraps what came before: the observer, outermost, sees the limit's
    # 413s, the guard's refusals and every failure, so each is logged and counted.
    limits.install(app, settings.max_body_bytes)
    masking.install(app)
    grade_reads.install(app)
    observability.install(app, problems.failure)
    for module in (
        operations,
        subjects,
        persons,
        objections,
        repairs,
        evaluations,
        batch,
        feed,
        fields,
        inspections,
        me,
        models,
        federation,
        exchange,
        audit_routes,
    ):
        app.include_router(module.router)
    app.include_router(console_router)
    app.include_router(docs.router)
    grade_reads.check_routes(app)
    # The hottest read, served outside FastAPI's per-request machinery (its FastAPI route,
    # behind this one, still documents it); first, so that it is the first route tried.
    app.router.routes.insert(0, evaluation_read.ROUTE)
    return app
