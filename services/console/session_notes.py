"""A case's session notes and its reflection-and-action report: a session's notes page
(what they say now, their earlier records, the form that records or amends them), and the
report's pages (read it with its agreements, draft it from the notes, edit it, record the
client's agreement, print it: `printing.py`).

Every form posts, then redirects; a refusal shows the page again with the API's problem
at the form's fields, the input kept."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.api import ApiError, FormErrors, form_errors
from services.console.forms import api, done_message, send, submit, texts, token
from services.console.i18n import N_
from services.console.printing import ordered_languages
from services.console.web import SignedIn, View

router = APIRouter()

NOTE_PARTS = ("discussed", "insights", "agreements", "homework")
NOTES_FIELDS = {
    "discussed": N_(
        "Write at least one of: what was discussed, insights, agreements, homework "
        "(each at most 4000 characters)."
    ),
    "insights": N_("Insights are at most 4000 characters."),
    "agreements": N_("Agreements are at most 4000 characters."),
    "homework": N_("Homework is at most 4000 characters."),
}
REPORT_FIELDS = {
    "starting_question": N_("Write the starting question (at most 4000 characters)."),
    "insights": N_("At most 50 insights, each at most 2000 characters."),
    "conclusions": N_("Write the conclusions (at most 4000 characters)."),
    "actions": N_("At most 50 actions, each at most 2000 characters."),
}
REPORT_STATUSES = {
    "draft": N_("draft"),
    "agreed": N_("agreed by the client"),
    "revised": N_("changed after the agreement: to be agreed again"),
}
# The report's refusals a person can act on.
REPORT_REFUSALS = {
    "report-incomplete": N_(
        "The report is not complete yet: it needs its conclusions and at least one agreed "
        "action before the client agrees to it."
    ),
    "report-changed": N_(
        "The report changed since this page was shown; read it again with the client."
    ),
    "report-agreed": N_("The client agreed to this version of the report already."),
    "report-exists": N_("The case has its report already."),
    "case-not-accepted": N_("A report is written for an accepted case."),
}


def lines(value: str) -> list[str]:
    """A textarea with one item per line: its non-blank lines."""
    return [line.strip() for line in value.splitlines() if line.strip()]


def refusal(page: View, error: ApiError, fields: dict[str, str], prefix: str) -> FormErrors:
    errors = form_errors(error, page.local, fields, prefix=prefix)
    known = REPORT_REFUSALS.get(error.code)
    if known is not None:
        errors.summary = [page.gettext(known)]
    return errors


async def case_and_client(
    request: Request, page: View, case_id: uuid.UUID
) -> tuple[dict[str, Any], dict[str, Any]]:
    call = api(request)
    case = await call.get(token(page), f"/intake/v1/cases/{case_id}")
    client = await call.get(token(page), f"/intake/v1/clients/{case['client_id']}")
    return case, client


def name_of(client: dict[str, Any]) -> str:
    return f"{client['given_name']} {client['family_name']}"


# -- a session's notes ----------------------------------------------------------------------
async def show_notes(
    request: Request,
    page: View,
    case_id: uuid.UUID,
    session_id: uuid.UUID,
    *,
    form: str | None = None,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    (case, client), sessions = await asyncio.gather(
        case_and_client(request, page, case_id),
        api(request).get(token(page), f"/intake/v1/cases/{case_id}/notes"),
    )
    found = [s for s in sessions if s["session_id"] == str(session_id)]
    if not found:
        raise ApiError(404, {"type": "not-found", "title": "Not found", "status": 404})
    session = found[0]
    current = session["notes"] or {}
    return page.render(
        "session_notes.html",
        status=status,
        case=case,
        client_name=name_of(client),
        held=session,
        earlier=list(reversed(session["history"][:-1])),
        form=form,
        errors=errors or FormErrors(),
        values=values if values is not None else {p: current.get(p) or "" for p in NOTE_PARTS},
        editable=case["status"] != "closed",
    )


@router.get("/cases/{case_id}/sessions/{session_id}/notes", response_class=HTMLResponse)
async def notes_page(
    request: Request, case_id: uuid.UUID, session_id: uuid.UUID, page: SignedIn
) -> HTMLResponse:
    """A session's notes: as they stand, their earlier records, the form to amend them."""
    return await show_notes(request, page, case_id, session_id)


@router.post("/cases/{case_id}/sessions/{session_id}/notes")
async def record_notes(
    request: Request, case_id: uuid.UUID, session_id: uuid.UUID, page: SignedIn
) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, *NOTE_PARTS)
    body = {part: values[part] or None for part in NOTE_PARTS}

    async def show(**kw: Any) -> Response:
        return await show_notes(request, page, case_id, session_id, **kw)

    return await submit(
        request,
        page,
        "POST",
        f"/intake/v1/cases/{case_id}/sessions/{session_id}/notes",
        form,
        body,
        name="notes",
        fields=NOTES_FIELDS,
        values=values,
        show=show,
        redirect=f"/cases/{case_id}?done=notes#session-{session_id}",
    )


# -- the reflection-and-action report -------------------------------------------------------
async def the_report(request: Request, page: View, case_id: uuid.UUID) -> dict[str, Any] | None:
    try:
        report: dict[str, Any] = await api(request).get(
            token(page), f"/intake/v1/cases/{case_id}/report"
        )
    except ApiError as e:
        if e.status != 404:
            raise
        return None
    return report


async def show_report(
    request: Request,
    page: View,
    case_id: uuid.UUID,
    *,
    done: str | None = None,
    form: str | None = None,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    (case, client), report = await asyncio.gather(
        case_and_client(request, page, case_id), the_report(request, page, case_id)
    )
    return page.render(
        "report.html",
        status=status,
        case=case,
        client_name=name_of(client),
        report=report,
        report_statuses=REPORT_STATUSES,
        document_languages=ordered_languages(client.get("preferred_language")),
        done=done_message(page, done),
        form=form,
        errors=errors or FormErrors(),
        values=values or {},
        editable=case["status"] == "accepted",
    )


@router.get("/cases/{case_id}/report", response_class=HTMLResponse)
async def report_page(
    request: Request, case_id: uuid.UUID, page: SignedIn, done: str | None = None
) -> HTMLResponse:
    """The case's reflection-and-action report with its agreements; drafting it when the
    case has none."""
    return await show_report(request, page, case_id, done=done)


@router.post("/cases/{case_id}/report")
async def draft_report(request: Request, case_id: uuid.UUID, page: SignedIn) -> Response:
    """Draft the report: the starting question and the insights prefilled by intake."""
    form = await request.form()
    page.check_csrf(form)
    _, error = await send(request, page, "POST", f"/intake/v1/cases/{case_id}/report", form, {})
    if error is not None:
        errors = refusal(page, error, REPORT_FIELDS, "draft-")
        return await show_report(
            request, page, case_id, form="draft", errors=errors, status=error.status
        )
    return RedirectResponse(f"/cases/{case_id}/report/edit?done=report-drafted", status_code=303)


async def show_edit(
    request: Request,
    page: View,
    case_id: uuid.UUID,
    *,
    done: str | None = None,
    form: str | None = None,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    (case, client), report = await asyncio.gather(
        case_and_client(request, page, case_id), the_report(request, page, case_id)
    )
    if report is None:
        return RedirectResponse(f"/cases/{case_id}/report", status_code=303)
    if values is None:
        values = {
            "starting_question": report["starting_question"],
            "insights": "\n".join(report["insights"]),
            "conclusions": report["conclusions"],
            "actions": "\n".join(report["actions"]),
        }
    return page.render(
        "report_edit.html",
        status=status,
        case=case,
        client_name=name_of(client),
        report=report,
        done=done_message(page, done),
        form=form,
        errors=errors or FormErrors(),
        values=values,
    )


@router.get("/cases/{case_id}/report/edit", response_class=HTMLResponse)
async def edit_page(
    request: Request, case_id: uuid.UUID, page: SignedIn, done: str | None = None
) -> Response:
    """The report's texts in a form: the starting question, the insights and the agreed
    actions one per line, the conclusions."""
    return await show_edit(request, page, case_id, done=done)


@router.post("/cases/{case_id}/report/edit")
async def save_report(request: Request, case_id: uuid.UUID, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "starting_question", "insights", "conclusions", "actions")
    body = {
        "starting_question": values["starting_question"],
        "insights": lines(values["insights"]),
        "conclusions": values["conclusions"],
        "actions": lines(values["actions"]),
    }
    _, error = await send(request, page, "PUT", f"/intake/v1/cases/{case_id}/report", form, body)
    if error is not None:
        errors = refusal(page, error, REPORT_FIELDS, "report-")
        return await show_edit(
            request, page, case_id, form="report", errors=errors, values=values, status=error.status
        )
    return RedirectResponse(f"/cases/{case_id}/report?done=report-saved", status_code=303)


@router.post("/cases/{case_id}/report/agreement")
async def agree_report(request: Request, case_id: uuid.UUID, page: SignedIn) -> Response:
    """The client read the report (the revision the page showed) and agrees to it."""
    form = await request.form()
    page.check_csrf(form)
    revision = texts(form, "revision")["revision"]
    body = {"revision": int(revision) if revision.isdigit() else revision}
    _, error = await send(
        request, page, "POST", f"/intake/v1/cases/{case_id}/report/agreement", form, body
    )
    if error is not None:
        errors = refusal(page, error, {}, "agreement-")
        return await show_report(
            request, page, case_id, form="agreement", errors=errors, status=error.status
        )
    return RedirectResponse(f"/cases/{case_id}/report?done=report-agreed", status_code=303)
