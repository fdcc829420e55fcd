"""`waypoint audit` against the running services: one timeline across services, every
chain verified, and a case's bundle exported and checked offline (a modified bundle is
refused, naming the first bad item).

The commands' HTTP parts run here through an ASGI client that routes `/<service>/…` to
the session's service apps, as the combined server does; `check` runs as the command.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send
from typer.testing import CliRunner

from shared.audit import bundle
from shared.cli import app as cli
from tests.scenarios import an_accepted_case, wait_for_plan
from tests.support import bearer, new_org

SERVICES = ("intake", "planning", "followup")


class Routed:
    """`/<service>/…` to that service's app (the session's apps, already running)."""

    def __init__(self, apps: dict[str, FastAPI]) -> None:
        self.apps = apps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.apps[scope["path"].split("/", 2)[1]](scope, receive, send)


@pytest.fixture
async def waypoint(
    intake: tuple[FastAPI, httpx.AsyncClient],
    planning: tuple[FastAPI, httpx.AsyncClient],
    followup: tuple[FastAPI, httpx.AsyncClient],
    token: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """One client for the three services, as an auditor."""
    routed = Routed({"intake": intake[0], "planning": planning[0], "followup": followup[0]})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=routed),
        base_url="http://waypoint",
        headers=bearer(token("auditor", sub="r.cli", audit_scope="*")),
    ) as client:
        yield client


async def a_planned_case(
    api: httpx.AsyncClient, planning_api: httpx.AsyncClient, token: Any
) -> str:
    headers = bearer(token("counsellor", org=new_org()))
    _, case_id = await an_accepted_case(api, headers)
    await wait_for_plan(planning_api, headers, case_id)
    return case_id


async def test_the_timeline_merges_the_services_in_time_order_and_stops_at_as_of(
    waypoint: httpx.AsyncClient,
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    token: Any,
) -> None:
    case_id = uuid.UUID(await a_planned_case(api, planning_api, token))

    events = await bundle.timeline(waypoint, case_id, SERVICES)

    times = [datetime.fromisoformat(e["occurred_at"]) for e in events]
    assert times == sorted(times)
    assert {e["service"] for e in events} == {"intake", "planning"}
    first_plan = next(e for e in events if e["service"] == "planning")
    assert first_plan["type"] == "Plan.Created"
    accepted = next(e for e in events if e["type"] == "Case.Accepted")
    earlier = await bundle.timeline(
        waypoint, case_id, SERVICES, as_of=datetime.fromisoformat(accepted["occurred_at"])
    )
    assert {e["service"] for e in earlier} == {"intake"}
    assert earlier[-1]["type"] == "Case.Accepted"


async def test_every_services_chain_verifies(waypoint: httpx.AsyncClient) -> None:
    results = {s: await bundle.verify(waypoint, s) for s in SERVICES}

    assert all(r["ok"] for r in results.values()), results


async def test_an_exported_bundle_checks_offline_and_a_modified_one_is_refused(
    waypoint: httpx.AsyncClient,
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    token: Any,
    tmp_path: Path,
) -> None:
    case_id = uuid.UUID(await a_planned_case(api, planning_api, token))
    signed = await api.post("/intake/v1/audit/checkpoints", headers=bearer(token("admin")))
    assert signed.status_code == 201, signed.text

    exported = await bundle.export(waypoint, case_id, SERVICES)
    file = tmp_path / "case.json"
    file.write_text(json.dumps(exported))
    good = CliRunner().invoke(cli, ["audit", "check", str(file)])

    assert set(exported["services"]) == {"intake", "planning"}
    intake = exported["services"]["intake"]
    assert intake["checkpoints"] and intake["public_key"]["algorithm"] == "Ed25519"
    positions = {e["position"] for e in intake["events"]}
    assert signed.json()["position"] in positions, "the checkpoint covers the case's last link"
    assert good.exit_code == 0, good.output

    event = exported["services"]["planning"]["events"][0]
    event["data"] = {"note": "changed"}  # data alone is informative, not covered
    event["originator_version"] += 1  # what the link covers is
    file.write_text(json.dumps(exported))
    bad = CliRunner().invoke(cli, ["audit", "check", str(file)])

    assert bad.exit_code == 1, bad.output
    assert f"planning: event at position {event['position']}" in bad.output
