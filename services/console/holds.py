"""The team lead's legal hold on a case: placed with a reason, lifted with a button. While
a case is held, its client cannot be erased (intake refuses the erasure and records the
refusal). The intake API is the one to ask (`PUT`/`DELETE
/intake/v1/cases/{case_id}/legal-hold`, a team lead's; `GET` tells whether the case is
held and lists the holds on its client's cases)."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.api import PROBLEM_BASE, ApiError, FormErrors, form_errors
from services.console.forms import api, send, texts, token
from services.console.i18n import N_
from services.console.pages import PHASE_NAMES, STATUS_NAMES
from services.console.web import SignedIn, View

router = APIRouter()

HOLD_FIELDS = {
    "reason": N_(
        "Give the reason for the hold (1 to 1000 characters), e.g. a complaint or a court "
        "case; write no personal data here."
    ),
}
DONE = {
    "placed": N_(
        "The case is now under a legal hold: its client cannot be erased until it is lifted."
    ),
    "lifted": N_("The legal hold on this case is lifted."),
}


def team_lead_only(page: View) -> None:
    """Holds are the team lead's (the API refuses anyone else): to others, no such page."""
    assert page.session is not None
    if "team_lead" not in page.session.roles:
        raise ApiError(404, {"type": PROBLEM_BASE + "not-found"})


async def show_hold(
    request: Request,
    page: View,
    case_id: uuid.UUID,
    *,
    done: str | None = None,
    errors: FormErrors | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    team_lead_only(page)
    call = api(request)
    case, holds = await asyncio.gather(
        call.get(token(page), f"/intake/v1/cases/{case_id}"),
        call.get(token(page), f"/intake/v1/cases/{case_id}/legal-hold"),
    )
    client = await call.get(token(page), f"/intake/v1/clients/{case['client_id']}")
    message = DONE.get(done or "")
    return page.render(
        "legal_hold.html",
        status=status,
        case=case,
        client_name=f"{client['given_name']} {client['family_name']}",
        holds=holds["legal_holds"],
        held=bool(holds["legal_hold"]),
        statuses=STATUS_NAMES,
        phases=PHASE_NAMES,
        done=page.gettext(message) if message else None,
        errors=errors or FormErrors(),
        values=values or {},
    )


@router.get("/cases/{case_id}/legal-hold", response_class=HTMLResponse)
async def hold_page(
    request: Request, case_id: uuid.UUID, page: SignedIn, done: str | None = None
) -> HTMLResponse:
    """The case's legal hold: place it with a reason, or lift it."""
    return await show_hold(request, page, case_id, done=done)


@router.post("/cases/{case_id}/legal-hold")
async def place_hold(request: Request, case_id: uuid.UUID, page: SignedIn) -> Response:
    team_lead_only(page)
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "reason")
    if not values["reason"]:
        refused = FormErrors()
        refused.add("hold-reason", page.gettext(HOLD_FIELDS["reason"]))
        return await show_hold(request, page, case_id, errors=refused, values=values, status=422)
    path = f"/intake/v1/cases/{case_id}/legal-hold"
    _, error = await send(request, page, "PUT", path, form, values, versioned=False)
    if error is not None:
        if error.status == 404:
            raise error
        errors = form_errors(error, page.local, HOLD_FIELDS, prefix="hold-")
        return await show_hold(
            request, page, case_id, errors=errors, values=values, status=error.status
        )
    return RedirectResponse(f"/cases/{case_id}/legal-hold?done=placed", status_code=303)


@router.post("/cases/{case_id}/legal-hold/lift")
async def lift_hold(request: Request, case_id: uuid.UUID, page: SignedIn) -> Response:
    team_lead_only(page)
    form = await request.form()
    page.check_csrf(form)
    path = f"/intake/v1/cases/{case_id}/legal-hold"
    _, error = await send(request, page, "DELETE", path, form, None, versioned=False)
    if error is not None:
        if error.status == 404:
            raise error
        errors = form_errors(error, page.local, {})
        return await show_hold(request, page, case_id, errors=errors, status=error.status)
    return RedirectResponse(f"/cases/{case_id}/legal-hold?done=lifted", status_code=303)
