"""A destroyed key announced to every process, so that no replica goes on opening a
client's data from its key cache after the erasure.

Each process caches unwrapped keys (`KeyVault`, `GUIDANCE_KEY_CACHE_SECONDS`). The
process that destroys a key drops its own copy; the others would keep theirs until it
expires. So each service's runtime subscribes to a core NATS subject
(`GUIDANCE_KEY_INVALIDATION_SUBJECT`, every replica, no queue group) on which a destroy is
announced with the client's id, and its vault forgets that key: the window after an
erasure is the announcement's round trip (milliseconds) across replicas. Core NATS is at
most once: should an announcement be lost (NATS down at that moment), the cache's time
limit still bounds the window, and an erasure consumer's repeated destroy announces it
again. A message carries only the client's id (no personal data); a forged one makes a
process ask the vault again, nothing more.

The destroying thread waits (up to `flush_seconds`) until the NATS server has the
announcement, so that an erasure is answered once every replica can learn of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from prometheus_client import Counter

from shared.privacy.keyvault import KeyVault

log = logging.getLogger(__name__)

RECEIVED = Counter(
    "waypoint_key_destructions_received",
    "Announcements of a destroyed key this process received (and forgot the key), by the "
    "service whose subscription received it.",
    ["service"],
)

SUBJECT = "guidance.vault.key-destroyed"


class KeyBroadcast:
    """Announces this process's destroyed keys and forgets those destroyed elsewhere."""

    def __init__(
        self,
        vault: KeyVault,
        nc: NATS,
        subject: str = SUBJECT,
        *,
        service: str = "-",
        flush_seconds: float = 1.0,
    ) -> None:
        self.vault = vault
        self.service = service
        self.nc = nc
        self.subject = subject
        self.flush_seconds = flush_seconds
        self.received = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sub: Subscription | None = None
        self._withdraw: Callable[[], None] | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._sub = await self.nc.subscribe(self.subject, cb=self._received)
        self._withdraw = self.vault.announce_with(self.announce)

    async def stop(self) -> None:
        if self._withdraw is not None:
            self._withdraw()
            self._withdraw = None
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    def announce(self, client_id: uuid.UUID) -> None:
        """Publish `client_id` (from any thread; a thread other than the loop's waits
        until the server has it, at most `flush_seconds`)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        future = asyncio.run_coroutine_threadsafe(self._publish(client_id), loop)
        if _in_loop_thread(loop):
            return  # called on the loop itself: it runs once this caller yields
        try:
            future.result(self.flush_seconds)
        except Exception:
            log.warning("key destruction of %s: announcement not confirmed", client_id)

    async def _publish(self, client_id: uuid.UUID) -> None:
        await self.nc.publish(self.subject, str(client_id).encode())
        await self.nc.flush(timeout=max(1, round(self.flush_seconds)))

    async def _received(self, msg: Msg) -> None:
        try:
            client_id = uuid.UUID(msg.data.decode())
        except (UnicodeDecodeError, ValueError):
            log.warning("%s: not a client id; ignored", self.subject)
            return
        self.received += 1
        RECEIVED.labels(self.service).inc()
        self.vault.forget(client_id)


def _in_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
