"""What every page shares: the session, the language, CSRF, rendering, refusals."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.console.i18n import LANGUAGES, Localised, choose, environment
from services.console.sessions import Session, SessionStore
from shared.settings import Settings

LANGUAGE_COOKIE = "waypoint-language"
# Before sign-in, forms carry a token that must match this cookie (double submit).
ANONYMOUS_CSRF_COOKIE = "waypoint-csrf"
CSRF_FIELD = "csrf_token"


def session_cookie_name(settings: Settings) -> str:
    # `__Host-`: the browser keeps it only when Secure, for this host and path / alone.
    return "waypoint-session" if settings.auth_mode == "dev" else "__Host-waypoint-session"


def secure_cookies(settings: Settings) -> bool:
    return settings.auth_mode != "dev"


class SignInNeeded(Exception):
    """No live session: the page redirects to the sign-in page."""


class CsrfRefused(Exception):
    """A POST without the form's CSRF token (or with another one): refused, nothing done."""


def safe_next(target: str | None, default: str = "/") -> str:
    """A path of this site to go back to; anything else (another site) is the default."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


@dataclass
class View:
    """One request's page context: who, in which language, with which CSRF token."""

    request: Request
    settings: Settings
    session: Session | None
    local: Localised
    anonymous_csrf: str | None = None
    new_anonymous_csrf: bool = False

    @property
    def language(self) -> str:
        return self.local.language

    def gettext(self, message: str, **values: object) -> str:
        return self.local.gettext(message, **values)

    @property
    def csrf_token(self) -> str:
        if self.session is not None:
            return self.session.csrf_secret
        if self.anonymous_csrf is None:
            self.anonymous_csrf = secrets.token_urlsafe(32)
            self.new_anonymous_csrf = True
        return self.anonymous_csrf

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        env = environment(self.language, self.settings.console_timezone)
        developers = (
            f"{self.settings.console_api_url.rstrip('/')}/developers"
            if self.settings.console_api_url
            else "/developers"
        )
        body = env.get_template(template).render(
            lang=self.language,
            session=self.session,
            csrf_token=self.csrf_token,
            path=self.request.url.path,
            here=self.request.url.path
            + (f"?{self.request.url.query}" if self.request.url.query else ""),
            developers_url=developers,
            dev_mode=self.settings.auth_mode == "dev",
            **context,
        )
        response = HTMLResponse(body, status_code=status)
        self.finish(response)
        return response

    def finish(self, response: Response) -> None:
        if self.new_anonymous_csrf and self.anonymous_csrf:
            response.set_cookie(
                ANONYMOUS_CSRF_COOKIE,
                self.anonymous_csrf,
                httponly=True,
                samesite="lax",
                secure=secure_cookies(self.settings),
                path="/",
            )

    def redirect(self, to: str) -> RedirectResponse:
        response = RedirectResponse(to, status_code=303)
        self.finish(response)
        return response

    def check_csrf(self, form: FormData) -> None:
        given = form.get(CSRF_FIELD)
        if not isinstance(given, str) or not given:
            raise CsrfRefused()
        if self.session is not None:
            if not self.session.csrf_ok(given):
                raise CsrfRefused()
            return
        cookie = self.request.cookies.get(ANONYMOUS_CSRF_COOKIE)
        if not cookie or not hmac.compare_digest(cookie, given):
            raise CsrfRefused()


async def current_session(request: Request) -> Session | None:
    settings: Settings = request.app.state.settings
    raw = request.cookies.get(session_cookie_name(settings))
    if not raw:
        return None
    store: SessionStore = request.app.state.sessions
    session = await store.get(raw)
    refresh = getattr(request.app.state, "refresh_session", None)
    if session is not None and refresh is not None:
        # oidc mode: tokens near their expiry are refreshed; a failed refresh ends it.
        session = await refresh(request, session)
    return session


async def view(request: Request) -> View:
    """The page context of a request, signed in or not."""
    settings: Settings = request.app.state.settings
    session = await current_session(request)
    chosen = session.language if session and session.language else None
    chosen = chosen or request.cookies.get(LANGUAGE_COOKIE)
    language = choose(chosen, request.headers.get("accept-language"))
    return View(
        request=request,
        settings=settings,
        session=session,
        local=Localised(language, settings.console_timezone),
        anonymous_csrf=request.cookies.get(ANONYMOUS_CSRF_COOKIE),
    )


async def signed_in(request: Request) -> View:
    """The page context of a signed-in user; else to the sign-in page."""
    page = await view(request)
    if page.session is None:
        raise SignInNeeded()
    return page


# A route's page context, signed in (else a redirect to the sign-in page).
SignedIn = Annotated[View, Depends(signed_in)]


def language_of(form_value: object) -> str | None:
    return form_value if isinstance(form_value, str) and form_value in LANGUAGES else None


# Pages of people: nothing from elsewhere, no inline script or style, no framing.
PAGE_HEADERS: list[tuple[bytes, bytes]] = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class PageHeaders:
    """The security headers on every answer; pages (not static files) are not cached."""

    def __init__(self, app: ASGIApp, hsts: bool, form_targets: tuple[str, ...] = ()) -> None:
        self.app = app
        headers = PAGE_HEADERS
        if form_targets:
            # oidc mode: the sign-in and sign-out forms lead on to the identity provider.
            extra = " ".join(form_targets).encode()
            headers = [
                (k, v.replace(b"form-action 'self'", b"form-action 'self' " + extra))
                for k, v in PAGE_HEADERS
            ]
        self.headers = headers + (
            [(b"strict-transport-security", b"max-age=31536000")] if hsts else []
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in self.headers if k not in names]
                if not static and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
