"""Re-create a service's stream from its event store (`waypoint streams rebuild`).

NATS is not the system of record: every published event is in its service's event store,
and the relay's position in `<service>.follower_positions` says how far it has published.
A stream that was lost, or that holds events a restored store no longer has, is rebuilt
by deleting it (its durable consumers go with it), creating it again with the relay's own
configuration (`ensure_stream`), and setting the relay's position back to 0: the relay
then publishes the whole log again, with the same `Nats-Msg-Id` (the event ids) and
positions, and the consumers, idempotent by event id, apply only what they have not.

All of it happens while holding the relay's lease (its advisory lock), so that no relay
publishes meanwhile: a running relay holds that lease for as long as it runs, so the
rebuild waits a little and then refuses; the relay (and worker) processes of the service
are stopped first. A relay standing by elsewhere that takes the lease afterwards reads
the stored position again (`LogFollower._run_once`), so it too starts from 0.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import asyncpg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from shared.messaging.envelope import stream_name
from shared.messaging.follower import follower_lock_key
from shared.messaging.relay import Relay, ensure_stream


class RelayRunning(Exception):
    """A relay of the service holds its lease: the stream cannot be rebuilt now."""


@dataclass(frozen=True)
class Rebuilt:
    stream: str
    deleted: bool  # False: there was no stream to delete
    messages_deleted: int
    position_before: int | None  # None: the relay had stored no position


@dataclass(frozen=True)
class StreamStatus:
    service: str
    stream: str
    messages: int | None  # None: no stream
    last_seq: int | None
    store_last_id: int | None  # the store's last notification id
    relay_position: int | None


async def rebuild_stream(
    connect_kwargs: dict[str, Any],
    js: JetStreamContext,
    service: str,
    *,
    duplicate_window: float,
    replicas: int,
    wait_seconds: float = 5.0,
) -> Rebuilt:
    """Delete and re-create `service`'s stream and set its relay's position back to 0,
    holding the relay's lease; `RelayRunning` if a relay keeps it for `wait_seconds`."""
    schema = service.lower()
    key = follower_lock_key(schema, Relay.name)
    conn = await asyncpg.connect(**connect_kwargs)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
            if loop.time() >= deadline:
                raise RelayRunning(
                    f"a relay of {service} is running (it holds the relay's lease): stop "
                    f"the relay/worker processes of {service} first"
                )
            await asyncio.sleep(0.2)
        try:
            name = stream_name(service)
            deleted, messages = True, 0
            try:
                info = await js.stream_info(name)
            except NotFoundError:
                deleted = False
            else:
                messages = info.state.messages
                await js.delete_stream(name)
            await ensure_stream(js, service, duplicate_window=duplicate_window, replicas=replicas)
            before = await _reset_position(conn, schema)
        finally:
            with contextlib.suppress(Exception):
                await conn.execute("SELECT pg_advisory_unlock($1)", key)
        return Rebuilt(
            stream=name, deleted=deleted, messages_deleted=messages, position_before=before
        )
    finally:
        await conn.close(timeout=2)


async def _reset_position(conn: asyncpg.Connection, schema: str) -> int | None:
    """Set the relay's stored position to 0 (not through `save_position`, which never
    goes back); the position it had, or None when it had none."""
    if not await _has_positions(conn, schema):
        return None
    async with conn.transaction():
        before: int | None = await conn.fetchval(
            f'SELECT position FROM "{schema}".follower_positions WHERE name = $1 FOR UPDATE',
            Relay.name,
        )
        if before is not None:
            await conn.execute(
                f'UPDATE "{schema}".follower_positions SET position = 0 WHERE name = $1',
                Relay.name,
            )
    return before


async def _has_positions(conn: asyncpg.Connection, schema: str) -> bool:
    return bool(
        await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f'"{schema}".follower_positions')
    )


async def stream_status(
    connect_kwargs: dict[str, Any], js: JetStreamContext, service: str, events_table: str
) -> StreamStatus:
    """The stream's message count and last sequence beside the store's last notification
    id and the relay's position."""
    schema = service.lower()
    name = stream_name(service)
    messages = last_seq = None
    with contextlib.suppress(NotFoundError):
        info = await js.stream_info(name)
        messages, last_seq = info.state.messages, info.state.last_seq
    conn = await asyncpg.connect(**connect_kwargs)
    try:
        store_last = None
        if await conn.fetchval(
            "SELECT to_regclass($1) IS NOT NULL", f'"{schema}"."{events_table}"'
        ):
            store_last = await conn.fetchval(
                f'SELECT max(notification_id) FROM "{schema}"."{events_table}"'
            )
        position = None
        if await _has_positions(conn, schema):
            position = await conn.fetchval(
                f'SELECT position FROM "{schema}".follower_positions WHERE name = $1',
                Relay.name,
            )
    finally:
        await conn.close(timeout=2)
    return StreamStatus(service, name, messages, last_seq, store_last, position)
