"""The counsellor's client and case pages: consents (granted, withdrawn, their history),
the information on rights and duties, complaints (registered, answered), opening a case,
the client list, and the case itself (entry check, both assessments with
their gaps drawn, sessions with their notes against the hours budget, the appointments
(their forms in `agenda.py`), the decision, the way to the reflection-and-action report).

Every form posts, then redirects to the page again; a refusal shows the page again with
the API's problem at the form's fields, the input kept."""

from __future__ import annotations

import asyncio
import functools
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.api import ApiError, FormErrors, Page, form_errors
from services.console.appointments import (
    APPOINTMENT_STATUSES,
    CANCELLERS,
    CHANNELS,
    SESSION_KINDS,
    case_agenda,
)
from services.console.charts import competence_chart
from services.console.forms import (
    COMPETENCES,
    api,
    done_message,
    local_moment,
    many,
    partner_directory,
    send,
    submit,
    text,
    texts,
    token,
)
from services.console.i18n import N_
from services.console.pages import (
    PAGE_SIZE,
    PHASE_NAMES,
    PURPOSE_NAMES,
    REFERRAL_STATUSES,
    STATUS_NAMES,
    page_number,
)
from services.console.web import SignedIn, View

router = APIRouter()

CATEGORIES = {
    "identity": N_("identity (name, date of birth)"),
    "contact": N_("contact details"),
    "career_question": N_("career question"),
    "assessments": N_("assessments"),
    "plan": N_("plan"),
}
ASSESSORS = {"client": N_("The client's view"), "counsellor": N_("The counsellor's view")}
DECISIONS = {
    "accept": N_("Accept the client for guidance"),
    "refer_out": N_("Refer the client elsewhere"),
    "decline": N_("Decline"),
}
DECIDED = {
    "accept": N_("accepted"),
    "refer_out": N_("referred elsewhere"),
    "decline": N_("declined"),
}
SCORES = {
    1: N_("1, not yet"),
    2: N_("2, a little"),
    3: N_("3, largely"),
    4: N_("4, fully"),
}
# Each form's fields, with what a person reads when the API refuses one.
CONSENT_FIELDS = {
    "partner_id": N_("Choose the partner this consent is for."),
    "data_categories": N_("Choose at least one kind of data the partner may receive."),
    "purpose": N_("Choose what the consent is for."),
}
CASE_FIELDS = {
    "career_question": N_("Write the client's career question (at most 4000 characters)."),
}
ENTRY_FIELDS = {
    "eligible": N_("Say whether the client meets the entry conditions."),
    "notes": N_("Notes are at most 4000 characters."),
}
SCORE_FIELDS = {f"scores.{c}": N_("Choose a score from 1 to 4.") for c in COMPETENCES}
SESSION_FIELDS = {
    "kind": N_("Choose the kind of session."),
    "held_at": N_("Enter when the session was held: a moment in the past."),
    "minutes": N_("Enter the session's length in minutes, from 1 to 600."),
    "notes.discussed": N_("Notes are at most 4000 characters each."),
    "notes.insights": N_("Notes are at most 4000 characters each."),
    "notes.agreements": N_("Notes are at most 4000 characters each."),
    "notes.homework": N_("Notes are at most 4000 characters each."),
}
NOTE_PARTS = ("discussed", "insights", "agreements", "homework")
DECISION_FIELDS = {
    "decision": N_(
        "The case cannot be accepted yet: it needs a passed entry check and an assessment."
    ),
    "reason": N_("Reasons are at most 4000 characters."),
    "programme": N_("Choose one of the agency's programmes."),
    "hours_budget": N_("Enter the hours budget as a number above 0 and at most 500."),
    "budget_reason": N_("Say why the case gets another budget than the programme's."),
}
# A team lead's approval of extra hours on the case's budget.
EXTRA_HOURS_FIELDS = {
    "extra_hours": N_("Enter the extra hours as a number above 0 and at most 100."),
    "reason": N_("Say why the case needs more hours (at most 4000 characters)."),
}
DECLINE_REASON = N_("Give the reason for declining.")
RIGHTS_FIELDS = {
    "version": N_("Choose the version of the information the client was given."),
    "language": N_("Choose the language the information was given in."),
}
RIGHTS_LANGUAGES = {"nl": N_("Dutch"), "fr": N_("French"), "en": N_("English")}
COMPLAINT_FIELDS = {
    "subject": N_("Write what the complaint is about (at most 4000 characters)."),
    "case_id": N_("Choose one of the client's cases, or none."),
}
ANSWER_FIELDS = {
    "answer": N_("Write the answer given to the client (at most 4000 characters)."),
    "answered_on": N_("Enter the day the answer was given: not ahead, not before the complaint."),
}
COMPLAINT_STATUSES = {
    "received": N_("received"),
    "in_handling": N_("in handling"),
    "answered": N_("answered"),
    "withdrawn": N_("withdrawn"),
}
# Why a case's file closes, and which reasons each status allows (as intake does).
CLOSING_REASONS = {
    "client_withdrew": N_("The client withdrew"),
    "referred_out": N_("The client was referred to another provider"),
    "declined": N_("The client was declined"),
}
CLOSABLE = {
    "open": ("client_withdrew",),
    "accepted": ("client_withdrew", "referred_out"),
    "referred_out": ("referred_out", "client_withdrew"),
    "declined": ("declined",),
}
# How follow-up's closures read (reason codes of `FollowUpClosed`).
AFTERCARE_CLOSED = {
    "completed": N_("guidance completed"),
    "client_withdrew": N_("the client withdrew"),
    "unreachable": N_("the client could not be reached"),
    "other": N_("another reason"),
}
CLOSE_FIELDS = {
    "reason": N_("Choose why the file closes."),
    "summary": N_("Write the closing summary (at most 4000 characters)."),
}
REASSIGN_FIELDS = {
    "counsellor": N_("Enter the user name of the counsellor who takes the case over."),
    "reason": N_("Say why the case is handed over (at most 4000 characters)."),
}
# The cases a team lead hands over: those a counsellor still carries.
CARRIED = ("open", "accepted")
# The cases from which a referral to a partner is proposed: accepted for guidance, or
# decided to be referred out.
REFERABLE = ("accepted", "referred_out")
WHOSE = {"mine": N_("my cases"), "all": N_("all cases of the organisation")}
SEARCH_REFUSED = N_(
    "Search with words of a name or an e-mail address (on one line, at most 200 "
    "characters), or a date of birth such as 1985-03-15."
)


# -- the client list ----------------------------------------------------------------------------
@router.get("/clients", response_class=HTMLResponse)
async def clients(
    request: Request,
    page: SignedIn,
    cases_page: str | None = None,
    status: str | None = None,
    whose: str | None = None,
    q: str | None = None,
    found_page: str | None = None,
) -> HTMLResponse:
    """Client search (by name, e-mail address or date of birth, when asked), and the
    clients of the counsellor's cases (or the organisation's), newest case first, with
    their names and career questions as the case list gives them."""
    status = status if status in STATUS_NAMES else None
    whose = whose if whose in WHOSE else "mine"
    q = (q or "").strip()
    found = None
    errors = FormErrors()
    if q:
        try:
            found = await api(request).page(
                token(page), "/intake/v1/clients", page_number(found_page), PAGE_SIZE, q=q
            )
        except ApiError as e:
            if e.status != 422:
                raise
            errors.add("q", page.gettext(SEARCH_REFUSED))
    cases = await api(request).page(
        token(page),
        "/intake/v1/cases",
        page_number(cases_page),
        PAGE_SIZE,
        status=status,
        counsellor="me" if whose == "mine" else None,
    )
    return page.render(
        "clients.html",
        q=q,
        found=found,
        errors=errors,
        cases=cases,
        statuses=STATUS_NAMES,
        phases=PHASE_NAMES,
        status_filter=status,
        whose=WHOSE,
        whose_filter=whose,
    )


# -- the client's page --------------------------------------------------------------------------
async def show_client(
    request: Request,
    page: View,
    client_id: uuid.UUID,
    *,
    done: str | None = None,
    form: str | None = None,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    call = api(request)
    client, consents, history, cases, partners, complaints, versions = await asyncio.gather(
        call.get(token(page), f"/intake/v1/clients/{client_id}"),
        call.get(token(page), f"/intake/v1/clients/{client_id}/consents"),
        call.get(token(page), f"/intake/v1/clients/{client_id}/consents/history"),
        call.page(token(page), "/intake/v1/cases", 1, PAGE_SIZE, client_id=str(client_id)),
        partner_directory(request, page),
        call.get(token(page), f"/intake/v1/clients/{client_id}/complaints"),
        call.get(token(page), "/intake/v1/rights-information/versions"),
    )
    guidance = any(c["purpose"] == "guidance" and c["granted"] for c in consents)
    return page.render(
        "client.html",
        status=status,
        client=client,
        consents=consents,
        history=list(reversed(history)),
        cases=cases,
        partners=partners,
        guidance=guidance,
        done=done_message(page, done),
        registered=done == "registered",
        form=form,
        errors=errors or FormErrors(),
        values=values or {},
        purposes=PURPOSE_NAMES,
        categories=CATEGORIES,
        category_options=[(c, page.gettext(n)) for c, n in CATEGORIES.items()],
        statuses=STATUS_NAMES,
        phases=PHASE_NAMES,
        complaints=complaints,
        complaint_statuses=COMPLAINT_STATUSES,
        rights_languages=RIGHTS_LANGUAGES,
        language_options=[(k, page.gettext(n)) for k, n in RIGHTS_LANGUAGES.items()],
        version_options=[(v, v) for v in reversed(versions)],
        case_options=[
            (
                str(c["case_id"]),
                page.local.gettext(
                    N_("Case opened on %(day)s"), day=page.local.day(c["opened_at"][:10])
                ),
            )
            for c in cases.items
        ],
    )


@router.get("/clients/{client_id}", response_class=HTMLResponse)
async def client_page(
    request: Request,
    client_id: uuid.UUID,
    page: SignedIn,
    registered: str | None = None,
    done: str | None = None,
) -> HTMLResponse:
    """The client: details, consents with their history, cases; open a case."""
    return await show_client(
        request, page, client_id, done="registered" if registered == "1" else done
    )


@router.post("/clients/{client_id}/consents")
async def record_consent(request: Request, client_id: uuid.UUID, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    purpose = text(form, "purpose")
    granted = text(form, "granted") == "yes"
    body: dict[str, Any] = {"purpose": purpose, "granted": granted}
    values: dict[str, Any] = {"partner_id": text(form, "partner_id")}
    values["data_categories"] = many(form, "data_categories")
    if purpose == "referral":
        body["partner_id"] = values["partner_id"] or None
        if granted:
            body["data_categories"] = values["data_categories"] or None
    _, error = await send(
        request, page, "POST", f"/intake/v1/clients/{client_id}/consents", form, body
    )
    if error is not None:
        # Which form: a withdrawal's button, or the grant form of its purpose.
        which = "referral" if purpose == "referral" and granted else "consents"
        errors = form_errors(error, page.local, CONSENT_FIELDS, prefix=f"{which}-")
        return await show_client(
            request,
            page,
            client_id,
            form=which,
            errors=errors,
            values=values,
            status=error.status,
        )
    return RedirectResponse(f"/clients/{client_id}?done=consent#consents", status_code=303)


@router.post("/clients/{client_id}/rights-information")
async def inform_of_rights(request: Request, client_id: uuid.UUID, page: SignedIn) -> Response:
    """The client was informed of their rights and duties (which version, which language)."""
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "version", "language")
    return await submit(
        request,
        page,
        "POST",
        f"/intake/v1/clients/{client_id}/rights-information",
        form,
        values,
        name="rights",
        fields=RIGHTS_FIELDS,
        values=values,
        show=functools.partial(show_client, request, page, client_id),
        redirect=f"/clients/{client_id}?done=rights#rights",
    )


@router.post("/clients/{client_id}/complaints")
async def register_complaint(request: Request, client_id: uuid.UUID, page: SignedIn) -> Response:
    """Register the client's complaint (about one of their cases, if chosen)."""
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "subject", "case_id")
    body = {"subject": values["subject"], "case_id": values["case_id"] or None}
    _, error = await send(
        request, page, "POST", f"/intake/v1/clients/{client_id}/complaints", form, body, False
    )
    if error is not None:
        errors = form_errors(error, page.local, COMPLAINT_FIELDS, prefix="complaint-")
        return await show_client(
            request,
            page,
            client_id,
            form="complaint",
            errors=errors,
            values=values,
            status=error.status,
        )
    return RedirectResponse(f"/clients/{client_id}?done=complaint#complaints", status_code=303)


@router.post("/clients/{client_id}/complaints/{complaint_id}/answer")
async def answer_complaint(
    request: Request, client_id: uuid.UUID, complaint_id: uuid.UUID, page: SignedIn
) -> Response:
    """Record the answer given to the client; the complaint is answered."""
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "answer", "answered_on")
    body = {"answer": values["answer"], "answered_on": values["answered_on"] or None}
    return await submit(
        request,
        page,
        "POST",
        f"/intake/v1/complaints/{complaint_id}/answer",
        form,
        body,
        name=f"answer-{complaint_id}",
        fields=ANSWER_FIELDS,
        values=values,
        show=functools.partial(show_client, request, page, client_id),
        redirect=f"/clients/{client_id}?done=complaint-answered#complaints",
    )


@router.post("/clients/{client_id}/cases")
async def open_case(request: Request, client_id: uuid.UUID, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "career_question")
    body = {"client_id": str(client_id), **values}
    answer, error = await send(request, page, "POST", "/intake/v1/cases", form, body, False)
    if error is not None or answer is None:
        assert error is not None
        errors = form_errors(error, page.local, CASE_FIELDS, prefix="case-")
        return await show_client(
            request,
            page,
            client_id,
            form="case",
            errors=errors,
            values=values,
            status=error.status,
        )
    return RedirectResponse(f"/cases/{answer['case_id']}?done=case", status_code=303)


# -- the case page ------------------------------------------------------------------------------
async def show_case(
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
    case = await call.get(token(page), f"/intake/v1/cases/{case_id}")
    client, referrals, partners, notes, agenda = await asyncio.gather(
        call.get(token(page), f"/intake/v1/clients/{case['client_id']}"),
        case_referrals(request, page, case_id),
        partner_directory(request, page),
        session_notes(request, page, case),
        case_agenda(request, page, case_id),
    )
    competences = [(code, page.gettext(name)) for code, name in COMPETENCES.items()]
    assessors = [(code, page.gettext(name)) for code, name in ASSESSORS.items()]
    chart = competence_chart(
        competences,
        case["scores"],
        case["gaps"],
        assessors,
        title=page.gettext(N_("The career competences as the client and the counsellor see them")),
        gap_label=page.gettext(N_("gap: a score of 2 or less")),
    )
    return page.render(
        "case.html",
        status=status,
        case=case,
        client=client,
        client_name=f"{client['given_name']} {client['family_name']}",
        chart=chart,
        competences=COMPETENCES,
        assessors=ASSESSORS,
        scores_options=[(str(n), page.gettext(label)) for n, label in SCORES.items()],
        session_kinds=SESSION_KINDS,
        session_options=[(k, page.gettext(n)) for k, n in SESSION_KINDS.items()],
        decision_options=[(k, page.gettext(n)) for k, n in DECISIONS.items()],
        decisions=DECISIONS,
        decided=DECIDED,
        referrals=referrals,
        partners=partners,
        notes=notes,
        agenda=agenda,
        proposal_options=[
            (value, page.local.moment(moment))
            for value, moment in zip(agenda["proposals"], agenda["proposed"], strict=True)
        ],
        channels=CHANNELS,
        channel_options=[(k, page.gettext(n)) for k, n in CHANNELS.items()],
        appointment_statuses=APPOINTMENT_STATUSES,
        canceller_options=[(k, page.gettext(n)) for k, n in CANCELLERS.items()],
        referral_statuses=REFERRAL_STATUSES,
        referable=case["status"] in REFERABLE,
        closing_options=[
            (k, page.gettext(CLOSING_REASONS[k])) for k in CLOSABLE.get(case["status"], ())
        ],
        closing_reasons=CLOSING_REASONS,
        aftercare_closed=AFTERCARE_CLOSED,
        carried=case["status"] in CARRIED,
        warning_share=page.settings.budget_warning_share,
        programme_options=[(p, p) for p in sorted(page.settings.budget_programmes)],
        statuses=STATUS_NAMES,
        phases=PHASE_NAMES,
        done=done_message(page, done),
        form=form,
        errors=errors or FormErrors(),
        values=values or {},
    )


async def session_notes(request: Request, page: View, case: dict[str, Any]) -> dict[str, Any]:
    """The notes of the case's sessions as they stand, by session (read, and the read
    recorded, only when a session has notes)."""
    if not any(s.get("has_notes") for s in case["sessions"]):
        return {}
    found = await api(request).get(token(page), f"/intake/v1/cases/{case['case_id']}/notes")
    return {s["session_id"]: s for s in found if s["notes"]}


async def case_referrals(request: Request, page: View, case_id: uuid.UUID) -> Page | None:
    """The case's referrals, newest change first; None for a role that may not read them."""
    try:
        return await api(request).page(
            token(page), "/referral/v1/referrals", 1, PAGE_SIZE, case_id=str(case_id)
        )
    except ApiError as e:
        if e.status != 403:
            raise
        return None


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(
    request: Request, case_id: uuid.UUID, page: SignedIn, done: str | None = None
) -> HTMLResponse:
    """The case: entry check, both assessments and their gaps, sessions, decision."""
    return await show_case(request, page, case_id, done=done)


async def change_case(
    request: Request,
    page: View,
    case_id: uuid.UUID,
    name: str,
    path: str,
    body: dict[str, Any],
    fields: dict[str, str],
    values: dict[str, Any],
    form: Any,
    refused: FormErrors | None = None,
    where: dict[str, str] | None = None,
    done: str | None = None,
) -> Response:
    """Send one of the case page's forms; the page again, with the refusal at the form."""
    return await submit(
        request,
        page,
        "POST",
        f"/intake/v1/cases/{case_id}/{path}",
        form,
        body,
        name=name,
        fields=fields,
        values=values,
        show=functools.partial(show_case, request, page, case_id),
        redirect=f"/cases/{case_id}?done={done or name}#{name}",
        where=where,
        refused=refused,
    )


@router.post("/cases/{case_id}/entry-check")
async def check_entry(request: Request, case_id: uuid.UUID, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "eligible", "notes")
    body: dict[str, Any] = {
        "eligible": values["eligible"] == "yes",
        "notes": values["notes"] or None,
    }
    refused = None
    if values["eligible"] not in ("yes", "no"):
        refused = FormErrors()
        refused.add("entry-check-eligible", page.gettext(ENTRY_FIELDS["eligible"]))
    return await change_case(
        request,
        page,
        case_id,
        "entry-check",
        "entry-check",
        body,
        ENTRY_FIELDS,
        values,
        form,
        refused,
    )


@router.post("/cases/{case_id}/assessments")
async def record_assessment(request: Request, case_id: uuid.UUID, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    assessor = text(form, "assessor")
    if assessor not in ASSESSORS:
        assessor = "counsellor"
    values = texts(form, *COMPETENCES)
    scores: dict[str, Any] = {}
    for code, value in values.items():
        scores[code] = int(value) if value.isdigit() else value
    body = {"assessor": assessor, "scores": scores}
    return await change_case(
        request,
        page,
        case_id,
        f"assessment-{assessor}",
        "assessments",
        body,
        SCORE_FIELDS,
        values,
        form,
        where={f"scores.{c}": c for c in COMPETENCES},
        done="assessment",
    )


@router.post("/cases/{case_id}/sessions")
async def hold_session(request: Request, case_id: uuid.UUID, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "kind", "held_at", "minutes", *NOTE_PARTS)
    minutes: Any = int(values["minutes"]) if values["minutes"].isdigit() else values["minutes"]
    body: dict[str, Any] = {
        "kind": values["kind"],
        "held_at": local_moment(values["held_at"], page.settings.console_timezone),
        "minutes": minutes,
    }
    if any(values[part] for part in NOTE_PARTS):
        body["notes"] = {part: values[part] or None for part in NOTE_PARTS}
    return await change_case(
        request,
        page,
        case_id,
        "session",
        "sessions",
        body,
        SESSION_FIELDS,
        values,
        form,
        where={f"notes.{part}": part for part in NOTE_PARTS},
    )


@router.post("/cases/{case_id}/decision")
async def decide(request: Request, case_id: uuid.UUID, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "decision", "reason", "programme", "hours_budget", "budget_reason")
    body: dict[str, Any] = {"decision": values["decision"], "reason": values["reason"] or None}
    if values["decision"] == "accept":
        body["programme"] = values["programme"] or None
        body["hours_budget"] = number(values["hours_budget"])
        body["budget_reason"] = values["budget_reason"] or None
    refused = None
    if values["decision"] not in DECISIONS:
        refused = FormErrors()
        refused.add("decision-decision", page.gettext(N_("Choose a decision.")))
    elif values["decision"] == "decline" and not values["reason"]:
        refused = FormErrors()
        refused.add("decision-reason", page.gettext(DECLINE_REASON))
    return await change_case(
        request,
        page,
        case_id,
        "decision",
        "decision",
        body,
        DECISION_FIELDS,
        values,
        form,
        refused,
    )


@router.post("/cases/{case_id}/closure")
async def close_case(request: Request, case_id: uuid.UUID, page: SignedIn) -> Response:
    """Close the case's file with the closing summary and why."""
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "reason", "summary")
    refused = None
    if values["reason"] not in CLOSING_REASONS:
        refused = FormErrors()
        refused.add("closing-reason", page.gettext(CLOSE_FIELDS["reason"]))
    return await change_case(
        request, page, case_id, "closing", "closure", values, CLOSE_FIELDS, values, form, refused
    )


@router.post("/cases/{case_id}/budget/approvals")
async def approve_extra_hours(request: Request, case_id: uuid.UUID, page: SignedIn) -> Response:
    """A team lead approves going over the case's hours budget, saying why."""
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "extra_hours", "reason")
    body = {"extra_hours": number(values["extra_hours"]), "reason": values["reason"]}
    return await change_case(
        request,
        page,
        case_id,
        "extra-hours",
        "budget/approvals",
        body,
        EXTRA_HOURS_FIELDS,
        values,
        form,
        done="extra-hours",
    )


def number(value: str) -> Any:
    """A form's number as the API takes it (a comma as the decimal mark too); empty: None;
    anything else as typed (the API names it)."""
    if not value:
        return None
    try:
        return float(value.replace(",", "."))
    except ValueError:
        return value


@router.post("/cases/{case_id}/reassignment")
async def reassign_case(request: Request, case_id: uuid.UUID, page: SignedIn) -> Response:
    """A team lead hands the case to another counsellor, saying why."""
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "counsellor", "reason")
    return await change_case(
        request, page, case_id, "handover", "reassignment", values, REASSIGN_FIELDS, values, form
    )
