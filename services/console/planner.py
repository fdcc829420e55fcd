"""The plan editor (the POP of an accepted case): its type, the career question in the
plan's words, the client's insights, choices and decisions with their reasons, SMART goals
by priority with each criterion as the API judges it, actions with owner and due date, the
support the client needs, agreement by the client and the counsellor, the agreed versions
and what changed between two of them, and the links to the printable plan
(services/console/printing.py)."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console import analysis
from services.console.api import FormErrors
from services.console.diff import plan_diff
from services.console.forms import (
    COMPETENCES,
    api,
    done_message,
    many,
    submit,
    text,
    texts,
    token,
)
from services.console.i18n import N_
from services.console.pages import STATUS_NAMES
from services.console.printing import ordered_languages
from services.console.web import SignedIn, View

router = APIRouter()

# The counsellor's judgement of an item of an EVC standard against the portfolio.
JUDGEMENTS = {"proven": N_("Proven"), "partly": N_("Partly"), "not_yet": N_("Not yet")}
# An item's code in a standard (as planning's API has it).
ITEM_CODE = r"^[A-Za-z0-9._-]{1,64}$"
EVIDENCE_KINDS = {
    "diploma": N_("Diploma"),
    "certificate": N_("Certificate"),
    "work_sample": N_("Work sample"),
    "reference": N_("Reference"),
    "assessment": N_("Assessment"),
    "other": N_("Other"),
}
NEW_EVIDENCE_FIELDS = {
    "title": N_("Give it a title (at most 200 characters, on one line)."),
    "kind": N_("Choose what kind of evidence it is."),
    "date": N_("Enter the evidence's date, for example 30 June 2012."),
    "description": N_("The description is at most 2000 characters."),
}
STANDARD_FIELDS = {"standard_id": N_("Choose a standard of the list.")}
EVIDENCE_FIELDS = {"items": N_("Choose items of the standard.")}
WITHDRAWAL_FIELDS = {"reason": N_("Say why the evidence is withdrawn (at most 2000 characters).")}
JUDGEMENT_FIELDS = {
    "judgement": N_("Choose proven, partly or not yet."),
    "comment": N_("The comment is at most 2000 characters."),
}

PLAN_TYPES = {
    "action": N_("action-oriented"),
    "reflection": N_("reflection-oriented"),
    "combined": N_("combined"),
}
PLAN_STATUSES = {
    "draft": N_("draft"),
    "agreed": N_("agreed"),
    "revised": N_("revised, to be agreed again"),
    "closed": N_("closed"),
}
OWNERS = {
    "client": N_("the client"),
    "counsellor": N_("the counsellor"),
    "partner": N_("a partner"),
}
ACTION_STATUSES = {"open": N_("open"), "completed": N_("done"), "cancelled": N_("cancelled")}
PARTIES = {"client": N_("The client"), "counsellor": N_("The counsellor")}
DECISION_KINDS = {"choice": N_("Choice"), "decision": N_("Decision")}
SUPPORT_KINDS = {
    "language": N_("Language"),
    "digital_skills": N_("Digital skills"),
    "childcare": N_("Childcare"),
    "mobility": N_("Mobility"),
    "finances": N_("Finances"),
    "other": N_("Other"),
}
PRODUCT_KINDS = {
    "skills_cv": N_("Skills-based CV"),
    "cv": N_("CV"),
    "application": N_("Job application"),
    "cover_letter": N_("Cover letter"),
    "portfolio_piece": N_("Portfolio piece"),
    "other": N_("Other"),
}
APPLICATION_STATUSES = {
    "draft": N_("not sent yet"),
    "sent": N_("sent"),
    "interview": N_("invited for an interview"),
    "offer": N_("offered the job"),
    "rejected": N_("not retained"),
    "withdrawn": N_("withdrawn"),
}
# The statuses an application may move to from each (as planning's domain allows).
APPLICATION_STEPS = {
    "draft": ("sent", "withdrawn"),
    "sent": ("interview", "offer", "rejected", "withdrawn"),
    "interview": ("interview", "offer", "rejected", "withdrawn"),
    "offer": ("withdrawn",),
}
# The SMART criteria, in order, and the goal form's control each is judged on.
SMART = {
    "specific": N_("Specific"),
    "measurable": N_("Measurable"),
    "achievable": N_("Achievable"),
    "relevant": N_("Relevant"),
    "time_bound": N_("Time-bound"),
}
SMART_AT = {
    "specific": "specific",
    "measurable": "measure",
    "achievable": "target_date",
    "relevant": "competences",
    "time_bound": "target_date",
}
GOAL_FIELDS = {
    "title": N_("Give the goal a title (at most 200 characters, on one line)."),
    "specific": N_(
        "Describe concretely what the client will do or reach, in at least four words, "
        "not only the title again."
    ),
    "measure": N_("Describe how you will know that the goal is reached."),
    "measurable": N_(
        "Name an observable result (a number, a document, an event) that shows the goal is reached."
    ),
    "achievable": N_(
        "Not achievable as planned: the target date leaves less than a week for the actions, "
        "or the plan already has as many open goals as can be worked on at once."
    ),
    "relevant": N_("Link the goal to at least one career competence."),
    "competences": N_("Link the goal to at least one career competence."),
    "time_bound": N_(
        "Choose a target date in the future, within the plan's horizon (about 18 months)."
    ),
    "target_date": N_("Enter a target date, for example 1 June 2027."),
    "priority": N_("Choose a priority from 1 (highest) to one more than the number of goals."),
}
TYPE_FIELDS = {"plan_type": N_("Choose the plan's type.")}
ACTION_FIELDS = {
    "description": N_("Describe the action (at most 2000 characters)."),
    "owner": N_("Choose who does the action."),
    "due_date": N_(
        "Choose a due date that is not in the past and not after the goal's target date."
    ),
}
PRIORITY_FIELDS = {"order": N_("Give every goal a priority.")}
ACTION_CHANGE_FIELDS = {"action_id": N_("This action is already done or cancelled.")}
AGREEMENT_FIELDS = {"party": N_("Choose who agrees.")}
QUESTION_FIELDS = {"question": N_("Write the career question (at most 2000 characters).")}
INSIGHT_FIELDS = {
    "text": N_("Write the insight (at most 2000 characters)."),
    "date": N_("Enter the day of the insight: today or earlier."),
}
DECISION_FIELDS = {
    "kind": N_("Choose whether it is a choice or a decision."),
    "text": N_("Write what was chosen or decided (at most 2000 characters)."),
    "reasons": N_("Write why (at most 2000 characters)."),
}
SUPPORT_FIELDS = {
    "kinds": N_("Choose each kind of support once."),
    "notes": N_("Describe the support needed (at most 2000 characters); say what “other” is."),
}
PRODUCT_FIELDS = {
    "action_id": N_("Choose the action that produced it (not a cancelled one)."),
    "kind": N_("Choose what kind of product it is."),
    "title": N_("Give it a title (at most 200 characters, on one line)."),
    "date": N_("Enter the day it was made: today or earlier."),
    "notes": N_("Notes are at most 2000 characters."),
    "employer": N_("For an application, name the employer (at most 200 characters)."),
    "position": N_("For an application, name the job (at most 200 characters)."),
    "sent_on": N_(
        "Enter the day the application was sent: today or earlier; only for an application."
    ),
}
INSTRUMENT_FIELDS = {
    "instrument": N_("Choose an instrument of the agency's list."),
    "used_on": N_("Enter the day it was used: today or earlier."),
    "result": N_("Give the result in words (at most 4000 characters)."),
    "interpretation": N_("The interpretation is at most 4000 characters."),
    "competences": N_("Choose each career competence once."),
    "goal_ids": N_("Choose goals of this plan."),
}
INTERPRETATION_FIELDS = {
    "interpretation": N_("Write the interpretation (at most 4000 characters)."),
}
INSTRUMENT_KINDS = {
    "interests": N_("interests"),
    "personality": N_("personality"),
    "values": N_("values"),
    "skills": N_("skills"),
    "aptitude": N_("aptitude"),
    "other": N_("other"),
}
STATUS_FIELDS = {
    "product_id": N_("Only an application has a status."),
    "status": N_("Choose a status the application can move to."),
    "on": N_("Enter the day: today or earlier, not before the application's last step."),
    "answer": N_("The answer is at most 2000 characters."),
}


@router.get("/cases/{case_id}/plan", response_class=HTMLResponse)
async def plan_of_case(request: Request, case_id: uuid.UUID, page: SignedIn) -> Response:
    """The case's plan, once the accepted case has one; else why not yet."""
    found = await api(request).get(token(page), "/planning/v1/plans", case_id=str(case_id))
    if found:
        return RedirectResponse(f"/plans/{found[0]['plan_id']}", status_code=303)
    case = await api(request).get(token(page), f"/intake/v1/cases/{case_id}")
    return page.render("plan_missing.html", case=case, statuses=STATUS_NAMES)


async def show_plan(
    request: Request,
    page: View,
    plan_id: uuid.UUID,
    *,
    done: str | None = None,
    form: str | None = None,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
    esco_q: str | None = None,
    esco_kind: str | None = None,
) -> HTMLResponse:
    plan = await api(request).get(token(page), f"/planning/v1/plans/{plan_id}")
    # The competence analysis's ESCO labels in the page's language, and a search's finds.
    esco = await analysis.esco_labels(
        request, page, analysis.concept_uris(plan.get("competence_analysis"))
    )
    found, search_note = await analysis.esco_search(request, page, esco_q, esco_kind)
    client = await api(request).get(token(page), f"/intake/v1/clients/{plan['client_id']}")
    instruments = await api(request).get(token(page), "/planning/v1/instruments")
    # The EVC standards the portfolio can be compared with (reference data).
    standards = await api(request).get(token(page), "/planning/v1/standards")
    # How much of the case's hours budget is left (intake's; nothing personal).
    budget = await api(request).get(token(page), f"/intake/v1/cases/{plan['case_id']}/budget")
    # The actions that came back from the follow-up: its to-dos, by the action each became.
    followups = await api(request).get(
        token(page), "/followup/v1/followups", case_id=str(plan["case_id"])
    )
    from_followup = {
        str(todo["action_id"]): todo["agreed_at"]
        for followup in followups
        for todo in followup.get("todos", [])
    }
    errors = errors or FormErrors()
    # After a goal refused as not SMART: each criterion passed or failed, as the API judged.
    criteria = None
    if form == "goal" and errors.named & set(SMART):
        criteria = [
            (code, SMART[code], code not in errors.named, GOAL_FIELDS[code]) for code in SMART
        ]
    return page.render(
        "plan.html",
        status=status,
        plan=plan,
        client_name=f"{client['given_name']} {client['family_name']}",
        budget=budget,
        from_followup=from_followup,
        criteria=criteria,
        type_options=[(k, page.gettext(n)) for k, n in PLAN_TYPES.items()],
        owner_options=[(k, page.gettext(n)) for k, n in OWNERS.items()],
        competence_options=[(k, page.gettext(n)) for k, n in COMPETENCES.items()],
        smart=SMART,
        competences=COMPETENCES,
        plan_types=PLAN_TYPES,
        plan_statuses=PLAN_STATUSES,
        owners=OWNERS,
        action_statuses=ACTION_STATUSES,
        parties=PARTIES,
        decision_kinds=DECISION_KINDS,
        decision_options=[(k, page.gettext(n)) for k, n in DECISION_KINDS.items()],
        support_kinds=SUPPORT_KINDS,
        judgements=JUDGEMENTS,
        judgement_options=[(k, page.gettext(n)) for k, n in JUDGEMENTS.items()],
        standard_options=[(s["standard_id"], s["title"]) for s in standards],
        evidence_kinds=EVIDENCE_KINDS,
        evidence_options=[(k, page.gettext(n)) for k, n in EVIDENCE_KINDS.items()],
        item_options=[
            (r["item_id"], f"{r['item_id']}: {r['title']}")
            for r in plan["portfolio"].get("comparison", [])
        ],
        support_options=[(k, page.gettext(n)) for k, n in SUPPORT_KINDS.items()],
        instrument_options=[
            (i["code"], f"{i['name']} ({page.gettext(INSTRUMENT_KINDS.get(i['kind'], 'other'))})")
            for i in instruments
        ],
        goal_options=[(g["goal_id"], g["title"]) for g in plan["goals"]],
        goal_titles={str(g["goal_id"]): g["title"] for g in plan["goals"]},
        product_kinds=PRODUCT_KINDS,
        product_options=[(k, page.gettext(n)) for k, n in PRODUCT_KINDS.items()],
        application_statuses=APPLICATION_STATUSES,
        application_steps={
            k: [(s, page.gettext(APPLICATION_STATUSES[s])) for s in steps]
            for k, steps in APPLICATION_STEPS.items()
        },
        # The actions a product may come from (not cancelled ones), in the goals' order.
        action_options=[
            (a["action_id"], shortened(str(a["description"])))
            for goal in plan["goals"]
            for a in goal["actions"]
            if a["status"] != "cancelled"
        ],
        products_of={
            str(a["action_id"]): [
                p for p in plan.get("products", []) if p["action_id"] == a["action_id"]
            ]
            for goal in plan["goals"]
            for a in goal["actions"]
        },
        # An insight's day: today unless the counsellor says otherwise.
        today=datetime.now(UTC).date().isoformat(),
        # The printable plan (HTML and PDF, services/console/printing.py), client's language first.
        document_languages=ordered_languages(client.get("preferred_language")),
        done=done_message(page, done),
        form=form,
        errors=errors,
        values=values or {},
        esco=esco,
        esco_found=found,
        esco_options=analysis.options(page, found or []),
        esco_note=search_note,
        esco_search={"esco_q": esco_q or "", "esco_kind": esco_kind or "skill"},
        **analysis.context(page),
    )


@router.get("/plans/{plan_id}", response_class=HTMLResponse)
async def plan_page(
    request: Request,
    plan_id: uuid.UUID,
    page: SignedIn,
    done: str | None = None,
    esco_q: str | None = None,
    esco_kind: str | None = None,
) -> HTMLResponse:
    """The plan editor; `esco_q` (and `esco_kind`: skill or occupation) show what ESCO
    holds for those words in the competence analysis."""
    return await show_plan(request, page, plan_id, done=done, esco_q=esco_q, esco_kind=esco_kind)


async def change_plan(
    request: Request,
    page: View,
    plan_id: uuid.UUID,
    name: str,
    path: str,
    body: Any,
    fields: dict[str, str],
    values: dict[str, Any],
    form: Any,
    where: dict[str, str] | None = None,
    anchor: str | None = None,
    done: str | None = None,
) -> Response:
    """Send one of the plan editor's forms; the editor again, the refusal at the form."""
    puts = ("type", "priorities", "career-question", "support-needs")
    method = (
        "PUT"
        if path in puts
        or path.endswith(("/status", "/interpretation"))
        or (
            path.startswith("portfolio/")
            and path not in ("portfolio/gaps/training-needs", "portfolio/evidence")
            and not path.endswith("/withdrawal")
        )
        else "POST"
    )
    return await submit(
        request,
        page,
        method,
        f"/planning/v1/plans/{plan_id}/{path}",
        form,
        body,
        name=name,
        fields=fields,
        values=values,
        show=functools.partial(show_plan, request, page, plan_id),
        redirect=f"/plans/{plan_id}?done={done or name}#{anchor or name}",
        where=where,
    )


@router.post("/plans/{plan_id}/type")
async def choose_type(request: Request, plan_id: uuid.UUID, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "plan_type")
    return await change_plan(
        request, page, plan_id, "type", "type", values, TYPE_FIELDS, values, form
    )


@router.post("/plans/{plan_id}/goals")
async def add_goal(request: Request, plan_id: uuid.UUID, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values: dict[str, Any] = texts(form, "title", "specific", "measure", "target_date", "priority")
    values["competences"] = many(form, "competences")
    priority = values["priority"]
    body = {
        **values,
        "target_date": values["target_date"] or None,
        "priority": int(priority) if priority.isdigit() else priority,
    }
    return await change_plan(
        request,
        page,
        plan_id,
        "goal",
        "goals",
        body,
        GOAL_FIELDS,
        values,
        form,
        SMART_AT,
        anchor="goals",
    )


@router.post("/plans/{plan_id}/priorities")
async def reprioritise(request: Request, plan_id: uuid.UUID, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    given: list[tuple[int, int, str]] = []
    values: dict[str, Any] = {}
    for index, goal_id in enumerate(many(form, "goal")):
        rank = text(form, f"priority-{goal_id}")
        values[f"priority-{goal_id}"] = rank
        given.append((int(rank) if rank.isdigit() else 10_000, index, goal_id))
    order = [goal_id for _, _, goal_id in sorted(given)]
    return await change_plan(
        request,
        page,
        plan_id,
        "priorities",
        "priorities",
        {"order": order},
        PRIORITY_FIELDS,
        values,
        form,
        anchor="goals",
    )


@router.post("/plans/{plan_id}/goals/{goal_id}/actions")
async def add_action(
    request: Request, plan_id: uuid.UUID, goal_id: uuid.UUID, page: SignedIn
) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "description", "owner", "due_date")
    body = {**values, "due_date": values["due_date"] or None}
    return await change_plan(
        request,
        page,
        plan_id,
        f"action-{goal_id}",
        f"goals/{goal_id}/actions",
        body,
        ACTION_FIELDS,
        values,
        form,
        anchor=f"goal-{goal_id}",
        done="action",
    )


def shortened(description: str, limit: int = 80) -> str:
    """An action's description as an option of a list: its first line, at most `limit`."""
    line = description.splitlines()[0] if description else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


@router.post("/plans/{plan_id}/instruments")
async def record_instrument(request: Request, plan_id: uuid.UUID, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values: dict[str, Any] = texts(form, "instrument", "used_on", "result", "interpretation")
    values["competences"] = many(form, "competences")
    values["goal_ids"] = many(form, "goal_ids")
    body = {
        "instrument": values["instrument"],
        "used_on": values["used_on"] or None,
        "result": values["result"] or None,
        "interpretation": values["interpretation"] or None,
        "competences": values["competences"],
        "goal_ids": values["goal_ids"],
    }
    return await change_plan(
        request,
        page,
        plan_id,
        "instrument",
        "instruments",
        body,
        INSTRUMENT_FIELDS,
        values,
        form,
        anchor="instruments",
    )


@router.post("/plans/{plan_id}/instruments/{use_id}/interpretation")
async def interpret_instrument(
    request: Request, plan_id: uuid.UUID, use_id: uuid.UUID, page: SignedIn
) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "interpretation")
    return await change_plan(
        request,
        page,
        plan_id,
        f"interpret-{use_id}",
        f"instruments/{use_id}/interpretation",
        values,
        INTERPRETATION_FIELDS,
        values,
        form,
        anchor=f"use-{use_id}",
        done="interpretation",
    )


# Before the action's `{step}` (complete, cancel): "products" is not a step.
@router.post("/plans/{plan_id}/products")
async def record_product(request: Request, plan_id: uuid.UUID, page: SignedIn) -> Response:
    """A product of an action: the action is chosen in the form, the API's path names it."""
    form = await request.form()
    page.check_csrf(form)
    values = texts(
        form, "action_id", "kind", "title", "date", "notes", "employer", "position", "sent_on"
    )
    body: dict[str, Any] = {
        "kind": values["kind"],
        "title": values["title"],
        "date": values["date"] or None,
        "notes": values["notes"] or None,
    }
    for name in ("employer", "position", "sent_on"):  # an application's, else left out
        if values[name]:
            body[name] = values[name]
    refused = None
    try:
        action_id = str(uuid.UUID(values["action_id"]))
    except ValueError:
        action_id = "-"
        refused = FormErrors()
        refused.add("product-action_id", page.gettext(PRODUCT_FIELDS["action_id"]))
    return await submit(
        request,
        page,
        "POST",
        f"/planning/v1/plans/{plan_id}/actions/{action_id}/products",
        form,
        body,
        name="product",
        fields=PRODUCT_FIELDS,
        values=values,
        show=functools.partial(show_plan, request, page, plan_id),
        redirect=f"/plans/{plan_id}?done=product#products",
        refused=refused,
    )


@router.post("/plans/{plan_id}/products/{product_id}/status")
async def record_application_status(
    request: Request, plan_id: uuid.UUID, product_id: uuid.UUID, page: SignedIn
) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "status", "on", "answer")
    body = {**values, "on": values["on"] or None, "answer": values["answer"] or None}
    return await change_plan(
        request,
        page,
        plan_id,
        f"status-{product_id}",
        f"products/{product_id}/status",
        body,
        STATUS_FIELDS,
        values,
        form,
        anchor=f"product-{product_id}",
        done="application-status",
    )


@router.post("/plans/{plan_id}/actions/{action_id}/{step}")
async def close_action(
    request: Request, plan_id: uuid.UUID, action_id: uuid.UUID, step: str, page: SignedIn
) -> Response:
    form = await request.form()
    page.check_csrf(form)
    if step not in ("complete", "cancel"):
        return await show_plan(request, page, plan_id, status=404)
    name = "action-done" if step == "complete" else "action-cancelled"
    return await change_plan(
        request,
        page,
        plan_id,
        f"close-{action_id}",
        f"actions/{action_id}/{step}",
        None,
        ACTION_CHANGE_FIELDS,
        {},
        form,
        anchor=f"action-{action_id}",
        done=name,
    )


@router.post("/plans/{plan_id}/agreement")
async def agree(request: Request, plan_id: uuid.UUID, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "party")
    return await change_plan(
        request, page, plan_id, "agreement", "agreement", values, AGREEMENT_FIELDS, values, form
    )


@router.post("/plans/{plan_id}/portfolio/gaps")
async def portfolio_gaps(request: Request, plan_id: uuid.UUID, page: SignedIn) -> Response:
    """Turn the standard's items judged partly or not yet proven into training needs."""
    form = await request.form()
    page.check_csrf(form)
    return await change_plan(
        request,
        page,
        plan_id,
        "portfolio-gaps",
        "portfolio/gaps/training-needs",
        None,
        {},
        {},
        form,
        anchor="portfolio",
    )


@router.post("/plans/{plan_id}/portfolio/evidence")
async def add_evidence(request: Request, plan_id: uuid.UUID, page: SignedIn) -> Response:
    """A piece of evidence for the portfolio (a diploma, a reference, a work sample…)."""
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "title", "kind", "date", "description")
    body = {**values, "description": values["description"] or None}
    return await change_plan(
        request,
        page,
        plan_id,
        "evidence",
        "portfolio/evidence",
        body,
        NEW_EVIDENCE_FIELDS,
        values,
        form,
        anchor="portfolio",
    )


@router.post("/plans/{plan_id}/portfolio/standard")
async def choose_standard(request: Request, plan_id: uuid.UUID, page: SignedIn) -> Response:
    """Compare the portfolio with an imported standard, item by item."""
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "standard_id")
    return await change_plan(
        request,
        page,
        plan_id,
        "portfolio-standard",
        "portfolio/standard",
        values,
        STANDARD_FIELDS,
        values,
        form,
        anchor="portfolio",
    )


@router.post("/plans/{plan_id}/portfolio/evidence/{evidence_id}/items")
async def link_evidence(
    request: Request, plan_id: uuid.UUID, evidence_id: uuid.UUID, page: SignedIn
) -> Response:
    """The items of the standard an evidence proves (its ESCO skills kept as they are)."""
    form = await request.form()
    page.check_csrf(form)
    values = {"items": many(form, "items")}
    body = {"items": values["items"], "esco_uris": many(form, "esco_uris")}
    return await change_plan(
        request,
        page,
        plan_id,
        f"evidence-{evidence_id}",
        f"portfolio/evidence/{evidence_id}/items",
        body,
        EVIDENCE_FIELDS,
        values,
        form,
        anchor="portfolio",
        done="evidence-items",
    )


@router.post("/plans/{plan_id}/portfolio/evidence/{evidence_id}/withdrawal")
async def withdraw_evidence(
    request: Request, plan_id: uuid.UUID, evidence_id: uuid.UUID, page: SignedIn
) -> Response:
    """A piece of evidence added by mistake taken out of the portfolio, saying why (its
    links to the standard's items go with it; the judgements stay)."""
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "reason")
    return await change_plan(
        request,
        page,
        plan_id,
        f"withdraw-{evidence_id}",
        f"portfolio/evidence/{evidence_id}/withdrawal",
        values,
        WITHDRAWAL_FIELDS,
        values,
        form,
        anchor="evidence-heading",
        done="evidence-withdrawn",
    )


@router.post("/plans/{plan_id}/portfolio/items/{item_id}/judgement")
async def judge_item(
    request: Request,
    plan_id: uuid.UUID,
    item_id: Annotated[str, Path(pattern=ITEM_CODE)],
    page: SignedIn,
) -> Response:
    """The counsellor's judgement of one item: proven, partly or not yet, and why."""
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "judgement", "comment")
    refused = None
    if values["judgement"] not in JUDGEMENTS:
        refused = FormErrors()
        refused.add(f"judgement-{item_id}-judgement", page.gettext(JUDGEMENT_FIELDS["judgement"]))
    body = {"judgement": values["judgement"], "comment": values["comment"] or None}
    return await submit(
        request,
        page,
        "PUT",
        f"/planning/v1/plans/{plan_id}/portfolio/items/{item_id}/judgement",
        form,
        body,
        name=f"judgement-{item_id}",
        fields=JUDGEMENT_FIELDS,
        values=values,
        show=functools.partial(show_plan, request, page, plan_id),
        redirect=f"/plans/{plan_id}?done=judgement#portfolio",
        refused=refused,
    )


@router.post("/plans/{plan_id}/career-question")
async def state_career_question(request: Request, plan_id: uuid.UUID, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "question")
    return await change_plan(
        request,
        page,
        plan_id,
        "career-question",
        "career-question",
        values,
        QUESTION_FIELDS,
        values,
        form,
    )


@router.post("/plans/{plan_id}/insights")
async def record_insight(request: Request, plan_id: uuid.UUID, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "text", "date")
    body = {**values, "date": values["date"] or None}
    return await change_plan(
        request,
        page,
        plan_id,
        "insight",
        "insights",
        body,
        INSIGHT_FIELDS,
        values,
        form,
        anchor="reflection",
    )


@router.post("/plans/{plan_id}/decisions")
async def record_decision(request: Request, plan_id: uuid.UUID, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "kind", "text", "reasons")
    return await change_plan(
        request,
        page,
        plan_id,
        "plan-decision",
        "decisions",
        values,
        DECISION_FIELDS,
        values,
        form,
        anchor="reflection",
    )


@router.post("/plans/{plan_id}/support-needs")
async def record_support_needs(request: Request, plan_id: uuid.UUID, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values: dict[str, Any] = texts(form, "notes")
    values["kinds"] = many(form, "kinds")
    body = {"kinds": values["kinds"], "notes": values["notes"] or None}
    return await change_plan(
        request,
        page,
        plan_id,
        "support-needs",
        "support-needs",
        body,
        SUPPORT_FIELDS,
        values,
        form,
    )


# -- agreed versions ------------------------------------------------------------------------
def version_number(value: str | None, count: int, default: int) -> int:
    try:
        number = int(value or default)
    except ValueError:
        return default
    return number if 1 <= number <= count else default


@router.get("/plans/{plan_id}/versions", response_class=HTMLResponse)
async def versions(
    request: Request,
    plan_id: uuid.UUID,
    page: SignedIn,
    older: str | None = None,
    newer: str | None = None,
) -> HTMLResponse:
    """The agreed versions; one shown in full, and what changed since an earlier one."""
    call = api(request)
    plan = await call.get(token(page), f"/planning/v1/plans/{plan_id}")
    agreed = await call.get(token(page), f"/planning/v1/plans/{plan_id}/versions")
    count = len(agreed)
    shown = older_shown = None
    changes = None
    if count:
        new_n = version_number(newer, count, count)
        old_n = version_number(older, count, max(1, new_n - 1))
        shown = await call.get(token(page), f"/planning/v1/plans/{plan_id}/versions/{new_n}")
        if old_n != new_n:
            older_shown = await call.get(
                token(page), f"/planning/v1/plans/{plan_id}/versions/{old_n}"
            )
            a, b = older_shown["content"], shown["content"]
            if isinstance(a, dict) and isinstance(b, dict):
                changes = plan_diff(a, b)
    return page.render(
        "plan_versions.html",
        plan=plan,
        agreed=agreed,
        shown=shown,
        older_shown=older_shown,
        changes=changes,
        competences=COMPETENCES,
        plan_types=PLAN_TYPES,
        owners=OWNERS,
        action_statuses=ACTION_STATUSES,
        parties=PARTIES,
        decision_kinds=DECISION_KINDS,
        shown_value=functools.partial(shown_value, page),
        shown_fields=lambda change: [
            (
                page.gettext(FIELD_NAMES.get(f.name, f.name)),
                shown_value(page, f.name, f.old),
                shown_value(page, f.name, f.new),
            )
            for f in change.fields
        ],
    )


def shown_value(page: View, name: str, value: Any) -> str:
    """A field's value as the page shows it: dates in its language, codes by their names."""
    if value is None or value == "":
        return "—"
    if name in ("target_date", "due_date"):
        return page.local.day(str(value), "long")
    if name == "competences" and isinstance(value, list):
        return ", ".join(page.gettext(COMPETENCES.get(str(c), str(c))) for c in value)
    if name == "kinds" and isinstance(value, list):
        return ", ".join(page.gettext(SUPPORT_KINDS.get(str(k), str(k))) for k in value) or "—"
    names = {"plan_type": PLAN_TYPES, "owner": OWNERS, "status": ACTION_STATUSES}.get(name)
    if names is not None:
        return page.gettext(names.get(str(value), str(value)))
    return str(value)


FIELD_NAMES = {
    "plan_type": N_("Type of plan"),
    "title": N_("Title"),
    "specific": N_("What exactly"),
    "measure": N_("How we know it is reached"),
    "target_date": N_("Target date"),
    "competences": N_("Career competences"),
    "priority": N_("Priority"),
    "description": N_("Action"),
    "owner": N_("Who"),
    "due_date": N_("Due date"),
    "status": N_("State"),
    "career_question": N_("Career question"),
    "kinds": N_("Kinds of support"),
    "notes": N_("The support needed, in words"),
}
