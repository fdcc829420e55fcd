"""The case page's forms of appointments: planning one (a date the agency's rhythm
proposes, or another), moving, cancelling (by whom, why), marking it missed, holding it (its
session recorded, notes optional). What the pages show of them: `appointments.py`.

Each form posts, then redirects to the case page again; a refusal shows the page again with
the API's problem at the form's fields (each appointment's forms have ids of their own)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.console.api import ApiError, FormErrors, form_errors
from services.console.casework import NOTE_PARTS, show_case
from services.console.forms import local_moment, send, texts
from services.console.i18n import N_
from services.console.web import SignedIn, View

router = APIRouter()

STARTS_AT = N_("Enter a date and a time ahead, such as 2026-03-09 10:00.")
MINUTES = N_("Enter the minutes, 1 to 600.")
APPOINTMENT_FIELDS = {
    "kind": N_("Choose the kind of session."),
    "starts_at": STARTS_AT,
    "minutes": MINUTES,
    "channel": N_("Choose how you meet."),
    "place": N_(
        "Enter the place: the office and room for a meeting in person, or the number or "
        "link of the call (at most 200 characters, on one line; not the client's address)."
    ),
}
MOVE_FIELDS = {"starts_at": STARTS_AT}
CANCEL_FIELDS = {
    "by": N_("Choose who cancelled."),
    "reason": N_("Say why the appointment is cancelled (at most 4000 characters)."),
}
HELD_FIELDS = {
    "minutes": MINUTES,
    **dict.fromkeys(NOTE_PARTS, N_("At most 4000 characters.")),
}
# What the API's refusals of an appointment's change mean to the person.
NOT_PLANNED = N_("The appointment is no longer planned: reload the page.")
AHEAD = N_("The appointment has not begun yet.")
OVERLAPS = N_("The case has another appointment at that time.")


def refused_as(code: str) -> str | None:
    return {
        "appointment-not-planned": NOT_PLANNED,
        "appointment-ahead": AHEAD,
        "appointment-overlaps": OVERLAPS,
    }.get(code)


def _minutes(value: str) -> Any:
    return int(value) if value.isdigit() else (value or None)


async def _change(
    request: Request,
    page: View,
    case_id: uuid.UUID,
    *,
    method: str,
    path: str,
    name: str,
    done: str,
    body: dict[str, Any],
    fields: dict[str, str],
    values: dict[str, Any],
    form: Any,
    refused: FormErrors | None = None,
    where: dict[str, str] | None = None,
) -> Response:
    """Send one appointment form; the case page again with the refusal at the form (the
    appointment's own refusals said in words), else back to the appointments."""
    error: ApiError | None = None
    if refused is None:
        _, error = await send(
            request, page, method, f"/intake/v1/cases/{case_id}/{path}", form, body
        )
        if error is not None:
            refused = form_errors(error, page.local, fields, where, prefix=f"{name}-")
            known = refused_as(error.code)
            if known is not None:
                refused.summary = [page.gettext(known)]
    if refused is not None:
        status = error.status if error is not None else 422
        return await show_case(
            request, page, case_id, form=name, errors=refused, values=values, status=status
        )
    return RedirectResponse(f"/cases/{case_id}?done={done}#appointments", status_code=303)


@router.post("/cases/{case_id}/appointments")
async def plan_appointment(request: Request, case_id: uuid.UUID, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "kind", "proposed", "starts_at", "minutes", "channel", "place")
    when = values["starts_at"] or values["proposed"]
    body: dict[str, Any] = {
        "kind": values["kind"],
        "starts_at": local_moment(when, page.settings.console_timezone),
        "channel": values["channel"],
        "place": values["place"] or None,
    }
    if values["minutes"]:
        body["minutes"] = _minutes(values["minutes"])
    refused = None
    if not when:
        refused = FormErrors()
        refused.add("appointment-starts_at", page.gettext(STARTS_AT))
    return await _change(
        request,
        page,
        case_id,
        method="POST",
        path="appointments",
        name="appointment",
        done="appointment",
        body=body,
        fields=APPOINTMENT_FIELDS,
        values=values,
        form=form,
        refused=refused,
    )


@router.post("/cases/{case_id}/appointments/{appointment_id}/move")
async def move_appointment(
    request: Request, case_id: uuid.UUID, appointment_id: uuid.UUID, page: SignedIn
) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = {**texts(form, "starts_at"), "appointment_id": str(appointment_id)}
    return await _change(
        request,
        page,
        case_id,
        method="PUT",
        path=f"appointments/{appointment_id}",
        name=f"move-{appointment_id}",
        done="appointment-moved",
        body={"starts_at": local_moment(values["starts_at"], page.settings.console_timezone)},
        fields=MOVE_FIELDS,
        values=values,
        form=form,
    )


@router.post("/cases/{case_id}/appointments/{appointment_id}/cancel")
async def cancel_appointment(
    request: Request, case_id: uuid.UUID, appointment_id: uuid.UUID, page: SignedIn
) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = {**texts(form, "by", "reason"), "appointment_id": str(appointment_id)}
    return await _change(
        request,
        page,
        case_id,
        method="POST",
        path=f"appointments/{appointment_id}/cancellation",
        name=f"cancel-{appointment_id}",
        done="appointment-cancelled",
        body={"by": values["by"], "reason": values["reason"]},
        fields=CANCEL_FIELDS,
        values=values,
        form=form,
    )


@router.post("/cases/{case_id}/appointments/{appointment_id}/no-show")
async def mark_missed(
    request: Request, case_id: uuid.UUID, appointment_id: uuid.UUID, page: SignedIn
) -> Response:
    form = await request.form()
    page.check_csrf(form)
    return await _change(
        request,
        page,
        case_id,
        method="POST",
        path=f"appointments/{appointment_id}/no-show",
        name=f"missed-{appointment_id}",
        done="appointment-missed",
        body={},
        fields={},
        values={"appointment_id": str(appointment_id)},
        form=form,
    )


@router.post("/cases/{case_id}/appointments/{appointment_id}/held")
async def hold_appointment(
    request: Request, case_id: uuid.UUID, appointment_id: uuid.UUID, page: SignedIn
) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = {**texts(form, "minutes", *NOTE_PARTS), "appointment_id": str(appointment_id)}
    body: dict[str, Any] = {}
    if values["minutes"]:
        body["minutes"] = _minutes(values["minutes"])
    if any(values[part] for part in NOTE_PARTS):
        body["notes"] = {part: values[part] or None for part in NOTE_PARTS}
    return await _change(
        request,
        page,
        case_id,
        method="POST",
        path=f"appointments/{appointment_id}/held",
        name=f"held-{appointment_id}",
        done="appointment-held",
        body=body,
        fields=HELD_FIELDS,
        values=values,
        form=form,
        where={f"notes.{part}": part for part in NOTE_PARTS},
    )
