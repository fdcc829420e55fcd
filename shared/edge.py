"""The edge of every service: what every request and every answer goes through before the
routes see it, as one pure-ASGI middleware (no per-endpoint code).

- A request body over the limit (setting `max_body_bytes`) is answered 413
  problem+json: at once when its Content-Length says so, else as soon as the streamed
  bytes pass it (the route never sees the body).
- A header over `MAX_HEADER_BYTES` (a 100 KB bearer token was accepted and cached) is
  answered 431 problem+json before anything parses it.
- Every answer carries the security headers: no MIME sniffing, no framing (by any
  origin), no referrer, and HSTS outside dev mode.
- Every answer of a `/v1/` API is `Cache-Control: no-store`: they carry personal data,
  which no browser or proxy is to keep.

(FastAPI's own `max_body_size` answers a too-long Content-Length in plain text, over our
problem+json: hence this.)
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import MAX_TOKEN_BYTES
from shared.errors import PROBLEM_BASE, PROBLEM_JSON

# Large enough for a bearer token (the largest header we read), small enough that no
# header costs more than a glance.
MAX_HEADER_BYTES = MAX_TOKEN_BYTES + len("Bearer ")
HSTS = b"max-age=31536000; includeSubDomains"
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # Only frame-ancestors: the Swagger UI at /<service>/docs starts with an inline
    # script, which a default-src or script-src would block.
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
]


class Edge:
    """Refuse over-long headers and bodies; add the security and cache headers to every
    answer."""

    def __init__(self, app: ASGIApp, *, max_body: int, hsts: bool) -> None:
        self.app = app
        self.max_body = max_body
        self.added = SECURITY_HEADERS + ([(b"strict-transport-security", HSTS)] if hsts else [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = self.added
        if "/v1/" in scope.get("path", ""):
            added = [*added, (b"cache-control", b"no-store")]
        names = {name for name, _ in added}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in names]
                message["headers"] = kept + added
            await send(message)

        length = None
        for name, value in scope["headers"]:
            if len(value) > MAX_HEADER_BYTES:
                header = name.decode("latin-1")
                detail = f"The {header} header is longer than {MAX_HEADER_BYTES} bytes."
                await _problem(scope, send_with_headers, 431, "header-too-large", detail, header)
                return
            if name == b"content-length":
                length = value
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _problem(scope, send_with_headers, 413, "content-too-large", self._too_large)
            return
        received = 0

        async def counted() -> Message:
            # A body without a (truthful) length: counted as it streams in. The route
            # reading it meets the 413 (as problem+json, through the error handlers).
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise HTTPException(413, self._too_large)
            return message

        await self.app(scope, counted, send_with_headers)

    @property
    def _too_large(self) -> str:
        return f"The request body is larger than {self.max_body} bytes."


async def _problem(
    scope: Scope, send: Send, status: int, code: str, detail: str, header: str | None = None
) -> None:
    """A problem+json answer from the edge (a header's value is never echoed)."""
    titles = {413: "Content too large", 431: "Request header fields too large"}
    problem: dict[str, object] = {
        "type": PROBLEM_BASE + code,
        "title": titles[status],
        "status": status,
        "detail": detail,
        "instance": scope.get("path", ""),
    }
    if header is not None:
        problem["errors"] = [{"field": header, "message": f"longer than {MAX_HEADER_BYTES} bytes"}]
    body = json.dumps(problem).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                # The request was not read to its end: the connection cannot serve another.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
