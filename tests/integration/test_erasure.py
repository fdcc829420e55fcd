"""Erasure across the four services on the real PostgreSQL and NATS: the key is
destroyed, every service drops the client's rows and confirms, the receipt completes;
a legal hold refuses the erasure and the refusal is recorded."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tests.conftest import stream_messages
from tests.scenarios import a_sent_referral
from tests.support import assert_problem, bearer, eventually

INTAKE = "/intake/v1"


async def test_an_erasure_reaches_every_service_and_completes(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    intake_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    token: Any,
    js: Any,
) -> None:
    pool = referral_app.state.runtime.pool
    w = await a_sent_referral(api, referral_api, pool, admin, counsellor, token)
    client_id = w["client_id"]

    # Before: planning has the client's name and career question (sealed), to print them.
    async def in_planning() -> bool:
        for table in ("planning.clients_view", "planning.cases_view"):
            n = await pool.fetchval(
                f"SELECT count(*) FROM {table} WHERE client_id = $1", uuid.UUID(client_id)
            )
            if n == 0:
                return False
        return True

    await eventually(in_planning, "the client's copies in planning")

    r = await api.post(
        f"{INTAKE}/clients/{client_id}/erasure",
        json={"reason": "The client asked for erasure (request 2026-118)."},
        headers=counsellor,
    )
    assert r.status_code == 202, r.text
    erasure_id = r.json()["erasure_id"]

    async def completed() -> dict[str, Any] | None:
        r = await api.get(f"{INTAKE}/clients/{client_id}/erasure", headers=counsellor)
        assert r.status_code == 200, r.text
        receipt: dict[str, Any] = r.json()
        return receipt if receipt["status"] == "completed" else None

    receipt = await eventually(completed, "all four confirmations")
    assert receipt["erasure_id"] == erasure_id
    assert receipt["services"] == {
        "intake": True,
        "planning": True,
        "followup": True,
        "referral": True,
    }
    assert receipt["key_id"] == client_id and receipt["key_destroyed_at"] is not None
    assert receipt["requested_by"] == "counsellor-1"
    assert receipt["reason"].startswith("The client asked")

    # Asking again answers the same erasure.
    r = await api.post(
        f"{INTAKE}/clients/{client_id}/erasure", json={"reason": "again"}, headers=counsellor
    )
    assert r.status_code == 202 and r.json()["erasure_id"] == erasure_id

    r = await api.get(f"{INTAKE}/clients/{client_id}", headers=counsellor)
    assert_problem(r, 404, "not-found")
    # The case stays in intake's list (anonymous: see test_case_list.py), its question gone.
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM intake.cases_view WHERE client_id = $1 "
            "AND career_question_sealed IS NOT NULL",
            uuid.UUID(client_id),
        )
        == 0
    )
    for table in (
        "intake.clients_view",
        "referral.consents",
        "referral.sealed_copies",
        "referral.referrals_view",
        "referral.client_languages",
        "planning.clients_view",
        "planning.cases_view",
        "intake.sessions_view",
        "followup.bottlenecks_view",
        "referral.statistics_consents",
    ):
        n = await pool.fetchval(
            f"SELECT count(*) FROM {table} WHERE client_id = $1", uuid.UUID(client_id)
        )
        assert n == 0, table

    # The partner's packet is gone with the key and the rows.
    r = await referral_api.get(
        f"/referral/v1/referrals/{w['referral_id']}/packet", headers=w["partner"]
    )
    assert r.status_code in (403, 404), r.text

    kinds = set()
    for stream in (
        "GUIDANCE_INTAKE",
        "GUIDANCE_PLANNING",
        "GUIDANCE_FOLLOWUP",
        "GUIDANCE_REFERRAL",
    ):
        for m in await stream_messages(js, stream):
            data = json.loads(m.data)["data"]
            if data.get("erasure_id") == erasure_id:
                kinds.add(m.subject)
    assert {
        "guidance.intake.ErasureRequested",
        "guidance.intake.ErasureConfirmed",
        "guidance.planning.ErasureConfirmed",
        "guidance.followup.ErasureConfirmed",
        "guidance.referral.ErasureConfirmed",
        "guidance.intake.ErasureCompleted",
    } <= kinds


async def test_a_legal_hold_refuses_the_erasure_and_the_refusal_is_recorded(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    org: str,
    intake_app: Any,
    token: Any,
    js: Any,
) -> None:
    pool = referral_app.state.runtime.pool
    w = await a_sent_referral(api, referral_api, pool, admin, counsellor, token)
    client_id, case_id = w["client_id"], w["case_id"]
    lead = bearer(token("team_lead", org=org, sub="lead-1"))
    r = await api.get(f"{INTAKE}/cases/{case_id}/legal-hold", headers=counsellor)
    assert r.status_code == 200, r.text
    assert (r.json()["legal_hold"], r.json()["legal_holds"], r.json()["version"]) == (False, [], 0)

    r = await api.put(
        f"{INTAKE}/cases/{case_id}/legal-hold",
        json={"reason": "Court order 2026/77"},
        headers=counsellor,
    )
    assert_problem(r, 403, "forbidden")
    r = await api.put(
        f"{INTAKE}/cases/{case_id}/legal-hold", json={"reason": "Court order 2026/77"}, headers=lead
    )
    assert r.status_code == 200, r.text
    assert r.json()["legal_hold"] is True
    r = await api.get(f"{INTAKE}/cases/{case_id}/legal-hold", headers=counsellor)
    held = r.json()
    assert (held["legal_hold"], held["client_id"], held["version"] > 0) == (True, client_id, True)
    assert [(h["case_id"], h["reason"]) for h in held["legal_holds"]] == [
        (case_id, "Court order 2026/77")
    ]

    r = await api.post(
        f"{INTAKE}/clients/{client_id}/erasure",
        json={"reason": "Asked by the client"},
        headers=lead,
    )
    assert_problem(r, 409, "legal-hold")
    # Nothing erased: the client is still there, its key too.
    r = await api.get(f"{INTAKE}/clients/{client_id}", headers=counsellor)
    assert r.status_code == 200 and r.json()["given_name"] == "Bram"
    assert intake_app.state.application.vault.key_for(uuid.UUID(client_id)) is not None
    r = await api.get(f"{INTAKE}/clients/{client_id}/erasure", headers=counsellor)
    assert_problem(r, 404, "not-found")
    assert "1 refused" in r.json()["detail"]

    async def refusal_published() -> bool:
        for m in await stream_messages(js, "GUIDANCE_INTAKE"):
            if m.subject == "guidance.intake.ErasureRefused":
                data = json.loads(m.data)["data"]
                if data["client_id"] == client_id:
                    return data["held_cases"] == [case_id]
        return False

    await eventually(refusal_published, "ErasureRefused on NATS")

    # Lifted: the erasure goes through.
    r = await api.delete(f"{INTAKE}/cases/{case_id}/legal-hold", headers=lead)
    assert r.status_code == 200 and r.json()["legal_hold"] is False
    r = await api.get(f"{INTAKE}/cases/{case_id}/legal-hold", headers=lead)
    assert (r.json()["legal_hold"], r.json()["legal_holds"]) == (False, [])
    r = await api.post(
        f"{INTAKE}/clients/{client_id}/erasure",
        json={"reason": "Asked by the client"},
        headers=lead,
    )
    assert r.status_code == 202, r.text
