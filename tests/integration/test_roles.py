"""Process roles (`waypoint run --split`): the web process commands, a relay process
publishes, and a worker's relay stands in once the relay process is gone.

Own database: the session's intake service (role `all`) would otherwise hold the relay's
lock. The stream is the shared GUIDANCE_INTAKE; messages are told apart by client id.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from fastapi import FastAPI

from services.intake.main import create_app
from shared import runtime as runtime_module
from shared.settings import PgParams, Settings
from tests.conftest import fresh_database, running
from tests.support import bearer, new_org


@pytest.fixture(scope="module")
def own_database(database_url: str) -> Iterator[str]:
    with fresh_database(database_url, "waypoint_roles") as url:
        yield url


def as_role(settings: Settings, database_url: str, role: str) -> Settings:
    # Built anew, not model_copy'd: derived values (the PostgreSQL parameters) are cached.
    return Settings(**{**settings.model_dump(), "database_url": database_url, "role": role})


async def published_client(js: Any, client_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """The ClientRegistered message of this client on the intake stream."""
    sub = await js.subscribe("guidance.intake.ClientRegistered", ordered_consumer=True)
    try:
        async with asyncio.timeout(timeout):
            while True:
                msg = await sub.next_msg(timeout=timeout)
                event = json.loads(msg.data)
                if event["data"]["client_id"] == client_id:
                    return dict(event)
    finally:
        await sub.unsubscribe()


async def register(client: Any, headers: dict[str, str]) -> str:
    body = dict(given_name="Roos", family_name="Rol", birth_date="1991-02-03", email="r@x.nl")
    r = await client.post("/intake/v1/clients", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["client_id"])


def task_names(app: FastAPI) -> set[str]:
    return {t.get_name() for t in app.state.runtime.tasks}


async def test_relay_process_publishes_and_a_worker_stands_in(
    settings: Settings, own_database: str, js: Any, token: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(runtime_module, "STAND_IN_DELAY", 0.2)
    headers = bearer(token("counsellor", org=new_org()))
    web = create_app(as_role(settings, own_database, "web"))
    assert web.state.settings.pg.dbname == PgParams.from_url(own_database).dbname
    relay = create_app(as_role(settings, own_database, "relay"))
    worker = create_app(as_role(settings, own_database, "worker"))
    async with AsyncExitStack() as stack:
        relay_stack = await stack.enter_async_context(AsyncExitStack())
        # (Its lifespan alone: a relay process neither runs nor follows the projection.)
        await relay_stack.enter_async_context(relay.router.lifespan_context(relay))
        await asyncio.wait_for(relay.state.relay.active.wait(), 20)
        client = await stack.enter_async_context(running(web))

        # The relay process runs the relay and nothing else; the web process none of it.
        assert task_names(relay) == {"intake:relay"}
        assert not web.state.relay.active.is_set()
        assert "intake:relay" not in task_names(web)
        assert "intake:intake-closures" not in task_names(web)

        first = await register(client, headers)
        assert (await published_client(js, first))["data"]["client_id"] == first
        assert relay.state.relay.published >= 1

        # A worker started beside it: its relay waits, the relay process holds the lock.
        await stack.enter_async_context(running(worker))
        assert "intake:intake-closures" in task_names(worker)  # consumers run in the worker
        await asyncio.sleep(1.0)
        assert not worker.state.relay.active.is_set()

        # The relay process stops: the worker's relay takes over, nothing is lost.
        await relay_stack.aclose()
        second = await register(client, headers)
        await asyncio.wait_for(worker.state.relay.active.wait(), 20)
        assert (await published_client(js, second))["data"]["client_id"] == second
        assert worker.state.relay.published >= 1
