"""Signing in and out.

`dev` mode: `/sign-in` lists the demo people (shared/cli.py's DEV_PEOPLE) and mints the
chosen one's token here, with the dev signing secret. `oidc` mode: services/console/oidc.py,
the OpenID Connect authorisation-code flow with PKCE (`/sign-in` with its one button,
`/sign-in/callback`), which ends, as the dev flow does, in `start_session`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.i18n import N_
from services.console.sessions import Session, SessionStore
from services.console.web import (
    LANGUAGE_COOKIE,
    View,
    safe_next,
    secure_cookies,
    session_cookie_name,
    view,
)
from shared.auth import dev_token
from shared.cli import DEV_PEOPLE

Page = Annotated[View, Depends(view)]

ROLE_NAMES = {
    "counsellor": N_("Counsellor"),
    "team_lead": N_("Team lead"),
    "admin": N_("Administrator"),
    "auditor": N_("Auditor"),
    "directory_admin": N_("Partner directory administrator"),
    "partner": N_("Partner organisation"),
}

# Where each role starts after signing in (the first of a person's roles listed here; a
# counsellor starts on the worklist, `/`).
ROLE_HOMES: dict[str, str] = {
    "team_lead": "/dashboard",
    "partner": "/inbox",
    "admin": "/directory",
    "directory_admin": "/directory",
    "auditor": "/audit",
}


def home_of(roles: list[str]) -> str:
    """The page a person with these roles starts on."""
    for role, home in ROLE_HOMES.items():
        if role in roles:
            return home
    return "/"


class SignInFlow(Protocol):
    """How a deployment signs people in: the routes it adds to the console."""

    router: APIRouter

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def sign_out_to(self, request: Request, session: Session | None) -> str | None:
        """Where the browser goes once the session is gone (None: the sign-in page)."""


async def start_session(
    page: View,
    *,
    subject: str,
    organisation: str,
    roles: list[str],
    partner_id: str | None,
    access_token: str,
    next_path: str,
    refresh_token: str | None = None,
    id_token: str | None = None,
    token_expires_at: datetime | None = None,
) -> Response:
    """A new session for a signed-in person (any old one of this browser ends), its
    cookie, and on to where they were going."""
    store: SessionStore = page.request.app.state.sessions
    if page.session is not None:
        await store.delete(page.session)
    raw, _ = await store.create(
        subject=subject,
        organisation=organisation,
        roles=roles,
        partner_id=partner_id,
        access_token=access_token,
        language=page.language,
        refresh_token=refresh_token,
        id_token=id_token,
        token_expires_at=token_expires_at,
    )
    target = safe_next(next_path)
    # Signing in from the start page: on to the role's own first page.
    response = RedirectResponse(home_of(roles) if target == "/" else target, status_code=303)
    response.set_cookie(
        session_cookie_name(page.settings),
        raw,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(page.settings),
        path="/",
    )
    return response


class DevSignIn:
    """Dev mode: pick a demo person; their token is minted here."""

    def __init__(self) -> None:
        self.router = APIRouter()
        self.router.add_api_route("/sign-in", self.page, methods=["GET"])
        self.router.add_api_route("/sign-in", self.sign_in, methods=["POST"])

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def sign_out_to(self, request: Request, session: Session | None) -> str | None:
        return None

    async def page(self, page: Page, next: str = "/") -> HTMLResponse:
        people = [
            {"role": role, "subject": sub, "name": ROLE_NAMES[role]}
            for role, (sub, _, _) in DEV_PEOPLE.items()
        ]
        return page.render("sign_in.html", people=people, next=safe_next(next))

    async def sign_in(self, request: Request, page: Page) -> Response:
        form = await request.form()
        page.check_csrf(form)
        role = form.get("person")
        if not isinstance(role, str) or role not in DEV_PEOPLE:
            return page.render(
                "sign_in.html",
                status=422,
                people=[
                    {"role": r, "subject": s, "name": ROLE_NAMES[r]}
                    for r, (s, _, _) in DEV_PEOPLE.items()
                ],
                next="/",
                error=page.gettext(N_("Choose who you are.")),
            )
        subject, roles, partner = DEV_PEOPLE[role]
        organisation = page.settings.dev_organisation
        token = dev_token(
            page.settings, sub=subject, org=organisation, roles=roles, partner_id=partner
        )
        next_path = form.get("next")
        return await start_session(
            page,
            subject=subject,
            organisation=organisation,
            roles=roles,
            partner_id=str(partner) if partner else None,
            access_token=token,
            next_path=next_path if isinstance(next_path, str) else "/",
        )


def sign_out_router() -> APIRouter:
    router = APIRouter()

    @router.post("/sign-out")
    async def sign_out(request: Request, page: Page) -> Response:
        form = await request.form()
        page.check_csrf(form)
        target = None
        flow: SignInFlow | None = request.app.state.sign_in_flow
        if flow is not None:
            # oidc mode: on to the provider's logout (its end_session_endpoint), if any.
            target = await flow.sign_out_to(request, page.session)
        if page.session is not None:
            store: SessionStore = request.app.state.sessions
            await store.delete(page.session)
        response = RedirectResponse(target or "/sign-in", status_code=303)
        response.delete_cookie(
            session_cookie_name(page.settings),
            path="/",
            secure=secure_cookies(page.settings),
            httponly=True,
            samesite="lax",
        )
        # The language stays as chosen, for the next sign-in.
        response.set_cookie(
            LANGUAGE_COOKIE,
            page.language,
            max_age=365 * 86400,
            httponly=True,
            samesite="lax",
            secure=secure_cookies(page.settings),
            path="/",
        )
        return response

    return router
