"""A key destroyed in one process is forgotten by every other within a bound, though
their key caches would keep it for an hour: the destroy is announced over NATS
(shared/privacy/broadcast.py). Two replicas here: two vaults (caches) on the real
PostgreSQL, each with its own NATS connection, as two processes would have."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client as NATS

from shared.privacy import KeyVault
from shared.privacy.broadcast import KeyBroadcast
from shared.settings import Settings

# How soon every other replica must have forgotten a destroyed key (the announcement's
# round trip is milliseconds on loopback; far below the hour the caches would keep it).
BOUND_SECONDS = 1.0
CACHE_SECONDS = 3600.0


def replica_vault(settings: Settings) -> KeyVault:
    return KeyVault(
        settings.pg.dsn(), settings.master_key_bytes, cache_seconds=CACHE_SECONDS, max_size=2
    )


@pytest.fixture
async def connections(settings: Settings) -> AsyncIterator[list[NATS]]:
    made = [await nats.connect(settings.nats_servers) for _ in range(3)]
    yield made
    for nc in made:
        await nc.close()


async def until_forgotten(vault: KeyVault, client_id: uuid.UUID, seconds: float) -> float | None:
    """Seconds until `vault` no longer gives the key (None: still gives it after `seconds`)."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if await asyncio.to_thread(vault.key_for, client_id) is None:
            return time.monotonic() - start
        await asyncio.sleep(0.005)
    return None


async def test_a_key_destroyed_in_one_replica_is_forgotten_by_the_others_within_the_bound(
    settings: Settings, connections: list[NATS]
) -> None:
    subject = f"test.vault.key-destroyed.{uuid.uuid4().hex[:8]}"
    one, other, unwired = (replica_vault(settings) for _ in range(3))
    broadcasts = [
        KeyBroadcast(one, connections[0], subject),
        KeyBroadcast(other, connections[1], subject),
    ]
    try:
        for b in broadcasts:
            await b.start()
        client_id = uuid.uuid4()
        key = await asyncio.to_thread(one.key_for, client_id, create=True)
        assert key is not None
        # Every replica has the key cached (for an hour).
        for vault in (other, unwired):
            assert await asyncio.to_thread(vault.key_for, client_id) == key
        started = time.monotonic()
        # As a request handler destroys it: in a thread, which waits for the server.
        assert await asyncio.to_thread(one.destroy, client_id, by="tester", reason="erasure")
        forgotten = await until_forgotten(other, client_id, BOUND_SECONDS)
        assert forgotten is not None, f"the other replica still opened data after {BOUND_SECONDS} s"
        assert time.monotonic() - started < BOUND_SECONDS
        assert broadcasts[1].received == 1
        # The control: a replica without the broadcast keeps its cached copy (what the
        # broadcast is for: without it, the window is the cache's hour).
        assert await asyncio.to_thread(unwired.key_for, client_id) == key
        # And once forgotten, the other replica knows it for good (the vault says so).
        assert await asyncio.to_thread(other.key_for, client_id) is None
    finally:
        for b in broadcasts:
            await b.stop()
        for vault in (one, other, unwired):
            vault.close()


async def test_a_key_read_while_its_destruction_is_announced_is_not_cached(
    settings: Settings,
) -> None:
    """The race the generation guards: a fetch that began before a forget does not put
    the key it read back into the cache."""
    vault = replica_vault(settings)
    try:
        client_id = uuid.uuid4()
        key = await asyncio.to_thread(vault.key_for, client_id, create=True)
        vault.forget(client_id)
        generation = vault._generation
        vault.forget(client_id)  # announced while a fetch (begun at `generation`) runs
        vault._remember(client_id, key, time.monotonic(), generation)
        assert client_id not in vault._cache
        # A fetch begun after the forget caches as usual.
        assert await asyncio.to_thread(vault.key_for, client_id) == key
        assert vault._cache[client_id][0] == key
    finally:
        vault.close()


async def test_an_announcement_that_is_not_a_client_id_is_ignored(
    settings: Settings, connections: list[NATS]
) -> None:
    subject = f"test.vault.key-destroyed.{uuid.uuid4().hex[:8]}"
    vault = replica_vault(settings)
    broadcast = KeyBroadcast(vault, connections[2], subject)
    try:
        await broadcast.start()
        client_id = uuid.uuid4()
        key = await asyncio.to_thread(vault.key_for, client_id, create=True)
        await connections[0].publish(subject, b"not-a-uuid")
        await connections[0].flush()
        await asyncio.sleep(0.2)
        assert broadcast.received == 0
        assert vault._cache[client_id][0] == key
    finally:
        await broadcast.stop()
        vault.close()
