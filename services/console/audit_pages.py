"""The auditor's pages, all read-only: finding a case or a client by its id, a case's
timeline across the four services (each event with its link in the service's hash
chain, filtered by service and type), the case's state as of a chosen moment, the
verification of each service's chain with its last signed checkpoint, the access log of
a client's personal data, and the case's offline audit bundle (the file
`waypoint audit check` verifies) as a download.

Every page reads the services' audit APIs with the auditor's own token; each API records
the read itself, as it does for any caller. No page here has a form that changes
anything: the forms are searches and filters (GET)."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.api import PROBLEM_BASE, ApiError, FormErrors, Page, merged_page
from services.console.casework import CATEGORIES
from services.console.forms import api, token
from services.console.i18n import N_
from services.console.pages import PURPOSE_NAMES, page_number
from services.console.signin import ROLE_NAMES
from services.console.web import SignedIn, View
from shared.audit import bundle
from shared.schemas import MAX_YEAR, MIN_YEAR

router = APIRouter()

HOME = "/audit"
SERVICES = bundle.SERVICES
SERVICE_NAMES = {
    "intake": N_("intake"),
    "planning": N_("planning"),
    "followup": N_("follow-up"),
    "referral": N_("referral"),
}
# What was read, as the access log names it.
RESOURCES = {
    "client": N_("the client's record"),
    "client-search": N_("a search of clients"),
    "case": N_("the case"),
    "case-list": N_("a list of cases"),
    "plan": N_("the plan"),
    "plan-versions": N_("the plan's agreed versions"),
    "plan-version": N_("an agreed version of the plan"),
    "plan-document": N_("the printable plan"),
    "plan-list": N_("a list of plans"),
    "followup": N_("the follow-up"),
    "followup-list": N_("a list of follow-ups"),
    "referral": N_("the referral"),
    "packet": N_("the referral's packet"),
    "letter": N_("the referral letter"),
    "export": N_("the client's data export"),
    "complaint": N_("a complaint"),
    "complaint-list": N_("the client's complaints"),
    "session-notes": N_("the case's session notes"),
    "report": N_("the reflection-and-action report"),
    "report-document": N_("the printable reflection-and-action report"),
    "appointments": N_("the case's appointments"),
    "calendar": N_("a counsellor's calendar"),
    "audit-events": N_("the case's audit events"),
    "audit-state": N_("the case's state in the audit"),
}
ACCESS_CATEGORIES = {
    **CATEGORIES,
    "followup": N_("follow-up"),
    "referrals": N_("referrals"),
    "case-history": N_("case history"),
    "case-state": N_("case state"),
    "complaints": N_("complaints"),
    "session_notes": N_("session notes"),
    "case_file": N_("the case's file (closing summary, handovers)"),
    "appointments": N_("appointments"),
}
PURPOSES = {**PURPOSE_NAMES, "audit": N_("audit")}
ACCESS_PAGE_SIZE = 50
# The most entries of one service's access log a page is merged from (the API's limit).
MOST_ACCESSES = 500
NOT_AN_ID = N_("Enter an id such as 5c2e1a7b-8d4f-4b6a-9e3c-1f2a3b4c5d6e.")
NOT_A_MOMENT = N_("Enter a date and a time, such as 2026-03-02 10:15.")
FIND_ONE = N_("Enter a case id or a client id.")


def _id(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID((value or "").strip())
    except ValueError:
        return None


def agency_zone(page: View) -> ZoneInfo:
    try:
        return ZoneInfo(page.settings.console_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_moment(value: str | None, zone: ZoneInfo) -> datetime | None:
    """A moment from the as-of field (a date and a time of the agency's day, as the
    browser's date-time field sends it) or from a link (RFC 3339, with its offset)."""
    text = (value or "").strip().replace(" ", "T", 1)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if not MIN_YEAR < moment.year < MAX_YEAR:
        return None  # (the API's range of years, a day's offset within it)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _moment(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def shown(value: Any) -> str:
    """A value of an event's data or an aggregate's state, as text."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Event:
    """One line of a case's timeline."""

    service: str
    position: int
    type: str
    occurred_at: datetime
    actor: str | None
    data: dict[str, Any] | str | None
    hash: str
    prev_hash: str

    @property
    def anchor(self) -> str:
        return f"{self.service}-{self.position}"


def merged_timeline(found: dict[str, list[dict[str, Any]]]) -> list[Event]:
    """Every service's events of the case as one list ordered by time (then by service,
    then by position in the service's chain), as `waypoint audit timeline` orders them."""
    order = {s: i for i, s in enumerate(SERVICES)}
    events = [
        Event(
            service=service,
            position=int(e["position"]),
            type=str(e.get("type") or ""),
            occurred_at=_moment(e.get("occurred_at")),
            actor=e.get("actor"),
            data=e.get("data"),
            hash=str(e.get("hash") or ""),
            prev_hash=str(e.get("prev_hash") or ""),
        )
        for service, items in found.items()
        for e in items
    ]
    events.sort(key=lambda e: (e.occurred_at, order.get(e.service, 99), e.position))
    return events


async def _each_service(
    request: Request, page: View, path: str, **params: Any
) -> dict[str, Any | None]:
    """One audit API's answer from every service (None where it knows nothing: 404)."""

    async def one(service: str) -> Any | None:
        try:
            return await api(request).get(token(page), f"/{service}/v1/audit{path}", **params)
        except ApiError as e:
            if e.status == 404:
                return None
            raise

    answers = await asyncio.gather(*(one(s) for s in SERVICES))
    return dict(zip(SERVICES, answers, strict=True))


# -- finding a case or a client ----------------------------------------------------------------
@router.get(HOME, response_class=HTMLResponse)
async def find(
    page: SignedIn, case_id: str | None = None, client_id: str | None = None
) -> Response:
    """The auditor's start: a case's timeline by its id, a client's access log by theirs."""
    errors = FormErrors()
    values = {"case_id": (case_id or "").strip(), "client_id": (client_id or "").strip()}
    if case_id is not None or client_id is not None:
        case, client = _id(case_id), _id(client_id)
        if values["case_id"] and case is None:
            errors.add("case_id", page.gettext(NOT_AN_ID))
        if values["client_id"] and client is None:
            errors.add("client_id", page.gettext(NOT_AN_ID))
        if not values["case_id"] and not values["client_id"]:
            errors.add("case_id", page.gettext(FIND_ONE))
        if not errors:
            if case is not None:
                return RedirectResponse(f"{HOME}/cases/{case}", status_code=303)
            return RedirectResponse(
                f"{HOME}/access-log?{urlencode({'client_id': str(client)})}", status_code=303
            )
    return page.render(
        "audit_find.html", status=400 if errors else 200, values=values, errors=errors
    )


# -- a case's timeline -------------------------------------------------------------------------
@router.get(HOME + "/cases/{case_id}", response_class=HTMLResponse)
async def timeline(
    request: Request,
    page: SignedIn,
    case_id: uuid.UUID,
    service: str | None = None,
    type: str | None = None,
) -> HTMLResponse:
    """The case's events of every service in one ordered list, filtered by service and
    type; each with its link, and a way to the case's state just after it."""
    found = await _each_service(request, page, f"/cases/{case_id}/events")
    events = merged_timeline({s: items for s, items in found.items() if items})
    if not events:
        raise ApiError(404, {"type": PROBLEM_BASE + "not-found"})
    whose = [str(e.get("client_id")) for items in found.values() for e in items or []]
    client_id = next((c for c in whose if c != "None"), None)
    types = sorted({e.type for e in events})
    service = service if service in SERVICES else None
    type = type if type in types else None
    shown_events = [
        e
        for e in events
        if (service is None or e.service == service) and (type is None or e.type == type)
    ]
    return page.render(
        "audit_timeline.html",
        case_id=str(case_id),
        client_id=client_id,
        events=shown_events,
        total=len(events),
        services=SERVICE_NAMES,
        service_options=[(s, page.gettext(SERVICE_NAMES[s])) for s in SERVICES if found.get(s)],
        type_options=[(t, t) for t in types],
        values={"service": service or "", "type": type or ""},
        errors=FormErrors(),
        after=lambda e: state_link(str(case_id), e.occurred_at),
        shown=shown,
    )


def state_link(case_id: str, moment: datetime) -> str:
    return f"{HOME}/cases/{case_id}/state?{urlencode({'as_of': moment.isoformat()})}"


# -- a case's state as of a moment -------------------------------------------------------------
@router.get(HOME + "/cases/{case_id}/state", response_class=HTMLResponse)
async def state(
    request: Request, page: SignedIn, case_id: uuid.UUID, as_of: str | None = None
) -> HTMLResponse:
    """Each service's aggregates of the case as they stood at the chosen moment (now
    when none is chosen)."""
    zone = agency_zone(page)
    errors = FormErrors()
    moment = parse_moment(as_of, zone)
    if as_of and moment is None:
        errors.add("as_of", page.gettext(NOT_A_MOMENT))
    moment = moment or datetime.now(UTC)
    found = await _each_service(
        request, page, f"/cases/{case_id}/state", as_of=moment.astimezone(UTC).isoformat()
    )
    if not any(found.values()):
        # No service had events of the case by then: does it exist at all?
        known = await _each_service(request, page, f"/cases/{case_id}/events")
        if not any(known.values()):
            raise ApiError(404, {"type": PROBLEM_BASE + "not-found"})
    local = moment.astimezone(zone)
    return page.render(
        "audit_state.html",
        status=400 if errors else 200,
        case_id=str(case_id),
        moment=moment,
        values={"as_of": as_of or ""} if errors else {"as_of": local.strftime("%Y-%m-%dT%H:%M:%S")},
        errors=errors,
        found=found,
        services=SERVICE_NAMES,
        shown=shown,
    )


# -- the offline bundle ------------------------------------------------------------------------
@router.get(HOME + "/cases/{case_id}/bundle")
async def download_bundle(request: Request, page: SignedIn, case_id: uuid.UUID) -> Response:
    """The case's self-contained audit bundle, as `waypoint audit export` writes it: the
    file `waypoint audit check` verifies offline."""
    base = api(request).base_url
    async with httpx.AsyncClient(
        base_url=base,
        headers={"Authorization": f"Bearer {token(page)}", "Accept": "application/json"},
        timeout=api(request).http.timeout,
    ) as client:
        try:
            data = await bundle.export(client, case_id)
        except (httpx.HTTPError, bundle.AuditHttpError) as e:
            raise ApiError(
                503, {"type": PROBLEM_BASE + "service-unavailable", "detail": str(e)}
            ) from None
    if not data["services"]:
        raise ApiError(404, {"type": PROBLEM_BASE + "not-found"})
    body = json.dumps(data, indent=2, ensure_ascii=False).encode()
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="audit-bundle-{case_id}.json"'},
    )


# -- each chain's verification -----------------------------------------------------------------
@dataclass(frozen=True)
class ChainCheck:
    service: str
    result: dict[str, Any] | None
    last_checkpoint: dict[str, Any] | None
    checkpoint_count: int
    problem: str | None = None


@router.get(HOME + "/verify", response_class=HTMLResponse)
async def verify(request: Request, page: SignedIn) -> HTMLResponse:
    """Each service's hash chain recomputed from its start and checked against its signed
    checkpoints, with the last of them."""

    async def one(service: str) -> ChainCheck:
        try:
            result, checkpoints = await asyncio.gather(
                api(request).get(token(page), f"/{service}/v1/audit/verify"),
                api(request).get(token(page), f"/{service}/v1/audit/checkpoints"),
            )
        except ApiError as e:
            if e.status in (401, 403):
                raise
            return ChainCheck(service, None, None, 0, problem=e.code or str(e.status))
        last = max(checkpoints, key=lambda c: int(c.get("position", 0)), default=None)
        return ChainCheck(service, result, last, len(checkpoints))

    checks = await asyncio.gather(*(one(s) for s in SERVICES))
    return page.render(
        "audit_verify.html",
        checks=checks,
        services=SERVICE_NAMES,
        all_ok=all(c.result and c.result.get("ok") for c in checks),
    )


# -- a client's access log ---------------------------------------------------------------------
@router.get(HOME + "/access-log", response_class=HTMLResponse)
async def access_log(
    request: Request,
    page: SignedIn,
    client_id: str | None = None,
    service: str | None = None,
    access_page: str | None = None,
) -> HTMLResponse:
    """Every recorded share and read of a client's personal data (or of every client in
    the auditor's scope), in every service or in one, newest first."""
    errors = FormErrors()
    client = _id(client_id)
    service = service if service in SERVICES else None
    options = [(s, page.gettext(SERVICE_NAMES[s])) for s in SERVICES]
    if client_id and client is None:
        errors.add("client_id", page.gettext(NOT_AN_ID))
        return page.render(
            "audit_access.html",
            status=400,
            values={"client_id": client_id, "service": service or ""},
            errors=errors,
            service_options=options,
            found=None,
        )
    size = ACCESS_PAGE_SIZE
    number = min(page_number(access_page), MOST_ACCESSES // size)

    async def one(service: str) -> tuple[list[dict[str, Any]], int]:
        try:
            got = await api(request).page(
                token(page),
                f"/{service}/v1/audit/access-log",
                1,
                number * size,
                client_id=str(client) if client else None,
            )
        except ApiError as e:
            if e.status == 404:
                return [], 0
            raise
        return [{**i, "service": service} for i in got.items], got.total

    answers = await asyncio.gather(*(one(s) for s in ([service] if service else SERVICES)))
    found: Page = merged_page(
        [items for items, _ in answers],
        [total for _, total in answers],
        number,
        size,
        key="occurred_at",
    )
    return page.render(
        "audit_access.html",
        values={"client_id": str(client) if client else "", "service": service or ""},
        errors=errors,
        service_options=options,
        client_id=str(client) if client else None,
        found=found,
        more=more(client_id=str(client) if client else None, service=service),
        services=SERVICE_NAMES,
        roles=ROLE_NAMES,
        purposes=PURPOSES,
        resources=RESOURCES,
        categories=ACCESS_CATEGORIES,
    )


def more(**params: str | None) -> str:
    """A pager's link's other parameters (the filters)."""
    given = {k: v for k, v in params.items() if v}
    return f"&{urlencode(given)}" if given else ""
