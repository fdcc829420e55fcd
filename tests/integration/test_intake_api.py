"""Intake's HTTP API against the contract: every intake path, the happy journey, and a
table of bad requests that must each answer problem+json and change nothing.

The service is shared by the whole session, so every test works in an organisation of
its own (a fresh `org-…` id) with clients of its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from tests.bad_requests import Bad, without
from tests.scenarios import a_client_body, a_guidance_consent, a_registered_client, an_open_case
from tests.support import INVALID, assert_problem, bearer, fill, new_org

BASE = "/intake/v1"
COMPETENCES = (
    "quality_reflection",
    "motive_reflection",
    "work_exploration",
    "career_steering",
    "networking",
)
ALL_THREES = dict.fromkeys(COMPETENCES, 3)
PAST = "2025-01-06T10:00:00+01:00"


@pytest.fixture
def org() -> str:
    return new_org()


@pytest.fixture
def counsellor(token: Any, org: str) -> dict[str, str]:
    return bearer(token("counsellor", org=org, sub="counsellor-1"))


# -- helpers ------------------------------------------------------------------------------------


async def post_case(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    case_id: str,
    what: str,
    body: dict[str, Any],
    expect: int,
) -> httpx.Response:
    r = await api.post(f"{BASE}/cases/{case_id}/{what}", json=body, headers=headers)
    assert r.status_code == expect, r.text
    return r


async def get_ok(api: httpx.AsyncClient, path: str, headers: dict[str, str]) -> httpx.Response:
    r = await api.get(f"{BASE}{path}", headers=headers)
    assert r.status_code == 200, r.text
    return r


async def event_count(app: Any, originator_id: str | None = None) -> int:
    """Intake's events (of one aggregate); recorded reads (DataAccess) do not count."""
    pool = app.state.runtime.pool
    if originator_id is None:
        return int(
            await pool.fetchval(
                "SELECT count(*) FROM intake.intake_events "
                "WHERE topic NOT LIKE 'shared.audit.access:%'"
            )
        )
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM intake.intake_events WHERE originator_id = $1",
            uuid.UUID(originator_id),
        )
    )


# -- the happy journey ----------------------------------------------------------------------------
async def test_a_client_goes_from_registration_to_an_accepted_case(
    api: httpx.AsyncClient, counsellor: dict[str, str], org: str, intake_app: Any
) -> None:
    r = await api.post(f"{BASE}/clients", json=a_client_body(), headers=counsellor)
    assert r.status_code == 201, r.text
    client_id = r.json()["client_id"]
    assert uuid.UUID(client_id)
    assert r.headers["etag"] == '"1"'
    assert r.headers["location"] == f"{BASE}/clients/{client_id}"

    r = await api.post(
        f"{BASE}/clients/{client_id}/consents",
        json={"purpose": "guidance", "granted": True},
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 2
    assert r.headers["etag"] == '"2"'

    r = await api.post(
        f"{BASE}/cases",
        json={"client_id": client_id, "career_question": "Teaching, or stay in logistics?"},
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    assert r.headers["etag"] == '"1"'
    assert r.headers["location"] == f"{BASE}/cases/{case_id}"

    r = await post_case(
        api, counsellor, case_id, "entry-check", {"eligible": True, "notes": "Fits"}, 200
    )
    assert (r.json()["version"], r.headers["etag"]) == (2, '"2"')

    client_scores = {**ALL_THREES, "networking": 2, "career_steering": 4}
    counsellor_scores = {**ALL_THREES, "quality_reflection": 1}
    r = await post_case(
        api,
        counsellor,
        case_id,
        "assessments",
        {"assessor": "client", "scores": client_scores},
        201,
    )
    assessment_id = r.json()["assessment_id"]
    assert r.json()["version"] == 3
    await post_case(
        api,
        counsellor,
        case_id,
        "assessments",
        {"assessor": "counsellor", "scores": counsellor_scores},
        201,
    )
    r = await post_case(
        api,
        counsellor,
        case_id,
        "sessions",
        {"kind": "intake", "held_at": PAST, "minutes": 90},
        201,
    )
    session_id = r.json()["session_id"]
    assert r.json()["version"] == 5

    r = await post_case(
        api, counsellor, case_id, "decision", {"decision": "accept", "reason": "Motivated"}, 200
    )
    assert (r.json()["version"], r.headers["etag"]) == (6, '"6"')

    r = await get_ok(api, f"/cases/{case_id}", counsellor)
    case = r.json()
    assert r.headers["etag"] == '"6"'
    assert case["case_id"] == case_id
    assert case["client_id"] == client_id
    assert case["organisation"] == org
    assert (case["status"], case["phase"]) == ("accepted", "deepening")
    assert case["career_question"] == "Teaching, or stay in logistics?"
    assert case["gaps"] == ["quality_reflection", "networking"]
    assert case["scores"] == {"client": client_scores, "counsellor": counsellor_scores}
    assert case["assessments"][0]["assessment_id"] == assessment_id
    assert [(a["assessor"], a["scores"]) for a in case["assessments"]] == [
        ("client", client_scores),
        ("counsellor", counsellor_scores),
    ]
    assert [(s["session_id"], s["kind"], s["minutes"]) for s in case["sessions"]] == [
        (session_id, "intake", 90)
    ]
    assert datetime.fromisoformat(case["sessions"][0]["held_at"]) == datetime.fromisoformat(PAST)
    assert case["hours_used"] == 1.5
    assert case["hours_budget"] > 1.5
    assert case["hours_remaining"] == round(case["hours_budget"] - 1.5, 2)
    assert case["over_budget"] is False
    assert case["entry_check"]["eligible"] is True
    assert case["entry_check"]["notes"] == "Fits"
    assert case["decision"]["decision"] == "accept"
    assert case["decision"]["reason"] == "Motivated"
    assert case["decision"]["actor"] == "counsellor-1"
    assert case["version"] == 6
    assert await event_count(intake_app, case_id) == 6

    r = await get_ok(api, "/cases?status=accepted", counsellor)
    assert r.headers["x-total-count"] == "1"
    [summary] = r.json()
    assert summary["case_id"] == case_id
    assert (summary["status"], summary["phase"]) == ("accepted", "deepening")
    assert summary["gaps"] == ["quality_reflection", "networking"]
    assert summary["hours_used"] == 1.5
    assert summary["version"] == 6


# -- clients and consents -------------------------------------------------------------------------
async def test_a_registered_client_reads_back_with_personal_fields_and_version(
    api: httpx.AsyncClient, counsellor: dict[str, str], org: str, token: Any
) -> None:
    client_id = await a_registered_client(
        api, counsellor, given_name=" Bram ", email="bram@example.org"
    )

    r = await get_ok(api, f"/clients/{client_id}", counsellor)
    client = r.json()
    assert r.headers["etag"] == '"1"'
    assert client["client_id"] == client_id
    assert client["organisation"] == org
    assert (client["given_name"], client["family_name"]) == ("Bram", "Peeters")
    assert client["birth_date"] == "1990-05-17"
    assert client["email"] == "bram@example.org"
    assert client["phone"] == "+32 470 12 34 56"
    assert client["preferred_language"] == "nl"
    assert client["version"] == 1

    team_lead = bearer(token("team_lead", org=org))
    assert (await get_ok(api, f"/clients/{client_id}", team_lead)).json()["given_name"] == "Bram"


async def test_a_client_may_be_registered_without_phone_or_language(
    api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    body = a_client_body()
    del body["phone"], body["preferred_language"]
    r = await api.post(f"{BASE}/clients", json=body, headers=counsellor)
    assert r.status_code == 201, r.text
    client = (await get_ok(api, f"/clients/{r.json()['client_id']}", counsellor)).json()
    assert (client["phone"], client["preferred_language"]) == (None, None)


async def test_consents_list_the_current_state_and_the_history_keeps_every_change(
    api: httpx.AsyncClient, counsellor: dict[str, str], token: Any, org: str, intake_app: Any
) -> None:
    client_id = await a_registered_client(api, counsellor)
    partner = str(uuid.uuid4())
    first = (await a_guidance_consent(api, counsellor, client_id)).json()
    referral = await a_guidance_consent(
        api,
        counsellor,
        client_id,
        purpose="referral",
        partner_id=partner,
        data_categories=["plan", "identity"],
    )
    other = bearer(token("counsellor", org=org, sub="counsellor-2"))
    withdrawal = await a_guidance_consent(api, other, client_id, purpose="guidance", granted=False)
    refusal = await a_guidance_consent(
        api, counsellor, client_id, purpose="statistics", granted=False
    )
    assert withdrawal.json()["consent_id"] == first["consent_id"]
    assert refusal.json()["version"] == 5
    assert refusal.headers["etag"] == '"5"'

    r = await get_ok(api, f"/clients/{client_id}/consents", counsellor)
    assert r.headers["etag"] == '"5"'
    current = {c["purpose"]: c for c in r.json()}
    assert set(current) == {"guidance", "referral", "statistics"}
    assert current["guidance"]["granted"] is False
    assert current["guidance"]["granted_at"] is not None
    assert current["guidance"]["withdrawn_at"] is not None
    assert current["referral"]["granted"] is True
    assert current["referral"]["consent_id"] == referral.json()["consent_id"]
    assert current["referral"]["partner_id"] == partner
    assert current["referral"]["data_categories"] == ["identity", "plan"]
    assert current["statistics"]["granted"] is False
    assert current["statistics"]["granted_at"] is None

    r = await get_ok(api, f"/clients/{client_id}/consents/history", counsellor)
    assert r.headers["etag"] == '"5"'
    history = r.json()
    assert [(h["purpose"], h["granted"], h["actor"]) for h in history] == [
        ("guidance", True, "counsellor-1"),
        ("referral", True, "counsellor-1"),
        ("guidance", False, "counsellor-2"),
        ("statistics", False, "counsellor-1"),
    ]
    times = [datetime.fromisoformat(h["at"]) for h in history]
    assert times == sorted(times)
    assert (await get_ok(api, f"/clients/{client_id}", counsellor)).json()["version"] == 5
    assert await event_count(intake_app, client_id) == 5


async def test_a_referral_consent_narrows_by_a_new_grant_and_withdrawals_name_no_categories(
    api: httpx.AsyncClient, counsellor: dict[str, str], intake_app: Any
) -> None:
    client_id = await a_registered_client(api, counsellor)
    partner = str(uuid.uuid4())
    await a_guidance_consent(
        api,
        counsellor,
        client_id,
        purpose="referral",
        partner_id=partner,
        data_categories=["plan", "identity", "contact"],
    )
    await a_guidance_consent(
        api,
        counsellor,
        client_id,
        purpose="referral",
        partner_id=partner,
        data_categories=["plan"],
    )
    before = await event_count(intake_app, client_id)
    r = await api.post(
        f"{BASE}/clients/{client_id}/consents",
        json={
            "purpose": "referral",
            "partner_id": partner,
            "granted": False,
            "data_categories": ["plan"],
        },
        headers=counsellor,
    )
    body = assert_problem(r, 422, INVALID)
    assert [e["field"] for e in body["errors"]] == ["data_categories"]
    assert await event_count(intake_app, client_id) == before
    current = (await get_ok(api, f"/clients/{client_id}/consents", counsellor)).json()
    assert [(c["purpose"], c["data_categories"], c["granted"]) for c in current] == [
        ("referral", ["plan"], True)
    ]


async def test_if_match_with_the_current_version_lets_a_command_through(
    api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    client_id = await a_registered_client(api, counsellor)
    etag = (await get_ok(api, f"/clients/{client_id}", counsellor)).headers["etag"]
    r = await api.post(
        f"{BASE}/clients/{client_id}/consents",
        json={"purpose": "guidance", "granted": True},
        headers={**counsellor, "If-Match": etag},
    )
    assert r.status_code == 201, r.text
    assert r.headers["etag"] == '"2"'

    case_id = await an_open_case(api, counsellor, client_id)
    steps: list[tuple[str, dict[str, Any], int]] = [
        ("entry-check", {"eligible": True}, 200),
        ("assessments", {"assessor": "client", "scores": ALL_THREES}, 201),
        ("sessions", {"kind": "intake", "held_at": PAST, "minutes": 30}, 201),
        ("decision", {"decision": "accept"}, 200),
    ]
    for n, (what, body, expect) in enumerate(steps, start=1):
        etag = (await get_ok(api, f"/cases/{case_id}", counsellor)).headers["etag"]
        assert etag == f'"{n}"'
        if_match = etag if n % 2 else f"W/{etag}"
        r = await api.post(
            f"{BASE}/cases/{case_id}/{what}",
            json=body,
            headers={**counsellor, "If-Match": if_match},
        )
        assert r.status_code == expect, (what, r.text)
        assert r.headers["etag"] == f'"{n + 1}"'
        assert r.json()["version"] == n + 1
    assert (await get_ok(api, f"/cases/{case_id}", counsellor)).json()["status"] == "accepted"


async def test_another_organisations_client_and_case_read_exactly_like_absent_ones(
    api: httpx.AsyncClient, counsellor: dict[str, str], token: Any
) -> None:
    case_id = await an_open_case(api, counsellor)
    client_id = (await get_ok(api, f"/cases/{case_id}", counsellor)).json()["client_id"]
    stranger = bearer(token("counsellor", org=new_org()))

    for path, kind in (
        ("/clients/{}", "client"),
        ("/clients/{}/consents", "client"),
        ("/clients/{}/consents/history", "client"),
        ("/cases/{}", "case"),
    ):
        real = client_id if kind == "client" else case_id
        absent = str(uuid.uuid4())
        theirs = await api.get(BASE + path.format(real), headers=stranger)
        missing = await api.get(BASE + path.format(absent), headers=stranger)
        a = assert_problem(theirs, 404, "not-found")
        b = assert_problem(missing, 404, "not-found")
        assert set(a) == set(b)
        assert a["detail"].replace(real, "ID") == b["detail"].replace(absent, "ID")
        assert {k: a[k] for k in ("type", "title", "status")} == {
            k: b[k] for k in ("type", "title", "status")
        }
        assert "Anna" not in theirs.text and "logistics" not in theirs.text


async def test_opening_a_case_needs_a_granted_guidance_consent(
    api: httpx.AsyncClient, counsellor: dict[str, str], token: Any, intake_app: Any
) -> None:
    client_id = await a_registered_client(api, counsellor)
    await a_guidance_consent(api, counsellor, client_id, purpose="statistics")
    await a_guidance_consent(api, counsellor, client_id)
    await a_guidance_consent(api, counsellor, client_id, granted=False)
    before = await event_count(intake_app)

    r = await api.post(
        f"{BASE}/cases",
        json={"client_id": client_id, "career_question": "What next?"},
        headers=counsellor,
    )

    assert_problem(r, 409, "consent-required")
    assert await event_count(intake_app) == before
    r = await get_ok(api, f"/cases?client_id={client_id}", counsellor)
    assert (r.json(), r.headers["x-total-count"]) == ([], "0")

    await a_guidance_consent(api, counsellor, client_id)
    case_id = await an_open_case(api, counsellor, client_id)
    assert (await get_ok(api, f"/cases/{case_id}", counsellor)).json()["status"] == "open"


async def test_a_decided_case_refuses_a_second_decision_and_further_intake_work(
    api: httpx.AsyncClient, counsellor: dict[str, str], intake_app: Any
) -> None:
    case_id = await an_open_case(api, counsellor)
    r = await post_case(
        api, counsellor, case_id, "decision", {"decision": "refer_out", "reason": "Psych"}, 200
    )
    assert r.json()["version"] == 2
    before = (await get_ok(api, f"/cases/{case_id}", counsellor)).json()
    assert (before["status"], before["phase"]) == ("referred_out", "closed")
    assert before["decision"]["reason"] == "Psych"

    for what, body in (
        ("decision", {"decision": "accept"}),
        ("decision", {"decision": "decline"}),
        ("entry-check", {"eligible": True}),
        ("assessments", {"assessor": "client", "scores": ALL_THREES}),
        ("sessions", {"kind": "intake", "held_at": PAST, "minutes": 30}),
    ):
        r = await api.post(f"{BASE}/cases/{case_id}/{what}", json=body, headers=counsellor)
        assert_problem(r, 409, "case-decided")

    assert (await get_ok(api, f"/cases/{case_id}", counsellor)).json() == before
    assert await event_count(intake_app, case_id) == 2


async def test_declining_closes_the_case(
    api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    case_id = await an_open_case(api, counsellor)
    await post_case(api, counsellor, case_id, "decision", {"decision": "decline"}, 200)
    case = (await get_ok(api, f"/cases/{case_id}", counsellor)).json()
    assert (case["status"], case["phase"], case["decision"]["decision"]) == (
        "declined",
        "closed",
        "decline",
    )


async def test_accepting_after_a_failed_entry_check_is_refused(
    api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    case_id = await an_open_case(api, counsellor)
    await post_case(api, counsellor, case_id, "entry-check", {"eligible": False}, 200)
    await post_case(
        api, counsellor, case_id, "assessments", {"assessor": "client", "scores": ALL_THREES}, 201
    )

    r = await api.post(
        f"{BASE}/cases/{case_id}/decision", json={"decision": "accept"}, headers=counsellor
    )

    assert_problem(r, 409, "case-not-ready")
    case = (await get_ok(api, f"/cases/{case_id}", counsellor)).json()
    assert (case["status"], case["version"]) == ("open", 3)


# -- the case list ---------------------------------------------------------------------------------
async def test_the_case_list_shows_only_the_own_organisation_filtered_and_paged(
    api: httpx.AsyncClient, counsellor: dict[str, str], token: Any, org: str
) -> None:
    others = bearer(token("counsellor", org=new_org()))
    foreign = await an_open_case(api, others)
    opened = [await an_open_case(api, counsellor) for _ in range(5)]
    for case_id in opened[:2]:
        await post_case(api, counsellor, case_id, "decision", {"decision": "decline"}, 200)

    r = await get_ok(api, "/cases", counsellor)
    assert r.headers["x-total-count"] == "5"
    listed = [c["case_id"] for c in r.json()]
    assert sorted(listed) == sorted(opened)
    assert foreign not in listed
    assert {c["organisation"] for c in r.json()} == {org}
    assert listed == list(reversed(opened)), "newest first"

    r = await get_ok(api, "/cases?status=declined", counsellor)
    assert r.headers["x-total-count"] == "2"
    assert sorted(c["case_id"] for c in r.json()) == sorted(opened[:2])
    assert {(c["status"], c["phase"]) for c in r.json()} == {("declined", "closed")}

    r = await get_ok(api, "/cases?status=open", counsellor)
    assert sorted(c["case_id"] for c in r.json()) == sorted(opened[2:])

    assert (await get_ok(api, "/cases?status=accepted", counsellor)).json() == []

    pages = []
    for offset in (0, 2, 4):
        r = await get_ok(api, f"/cases?limit=2&offset={offset}", counsellor)
        assert r.headers["x-total-count"] == "5"
        pages.append([c["case_id"] for c in r.json()])
        if offset < 4:
            assert 'rel="next"' in r.headers["link"]
            assert f"offset={offset + 2}" in r.headers["link"]
        else:
            assert "link" not in r.headers
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [c for page in pages for c in page] == listed

    r = await get_ok(api, "/cases?offset=10", counsellor)
    assert (r.json(), r.headers["x-total-count"]) == ([], "5")

    team_lead = bearer(token("team_lead", org=org))
    assert (await get_ok(api, "/cases", team_lead)).headers["x-total-count"] == "5"


# -- the table of bad requests --------------------------------------------------------------------


def client_with(**overrides: Any) -> dict[str, Any]:
    return a_client_body(**overrides)


SESSION = {"kind": "intake", "held_at": PAST, "minutes": 60}
ASSESSMENT = {"assessor": "client", "scores": ALL_THREES}
FUTURE = (datetime.now(UTC) + timedelta(days=2)).isoformat()
TOMORROW = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
P_CLIENTS = "/clients"
P_CLIENT = "/clients/{client}"
P_CONSENTS = "/clients/{client}/consents"
P_HISTORY = "/clients/{client}/consents/history"
P_CASES = "/cases"
P_CASE = "/cases/{case}"
P_ENTRY = "/cases/{case}/entry-check"
P_ASSESS = "/cases/{case}/assessments"
P_SESSION = "/cases/{case}/sessions"
P_DECIDE = "/cases/{case}/decision"
OPEN_CASE = {"client_id": "{client}", "career_question": "What next?"}

BAD: dict[str, Bad] = {
    # POST /clients
    "register/no-body": Bad("POST", P_CLIENTS, 422, INVALID),
    "register/empty": Bad(
        "POST",
        P_CLIENTS,
        422,
        INVALID,
        body={},
        fields=("given_name", "family_name", "birth_date", "email"),
    ),
    "register/missing-email": Bad(
        "POST", P_CLIENTS, 422, INVALID, body=without(a_client_body(), "email"), fields=("email",)
    ),
    "register/unknown-field": Bad(
        "POST", P_CLIENTS, 422, INVALID, body=client_with(nickname="Ann"), fields=("nickname",)
    ),
    "register/name-not-a-string": Bad(
        "POST", P_CLIENTS, 422, INVALID, body=client_with(given_name=42), fields=("given_name",)
    ),
    "register/blank-name": Bad(
        "POST",
        P_CLIENTS,
        422,
        INVALID,
        body=client_with(family_name="   "),
        fields=("family_name",),
    ),
    "register/bad-date": Bad(
        "POST",
        P_CLIENTS,
        422,
        INVALID,
        body=client_with(birth_date="17/05/1990"),
        fields=("birth_date",),
    ),
    "register/unborn": Bad(
        "POST",
        P_CLIENTS,
        422,
        INVALID,
        body=client_with(birth_date=TOMORROW),
        fields=("birth_date",),
    ),
    "register/bad-email": Bad(
        "POST", P_CLIENTS, 422, INVALID, body=client_with(email="anna-at-home"), fields=("email",)
    ),
    "register/bad-language": Bad(
        "POST",
        P_CLIENTS,
        422,
        INVALID,
        body=client_with(preferred_language="Dutch"),
        fields=("preferred_language",),
    ),
    "register/invalid-json": Bad(
        "POST", P_CLIENTS, 422, INVALID, raw='{"given_name": "Anna", "family_name": '
    ),
    "register/json-array": Bad("POST", P_CLIENTS, 422, INVALID, body=[a_client_body()]),
    "register/no-token": Bad(
        "POST", P_CLIENTS, 401, "unauthorized", body=a_client_body(), who="none"
    ),
    "register/garbage-token": Bad(
        "POST", P_CLIENTS, 401, "unauthorized", body=a_client_body(), who="garbage"
    ),
    "register/expired-token": Bad(
        "POST", P_CLIENTS, 401, "unauthorized", body=a_client_body(), who="expired"
    ),
    "register/forged-token": Bad(
        "POST", P_CLIENTS, 401, "unauthorized", body=a_client_body(), who="forged"
    ),
    "register/basic-auth": Bad(
        "POST", P_CLIENTS, 401, "unauthorized", body=a_client_body(), who="basic"
    ),
    "register/auditor": Bad(
        "POST", P_CLIENTS, 403, "forbidden", body=a_client_body(), who="auditor"
    ),
    "register/partner": Bad(
        "POST", P_CLIENTS, 403, "forbidden", body=a_client_body(), who="partner"
    ),
    "register/team-lead": Bad(
        "POST", P_CLIENTS, 403, "forbidden", body=a_client_body(), who="team_lead"
    ),
    # GET /clients/{id}
    "client/no-token": Bad("GET", P_CLIENT, 401, "unauthorized", who="none"),
    "client/auditor": Bad("GET", P_CLIENT, 403, "forbidden", who="auditor"),
    "client/partner": Bad("GET", P_CLIENT, 403, "forbidden", who="partner"),
    "client/unknown": Bad("GET", "/clients/{missing}", 404, "not-found"),
    "client/a-case-id": Bad("GET", "/clients/{case}", 404, "not-found"),
    "client/other-org": Bad("GET", "/clients/{other_client}", 404, "not-found"),
    "client/not-a-uuid": Bad("GET", "/clients/anna", 422, INVALID, fields=("client_id",)),
    # POST /clients/{id}/consents
    "consent/empty": Bad("POST", P_CONSENTS, 422, INVALID, body={}, fields=("purpose", "granted")),
    "consent/unknown-field": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={"purpose": "guidance", "granted": True, "until": "2030-01-01"},
        fields=("until",),
    ),
    "consent/unknown-purpose": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={"purpose": "marketing", "granted": True},
        fields=("purpose",),
    ),
    "consent/granted-as-string": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={"purpose": "statistics", "granted": "yes"},
        fields=("granted",),
    ),
    "consent/granted-as-number": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={"purpose": "statistics", "granted": 1},
        fields=("granted",),
    ),
    "consent/referral-without-partner": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={"purpose": "referral", "granted": True, "data_categories": ["identity"]},
        fields=("partner_id",),
    ),
    "consent/referral-without-categories": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={"purpose": "referral", "granted": True, "partner_id": str(uuid.uuid4())},
        fields=("data_categories",),
    ),
    "consent/referral-unknown-category": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={
            "purpose": "referral",
            "granted": True,
            "partner_id": str(uuid.uuid4()),
            "data_categories": ["identity", "salary"],
        },
        fields=("data_categories",),
    ),
    "consent/partner-not-a-uuid": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={
            "purpose": "referral",
            "granted": True,
            "partner_id": "vdab",
            "data_categories": ["identity"],
        },
        fields=("partner_id",),
    ),
    "consent/guidance-with-partner": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={"purpose": "guidance", "granted": True, "partner_id": str(uuid.uuid4())},
        fields=("partner_id",),
    ),
    "consent/statistics-with-categories": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={"purpose": "statistics", "granted": True, "data_categories": ["contact"]},
        fields=("data_categories",),
    ),
    "consent/invalid-json": Bad("POST", P_CONSENTS, 422, INVALID, raw="purpose=guidance"),
    "consent/stale-if-match": Bad(
        "POST",
        P_CONSENTS,
        409,
        "version-conflict",
        body={"purpose": "statistics", "granted": True},
        if_match='"1"',
    ),
    "consent/future-if-match": Bad(
        "POST",
        P_CONSENTS,
        409,
        "version-conflict",
        body={"purpose": "statistics", "granted": True},
        if_match='"3"',
    ),
    "consent/malformed-if-match": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={"purpose": "statistics", "granted": True},
        if_match="version two",
        fields=("If-Match",),
    ),
    "consent/unknown-client": Bad(
        "POST",
        "/clients/{missing}/consents",
        404,
        "not-found",
        body={"purpose": "guidance", "granted": True},
    ),
    "consent/other-org": Bad(
        "POST",
        "/clients/{other_client}/consents",
        404,
        "not-found",
        body={"purpose": "statistics", "granted": True},
    ),
    "consent/no-token": Bad(
        "POST",
        P_CONSENTS,
        401,
        "unauthorized",
        body={"purpose": "guidance", "granted": False},
        who="none",
    ),
    "consent/team-lead": Bad(
        "POST",
        P_CONSENTS,
        403,
        "forbidden",
        body={"purpose": "guidance", "granted": False},
        who="team_lead",
    ),
    "consent/partner": Bad(
        "POST",
        P_CONSENTS,
        403,
        "forbidden",
        body={"purpose": "guidance", "granted": False},
        who="partner",
    ),
    # GET consents and their history
    "consents/no-token": Bad("GET", P_CONSENTS, 401, "unauthorized", who="none"),
    "consents/auditor": Bad("GET", P_CONSENTS, 403, "forbidden", who="auditor"),
    "consents/unknown": Bad("GET", "/clients/{missing}/consents", 404, "not-found"),
    "consents/other-org": Bad("GET", "/clients/{other_client}/consents", 404, "not-found"),
    "history/no-token": Bad("GET", P_HISTORY, 401, "unauthorized", who="none"),
    "history/partner": Bad("GET", P_HISTORY, 403, "forbidden", who="partner"),
    "history/unknown": Bad("GET", "/clients/{missing}/consents/history", 404, "not-found"),
    "history/other-org": Bad("GET", "/clients/{other_client}/consents/history", 404, "not-found"),
    # POST /cases
    "open/empty": Bad(
        "POST", P_CASES, 422, INVALID, body={}, fields=("client_id", "career_question")
    ),
    "open/missing-question": Bad(
        "POST",
        P_CASES,
        422,
        INVALID,
        body={"client_id": "{client}"},
        fields=("career_question",),
    ),
    "open/unknown-field": Bad(
        "POST",
        P_CASES,
        422,
        INVALID,
        body={**OPEN_CASE, "hours_budget": 100},
        fields=("hours_budget",),
    ),
    "open/client-not-a-uuid": Bad(
        "POST",
        P_CASES,
        422,
        INVALID,
        body={"client_id": "anna", "career_question": "What next?"},
        fields=("client_id",),
    ),
    "open/question-not-a-string": Bad(
        "POST",
        P_CASES,
        422,
        INVALID,
        body={"client_id": "{client}", "career_question": ["what", "next"]},
        fields=("career_question",),
    ),
    "open/empty-question": Bad(
        "POST",
        P_CASES,
        422,
        INVALID,
        body={"client_id": "{client}", "career_question": ""},
        fields=("career_question",),
    ),
    "open/blank-question": Bad(
        "POST",
        P_CASES,
        422,
        INVALID,
        body={"client_id": "{client}", "career_question": "  \n "},
        fields=("career_question",),
    ),
    "open/invalid-json": Bad("POST", P_CASES, 422, INVALID, raw="{'client_id': 1}"),
    "open/without-consent": Bad(
        "POST",
        P_CASES,
        409,
        "consent-required",
        body={"client_id": "{bare}", "career_question": "What next?"},
    ),
    "open/unknown-client": Bad(
        "POST",
        P_CASES,
        404,
        "not-found",
        body={"client_id": "{missing}", "career_question": "What next?"},
    ),
    "open/other-org-client": Bad(
        "POST",
        P_CASES,
        404,
        "not-found",
        body={"client_id": "{other_client}", "career_question": "What next?"},
    ),
    "open/no-token": Bad("POST", P_CASES, 401, "unauthorized", body=OPEN_CASE, who="none"),
    "open/auditor": Bad("POST", P_CASES, 403, "forbidden", body=OPEN_CASE, who="auditor"),
    "open/partner": Bad("POST", P_CASES, 403, "forbidden", body=OPEN_CASE, who="partner"),
    "open/team-lead": Bad("POST", P_CASES, 403, "forbidden", body=OPEN_CASE, who="team_lead"),
    # GET /cases/{id} and /cases
    "case/no-token": Bad("GET", P_CASE, 401, "unauthorized", who="none"),
    "case/auditor": Bad("GET", P_CASE, 403, "forbidden", who="auditor"),
    "case/partner": Bad("GET", P_CASE, 403, "forbidden", who="partner"),
    "case/unknown": Bad("GET", "/cases/{missing}", 404, "not-found"),
    "case/a-client-id": Bad("GET", "/cases/{client}", 404, "not-found"),
    "case/other-org": Bad("GET", "/cases/{other_case}", 404, "not-found"),
    "case/not-a-uuid": Bad("GET", "/cases/42", 422, INVALID, fields=("case_id",)),
    "cases/no-token": Bad("GET", P_CASES, 401, "unauthorized", who="none"),
    "cases/auditor": Bad("GET", P_CASES, 403, "forbidden", who="auditor"),
    "cases/unknown-status": Bad("GET", "/cases?status=lost", 422, INVALID, fields=("status",)),
    "cases/limit-0": Bad("GET", "/cases?limit=0", 422, INVALID, fields=("limit",)),
    "cases/limit-too-big": Bad("GET", "/cases?limit=1000", 422, INVALID, fields=("limit",)),
    "cases/negative-offset": Bad("GET", "/cases?offset=-1", 422, INVALID, fields=("offset",)),
    "cases/limit-not-a-number": Bad("GET", "/cases?limit=all", 422, INVALID, fields=("limit",)),
    # POST /cases/{id}/entry-check
    "entry/empty": Bad("POST", P_ENTRY, 422, INVALID, body={}, fields=("eligible",)),
    "entry/unknown-field": Bad(
        "POST", P_ENTRY, 422, INVALID, body={"eligible": True, "score": 3}, fields=("score",)
    ),
    "entry/eligible-as-string": Bad(
        "POST", P_ENTRY, 422, INVALID, body={"eligible": "true"}, fields=("eligible",)
    ),
    "entry/eligible-maybe": Bad(
        "POST", P_ENTRY, 422, INVALID, body={"eligible": "maybe"}, fields=("eligible",)
    ),
    "entry/notes-not-a-string": Bad(
        "POST", P_ENTRY, 422, INVALID, body={"eligible": True, "notes": 5}, fields=("notes",)
    ),
    "entry/invalid-json": Bad("POST", P_ENTRY, 422, INVALID, raw='{"eligible": tru}'),
    "entry/stale-if-match": Bad(
        "POST", P_ENTRY, 409, "version-conflict", body={"eligible": True}, if_match='"1"'
    ),
    "entry/unknown-case": Bad(
        "POST", "/cases/{missing}/entry-check", 404, "not-found", body={"eligible": True}
    ),
    "entry/a-client-id": Bad(
        "POST", "/cases/{client}/entry-check", 404, "not-found", body={"eligible": True}
    ),
    "entry/other-org": Bad(
        "POST", "/cases/{other_case}/entry-check", 404, "not-found", body={"eligible": True}
    ),
    "entry/no-token": Bad(
        "POST", P_ENTRY, 401, "unauthorized", body={"eligible": True}, who="none"
    ),
    "entry/team-lead": Bad(
        "POST", P_ENTRY, 403, "forbidden", body={"eligible": True}, who="team_lead"
    ),
    "entry/auditor": Bad("POST", P_ENTRY, 403, "forbidden", body={"eligible": True}, who="auditor"),
    # POST /cases/{id}/assessments
    "assess/empty": Bad("POST", P_ASSESS, 422, INVALID, body={}, fields=("assessor", "scores")),
    "assess/unknown-assessor": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={"assessor": "mother", "scores": ALL_THREES},
        fields=("assessor",),
    ),
    "assess/missing-competence": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={"assessor": "client", "scores": without(ALL_THREES, "networking")},
        fields=("scores.networking",),
    ),
    "assess/unknown-competence": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={"assessor": "client", "scores": {**ALL_THREES, "happiness": 4}},
        fields=("scores.happiness",),
    ),
    "assess/score-0": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={"assessor": "client", "scores": {**ALL_THREES, "career_steering": 0}},
        fields=("scores.career_steering",),
    ),
    "assess/score-5": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={"assessor": "counsellor", "scores": {**ALL_THREES, "work_exploration": 5}},
        fields=("scores.work_exploration",),
    ),
    "assess/two-scores-out-of-range": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={
            "assessor": "client",
            "scores": {**ALL_THREES, "networking": -1, "motive_reflection": 9},
        },
        fields=("scores.networking", "scores.motive_reflection"),
    ),
    "assess/score-as-string": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={"assessor": "client", "scores": {**ALL_THREES, "quality_reflection": "3"}},
        fields=("scores.quality_reflection",),
    ),
    "assess/score-as-boolean": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={"assessor": "client", "scores": {**ALL_THREES, "networking": True}},
        fields=("scores.networking",),
    ),
    "assess/score-fractional": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={"assessor": "client", "scores": {**ALL_THREES, "networking": 2.5}},
        fields=("scores.networking",),
    ),
    "assess/scores-as-list": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={"assessor": "client", "scores": [3, 3, 3, 3, 3]},
        fields=("scores",),
    ),
    "assess/unknown-field": Bad(
        "POST", P_ASSESS, 422, INVALID, body={**ASSESSMENT, "date": PAST}, fields=("date",)
    ),
    "assess/invalid-json": Bad("POST", P_ASSESS, 422, INVALID, raw='{"assessor": "client",}'),
    "assess/stale-if-match": Bad(
        "POST", P_ASSESS, 409, "version-conflict", body=ASSESSMENT, if_match='W/"1"'
    ),
    "assess/unknown-case": Bad(
        "POST", "/cases/{missing}/assessments", 404, "not-found", body=ASSESSMENT
    ),
    "assess/other-org": Bad(
        "POST", "/cases/{other_case}/assessments", 404, "not-found", body=ASSESSMENT
    ),
    "assess/no-token": Bad("POST", P_ASSESS, 401, "unauthorized", body=ASSESSMENT, who="none"),
    "assess/partner": Bad("POST", P_ASSESS, 403, "forbidden", body=ASSESSMENT, who="partner"),
    # POST /cases/{id}/sessions
    "session/empty": Bad(
        "POST", P_SESSION, 422, INVALID, body={}, fields=("kind", "held_at", "minutes")
    ),
    "session/unknown-kind": Bad(
        "POST", P_SESSION, 422, INVALID, body={**SESSION, "kind": "coffee"}, fields=("kind",)
    ),
    "session/0-minutes": Bad(
        "POST", P_SESSION, 422, INVALID, body={**SESSION, "minutes": 0}, fields=("minutes",)
    ),
    "session/601-minutes": Bad(
        "POST", P_SESSION, 422, INVALID, body={**SESSION, "minutes": 601}, fields=("minutes",)
    ),
    "session/minutes-as-text": Bad(
        "POST", P_SESSION, 422, INVALID, body={**SESSION, "minutes": "sixty"}, fields=("minutes",)
    ),
    "session/minutes-as-string": Bad(
        "POST", P_SESSION, 422, INVALID, body={**SESSION, "minutes": "60"}, fields=("minutes",)
    ),
    "session/minutes-fractional": Bad(
        "POST", P_SESSION, 422, INVALID, body={**SESSION, "minutes": 45.5}, fields=("minutes",)
    ),
    "session/held-at-without-zone": Bad(
        "POST",
        P_SESSION,
        422,
        INVALID,
        body={**SESSION, "held_at": "2025-01-06T10:00:00"},
        fields=("held_at",),
    ),
    "session/held-at-not-a-time": Bad(
        "POST",
        P_SESSION,
        422,
        INVALID,
        body={**SESSION, "held_at": "yesterday"},
        fields=("held_at",),
    ),
    "session/held-in-the-future": Bad(
        "POST", P_SESSION, 422, INVALID, body={**SESSION, "held_at": FUTURE}, fields=("held_at",)
    ),
    "session/unknown-field": Bad(
        "POST", P_SESSION, 422, INVALID, body={**SESSION, "room": "B12"}, fields=("room",)
    ),
    "session/invalid-json": Bad("POST", P_SESSION, 422, INVALID, raw="minutes: 60"),
    "session/stale-if-match": Bad(
        "POST", P_SESSION, 409, "version-conflict", body=SESSION, if_match='"1"'
    ),
    "session/unknown-case": Bad(
        "POST", "/cases/{missing}/sessions", 404, "not-found", body=SESSION
    ),
    "session/other-org": Bad(
        "POST", "/cases/{other_case}/sessions", 404, "not-found", body=SESSION
    ),
    "session/no-token": Bad("POST", P_SESSION, 401, "unauthorized", body=SESSION, who="none"),
    "session/auditor": Bad("POST", P_SESSION, 403, "forbidden", body=SESSION, who="auditor"),
    # POST /cases/{id}/decision
    "decide/empty": Bad("POST", P_DECIDE, 422, INVALID, body={}, fields=("decision",)),
    "decide/unknown-decision": Bad(
        "POST", P_DECIDE, 422, INVALID, body={"decision": "postpone"}, fields=("decision",)
    ),
    "decide/reason-not-a-string": Bad(
        "POST",
        P_DECIDE,
        422,
        INVALID,
        body={"decision": "decline", "reason": {"why": "no"}},
        fields=("reason",),
    ),
    "decide/unknown-field": Bad(
        "POST",
        P_DECIDE,
        422,
        INVALID,
        body={"decision": "decline", "partner": "x"},
        fields=("partner",),
    ),
    "decide/invalid-json": Bad("POST", P_DECIDE, 422, INVALID, raw='"accept'),
    "decide/accept-without-entry-check": Bad(
        "POST", P_DECIDE, 409, "case-not-ready", body={"decision": "accept"}
    ),
    "decide/stale-if-match": Bad(
        "POST",
        P_DECIDE,
        409,
        "version-conflict",
        body={"decision": "decline"},
        if_match='"1"',
    ),
    "decide/unknown-case": Bad(
        "POST", "/cases/{missing}/decision", 404, "not-found", body={"decision": "decline"}
    ),
    "decide/other-org": Bad(
        "POST", "/cases/{other_case}/decision", 404, "not-found", body={"decision": "decline"}
    ),
    "decide/no-token": Bad(
        "POST", P_DECIDE, 401, "unauthorized", body={"decision": "decline"}, who="none"
    ),
    "decide/team-lead": Bad(
        "POST", P_DECIDE, 403, "forbidden", body={"decision": "decline"}, who="team_lead"
    ),
    "decide/partner": Bad(
        "POST", P_DECIDE, 403, "forbidden", body={"decision": "decline"}, who="partner"
    ),
}


@dataclass
class World:
    """One organisation's client (v2: registered, guidance consent) and its case (v2:
    opened, one assessment, no entry check), plus, when a row needs them, a client
    without consent and another organisation's client and case."""

    org: str
    headers: dict[str, str]
    ids: dict[str, str]


async def build_world(api: httpx.AsyncClient, token: Any, bad: Bad) -> World:
    org = new_org()
    headers = bearer(token("counsellor", org=org))
    client = await a_registered_client(api, headers)
    await a_guidance_consent(api, headers, client)
    case = await an_open_case(api, headers, client)
    await post_case(api, headers, case, "assessments", ASSESSMENT, 201)
    ids = {"client": client, "case": case, "missing": str(uuid.uuid4())}
    text = repr(bad)
    if "{bare}" in text:
        ids["bare"] = await a_registered_client(api, headers, given_name="Bare")
    if "{other_" in text:
        other = bearer(token("counsellor", org=new_org()))
        ids["other_case"] = await an_open_case(api, other)
        ids["other_client"] = (await get_ok(api, f"/cases/{ids['other_case']}", other)).json()[
            "client_id"
        ]
    return World(org, headers, ids)


def caller(who: str, world: World, token: Any, settings: Any) -> dict[str, str]:
    if who == "counsellor":
        return world.headers
    if who == "none":
        return {}
    if who == "garbage":
        return {"Authorization": "Bearer not.a.jwt"}
    if who == "basic":
        return {"Authorization": "Basic Y291bnNlbGxvcjpzZWNyZXQ="}
    if who == "expired":
        return bearer(token("counsellor", org=world.org, ttl_seconds=-120))
    if who == "forged":
        now = int(datetime.now(UTC).timestamp())
        claims = {
            "iss": "guidance-dev",
            "aud": "guidance",
            "sub": "mallory",
            "org": world.org,
            "roles": ["counsellor", "admin"],
            "iat": now,
            "exp": now + 600,
        }
        assert settings.jwt_secret != "not-the-secret-at-all-not-the-secret"
        return bearer(jwt.encode(claims, "not-the-secret-at-all-not-the-secret", "HS256"))
    if who == "partner":
        return bearer(token("partner", org=world.org, partner_id=uuid.uuid4()))
    return bearer(token(who, org=world.org))


async def snapshot(api: httpx.AsyncClient, app: Any, world: World) -> dict[str, Any]:
    """Everything a failed command must leave as it was."""
    h = world.headers
    client = await get_ok(api, f"/clients/{world.ids['client']}", h)
    case = await get_ok(api, f"/cases/{world.ids['case']}", h)
    cases = await get_ok(api, "/cases", h)
    state: dict[str, Any] = {
        "client": client.json(),
        "client_etag": client.headers["etag"],
        "consents": (await get_ok(api, f"/clients/{world.ids['client']}/consents", h)).json(),
        "case": case.json(),
        "case_etag": case.headers["etag"],
        "cases": cases.json(),
        "cases_total": cases.headers["x-total-count"],
        "events": await event_count(app),
    }
    for name in ("client", "case", "bare", "other_client", "other_case"):
        if name in world.ids:
            state[f"events:{name}"] = await event_count(app, world.ids[name])
    return state


@pytest.mark.parametrize("bad", list(BAD.values()), ids=list(BAD))
async def test_a_bad_request_answers_a_problem_and_changes_nothing(
    bad: Bad, api: httpx.AsyncClient, intake_app: Any, token: Any, settings: Any
) -> None:
    world = await build_world(api, token, bad)
    before = snapshot_before = await snapshot(api, intake_app, world)
    assert before["client"]["version"] == 2 and before["client_etag"] == '"2"'
    assert before["case"]["version"] == 2 and before["case_etag"] == '"2"'
    assert before["events:client"] == 2 and before["events:case"] == 2

    headers = dict(caller(bad.who, world, token, settings))
    if bad.if_match is not None:
        headers["If-Match"] = bad.if_match
    kwargs: dict[str, Any] = {"headers": headers}
    if bad.raw is not None:
        kwargs["content"] = bad.raw.encode()
        headers["Content-Type"] = "application/json"
    elif bad.body is not None:
        kwargs["json"] = fill(bad.body, world.ids)
    r = await api.request(bad.method, BASE + fill(bad.path, world.ids), **kwargs)

    body = assert_problem(r, bad.status, bad.code, bad.fields)
    for secret in ("Anna", "Peeters", "anna.peeters@example.org", "logistics"):
        assert secret not in body["detail"]
    after = await snapshot(api, intake_app, world)
    assert after == snapshot_before


async def test_an_invalid_json_body_is_reported_under_body(
    api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    r = await api.post(
        f"{BASE}/clients",
        content=b'{"given_name": "Anna", "family_name": ',
        headers={**counsellor, "Content-Type": "application/json"},
    )
    body = assert_problem(r, 422, INVALID)
    assert [e["field"] for e in body["errors"]] == ["body"]
