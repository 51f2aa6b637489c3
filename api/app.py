"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import ORJSONResponse

from credit_ledger.settings import get_settings
from credit_ledger.store import open_ledger


def create_app() -> FastAPI:
    """Build the service on the configured store."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ledger = open_ledger(get_settings().database_url)
        try:
            yield
        finally:
            app.state.ledger.close()

    app = FastAPI(
        title="credit-ledger",
        version="1",
        default_response_class=ORJSONResponse,
        lifespan=lifespan,
    )

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    return app
