"""The audit trail of the running services: the chain over real commands, the auditor's
views (events with their links, state as of a moment, access log), verification,
checkpoints on NATS, and who may read what."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.audit.access import DataAccess
from shared.audit.checkpoints import STREAM, subject_for
from shared.audit.proof import GENESIS, Checkpoint, link_hash, link_payload, load_public_key
from shared.auth import Principal
from shared.privacy import ERASED
from shared.privacy.sealing import event_id
from tests.scenarios import INTAKE, an_accepted_case, wait_for_plan
from tests.support import assert_problem, bearer, new_org

AUDIT = f"{INTAKE}/audit"


def auditor(token: Any, sub: str = "r.auditor") -> dict[str, str]:
    """A supervisory authority's auditor: every organisation's cases (`audit_scope` *);
    the cross-organisation scoping is in test_cross_org_matrix.py."""
    return bearer(token("auditor", org="org-audit", sub=sub, audit_scope="*"))


async def events_of(
    client: httpx.AsyncClient, prefix: str, case_id: str, headers: dict[str, str]
) -> list[dict[str, Any]]:
    r = await client.get(f"{prefix}/audit/cases/{case_id}/events", headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json())


def recomputes(event: dict[str, Any]) -> bool:
    payload = link_payload(
        event["position"],
        event["originator_id"],
        event["originator_version"],
        event["topic"],
        bytes.fromhex(event["state_sha256"]),
    )
    return link_hash(bytes.fromhex(event["prev_hash"]), payload).hex() == event["hash"]


async def test_the_events_view_shows_a_case_in_order_with_links_that_recompute(
    api: httpx.AsyncClient, token: Any
) -> None:
    counsellor = bearer(token("counsellor", org=new_org(), sub="c.jansen"))
    client_id, case_id = await an_accepted_case(api, counsellor)

    events = await events_of(api, INTAKE, case_id, auditor(token))

    types = [e["type"] for e in events]
    assert types[0] == "Case.Opened" and "Case.Accepted" in types, types
    assert types.index("Case.EntryChecked") < types.index("Case.Accepted")
    positions = [e["position"] for e in events]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    versions = [e["originator_version"] for e in events if e["originator_id"] == case_id]
    assert versions == list(range(1, len(versions) + 1))
    for e in events:
        assert recomputes(e), e
        assert e["event_id"] == str(event_id(e["originator_id"], e["originator_version"]))
        assert e["occurred_at"] and e["actor"] == "c.jansen"
        assert e["data"]["client_id"] == client_id
    opened = events[0]
    assert opened["data"]["career_question"] and opened["personal_fields"] == ["career_question"]


async def test_the_chain_covers_every_event_and_verifies(
    api: httpx.AsyncClient, intake_app: FastAPI, token: Any
) -> None:
    await an_accepted_case(api, bearer(token("counsellor", org=new_org())))
    audit = intake_app.state.audit
    await audit.caught_up()

    r = await api.get(f"{AUDIT}/verify", headers=auditor(token))

    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True, body
    stored = await audit.pool.fetchval('SELECT count(*) FROM "intake".intake_events')
    assert body["checked"] + body["unchained"] == stored
    assert body["checked"] >= 10 and "first_bad_position" not in body
    links = await audit.pool.fetch(
        'SELECT position, prev_hash, hash FROM "intake".audit_chain ORDER BY position'
    )
    assert links[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(links))


async def test_personal_fields_of_an_erased_client_show_as_erased_and_the_chain_still_verifies(
    api: httpx.AsyncClient, intake_app: FastAPI, token: Any
) -> None:
    client_id, case_id = await an_accepted_case(api, bearer(token("counsellor", org=new_org())))
    before = await events_of(api, INTAKE, case_id, auditor(token))
    intake_app.state.application.vault.destroy(uuid.UUID(client_id), by="test", reason="erasure")

    after = await events_of(api, INTAKE, case_id, auditor(token))
    verified = (await api.get(f"{AUDIT}/verify", headers=auditor(token))).json()

    assert before[0]["data"]["career_question"] != ERASED
    assert after[0]["data"]["career_question"] == ERASED
    assert [e["hash"] for e in after[: len(before)]] == [e["hash"] for e in before]
    assert verified["ok"] is True, verified


async def test_planning_lists_its_events_of_the_same_case(
    api: httpx.AsyncClient, planning_api: httpx.AsyncClient, token: Any
) -> None:
    headers = bearer(token("counsellor", org=new_org()))
    _, case_id = await an_accepted_case(api, headers)
    plan = await wait_for_plan(planning_api, headers, case_id)

    events = await events_of(planning_api, "/planning/v1", case_id, auditor(token))

    state = await planning_api.get(
        f"/planning/v1/audit/cases/{case_id}/state", headers=auditor(token)
    )

    assert events[0]["type"] == "Plan.Created"
    assert events[0]["originator_id"] == plan["plan_id"]
    assert all(recomputes(e) for e in events)
    assert state.status_code == 200, state.text
    [rebuilt] = state.json()["aggregates"]
    assert (rebuilt["type"], rebuilt["id"]) == ("Plan", plan["plan_id"])
    assert rebuilt["state"]["case_id"] == case_id


async def test_the_state_as_of_a_moment_is_the_case_as_it_stood_then(
    api: httpx.AsyncClient, token: Any
) -> None:
    headers = bearer(token("counsellor", org=new_org()))
    r = await api.post(
        f"{INTAKE}/clients",
        json={
            "given_name": "Els",
            "family_name": "Maes",
            "birth_date": "1985-02-03",
            "email": "els@example.org",
        },
        headers=headers,
    )
    client_id = r.json()["client_id"]
    r = await api.post(
        f"{INTAKE}/clients/{client_id}/consents",
        json={"purpose": "guidance", "granted": True},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    before_case = datetime.now(UTC)
    await asyncio.sleep(0.01)
    r = await api.post(
        f"{INTAKE}/cases",
        json={"client_id": client_id, "career_question": "Welk vak?"},
        headers=headers,
    )
    case_id = r.json()["case_id"]
    await asyncio.sleep(0.01)
    opened = datetime.now(UTC)
    await asyncio.sleep(0.01)
    r = await api.post(
        f"{INTAKE}/cases/{case_id}/entry-check",
        json={"eligible": True, "notes": "ok"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    await asyncio.sleep(0.01)
    checked = datetime.now(UTC)

    async def state(at: datetime | None) -> httpx.Response:
        params = {"as_of": at.isoformat()} if at else {}
        return await api.get(
            f"{AUDIT}/cases/{case_id}/state", params=params, headers=auditor(token)
        )

    at_open, at_check, now = (await state(opened)), (await state(checked)), (await state(None))
    too_early = await state(before_case)
    unknown = await api.get(f"{AUDIT}/cases/{uuid.uuid4()}/state", headers=auditor(token))

    def case(r: httpx.Response) -> dict[str, Any]:
        assert r.status_code == 200, r.text
        [aggregate] = r.json()["aggregates"]
        assert aggregate["type"] == "Case" and aggregate["id"] == case_id
        return dict(aggregate)

    assert case(at_open)["version"] == 1 and case(at_open)["state"]["entry_check"] is None
    assert case(at_open)["state"]["career_question"] == "Welk vak?"
    assert case(at_check)["version"] == 2
    assert case(at_check)["state"]["entry_check"]["eligible"] is True
    assert case(now)["version"] == 2
    assert_problem(too_early, 404, "not-found")
    assert_problem(unknown, 404, "not-found")


async def test_the_access_log_lists_the_auditors_own_reads_newest_first_and_paged(
    api: httpx.AsyncClient, token: Any
) -> None:
    client_id, case_id = await an_accepted_case(api, bearer(token("counsellor", org=new_org())))
    reader = auditor(token, sub="r.reader")
    await events_of(api, INTAKE, case_id, reader)
    r = await api.get(f"{AUDIT}/cases/{case_id}/state", headers=reader)
    assert r.status_code == 200, r.text

    r = await api.get(f"{AUDIT}/access-log", params={"client_id": client_id}, headers=reader)
    page = await api.get(
        f"{AUDIT}/access-log",
        params={"client_id": client_id, "limit": 1, "offset": 1},
        headers=reader,
    )

    assert r.status_code == 200, r.text
    assert r.headers["x-total-count"] == "2"
    reads = r.json()
    assert [a["resource"] for a in reads] == ["audit-state", "audit-events"]
    for a in reads:
        assert (a["client_id"], a["case_id"], a["actor"]) == (client_id, case_id, "r.reader")
        assert (a["purpose"], a["role"], a["organisation"]) == ("audit", "auditor", "org-audit")
    assert "career_question" in reads[1]["categories"]
    assert page.json() == reads[1:] and page.headers["x-total-count"] == "2"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/cases/{case}/events"),
        ("GET", "/cases/{case}/state"),
        ("GET", "/verify"),
        ("GET", "/access-log"),
        ("GET", "/checkpoints"),
        ("GET", "/public-key"),
        ("POST", "/checkpoints"),
    ],
)
async def test_a_counsellor_is_refused_and_a_caller_without_token_is_unauthorised(
    api: httpx.AsyncClient, token: Any, method: str, path: str
) -> None:
    url = AUDIT + path.format(case=uuid.uuid4())

    refused = await api.request(method, url, headers=bearer(token("counsellor")))
    anonymous = await api.request(method, url)

    assert_problem(refused, 403, "forbidden")
    assert_problem(anonymous, 401, "unauthorized")


async def test_only_an_admin_signs_a_checkpoint_on_demand_and_it_is_published_on_nats(
    api: httpx.AsyncClient, intake_app: FastAPI, token: Any, js: Any
) -> None:
    await an_accepted_case(api, bearer(token("counsellor", org=new_org())))
    admin = bearer(token("admin"))

    refused = await api.post(f"{AUDIT}/checkpoints", headers=auditor(token))
    r = await api.post(f"{AUDIT}/checkpoints", headers=admin)
    key = (await api.get(f"{AUDIT}/public-key", headers=auditor(token))).json()
    listed = await api.get(f"{AUDIT}/checkpoints", headers=auditor(token))
    message = await js.get_last_msg(STREAM, subject_for("intake"))
    verified = (await api.get(f"{AUDIT}/verify", headers=auditor(token))).json()

    assert_problem(refused, 403, "forbidden")
    assert r.status_code == 201, r.text
    signed = Checkpoint.from_json(r.json())
    head = await intake_app.state.audit.pool.fetchval(
        'SELECT max(position) FROM "intake".audit_chain'
    )
    assert signed.service == "intake" and signed.position == head
    assert signed.verifies(load_public_key(key))
    assert listed.headers["x-checkpoint-source"] == "nats"
    assert r.json() in listed.json()
    assert message.headers["Nats-Msg-Id"] == f"intake:{head}"
    assert Checkpoint.from_json(json.loads(message.data)) == signed
    assert verified["ok"] is True and verified["checkpoints_checked"] >= 1, verified
    assert verified["checkpoints_source"] == "nats"
    assert len(base64.b64decode(key["public_key"])) == 32


async def test_each_service_verifies_its_own_chain(
    planning_api: httpx.AsyncClient, followup_api: httpx.AsyncClient, token: Any
) -> None:
    for client, prefix in ((planning_api, "/planning/v1"), (followup_api, "/followup/v1")):
        r = await client.get(f"{prefix}/audit/verify", headers=auditor(token))
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is True, r.json()


async def test_the_access_log_of_a_client_nobody_read_is_empty(
    api: httpx.AsyncClient, token: Any
) -> None:
    r = await api.get(
        f"{AUDIT}/access-log",
        params={"client_id": str(uuid.uuid4())},
        headers=auditor(token),
    )
    assert (r.status_code, r.json(), r.headers["x-total-count"]) == (200, [], "0")


@pytest.mark.parametrize("service", ["intake", "planning", "followup"])
async def test_every_service_saves_recorded_reads_and_lists_them_in_its_access_log(
    service: str,
    intake_app: FastAPI,
    planning_app: FastAPI,
    followup_app: FastAPI,
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    token: Any,
) -> None:
    app, client = {
        "intake": (intake_app, api),
        "planning": (planning_app, planning_api),
        "followup": (followup_app, followup_api),
    }[service]
    audit = app.state.audit
    client_id, case_id, referral_id, partner_id = (uuid.uuid4() for _ in range(4))
    partner = Principal(
        sub="p.partner", org="org-p", roles=frozenset({"partner"}), partner_id=partner_id
    )
    read = DataAccess.record(
        partner,
        client_id=client_id,
        case_id=case_id,
        referral_id=referral_id,
        purpose="referral",
        resource="referral-packet",
        categories=["identity", "contact"],
        at=datetime.now(UTC),
    )
    await asyncio.to_thread(audit.app.save, read)

    r = await client.get(
        f"/{service}/v1/audit/access-log",
        params={"client_id": str(client_id)},
        headers=auditor(token),
    )

    assert r.status_code == 200, r.text
    [entry] = r.json()
    assert entry["access_id"] == str(read.id)
    assert (entry["referral_id"], entry["partner_id"]) == (str(referral_id), str(partner_id))
    assert (entry["actor"], entry["role"], entry["organisation"]) == (
        "p.partner",
        "partner",
        "org-p",
    )
    assert (entry["purpose"], entry["resource"]) == ("referral", "referral-packet")
    assert entry["categories"] == ["identity", "contact"]
    assert entry["position"] > 0 and entry["occurred_at"]
