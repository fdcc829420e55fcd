"""The counsellor's group sessions: the organisation's group sessions, planning one
(topic, when, how long, where, its first participants), a group session's page (its
participants by their client's name, adding and removing them, recording it held with
each participant present or absent and their own notes, cancelling it).

A group session holds case ids only: the page names its participants from the cases'
list (each name a recorded read, as the worklist's). What a participant said is recorded
on their own case; the group's page never shows one client's notes beside another's
after it is held (each case page shows its own)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from services.console.api import ApiError, FormErrors, form_errors
from services.console.forms import api, done_message, local_moment, many, send, text, texts
from services.console.forms import token as token_of
from services.console.i18n import N_
from services.console.pages import PAGE_SIZE, client_names, page_number
from services.console.web import SignedIn, View

router = APIRouter()

HOME = "/groups"
NOTE_PARTS = ("discussed", "insights", "agreements", "homework")
GROUP_STATUSES = {"planned": N_("planned"), "held": N_("held"), "cancelled": N_("cancelled")}
ATTENDANCE = {"expected": N_("expected"), "present": N_("present"), "absent": N_("absent")}
PLAN_FIELDS = {
    "topic": N_("Write the topic (1 to 200 characters, on one line)."),
    "starts_at": N_("Enter when it begins, for example 2026-12-03 09:30."),
    "minutes": N_("Enter how long it lasts: 1 to 600 minutes."),
    "place": N_("The place is at most 200 characters, on one line."),
    "case_ids": N_("Choose at most 30 cases still in guidance."),
}
HOLD_FIELDS = {
    "held_at": N_("Enter when it began, for example 2026-12-03 09:30."),
    "minutes": N_("Enter how long it lasts: 1 to 600 minutes."),
}
DONE = {
    "group-planned": N_("The group session is planned."),
    "participant-added": N_("The participant is added."),
    "participant-removed": N_("The participant is taken out of the group session."),
    "group-held": N_("The group session is recorded as held; each one's notes are on their case."),
    "group-cancelled": N_("The group session is cancelled."),
}
REFUSALS = {
    "group-not-planned": N_(
        "The group session is held or cancelled already: it no longer changes."
    ),
}


def counsellor_only(page: View) -> None:
    """Group sessions are planned and held by counsellors (the API's commands are theirs)."""
    assert page.session is not None
    if "counsellor" not in page.session.roles:
        raise ApiError(404, {"type": "https://waypoint.example/problems/not-found"})


def whole(value: str) -> Any:
    """A number field's value as a number; as given when it is none (the API names it)."""
    return int(value) if value.isdigit() else value


async def candidates(request: Request, page: View) -> dict[str, str]:
    """The counsellor's cases still in guidance (open or accepted): case id → the client's
    name, as the case list shows it (a recorded read of each)."""
    call = api(request)
    found = await asyncio.gather(
        *(
            call.get(token_of(page), "/intake/v1/cases", status=s, counsellor="me", limit=200)
            for s in ("open", "accepted")
        )
    )
    return {
        str(c["case_id"]): str(c["client_name"] or "")
        for cases in found
        for c in cases
        if c.get("client_name") != "ERASED"
    }


async def names_of(
    request: Request, page: View, case_ids: list[str], planned: bool
) -> dict[str, str]:
    """The client's name of each participant's case (another counsellor's case too), and
    while the group is planned those of the cases that may be added."""
    known = await candidates(request, page) if planned else {}
    others = [c for c in case_ids if c not in known]
    if others:
        cases = await asyncio.gather(
            *(api(request).get(token_of(page), f"/intake/v1/cases/{c}") for c in others)
        )
        clients = await client_names(request, page, {str(c["client_id"]) for c in cases})
        for case in cases:
            known[str(case["case_id"])] = clients.get(str(case["client_id"]), "")
    return known


def refused(
    page: View,
    error: ApiError,
    fields: dict[str, str],
    prefix: str,
    where: dict[str, str] | None = None,
) -> FormErrors:
    errors = form_errors(error, page.local, fields, where, prefix=prefix)
    known = REFUSALS.get(error.code)
    if known is not None:
        errors.summary = [page.gettext(known)]
    return errors


async def show_list(
    request: Request,
    page: View,
    number: int = 1,
    done: str | None = None,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    listed, cases = await asyncio.gather(
        api(request).page(token_of(page), "/intake/v1/groups", number, PAGE_SIZE),
        candidates(request, page),
    )
    return page.render(
        "groups.html",
        status=status,
        listed=listed,
        statuses=GROUP_STATUSES,
        cases=sorted(cases.items(), key=lambda c: c[1]),
        values=values or {"minutes": "120"},
        chosen=(values or {}).get("case_ids", []),
        errors=errors or FormErrors(),
        done=page.gettext(DONE[done]) if done in DONE else done_message(page, done),
    )


@router.get(HOME, response_class=HTMLResponse)
async def groups(
    request: Request, page: SignedIn, list_page: str | None = None, done: str | None = None
) -> HTMLResponse:
    """The organisation's group sessions, the latest first, and the form to plan one."""
    counsellor_only(page)
    return await show_list(request, page, page_number(list_page), done)


@router.post(HOME)
async def plan_group(request: Request, page: SignedIn) -> Response:
    counsellor_only(page)
    form = await request.form()
    page.check_csrf(form)
    values: dict[str, Any] = texts(form, "topic", "starts_at", "minutes", "place")
    values["case_ids"] = many(form, "case_ids")
    body = {
        "topic": values["topic"],
        "starts_at": local_moment(values["starts_at"], page.settings.console_timezone),
        "minutes": whole(values["minutes"]),
        "place": values["place"],
        "case_ids": values["case_ids"],
    }
    answer, error = await send(request, page, "POST", "/intake/v1/groups", form, body, False)
    if error is not None or answer is None:
        assert error is not None
        # A case refused (`case_ids.N`: not of the organisation, or no longer in guidance)
        # is said at the participants' choice.
        named = {f"case_ids.{i}": "case_ids" for i in range(len(values["case_ids"]))}
        fields = {**PLAN_FIELDS, **{n: PLAN_FIELDS["case_ids"] for n in named}}
        errors = refused(page, error, fields, "plan-", named)
        return await show_list(request, page, values=values, errors=errors, status=error.status)
    return RedirectResponse(f"{HOME}/{answer['group_id']}?done=group-planned", status_code=303)


async def show_group(
    request: Request,
    page: View,
    group_id: uuid.UUID,
    done: str | None = None,
    form: str | None = None,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    group = await api(request).get(token_of(page), f"/intake/v1/groups/{group_id}")
    taking_part = [str(c["case_id"]) for c in group["cases"]]
    names = await names_of(request, page, taking_part, group["status"] == "planned")
    return page.render(
        "group.html",
        status=status,
        group=group,
        statuses=GROUP_STATUSES,
        attendance=ATTENDANCE,
        names=names,
        addable=sorted(
            ((c, n) for c, n in names.items() if c not in taking_part), key=lambda c: c[1]
        ),
        parts=NOTE_PARTS,
        form=form,
        values=values or {},
        errors=errors or FormErrors(),
        done=page.gettext(DONE[done]) if done in DONE else None,
    )


@router.get(HOME + "/{group_id}", response_class=HTMLResponse)
async def group_page(
    request: Request, group_id: uuid.UUID, page: SignedIn, done: str | None = None
) -> HTMLResponse:
    counsellor_only(page)
    return await show_group(request, page, group_id, done)


async def change(
    request: Request,
    page: View,
    group_id: uuid.UUID,
    form: FormData,
    method: str,
    path: str,
    body: Any,
    *,
    name: str,
    done: str,
    fields: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    where: dict[str, str] | None = None,
) -> Response:
    """A change of the group session, with the version the page showed; a refusal shows
    the page again with its messages at the form `name`."""
    _, error = await send(request, page, method, f"/intake/v1/groups/{group_id}{path}", form, body)
    if error is not None:
        errors = refused(page, error, fields or {}, f"{name}-", where)
        return await show_group(
            request, page, group_id, None, name, values, errors, status=error.status
        )
    return RedirectResponse(f"{HOME}/{group_id}?done={done}", status_code=303)


@router.post(HOME + "/{group_id}/participants")
async def add_participant(request: Request, group_id: uuid.UUID, page: SignedIn) -> Response:
    counsellor_only(page)
    form = await request.form()
    page.check_csrf(form)
    case_id = text(form, "case_id")
    if not case_id:
        errors = FormErrors()
        errors.add("add-case_id", page.gettext(N_("Choose a case.")))
        return await show_group(request, page, group_id, None, "add", {}, errors, status=422)
    return await change(
        request,
        page,
        group_id,
        form,
        "POST",
        "/participants",
        {"case_id": case_id},
        name="add",
        done="participant-added",
        fields={"case_id": N_("Choose a case still in guidance.")},
    )


@router.post(HOME + "/{group_id}/participants/{case_id}/removal")
async def remove_participant(
    request: Request, group_id: uuid.UUID, case_id: uuid.UUID, page: SignedIn
) -> Response:
    counsellor_only(page)
    form = await request.form()
    page.check_csrf(form)
    return await change(
        request,
        page,
        group_id,
        form,
        "DELETE",
        f"/participants/{case_id}",
        None,
        name="remove",
        done="participant-removed",
    )


@router.post(HOME + "/{group_id}/cancellation")
async def cancel_group(request: Request, group_id: uuid.UUID, page: SignedIn) -> Response:
    counsellor_only(page)
    form = await request.form()
    page.check_csrf(form)
    return await change(
        request,
        page,
        group_id,
        form,
        "POST",
        "/cancellation",
        None,
        name="cancel",
        done="group-cancelled",
    )


@router.post(HOME + "/{group_id}/held")
async def hold_group(request: Request, group_id: uuid.UUID, page: SignedIn) -> Response:
    """Held: each participant present (with their own notes) or absent."""
    counsellor_only(page)
    form = await request.form()
    page.check_csrf(form)
    values: dict[str, Any] = texts(form, "held_at", "minutes")
    body: dict[str, Any] = {
        "held_at": local_moment(values["held_at"], page.settings.console_timezone)
        if values["held_at"]
        else None,
        "minutes": whole(values["minutes"]) if values["minutes"] else None,
        "attendance": [],
    }
    fields = dict(HOLD_FIELDS)
    where: dict[str, str] = {}
    for i, case_id in enumerate(many(form, "case_id")):
        present = text(form, f"present-{case_id}") == "yes"
        notes = texts(form, *(f"{part}-{case_id}" for part in NOTE_PARTS))
        values.update(notes)
        values[f"present-{case_id}"] = "yes" if present else "no"
        # An absent one's notes are sent too: the API refuses them (nothing is lost unseen).
        row: dict[str, Any] = {"case_id": case_id, "present": present}
        row.update({part: notes[f"{part}-{case_id}"] or None for part in NOTE_PARTS})
        body["attendance"].append(row)
        where[f"attendance.{i}"] = f"present-{case_id}"
        fields[f"attendance.{i}"] = N_("An absent participant has no notes.")
        for part in NOTE_PARTS:
            where[f"attendance.{i}.{part}"] = f"{part}-{case_id}"
            fields[f"attendance.{i}.{part}"] = N_("Each note is at most 4000 characters.")
    return await change(
        request,
        page,
        group_id,
        form,
        "POST",
        "/held",
        body,
        name="hold",
        done="group-held",
        fields=fields,
        values=values,
        where=where,
    )
