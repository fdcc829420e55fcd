"""RFC 9457 problem+json, mapped once for every service."""

from __future__ import annotations

import json
import logging
from typing import Any

import asyncpg
import nats.errors
import nats.js.errors
import psycopg
from eventsourcing import persistence
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_BASE = "https://waypoint.example/problems/"
PROBLEM_JSON = "application/problem+json"

log = logging.getLogger(__name__)


class Problem(Exception):
    """An error the API reports as problem+json; `code` becomes the type's last segment."""

    status = 400
    code = "bad-request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status: int | None = None,
        title: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        if status:
            self.status = status
        if title:
            self.title = title
        self.errors = errors
        self.headers = headers

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors is not None:
            body["errors"] = self.errors
        return body


class NotFound(Problem):
    status, code, title = 404, "not-found", "Not found"


class Conflict(Problem):
    status, code, title = 409, "conflict", "Conflict"


class VersionConflict(Conflict):
    code, title = "version-conflict", "Version conflict"


class ConsentRequired(Conflict):
    code, title = "consent-required", "Consent required"


class Unauthorized(Problem):
    status, code, title = 401, "unauthorized", "Unauthorized"


class Forbidden(Problem):
    status, code, title = 403, "forbidden", "Forbidden"


class InvalidInput(Problem):
    status, code, title = 422, "validation-error", "Invalid input"


class Unavailable(Problem):
    status, code, title = 503, "service-unavailable", "Service unavailable"


# Seconds a client is asked to wait after a 503: reconnecting to PostgreSQL or NATS takes
# about this long after an outage or a failover.
RETRY_AFTER_SECONDS = 2

# Faults of the database or the broker that a request cannot ride out (the store's own
# retries already ran): the request changed nothing, and the same request may succeed
# shortly. Answered 503 with Retry-After, never 500.
TRANSIENT: tuple[type[Exception], ...] = (
    psycopg.OperationalError,  # a dead connection, an administrator's shutdown, pool timeout
    persistence.OperationalError,  # the same, through eventsourcing
    persistence.InterfaceError,
    psycopg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    # "cannot switch to state ...; another operation is in progress": a connection whose
    # backend was terminated under it.
    asyncpg.InternalClientError,
    asyncpg.exceptions.TransactionRollbackError,  # a deadlock or serialisation failure
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.ConnectionDrainingError,
    nats.errors.NoServersError,
    nats.errors.NoRespondersError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.js.errors.ServiceUnavailableError,
    # A socket that refuses, resets or times out, or a server's Unix socket gone while
    # it restarts (FileNotFoundError); includes nats' TimeoutError.
    OSError,
)


def unavailable() -> Unavailable:
    return Unavailable(
        "A database or message broker is not reachable just now; nothing was changed. "
        "Retry shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def domain_problem(error: Exception) -> Problem:
    """Map a domain error (attributes `code`, `message`, `field`) to problem+json.

    Stable codes: `invalid` → 422 naming the field, `not-found` → 404,
    `consent-required` → 409 consent-required, anything else → 409 with that code.
    A `failures` mapping (e.g. SMART criteria) becomes one error per key.
    """
    code: str = getattr(error, "code", "conflict")
    message: str = getattr(error, "message", str(error))
    field: str | None = getattr(error, "field", None)
    failures: dict[str, str] = getattr(error, "failures", None) or {}
    if failures:
        return InvalidInput(
            message,
            code=code,
            title="Not accepted",
            errors=[{"field": key, "message": text} for key, text in failures.items()],
        )
    if code == "invalid":
        return InvalidInput(message, errors=[{"field": field or "body", "message": message}])
    if code == "not-found":
        return NotFound(message)
    if code == "consent-required":
        return ConsentRequired(message)
    return Problem(message, status=409, code=code, title="Not allowed now")


def install_domain_errors(app: FastAPI, *error_types: type[Exception]) -> None:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(domain_problem(exc), request)

    for error_type in error_types:
        app.add_exception_handler(error_type, handler)


def problem_response(problem: Problem, request: Request) -> JSONResponse:
    return JSONResponse(
        problem.body(instance=request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Map every failure the API can meet to problem+json, once."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            message = err.get("msg", "invalid")
            if err.get("type") == "extra_forbidden":
                message = "unknown field"
            elif err.get("type") == "json_invalid":
                message = "body is not valid JSON"
            # Invalid JSON is located by a character offset: report it as the body.
            field = "body" if err.get("type") == "json_invalid" else _field(err.get("loc", ()))
            errors.append({"field": field, "message": message})
        fields = ", ".join(e["field"] for e in errors)
        return problem_response(
            InvalidInput(f"The request has invalid fields: {fields}", errors=errors), request
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {
            404: "Not found",
            405: "Method not allowed",
            401: "Unauthorized",
            413: "Content too large",
        }
        codes = {
            404: "not-found",
            405: "method-not-allowed",
            401: "unauthorized",
            413: "content-too-large",
        }
        problem = Problem(
            str(exc.detail),
            status=exc.status_code,
            code=codes.get(exc.status_code, "http-error"),
            title=titles.get(exc.status_code, "HTTP error"),
            headers=dict(exc.headers) if exc.headers else None,
        )
        return problem_response(problem, request)

    @app.exception_handler(AggregateNotFoundError)
    async def _missing(request: Request, exc: AggregateNotFoundError) -> JSONResponse:
        return problem_response(NotFound("No such object."), request)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # Two writers raced on the same aggregate: the loser changed nothing.
        return problem_response(
            VersionConflict("The object was changed by someone else; reload and retry."),
            request,
        )

    async def _transient(request: Request, exc: Exception) -> JSONResponse:
        # One line, no traceback: the outage itself is what an operator needs to see.
        log.warning(
            "%s %s answered 503: %s: %s", request.method, request.url.path, type(exc).__name__, exc
        )
        return problem_response(unavailable(), request)

    for kind in TRANSIENT:
        app.add_exception_handler(kind, _transient)
    app.add_middleware(LastResort)


class LastResort:
    """Whatever no handler mapped: logged once with its traceback and answered 500
    problem+json (a transient fault that escaped the handlers: 503). Starlette's own
    last handler re-raises after answering, so the server would log it a second time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            method, path = scope.get("method", ""), scope.get("path", "")
            if isinstance(exc, TRANSIENT):
                log.warning("%s %s answered 503: %s: %s", method, path, type(exc).__name__, exc)
                problem: Problem = unavailable()
            else:
                log.exception("unhandled error on %s %s", method, path)
                problem = Problem(
                    "An unexpected error occurred; it has been logged.",
                    status=500,
                    code="internal-error",
                    title="Internal error",
                )
            if started:
                return  # the answer is under way: nothing more can be said
            body = json.dumps(problem.body(instance=path)).encode()
            headers = [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ] + [(k.lower().encode(), v.encode()) for k, v in (problem.headers or {}).items()]
            await send(
                {"type": "http.response.start", "status": problem.status, "headers": headers}
            )
            await send({"type": "http.response.body", "body": body})
