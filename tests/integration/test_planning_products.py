"""Products of a plan's actions and the outcome's new codes over HTTP, the event store and
NATS: a skills-based CV and a job application are recorded under an agreed plan's action
(it stays agreed), the application moves on with the employer's answer, bad input is
refused naming the field with nothing changed, the texts are published sealed with the
client's key (opening to what was written), exported opened and printed; the follow-up
records a job with its contract."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from eventsourcing.utils import get_topic

from services.planning.domain import Plan
from shared.privacy.sealing import open_sealed
from tests.conftest import stream_messages
from tests.scenarios import INTAKE, an_agreed_plan, days, fsend, get_followup, get_plan, send
from tests.scenarios import PLANNING as BASE
from tests.support import INVALID, assert_problem, envelope, eventually

NEW_EVENTS = ("ProductRecorded", "ApplicationStatusChanged")


async def test_products_are_recorded_moved_on_sealed_exported_and_printed(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    planning_app: Any,
    followup_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    counsellor: dict[str, str],
    js: Any,
) -> None:
    # (Referral runs too: the export is complete or not given.)
    agreed = await an_agreed_plan(api, planning_api, followup_api, counsellor)
    plan_id, action_id = agreed.plan_id, agreed.action_id
    m = uuid.uuid4().hex[:10]
    before = (await get_plan(planning_api, plan_id, counsellor)).json()

    cv = await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/actions/{action_id}/products",
        counsellor,
        {"kind": "skills_cv", "title": f"Skills CV {m}", "date": days(-3)},
        201,
    )
    application = await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/actions/{action_id}/products",
        counsellor,
        {
            "kind": "application",
            "title": f"Application {m}",
            "date": days(-2),
            "notes": f"Tailored to the vacancy {m}",
            "employer": f"De Linde {m}",
            "position": f"Care assistant {m}",
            "sent_on": days(-1),
            "document_hash": "sha256:" + "ab" * 32,
        },
        201,
    )
    # A record of work done: the plan stays agreed, at the same revision.
    assert (application["status"], application["revision"]) == ("agreed", before["revision"])
    moved = await send(
        planning_api,
        "PUT",
        f"/plans/{plan_id}/products/{application['product_id']}/status",
        counsellor,
        {"status": "interview", "on": days(0), "answer": f"Invited for Thursday {m}"},
    )
    assert moved["status"] == "agreed"

    plan = (await get_plan(planning_api, plan_id, counsellor)).json()
    assert [p["product_id"] for p in plan["products"]] == [
        cv["product_id"],
        application["product_id"],
    ]
    assert plan["products"][0]["application"] is None
    shown = plan["products"][1]
    assert shown["action_id"] == action_id and shown["document_hash"] == "sha256:" + "ab" * 32
    assert shown["application"]["employer"] == f"De Linde {m}"
    assert shown["application"]["status"] == "interview"
    assert shown["application"]["sent_on"] == days(-1)
    assert [s["status"] for s in shown["application"]["steps"]] == ["sent", "interview"]

    # Bad input: 422 naming the field, nothing changed; an unknown action or product: 404.
    version = plan["version"]
    products = f"{BASE}/plans/{plan_id}/actions/{action_id}/products"
    for body, field in (
        ({"kind": "poem", "title": "x", "date": days(0)}, "kind"),
        ({"kind": "cv", "title": "", "date": days(0)}, "title"),
        ({"kind": "cv", "title": "x", "date": days(1)}, "date"),
        ({"kind": "cv", "title": "x", "date": days(0), "employer": "Y"}, "employer"),
        ({"kind": "application", "title": "x", "date": days(0), "position": "P"}, "employer"),
        ({"kind": "cv", "title": "x", "date": days(0), "document_hash": "md5:1"}, "document_hash"),
    ):
        r = await planning_api.post(products, json=body, headers=counsellor)
        assert_problem(r, 422, INVALID, (field,))
    status_path = f"{BASE}/plans/{plan_id}/products/{application['product_id']}/status"
    for body, field in (
        ({"status": "sent", "on": days(0)}, "status"),
        ({"status": "hired", "on": days(0)}, "status"),
        ({"status": "offer", "on": days(1)}, "on"),
        ({"status": "offer", "on": days(-5)}, "on"),
    ):
        r = await planning_api.put(status_path, json=body, headers=counsellor)
        assert_problem(r, 422, INVALID, (field,))
    r = await planning_api.put(
        f"{BASE}/plans/{plan_id}/products/{cv['product_id']}/status",
        json={"status": "sent", "on": days(0)},
        headers=counsellor,
    )
    assert_problem(r, 422, INVALID, ("product_id",))
    r = await planning_api.post(
        f"{BASE}/plans/{plan_id}/actions/{uuid.uuid4()}/products",
        json={"kind": "cv", "title": "x", "date": days(0)},
        headers=counsellor,
    )
    assert r.status_code == 404, r.text
    assert (await get_plan(planning_api, plan_id, counsellor)).json()["version"] == version

    # Stored sealed: the event store holds none of the texts.
    rows = await planning_app.state.runtime.pool.fetch(
        "SELECT topic, state FROM planning.planning_events WHERE originator_id = $1",
        uuid.UUID(plan_id),
    )
    assert {get_topic(getattr(Plan, n)) for n in NEW_EVENTS} <= {r["topic"] for r in rows}
    assert not any(m.encode() in bytes(r["state"]) for r in rows)

    # Published, each text sealed with the client's key and opening to what was written.
    async def all_published() -> list[dict[str, Any]]:
        found = [
            envelope(msg)
            for msg in await stream_messages(js, "GUIDANCE_PLANNING")
            if envelope(msg)["subject"] == agreed.case_id
        ]
        types = [e["type"].split(".")[2] for e in found]
        return found if types.count("ProductRecorded") == 2 and NEW_EVENTS[1] in types else []

    published = await eventually(all_published, "the products on GUIDANCE_PLANNING")
    recorded = [e for e in published if e["type"].split(".")[2] == "ProductRecorded"]
    [sent] = [e for e in recorded if e["data"]["kind"] == "application"]
    [answered] = [e for e in published if e["type"].split(".")[2] == "ApplicationStatusChanged"]
    assert (sent["data"]["sent_on"], sent["data"]["action_id"]) == (days(-1), action_id)
    assert (answered["data"]["status"], answered["data"]["on"]) == ("interview", days(0))
    planning = planning_app.state.application
    for event, name, plain in (
        (sent, "title", f"Application {m}"),
        (sent, "notes", f"Tailored to the vacancy {m}"),
        (sent, "employer", f"De Linde {m}"),
        (sent, "position", f"Care assistant {m}"),
        (answered, "answer", f"Invited for Thursday {m}"),
    ):
        sealed = event["data"][name]
        assert (sealed["$sealed"], sealed["kid"]) == ("A256GCM", agreed.client_id)
        opened = open_sealed(planning.vault, sealed, uuid.UUID(event["id"]), name)
        assert opened is not None
        assert planning.sealing.transcoder.decode(opened)["v"] == plain
    for msg in await stream_messages(js, "GUIDANCE_PLANNING"):
        assert m not in msg.data.decode()

    # The client's export holds them, opened; the printed plan lists them.
    r = await api.get(f"{INTAKE}/clients/{agreed.client_id}/export", headers=counsellor)
    assert r.status_code == 200, r.text
    [exported] = r.json()["services"]["planning"]["plans"]
    assert [p["title"] for p in exported["products"]] == [f"Skills CV {m}", f"Application {m}"]
    assert exported["products"][1]["application"]["steps"][1]["answer"] == (
        f"Invited for Thursday {m}"
    )
    r = await planning_api.get(
        f"{BASE}/plans/{plan_id}/document", params={"lang": "fr"}, headers=counsellor
    )
    assert r.status_code == 200, r.text
    assert "<h2>Ce que j'ai réalisé et envoyé</h2>" in r.text
    assert f"De Linde {m}" in r.text and "invité à un entretien" in r.text
    assert "CV par compétences" in r.text

    # The follow-up records the job with its contract; a contract without a job is refused.
    followup_id = agreed.followup_id
    path = f"/followups/{followup_id}/outcome"
    r = await followup_api.post(
        f"/followup/v1{path}",
        json={"outcome": "still_searching", "contract": "permanent", "on": days(0)},
        headers=counsellor,
    )
    assert_problem(r, 422, INVALID, ("contract",))
    await fsend(
        followup_api,
        "POST",
        path,
        counsellor,
        {"outcome": "employed", "contract": "fixed_term", "on": days(0)},
    )
    outcome = (await get_followup(followup_api, followup_id, counsellor))["outcome"]
    assert (outcome["outcome"], outcome["contract"]) == ("employed", "fixed_term")
