"""A command takes effect once whatever the connection does (issue #11, §2).

The event store of an intake service here talks to PostgreSQL through `tests/pgproxy.py`,
which can drop a connection right after the server committed (the client never hears the
COMMIT). Before the fix the library's retry re-inserted the committed events, met a unique
violation, and `ServiceApplication.change()` ran the command again: two events, one 2xx.

The Idempotency-Key tests use the same service.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking
from fastapi import FastAPI

from services.intake.application import IntakeApplication
from shared.eventstore import BatchTrackingRecorder
from shared.idempotency import CommandMarker, IdempotencyMiddleware, KeyTaken, current_command
from shared.runtime import key_vault
from shared.settings import Settings
from tests.conftest import running
from tests.pgproxy import PgProxy
from tests.support import assert_problem, bearer, new_org

BASE = "/intake/v1"
# Only a COMMIT of the event store (whose inserts lock its events table) is dropped.
EVENT_STORE = b"LOCK TABLE"


@pytest.fixture(scope="module")
def proxy(settings: Settings) -> Iterator[PgProxy]:
    pg = settings.pg
    with PgProxy(pg.host, pg.port) as p:
        yield p


@pytest.fixture(scope="module")
def proxied(settings: Settings, proxy: PgProxy) -> Settings:
    """The test database, through the proxy (a new Settings: a copy would keep the
    cached connection parameters of the original)."""
    return Settings(**{**settings.model_dump(), "database_url": proxy.url(settings.database_url)})


@pytest.fixture(scope="module")
def store(proxied: Settings) -> Iterator[IntakeApplication]:
    app = IntakeApplication(proxied, key_vault(proxied))
    yield app
    app.close()


@pytest.fixture(scope="module")
async def service(proxied: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An intake service whose every connection goes through the proxy."""
    from services.intake.main import create_app

    app = create_app(proxied)
    async with running(app) as client:
        yield app, client


@pytest.fixture
def counsellor(token: Any) -> dict[str, str]:
    return bearer(token("counsellor", org=new_org(), sub="counsellor-1"))


def events_of(app: IntakeApplication, aggregate_id: uuid.UUID) -> list[str]:
    return [type(e).__qualname__ for e in app.events.get(aggregate_id)]


def register(app: IntakeApplication, org: str = "org-x") -> uuid.UUID:
    return app.register_client(
        organisation=org,
        actor="counsellor-1",
        given_name="Anna",
        family_name="Peeters",
        birth_date=date(1990, 5, 17),
        email="anna@example.org",
    )


# -- the recorder ---------------------------------------------------------------------------------
def test_a_commit_whose_answer_is_lost_is_stored_once_and_the_save_succeeds(
    store: IntakeApplication, proxy: PgProxy
) -> None:
    proxy.arm(after=EVENT_STORE)
    client_id = register(store)
    assert proxy.dropped >= 1 and not proxy.armed, "the proxy never dropped a COMMIT"
    assert events_of(store, client_id) == ["Client.Registered"]


def test_a_command_whose_commit_answer_is_lost_advances_the_version_by_exactly_one(
    store: IntakeApplication, proxy: PgProxy
) -> None:
    client_id = register(store)
    store.record_consent(
        client_id=client_id,
        organisation="org-x",
        actor="counsellor-1",
        purpose="guidance",
        granted=True,
    )
    case_id = store.open_case(
        client_id=client_id, organisation="org-x", actor="c", career_question="Teach?"
    )
    dropped = proxy.dropped
    proxy.arm(after=EVENT_STORE)
    _, case = store.change(
        lambda: store.case(case_id, "org-x"),
        None,
        lambda c, at: c.check_entry(eligible=True, notes="ok", actor="c", at=at),
    )
    assert proxy.dropped == dropped + 1
    assert case.version == 2
    assert events_of(store, case_id) == ["Case.Opened", "Case.EntryChecked"]


def test_another_writers_row_at_the_same_version_is_still_a_conflict(
    store: IntakeApplication, proxied: Settings
) -> None:
    client_id = register(store)
    other = IntakeApplication(proxied, key_vault(proxied))
    try:
        mine = store.client(client_id, "org-x")
        theirs = other.client(client_id, "org-x")
        grant(mine, store)
        grant(theirs, other)
        other.save(theirs)
        with pytest.raises(IntegrityError):
            store.save(mine)
    finally:
        other.close()
    assert len(events_of(store, client_id)) == 2


def test_rows_with_other_bytes_are_not_taken_for_our_own_commit(store: IntakeApplication) -> None:
    client_id = register(store)
    recorder = store.recorder
    assert isinstance(recorder, BatchTrackingRecorder)
    (stored,) = recorder.select_events(client_id)
    assert recorder.committed_before([stored], []) is not None
    forged = StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=stored.state.replace(b"counsellor-1", b"counsellor-2"),
    )
    assert forged.state != stored.state
    assert recorder.committed_before([forged], []) is None
    missing = StoredEvent(stored.originator_id, 2, stored.topic, stored.state)
    assert recorder.committed_before([missing], []) is None


def test_a_consumers_batch_with_tracking_records_whose_commit_answer_is_lost_is_stored_once(
    store: IntakeApplication, proxy: PgProxy
) -> None:
    client = store.client(register(store), "org-x")
    grant(client, store)
    events = client.collect_events()
    trackings = [Tracking("exactly-once-test", 1_000_000 + i) for i in range(3)]
    dropped = proxy.dropped
    proxy.arm(after=EVENT_STORE)
    recordings = store.events.put(events, trackings=trackings)
    assert proxy.dropped == dropped + 1
    assert [r.notification.originator_version for r in recordings] == [2]
    assert events_of(store, client.id) == ["Client.Registered", "Client.ConsentGranted"]
    assert store.process_recorder.tracked(
        "exactly-once-test", [t.notification_id for t in trackings]
    ) == {t.notification_id for t in trackings}


def test_only_a_running_request_of_this_service_marks_a_save_with_its_key(
    store: IntakeApplication,
) -> None:
    unknown = CommandMarker("intake", "no-such-key", uuid.uuid4())
    token = current_command.set(unknown)
    try:
        with pytest.raises(KeyTaken):
            register(store)
        unknown.finished = True  # a task the request started saves after it ended
        register(store)
        current_command.set(CommandMarker("planning", "no-such-key", uuid.uuid4()))
        register(store)
    finally:
        current_command.reset(token)


# -- through the API -----------------------------------------------------------------------------
async def test_a_case_opened_and_checked_while_commits_are_cut_answers_2xx_once_each(
    service: tuple[FastAPI, httpx.AsyncClient], proxy: PgProxy, counsellor: dict[str, str]
) -> None:
    app, api = service
    r = await api.post(f"{BASE}/clients", json=client_body(), headers=counsellor)
    assert r.status_code == 201, r.text
    client_id = r.json()["client_id"]
    r = await api.post(
        f"{BASE}/clients/{client_id}/consents",
        json={"purpose": "guidance", "granted": True},
        headers=counsellor,
    )
    assert r.status_code == 201, r.text

    dropped = proxy.dropped
    proxy.arm(after=EVENT_STORE)
    r = await api.post(
        f"{BASE}/cases",
        json={"client_id": client_id, "career_question": "Should I teach?"},
        headers={**counsellor, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 201, r.text
    assert proxy.dropped == dropped + 1
    case_id = r.json()["case_id"]
    # The commit marker went in with the events, once.
    pool = app.state.runtime.pool
    committed = await pool.fetchval(
        "SELECT committed FROM intake.idempotency_keys WHERE scope = $1",
        await key_scope(pool, r),
    )
    # With the id the request made for the new case.
    assert json.loads(committed) == [[case_id, 1, {"result": None, "created": [case_id]}]]

    proxy.arm(after=EVENT_STORE)
    r = await api.post(
        f"{BASE}/cases/{case_id}/entry-check",
        json={"eligible": True, "notes": "meets them"},
        headers=counsellor,
    )
    assert r.status_code == 200, r.text
    assert proxy.dropped == dropped + 2
    assert r.headers["etag"] == '"2"'
    assert await topics(app, case_id) == ["Case.Opened", "Case.EntryChecked"]

    # A session's minutes count once against the hours budget.
    proxy.arm(after=EVENT_STORE)
    r = await api.post(
        f"{BASE}/cases/{case_id}/sessions",
        json={"kind": "intake", "held_at": "2025-01-06T10:00:00+01:00", "minutes": 90},
        headers={**counsellor, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 201, r.text
    assert proxy.dropped == dropped + 3
    assert r.json()["version"] == 3
    # A command on an aggregate commits the id it made with the marker: the new
    # session's, which a retry after a lost answer is told.
    committed = await pool.fetchval(
        "SELECT committed FROM intake.idempotency_keys WHERE scope = $1",
        await key_scope(pool, r),
    )
    [[aggregate, version, outcome]] = json.loads(committed)
    assert (aggregate, version, outcome["created"]) == (case_id, 3, [r.json()["session_id"]])
    r = await api.get(f"{BASE}/cases/{case_id}", headers=counsellor)
    assert r.json()["hours_used"] == 1.5
    assert await topics(app, case_id) == ["Case.Opened", "Case.EntryChecked", "Case.SessionHeld"]


# -- Idempotency-Key ------------------------------------------------------------------------------
async def test_a_retry_with_the_same_key_and_body_replays_the_first_answer_and_changes_nothing(
    service: tuple[FastAPI, httpx.AsyncClient], counsellor: dict[str, str]
) -> None:
    app, api = service
    headers = {**counsellor, "Idempotency-Key": str(uuid.uuid4())}
    first = await api.post(f"{BASE}/clients", json=client_body(), headers=headers)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = await api.post(f"{BASE}/clients", json=client_body(), headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    assert await clients_of(app, counsellor) == 1


async def test_the_same_key_with_another_body_is_refused_naming_the_header(
    service: tuple[FastAPI, httpx.AsyncClient], counsellor: dict[str, str]
) -> None:
    app, api = service
    headers = {**counsellor, "Idempotency-Key": "key-1"}
    r = await api.post(f"{BASE}/clients", json=client_body(), headers=headers)
    assert r.status_code == 201, r.text
    r = await api.post(f"{BASE}/clients", json=client_body(given_name="Bea"), headers=headers)
    assert_problem(r, 422, "validation-error", ("Idempotency-Key",))
    assert await clients_of(app, counsellor) == 1


async def test_keys_belong_to_their_caller_and_path(
    service: tuple[FastAPI, httpx.AsyncClient], token: Any
) -> None:
    _, api = service
    org = new_org()
    one = {**bearer(token("counsellor", org=org, sub="c-1")), "Idempotency-Key": "k"}
    two = {**bearer(token("counsellor", org=org, sub="c-2")), "Idempotency-Key": "k"}
    a = await api.post(f"{BASE}/clients", json=client_body(), headers=one)
    b = await api.post(f"{BASE}/clients", json=client_body(), headers=two)
    assert a.status_code == b.status_code == 201
    assert "idempotent-replayed" not in b.headers
    assert a.json()["client_id"] != b.json()["client_id"]


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "a\x01b", '""'])
async def test_an_invalid_key_is_refused_naming_the_header(
    service: tuple[FastAPI, httpx.AsyncClient], counsellor: dict[str, str], key: str
) -> None:
    app, api = service
    headers = {**counsellor, "Idempotency-Key": key}
    r = await api.post(f"{BASE}/clients", json=client_body(), headers=headers)
    assert_problem(r, 422, "validation-error", ("Idempotency-Key",))
    assert await clients_of(app, counsellor) == 0


async def test_a_duplicate_while_the_first_still_runs_is_409_with_retry_after(
    service: tuple[FastAPI, httpx.AsyncClient], counsellor: dict[str, str]
) -> None:
    app, api = service
    key = str(uuid.uuid4())
    headers = {**counsellor, "Idempotency-Key": key}
    pool = app.state.runtime.pool
    # Hold the key's row, as the first request's commit would: its answer waits.
    first = await api.post(f"{BASE}/clients", json=client_body(), headers=headers)
    assert first.status_code == 201
    scope = await key_scope(pool, first)
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE intake.idempotency_keys SET status = NULL, "
            "locked_until = now() + interval '30 seconds' WHERE scope = $1",
            scope,
        )
    r = await api.post(f"{BASE}/clients", json=client_body(), headers=headers)
    body = assert_problem(r, 409, "idempotency-key-in-use")
    assert int(r.headers["retry-after"]) >= 1, body
    assert await clients_of(app, counsellor) == 1


async def test_two_concurrent_requests_with_one_key_make_one_effect(
    service: tuple[FastAPI, httpx.AsyncClient], counsellor: dict[str, str]
) -> None:
    app, api = service
    headers = {**counsellor, "Idempotency-Key": str(uuid.uuid4())}
    answers = await asyncio.gather(
        *[api.post(f"{BASE}/clients", json=client_body(), headers=headers) for _ in range(4)]
    )
    statuses = sorted(r.status_code for r in answers)
    assert set(statuses) <= {201, 409}, [r.text for r in answers]
    assert 201 in statuses
    for r in answers:
        if r.status_code == 409:
            assert_problem(r, 409, "idempotency-key-in-use")
            assert r.headers["retry-after"]
    assert len({r.json()["client_id"] for r in answers if r.status_code == 201}) == 1
    assert await clients_of(app, counsellor) == 1


async def test_a_process_killed_after_the_commit_does_not_open_a_second_case_on_retry(
    service: tuple[FastAPI, httpx.AsyncClient], counsellor: dict[str, str]
) -> None:
    app, api = service
    client_id = await consented_client(api, counsellor)
    headers = {**counsellor, "Idempotency-Key": str(uuid.uuid4())}
    body = {"client_id": client_id, "career_question": "Should I teach?"}
    first = await api.post(f"{BASE}/cases", json=body, headers=headers)
    assert first.status_code == 201, first.text
    case_id = first.json()["case_id"]
    pool = app.state.runtime.pool
    scope = await key_scope(pool, first)
    # The process died between the commit and storing the answer: only the key in
    # progress and the commit marker remain, and the holder's lease has run out.
    async with pool.acquire() as conn:
        committed = await conn.fetchval(
            "UPDATE intake.idempotency_keys SET status = NULL, headers = NULL, body = NULL, "
            "locked_until = now() - interval '1 second' WHERE scope = $1 RETURNING committed",
            scope,
        )
    assert committed is not None and case_id in committed
    retry = await api.post(f"{BASE}/cases", json=body, headers=headers)
    assert retry.status_code == 200, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == {
        "replayed": True,
        "committed": [{"aggregate_id": case_id, "version": 1}],
        "created": [case_id],
    }
    assert retry.headers["etag"] == '"1"'
    assert await cases_of(app, client_id) == 1
    # And from then on the same answer.
    again = await api.post(f"{BASE}/cases", json=body, headers=headers)
    assert again.json() == retry.json()
    assert await cases_of(app, client_id) == 1


async def test_a_request_that_died_before_its_commit_runs_on_retry(
    service: tuple[FastAPI, httpx.AsyncClient], counsellor: dict[str, str]
) -> None:
    app, api = service
    client_id = await consented_client(api, counsellor)
    headers = {**counsellor, "Idempotency-Key": str(uuid.uuid4())}
    body = {"client_id": client_id, "career_question": "Should I teach?"}
    pool = app.state.runtime.pool
    probe = await api.post(f"{BASE}/cases", json=body, headers=headers)
    scope = await key_scope(pool, probe)
    # As if that first request had died before committing: its events never existed.
    async with pool.acquire() as conn:
        await conn.execute(
            "DELETE FROM intake.intake_events WHERE originator_id = $1",
            uuid.UUID(probe.json()["case_id"]),
        )
        await conn.execute(
            "UPDATE intake.idempotency_keys SET status = NULL, headers = NULL, body = NULL, "
            "committed = NULL, locked_until = now() - interval '1 second' WHERE scope = $1",
            scope,
        )
    retry = await api.post(f"{BASE}/cases", json=body, headers=headers)
    assert retry.status_code == 201, retry.text
    assert "idempotent-replayed" not in retry.headers
    assert retry.json()["case_id"] != probe.json()["case_id"]
    assert await cases_of(app, client_id) == 1


async def test_a_request_whose_key_was_taken_over_cannot_commit(
    service: tuple[FastAPI, httpx.AsyncClient], counsellor: dict[str, str]
) -> None:
    app, api = service
    client_id = await consented_client(api, counsellor)
    headers = {**counsellor, "Idempotency-Key": str(uuid.uuid4())}
    first = await api.post(
        f"{BASE}/cases", json={"client_id": client_id, "career_question": "Q?"}, headers=headers
    )
    case_id = first.json()["case_id"]
    pool = app.state.runtime.pool
    scope = await key_scope(pool, first)
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE intake.idempotency_keys SET holder = $2 WHERE scope = $1",
            scope,
            uuid.uuid4(),
        )
    # A command of the old holder now (its lease was taken over) changes nothing.
    old = CommandMarker("intake", scope, uuid.uuid4())
    intake: IntakeApplication = app.state.application
    token = current_command.set(old)
    try:
        with pytest.raises(KeyTaken):
            intake.change(
                lambda: intake.case(uuid.UUID(case_id), counsellor_org(counsellor)),
                None,
                lambda c, at: c.check_entry(eligible=True, notes="n", actor="c", at=at),
            )
    finally:
        current_command.reset(token)
    assert await topics(app, case_id) == ["Case.Opened"]


def grant(client: Any, app: IntakeApplication) -> None:
    client.grant_consent(
        consent_id=uuid.uuid4(),
        purpose="guidance",
        partner_id=None,
        data_categories=[],
        actor="a",
        at=app.clock(),
    )


async def test_concurrent_commands_with_their_own_keys_each_commit_their_own_marker(
    service: tuple[FastAPI, httpx.AsyncClient], counsellor: dict[str, str]
) -> None:
    app, api = service
    keys = [str(uuid.uuid4()) for _ in range(6)]
    answers = await asyncio.gather(
        *[
            api.post(
                f"{BASE}/clients", json=client_body(), headers={**counsellor, "Idempotency-Key": k}
            )
            for k in keys
        ]
    )
    assert [r.status_code for r in answers] == [201] * 6, [r.text for r in answers]
    pool = app.state.runtime.pool
    for r in answers:
        committed = await pool.fetchval(
            "SELECT committed FROM intake.idempotency_keys WHERE scope = $1",
            await key_scope(pool, r),
        )
        made = r.json()["client_id"]
        assert json.loads(committed) == [[made, 1, {"result": None, "created": [made]}]]


async def test_an_expired_key_is_forgotten_and_the_request_runs_again(
    service: tuple[FastAPI, httpx.AsyncClient], counsellor: dict[str, str]
) -> None:
    app, api = service
    headers = {**counsellor, "Idempotency-Key": str(uuid.uuid4())}
    first = await api.post(f"{BASE}/clients", json=client_body(), headers=headers)
    pool = app.state.runtime.pool
    await pool.execute(
        "UPDATE intake.idempotency_keys SET expires = now() - interval '1 second' WHERE scope = $1",
        await key_scope(pool, first),
    )
    again = await api.post(f"{BASE}/clients", json=client_body(), headers=headers)
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert again.json()["client_id"] != first.json()["client_id"]


@pytest.mark.parametrize("failure", ["503", "exception"])
async def test_a_server_error_forgets_the_key_so_that_a_retry_runs(
    service: tuple[FastAPI, httpx.AsyncClient],
    settings: Settings,
    counsellor: dict[str, str],
    failure: str,
) -> None:
    """The middleware around a stand-in route that fails once, then answers 201."""
    app, _ = service
    calls: list[bytes] = []

    async def route(scope: Any, receive: Any, send: Any) -> None:
        calls.append((await receive())["body"])
        if len(calls) == 1:
            if failure == "exception":
                raise RuntimeError("the route failed")
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b"down"})
            return
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"made"})

    state = SimpleNamespace(
        settings=settings, verifier=app.state.verifier, runtime=app.state.runtime
    )
    wrapped = IdempotencyMiddleware(route, state=state, schema="intake")
    transport = httpx.ASGITransport(app=wrapped, raise_app_exceptions=False)
    headers = {**counsellor, "Idempotency-Key": str(uuid.uuid4())}
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        first = await client.post("/intake/v1/stand-in", content=b"{}", headers=headers)
        assert first.status_code in (500, 503)
        second = await client.post("/intake/v1/stand-in", content=b"{}", headers=headers)
        assert second.status_code == 201
        assert "idempotent-replayed" not in second.headers
        third = await client.post("/intake/v1/stand-in", content=b"{}", headers=headers)
        assert third.status_code == 201 and third.headers["idempotent-replayed"] == "true"
    assert calls == [b"{}", b"{}"]


# -- helpers --------------------------------------------------------------------------------------
def client_body(**overrides: Any) -> dict[str, Any]:
    return {
        "given_name": "Anna",
        "family_name": "Peeters",
        "birth_date": "1990-05-17",
        "email": "anna.peeters@example.org",
        **overrides,
    }


def counsellor_org(headers: dict[str, str]) -> str:
    import jwt

    token = headers["Authorization"].split(" ", 1)[1]
    return str(jwt.decode(token, options={"verify_signature": False})["org"])


async def consented_client(api: httpx.AsyncClient, headers: dict[str, str]) -> str:
    r = await api.post(f"{BASE}/clients", json=client_body(), headers=headers)
    assert r.status_code == 201, r.text
    client_id = str(r.json()["client_id"])
    r = await api.post(
        f"{BASE}/clients/{client_id}/consents",
        json={"purpose": "guidance", "granted": True},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return client_id


async def key_scope(pool: Any, answer: httpx.Response) -> str:
    """The key row of the request that gave `answer` (found by its stored body)."""
    scope = await pool.fetchval(
        "SELECT scope FROM intake.idempotency_keys WHERE body = $1", answer.content
    )
    assert scope is not None, answer.text
    return str(scope)


async def topics(app: FastAPI, aggregate_id: str) -> list[str]:
    rows = await app.state.runtime.pool.fetch(
        "SELECT topic FROM intake.intake_events WHERE originator_id = $1 "
        "ORDER BY originator_version",
        uuid.UUID(aggregate_id),
    )
    return [r["topic"].rsplit(":", 1)[1] for r in rows]


async def clients_of(app: FastAPI, headers: dict[str, str]) -> int:
    org = counsellor_org(headers)
    rows = await app.state.runtime.pool.fetch(
        "SELECT state FROM intake.intake_events WHERE topic LIKE '%:Client.Registered'"
    )
    return sum(1 for r in rows if f'"organisation":"{org}"'.encode() in bytes(r["state"]))


async def cases_of(app: FastAPI, client_id: str) -> int:
    rows = await app.state.runtime.pool.fetch(
        "SELECT state FROM intake.intake_events WHERE topic LIKE '%:Case.Opened'"
    )
    return sum(1 for r in rows if client_id.encode() in bytes(r["state"]))
