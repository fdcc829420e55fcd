"""The relay on the real PostgreSQL and NATS: nothing lost, nothing doubled, nothing plain."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import pytest
from nats.js.errors import NotFoundError

from services.intake.application import IntakeApplication
from services.intake.publications import PUBLICATIONS
from shared.messaging.envelope import stream_name
from shared.messaging.relay import Relay
from shared.runtime import key_vault
from shared.settings import Settings
from tests.conftest import stream_messages


class RelayTestApp(IntakeApplication):
    name = "relaytest"


SERVICE = "relaytest"
STREAM = stream_name(SERVICE)


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[RelayTestApp]:
    application = RelayTestApp(settings, key_vault(settings))
    yield application
    application.close()


async def reset_stream(js: Any) -> None:
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(STREAM)


@pytest.fixture
async def fresh_stream(js: Any) -> AsyncIterator[None]:
    """Each test starts with an empty stream."""
    await reset_stream(js)
    yield


def make_relay(
    app: IntakeApplication, settings: Settings, js: Any, cls: type[Relay] = Relay
) -> Relay:
    return cls(
        app,
        settings.pg.asyncpg_kwargs(),
        js,
        SERVICE,
        PUBLICATIONS,
        duplicate_window=600,
        batch_size=7,  # several batches per test
        poll_seconds=0.1,
    )


async def run_until_published(relay: Relay, app: IntakeApplication, timeout: float = 15) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        target = app.recorder.max_notification_id() or 0
        deadline = asyncio.get_running_loop().time() + timeout
        while relay.position < target:
            assert asyncio.get_running_loop().time() < deadline, "relay did not catch up"
            assert not task.done(), task
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def journey(app: IntakeApplication, n: int) -> list[tuple[uuid.UUID, str, str]]:
    """n clients with consent and an accepted case; returns (client_id, name, email)."""
    made = []
    for i in range(n):
        name, email = f"Relay{uuid.uuid4().hex[:8]}", f"r{uuid.uuid4().hex[:8]}@example.org"
        client_id = app.register_client(
            organisation="org-r",
            actor="counsellor-1",
            given_name=name,
            family_name="Plaintextsson",
            birth_date=date(1991, 1, 1 + i % 27),
            email=email,
        )
        app.record_consent(
            client_id, organisation="org-r", actor="counsellor-1", purpose="guidance", granted=True
        )
        case_id = app.open_case(
            client_id=client_id,
            organisation="org-r",
            actor="counsellor-1",
            career_question=f"Question of {name}",
        )

        def accept(case: Any, at: Any, name: str = name) -> None:
            case.check_entry(eligible=True, notes=f"notes about {name}", actor="c", at=at)
            case.record_assessment(
                assessment_id=uuid.uuid4(),
                assessor="client",
                scores={
                    "quality_reflection": 2,
                    "motive_reflection": 3,
                    "work_exploration": 3,
                    "career_steering": 4,
                    "networking": 1,
                },
                actor="c",
                at=at,
            )
            case.decide(decision="accept", reason=None, actor="c", at=at)

        app.change(lambda case_id=case_id: app.case(case_id, "org-r"), None, accept)
        made.append((client_id, name, email))
    return made


def published_events(app: IntakeApplication, start: int) -> list[Any]:
    return [
        n
        for n in app.recorder.select_notifications(start=start, limit=100_000)
        if type(app.mapper.to_domain_event(n)) in PUBLICATIONS
    ]


async def test_events_committed_while_the_relay_was_down_all_arrive_once(
    app: RelayTestApp, settings: Settings, js: Any, fresh_stream: None
):
    start = (app.recorder.max_notification_id() or 0) + 1
    # Catch the relay up to now, so this test sees only its own events.
    await run_until_published(make_relay(app, settings, js), app)
    await reset_stream(js)
    made = journey(app, 5)  # committed with no relay running
    await run_until_published(make_relay(app, settings, js), app)

    messages = await stream_messages(js, STREAM)
    expected = published_events(app, start)
    ids = [m.headers["Nats-Msg-Id"] for m in messages]
    assert len(ids) == len(set(ids)) == len(expected) == 5 * 6
    envelopes = [json.loads(m.data) for m in messages]
    assert [e["id"] for e in envelopes] == ids
    # In log order, with the contract's fields.
    positions = [e["position"] for e in envelopes]
    assert positions == sorted(positions)
    for env, msg in zip(envelopes, messages, strict=True):
        assert env["specversion"] == "1.0"
        assert env["source"] == "/guidance/relaytest"
        assert env["datacontenttype"] == "application/json"
        event_type = msg.subject.split(".")[2]
        assert msg.subject == f"guidance.relaytest.{event_type}"
        assert env["type"] == f"guidance.intake.{event_type}.v1"
        assert env["subject"] and env["time"] and isinstance(env["data"], dict)
        assert env["data"]["actor"]
    accepted = [e for e in envelopes if e["type"].endswith("CaseAccepted.v1")]
    assert len(accepted) == 5
    assert accepted[0]["data"]["gaps"] == ["quality_reflection", "networking"]
    assert accepted[0]["data"]["scores"]["client"]["career_steering"] == 4
    registered = [e for e in envelopes if e["type"].endswith("ClientRegistered.v1")]
    assert {e["subject"] for e in registered} == {str(c) for c, _, _ in made}
    assert registered[0]["data"]["given_name"]["$sealed"] == "A256GCM"


async def test_no_plaintext_personal_field_reaches_nats(
    app: RelayTestApp, settings: Settings, js: Any, fresh_stream: None
):
    made = journey(app, 3)
    await run_until_published(make_relay(app, settings, js), app)
    blob = b"\n".join(m.data for m in await stream_messages(js, STREAM))
    assert blob, "nothing was published"
    for _, name, email in made:
        for secret in (name, email, "Plaintextsson", f"Question of {name}", f"notes about {name}"):
            assert secret.encode() not in blob, secret
    assert b"1991-01-" not in blob  # birth dates are sealed too


class CrashAfterPublish(Relay):
    """Publishes, then dies before it can store its position (once)."""

    crashed = False

    async def save_position(self, conn: Any, position: int) -> None:
        if not CrashAfterPublish.crashed:
            CrashAfterPublish.crashed = True
            raise RuntimeError("simulated crash between publish and position")
        await super().save_position(conn, position)


async def test_a_crash_between_publish_and_position_republishes_without_duplicates(
    app: RelayTestApp, settings: Settings, js: Any, fresh_stream: None
):
    await run_until_published(make_relay(app, settings, js), app)
    await reset_stream(js)
    journey(app, 2)
    relay = make_relay(app, settings, js, CrashAfterPublish)
    await run_until_published(relay, app, timeout=20)
    assert CrashAfterPublish.crashed
    ids = [m.headers["Nats-Msg-Id"] for m in await stream_messages(js, STREAM)]
    assert len(ids) == len(set(ids)) == 2 * 6


async def test_only_one_relay_is_active_and_another_takes_over_when_it_stops(
    app: RelayTestApp, settings: Settings, js: Any, fresh_stream: None
):
    first, second = make_relay(app, settings, js), make_relay(app, settings, js)
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    t1 = asyncio.create_task(first.run(stop_first))
    await asyncio.wait_for(first.active.wait(), 10)
    t2 = asyncio.create_task(second.run(stop_second))
    await asyncio.sleep(1.0)
    assert first.active.is_set() and not second.active.is_set()
    stop_first.set()
    await asyncio.wait_for(t1, 10)
    await asyncio.wait_for(second.active.wait(), 10)
    journey(app, 1)
    target = app.recorder.max_notification_id()
    for _ in range(200):
        if second.position >= target:
            break
        await asyncio.sleep(0.05)
    assert second.position == target
    stop_second.set()
    await asyncio.wait_for(t2, 10)


async def test_a_standby_replica_learns_the_active_ones_progress(
    app: RelayTestApp, settings: Settings, js: Any, fresh_stream: None
):
    """Read-your-writes across processes: a standby follower's wait ends when the
    active one (elsewhere) has handled the position."""
    active, standby = make_relay(app, settings, js), make_relay(app, settings, js)
    stop = asyncio.Event()
    t1 = asyncio.create_task(active.run(stop))
    await asyncio.wait_for(active.active.wait(), 10)
    t2 = asyncio.create_task(standby.run(stop))
    await asyncio.wait_for(standby.following.wait(), 10)
    assert not standby.active.is_set()
    journey(app, 1)
    target = app.recorder.max_notification_id()
    assert await standby.wait_until(target, timeout=10)
    assert standby.position >= target
    stop.set()
    await asyncio.wait_for(asyncio.gather(t1, t2), 10)


async def test_a_web_process_follows_progress_without_ever_becoming_active(
    app: RelayTestApp, settings: Settings, js: Any, fresh_stream: None
):
    """In a split deployment the web process only follows (for read-your-writes)."""
    active, web = make_relay(app, settings, js), make_relay(app, settings, js)
    stop_active, stop_web = asyncio.Event(), asyncio.Event()
    t_web = asyncio.create_task(web.follow(stop_web))
    await asyncio.wait_for(web.following.wait(), 10)
    t_active = asyncio.create_task(active.run(stop_active))
    await asyncio.wait_for(active.active.wait(), 10)
    journey(app, 1)
    target = app.recorder.max_notification_id()
    assert await web.wait_until(target, timeout=10)
    # Even with nobody else active, a follower that only follows never publishes.
    stop_active.set()
    await asyncio.wait_for(t_active, 10)
    journey(app, 1)
    await asyncio.sleep(1.0)
    assert not web.active.is_set() and web.published == 0
    stop_web.set()
    await asyncio.wait_for(t_web, 10)
