"""`?counsellor=` on the lists of planning (plans), follow-up (follow-ups) and referral
(the counsellor's side), on the real PostgreSQL and NATS: two counsellors of one
organisation and one of another (with the same `sub` as the first: a filter never
reaches across organisations), `me`, each item's `counsellor`, and a plan's counsellor
being the case's (who opened it), not who accepted it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.scenarios import (
    CLIENT_SCORES,
    COUNSELLOR_SCORES,
    a_sent_referral,
    an_accepted_case,
    an_agreed_plan,
    wait_for_plan,
)
from tests.support import assert_problem, bearer, eventually, new_org

INTAKE = "/intake/v1"
PLANNING = "/planning/v1"
FU = "/followup/v1"
REFERRAL = "/referral/v1"


def three(token: Any) -> tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, str]]:
    """Anna and Bram of one organisation, its team lead, and a namesake of Anna elsewhere."""
    org = new_org()
    return (
        bearer(token("counsellor", org=org, sub="anna.c")),
        bearer(token("counsellor", org=org, sub="bram.c")),
        bearer(token("team_lead", org=org, sub="lead-1")),
        bearer(token("counsellor", org=new_org(), sub="anna.c")),
    )


async def ids(
    client: httpx.AsyncClient, path: str, key: str, headers: dict[str, str], **params: Any
) -> list[str]:
    r = await client.get(path, params=params, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["x-total-count"] == str(len(r.json()))
    return sorted(str(item[key]) for item in r.json())


async def test_plans_filter_by_the_cases_counsellor(
    api: httpx.AsyncClient, planning_api: httpx.AsyncClient, token: Any
) -> None:
    anna, bram, lead, namesake = three(token)
    _, opened_by_anna = await an_accepted_case(api, anna)
    _, case = await an_accepted_case(api, anna)
    _, bram_case = await an_accepted_case(api, bram)
    _, foreign = await an_accepted_case(api, namesake)
    plans = {
        c: await wait_for_plan(planning_api, h, c)
        for c, h in (
            (opened_by_anna, anna),
            (case, anna),
            (bram_case, bram),
            (foreign, namesake),
        )
    }
    assert {c: p["counsellor"] for c, p in plans.items()} == {
        opened_by_anna: "anna.c",
        case: "anna.c",
        bram_case: "bram.c",
        foreign: "anna.c",
    }
    of = {c: str(p["plan_id"]) for c, p in plans.items()}
    path = f"{PLANNING}/plans"

    assert await ids(planning_api, path, "plan_id", lead) == sorted(
        [of[opened_by_anna], of[case], of[bram_case]]
    )
    assert await ids(planning_api, path, "plan_id", lead, counsellor="anna.c") == sorted(
        [of[opened_by_anna], of[case]]
    )
    assert await ids(planning_api, path, "plan_id", lead, counsellor="bram.c") == [of[bram_case]]
    assert await ids(planning_api, path, "plan_id", bram, counsellor="me") == [of[bram_case]]
    assert await ids(planning_api, path, "plan_id", lead, counsellor="me") == []
    assert await ids(planning_api, path, "plan_id", namesake, counsellor="me") == [of[foreign]]
    assert await ids(planning_api, path, "plan_id", namesake, counsellor="bram.c") == []
    # With `case_id` too.
    assert (
        await ids(planning_api, path, "plan_id", lead, case_id=bram_case, counsellor="anna.c") == []
    )
    assert await ids(
        planning_api, path, "plan_id", lead, case_id=bram_case, counsellor="bram.c"
    ) == [of[bram_case]]


async def test_a_plans_counsellor_is_who_opened_the_case_not_who_accepted_it(
    api: httpx.AsyncClient, planning_api: httpx.AsyncClient, token: Any
) -> None:
    anna, bram, lead, _ = three(token)
    body = {"given_name": "Sanne", "family_name": "de Vries", "birth_date": "1990-05-17"}
    r = await api.post(f"{INTAKE}/clients", json={**body, "email": "s@example.org"}, headers=anna)
    client_id = r.json()["client_id"]
    r = await api.post(
        f"{INTAKE}/clients/{client_id}/consents",
        json={"purpose": "guidance", "granted": True},
        headers=anna,
    )
    r = await api.post(
        f"{INTAKE}/cases",
        json={"client_id": client_id, "career_question": "Into teaching?"},
        headers=anna,
    )
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    for what, step in (
        ("entry-check", {"eligible": True}),
        ("assessments", {"assessor": "client", "scores": CLIENT_SCORES}),
        ("assessments", {"assessor": "counsellor", "scores": COUNSELLOR_SCORES}),
        ("decision", {"decision": "accept"}),
    ):
        r = await api.post(f"{INTAKE}/cases/{case_id}/{what}", json=step, headers=bram)
        assert r.status_code in (200, 201), r.text

    plan = await wait_for_plan(planning_api, lead, case_id)
    assert plan["counsellor"] == "anna.c"
    listed = await ids(planning_api, f"{PLANNING}/plans", "plan_id", bram, counsellor="me")
    assert str(plan["plan_id"]) not in listed


async def test_followups_filter_by_counsellor(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    token: Any,
) -> None:
    anna, bram, lead, namesake = three(token)
    a1 = await an_agreed_plan(api, planning_api, followup_api, anna)
    a2 = await an_agreed_plan(api, planning_api, followup_api, anna)
    b1 = await an_agreed_plan(api, planning_api, followup_api, bram)
    f1 = await an_agreed_plan(api, planning_api, followup_api, namesake)
    assert (a1.followup["counsellor"], b1.followup["counsellor"]) == ("anna.c", "bram.c")
    path = f"{FU}/followups"

    async def listed(headers: dict[str, str], **params: Any) -> list[str]:
        return await ids(followup_api, path, "followup_id", headers, **params)

    assert await listed(lead) == sorted([a1.followup_id, a2.followup_id, b1.followup_id])
    assert await listed(lead, counsellor="anna.c") == sorted([a1.followup_id, a2.followup_id])
    assert await listed(lead, counsellor="bram.c") == [b1.followup_id]
    assert await listed(anna, counsellor="me") == sorted([a1.followup_id, a2.followup_id])
    assert await listed(lead, counsellor="me") == []
    assert await listed(namesake, counsellor="me") == [f1.followup_id]
    assert await listed(namesake, counsellor="bram.c") == []
    assert await listed(lead, case_id=b1.case_id, counsellor="anna.c") == []
    assert await listed(lead, case_id=b1.case_id, counsellor="me") == []
    assert await listed(bram, case_id=b1.case_id, counsellor="me") == [b1.followup_id]

    r = await followup_api.get(path, params={"counsellor": "anna.c", "limit": 1}, headers=lead)
    assert r.status_code == 200 and len(r.json()) == 1
    assert r.headers["x-total-count"] == "2" and 'rel="next"' in r.headers["link"]
    # Newest first.
    assert r.json()[0]["followup_id"] == a2.followup_id


async def test_followup_lists_record_one_read_per_listed_client(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    token: Any,
) -> None:
    anna, _, lead, _ = three(token)
    a1 = await an_agreed_plan(api, planning_api, followup_api, anna)
    auditor = bearer(token("auditor", org="org-audit", sub="r.auditor", audit_scope="*"))

    async def list_reads() -> list[dict[str, Any]]:
        r = await followup_api.get(
            f"{FU}/audit/access-log", params={"client_id": a1.client_id}, headers=auditor
        )
        assert r.status_code == 200, r.text
        return [a for a in r.json() if a["resource"] == "followup-list"]

    before = len(await list_reads())
    r = await followup_api.get(f"{FU}/followups", params={"counsellor": "me"}, headers=anna)
    assert r.status_code == 200, r.text
    r = await followup_api.get(f"{FU}/followups", headers=lead)
    assert r.status_code == 200, r.text
    reads = await list_reads()
    assert len(reads) == before + 2
    assert {(a["actor"], a["purpose"]) for a in reads[:2]} == {
        ("anna.c", "guidance"),
        ("lead-1", "guidance"),
    }


async def test_referrals_filter_by_the_cases_counsellor(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    token: Any,
) -> None:
    anna, bram, lead, namesake = three(token)
    pool = referral_app.state.runtime.pool
    a1 = (await a_sent_referral(api, referral_api, pool, admin, anna, token))["referral_id"]
    a2 = (await a_sent_referral(api, referral_api, pool, admin, anna, token))["referral_id"]
    b = await a_sent_referral(api, referral_api, pool, admin, bram, token)
    b1 = b["referral_id"]
    f1 = (await a_sent_referral(api, referral_api, pool, admin, namesake, token))["referral_id"]
    path = f"{REFERRAL}/referrals"

    async def listed(headers: dict[str, str], **params: Any) -> list[str]:
        return await ids(referral_api, path, "referral_id", headers, **params)

    r = await referral_api.get(path, headers=lead)
    assert {i["referral_id"]: i["counsellor"] for i in r.json()} == {
        a1: "anna.c",
        a2: "anna.c",
        b1: "bram.c",
    }
    assert await listed(lead, counsellor="anna.c") == sorted([a1, a2])
    assert await listed(lead, counsellor="bram.c") == [b1]
    assert await listed(bram, counsellor="me") == [b1]
    assert await listed(lead, counsellor="me") == []
    assert await listed(namesake, counsellor="me") == [f1]
    assert await listed(namesake, counsellor="bram.c") == []

    # The partner's inbox names no counsellor and takes no such filter.
    r = await referral_api.get(path, headers=b["partner"])
    assert r.status_code == 200 and [i["referral_id"] for i in r.json()] == [b1]
    assert "counsellor" not in r.json()[0]
    r = await referral_api.get(path, params={"counsellor": "bram.c"}, headers=b["partner"])
    assert_problem(r, 403, "forbidden")


async def test_a_referral_proposed_before_referral_knew_the_counsellor_gets_it_later(
    referral_app: Any,
) -> None:
    """CaseAccepted may reach referral before CaseOpened; a row listed without the
    counsellor gets it when the case's counsellor arrives."""
    import uuid

    from services.referral.consumers import on_case_accepted, on_case_opened
    from shared.contracts import contract_for
    from shared.messaging.envelope import CloudEvent

    pool = referral_app.state.runtime.pool
    case_id, client_id, referral_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    org = new_org()
    common = {"case_id": str(case_id), "client_id": str(client_id), "organisation": org}

    def event(kind: str, **data: Any) -> tuple[Any, CloudEvent]:
        """The contract and its envelope, as the read model's consumer hands them."""
        envelope = CloudEvent.model_validate(
            {
                "id": str(uuid.uuid4()),
                "source": "/waypoint/intake",
                "type": f"guidance.intake.{kind}.v1",
                "subject": str(case_id),
                "time": "2026-01-05T10:00:00+00:00",
                "datacontenttype": "application/json",
                "specversion": "1.0",
                "data": {**common, "occurred_at": "2026-01-05T10:00:00+00:00", **data},
            }
        )
        contract = contract_for("intake", kind, 1)
        assert contract is not None
        return contract.model_validate(envelope.data), envelope

    async with pool.acquire() as conn:
        await on_case_accepted(conn, *event("CaseAccepted", actor="lead-1", gaps=[], scores={}))
        await conn.execute(
            "INSERT INTO referral.referrals_view (referral_id, case_id, client_id, organisation, "
            "partner_id, status, data_categories, consent_id, proposed_at, updated_at, version, "
            "counsellor) VALUES ($1,$2,$3,$4,$5,'proposed','{}',$5,now(),now(),1,"
            "(SELECT counsellor FROM referral.cases WHERE case_id = $2))",
            referral_id,
            case_id,
            client_id,
            org,
            uuid.uuid4(),
        )
        assert (
            await conn.fetchval(
                "SELECT counsellor FROM referral.referrals_view WHERE referral_id = $1", referral_id
            )
            is None
        )
        await on_case_opened(
            conn, *event("CaseOpened", actor="anna.c", career_question="ERASED", hours_budget=12.0)
        )
        assert (
            await conn.fetchval(
                "SELECT counsellor FROM referral.referrals_view WHERE referral_id = $1", referral_id
            )
            == "anna.c"
        )


async def test_the_case_lists_counsellor_reaches_referral_with_the_acceptance(
    api: httpx.AsyncClient, referral_app: Any, token: Any
) -> None:
    anna, bram, _, _ = three(token)
    del bram
    _, case_id = await an_accepted_case(api, anna)
    pool = referral_app.state.runtime.pool

    async def known() -> Any:
        return await pool.fetchval(
            "SELECT counsellor FROM referral.cases WHERE case_id = $1::uuid AND accepted",
            case_id,
        )

    assert await eventually(known, "the case's counsellor in referral") == "anna.c"
