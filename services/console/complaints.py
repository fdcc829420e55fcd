"""The team lead's complaints: the organisation's complaints (open, overdue, answered,
withdrawn; without their text, which the client's page shows), assigning one and putting
it in handling, and the count per status for a period (a small report).

The APIs decide who may do what; the page is the team lead's (as the dashboard is)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.api import FormErrors
from services.console.casework import COMPLAINT_STATUSES
from services.console.dashboard import period_of, team_lead_only
from services.console.forms import api, done_message, send, text, token
from services.console.i18n import N_
from services.console.pages import PAGE_SIZE, page_number
from services.console.web import SignedIn, View

router = APIRouter()

HOME = "/complaints"
WHICH = {
    "open": N_("open"),
    "overdue": N_("overdue"),
    "answered": N_("answered"),
    "withdrawn": N_("withdrawn"),
}
# The report's figures, in the order the page shows them.
FIGURES = {
    "registered": N_("registered"),
    "received": N_("received"),
    "in_handling": N_("in handling"),
    "overdue": N_("overdue"),
    "answered": N_("answered"),
    "answered_in_time": N_("answered in time"),
    "withdrawn": N_("withdrawn"),
}


async def show(
    request: Request,
    page: View,
    *,
    which: str | None,
    number: int,
    to: str | None = None,
    done: str | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    period, values, period_errors = period_of(request.query_params.get("from"), to, page.local)
    call = api(request)
    listed = await call.page(token(page), "/intake/v1/complaints", number, PAGE_SIZE, status=which)
    report = None
    if not period_errors:
        report = await call.get(
            token(page),
            "/intake/v1/reports/complaints",
            **{"from": period.first.isoformat(), "to": period.last.isoformat()},
        )
    names = (
        await call.get(
            token(page),
            "/intake/v1/clients",
            client_id=sorted({str(c["client_id"]) for c in listed.items}),
            limit=200,
        )
        if listed.items
        else []
    )
    return page.render(
        "complaints.html",
        status=422 if period_errors else status,
        listed=listed,
        which=which,
        which_names=WHICH,
        statuses=COMPLAINT_STATUSES,
        names={str(c["client_id"]): f"{c['given_name']} {c['family_name']}" for c in names},
        report=report,
        figures=FIGURES,
        period=period,
        values=values,
        errors=period_errors if period_errors else (errors or FormErrors()),
        done=done_message(page, done),
    )


@router.get(HOME, response_class=HTMLResponse)
async def complaints(
    request: Request,
    page: SignedIn,
    status: str | None = None,
    list_page: str | None = None,
    to: str | None = None,
    done: str | None = None,
) -> HTMLResponse:
    """The organisation's complaints (open by default) and their figures for a period."""
    team_lead_only(page)
    which = status if status in WHICH or status == "all" else "open"
    return await show(
        request,
        page,
        which=None if which == "all" else which,
        number=page_number(list_page),
        to=to,
        done=done,
    )


@router.post(HOME + "/{complaint_id}/{step}")
async def complaint_step(
    request: Request, complaint_id: uuid.UUID, step: str, page: SignedIn
) -> Response:
    """Take the complaint on (assigned to the team lead, then in handling)."""
    team_lead_only(page)
    form = await request.form()
    page.check_csrf(form)
    if step not in ("assignment", "handling"):
        return Response(status_code=404)
    body = {"team_lead": page.session.subject} if step == "assignment" and page.session else None
    _, error = await send(
        request, page, "POST", f"/intake/v1/complaints/{complaint_id}/{step}", form, body
    )
    if error is not None:
        errors = FormErrors(conflict=error.status == 409)
        errors.summary.append(str(error.problem.get("detail") or error.status))
        return await show(request, page, which="open", number=1, errors=errors, status=error.status)
    done = "complaint-assigned" if step == "assignment" else "complaint-handling"
    back = text(form, "back") or HOME
    if not back.startswith(HOME):
        back = HOME
    return RedirectResponse(f"{back}{'&' if '?' in back else '?'}done={done}", status_code=303)
