"""Request bodies: a size limit, and JSON assumed when a client names no content type."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_body

__all__ = ["BodyLimit"]


#: How much of a refused body is read (and dropped) so that the client, still sending,
#: gets the 413 instead of a reset connection. Past it the connection is closed.
DRAIN_LIMIT = 64 * 1024 * 1024


async def _drain(receive: Receive) -> None:
    dropped = 0
    while dropped <= DRAIN_LIMIT:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return
        dropped += len(message.get("body", b""))


class BodyLimit:
    """Answers 413 (the contract's body) for a request body over ``max_bytes``: at once
    when ``Content-Length`` says so, else as soon as a streamed body passes the limit.

    It also marks a body sent without ``Content-Type`` as JSON: clients of the contract
    post bodiless and small JSON requests that way, and FastAPI would not read them.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _drain(receive)
            await self._answer_413(send)
            return
        if b"content-type" not in headers and scope["method"] in ("POST", "PUT", "PATCH"):
            scope = {
                **scope,
                "headers": [*scope["headers"], (b"content-type", b"application/json")],
            }
        seen = 0

        async def counted_receive() -> Message:
            # An HTTPException raised while the body is read reaches the app's error
            # handlers (FastAPI passes it through), which answer the contract's 413 body.
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    if message.get("more_body"):
                        await _drain(receive)
                    raise HTTPException(413, f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, counted_receive, send)

    async def _answer_413(self, send: Send) -> None:
        body = json.dumps(
            error_body("payload_too_large", f"request body over {self.max_bytes} bytes")
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
