"""What the pages' forms share: reading a form, sending it to an API with the version
the page showed (`If-Match`, so a stale form meets the API's 409), showing a refusal at
its fields or redirecting (`submit`), and the short messages shown after a change."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from services.console.api import Api, ApiError, FormErrors, form_errors
from services.console.i18n import N_
from services.console.web import View

# After POST, redirect, GET: the page says what was done (`?done=<key>`).
DONE = {
    "consent": N_("The consent is recorded."),
    "case": N_("The case is opened."),
    "entry-check": N_("The entry check is recorded."),
    "assessment": N_("The assessment is recorded."),
    "session": N_("The session is recorded."),
    "decision": N_("The decision is recorded."),
    "type": N_("The plan's type is saved."),
    "goal": N_("The goal is added."),
    "priorities": N_("The priorities are saved."),
    "action": N_("The action is added."),
    "action-done": N_("The action is marked as done."),
    "action-cancelled": N_("The action is cancelled."),
    "agreement": N_("The agreement is recorded."),
    "career-question": N_("The career question is saved."),
    "insight": N_("The insight is recorded."),
    "plan-decision": N_("The choice or decision is recorded."),
    "support-needs": N_("The support needs are saved."),
    "portfolio-gaps": N_(
        "The items not yet proven are training needs of the competence analysis now."
    ),
    "portfolio-standard": N_("The portfolio is compared with the standard: judge its items."),
    "evidence": N_("The evidence is added to the portfolio."),
    "evidence-items": N_("The evidence is linked to the items it proves."),
    "evidence-withdrawn": N_(
        "The evidence is withdrawn from the portfolio. Judge again the items it was linked to."
    ),
    "judgement": N_("The item's judgement is recorded."),
    "analysis": N_("The competence analysis is saved."),
    "analysis-removed": N_("The competence is taken out of the analysis."),
    "product": N_("The product is recorded."),
    "instrument": N_("The instrument's result is recorded."),
    "interpretation": N_("The interpretation is saved."),
    "application-status": N_("The application's status is recorded."),
    "rights": N_("The information on rights and duties is recorded."),
    "complaint": N_("The complaint is registered."),
    "complaint-answered": N_("The answer to the complaint is recorded."),
    "complaint-assigned": N_("The complaint is assigned."),
    "complaint-handling": N_("The complaint is in handling."),
    "notes": N_("The session's notes are recorded."),
    "report-drafted": N_("The report is drafted from the notes. Complete it below."),
    "report-saved": N_("The report is saved."),
    "report-agreed": N_("The client's agreement is recorded."),
    "closing": N_("The case's file is closed."),
    "handover": N_("The case is handed over."),
    "appointment": N_("The appointment is planned."),
    "appointment-moved": N_("The appointment is moved."),
    "appointment-cancelled": N_("The appointment is cancelled."),
    "appointment-missed": N_("The appointment is marked as missed."),
    "appointment-held": N_("The appointment is held: its session is recorded."),
    "extra-hours": N_("The extra hours are approved."),
}
COMPETENCES = {
    "quality_reflection": N_("Reflecting on qualities"),
    "motive_reflection": N_("Reflecting on motives"),
    "work_exploration": N_("Exploring work"),
    "career_steering": N_("Steering one's career"),
    "networking": N_("Networking"),
}
_VERSION = re.compile(r"^[0-9]{1,9}$")


def api(request: Request) -> Api:
    client: Api = request.app.state.api
    return client


def token(page: View) -> str:
    assert page.session is not None
    return page.session.access_token


def done_message(page: View, key: str | None) -> str | None:
    message = DONE.get(key or "")
    return page.gettext(message) if message else None


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def texts(form: FormData, *names: str) -> dict[str, str]:
    return {name: text(form, name) for name in names}


def many(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str) and v]


def if_match(form: FormData) -> dict[str, str]:
    """The version the page showed, as `If-Match`: the API refuses a change made on a
    record that someone else changed since (409 version-conflict)."""
    version = text(form, "version")
    return {"If-Match": f'"{version}"'} if _VERSION.match(version) else {}


def local_moment(value: str, timezone: str) -> str | Any:
    """A `datetime-local` field's value as a moment in the agency's time zone (ISO); the
    value as given when it is no moment (the API then says so at its field)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.isoformat()


async def send(
    request: Request,
    page: View,
    method: str,
    path: str,
    form: FormData,
    body: Any = None,
    versioned: bool = True,
) -> tuple[dict[str, Any] | None, ApiError | None]:
    """The change, sent with the user's token: (the API's answer, None), or (None, the
    refusal) for the page to show at its form. No answer at all (503) and a token no
    longer accepted (401) go to the central handlers."""
    try:
        r = await api(request).call(
            token(page), method, path, json=body, headers=if_match(form) if versioned else None
        )
    except ApiError as e:
        if e.status in (401, 503) or e.status >= 500:
            raise
        return None, e
    answer = r.json() if r.content else {}
    return (answer if isinstance(answer, dict) else {}), None


# A page shown again with a form's refusal: `show(form=, errors=, values=, status=)`.
ShowAgain = Callable[..., Awaitable[Response]]


async def submit(
    request: Request,
    page: View,
    method: str,
    path: str,
    form: FormData,
    body: Any,
    *,
    name: str,
    fields: dict[str, str],
    values: dict[str, Any],
    show: ShowAgain,
    redirect: str,
    where: dict[str, str] | None = None,
    refused: FormErrors | None = None,
) -> Response:
    """One form of a page (POST, redirect, GET): the change sent (unless the console
    refused it already, `refused`); a refusal shows the page again with the messages at
    the form `name`'s fields and the input kept, with the API's status; else a redirect
    to `redirect`."""
    error: ApiError | None = None
    if refused is None:
        _, error = await send(request, page, method, path, form, body)
        if error is not None:
            refused = form_errors(error, page.local, fields, where, prefix=f"{name}-")
    if refused is not None:
        status = error.status if error is not None else 422
        return await show(form=name, errors=refused, values=values, status=status)
    return RedirectResponse(redirect, status_code=303)


async def partner_directory(request: Request, page: View) -> dict[str, str]:
    """The partners a referral consent or a referral may name: id → name (the first
    hundred active ones)."""
    try:
        found = await api(request).get(token(page), "/referral/v1/partners", limit=100)
    except ApiError as e:
        if e.status in (401, 503):
            raise
        return {}
    return {str(p["partner_id"]): str(p["name"]) for p in found}
