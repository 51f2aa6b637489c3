"""Every answer shows natural persons masked: one pure ASGI middleware around every request.

Events and read models carry a person's name only sealed (`pii1.<ref>.<…>`, DOMAIN §9); this
middleware holds each JSON or CSV answer (problem details included) until complete and puts the
masked name (`张*`, or `[erased]`) in place of every sealed identity, whatever route, read
model or error message carried it. Answers that carry no person pass unchanged. Only the
audited reveal (`GET /v1/subjects/{ref}?reveal=true`) answers an identity in the clear.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.service.application import CreditLedger


class MaskPersons:
    """Replaces sealed identities in JSON and CSV answers with their masked form."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def masked(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                given = dict(message.get("headers", []))
                kind = given.get(b"content-type", b"").decode("latin-1").split(";", 1)[0]
                kind = kind.strip().lower()
                if kind.endswith("json") or kind == "text/csv":
                    start = message
                    return
                await send(message)
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            ledger: CreditLedger = scope["app"].state.ledger
            body = ledger.identities.shown_bytes(b"".join(chunks))
            headers = MutableHeaders(scope=start)
            if "content-length" in headers:
                headers["content-length"] = str(len(body))
            await send(start)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, masked)


def install(app: FastAPI) -> None:
    """Mask persons in every answer of the app."""
    app.add_middleware(MaskPersons)
