"""The counsellor's follow-up of a case (check-ins, contacts, action checks against the
plan's actions, the outcome, the client's feedback, closing) and the client's privacy
(the export as a file, erasure with a confirmation step and its receipt).

Every form posts, then redirects to the page again; a refusal shows the page again with
the API's problem at the form's fields, the input kept."""

from __future__ import annotations

import asyncio
import functools
import json
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.api import FormErrors, form_errors
from services.console.forms import api, send, submit, text, texts, token
from services.console.i18n import N_
from services.console.pages import BOTTLENECK_KINDS, STATUS_NAMES
from services.console.planner import ACTION_STATUSES, OWNERS, PLAN_STATUSES
from services.console.web import SignedIn, View

router = APIRouter()

CHANNELS = {
    "phone": N_("phone"),
    "email": N_("email"),
    "meeting": N_("meeting"),
    "video": N_("video call"),
}
CHECKS = {
    "realised": N_("realised"),
    "partly": N_("partly realised"),
    "not_realised": N_("not realised"),
}
OUTCOMES = {
    "employed": N_("employed"),
    "education": N_("in education"),
    "self_employed": N_("self-employed"),
    "volunteering": N_("volunteering"),
    "still_searching": N_("still searching"),
    "other": N_("other"),
    "none": N_("no outcome"),
}
# A job's contract, as an `employed` outcome may say.
CONTRACTS = {
    "permanent": N_("permanent contract"),
    "fixed_term": N_("fixed-term contract"),
    "temp_agency": N_("temporary agency work"),
    "other": N_("another contract"),
}
CLOSE_REASONS = {
    "completed": N_("completed"),
    "client_withdrew": N_("the client withdrew"),
    "unreachable": N_("the client could not be reached"),
    "other": N_("another reason"),
}
FOLLOWUP_STATUSES = {"open": N_("open"), "closed": N_("closed")}
CLOSED_BY = {
    "feedback": N_("the feedback, with the outcome recorded"),
    "outcome": N_("the outcome, with the feedback given"),
    "checkin": N_("the last check-in"),
    "close": N_("the counsellor"),
}
SERVICES = {
    "intake": N_("Intake"),
    "planning": N_("Planning"),
    "followup": N_("Follow-up"),
    "referral": N_("Referral"),
}
ERASURE_STATUSES = {"pending": N_("pending"), "completed": N_("completed")}
NOTES = N_("Notes are at most 4000 characters.")
# Each form's fields, with what a person reads when the API refuses one.
CONTACT_FIELDS = {
    "channel": N_("Choose how you tried to reach the client."),
    "reached": N_("Say whether the client was reached."),
    "notes": NOTES,
}
CHECK_FIELDS = {
    "action_id": N_("Choose one of the plan's actions."),
    "status": N_("Say whether the action was realised."),
    "bottleneck": NOTES,
}
OUTCOME_FIELDS = {
    "outcome": N_("Choose where the client ended up."),
    "contract": N_("Choose the job's contract only with “employed”."),
    "on": N_("Enter the outcome's date: not in the future, not before the case was accepted."),
}
FEEDBACK_FIELDS = {
    "satisfaction": N_("Choose the client's satisfaction, from 1 to 5."),
    "self_knowledge_improved": N_("Say whether the client knows themselves better."),
    "confidence_improved": N_("Say whether the client feels more confident."),
    "comments": NOTES,
}
TO_DO_FIELDS = {
    "goal_id": N_("Choose the goal of the plan the to-do belongs to."),
    "description": N_("Describe what is to be done (at most 2000 characters)."),
    "owner": N_("Choose who does it."),
    "due_date": N_("Enter the due date: today or later."),
}
CLOSE_FIELDS = {"reason": N_("Choose why the follow-up closes."), "notes": NOTES}
ERASURE_FIELDS = {"reason": N_("Give the reason for the erasure (at most 1000 characters).")}
FORMS: dict[str, tuple[str, dict[str, str]]] = {
    "contact": ("contacts", CONTACT_FIELDS),
    "check": ("action-checks", CHECK_FIELDS),
    "outcome": ("outcome", OUTCOME_FIELDS),
    "feedback": ("feedback", FEEDBACK_FIELDS),
    "todo": ("todos", TO_DO_FIELDS),
    "close": ("close", CLOSE_FIELDS),
}
DONE = {
    "checkin": N_("The check-in is marked as held."),
    "contact": N_("The contact is recorded."),
    "check": N_("The action check is recorded."),
    "outcome": N_("The outcome is recorded."),
    "feedback": N_("The feedback is recorded."),
    "todo": N_("The to-do is agreed; it is added to the plan as an action."),
    "close": N_("The follow-up is closed."),
}
YES_NO = {"yes": True, "no": False}


def yes_no(value: str) -> bool | str:
    """A yes/no choice as the API's boolean; anything else as given (the API refuses it at
    its field)."""
    return YES_NO.get(value, value)


def whole(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def body_of(name: str, values: dict[str, str]) -> dict[str, Any]:
    """A follow-up form's values as the API's body."""
    if name == "contact":
        return {
            "channel": values["channel"],
            "reached": yes_no(values["reached"]),
            "notes": values["notes"] or None,
        }
    if name == "check":
        return {
            "action_id": values["action_id"],
            "status": values["status"],
            "bottleneck": values["bottleneck"] or None,
        }
    if name == "outcome":
        return {
            "outcome": values["outcome"],
            "contract": values.get("contract") or None,
            "on": values["on"],
        }
    if name == "feedback":
        return {
            "satisfaction": whole(values["satisfaction"]),
            "self_knowledge_improved": yes_no(values["self_knowledge_improved"]),
            "confidence_improved": yes_no(values["confidence_improved"]),
            "comments": values["comments"] or None,
        }
    if name == "todo":
        return {
            "goal_id": values["goal_id"],
            "description": values["description"],
            "owner": values["owner"],
            "due_date": values["due_date"],
        }
    return {"reason": values["reason"], "notes": values["notes"] or None}


def todo_rows(followup: dict[str, Any], plan: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The follow-up's to-dos, newest first, each with its goal's title and the plan's
    action it became (None until planning has added it, or when it did not fit)."""
    goals: dict[str, str] = {}
    actions: dict[str, dict[str, Any]] = {}
    for goal in (plan or {}).get("goals", []):
        goals[str(goal["goal_id"])] = str(goal.get("title", ""))
        for action in goal.get("actions", []):
            actions[str(action["action_id"])] = action
    rows = [
        {
            **todo,
            "goal": goals.get(str(todo["goal_id"]), ""),
            "action": actions.get(str(todo["action_id"])),
        }
        for todo in followup.get("todos", [])
    ]
    return sorted(rows, key=lambda t: str(t.get("agreed_at", "")), reverse=True)


def action_rows(followup: dict[str, Any], plan: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The follow-up's actions with their description and goal from the plan."""
    described: dict[str, tuple[str, str]] = {}
    for goal in (plan or {}).get("goals", []):
        for action in goal.get("actions", []):
            described[str(action["action_id"])] = (
                str(action.get("description", "")),
                str(goal.get("title", "")),
            )
    rows = []
    for action in followup.get("actions", []):
        description, goal = described.get(str(action["action_id"]), ("", ""))
        rows.append({**action, "description": description, "goal": goal})
    return rows


# -- the follow-up page -------------------------------------------------------------------------
async def show_followup(
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
    call = api(request)
    case, found, plans = await asyncio.gather(
        call.get(token(page), f"/intake/v1/cases/{case_id}"),
        call.get(token(page), "/followup/v1/followups", case_id=str(case_id)),
        call.get(token(page), "/planning/v1/plans", case_id=str(case_id)),
    )
    client = await call.get(token(page), f"/intake/v1/clients/{case['client_id']}")
    followup = found[0] if found else None
    plan = None
    if plans:
        plan = await call.get(token(page), f"/planning/v1/plans/{plans[0]['plan_id']}")
    actions = action_rows(followup, plan) if followup else []
    message = DONE.get(done or "")
    return page.render(
        "followup.html",
        status=status,
        case=case,
        client_name=f"{client['given_name']} {client['family_name']}",
        followup=followup,
        plan=plan,
        actions=actions,
        action_options=[(str(a["action_id"]), a["description"] or a["goal"]) for a in actions],
        descriptions={str(a["action_id"]): a["description"] for a in actions},
        todos=todo_rows(followup, plan) if followup else [],
        goal_options=[(str(g["goal_id"]), g["title"]) for g in (plan or {}).get("goals", [])],
        owner_options=[(k, page.gettext(n)) for k, n in OWNERS.items()],
        action_statuses=ACTION_STATUSES,
        plan_statuses=PLAN_STATUSES,
        bottleneck_kinds=BOTTLENECK_KINDS,
        channels=CHANNELS,
        channel_options=[(k, page.gettext(n)) for k, n in CHANNELS.items()],
        checks=CHECKS,
        check_options=[(k, page.gettext(n)) for k, n in CHECKS.items()],
        outcomes=OUTCOMES,
        outcome_options=[(k, page.gettext(n)) for k, n in OUTCOMES.items()],
        contracts=CONTRACTS,
        contract_options=[(k, page.gettext(n)) for k, n in CONTRACTS.items()],
        reasons=CLOSE_REASONS,
        reason_options=[(k, page.gettext(n)) for k, n in CLOSE_REASONS.items()],
        satisfaction_options=[(str(n), str(n)) for n in range(1, 6)],
        yes_no=[("yes", page.gettext(N_("Yes"))), ("no", page.gettext(N_("No")))],
        owners=OWNERS,
        statuses=FOLLOWUP_STATUSES,
        case_statuses=STATUS_NAMES,
        closed_by=CLOSED_BY,
        done=page.gettext(message) if message else None,
        form=form,
        errors=errors or FormErrors(),
        values=values or {},
    )


@router.get("/cases/{case_id}/followup", response_class=HTMLResponse)
async def followup_page(
    request: Request, case_id: uuid.UUID, page: SignedIn, done: str | None = None
) -> HTMLResponse:
    """The case's follow-up, once its plan was agreed; else why not yet."""
    return await show_followup(request, page, case_id, done=done)


@router.post("/cases/{case_id}/followups/{followup_id}/checkins/{checkin_id}")
async def complete_checkin(
    request: Request,
    case_id: uuid.UUID,
    followup_id: uuid.UUID,
    checkin_id: uuid.UUID,
    page: SignedIn,
) -> Response:
    form = await request.form()
    page.check_csrf(form)
    path = f"/followup/v1/followups/{followup_id}/checkins/{checkin_id}/complete"
    _, error = await send(request, page, "POST", path, form)
    if error is not None:
        errors = form_errors(error, page.local, {}, prefix="checkins-")
        return await show_followup(
            request, page, case_id, form="checkins", errors=errors, status=error.status
        )
    return RedirectResponse(f"/cases/{case_id}/followup?done=checkin#checkins", status_code=303)


@router.post("/cases/{case_id}/followups/{followup_id}/{name}")
async def change_followup(
    request: Request, case_id: uuid.UUID, followup_id: uuid.UUID, name: str, page: SignedIn
) -> Response:
    """One of the follow-up page's forms: contact, check, outcome, feedback or close."""
    form = await request.form()
    page.check_csrf(form)
    if name not in FORMS:
        return RedirectResponse(f"/cases/{case_id}/followup", status_code=303)
    path, fields = FORMS[name]
    values = texts(form, *fields)
    return await submit(
        request,
        page,
        "POST",
        f"/followup/v1/followups/{followup_id}/{path}",
        form,
        body_of(name, values),
        name=name,
        fields=fields,
        values=values,
        show=functools.partial(show_followup, request, page, case_id),
        redirect=f"/cases/{case_id}/followup?done={name}#{name}",
    )


# -- privacy ------------------------------------------------------------------------------------
@router.get("/clients/{client_id}/export")
async def export(request: Request, client_id: uuid.UUID, page: SignedIn) -> Response:
    """Everything held about the client, as a JSON file to download."""
    document = await api(request).get(token(page), f"/intake/v1/clients/{client_id}/export")
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="client-{client_id}.json"'},
    )


async def show_erasure_form(
    request: Request,
    page: View,
    client_id: uuid.UUID,
    *,
    reason: str = "",
    confirm: bool = False,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    client = await api(request).get(token(page), f"/intake/v1/clients/{client_id}")
    return page.render(
        "erasure_confirm.html",
        status=status,
        client=client,
        client_name=f"{client['given_name']} {client['family_name']}",
        values={"reason": reason},
        confirm=confirm,
        errors=errors or FormErrors(),
    )


@router.post("/clients/{client_id}/erasure")
async def request_erasure(request: Request, client_id: uuid.UUID, page: SignedIn) -> Response:
    """First the reason, then a confirmation step; only the confirmed form erases."""
    form = await request.form()
    page.check_csrf(form)
    reason = text(form, "reason")
    if not reason or len(reason) > 1000:
        errors = FormErrors()
        errors.add("erasure-reason", page.gettext(ERASURE_FIELDS["reason"]))
        return await show_erasure_form(
            request, page, client_id, reason=reason, errors=errors, status=422
        )
    if text(form, "confirmed") != "yes":
        return await show_erasure_form(request, page, client_id, reason=reason, confirm=True)
    _, error = await send(
        request,
        page,
        "POST",
        f"/intake/v1/clients/{client_id}/erasure",
        form,
        {"reason": reason},
        False,
    )
    if error is not None:
        errors = form_errors(error, page.local, ERASURE_FIELDS, prefix="erasure-")
        return await show_erasure_form(
            request, page, client_id, reason=reason, errors=errors, status=error.status
        )
    return RedirectResponse(f"/clients/{client_id}/erasure", status_code=303)


@router.get("/clients/{client_id}/erasure", response_class=HTMLResponse)
async def erasure_receipt(request: Request, client_id: uuid.UUID, page: SignedIn) -> HTMLResponse:
    """The erasure's receipt: pending or completed, which service confirmed when."""
    receipt = await api(request).get(token(page), f"/intake/v1/clients/{client_id}/erasure")
    return page.render(
        "erasure.html",
        receipt=receipt,
        services=SERVICES,
        statuses=ERASURE_STATUSES,
    )
