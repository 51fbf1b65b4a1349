"""Request guards (ASGI middleware).

- Size: a body over ``max_bytes`` gets 413. A declared Content-Length over the limit is refused at once; a
  body without one (chunked) is counted as it is received and refused as soon as it passes the limit.
- JSON: no route takes URL-encoded forms, so a body declared ``application/x-www-form-urlencoded`` (what
  ``curl -d`` sends by default) is read as the JSON it is.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException


class _TooLarge(HTTPException):
    """Raised while a route reads the body; an HTTPException, so FastAPI answers 413 (not 400)."""


class BodyLimit:
    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if headers.get(b"content-type", b"").startswith(b"application/x-www-form-urlencoded"):
            scope = {
                **scope,
                "headers": [(k, b"application/json" if k == b"content-type" else v) for k, v in scope["headers"]],
            }
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send)
        seen, started = 0, False

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge(413, f"request body too large (at most {self.max_bytes} bytes)")
            return message

        async def tracked_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send):
        body = json.dumps({"detail": f"request body too large (at most {self.max_bytes} bytes)"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
