"""Intake's HTTP API against the contract: the happy journey, clients and consents, the
case list (the table of bad requests: `test_intake_bad_requests.py`).

The service is shared by the whole session, so every test works in an organisation of
its own (a fresh `org-…` id) with clients of its own.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx

from tests.scenarios import (
    ALL_THREES,
    PAST_SESSION,
    a_client_body,
    a_guidance_consent,
    a_registered_client,
    an_open_case,
    intake_events,
    intake_get,
    post_case,
)
from tests.support import INVALID, assert_problem, bearer, new_org

BASE = "/intake/v1"


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
        {"kind": "intake", "held_at": PAST_SESSION, "minutes": 90},
        201,
    )
    session_id = r.json()["session_id"]
    assert r.json()["version"] == 5

    r = await post_case(
        api, counsellor, case_id, "decision", {"decision": "accept", "reason": "Motivated"}, 200
    )
    assert (r.json()["version"], r.headers["etag"]) == (6, '"6"')

    r = await intake_get(api, f"/cases/{case_id}", counsellor)
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
    held_at = datetime.fromisoformat(case["sessions"][0]["held_at"])
    assert held_at == datetime.fromisoformat(PAST_SESSION)
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
    assert await intake_events(intake_app, case_id) == 6

    r = await intake_get(api, "/cases?status=accepted", counsellor)
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

    r = await intake_get(api, f"/clients/{client_id}", counsellor)
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
    seen = (await intake_get(api, f"/clients/{client_id}", team_lead)).json()
    assert seen["given_name"] == "Bram"


async def test_a_client_may_be_registered_without_phone_or_language(
    api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    body = a_client_body()
    del body["phone"], body["preferred_language"]
    r = await api.post(f"{BASE}/clients", json=body, headers=counsellor)
    assert r.status_code == 201, r.text
    client = (await intake_get(api, f"/clients/{r.json()['client_id']}", counsellor)).json()
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

    r = await intake_get(api, f"/clients/{client_id}/consents", counsellor)
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

    r = await intake_get(api, f"/clients/{client_id}/consents/history", counsellor)
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
    assert (await intake_get(api, f"/clients/{client_id}", counsellor)).json()["version"] == 5
    assert await intake_events(intake_app, client_id) == 5


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
    before = await intake_events(intake_app, client_id)
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
    assert await intake_events(intake_app, client_id) == before
    current = (await intake_get(api, f"/clients/{client_id}/consents", counsellor)).json()
    assert [(c["purpose"], c["data_categories"], c["granted"]) for c in current] == [
        ("referral", ["plan"], True)
    ]


async def test_if_match_with_the_current_version_lets_a_command_through(
    api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    client_id = await a_registered_client(api, counsellor)
    etag = (await intake_get(api, f"/clients/{client_id}", counsellor)).headers["etag"]
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
        ("sessions", {"kind": "intake", "held_at": PAST_SESSION, "minutes": 30}, 201),
        ("decision", {"decision": "accept"}, 200),
    ]
    for n, (what, body, expect) in enumerate(steps, start=1):
        etag = (await intake_get(api, f"/cases/{case_id}", counsellor)).headers["etag"]
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
    assert (await intake_get(api, f"/cases/{case_id}", counsellor)).json()["status"] == "accepted"


async def test_another_organisations_client_and_case_read_exactly_like_absent_ones(
    api: httpx.AsyncClient, counsellor: dict[str, str], token: Any
) -> None:
    case_id = await an_open_case(api, counsellor)
    client_id = (await intake_get(api, f"/cases/{case_id}", counsellor)).json()["client_id"]
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
    before = await intake_events(intake_app)

    r = await api.post(
        f"{BASE}/cases",
        json={"client_id": client_id, "career_question": "What next?"},
        headers=counsellor,
    )

    assert_problem(r, 409, "consent-required")
    assert await intake_events(intake_app) == before
    r = await intake_get(api, f"/cases?client_id={client_id}", counsellor)
    assert (r.json(), r.headers["x-total-count"]) == ([], "0")

    await a_guidance_consent(api, counsellor, client_id)
    case_id = await an_open_case(api, counsellor, client_id)
    assert (await intake_get(api, f"/cases/{case_id}", counsellor)).json()["status"] == "open"


async def test_a_decided_case_refuses_a_second_decision_and_further_intake_work(
    api: httpx.AsyncClient, counsellor: dict[str, str], intake_app: Any
) -> None:
    case_id = await an_open_case(api, counsellor)
    r = await post_case(
        api, counsellor, case_id, "decision", {"decision": "refer_out", "reason": "Psych"}, 200
    )
    assert r.json()["version"] == 2
    before = (await intake_get(api, f"/cases/{case_id}", counsellor)).json()
    assert (before["status"], before["phase"]) == ("referred_out", "closed")
    assert before["decision"]["reason"] == "Psych"

    for what, body in (
        ("decision", {"decision": "accept"}),
        ("decision", {"decision": "decline"}),
        ("entry-check", {"eligible": True}),
        ("assessments", {"assessor": "client", "scores": ALL_THREES}),
        ("sessions", {"kind": "intake", "held_at": PAST_SESSION, "minutes": 30}),
    ):
        r = await api.post(f"{BASE}/cases/{case_id}/{what}", json=body, headers=counsellor)
        assert_problem(r, 409, "case-decided")

    assert (await intake_get(api, f"/cases/{case_id}", counsellor)).json() == before
    assert await intake_events(intake_app, case_id) == 2


async def test_declining_closes_the_case(
    api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    case_id = await an_open_case(api, counsellor)
    await post_case(api, counsellor, case_id, "decision", {"decision": "decline"}, 200)
    case = (await intake_get(api, f"/cases/{case_id}", counsellor)).json()
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
    case = (await intake_get(api, f"/cases/{case_id}", counsellor)).json()
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

    r = await intake_get(api, "/cases", counsellor)
    assert r.headers["x-total-count"] == "5"
    listed = [c["case_id"] for c in r.json()]
    assert sorted(listed) == sorted(opened)
    assert foreign not in listed
    assert {c["organisation"] for c in r.json()} == {org}
    assert listed == list(reversed(opened)), "newest first"

    r = await intake_get(api, "/cases?status=declined", counsellor)
    assert r.headers["x-total-count"] == "2"
    assert sorted(c["case_id"] for c in r.json()) == sorted(opened[:2])
    assert {(c["status"], c["phase"]) for c in r.json()} == {("declined", "closed")}

    r = await intake_get(api, "/cases?status=open", counsellor)
    assert sorted(c["case_id"] for c in r.json()) == sorted(opened[2:])

    assert (await intake_get(api, "/cases?status=accepted", counsellor)).json() == []

    pages = []
    for offset in (0, 2, 4):
        r = await intake_get(api, f"/cases?limit=2&offset={offset}", counsellor)
        assert r.headers["x-total-count"] == "5"
        pages.append([c["case_id"] for c in r.json()])
        if offset < 4:
            assert 'rel="next"' in r.headers["link"]
            # Paged by offset, the next page is by offset; the first page's by cursor.
            assert (f"offset={offset + 2}" if offset else "cursor=") in r.headers["link"]
        else:
            assert "link" not in r.headers
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [c for page in pages for c in page] == listed

    r = await intake_get(api, "/cases?offset=10", counsellor)
    assert (r.json(), r.headers["x-total-count"]) == ([], "5")

    team_lead = bearer(token("team_lead", org=org))
    assert (await intake_get(api, "/cases", team_lead)).headers["x-total-count"] == "5"
