"""The team lead's handover of a counsellor's cases: every open or accepted case one
counsellor carries goes to another, with why (`POST /intake/v1/reassignments`, a team
lead's). The page lists the counsellors who carry open cases now (the caseload report),
so the team lead picks whose cases go."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.api import PROBLEM_BASE, ApiError, FormErrors, form_errors
from services.console.forms import api, send, texts, token
from services.console.i18n import N_
from services.console.web import SignedIn, View

router = APIRouter()
HOME = "/handover"
FIELDS = {
    "from_counsellor": N_("Choose the counsellor whose cases are handed over."),
    "to_counsellor": N_("Enter the user name of the counsellor who takes the cases over."),
    "reason": N_("Say why the cases are handed over (at most 4000 characters)."),
}


def team_lead_only(page: View) -> None:
    """A handover is the team lead's (the API refuses anyone else): to others, no page."""
    assert page.session is not None
    if "team_lead" not in page.session.roles:
        raise ApiError(404, {"type": PROBLEM_BASE + "not-found"})


async def show(
    request: Request,
    page: View,
    *,
    done: int | None = None,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    team_lead_only(page)
    report = await api(request).get(token(page), "/intake/v1/reports/caseload")
    carrying = [
        (r["counsellor"], r["open_cases"]) for r in report["counsellors"] if r["open_cases"]
    ]
    return page.render(
        "handover.html",
        status=status,
        carrying=carrying,
        done=done,
        errors=errors or FormErrors(),
        values=values or {},
    )


@router.get(HOME, response_class=HTMLResponse)
async def handover_page(request: Request, page: SignedIn, done: str | None = None) -> HTMLResponse:
    """The handover form, and how many cases the last handover moved (`?done=<n>`)."""
    return await show(request, page, done=int(done) if done and done.isdigit() else None)


@router.post(HOME)
async def hand_over(request: Request, page: SignedIn) -> Response:
    team_lead_only(page)
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "from_counsellor", "to_counsellor", "reason")
    answer, error = await send(
        request, page, "POST", "/intake/v1/reassignments", form, values, False
    )
    if error is not None or answer is None:
        assert error is not None
        errors = form_errors(error, page.local, FIELDS, prefix="handover-")
        return await show(request, page, errors=errors, values=values, status=error.status)
    return RedirectResponse(f"{HOME}?done={len(answer['case_ids'])}", status_code=303)
