"""Composition root of the console: its sessions' pool, the one HTTP client to the APIs,
the pages, and how refusals are shown."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.console import assets
from services.console.aftercare import router as aftercare
from services.console.agenda import router as agenda
from services.console.analysis import router as analysis
from services.console.api import GENERAL, Api, ApiError
from services.console.audit_pages import router as audit_pages
from services.console.casework import router as casework
from services.console.complaints import router as complaints
from services.console.dashboard import router as dashboard
from services.console.directory import router as directory
from services.console.funder import router as funder
from services.console.groups import router as groups
from services.console.handover import router as handover
from services.console.holds import router as holds
from services.console.i18n import LANGUAGES, N_, translations
from services.console.oidc import OidcSignIn, origin
from services.console.pages import router as pages
from services.console.partner_pages import router as partner_pages
from services.console.planner import router as planner
from services.console.printing import router as printing
from services.console.referrals import router as referrals
from services.console.retention import router as retention
from services.console.session_notes import router as session_notes
from services.console.sessions import SCHEMA_SQL, Sealer, SessionStore
from services.console.signin import DevSignIn, SignInFlow, sign_out_router
from services.console.web import (
    CsrfRefused,
    PageHeaders,
    SignInNeeded,
    session_cookie_name,
    view,
)
from shared.settings import Settings, get_settings

STATIC = Path(__file__).parent / "static"
log = logging.getLogger(__name__)


def api_base(settings: Settings) -> str:
    """The APIs' base URL: GUIDANCE_CONSOLE_API_URL, else this process's own address
    (where `waypoint run` serves them beside the console)."""
    if settings.console_api_url:
        return settings.console_api_url
    host = settings.host
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def sign_in_flow(settings: Settings) -> SignInFlow:
    """Dev mode's page of demo people; in oidc mode, OpenID Connect (services/console/oidc.py)."""
    if settings.auth_mode == "dev":
        return DevSignIn()
    return OidcSignIn(settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for language in LANGUAGES:
            translations(language)  # a broken catalogue fails the start, not a page
        if assets.missing():
            log.warning(
                "console assets missing (%s): run `python -m services.console.assets`",
                ", ".join(assets.missing()),
            )
        pool = await asyncpg.create_pool(
            **settings.pg.asyncpg_kwargs(), min_size=1, max_size=settings.read_pool_size
        )
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('console.schema'))")
            await conn.execute(SCHEMA_SQL)
        app.state.pool = pool
        app.state.sessions = SessionStore(
            pool,
            Sealer(settings.master_key_bytes, settings.master_key_previous_bytes),
            idle=timedelta(minutes=settings.console_session_idle_minutes),
            absolute=timedelta(hours=settings.console_session_absolute_hours),
        )
        app.state.api = Api(api_base(settings), settings.console_api_timeout_seconds)
        await flow.start()
        try:
            yield
        finally:
            await flow.close()
            await app.state.api.close()
            app.state.pool = None
            await pool.close()

    app = FastAPI(
        title="Waypoint console",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pool = None
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_probes(app)
    flow = sign_in_flow(settings)
    app.state.sign_in_flow = flow
    if isinstance(flow, OidcSignIn):
        app.state.refresh_session = flow.refresh_session
    app.include_router(flow.router)
    app.include_router(sign_out_router())
    app.include_router(pages)
    app.include_router(casework)
    app.include_router(agenda)
    app.include_router(planner)
    app.include_router(analysis)
    app.include_router(printing)
    app.include_router(aftercare)
    app.include_router(referrals)
    app.include_router(partner_pages)
    app.include_router(directory)
    app.include_router(audit_pages)
    app.include_router(dashboard)
    app.include_router(funder)
    app.include_router(holds)
    app.include_router(handover)
    app.include_router(complaints)
    app.include_router(session_notes)
    app.include_router(groups)
    app.include_router(retention)
    install_refusals(app)
    app.add_middleware(
        PageHeaders,
        hsts=settings.auth_mode != "dev",
        # oidc mode: the sign-in and sign-out forms continue at the identity provider.
        form_targets=(origin(settings.oidc_issuer),)
        if settings.auth_mode == "oidc" and settings.oidc_issuer
        else (),
    )
    return app


def install_probes(app: FastAPI) -> None:
    """Kubernetes' probes (deploy/k8s): `/healthz`, the process is up; `/readyz`, its
    database (the sessions) answers. Neither needs a session."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "console"}

    @app.get("/readyz", include_in_schema=False, response_model=None)
    async def readyz(request: Request) -> Response:
        pool: asyncpg.Pool | None = request.app.state.pool
        ready = False
        if pool is not None:
            with contextlib.suppress(Exception):
                async with pool.acquire(timeout=2) as conn:
                    ready = bool(await conn.fetchval("SELECT true", timeout=2))
        body = {"status": "ready" if ready else "not-ready", "checks": {"database": ready}}
        return JSONResponse(body, status_code=200 if ready else 503)


def install_refusals(app: FastAPI) -> None:
    def sign_in_again(request: Request) -> str:
        """The sign-in page, to come back here after."""
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return "/sign-in" if here == "/" else f"/sign-in?next={quote(here, safe='')}"

    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, exc: SignInNeeded) -> Response:
        return RedirectResponse(sign_in_again(request), status_code=303)

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, exc: CsrfRefused) -> Response:
        page = await view(request)
        return page.render(
            "error.html",
            status=403,
            title=page.gettext(N_("This form has expired")),
            message=page.gettext(
                N_(
                    "The form was not sent from this page, or it is too old. Nothing was "
                    "changed. Go back, reload the page and try again."
                )
            ),
        )

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> Response:
        page = await view(request)
        if exc.status == 401:
            # The token is no longer accepted: the session ends; sign in again.
            if page.session is not None:
                await request.app.state.sessions.delete(page.session)
            response = RedirectResponse(sign_in_again(request), status_code=303)
            response.delete_cookie(session_cookie_name(page.settings), path="/")
            return response
        message = GENERAL.get(exc.code)
        # A refusal is the API's answer (info); an API away is worth a warning.
        log.log(
            logging.INFO if exc.status < 500 else logging.WARNING,
            "console: %s %s: an API answered %s %s (%s)",
            request.method,
            request.url.path,
            exc.status,
            exc.code or "-",
            exc.problem.get("detail") or "",
        )
        # A page asked for that the API does not know (or does not show this person,
        # e.g. another organisation's): no such page, and nothing said of it.
        missing = exc.status == 404 and request.method == "GET"
        return page.render(
            "error.html",
            status=exc.status if exc.status in (403, 404, 409) else 503,
            title=page.gettext(N_("Page not found") if missing else N_("This did not work")),
            message=page.gettext(message)
            if message
            else page.gettext(
                N_("The change was refused: %(detail)s"),
                detail=str(exc.problem.get("detail") or exc.status),
            ),
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # A malformed address (an id that is no id): no such page.
        page = await view(request)
        return page.render(
            "error.html",
            status=404,
            title=page.gettext(N_("Page not found")),
            message=page.gettext(N_("There is no page at this address.")),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        page = await view(request)
        if exc.status_code == 404:
            return page.render(
                "error.html",
                status=404,
                title=page.gettext(N_("Page not found")),
                message=page.gettext(N_("There is no page at this address.")),
            )
        return page.render(
            "error.html",
            status=exc.status_code,
            title=page.gettext(N_("This did not work")),
            message=str(exc.detail),
        )
