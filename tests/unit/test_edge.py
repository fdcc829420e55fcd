"""The edge middleware on its own (shared/edge.py): HSTS outside dev mode, `no-store` on
the APIs whatever a route set, limits answered as problem+json before the app runs."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.edge import MAX_HEADER_BYTES, Edge


def app_behind_the_edge(*, hsts: bool) -> tuple[Edge, list[str]]:
    """An app whose route sets its own Cache-Control, behind the edge; the paths it ran."""
    ran: list[str] = []

    async def route(request: Request) -> JSONResponse:
        ran.append(request.url.path)
        await request.body()
        return JSONResponse({}, headers={"Cache-Control": "max-age=600"})

    inner = Starlette(routes=[Route("/{path:path}", route, methods=["GET", "POST"])])
    return Edge(inner, max_body=1024, hsts=hsts), ran


async def get(
    app: Edge, path: str, *, headers: dict[str, str] | None = None, content: bytes | None = None
) -> httpx.Response:
    """GET the path, or POST `content` to it."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        method = "GET" if content is None else "POST"
        return await client.request(method, path, headers=headers, content=content)


async def test_outside_dev_mode_every_answer_pins_https() -> None:
    app, _ = app_behind_the_edge(hsts=True)

    r = await get(app, "/intake/healthz")

    assert r.headers["strict-transport-security"].startswith("max-age=")
    assert r.headers["x-frame-options"] == "DENY"


async def test_an_api_answer_is_no_store_even_when_its_route_said_otherwise() -> None:
    app, _ = app_behind_the_edge(hsts=False)

    api = await get(app, "/intake/v1/cases")
    other = await get(app, "/intake/openapi.json")

    assert api.headers.get_list("cache-control") == ["no-store"]
    assert other.headers["cache-control"] == "max-age=600"
    assert "strict-transport-security" not in api.headers


async def test_a_long_header_and_an_announced_large_body_never_reach_the_app() -> None:
    app, ran = app_behind_the_edge(hsts=False)

    long_header = await get(
        app, "/intake/v1/cases", headers={"X-Big": "x" * (MAX_HEADER_BYTES + 1)}
    )
    large_body = await get(app, "/intake/v1/clients", content=b"x" * 1025)
    fits = await get(app, "/intake/v1/clients", content=b"x" * 1024)

    assert long_header.status_code == 431
    assert long_header.json()["errors"] == [
        {"field": "x-big", "message": f"longer than {MAX_HEADER_BYTES} bytes"}
    ]
    assert "x" * 100 not in long_header.text
    assert large_body.status_code == 413
    assert large_body.headers["content-type"] == "application/problem+json"
    assert large_body.headers["x-content-type-options"] == "nosniff"
    assert fits.status_code == 200
    assert ran == ["/intake/v1/clients"]


async def test_an_unexpected_error_is_a_500_problem_with_the_security_headers_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from fastapi import APIRouter

    from shared.http import service_app
    from shared.settings import Settings

    router = APIRouter()

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a defect")

    app = service_app("intake", Settings(auth_mode="dev"), routers=[router])
    transport = httpx.ASGITransport(app=app)
    with caplog.at_level(logging.ERROR):
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            r = await client.get("/intake/v1/boom")

    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/internal-error")
    assert "a defect" not in r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    logged = [rec for rec in caplog.records if rec.exc_info]
    assert len(logged) == 1, [rec.getMessage() for rec in caplog.records]


async def test_a_database_socket_gone_while_it_restarts_is_a_503_with_retry_after() -> None:
    from fastapi import APIRouter

    from shared.http import service_app
    from shared.settings import Settings

    router = APIRouter()

    @router.post("/clients")
    async def register() -> None:
        # What asyncpg raises while a restarting PostgreSQL's Unix socket is gone.
        raise FileNotFoundError(2, "No such file or directory")

    app = service_app("intake", Settings(auth_mode="dev"), routers=[router])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.post("/intake/v1/clients")

    assert r.status_code == 503
    assert r.json()["type"].endswith("/service-unavailable")
    assert r.headers["retry-after"].isdigit()
