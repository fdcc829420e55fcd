"""The counsellor's first pages: the worklist, registering a client, the client's page.
Every form posts, then redirects, then the page is read again (no JavaScript needed)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.api import ApiError, FormErrors, form_errors
from services.console.appointments import (
    APPOINTMENT_STATUSES,
    CHANNELS,
    SESSION_KINDS,
    todays_appointments,
)
from services.console.forms import api, partner_directory, token
from services.console.i18n import LANGUAGES, N_
from services.console.signin import ROLE_HOMES, ROLE_NAMES
from services.console.web import (
    LANGUAGE_COOKIE,
    SignedIn,
    View,
    language_of,
    safe_next,
    secure_cookies,
    view,
)

router = APIRouter()
Page = Annotated[View, Depends(view)]
PAGE_SIZE = 20

STATUS_NAMES = {
    "open": N_("open"),
    "accepted": N_("accepted"),
    "referred_out": N_("referred out"),
    "declined": N_("declined"),
    "closed": N_("closed"),
}
PHASE_NAMES = {
    "intake": N_("intake"),
    "deepening": N_("deepening"),
    "synthesis": N_("synthesis"),
    "aftercare": N_("aftercare"),
    "closed": N_("closed"),
}
REFERRAL_STATUSES = {
    "proposed": N_("proposed"),
    "sent": N_("sent"),
    "acknowledged": N_("acknowledged"),
    "accepted": N_("accepted"),
    "declined": N_("declined"),
    "outcome_reported": N_("outcome reported"),
    "closed": N_("closed"),
    "withdrawn": N_("withdrawn"),
}
PURPOSE_NAMES = {
    "guidance": N_("guidance"),
    "referral": N_("referral to a partner"),
    "statistics": N_("statistics"),
}
# The registration form: each field with what a person reads when the API refuses it.
CLIENT_FIELDS = {
    "given_name": N_("Enter the given name (at most 100 characters, on one line)."),
    "family_name": N_("Enter the family name (at most 100 characters, on one line)."),
    "birth_date": N_("Enter a date of birth in the past, for example 12 April 1990."),
    "email": N_("Enter an e-mail address in the form name@example.org."),
    "phone": N_("Enter a phone number of 6 to 20 digits, for example +31 6 12345678."),
    "preferred_language": N_("Choose one of the languages listed."),
}
# What stands in the way of a plan, as follow-up raises it (by its `kind`).
BOTTLENECK_KINDS = {
    "action": N_("an action stalls"),
    "unreachable": N_("the client could not be reached three times in a row"),
    "checkin_overdue": N_("a check-in is overdue"),
    "action_overdue": N_("an action is overdue"),
}
# The referrals the worklist lists: those awaiting the partner's answer, or only the
# overdue ones of them.
AWAITING_ANSWER = ("sent", "acknowledged")
REFERRAL_FILTERS = {
    "awaiting": N_("all awaiting an answer"),
    "overdue": N_("only those overdue"),
}
# Whose cases the worklist lists: a counsellor's own (those they carry now, also the ones
# a team lead handed them) or the organisation's.
WORKLIST_WHOSE = {"mine": N_("my cases"), "all": N_("all cases of the organisation")}
# Who has a worklist (the API lets them read cases and check-ins).
WORKLIST_ROLES = {"counsellor", "team_lead"}
CLIENT_LANGUAGES = ("nl", "fr", "en", "de", "ar", "tr", "pl", "uk")


def page_number(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 100_000))
    except ValueError:
        return 1


@router.get("/", response_class=HTMLResponse)
async def worklist(
    request: Request,
    page: SignedIn,
    checkins_page: str | None = None,
    bottlenecks_page: str | None = None,
    cases_page: str | None = None,
    status: str | None = None,
    phase: str | None = None,
    referrals_page: str | None = None,
    referrals: str | None = None,
    whose: str | None = None,
) -> Response:
    """Check-ins due and overdue, the referrals awaiting the partner's answer (the
    counsellor's own; all overdue ones, or only those), then the cases, newest first: a
    counsellor's own (those they carry now) unless they ask for the organisation's, a
    team lead's all of them."""
    assert page.session is not None
    if not WORKLIST_ROLES & set(page.session.roles):
        # A partner, an auditor or an admin starts on their own page (ROLE_HOMES).
        for role, home in ROLE_HOMES.items():
            if role in page.session.roles:
                return RedirectResponse(home, status_code=303)
        roles = ", ".join(
            page.gettext(ROLE_NAMES[r]) for r in page.session.roles if r in ROLE_NAMES
        )
        return page.render("home.html", roles=roles)
    status = status if status in STATUS_NAMES else None
    phase = phase if phase in PHASE_NAMES else None
    referrals = referrals if referrals in REFERRAL_FILTERS else "awaiting"
    counsellor = "counsellor" in page.session.roles
    whose = whose if whose in WORKLIST_WHOSE and counsellor else "mine" if counsellor else "all"
    checkins, stuck, awaiting, cases = await asyncio.gather(
        api(request).page(
            token(page), "/followup/v1/worklist", page_number(checkins_page), PAGE_SIZE
        ),
        # The open follow-ups with a bottleneck, each bottleneck a row, newest first.
        api(request).page(
            token(page),
            "/followup/v1/followups",
            page_number(bottlenecks_page),
            PAGE_SIZE,
            status="open",
            with_bottleneck="true",
        ),
        api(request).union(
            token(page),
            "/referral/v1/referrals",
            page_number(referrals_page),
            PAGE_SIZE,
            [{"status": s} for s in AWAITING_ANSWER],
            overdue="true" if referrals == "overdue" else None,
            counsellor="me" if "counsellor" in page.session.roles else None,
        ),
        api(request).page(
            token(page),
            "/intake/v1/cases",
            page_number(cases_page),
            PAGE_SIZE,
            status=status,
            phase=phase,
            counsellor="me" if whose == "mine" else None,
        ),
    )
    bottlenecks = sorted(
        (
            {**b, "case_id": f["case_id"], "client_id": f["client_id"]}
            for f in stuck.items
            for b in f["bottlenecks"]
        ),
        key=lambda b: str(b["detected_at"]),
        reverse=True,
    )
    today = await todays_appointments(request, page) if "counsellor" in page.session.roles else []
    listed = {str(i["client_id"]) for i in [*checkins.items, *bottlenecks, *awaiting.items, *today]}
    return page.render(
        "worklist.html",
        names=await client_names(request, page, listed),
        checkins=checkins,
        today=today,
        session_kinds=SESSION_KINDS,
        channels=CHANNELS,
        appointment_statuses=APPOINTMENT_STATUSES,
        stuck=stuck,
        bottlenecks=bottlenecks,
        bottleneck_kinds=BOTTLENECK_KINDS,
        awaiting=awaiting,
        partners=await partner_directory(request, page) if awaiting.items else {},
        referral_filter=referrals,
        referral_filters=REFERRAL_FILTERS,
        referral_statuses=REFERRAL_STATUSES,
        cases=cases,
        status_filter=status,
        phase_filter=phase,
        whose_filter=whose,
        whose=WORKLIST_WHOSE if counsellor else {},
        statuses=STATUS_NAMES,
        phases=PHASE_NAMES,
    )


async def client_names(request: Request, page: View, ids: set[str]) -> dict[str, str]:
    """The names of the clients a page lists (by id; each a recorded read), in one call."""
    wanted = sorted(i for i in ids if i and i != "None")[:200]
    if not wanted:
        return {}
    found = await api(request).get(token(page), "/intake/v1/clients", client_id=wanted, limit=200)
    return {str(c["client_id"]): f"{c['given_name']} {c['family_name']}" for c in found}


@router.get("/clients/new", response_class=HTMLResponse)
async def new_client(page: SignedIn) -> HTMLResponse:
    return client_form(page, {}, FormErrors())


def client_form(
    page: View, values: dict[str, str], errors: FormErrors, status: int = 200
) -> HTMLResponse:
    return page.render(
        "client_new.html",
        status=status,
        values=values,
        errors=errors,
        languages=CLIENT_LANGUAGES,
    )


@router.post("/clients")
async def register_client(request: Request, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = {name: str(form.get(name) or "").strip() for name in CLIENT_FIELDS}
    body: dict[str, Any] = {
        k: v for k, v in values.items() if v or k not in ("phone", "preferred_language")
    }
    try:
        r = await api(request).call(token(page), "POST", "/intake/v1/clients", json=body)
    except ApiError as e:
        if e.status == 401:
            raise
        errors = form_errors(e, page.local, CLIENT_FIELDS)
        return client_form(page, values, errors, status=e.status if e.status < 500 else 503)
    client_id = r.json()["client_id"]
    return RedirectResponse(f"/clients/{client_id}?registered=1", status_code=303)


@router.post("/language")
async def choose_language(request: Request, page: Page) -> Response:
    """The language switcher: remembered in the session, and in a cookie for the next
    sign-in."""
    form = await request.form()
    page.check_csrf(form)
    language = language_of(form.get("language"))
    back = form.get("next")
    response = RedirectResponse(safe_next(back if isinstance(back, str) else None), 303)
    if language is not None:
        if page.session is not None:
            await request.app.state.sessions.set_language(page.session, language)
        response.set_cookie(
            LANGUAGE_COOKIE,
            language,
            max_age=365 * 86400,
            httponly=True,
            samesite="lax",
            secure=secure_cookies(page.settings),
            path="/",
        )
    page.finish(response)
    return response


__all__ = ["LANGUAGES", "router"]
