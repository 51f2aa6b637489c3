"""The request body limit: a body over it is answered 413 before it is read (DOMAIN §8)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem


class BodyLimit:
    """Refuses request bodies over `limit` bytes with 413 problem+json.

    A declared `Content-Length` over the limit is answered at once, the body never read. A body
    without one (chunked) is counted as it arrives: past the limit the 413 is sent, the app is
    told the client went away (so it stops reading and writes nothing), and whatever it answers
    after that is dropped. The connection is then closed by the server, as the body is unread.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                size = -1  # the server refuses a malformed Content-Length itself
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
        received = 0
        refused = False
        started = False

        async def counted() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    refused = True
                    if not started:
                        await self._refuse(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 has been answered; the app's late reply is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted, watched)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = problem(
            413,
            f"the request body is over the limit of {self.limit} bytes",
            kind="too-large",
            headers={"connection": "close"},
            errors=[{"loc": ["body"], "msg": f"at most {self.limit} bytes"}],
        )
        await refusal(scope, receive, send)


def install(app: FastAPI, limit: int) -> None:
    """Limit every request body of the app to `limit` bytes."""
    app.add_middleware(BodyLimit, limit=limit)
