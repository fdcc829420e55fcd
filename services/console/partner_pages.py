"""The partner's pages: the inbox of referrals sent to the partner (new, overdue, in
progress, answered, consent withdrawn), one referral with the client's packet (only the
data the client consented to share, and a clear notice once that consent is withdrawn), the
answers (acknowledge, accept, decline with a reason, the outcome with notes), and the
partner's own open places.

The referral API shows a partner only what was sent to it (anything else reads as absent),
so these pages name no other referral, id or count. Every form posts, then redirects to
the page again; a refusal shows the page again with the API's problem at the form's
fields, the input kept."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.api import PROBLEM_BASE, ApiError, FormErrors, Page, form_errors
from services.console.casework import CATEGORIES
from services.console.forms import COMPETENCES, api, send, texts, token
from services.console.i18n import N_
from services.console.pages import PAGE_SIZE, REFERRAL_STATUSES, page_number
from services.console.referrals import OUTCOMES
from services.console.web import SignedIn, View

router = APIRouter()

HOME = "/inbox"


@dataclass(frozen=True)
class Listing:
    """One of the inbox's lists: its name, and the referral API's filters that give it
    (several statuses: one list per status, merged)."""

    name: str
    statuses: tuple[str | None, ...]
    overdue: bool | None = None
    consent_revoked: bool | None = None


LISTINGS = {
    "new": Listing(N_("new: not yet seen"), ("sent",)),
    "overdue": Listing(N_("overdue: not answered in time"), ("sent", "acknowledged"), True),
    "in_progress": Listing(N_("in progress: seen or accepted"), ("acknowledged", "accepted")),
    "answered": Listing(
        N_("finished: declined, outcome reported, closed or withdrawn"),
        ("declined", "outcome_reported", "closed", "withdrawn"),
    ),
    "consent_revoked": Listing(
        N_("consent withdrawn: the client no longer shares their data"), (None,), None, True
    ),
    "all": Listing(N_("all referrals"), (None,)),
}
# The statuses in which the API lets the partner do what the page offers (lifecycle).
ANSWERABLE = ("sent", "acknowledged")
# The statuses in which the client's data is shared with the partner (the packet).
SHARED = ("sent", "acknowledged", "accepted", "outcome_reported")
DECLINE_FIELDS = {"reason": N_("Give the reason for declining (at most 4000 characters).")}
OUTCOME_FIELDS = {
    "outcome": N_("Choose how the service to the client ended."),
    "notes": N_("Notes are at most 4000 characters."),
}
PLACES_FIELDS = {
    "open_places": N_(
        "Enter a whole number of open places from 0 to 100000, or leave it empty for no limit."
    ),
}
FORMS: dict[str, dict[str, str]] = {
    "acknowledge": {},
    "accept": {},
    "decline": DECLINE_FIELDS,
    "outcome": OUTCOME_FIELDS,
}
DONE = {
    "acknowledge": N_("You confirmed that you have seen the referral."),
    "accept": N_("You accepted the referral."),
    "decline": N_("You declined the referral."),
    "outcome": N_("The outcome is reported."),
}
# What a partner reads for the referral API's refusals of an answer.
REFUSALS = {
    "not-sent": N_("This referral is not awaiting your answer any more."),
    "not-awaiting-answer": N_(
        "This referral is not awaiting your answer any more: it was answered or withdrawn "
        "meanwhile. What it says now is shown below."
    ),
    "not-accepted": N_("An outcome can be reported only for a referral you accepted."),
    "consent-revoked": N_(
        "The client withdrew the consent this referral rests on: their data is no longer "
        "shared with you."
    ),
}
ASSESSORS = {"client": N_("The client's view"), "counsellor": N_("The counsellor's view")}


def partner_id_of(page: View) -> str | None:
    assert page.session is not None
    return page.session.partner_id


def partner_only(page: View) -> None:
    """The partner's pages are a partner's: to anyone else they read as absent."""
    assert page.session is not None
    if "partner" not in page.session.roles:
        raise not_found()


def listing_of(value: str | None) -> str:
    return value if value in LISTINGS else "new"


def not_found() -> ApiError:
    return ApiError(404, {"type": PROBLEM_BASE + "not-found"})


# -- the inbox ---------------------------------------------------------------------------------
@router.get(HOME, response_class=HTMLResponse)
async def inbox(
    request: Request, page: SignedIn, show: str | None = None, inbox_page: str | None = None
) -> HTMLResponse:
    """The referrals sent to the partner, newest change first: new ones, overdue ones,
    those in progress, the finished ones, or all."""
    partner_only(page)
    chosen = listing_of(show)
    listing = LISTINGS[chosen]
    number = page_number(inbox_page)
    call = api(request)
    filters = {
        name: str(value).lower()
        for name, value in (
            ("overdue", listing.overdue),
            ("consent_revoked", listing.consent_revoked),
        )
        if value is not None
    }
    found: Page
    if len(listing.statuses) == 1:
        found = await call.page(
            token(page),
            "/referral/v1/referrals",
            number,
            PAGE_SIZE,
            status=listing.statuses[0],
            **filters,
        )
    else:
        found = await call.union(
            token(page),
            "/referral/v1/referrals",
            number,
            PAGE_SIZE,
            [{"status": s} for s in listing.statuses],
            **filters,
        )
    return page.render(
        "partner_inbox.html",
        found=found,
        show=chosen,
        listings=LISTINGS,
        statuses=REFERRAL_STATUSES,
        categories=CATEGORIES,
        outcomes=OUTCOMES,
    )


# -- one referral ------------------------------------------------------------------------------
async def packet_of(
    request: Request, page: View, referral: dict[str, Any]
) -> tuple[dict[str, Any] | None, bool]:
    """The client's data the partner may read now (each read recorded), and whether the
    consent for it is withdrawn (then there is no packet)."""
    if referral["consent_revoked"]:
        return None, True
    if referral["status"] not in SHARED:
        return None, False
    try:
        packet: dict[str, Any] = await api(request).get(
            token(page), f"/referral/v1/referrals/{referral['referral_id']}/packet"
        )
    except ApiError as e:
        if e.code == "consent-revoked":
            return None, True
        if e.code == "not-shared":
            return None, False
        raise
    return packet, False


async def show_referral(
    request: Request,
    page: View,
    referral_id: uuid.UUID,
    *,
    done: str | None = None,
    form: str | None = None,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    partner_only(page)
    referral = await api(request).get(token(page), f"/referral/v1/referrals/{referral_id}")
    if "client_id" in referral:
        # Staff's view of it: the partner's pages are for partners (the counsellor's
        # page is /referrals/{id}); read as absent.
        raise not_found()
    packet, revoked = await packet_of(request, page, referral)
    state = referral["status"]
    message = DONE.get(done or "")
    # The forms the page shows now; a refusal of another (answered meanwhile) goes on top.
    shown = {
        "acknowledge": state == "sent",
        "accept": state in ANSWERABLE,
        "decline": state in ANSWERABLE,
        "outcome": state == "accepted",
    }
    return page.render(
        "partner_referral.html",
        status=status,
        referral=referral,
        packet=packet,
        revoked=revoked,
        statuses=REFERRAL_STATUSES,
        categories=CATEGORIES,
        outcomes=OUTCOMES,
        competences=COMPETENCES,
        assessors=ASSESSORS,
        outcome_options=[(k, page.gettext(v)) for k, v in OUTCOMES.items()],
        can_acknowledge=shown["acknowledge"],
        can_answer=shown["accept"],
        can_report=shown["outcome"],
        refused_elsewhere=bool(form) and not shown.get(form or "", False),
        done=page.gettext(message) if message else None,
        form=form,
        errors=errors or FormErrors(),
        values=values or {},
    )


@router.get(HOME + "/referrals/{referral_id}", response_class=HTMLResponse)
async def referral_page(
    request: Request, referral_id: uuid.UUID, page: SignedIn, done: str | None = None
) -> HTMLResponse:
    """One referral sent to the partner: its status, the client's data the partner may
    read, and the answers it can give now."""
    return await show_referral(request, page, referral_id, done=done)


def body_of(name: str, values: dict[str, str]) -> dict[str, Any] | None:
    if name == "decline":
        return {"reason": values["reason"]}
    if name == "outcome":
        return {"outcome": values["outcome"], "notes": values["notes"] or None}
    return None


@router.post(HOME + "/referrals/{referral_id}/{name}")
async def answer(request: Request, referral_id: uuid.UUID, name: str, page: SignedIn) -> Response:
    """One of the referral page's forms: acknowledge, accept, decline or the outcome."""
    partner_only(page)
    form = await request.form()
    page.check_csrf(form)
    here = f"{HOME}/referrals/{referral_id}"
    if name not in FORMS:
        return RedirectResponse(here, status_code=303)
    fields = FORMS[name]
    values = texts(form, *fields)
    show = functools.partial(show_referral, request, page, referral_id)
    refused = FormErrors()
    if name == "decline" and not values["reason"]:
        refused.add("decline-reason", page.gettext(DECLINE_FIELDS["reason"]))
    elif name == "outcome" and values["outcome"] not in OUTCOMES:
        refused.add("outcome-outcome", page.gettext(OUTCOME_FIELDS["outcome"]))
    if refused:
        return await show(form=name, errors=refused, values=values, status=422)
    path = f"/referral/v1/referrals/{referral_id}/{name}"
    _, error = await send(request, page, "POST", path, form, body_of(name, values))
    if error is not None:
        if error.status == 404 and error.code == "not-found":
            raise error
        errors = form_errors(error, page.local, fields, prefix=f"{name}-")
        if error.code in REFUSALS:
            errors.summary = [page.gettext(REFUSALS[error.code])]
        return await show(form=name, errors=errors, values=values, status=error.status)
    return RedirectResponse(f"{here}?done={name}#status", status_code=303)


# -- the partner's open places -----------------------------------------------------------------
async def places_page(
    request: Request,
    page: View,
    *,
    now: str | None = None,
    errors: FormErrors | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The form, with the open places the directory holds now (the partner reads its own
    entry) filled in unless the form is shown again with what was typed."""
    partner_only(page)
    partner_id = partner_id_of(page)
    current: dict[str, Any] | None = None
    if partner_id is not None:
        try:
            current = await api(request).get(token(page), f"/referral/v1/partners/{partner_id}")
        except ApiError as error:
            if error.status != 404:
                raise
    if values is None and current is not None:
        places = current.get("open_places")
        values = {"open_places": "" if places is None else str(places)}
    set_to: int | None = None
    unlimited = now == "none"
    if now and now.isdigit():
        set_to = int(now)
    return page.render(
        "partner_places.html",
        status=status,
        has_partner=partner_id is not None,
        listed=current is not None,
        current=current,
        set_to=set_to,
        unlimited=unlimited,
        errors=errors or FormErrors(),
        values=values or {},
    )


@router.get(HOME + "/places", response_class=HTMLResponse)
async def places(request: Request, page: SignedIn, now: str | None = None) -> HTMLResponse:
    """The partner's open places for new referrals: 0 takes none for now, empty no limit."""
    return await places_page(request, page, now=now)


@router.post(HOME + "/places")
async def set_places(request: Request, page: SignedIn) -> Response:
    partner_only(page)
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "open_places")
    partner_id = partner_id_of(page)
    raw = values["open_places"]
    if partner_id is None:
        return await places_page(request, page, values=values, status=403)
    if raw and not (raw.isdigit() and len(raw) <= 6):
        errors = FormErrors()
        errors.add("places-open_places", page.gettext(PLACES_FIELDS["open_places"]))
        return await places_page(request, page, errors=errors, values=values, status=422)
    body = {"open_places": int(raw) if raw else None}
    answer_, error = await send(
        request, page, "PUT", f"/referral/v1/partners/{partner_id}/capacity", form, body, False
    )
    if error is not None or answer_ is None:
        assert error is not None
        errors = form_errors(error, page.local, PLACES_FIELDS, prefix="places-")
        return await places_page(request, page, errors=errors, values=values, status=error.status)
    now = answer_.get("open_places")
    return RedirectResponse(
        f"{HOME}/places?now={'none' if now is None else int(now)}", status_code=303
    )
