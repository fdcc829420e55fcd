"""Hostile input is refused at the edge of every service, the same way everywhere (issue 11,
§1 and §5): control characters in text, unbounded numbers and dates, an over-long
If-Match, oversized bodies and headers; and every answer carries the security headers.

Each of these answered 201 (and froze a projection) or 500 before; each row is a request
an attacker (or a careless client) sent.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from fastapi import FastAPI

from shared.auth import AUDIENCE, DEV_ISSUER, MAX_TOKEN_BYTES
from shared.serve import uvicorn_config
from shared.settings import Settings
from tests.scenarios import a_client_body, a_partner, a_service, an_open_case
from tests.support import INVALID, assert_problem, bearer, new_org

INTAKE, PLANNING, FOLLOWUP, REFERRAL = (
    "/intake/v1",
    "/planning/v1",
    "/followup/v1",
    "/referral/v1",
)
SERVICES = ("intake", "planning", "followup", "referral")
MISSING = "00000000-0000-4000-8000-000000000001"


@pytest.fixture
def clients(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
) -> dict[str, httpx.AsyncClient]:
    """The four services' clients, by name."""
    return {
        "intake": api,
        "planning": planning_api,
        "followup": followup_api,
        "referral": referral_api,
    }


@pytest.fixture
def org() -> str:
    return new_org()


@pytest.fixture
def who(token: Any, org: str) -> dict[str, dict[str, str]]:
    """A header per role, all of one organisation."""
    return {
        role: bearer(token(role, org=org, sub=f"{role}-1"))
        for role in ("counsellor", "team_lead", "admin", "auditor")
    }


async def registrations(app: FastAPI) -> int:
    pool = app.state.runtime.pool
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM intake.intake_events WHERE topic LIKE '%:Client.Registered'"
        )
    )


async def partner_events(app: FastAPI) -> int:
    pool = app.state.runtime.pool
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM referral.referral_events WHERE topic LIKE '%:Partner.%'"
        )
    )


# -- text without control characters ------------------------------------------------------------
CONTROL = {
    "a NUL": "An\u0000na",
    "a bell": "An\u0007na",
    "an escape sequence": "\u001b[31mAnna",
    "a line break in a name": "An\nna",
    "a tab in a name": "An\tna",
    "a C1 control (next line)": "An\u0085na",
    "a DEL": "Anna\u007f",
}


@pytest.mark.parametrize("what", CONTROL)
async def test_a_client_whose_given_name_holds_a_control_character_is_refused_and_not_stored(
    what: str, api: httpx.AsyncClient, intake_app: FastAPI, who: dict[str, dict[str, str]]
) -> None:
    before = await registrations(intake_app)

    r = await api.post(
        f"{INTAKE}/clients",
        json=a_client_body(given_name=CONTROL[what]),
        headers=who["counsellor"],
    )

    body = assert_problem(r, 422, INVALID, ("given_name",))
    assert body["errors"] == [
        {"field": "given_name", "message": "control characters are not allowed"}
    ]
    assert await registrations(intake_app) == before


async def test_a_lone_surrogate_in_a_name_is_refused_naming_the_field(
    api: httpx.AsyncClient, intake_app: FastAPI, who: dict[str, dict[str, str]]
) -> None:
    before = await registrations(intake_app)
    # JSON allows the escape; no UTF-8 (and no PostgreSQL text) can hold what it means.
    body = (
        '{"given_name":"Anna","family_name":"Pe\\ud800ters","birth_date":"1990-05-17",'
        '"email":"anna@example.org"}'
    )

    r = await api.post(
        f"{INTAKE}/clients",
        content=body,
        headers={**who["counsellor"], "content-type": "application/json"},
    )

    assert_problem(r, 422, INVALID, ("family_name",))
    assert await registrations(intake_app) == before


PARTNER_FIELDS = {
    "name": ({"name": "CAW\u0000"}, "name"),
    "description": ({"description": "Welfare\u0000work"}, "description"),
    "a service's name": ({"services": [a_service(name="Budget\u0000")]}, "services.0.name"),
    "a service's area": ({"services": [a_service(area="Gent\u0000")]}, "services.0.area"),
    "a service's eligibility": (
        {"services": [a_service(eligibility="All\u0007")]},
        "services.0.eligibility",
    ),
    "the contact address": ({"contact_email": "a\u0000@caw.example.org"}, "contact_email"),
}


@pytest.mark.parametrize("what", PARTNER_FIELDS)
async def test_a_partner_with_a_control_character_in_its_text_is_refused_and_not_stored(
    what: str,
    referral_api: httpx.AsyncClient,
    referral_app: FastAPI,
    who: dict[str, dict[str, str]],
) -> None:
    fields, named = PARTNER_FIELDS[what]
    before = await partner_events(referral_app)

    r = await referral_api.post(
        f"{REFERRAL}/partners", json=a_partner(**fields), headers=who["admin"]
    )

    assert_problem(r, 422, INVALID, (named,))
    assert await partner_events(referral_app) == before


async def test_a_multi_line_note_keeps_its_line_breaks_and_tabs(
    api: httpx.AsyncClient, who: dict[str, dict[str, str]]
) -> None:
    notes = "Meets the conditions:\n\t- lives in the region\r\n\t- unemployed"
    case_id = await an_open_case(api, who["counsellor"])

    r = await api.post(
        f"{INTAKE}/cases/{case_id}/entry-check",
        json={"eligible": True, "notes": notes},
        headers=who["counsellor"],
    )
    assert r.status_code == 200, r.text
    r = await api.get(f"{INTAKE}/cases/{case_id}", headers=who["counsellor"])

    assert r.json()["entry_check"]["notes"] == notes


# -- query parameters -----------------------------------------------------------------------------
# (service, path with its query, role, the parameter at fault)
QUERIES = [
    ("referral", "/partners?service=Budget%00coaching", "counsellor", "service"),
    ("referral", "/partners?area=Gent%00", "counsellor", "area"),
    ("followup", "/worklist?counsellor=c%00", "team_lead", "counsellor"),
    ("intake", "/cases?status=open%00", "counsellor", "status"),
    ("planning", "/plans?status=%00", "counsellor", "status"),
    ("referral", "/referrals?status=sent%00", "counsellor", "status"),
    ("followup", "/worklist?due_before=2026-01-01%00", "team_lead", "due_before"),
]


@pytest.mark.parametrize(("service", "path", "role", "param"), QUERIES)
async def test_a_nul_in_a_query_parameter_is_refused_naming_it(
    service: str,
    path: str,
    role: str,
    param: str,
    clients: dict[str, httpx.AsyncClient],
    who: dict[str, dict[str, str]],
) -> None:
    r = await clients[service].get(f"/{service}/v1{path}", headers=who[role])

    assert_problem(r, 422, INVALID, (param,))


# Every list: (service, path, role).
LISTS = [
    ("intake", "/cases", "counsellor"),
    ("planning", "/plans", "counsellor"),
    ("followup", "/worklist", "team_lead"),
    ("referral", "/partners", "counsellor"),
    ("referral", "/referrals", "counsellor"),
    *[(service, "/audit/access-log", "auditor") for service in SERVICES],
]


@pytest.mark.parametrize("offset", [2**63, 2**64 + 1, 10_000_001, -1])
@pytest.mark.parametrize(("service", "path", "role"), LISTS)
async def test_an_offset_out_of_bounds_is_refused_on_every_list(
    service: str,
    path: str,
    role: str,
    offset: int,
    clients: dict[str, httpx.AsyncClient],
    who: dict[str, dict[str, str]],
) -> None:
    r = await clients[service].get(
        f"/{service}/v1{path}", params={"offset": offset}, headers=who[role]
    )

    assert_problem(r, 422, INVALID, ("offset",))


@pytest.mark.parametrize(("service", "path", "role"), LISTS)
async def test_the_largest_offset_allowed_answers_an_empty_page(
    service: str,
    path: str,
    role: str,
    clients: dict[str, httpx.AsyncClient],
    who: dict[str, dict[str, str]],
) -> None:
    r = await clients[service].get(
        f"/{service}/v1{path}", params={"offset": 10_000_000, "limit": 1}, headers=who[role]
    )

    assert r.status_code == 200, r.text
    assert r.json() == []


# -- dates and times ----------------------------------------------------------------------------
EDGES_OF_TIME = [
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "1899-12-31T23:59:59Z",
    "2201-01-01T00:00:00Z",
]


@pytest.mark.parametrize("moment", EDGES_OF_TIME)
@pytest.mark.parametrize("service", SERVICES)
async def test_a_state_view_as_of_a_moment_beyond_the_years_of_the_domain_is_refused(
    service: str,
    moment: str,
    clients: dict[str, httpx.AsyncClient],
    who: dict[str, dict[str, str]],
) -> None:
    r = await clients[service].get(
        f"/{service}/v1/audit/cases/{MISSING}/state",
        params={"as_of": moment},
        headers=who["auditor"],
    )

    assert_problem(r, 422, INVALID, ("as_of",))


@pytest.mark.parametrize("moment", EDGES_OF_TIME)
@pytest.mark.parametrize("param", ["from", "to"])
async def test_partner_figures_for_a_period_beyond_the_years_of_the_domain_are_refused(
    param: str,
    moment: str,
    referral_api: httpx.AsyncClient,
    who: dict[str, dict[str, str]],
) -> None:
    r = await referral_api.get(
        f"{REFERRAL}/partners/{MISSING}/figures",
        params={param: moment},
        headers=who["team_lead"],
    )

    assert_problem(r, 422, INVALID, (param,))


# Dates in bodies and queries: (service, method, path, role, body or query, field).
DATES = [
    (
        "intake",
        "POST",
        "/clients",
        "counsellor",
        a_client_body(birth_date="0001-01-01"),
        "birth_date",
    ),
    ("followup", "GET", "/worklist?due_before=9999-12-31", "team_lead", None, "due_before"),
    (
        "followup",
        "GET",
        "/reports/outcomes?from=0001-01-01&to=2026-01-01",
        "team_lead",
        None,
        "from",
    ),
    (
        "intake",
        "POST",
        f"/cases/{MISSING}/sessions",
        "counsellor",
        {"kind": "intake", "held_at": "0001-01-01T00:00:00+05:00", "minutes": 30},
        "held_at",
    ),
    (
        "planning",
        "POST",
        f"/plans/{MISSING}/goals",
        "counsellor",
        {
            "title": "Nurse",
            "specific": "Enrol in the nursing course",
            "measure": "Enrolled",
            "target_date": "9999-12-31",
            "competences": ["work_exploration"],
            "priority": 1,
        },
        "target_date",
    ),
]


@pytest.mark.parametrize(("service", "method", "path", "role", "body", "field"), DATES)
async def test_a_date_beyond_the_years_of_the_domain_is_refused_naming_it(
    service: str,
    method: str,
    path: str,
    role: str,
    body: Any,
    field: str,
    clients: dict[str, httpx.AsyncClient],
    who: dict[str, dict[str, str]],
) -> None:
    r = await clients[service].request(method, f"/{service}/v1{path}", json=body, headers=who[role])

    assert_problem(r, 422, INVALID, (field,))


# -- If-Match -------------------------------------------------------------------------------------
# A command of each kind: (service, path, role, body).
COMMANDS = [
    ("intake", f"/cases/{MISSING}/entry-check", "counsellor", {"eligible": True}),
    (
        "intake",
        f"/clients/{MISSING}/consents",
        "counsellor",
        {"purpose": "guidance", "granted": True},
    ),
    ("planning", f"/plans/{MISSING}/agreement", "counsellor", {"party": "client"}),
    ("followup", f"/followups/{MISSING}/close", "counsellor", {"reason": "client_withdrew"}),
    ("referral", f"/partners/{MISSING}/deactivate", "admin", None),
    ("referral", f"/referrals/{MISSING}/withdraw", "counsellor", {"reason": "Not needed"}),
]


@pytest.mark.parametrize("if_match", ["9" * 4300, '"' + "1" * 19 + '"'])
@pytest.mark.parametrize(("service", "path", "role", "body"), COMMANDS)
async def test_an_if_match_too_long_to_be_a_version_is_refused_naming_it(
    service: str,
    path: str,
    role: str,
    body: Any,
    if_match: str,
    clients: dict[str, httpx.AsyncClient],
    who: dict[str, dict[str, str]],
) -> None:
    r = await clients[service].post(
        f"/{service}/v1{path}", json=body, headers={**who[role], "If-Match": if_match}
    )

    assert_problem(r, 422, INVALID, ("If-Match",))


# -- sizes ----------------------------------------------------------------------------------------
async def test_a_body_over_the_limit_is_refused_with_413_and_nothing_is_stored(
    api: httpx.AsyncClient, intake_app: FastAPI, who: dict[str, dict[str, str]]
) -> None:
    before = await registrations(intake_app)
    big = a_client_body(given_name="A" * (2 * 1024 * 1024))

    r = await api.post(f"{INTAKE}/clients", json=big, headers=who["counsellor"])

    assert_problem(r, 413, "content-too-large")
    assert await registrations(intake_app) == before


async def test_a_streamed_body_without_a_length_is_counted_and_refused_past_the_limit(
    api: httpx.AsyncClient, intake_app: FastAPI, who: dict[str, dict[str, str]]
) -> None:
    before = await registrations(intake_app)

    async def chunks() -> Any:
        yield b'{"given_name": "'
        for _ in range(40):
            yield b"A" * 65536
        yield b'"}'

    r = await api.post(
        f"{INTAKE}/clients",
        content=chunks(),
        headers={**who["counsellor"], "content-type": "application/json"},
    )

    assert "content-length" not in r.request.headers
    assert_problem(r, 413, "content-too-large")
    assert await registrations(intake_app) == before


@pytest.mark.parametrize("size", [100 * 1024, MAX_TOKEN_BYTES + 100])
async def test_an_oversized_bearer_token_is_refused_and_never_cached(
    size: int, api: httpx.AsyncClient, intake_app: FastAPI, settings: Settings
) -> None:
    claims = {
        "iss": DEV_ISSUER,
        "aud": AUDIENCE,
        "sub": "x",
        "org": "o",
        "roles": ["counsellor"],
        "exp": int(time.time()) + 600,
        "padding": "p" * size,
    }
    huge = jwt.encode(claims, settings.jwt_secret or "", algorithm="HS256")
    assert len(huge) > MAX_TOKEN_BYTES

    r = await api.get(f"{INTAKE}/cases", headers=bearer(huge))

    assert r.status_code in (401, 431), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert huge not in r.text
    assert huge not in intake_app.state.verifier._verified


async def test_a_refused_token_is_not_told_the_jwt_librarys_reason(
    api: httpx.AsyncClient,
) -> None:
    claims = {
        "iss": DEV_ISSUER,
        "aud": AUDIENCE,
        "sub": "x",
        "org": "o",
        "roles": ["admin"],
        "exp": int(time.time()) + 600,
    }
    forged = jwt.encode(claims, "a-guessed-secret-of-32-bytes-or-more!!", algorithm="HS256")
    expired = jwt.encode({**claims, "exp": 1}, "a-guessed-secret-of-32-bytes-or-more!!")

    for token in (forged, expired, "not.a.jwt"):
        r = await api.get(f"{INTAKE}/cases", headers=bearer(token))
        body = assert_problem(r, 401, "unauthorized")
        assert body["detail"] == "The token is not valid."


# -- headers on every answer ----------------------------------------------------------------------
SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
}
# (service, path, role or None): answers of every kind, good and bad.
ANSWERS = [
    ("intake", "/intake/v1/cases", "counsellor"),
    ("intake", "/intake/v1/cases", None),
    ("intake", f"/intake/v1/cases/{MISSING}", "counsellor"),
    ("intake", "/intake/v1/cases?limit=0", "counsellor"),
    ("planning", "/planning/v1/plans", "counsellor"),
    ("followup", "/followup/v1/worklist", "team_lead"),
    ("referral", "/referral/v1/partners", "counsellor"),
    ("referral", "/referral/v1/audit/access-log", "auditor"),
    ("intake", "/intake/healthz", None),
    ("planning", "/planning/docs", None),
    ("referral", "/referral/openapi.json", None),
]


@pytest.mark.parametrize(("service", "path", "role"), ANSWERS)
async def test_every_answer_carries_the_security_headers_and_api_answers_are_not_stored(
    service: str,
    path: str,
    role: str | None,
    clients: dict[str, httpx.AsyncClient],
    who: dict[str, dict[str, str]],
) -> None:
    r = await clients[service].get(path, headers=who[role] if role else {})

    for name, value in SECURITY.items():
        assert r.headers.get(name) == value, (name, r.headers)
    if "/v1/" in path:
        assert r.headers["cache-control"] == "no-store"
    # Dev mode: no HSTS (a developer's http://127.0.0.1 would be pinned to https).
    assert "strict-transport-security" not in r.headers
    assert "server" not in r.headers


async def test_the_swagger_ui_still_loads_its_script_and_style(
    planning_api: httpx.AsyncClient,
) -> None:
    r = await planning_api.get("/planning/docs")

    assert r.status_code == 200
    assert "swagger-ui-bundle.js" in r.text
    # Only frame-ancestors: no script-src or default-src that would block its inline script.
    assert r.headers["content-security-policy"] == "frame-ancestors 'none'"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_real_server_sends_no_server_banner(settings: Settings) -> None:
    from shared.http import service_app

    app = service_app("probe", settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn_config(app, settings.model_copy(update={"port": port, "host": "127.0.0.1"}))
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{port}/probe/healthz")
    finally:
        server.should_exit = True
        thread.join(10)

    assert r.status_code == 200
    assert "server" not in r.headers
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "date" in r.headers
