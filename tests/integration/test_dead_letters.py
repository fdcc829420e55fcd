"""No poison message: an event that keeps failing is dead-lettered and the reader goes on.

Each test runs its own intake service on its own database and NATS server: a dead letter
or a lagging projection makes readyz answer 503, which must not reach the session's
services. The failure is injected by a test-only wrapper around the intake projection's
`apply` that sends a NUL character to PostgreSQL for the marked clients' cases (the real
error of the issue: "invalid byte sequence for encoding UTF8: 0x00"); removing the mark
is "the cause removed".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from nats.js.api import StreamConfig

from services.intake.domain import Case
from services.intake.main import create_app
from services.intake.projections import IntakeProjection
from shared.embedded import start_nats
from shared.messaging.deadletters import DeadLetters
from shared.messaging.envelope import CloudEvent, stream_name
from shared.messaging.projection import Stored
from shared.messaging.read_model_consumer import ReadModelConsumer
from shared.messaging.redrive import redrive
from shared.settings import Settings
from tests.conftest import fresh_database, running
from tests.support import assert_problem, bearer, eventually, new_org

BASE = "/intake/v1"
LETTERS = f"{BASE}/admin/dead-letters"

# Clients whose cases' events the projection cannot apply (while marked).
POISONED: set[str] = set()
# Clients whose cases' events the projection waits on (until the gate opens).
GATED: dict[str, asyncio.Event] = {}


@pytest.fixture(autouse=True)
def faulty_projection(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    original = IntakeProjection.handlers[Case.Opened]

    async def case_opened(conn: asyncpg.Connection, e: Stored) -> None:
        client = str(e.get("client_id", ""))
        if client in POISONED:
            await conn.execute("SELECT $1::text", "poison\x00")
        if client in GATED:
            await GATED[client].wait()
        await original(conn, e)

    monkeypatch.setitem(IntakeProjection.handlers, Case.Opened, case_opened)
    yield
    POISONED.clear()
    for gate in GATED.values():
        gate.set()
    GATED.clear()


@asynccontextmanager
async def own_intake(
    settings: Settings, database_url: str, tmp: Path, **overrides: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An intake service of its own: database, NATS server, settings."""
    server = await asyncio.to_thread(start_nats, tmp)
    try:
        with fresh_database(database_url, "waypoint_deadletters") as url:
            own = Settings(
                **{
                    **settings.model_dump(),
                    "database_url": url,
                    "nats_url": server.url,
                    "dead_letter_after_attempts": 3,
                    **overrides,
                }
            )
            app = create_app(own)
            async with running(app) as client:
                yield app, client
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def intake_alone(
    settings: Settings, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with own_intake(settings, database_url, tmp_path_factory.mktemp("nats-dl")) as found:
        yield found


@pytest.fixture
def client(intake_alone: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return intake_alone[1]


async def a_case(api: httpx.AsyncClient, headers: dict[str, str], poisoned: bool = False) -> str:
    """A client with a guidance consent, and a case of theirs; its id."""
    body = dict(given_name="Nora", family_name="Nul", birth_date="1990-01-02", email="n@x.nl")
    r = await api.post(f"{BASE}/clients", json=body, headers=headers)
    assert r.status_code == 201, r.text
    client_id = r.json()["client_id"]
    r = await api.post(
        f"{BASE}/clients/{client_id}/consents",
        json={"purpose": "guidance", "granted": True},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    if poisoned:
        POISONED.add(client_id)
    r = await api.post(
        f"{BASE}/cases",
        json={"client_id": client_id, "career_question": "Which way now?"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["case_id"])


async def listed_case(api: httpx.AsyncClient, headers: dict[str, str], case_id: str) -> Any:
    r = await api.get(f"{BASE}/cases", headers=headers, params={"limit": 200})
    assert r.status_code == 200, r.text
    return next((c for c in r.json() if c["case_id"] == case_id), None)


async def letters_of(api: httpx.AsyncClient, admin: dict[str, str], case_id: str) -> list[Any]:
    r = await api.get(LETTERS, headers=admin, params={"limit": 200})
    assert r.status_code == 200, r.text
    return [d for d in r.json() if d["aggregate_id"] == case_id]


async def session(api: httpx.AsyncClient, headers: dict[str, str], case_id: str, minutes: int):
    r = await api.post(
        f"{BASE}/cases/{case_id}/sessions",
        json={"kind": "intake", "held_at": datetime.now(UTC).isoformat(), "minutes": minutes},
        headers=headers,
    )
    assert r.status_code == 201, r.text


async def test_an_event_the_projection_cannot_apply_is_dead_lettered_and_the_others_go_on(
    client: httpx.AsyncClient, token: Any, caplog: pytest.LogCaptureFixture
) -> None:
    org = new_org()
    counsellor = bearer(token("counsellor", org=org))
    # An admin of the organisation that owns the case sees its letters.
    admin = bearer(token("admin", org=org, sub="ada"))
    caplog.set_level(logging.INFO)

    poisoned = await a_case(client, counsellor, poisoned=True)
    letters = await eventually(lambda: letters_of(client, admin, poisoned), "the dead letter")
    [letter] = letters
    assert letter["follower"] == "projection" and letter["kind"] == "follower"
    assert letter["event_type"].endswith("Case.Opened")
    assert letter["attempts"] == 3
    assert "0x00" in letter["error"], letter
    assert letter["resolved_at"] is None and letter["held_behind"] is None

    # The projection went on: another client's case is listed, the poisoned one is not.
    healthy = await a_case(client, counsellor)
    assert await listed_case(client, counsellor, healthy) is not None
    assert await listed_case(client, counsellor, poisoned) is None

    # Logged once (not once a second), with the error.
    await asyncio.sleep(1.5)
    logged = [r for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert len(logged) == 1, [r.getMessage() for r in logged]
    assert logged[0].levelno == logging.ERROR and logged[0].exc_info

    # readyz names the follower; healthz stays about the process.
    r = await client.get("/intake/readyz")
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["status"] == "not-ready"
    assert body["checks"]["dead-letters:projection"] is False
    assert body["checks"]["database"] is True
    assert body["dead_letters"] >= 1
    assert "projection" in body["followers"]
    assert (await client.get("/intake/healthz")).status_code == 200

    # The metric counts it.
    r = await client.get("/intake/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    line = next(
        s
        for s in r.text.splitlines()
        if s.startswith('waypoint_dead_letters_total{follower="projection",service="intake"}')
    )
    assert float(line.rsplit(" ", 1)[1]) >= 1

    # Another organisation's admin sees nothing of it (404 as an unknown letter); a
    # platform operator (audit scope "*") sees it.
    stranger = bearer(token("admin", org=new_org(), sub="eve"))
    assert await letters_of(client, stranger, poisoned) == []
    r = await client.post(f"{LETTERS}/{letter['id']}/redrive", headers=stranger)
    assert_problem(r, 404, "not-found")
    operator = bearer(token("admin", org=new_org(), sub="op", audit_scope="*"))
    assert [d["id"] for d in await letters_of(client, operator, poisoned)] == [letter["id"]]

    # Only an admin lists and re-drives.
    assert_problem(await client.get(LETTERS, headers=counsellor), 403, "forbidden")
    r = await client.post(f"{LETTERS}/{letter['id']}/redrive", headers=counsellor)
    assert_problem(r, 403, "forbidden")
    r = await client.post(f"{LETTERS}/999999999/redrive", headers=admin)
    assert_problem(r, 404, "not-found")

    # A re-drive while the cause is still there: 409 with the error, nothing changes.
    r = await client.post(f"{LETTERS}/{letter['id']}/redrive", headers=admin)
    problem = assert_problem(r, 409, "redrive-failed")
    assert "0x00" in problem["detail"]
    assert [d["resolved_at"] for d in await letters_of(client, admin, poisoned)] == [None]
    assert await listed_case(client, counsellor, poisoned) is None

    # The cause removed: the re-drive applies it through the same handler, resolved.
    POISONED.clear()
    r = await client.post(f"{LETTERS}/{letter['id']}/redrive", headers=admin)
    assert r.status_code == 200, r.text
    [done] = r.json()["resolved"]
    assert (done["id"], done["resolved_by"]) == (letter["id"], "ada")
    assert done["resolved_at"] is not None
    assert await listed_case(client, counsellor, poisoned) is not None
    assert await letters_of(client, admin, poisoned) == []
    r = await client.get(LETTERS, headers=admin, params={"resolved": "true", "limit": 200})
    assert any(d["id"] == letter["id"] and d["resolved_by"] == "ada" for d in r.json())
    assert int(r.headers["x-total-count"]) >= 1
    assert_problem(
        await client.post(f"{LETTERS}/{letter['id']}/redrive", headers=admin),
        409,
        "already-resolved",
    )

    r = await client.get("/intake/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["dead_letters"] == 0


async def test_a_later_event_of_the_same_case_is_held_and_the_redrive_applies_it_in_order(
    client: httpx.AsyncClient, token: Any
) -> None:
    org = new_org()
    counsellor = bearer(token("counsellor", org=org))
    admin = bearer(token("admin", org=org, sub="ada"))
    poisoned = await a_case(client, counsellor, poisoned=True)
    await eventually(lambda: letters_of(client, admin, poisoned), "the dead letter")

    # The case goes on in the store; its next event is not applied but held behind.
    await session(client, counsellor, poisoned, 45)
    healthy = await a_case(client, counsellor)
    await session(client, counsellor, healthy, 30)
    letters = await eventually(
        lambda: _at_least(letters_of(client, admin, poisoned), 2), "the held event"
    )
    first, held = sorted(letters, key=lambda d: d["position"])
    assert held["held_behind"] == first["id"]
    assert held["event_type"].endswith("Case.SessionHeld")
    assert held["error"] == f"held behind dead letter {first['id']}"
    assert held["attempts"] == 0
    assert await listed_case(client, counsellor, poisoned) is None
    assert (await listed_case(client, counsellor, healthy))["hours_used"] == 0.5

    # Re-driving the held one re-drives the first too, in log order.
    POISONED.clear()
    r = await client.post(f"{LETTERS}/{held['id']}/redrive", headers=admin)
    assert r.status_code == 200, r.text
    assert [d["id"] for d in r.json()["resolved"]] == [first["id"], held["id"]]
    case = await listed_case(client, counsellor, poisoned)
    assert (case["version"], case["hours_used"]) == (2, 0.75)

    # Later events of the case are applied as usual again.
    await session(client, counsellor, poisoned, 15)
    case = await listed_case(client, counsellor, poisoned)
    assert (case["version"], case["hours_used"]) == (3, 1.0)
    assert await letters_of(client, admin, poisoned) == []
    assert (await client.get("/intake/readyz")).status_code == 200


async def test_an_erasure_drops_the_clients_dead_letters_so_none_is_redriven_after_it(
    client: httpx.AsyncClient, token: Any
) -> None:
    org = new_org()
    counsellor = bearer(token("counsellor", org=org))
    admin = bearer(token("admin", org=org, sub="ada"))
    case_id = await a_case(client, counsellor, poisoned=True)
    await eventually(lambda: letters_of(client, admin, case_id), "the dead letter")
    r = await client.get(f"{BASE}/cases/{case_id}", headers=counsellor)
    client_id = r.json()["client_id"]

    r = await client.post(
        f"{BASE}/clients/{client_id}/erasure", json={"reason": "Art. 17"}, headers=counsellor
    )
    assert r.status_code == 202, r.text

    async def dropped() -> bool:
        r = await client.get(LETTERS, headers=admin, params={"resolved": "true", "limit": 200})
        return not [d for d in r.json() if d["aggregate_id"] == case_id]

    # Neither open nor resolved: the letter (its error text, its position) is gone.
    await eventually(dropped, "the erasure to drop the dead letter")
    POISONED.clear()
    assert await listed_case(client, counsellor, case_id) is None


async def _at_least(found: Any, n: int) -> Any:
    items = await found
    return items if len(items) >= n else None


async def test_readyz_names_a_projection_that_lags_behind_the_log(
    settings: Settings, database_url: str, tmp_path: Path, token: Any
) -> None:
    async with own_intake(
        settings,
        database_url,
        tmp_path,
        ready_max_lag=3,
        ready_lag_grace_seconds=0,
        read_your_writes=False,
    ) as (_, api):
        counsellor = bearer(token("counsellor", org=new_org()))
        r = await api.get("/intake/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["checks"]["lag:projection"] is True

        # A projection stuck in a slow handler: the log moves on without it.
        body = dict(given_name="Lag", family_name="Ger", birth_date="1990-01-02", email="l@x.nl")
        r = await api.post(f"{BASE}/clients", json=body, headers=counsellor)
        client_id = r.json()["client_id"]
        gate = GATED[client_id] = asyncio.Event()
        r = await api.post(
            f"{BASE}/clients/{client_id}/consents",
            json={"purpose": "guidance", "granted": True},
            headers=counsellor,
        )
        r = await api.post(
            f"{BASE}/cases",
            json={"client_id": client_id, "career_question": "Later?"},
            headers=counsellor,
        )
        assert r.status_code == 201, r.text
        for _ in range(5):
            r = await api.post(f"{BASE}/clients", json=body, headers=counsellor)
            assert r.status_code == 201, r.text

        r = await api.get("/intake/readyz")
        assert r.status_code == 503, r.text
        ready = r.json()
        assert ready["checks"]["lag:projection"] is False
        assert ready["followers"]["projection"]["lag"] >= 5
        assert ready["dead_letters"] == 0
        metrics = (await api.get("/intake/metrics")).text
        line = next(
            s
            for s in metrics.splitlines()
            if s.startswith('waypoint_follower_lag_events{follower="projection",service="intake"}')
        )
        assert float(line.rsplit(" ", 1)[1]) >= 5

        gate.set()

        async def ready_again() -> bool:
            return (await api.get("/intake/readyz")).status_code == 200

        await eventually(ready_again, "readyz once the projection caught up")


async def test_the_audit_trail_records_a_failing_event_but_links_it_in_place_never_skipping(
    client: httpx.AsyncClient,
    intake_alone: tuple[FastAPI, httpx.AsyncClient],
    token: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.audit import chain

    counsellor = bearer(token("counsellor", org=new_org()))
    # The audit trail records owners as it links: its own letter has none yet, so only
    # a platform operator (audit scope "*") sees it.
    admin = bearer(token("admin", org=new_org(), sub="ada", audit_scope="*"))
    broken: set[str] = set()
    original = chain.link_record

    def link_record(n: Any, *args: Any) -> Any:
        if str(n.originator_id) in broken:
            raise ValueError("this event cannot be linked")
        return original(n, *args)

    monkeypatch.setattr(chain, "link_record", link_record)
    body = dict(given_name="Aud", family_name="It", birth_date="1990-01-02", email="a@x.nl")
    r = await client.post(f"{BASE}/clients", json=body, headers=counsellor)
    first = r.json()["client_id"]
    broken.add(first)
    r = await client.post(
        f"{BASE}/clients/{first}/consents",
        json={"purpose": "guidance", "granted": True},
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    letters = await eventually(lambda: letters_of(client, admin, first), "the audit's letter")
    [letter] = letters
    assert letter["follower"] == "audit" and letter["attempts"] == 3
    r = await client.get("/intake/readyz")
    assert r.status_code == 503 and r.json()["checks"]["dead-letters:audit"] is False
    # The chain cannot skip a link: nothing after the failing event is linked meanwhile.
    trail = intake_alone[0].state.audit.trail
    assert trail.head_position < letter["position"]
    r = await client.post(f"{LETTERS}/{letter['id']}/redrive", headers=admin)
    assert_problem(r, 409, "retried-in-place")

    # The cause gone, the trail links it (and what came after) and resolves the letter.
    broken.clear()

    async def resolved() -> bool:
        return not await letters_of(client, admin, first)

    await eventually(resolved, "the trail going through", seconds=20)
    assert trail.head_position >= letter["position"]
    r = await client.get(LETTERS, headers=admin, params={"resolved": "true", "limit": 200})
    [done] = [d for d in r.json() if d["id"] == letter["id"]]
    assert done["resolved_by"] == "retry"
    r = await client.get("/intake/v1/audit/verify", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True, r.json()
    assert (await client.get("/intake/readyz")).status_code == 200


# -- consumers ----------------------------------------------------------------------------
SOURCE = "dltest"


@pytest.fixture
async def own_nats(tmp_path: Path) -> AsyncIterator[Any]:
    import nats

    server = await asyncio.to_thread(start_nats, tmp_path)
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        await js.add_stream(
            StreamConfig(name=stream_name(SOURCE), subjects=[f"guidance.{SOURCE}.>"])
        )
        yield js
    finally:
        await nc.close()
        server.stop()


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(**settings.pg.asyncpg_kwargs(), min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await conn.execute("DROP SCHEMA IF EXISTS dltest CASCADE")
        await conn.execute("CREATE SCHEMA dltest")
        await conn.execute("CREATE TABLE dltest.effects (event_id uuid, n int)")
    yield pool
    with contextlib.suppress(Exception):
        await pool.execute("DROP SCHEMA IF EXISTS dltest CASCADE")
    await pool.close()


def envelope(n: int) -> CloudEvent:
    return CloudEvent(
        id=uuid.uuid4(),
        source=f"/guidance/{SOURCE}",
        type=f"guidance.{SOURCE}.ThingHappened.v1",
        subject=str(uuid.uuid4()),
        time=datetime.now(UTC),
        position=n,
        data={"n": n},
    )


async def test_a_message_whose_effect_keeps_failing_is_dead_lettered_and_the_next_one_applied(
    own_nats: Any, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    failing: set[uuid.UUID] = set()

    async def on_thing(conn: asyncpg.Connection, event: CloudEvent) -> None:
        await conn.execute("INSERT INTO dltest.effects VALUES ($1, $2)", event.id, event.data["n"])
        if event.id in failing:
            raise ValueError("this effect cannot be applied")

    consumer = ReadModelConsumer(
        "dltest-things",
        own_nats,
        pool,
        "dltest",
        SOURCE,
        {"ThingHappened": on_thing},
        poll_seconds=0.2,
        ack_wait_seconds=5,
    )
    store = DeadLetters(pool, "dltest", "dltest")
    await store.ensure()
    consumer.attach(store, attempts=3)
    poison, after = envelope(1), envelope(2)
    failing.add(poison.id)
    for env in (poison, after):
        await own_nats.publish(f"guidance.{SOURCE}.ThingHappened", env.to_bytes())

    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:

        async def both_settled() -> Any:
            rows = await pool.fetch("SELECT n FROM dltest.effects")
            return consumer.dead_lettered == 1 and [r["n"] for r in rows] == [2]

        await eventually(both_settled, "the poison set aside and the next one applied")
        letter = await pool.fetchrow("SELECT * FROM dltest.dead_letters")
        assert letter["follower"] == "dltest-things" and letter["kind"] == "consumer"
        assert letter["event_id"] == poison.id and letter["event_type"] == "ThingHappened"
        assert letter["attempts"] == 3 and letter["aggregate_id"] == poison.subject
        assert "this effect cannot be applied" in letter["error"]
        assert bytes(letter["payload"]) == poison.to_bytes()

        # Terminated: not delivered again (nothing pending, nothing in flight).
        await asyncio.sleep(1.0)
        info = await own_nats.consumer_info(stream_name(SOURCE), "dltest-things")
        assert (info.num_pending, info.num_ack_pending) == (0, 0)
        logged = [r for r in caplog.records if "dead-lettered" in r.getMessage()]
        assert len(logged) == 1

        # Re-driven once the cause is gone: applied once, resolved.
        failing.clear()
        [done] = await redrive(store, letter["id"], "ada", {}, {consumer.name: consumer})
        assert done["resolved_by"] == "ada"
        rows = await pool.fetch("SELECT n FROM dltest.effects ORDER BY n")
        assert [r["n"] for r in rows] == [1, 2]
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


# -- outages ------------------------------------------------------------------------------
async def test_a_broker_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    settings: Settings, tmp_path: Path, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    from shared.embedded import free_port
    from shared.runtime import Runtime

    port = free_port()
    server = await asyncio.to_thread(start_nats, tmp_path, port)
    own = Settings(**{**settings.model_dump(), "nats_url": server.url})
    runtime = Runtime(own, "dltest")
    await runtime.start()
    try:
        await runtime.js.add_stream(
            StreamConfig(name=stream_name(SOURCE), subjects=[f"guidance.{SOURCE}.>"])
        )

        async def on_thing(conn: asyncpg.Connection, event: CloudEvent) -> None:
            await conn.execute("INSERT INTO dltest.effects VALUES ($1, $2)", event.id, 0)

        consumer = ReadModelConsumer(
            "dltest-outage",
            runtime.js,
            runtime.pool,
            "dltest",
            SOURCE,
            {"ThingHappened": on_thing},
            poll_seconds=0.2,
        )
        runtime.start_background({}, {"things": consumer})
        await asyncio.sleep(1.0)
        caplog.clear()
        caplog.set_level(logging.DEBUG)

        await asyncio.to_thread(server.stop)
        await asyncio.sleep(4.0)  # reconnection attempts every 0.5 s meanwhile
        loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert not [r for r in loud if r.exc_info], "no tracebacks during an outage"
        lost = [r for r in loud if "connection lost" in r.getMessage()]
        assert len(lost) == 1, [r.getMessage() for r in loud]
        by_consumer = [r for r in loud if "dltest-outage" in r.getMessage()]
        assert len(by_consumer) <= 1, [r.getMessage() for r in by_consumer]
        assert len(loud) <= 4, [r.getMessage() for r in loud]

        server = await asyncio.to_thread(start_nats, tmp_path, port)
        await eventually(
            lambda: asyncio.sleep(0, runtime.nc is not None and runtime.nc.is_connected),
            "reconnected",
            seconds=15,
        )
        await asyncio.sleep(1.0)
        back = [r for r in caplog.records if "reconnected" in r.getMessage()]
        assert len(back) == 1
        _, body = await runtime.readiness()
        assert body["checks"]["nats"] is True
    finally:
        await runtime.close()
        await asyncio.to_thread(server.stop)
