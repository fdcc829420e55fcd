"""Instruments and their results over HTTP, the event store and NATS: the agency's list is
read from the setting, a use is recorded on an agreed plan (it stays agreed) with its
result, scores and the competences and goals it informs, interpreted later; bad input is
refused naming the field with nothing changed; the texts and scores are published sealed
with the client's key (opening to what was written) and exported opened."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from eventsourcing.utils import get_topic

from services.planning.domain import Plan
from shared.privacy.sealing import open_sealed
from tests.conftest import stream_messages
from tests.scenarios import INTAKE, an_agreed_plan, days, get_plan, send
from tests.scenarios import PLANNING as BASE
from tests.support import INVALID, assert_problem, envelope, eventually


async def test_an_instrument_is_recorded_interpreted_sealed_and_exported(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    planning_app: Any,
    followup_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    counsellor: dict[str, str],
    js: Any,
) -> None:
    r = await planning_api.get(f"{BASE}/instruments", headers=counsellor)
    assert r.status_code == 200, r.text
    listed = {i["code"]: i for i in r.json()}
    assert listed["riasec"]["kind"] == "interests" and "nl" in listed["riasec"]["languages"]

    agreed = await an_agreed_plan(api, planning_api, followup_api, counsellor)
    plan_id = agreed.plan_id
    m = uuid.uuid4().hex[:10]
    before = (await get_plan(planning_api, plan_id, counsellor)).json()
    used = await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/instruments",
        counsellor,
        {
            "instrument": "riasec",
            "used_on": days(-1),
            "result": f"Social first {m}",
            "scores": {f"Social{m}": 38, "Investigative": 31.5},
            "competences": ["quality_reflection"],
            "goal_ids": [agreed.goal_id],
        },
        201,
    )
    assert (used["status"], used["revision"]) == ("agreed", before["revision"])
    path = f"/plans/{plan_id}/instruments/{used['use_id']}/interpretation"
    await send(planning_api, "PUT", path, counsellor, {"interpretation": f"Care fits {m}"})

    [shown] = (await get_plan(planning_api, plan_id, counsellor)).json()["instruments"]
    assert shown["instrument_name"] == listed["riasec"]["name"]
    assert shown["scores"] == {f"Social{m}": 38, "Investigative": 31.5}
    assert (shown["result"], shown["interpretation"]) == (f"Social first {m}", f"Care fits {m}")
    assert shown["goal_ids"] == [agreed.goal_id] and shown["used_on"] == days(-1)

    # Bad input: 422 naming the field, nothing changed.
    version = (await get_plan(planning_api, plan_id, counsellor)).json()["version"]
    good = {"instrument": "riasec", "used_on": days(0), "result": "x"}
    for body, field in (
        ({**good, "instrument": "tarot"}, "instrument"),
        ({**good, "used_on": days(1)}, "used_on"),
        ({"instrument": "riasec", "used_on": days(0)}, "result"),
        ({**good, "scores": {"S": "high"}}, "scores.S"),
        ({**good, "goal_ids": [str(uuid.uuid4())]}, "goal_ids"),
        ({**good, "competences": ["luck"]}, "competences.0"),
    ):
        r = await planning_api.post(
            f"{BASE}/plans/{plan_id}/instruments", json=body, headers=counsellor
        )
        assert_problem(r, 422, INVALID, (field,))
    r = await planning_api.put(
        f"{BASE}/plans/{plan_id}/instruments/{uuid.uuid4()}/interpretation",
        json={"interpretation": "x"},
        headers=counsellor,
    )
    assert r.status_code == 404, r.text
    assert (await get_plan(planning_api, plan_id, counsellor)).json()["version"] == version

    # Stored and published sealed, opening to what was written.
    rows = await planning_app.state.runtime.pool.fetch(
        "SELECT topic, state FROM planning.planning_events WHERE originator_id = $1",
        uuid.UUID(plan_id),
    )
    names = ("InstrumentUsed", "InstrumentInterpreted")
    assert {get_topic(getattr(Plan, n)) for n in names} <= {r["topic"] for r in rows}
    assert not any(m.encode() in bytes(r["state"]) for r in rows)

    async def published() -> dict[str, dict[str, Any]]:
        found = {
            envelope(msg)["type"].split(".")[2]: envelope(msg)
            for msg in await stream_messages(js, "GUIDANCE_PLANNING")
            if envelope(msg)["subject"] == agreed.case_id
        }
        return found if set(names) <= set(found) else {}

    by_type = await eventually(published, "the instrument's events on GUIDANCE_PLANNING")
    assert by_type["InstrumentUsed"]["data"]["instrument"] == "riasec"
    assert by_type["InstrumentUsed"]["data"]["goal_ids"] == [agreed.goal_id]
    planning = planning_app.state.application
    for event_type, name, plain in (
        ("InstrumentUsed", "result", f"Social first {m}"),
        ("InstrumentUsed", "scores", {f"Social{m}": 38, "Investigative": 31.5}),
        ("InstrumentInterpreted", "interpretation", f"Care fits {m}"),
    ):
        event = by_type[event_type]
        sealed = event["data"][name]
        assert (sealed["$sealed"], sealed["kid"]) == ("A256GCM", agreed.client_id)
        opened = open_sealed(planning.vault, sealed, uuid.UUID(event["id"]), name)
        assert opened is not None
        assert planning.sealing.transcoder.decode(opened)["v"] == plain
    for msg in await stream_messages(js, "GUIDANCE_PLANNING"):
        assert m not in msg.data.decode()

    r = await api.get(f"{INTAKE}/clients/{agreed.client_id}/export", headers=counsellor)
    assert r.status_code == 200, r.text
    [exported] = r.json()["services"]["planning"]["plans"]
    assert exported["instruments"][0]["interpretation"] == f"Care fits {m}"
