"""The HTTP shell every service shares: prefix, probes, OpenAPI, errors, auth."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.apidocs import document_problems, install_docs
from shared.auth import TokenVerifier
from shared.edge import Edge
from shared.errors import install_error_handlers
from shared.idempotency import HEADER, MAX_KEY, IdempotencyMiddleware
from shared.oidc.discovery import check_provider
from shared.settings import Settings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def page_headers(request: Request, response: Response, total: int, limit: int, offset: int) -> None:
    """A page of a list: `X-Total-Count`, and a `Link` to the next page when there is one."""
    response.headers["X-Total-Count"] = str(total)
    if offset + limit < total:
        nxt = request.url.include_query_params(offset=offset + limit, limit=limit)
        response.headers["Link"] = f'<{nxt}>; rel="next"'


def _with_provider_check(settings: Settings, lifespan: Lifespan | None) -> Lifespan | None:
    """The lifespan, preceded in oidc mode with discovery by the provider's check: a
    discovery document naming another issuer refuses the start."""
    if not settings.oidc_discovers:
        return lifespan

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        await check_provider(settings)
        if lifespan is None:
            yield
            return
        async with lifespan(app):
            yield

    return run


def service_app(
    service: str,
    settings: Settings,
    lifespan: Lifespan | None = None,
    routers: list[APIRouter] | None = None,
    *,
    description: str = "",
) -> FastAPI:
    """A service's FastAPI app answering under `/<service>`; runs alone or combined."""
    prefix = f"/{service}"
    verifier = TokenVerifier(settings)
    app = FastAPI(
        title=f"Waypoint {service}",
        version="1.0.0",
        description=description,
        openapi_url=f"{prefix}/openapi.json",
        docs_url=None,  # install_docs: Swagger UI from local assets
        redoc_url=None,
        # Within the verifier's lifespan (the provider's keys), the provider's check, then
        # the service's own.
        lifespan=_with_verifier(verifier, _with_provider_check(settings, lifespan)),
    )
    app.state.settings = settings
    app.state.verifier = verifier
    app.state.runtime = None
    install_error_handlers(app)
    # The last added is the outermost: the edge (limits, security headers) sees every
    # answer, the idempotency keys see the answers of the errors' last resort.
    app.add_middleware(IdempotencyMiddleware, state=app.state, schema=service)
    app.add_middleware(Edge, max_body=settings.max_body_bytes, hsts=settings.auth_mode != "dev")

    @app.get(f"{prefix}/healthz", tags=["probes"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok", "service": service}

    @app.get(f"{prefix}/readyz", tags=["probes"], response_model=None)
    async def readyz(request: Request) -> Response:
        """The store and NATS are reachable, no follower lags, no dead letter waits."""
        runtime = request.app.state.runtime
        if runtime is None:
            ok, body = False, {"status": "not-ready", "checks": {"started": False}}
        else:
            ok, body = await runtime.readiness()
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get(f"{prefix}/metrics", tags=["probes"], response_class=PlainTextResponse)
    async def metrics(request: Request) -> Response:
        """Prometheus metrics: dead letters, follower lag."""
        runtime = request.app.state.runtime
        if runtime is not None:
            await runtime.refresh_metrics()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    from shared.deadletters_api import dead_letters_router  # it uses page_headers from here

    for router in [*(routers or []), dead_letters_router()]:
        app.include_router(router, prefix=f"{prefix}/v1")
    install_docs(app, prefix, f"{prefix}/openapi.json")
    _document_idempotency_keys(app)
    return app


def _with_verifier(verifier: TokenVerifier, lifespan: Lifespan | None) -> Lifespan:
    """The service's lifespan, within the verifier's: fetching the provider's keys starts
    with the service, and their refresh stops with it."""

    @asynccontextmanager
    async def both(app: FastAPI) -> AsyncIterator[None]:
        await verifier.start()
        try:
            if lifespan is None:
                yield
            else:
                async with lifespan(app):
                    yield
        finally:
            await verifier.close()

    return both


UNSAFE = ("post", "put", "patch", "delete")


def _document_idempotency_keys(app: FastAPI) -> None:
    """Name the `Idempotency-Key` header (handled by a middleware, which FastAPI cannot
    see) on every operation that changes something, so clients and fuzzers know of it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        header = {
            "name": HEADER,
            "in": "header",
            "required": False,
            "description": "Send the same key with a retry of this request: it takes effect "
            "once, and the retry gets the first answer (`Idempotent-Replayed: true`). Kept "
            "for a day; the same key with another body is 422.",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY},
        }
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                if method in UNSAFE:
                    operation.setdefault("parameters", []).append(header)
        document_problems(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


async def no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield


def probes_only_app(service: str, settings: Settings, description: str) -> FastAPI:
    """A service that so far only connects and answers its probes and OpenAPI."""
    from contextlib import asynccontextmanager

    from shared.runtime import Runtime

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(settings, service)
        await runtime.start()
        app.state.runtime = runtime
        try:
            yield
        finally:
            app.state.runtime = None
            await runtime.close()

    return service_app(service, settings, lifespan, description=description)
