"""The counsellor's referrals: the partner search (the "social map"), proposing a referral
from a case with, per kind of data, whether the client's referral consent for that
partner covers it, and one referral's page (its status over time, sending, withdrawing,
closing, the resumption of guidance after it, and links to its letter).

Every form posts, then redirects to the page again; a refusal shows the page again with
the API's problem at the form's fields, the input kept."""

from __future__ import annotations

import asyncio
import functools
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.api import PROBLEM_BASE, ApiError, FormErrors, Page, form_errors
from services.console.casework import CATEGORIES, REFERABLE
from services.console.forms import (
    api,
    partner_directory,
    send,
    submit,
    texts,
    token,
)
from services.console.i18n import N_, language_name
from services.console.pages import (
    CLIENT_LANGUAGES,
    PAGE_SIZE,
    REFERRAL_STATUSES,
    STATUS_NAMES,
    page_number,
)
from services.console.web import SignedIn, View

router = APIRouter()

SERVICE_CATEGORIES = {
    "training": N_("training"),
    "psychology": N_("psychological help"),
    "health": N_("health"),
    "union": N_("trade union"),
    "entrepreneurship": N_("entrepreneurship"),
    "debt": N_("debt help"),
    "housing": N_("housing"),
    "language": N_("language courses"),
    "other": N_("other"),
}
# What the history of a referral lists: its status changes, and two marks.
HAPPENINGS = {
    **REFERRAL_STATUSES,
    "overdue": N_("marked overdue: the partner did not answer in time"),
    "resumption": N_("resumption of guidance recorded"),
}
WHO = {
    "counsellor": N_("the counsellor"),
    "partner": N_("the partner"),
    "system": N_("Waypoint"),
}
OUTCOMES = {
    "completed": N_("completed"),
    "partially_completed": N_("partially completed"),
    "not_completed": N_("not completed"),
    "no_show": N_("the client did not show up"),
}
# The statuses in which the API does what the referral page offers (lifecycle.py).
WITHDRAWABLE = ("proposed", "sent", "acknowledged", "accepted")
CLOSABLE = ("declined", "outcome_reported")
LETTER = ("proposed", "sent", "acknowledged", "accepted", "outcome_reported")
LETTER_LANGUAGES = {"nl": N_("Dutch"), "fr": N_("French"), "en": N_("English")}
# Each form's fields, with what a person reads when the API refuses one.
SEARCH_FIELDS = {
    "service": N_("Enter at most 200 characters, on one line."),
    "area": N_("Enter at most 200 characters, on one line."),
    "category": N_("Choose one of the kinds of service listed."),
    "language": N_("Choose one of the languages listed."),
}
PROPOSAL_FIELDS = {
    "partner_id": N_("Choose a partner that takes referrals now (active, with open places)."),
    "data_categories": N_(
        "Choose only data the client's consent for this partner covers and the partner "
        "accepts; at least one."
    ),
    "reason": N_("Write why the client is referred (at most 4000 characters)."),
}
NOT_CONSENTED = N_(
    "The client has not consented to share all of this data with this partner. Choose "
    "only what the consent covers, or record a wider consent on the client's page first."
)
WITHDRAW_FIELDS = {"reason": N_("Give the reason for withdrawing (at most 4000 characters).")}
CLOSE_FIELDS = {"note": N_("Notes are at most 4000 characters.")}
RESUMPTION_FIELDS = {
    "resumes": N_("Say whether guidance resumes."),
    "resume_on": N_(
        "Enter the day guidance resumes, not before the referral was sent; no day when it "
        "does not resume."
    ),
    "note": N_("Notes are at most 4000 characters."),
}
DONE = {
    "proposed": N_("The referral is proposed. Send it when it is ready."),
    "send": N_("The referral is sent to the partner."),
    "withdraw": N_("The referral is withdrawn."),
    "close": N_("The referral is closed."),
    "resumption": N_("The resumption of guidance is recorded."),
}
YES_NO = {"yes": True, "no": False}
_LANGUAGE = re.compile(r"^[a-z]{2}$")


# -- the pure parts: the consent's coverage, the history --------------------------------------
@dataclass(frozen=True)
class Coverage:
    """One kind of data on the proposal form: whether the client's referral consent for
    the partner covers it (and since when), and whether the partner accepts it."""

    category: str
    consented: bool
    accepted: bool
    granted_at: str | None

    @property
    def shareable(self) -> bool:
        return self.consented and self.accepted


def coverage(
    consents: list[dict[str, Any]], partner_id: str, accepted: list[str]
) -> list[Coverage]:
    """Per kind of data, in the consent form's order: covered by the client's granted
    referral consent for exactly this partner, and accepted by the partner."""
    consent = next(
        (
            c
            for c in consents
            if c.get("purpose") == "referral"
            and c.get("granted")
            and str(c.get("partner_id")) == partner_id
        ),
        None,
    )
    covered = set(consent.get("data_categories") or []) if consent else set()
    granted_at = str(consent["granted_at"]) if consent and consent.get("granted_at") else None
    return [
        Coverage(code, code in covered, code in accepted, granted_at if code in covered else None)
        for code in CATEGORIES
    ]


@dataclass(frozen=True)
class Happening:
    """One line of a referral's history: when (a moment, a day, or unknown), what, by whom."""

    at: datetime | date | None
    what: str
    by: str

    @property
    def day_only(self) -> bool:
        return isinstance(self.at, date) and not isinstance(self.at, datetime)


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def history(referral: dict[str, Any]) -> list[Happening]:
    """The referral's status changes over time, oldest first, from the moments the API
    gives: proposed, sent, acknowledged, the answer, the outcome, withdrawn or closed; and
    when it was marked overdue and the resumption recorded. The API names no person, so
    "by" is the party that acts at that step."""
    out: list[Happening] = []
    created = _moment(referral.get("created_at"))
    out.append(Happening(created, "proposed", "counsellor"))
    sent = _moment(referral.get("sent_at"))
    if sent:
        out.append(Happening(sent, "sent", "counsellor"))
    acknowledged = _moment(referral.get("acknowledged_at"))
    answered = _moment(referral.get("answered_at"))
    # An answer without an acknowledgement before it counts as one: not a step of its own.
    if acknowledged and acknowledged != answered:
        out.append(Happening(acknowledged, "acknowledged", "partner"))
    if answered:
        answer = "declined" if referral.get("decline_reason") is not None else "accepted"
        out.append(Happening(answered, answer, "partner"))
    overdue = _day(referral.get("overdue_since"))
    if referral.get("overdue") and overdue:
        out.append(Happening(overdue, "overdue", "system"))
    outcome = referral.get("outcome") or {}
    reported = _moment(outcome.get("reported_at"))
    if reported:
        out.append(Happening(reported, "outcome_reported", "partner"))
    resumption = referral.get("resumption") or {}
    recorded = _moment(resumption.get("recorded_at"))
    if recorded:
        out.append(Happening(recorded, "resumption", "counsellor"))
    status = str(referral.get("status", ""))
    if status in ("withdrawn", "closed"):
        # Its moment is the last change, unless a resumption was recorded after it.
        updated = _moment(referral.get("updated_at"))
        ended = None if recorded and updated and recorded >= updated else updated
        out.append(Happening(ended, status, "counsellor"))

    def order(h: Happening) -> datetime:
        if h.at is None:
            # Unknown: just before the resumption that followed it.
            return (recorded or datetime.max.replace(tzinfo=UTC)) - timedelta(microseconds=1)
        if isinstance(h.at, datetime):
            return h.at
        return datetime(h.at.year, h.at.month, h.at.day, 23, 59, tzinfo=UTC)

    return sorted(out, key=order)


def search_query(filters: dict[str, str], case_id: str | None) -> str:
    """The pager's continuation of a partner search: its filters and case."""
    given = {k: v for k, v in filters.items() if v}
    if case_id:
        given["case_id"] = case_id
    return ("&" + urlencode(given)) if given else ""


def as_uuid(value: str | None) -> str | None:
    try:
        return str(uuid.UUID(value or ""))
    except ValueError:
        return None


# -- the partner search ------------------------------------------------------------------------
@router.get("/partners", response_class=HTMLResponse)
async def partners(
    request: Request,
    page: SignedIn,
    category: str | None = None,
    language: str | None = None,
    service: str | None = None,
    area: str | None = None,
    partners_page: str | None = None,
    case_id: str | None = None,
) -> HTMLResponse:
    """The directory's active partners, filtered by a service's kind, language, area and
    name; each with its services and open places, linked to proposing a referral when
    the search started from a case."""
    filters = {
        "category": category if category in SERVICE_CATEGORIES else "",
        "language": language if language and _LANGUAGE.match(language) else "",
        "service": (service or "").strip()[:200],
        "area": (area or "").strip()[:200],
    }
    case = as_uuid(case_id)
    errors = FormErrors()
    found = Page(items=[], total=0, number=1, size=PAGE_SIZE)
    status = 200
    try:
        found = await api(request).page(
            token(page), "/referral/v1/partners", page_number(partners_page), PAGE_SIZE, **filters
        )
    except ApiError as e:
        if e.status in (401, 503) or e.status >= 500:
            raise
        errors = form_errors(e, page.local, SEARCH_FIELDS, prefix="search-")
        status = e.status
    return page.render(
        "partners.html",
        status=status,
        found=found,
        values=filters,
        errors=errors,
        case_id=case,
        more=search_query(filters, case),
        category_options=[(k, page.gettext(n)) for k, n in SERVICE_CATEGORIES.items()],
        language_options=[(code, language_name(code, page.language)) for code in CLIENT_LANGUAGES],
        service_categories=SERVICE_CATEGORIES,
    )


# -- proposing a referral ----------------------------------------------------------------------
async def show_proposal(
    request: Request,
    page: View,
    case_id: uuid.UUID,
    partner_id: str | None,
    *,
    form: str | None = None,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    call = api(request)
    case = await call.get(token(page), f"/intake/v1/cases/{case_id}")
    client_id = case["client_id"]
    client, consents, directory = await asyncio.gather(
        call.get(token(page), f"/intake/v1/clients/{client_id}"),
        call.get(token(page), f"/intake/v1/clients/{client_id}/consents"),
        partner_directory(request, page),
    )
    partner = None
    if partner_id:
        try:
            partner = await call.get(token(page), f"/referral/v1/partners/{partner_id}")
        except ApiError as e:
            if e.status != 404:
                raise
    rows = (
        coverage(consents, str(partner["partner_id"]), list(partner["accepted_categories"]))
        if partner
        else []
    )
    return page.render(
        "referral_new.html",
        status=status,
        case=case,
        client=client,
        client_name=f"{client['given_name']} {client['family_name']}",
        partner=partner,
        partner_missing=bool(partner_id) and partner is None,
        partner_options=list(directory.items()),
        rows=rows,
        category_options=[(row.category, coverage_label(page, row)) for row in rows]
        or [(code, page.gettext(name)) for code, name in CATEGORIES.items()],
        categories=CATEGORIES,
        service_categories=SERVICE_CATEGORIES,
        case_statuses=STATUS_NAMES,
        referable=case["status"] in REFERABLE,
        form=form,
        errors=errors or FormErrors(),
        values=values or {},
    )


def coverage_label(page: View, row: Coverage) -> str:
    """A kind of data on the proposal form, marked when it cannot be shared."""
    name = page.gettext(CATEGORIES[row.category])
    if not row.consented:
        return page.gettext(N_("%(data)s: not covered by the client's consent"), data=name)
    if not row.accepted:
        return page.gettext(N_("%(data)s: the partner does not accept it"), data=name)
    return page.gettext(N_("%(data)s: covered by the client's consent"), data=name)


@router.get("/cases/{case_id}/referrals/new", response_class=HTMLResponse)
async def new_referral(
    request: Request, case_id: uuid.UUID, page: SignedIn, partner_id: str | None = None
) -> HTMLResponse:
    """The proposal: a partner chosen, what of the client's data the consent for that
    partner covers, the data to share and why."""
    return await show_proposal(request, page, case_id, as_uuid(partner_id))


@router.post("/cases/{case_id}/referrals")
async def propose(request: Request, case_id: uuid.UUID, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values: dict[str, Any] = texts(form, "partner_id", "reason")
    values["data_categories"] = [c for c in form.getlist("data_categories") if isinstance(c, str)]
    partner_id = as_uuid(values["partner_id"])
    body = {
        "case_id": str(case_id),
        "partner_id": partner_id or values["partner_id"],
        "reason": values["reason"],
        "data_categories": values["data_categories"],
    }
    answer, error = await send(request, page, "POST", "/referral/v1/referrals", form, body, False)
    if error is not None or answer is None:
        assert error is not None
        errors = form_errors(error, page.local, PROPOSAL_FIELDS, prefix="proposal-")
        # The API's refusals that name no field, put at the field they are about.
        if error.code == "consent-required":
            errors.add("proposal-data_categories", page.gettext(NOT_CONSENTED))
        elif error.code in ("partner-unavailable", "not-found") and not errors.fields:
            errors.add("proposal-partner_id", page.gettext(PROPOSAL_FIELDS["partner_id"]))
        return await show_proposal(
            request,
            page,
            case_id,
            partner_id,
            form="proposal",
            errors=errors,
            values=values,
            status=error.status,
        )
    return RedirectResponse(f"/referrals/{answer['referral_id']}?done=proposed", status_code=303)


# -- one referral ------------------------------------------------------------------------------
async def show_referral(
    request: Request,
    page: View,
    referral_id: uuid.UUID,
    *,
    done: str | None = None,
    form: str | None = None,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    call = api(request)
    referral = await call.get(token(page), f"/referral/v1/referrals/{referral_id}")
    if "client_id" not in referral:
        # A partner's view of it (no case, no client): the partner's pages are elsewhere.
        raise ApiError(403, {"type": PROBLEM_BASE + "forbidden"})
    client, partner = await asyncio.gather(
        call.get(token(page), f"/intake/v1/clients/{referral['client_id']}"),
        partner_or_none(request, page, str(referral["partner_id"])),
    )
    state = referral["status"]
    # Only a counsellor changes a referral (the API's rule); a team lead reads it.
    assert page.session is not None
    acts = "counsellor" in page.session.roles
    message = DONE.get(done or "")
    return page.render(
        "referral.html",
        status=status,
        referral=referral,
        client_name=f"{client['given_name']} {client['family_name']}",
        partner=partner,
        partner_name=partner["name"]
        if partner
        else page.gettext(N_("a partner no longer in the directory")),
        history=history(referral),
        happenings=HAPPENINGS,
        who=WHO,
        statuses=REFERRAL_STATUSES,
        categories=CATEGORIES,
        outcomes=OUTCOMES,
        can_send=acts and state == "proposed" and not referral["consent_revoked"],
        can_withdraw=acts and state in WITHDRAWABLE,
        can_close=acts and state in CLOSABLE,
        can_resume=acts and referral["sent_at"] is not None,
        letters=LETTER_LANGUAGES
        if acts and state in LETTER and not referral["consent_revoked"]
        else {},
        yes_no=[("yes", page.gettext(N_("Yes"))), ("no", page.gettext(N_("No")))],
        done=page.gettext(message) if message else None,
        form=form,
        errors=errors or FormErrors(),
        values=values or {},
    )


async def partner_or_none(request: Request, page: View, partner_id: str) -> dict[str, Any] | None:
    """The partner, or None once it left the directory (counsellors see active ones only)."""
    try:
        found: dict[str, Any] = await api(request).get(
            token(page), f"/referral/v1/partners/{partner_id}"
        )
    except ApiError as e:
        if e.status != 404:
            raise
        return None
    return found


@router.get("/referrals/{referral_id}", response_class=HTMLResponse)
async def referral_page(
    request: Request, referral_id: uuid.UUID, page: SignedIn, done: str | None = None
) -> HTMLResponse:
    """One referral: partner, data shared, status and its history, what can be done now."""
    return await show_referral(request, page, referral_id, done=done)


def body_of(name: str, values: dict[str, str]) -> dict[str, Any] | None:
    """A referral form's values as the API's body."""
    if name == "withdraw":
        return {"reason": values["reason"]}
    if name == "close":
        return {"note": values["note"] or None}
    if name == "resumption":
        return {
            "resumes": YES_NO.get(values["resumes"], values["resumes"]),
            "resume_on": values["resume_on"] or None,
            "note": values["note"] or None,
        }
    return None


FORMS: dict[str, dict[str, str]] = {
    "send": {},
    "withdraw": WITHDRAW_FIELDS,
    "close": CLOSE_FIELDS,
    "resumption": RESUMPTION_FIELDS,
}


@router.post("/referrals/{referral_id}/{name}")
async def change_referral(
    request: Request, referral_id: uuid.UUID, name: str, page: SignedIn
) -> Response:
    """One of the referral page's forms: send, withdraw, close or the resumption."""
    form = await request.form()
    page.check_csrf(form)
    if name not in FORMS:
        return RedirectResponse(f"/referrals/{referral_id}", status_code=303)
    fields = FORMS[name]
    values = texts(form, *fields)
    refused = None
    if name == "withdraw" and not values["reason"]:
        refused = FormErrors()
        refused.add("withdraw-reason", page.gettext(WITHDRAW_FIELDS["reason"]))
    elif name == "resumption" and values["resumes"] not in YES_NO:
        refused = FormErrors()
        refused.add("resumption-resumes", page.gettext(RESUMPTION_FIELDS["resumes"]))
    return await submit(
        request,
        page,
        "POST",
        f"/referral/v1/referrals/{referral_id}/{name}",
        form,
        body_of(name, values),
        name=name,
        fields=fields,
        values=values,
        show=functools.partial(show_referral, request, page, referral_id),
        redirect=f"/referrals/{referral_id}?done={name}#status",
        refused=refused,
    )
