"""Serving: one service alone, or all four behind one address with their prefixes and
the console (services/console) answering every other path, `/` first."""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from shared.apidocs import landing_page
from shared.edge import SECURITY_HEADERS
from shared.errors import PROBLEM_JSON
from shared.settings import Settings, get_settings

SERVICES = ("intake", "planning", "followup", "referral")
# The page for developers (the four API docs and their health); `/` is the console's.
DEVELOPERS = "/developers"


def create_service(name: str, settings: Settings) -> FastAPI:
    module = importlib.import_module(f"services.{name}.main")
    app: FastAPI = module.create_app(settings)
    return app


class Combined:
    """One ASGI app routing `/<service>/…` to that service's app and every other path to
    the console; `/developers` lists the API docs. Runs all lifespans."""

    def __init__(
        self,
        settings: Settings | None = None,
        apps: dict[str, FastAPI] | None = None,
        console: FastAPI | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        # `apps`: services already built (and started) elsewhere, e.g. by a test.
        self.apps = apps or {name: create_service(name, self.settings) for name in SERVICES}
        # The console serves people, so only a process that serves HTTP runs it.
        self.console = console or create_service("console", self.settings)

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for app in self.apps.values():
                await stack.enter_async_context(app.router.lifespan_context(app))
            if self.settings.role in ("all", "web"):
                console = self.console
                await stack.enter_async_context(console.router.lifespan_context(console))
            settle_heap()
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope.get("path", "")
        if path == DEVELOPERS and scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            await self._landing(scope, send)
            return
        name = path.split("/", 2)[1] if path.startswith("/") else ""
        app = self.apps.get(name)
        if app is None:
            if scope["type"] != "http":
                await _not_found(scope, send)
                return
            await self.console(scope, receive, send)
            return
        await app(scope, receive, send)

    async def _landing(self, scope: Scope, send: Send) -> None:
        """For developers: the four API docs and each service's health."""
        body = await landing_page(self.apps)
        # A page of our own, without script: it may load nothing from anywhere else.
        headers = [(k, v) for k, v in SECURITY_HEADERS if k != b"content-security-policy"]
        csp = b"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
        start = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            (b"content-security-policy", csp),
            *headers,
        ]
        await send({"type": "http.response.start", "status": 200, "headers": start})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        try:
            async with self.lifespan():
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
        except Exception as e:
            logging.getLogger(__name__).exception("start-up failed")
            await send({"type": "lifespan.startup.failed", "message": str(e)})
            return
        await send({"type": "lifespan.shutdown.complete"})


async def _not_found(scope: Scope, send: Send) -> None:
    import json

    body = json.dumps(
        {
            "type": "https://waypoint.example/problems/not-found",
            "title": "Not found",
            "status": 404,
            "detail": "No service answers under this path; try /intake, /planning, "
            "/followup or /referral.",
        }
    ).encode()
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [(b"content-type", PROBLEM_JSON.encode()), *SECURITY_HEADERS],
        }
    )
    await send({"type": "http.response.body", "body": body})


UVICORN_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",
    "http": "httptools",
    "access_log": False,
    "log_level": "info",
    # No `server: uvicorn` banner: it tells an attacker what to look up.
    "server_header": False,
}


def settle_heap() -> None:
    """After start-up: move what start-up built (modules, apps, pools) out of the garbage
    collector's sight, so that its full collections under load walk only the objects
    of requests and events (shorter pauses: a lower p99)."""
    gc.collect()
    gc.freeze()


def tune_process(settings: Settings) -> None:
    # A thread back from a database round trip (holding the event table's lock) waits
    # for the GIL up to the switch interval; 5 ms by default makes saves convoy.
    sys.setswitchinterval(settings.gil_switch_interval)
    # The event store's connections (libpq, through the eventsourcing library) are
    # named as the others are (GUIDANCE_DB_APPLICATION_NAME), unless PGAPPNAME says.
    if settings.pg.application_name:
        os.environ.setdefault("PGAPPNAME", settings.pg.application_name)


def uvicorn_options() -> dict[str, Any]:
    """uvicorn logs at the level `waypoint run --log-level` chose (warning: its start-up
    lines stay out of a newcomer's terminal), else at info."""
    level = os.environ.get("GUIDANCE_LOG_LEVEL", "info").lower()
    return {**UVICORN_OPTIONS, "log_level": level}


def uvicorn_config(app: Any, settings: Settings) -> uvicorn.Config:
    tune_process(settings)
    return uvicorn.Config(app, host=settings.host, port=settings.port, **uvicorn_options())


def combined_from_env() -> Combined:
    """Factory for worker processes: settings from the GUIDANCE_* environment."""
    settings = get_settings()
    tune_process(settings)
    return Combined(settings)


def serve_combined(settings: Settings, workers: int = 1) -> None:
    """All four services on one address; with workers > 1, in that many processes
    (each runs every service; relays and projections are active in one of them)."""
    if workers <= 1:
        uvicorn.Server(uvicorn_config(Combined(settings), settings)).run()
        return
    uvicorn.run(
        "shared.serve:combined_from_env",
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        **uvicorn_options(),
    )


def serve_one(name: str) -> None:
    settings = get_settings()
    # At the level `waypoint run --log-level` (GUIDANCE_LOG_LEVEL) sets, as the worker does.
    logging.basicConfig(
        level=os.environ.get("GUIDANCE_LOG_LEVEL", "info").upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    app = create_service(name, settings)
    started = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        async with started(app) as state:
            settle_heap()
            yield state

    app.router.lifespan_context = lifespan
    # uvicorn shuts down cleanly on Ctrl-C, then re-raises it: no traceback for that.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(uvicorn_config(app, settings)).run()
