"""The admin's pages: the partner directory (every partner, inactive ones too; registering
one with its services, accepted data and open places; changing it with the version the
page showed; deactivating and reactivating it) and the dead letters each service set
aside, with a button that re-drives one.

Every form posts, then redirects to the page again; a refusal shows the page again with
the API's problem at the form's fields, the input kept; a version conflict (someone else
changed the partner meanwhile) shows the partner as it is now, the input still kept."""

from __future__ import annotations

import asyncio
import functools
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from services.console.api import ApiError, FormErrors, Page, form_errors
from services.console.casework import CATEGORIES
from services.console.forms import api, many, send, submit, text, token
from services.console.i18n import N_, language_name
from services.console.pages import CLIENT_LANGUAGES, PAGE_SIZE, page_number
from services.console.referrals import SERVICE_CATEGORIES, as_uuid
from services.console.web import SignedIn, View

router = APIRouter()

# The most services one form lists (the API takes at most 50).
MAX_SERVICES = 50
PARTNER_FIELDS = {
    "name": N_("Enter the partner's name (at most 200 characters, on one line)."),
    "description": N_("Enter at most 4000 characters."),
    "contact_email": N_("Enter an e-mail address in the form name@example.org."),
    "accepted_categories": N_("Choose only the kinds of client data listed."),
    "capacity": N_(
        "Enter the open places as a whole number from 0 to 100000, or nothing for no limit."
    ),
    "services": N_("List at least one service and at most 50, each with a name of its own."),
}
SERVICE_FIELDS = {
    "name": N_(
        "Give the service a name (at most 200 characters, on one line), not one of the "
        "partner's other services' names."
    ),
    "category": N_("Choose one of the kinds of service listed."),
    "languages": N_("Choose only the languages listed."),
    "area": N_("Enter at most 200 characters, on one line."),
    "eligibility": N_("Enter at most 2000 characters."),
}
CAPACITY_FIELDS = {"open_places": PARTNER_FIELDS["capacity"]}
DONE = {
    "registered": N_("The partner is registered."),
    "edit": N_("The partner's details are saved."),
    "capacity": N_("The open places are saved."),
    "deactivate": N_("The partner is deactivated: counsellors no longer find it."),
    "reactivate": N_("The partner is active again: counsellors find it."),
}
# The services whose dead letters the admin sees, in the order of the journey.
LETTER_SERVICES = {
    "intake": N_("Intake"),
    "planning": N_("Planning"),
    "followup": N_("Follow-up"),
    "referral": N_("Referral"),
}
LETTER_KINDS = {
    "follower": N_("an event of the service's own log"),
    "consumer": N_("a message from another service"),
}
REDRIVE_REFUSED = {
    "not-found": N_("There is no such dead letter (any more)."),
    "forbidden": N_("You are not allowed to do this."),
}
REDRIVE_FAILED = N_("The dead letter was re-driven, but it failed again: %(detail)s")


# -- the pure parts: a partner as the form's values, the form's values as the API's body -----
def partner_values(partner: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The edit form's values of a partner as the API gives it, and its number of
    service rows."""
    values: dict[str, Any] = {
        "name": partner.get("name") or "",
        "description": partner.get("description") or "",
        "contact_email": partner.get("contact_email") or "",
        "accepted_categories": list(partner.get("accepted_categories") or []),
    }
    services = list(partner.get("services") or [])
    for i, service in enumerate(services):
        at = f"services-{i}-"
        values[at + "service_id"] = str(service.get("service_id") or "")
        values[at + "name"] = service.get("name") or ""
        values[at + "category"] = service.get("category") or ""
        values[at + "languages"] = list(service.get("languages") or [])
        values[at + "area"] = service.get("area") or ""
        values[at + "eligibility"] = service.get("eligibility") or ""
    return values, len(services)


def rows_of(form: FormData) -> int:
    """How many service rows the posted form had (1 to 50)."""
    try:
        return max(1, min(int(text(form, "rows")), MAX_SERVICES))
    except ValueError:
        return 1


def posted_values(form: FormData) -> tuple[dict[str, Any], int]:
    """A partner form's values as posted, and its number of service rows."""
    rows = rows_of(form)
    values: dict[str, Any] = {
        name: text(form, name) for name in ("name", "description", "contact_email", "capacity")
    }
    values["accepted_categories"] = many(form, "accepted_categories")
    for i in range(rows):
        at = f"services-{i}-"
        for name in ("service_id", "name", "category", "area", "eligibility", "remove"):
            values[at + name] = text(form, at + name)
        values[at + "languages"] = many(form, at + "languages")
    return values, rows


@dataclass
class Body:
    """A partner form as the API's body, and which form row each service sent came from
    (the API names a service by its place in the list sent)."""

    body: dict[str, Any]
    rows: list[int] = field(default_factory=list)

    def where(self) -> dict[str, str]:
        """The API's names of the services' fields, each at its row's control."""
        return {
            f"services.{sent}.{name}": f"services-{row}-{name}"
            for sent, row in enumerate(self.rows)
            for name in SERVICE_FIELDS
        }

    def fields(self) -> dict[str, str]:
        """The fields of the form the API may name, with their messages."""
        named = dict(PARTNER_FIELDS)
        for sent in range(len(self.rows)):
            for name, message in SERVICE_FIELDS.items():
                named[f"services.{sent}.{name}"] = message
        return named


def partner_body(values: dict[str, Any], rows: int, *, register: bool) -> Body:
    """The API's body of a partner form: the services of its rows that are filled in and
    not marked for removal (a row left empty adds nothing); on registration the open
    places too (nothing: no limit; what is no whole number goes as given, for the API
    to refuse at its field)."""
    services: list[dict[str, Any]] = []
    sent_rows: list[int] = []
    for i in range(rows):
        at = f"services-{i}-"
        service_id = as_uuid(values.get(at + "service_id"))
        if values.get(at + "remove"):
            continue
        filled = any(
            values.get(at + name) for name in ("name", "category", "area", "eligibility")
        ) or bool(values.get(at + "languages"))
        if not filled and service_id is None:
            continue
        service: dict[str, Any] = {
            "name": values.get(at + "name", ""),
            "category": values.get(at + "category", ""),
            "languages": list(values.get(at + "languages") or []),
            "area": values.get(at + "area") or None,
            "eligibility": values.get(at + "eligibility") or None,
        }
        if service_id is not None:
            service["service_id"] = service_id
        services.append(service)
        sent_rows.append(i)
    body: dict[str, Any] = {
        "name": values.get("name", ""),
        "description": values.get("description") or None,
        "contact_email": values.get("contact_email") or None,
        "accepted_categories": list(values.get("accepted_categories") or []),
        "services": services,
    }
    if register:
        body["capacity"] = places(str(values.get("capacity") or ""))
    return Body(body, sent_rows)


def places(value: str) -> int | str | None:
    """Open places as typed: nothing is no limit; a whole number is sent as one."""
    value = value.strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return value


def language_options(page: View, values: dict[str, Any], rows: int) -> list[tuple[str, str]]:
    """The languages a service's checkboxes offer: the clients' languages, and any other
    a service of this partner is given in already."""
    given = [
        code
        for i in range(rows)
        for code in values.get(f"services-{i}-languages") or []
        if code not in CLIENT_LANGUAGES
    ]
    codes = dict.fromkeys([*CLIENT_LANGUAGES, *given])
    return [(code, language_name(code, page.language)) for code in codes]


# -- the list ----------------------------------------------------------------------------------
@router.get("/directory", response_class=HTMLResponse)
async def directory(
    request: Request,
    page: SignedIn,
    service: str | None = None,
    directory_page: str | None = None,
) -> HTMLResponse:
    """Every partner in the directory, inactive ones too, found by (part of) a service's
    name or its kind."""
    search = (service or "").strip()[:200]
    found = await api(request).page(
        token(page),
        "/referral/v1/partners",
        page_number(directory_page),
        PAGE_SIZE,
        include_inactive="true",
        service=search,
    )
    return page.render(
        "directory.html",
        found=found,
        values={"service": search},
        errors=FormErrors(),
        more=("&" + urlencode({"service": search})) if search else "",
        service_categories=SERVICE_CATEGORIES,
    )


# -- registering a partner ---------------------------------------------------------------------
def show_registration(
    page: View,
    *,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
    rows: int = 2,
    status: int = 200,
) -> HTMLResponse:
    given = values or {}
    return page.render(
        "directory_new.html",
        status=status,
        errors=errors or FormErrors(),
        values=given,
        rows=rows,
        **form_options(page, given, rows),
    )


def form_options(page: View, values: dict[str, Any], rows: int) -> dict[str, Any]:
    return {
        "category_options": [(k, page.gettext(n)) for k, n in SERVICE_CATEGORIES.items()],
        "data_options": [(k, page.gettext(n)) for k, n in CATEGORIES.items()],
        "language_options": language_options(page, values, rows),
    }


@router.get("/directory/new", response_class=HTMLResponse)
async def new_partner(page: SignedIn) -> HTMLResponse:
    """The registration form: the partner, its services, the data it takes, its places."""
    return show_registration(page)


@router.post("/directory")
async def register(request: Request, page: SignedIn) -> Response:
    form = await request.form()
    page.check_csrf(form)
    values, rows = posted_values(form)
    sent = partner_body(values, rows, register=True)
    answer, error = await send(
        request, page, "POST", "/referral/v1/partners", form, sent.body, False
    )
    if error is not None or answer is None:
        assert error is not None
        errors = form_errors(error, page.local, sent.fields(), sent.where(), prefix="register-")
        return show_registration(page, errors=errors, values=values, rows=rows, status=error.status)
    return RedirectResponse(f"/directory/{answer['partner_id']}?done=registered", status_code=303)


# -- one partner -------------------------------------------------------------------------------
async def show_partner(
    request: Request,
    page: View,
    partner_id: uuid.UUID,
    *,
    done: str | None = None,
    form: str | None = None,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    partner = await api(request).get(token(page), f"/referral/v1/partners/{partner_id}")
    current, count = partner_values(partner)
    if form == "edit" and values is not None:
        edit_values, rows = values, int(values.get("rows", count + 1))
    else:
        # The partner's services, and an empty row to add one.
        edit_values, rows = current, min(count + 1, MAX_SERVICES)
    capacity_values = (
        values
        if form == "capacity" and values is not None
        else {"open_places": "" if partner["open_places"] is None else str(partner["open_places"])}
    )
    message = DONE.get(done or "")
    return page.render(
        "directory_partner.html",
        status=status,
        partner=partner,
        categories=CATEGORIES,
        service_categories=SERVICE_CATEGORIES,
        done=page.gettext(message) if message else None,
        form=form,
        errors=errors or FormErrors(),
        values=edit_values,
        rows=rows,
        existing=count,
        capacity_values=capacity_values,
        **form_options(page, edit_values, rows),
    )


@router.get("/directory/{partner_id}", response_class=HTMLResponse)
async def partner_page(
    request: Request, partner_id: uuid.UUID, page: SignedIn, done: str | None = None
) -> HTMLResponse:
    """One partner: what the directory says of it, and the forms that change it."""
    return await show_partner(request, page, partner_id, done=done)


@router.post("/directory/{partner_id}/edit")
async def edit_partner(request: Request, partner_id: uuid.UUID, page: SignedIn) -> Response:
    """The partner's details and services, changed on the version the page showed."""
    form = await request.form()
    page.check_csrf(form)
    values, rows = posted_values(form)
    values["rows"] = rows
    sent = partner_body(values, rows, register=False)
    return await submit(
        request,
        page,
        "PATCH",
        f"/referral/v1/partners/{partner_id}",
        form,
        sent.body,
        name="edit",
        fields=sent.fields(),
        where=sent.where(),
        values=values,
        show=functools.partial(show_partner, request, page, partner_id),
        redirect=f"/directory/{partner_id}?done=edit",
    )


@router.post("/directory/{partner_id}/capacity")
async def set_capacity(request: Request, partner_id: uuid.UUID, page: SignedIn) -> Response:
    """The partner's open places (nothing: no limit), on the version the page showed."""
    form = await request.form()
    page.check_csrf(form)
    values = {"open_places": text(form, "open_places")}
    return await submit(
        request,
        page,
        "PUT",
        f"/referral/v1/partners/{partner_id}/capacity",
        form,
        {"open_places": places(values["open_places"])},
        name="capacity",
        fields=CAPACITY_FIELDS,
        values=values,
        show=functools.partial(show_partner, request, page, partner_id),
        redirect=f"/directory/{partner_id}?done=capacity#capacity",
    )


@router.post("/directory/{partner_id}/{change}")
async def activation(
    request: Request, partner_id: uuid.UUID, change: str, page: SignedIn
) -> Response:
    """Deactivate the partner (off the map for counsellors) or reactivate it."""
    form = await request.form()
    page.check_csrf(form)
    if change not in ("deactivate", "reactivate"):
        return RedirectResponse(f"/directory/{partner_id}", status_code=303)
    return await submit(
        request,
        page,
        "POST",
        f"/referral/v1/partners/{partner_id}/{change}",
        form,
        None,
        name="activation",
        fields={},
        values={},
        show=functools.partial(show_partner, request, page, partner_id),
        redirect=f"/directory/{partner_id}?done={change}",
    )


# -- dead letters ------------------------------------------------------------------------------
@dataclass
class Letters:
    """One service's dead letters, or why they could not be read."""

    service: str
    found: Page | None
    unavailable: bool = False


async def letters_of(
    request: Request, page: View, service: str, number: int, resolved: bool
) -> Letters:
    try:
        found = await api(request).page(
            token(page),
            f"/{service}/v1/admin/dead-letters",
            number,
            PAGE_SIZE,
            resolved="true" if resolved else None,
        )
    except ApiError as e:
        if e.status == 401 or e.status == 403:
            raise
        # One service away: the others' letters are still shown.
        return Letters(service, None, unavailable=True)
    return Letters(service, found)


async def show_letters(
    request: Request,
    page: View,
    *,
    pages: dict[str, int] | None = None,
    resolved: bool = False,
    done: str | None = None,
    refused: tuple[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    numbers = pages or {}
    found = await asyncio.gather(
        *(
            letters_of(request, page, service, numbers.get(service, 1), resolved)
            for service in LETTER_SERVICES
        )
    )
    return page.render(
        "dead_letters.html",
        status=status,
        letters=found,
        services=LETTER_SERVICES,
        kinds=LETTER_KINDS,
        resolved=resolved,
        more="&resolved=true" if resolved else "",
        done=done,
        refused=refused,
    )


@router.get("/dead-letters", response_class=HTMLResponse)
async def dead_letters(
    request: Request,
    page: SignedIn,
    resolved: str | None = None,
    intake_page: str | None = None,
    planning_page: str | None = None,
    followup_page: str | None = None,
    referral_page: str | None = None,
    redriven: str | None = None,
    service: str | None = None,
) -> HTMLResponse:
    """What each service set aside after repeated failures (unresolved ones; resolved ones
    too when asked), each with a button that applies it again."""
    pages = {
        "intake": page_number(intake_page),
        "planning": page_number(planning_page),
        "followup": page_number(followup_page),
        "referral": page_number(referral_page),
    }
    done = None
    if service in LETTER_SERVICES and redriven and redriven.isdigit():
        done = page.gettext(
            N_("Dead letter %(id)s of %(service)s is re-driven and resolved."),
            id=redriven,
            service=page.gettext(LETTER_SERVICES[service]),
        )
    return await show_letters(request, page, pages=pages, resolved=resolved == "true", done=done)


@router.post("/dead-letters/{service}/{letter_id}/redrive")
async def redrive(request: Request, service: str, letter_id: int, page: SignedIn) -> Response:
    """Apply a dead letter (and those held behind it) again."""
    form = await request.form()
    page.check_csrf(form)
    if service not in LETTER_SERVICES or not 1 <= letter_id <= 2**62:
        return RedirectResponse("/dead-letters", status_code=303)
    _, error = await send(
        request,
        page,
        "POST",
        f"/{service}/v1/admin/dead-letters/{letter_id}/redrive",
        form,
        None,
        False,
    )
    if error is not None:
        known = REDRIVE_REFUSED.get(error.code)
        message = (
            page.gettext(known)
            if known
            else page.gettext(
                REDRIVE_FAILED, detail=str(error.problem.get("detail") or error.status)
            )
        )
        return await show_letters(request, page, refused=(service, message), status=error.status)
    return RedirectResponse(
        f"/dead-letters?service={service}&redriven={letter_id}", status_code=303
    )
