"""What a running service holds: connections, background tasks, readiness.

Built once in the service's lifespan (its composition root); nothing connects at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from functools import lru_cache
from typing import Any

import asyncpg
import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from shared.messaging.consumer import Consumer
from shared.messaging.deadletters import FOLLOWER_LAG, DeadLetters
from shared.messaging.envelope import stream_name
from shared.messaging.follower import LogFollower
from shared.pool import pooled
from shared.privacy import KeyVault
from shared.settings import Settings

log = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def _vault(
    dsn: str, master_key: bytes, previous_key: bytes | None, cache_seconds: float, pool: int
) -> KeyVault:
    return KeyVault(
        dsn, master_key, previous_key=previous_key, cache_seconds=cache_seconds, max_size=pool
    )


def key_vault(settings: Settings) -> KeyVault:
    """One key vault per process and database, so an erasure is seen by every service here
    (a new one once a command of this process has closed it)."""
    args = (
        settings.pg.dsn(),
        settings.master_key_bytes,
        settings.master_key_previous_bytes,
        settings.key_cache_seconds,
        settings.vault_pool_size,
    )
    vault = _vault(*args)
    if vault.closed:
        _vault.cache_clear()
        vault = _vault(*args)
    return vault


async def _reset(conn: asyncpg.Connection) -> None:
    """Ready a connection for its next user. Nothing here changes a session's state (no
    SET, LISTEN or session locks on pooled connections: a job's pass lock is released, or
    its connection ended, before it goes back, `shared.jobs.pass_lock`), so only an unfinished
    transaction needs undoing: asyncpg's default reset costs a round trip per release."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


@contextlib.asynccontextmanager
async def snapshot(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection whose reads all see one snapshot (a read-only repeatable-read
    transaction), so that a page and its total, or a report's figures, agree with each
    other even while events are being applied."""
    async with pooled(pool) as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        yield conn


# Seconds a worker waits before standing in for the web processes' projection or the
# relay process's relay (which normally hold their locks by then), and between its tries
# for the lock while another holds it (a web or relay replica, trying every
# `4 * GUIDANCE_RELAY_POLL_SECONDS`, takes it first when the holder goes).
STAND_IN_DELAY = 5.0


def _later(
    run: Callable[[asyncio.Event], Coroutine[Any, Any, None]], seconds: float
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    async def delayed(stop: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
        if not stop.is_set():
            await run(stop)

    return delayed


class Runtime:
    """A service's live connections and background tasks."""

    def __init__(self, settings: Settings, service: str) -> None:
        self.settings = settings
        self.service = service
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[Any]] = []
        self.nc: NATS | None = None
        self._js: JetStreamContext | None = None
        self._pool: asyncpg.Pool | None = None
        self.dead_letters: DeadLetters | None = None
        # Every follower and consumer the service has (a re-drive may need any of them),
        # and those this process runs or follows (readyz watches their lag).
        self.followers: dict[str, LogFollower] = {}
        self.consumers: dict[str, Consumer] = {}
        self.watched: dict[str, LogFollower] = {}
        self._lagging_since: dict[str, float] = {}
        self._nats_down = False

    async def _nats_error(self, error: Exception) -> None:
        # Each failed reconnection attempt reports here: one warning per outage.
        if self._nats_down:
            log.debug("%s: NATS: %s", self.service, error)
        else:
            log.warning("%s: NATS: %s: %s", self.service, type(error).__name__, error)

    async def _nats_disconnected(self) -> None:
        if not self._nats_down and not self.stop.is_set():
            log.warning("%s: NATS connection lost; reconnecting (quietly)", self.service)
        self._nats_down = True

    async def _nats_reconnected(self) -> None:
        if self._nats_down:
            log.info("%s: NATS reconnected", self.service)
        self._nats_down = False

    @property
    def js(self) -> JetStreamContext:
        assert self._js is not None, "runtime not started"
        return self._js

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "runtime not started"
        return self._pool

    async def start(self) -> None:
        self.nc = await nats.connect(
            self.settings.nats_servers,
            name=f"waypoint-{self.service}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            error_cb=self._nats_error,
            disconnected_cb=self._nats_disconnected,
            reconnected_cb=self._nats_reconnected,
        )
        self._js = self.nc.jetstream()
        self._pool = await asyncpg.create_pool(
            **self.settings.pg.asyncpg_kwargs(),
            # Opened as needed: a process with little read-model work (a relay) keeps none.
            min_size=0,
            max_size=self.settings.read_pool_size,
            reset=_reset,
        )
        self.dead_letters = DeadLetters(self._pool, self.service, self.service)
        await self.dead_letters.ensure()

    async def ensure_tables(self, sql: str) -> None:
        """Run a service's idempotent DDL, one process at a time."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(7420003)")
            await conn.execute(sql)

    def start_background(
        self, followers: dict[str, LogFollower], consumers: dict[str, Consumer]
    ) -> None:
        """Start what works behind the API, as this process's role says.

        The projection, which commands wait for (read-your-writes), runs beside them: in
        a `web` process (one of them holds its lock, the others follow it), and in a
        `worker` only as a stand-in that starts a little later, so that a web process
        normally holds it. The relay runs in a `relay` process, whose only work it is,
        and in a `worker` as such a stand-in. The audit trail and the consumers run in a
        `worker`; a `web` process follows the audit trail's progress. `all` runs
        everything."""
        role = self.settings.role
        self.followers.update(followers)
        self.consumers.update({c.name: c for c in consumers.values()})
        if self.dead_letters is not None:
            attempts = self.settings.dead_letter_after_attempts
            for follower in followers.values():
                follower.attach(self.dead_letters, attempts=attempts)
            for consumer in consumers.values():
                consumer.attach(self.dead_letters, attempts=attempts)
        for name, follower in followers.items():
            if role == "web":
                # Commands wait for the projection; audit views for the trail. Nothing
                # here waits for the relay: a web process leaves it alone.
                if name == "projection":
                    self.spawn(name, follower.run)
                elif name != "relay":
                    self.spawn(name, follower.follow)
                else:
                    continue
            elif role == "relay":
                if name == "relay":
                    self.spawn(name, follower.run)
                else:
                    continue
            elif role == "worker" and name in ("projection", "relay"):
                follower.standby_poll_seconds = STAND_IN_DELAY
                self.spawn(name, _later(follower.run, STAND_IN_DELAY))
            else:
                self.spawn(name, follower.run)
            self.watched[name] = follower
        if self.runs_jobs:
            for name, consumer in consumers.items():
                consumer.ack_wait_seconds = self.settings.consumer_ack_wait_seconds
                self.spawn(name, consumer.run)

    @property
    def runs_jobs(self) -> bool:
        """Whether this process runs the consumers and the periodic jobs."""
        return self.settings.role in ("all", "worker")

    def spawn(self, name: str, run: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
        self.tasks.append(asyncio.create_task(run(self.stop), name=f"{self.service}:{name}"))

    async def ready(self) -> dict[str, bool]:
        checks = {"database": False, "nats": False}
        with contextlib.suppress(Exception):
            async with self.pool.acquire(timeout=2) as conn:
                checks["database"] = await conn.fetchval("SELECT true", timeout=2)
        checks["nats"] = bool(self.nc and self.nc.is_connected)
        return checks

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """readyz: the store and NATS reachable, no follower or consumer of this process
        lagging (beyond the grace), no dead letters unattended."""
        checks: dict[str, bool] = dict(await self.ready())
        body: dict[str, Any] = {"checks": checks, "followers": {}, "dead_letters": None}
        if checks["database"]:
            with contextlib.suppress(Exception):
                lags = await self._lags()
                body["followers"] = lags
                now = time.monotonic()
                for name, lag in lags.items():
                    if lag["lag"] > self.settings.ready_max_lag:
                        since = self._lagging_since.setdefault(name, now)
                        checks[f"lag:{name}"] = now - since < self.settings.ready_lag_grace_seconds
                    else:
                        self._lagging_since.pop(name, None)
                        checks[f"lag:{name}"] = True
            with contextlib.suppress(Exception):
                assert self.dead_letters is not None
                async with self.pool.acquire(timeout=2) as conn:
                    waiting = await self.dead_letters.unresolved_by_follower(
                        conn, self.settings.ready_dead_letter_grace_seconds
                    )
                body["dead_letters"] = sum(waiting.values())
                for name, count in waiting.items():
                    checks[f"dead-letters:{name}"] = count == 0
        ok = all(checks.values())
        body = {"status": "ready" if ok else "not-ready", **body}
        return ok, body

    async def refresh_metrics(self) -> None:
        """Bring the lag gauge up to date (before a scrape)."""
        with contextlib.suppress(Exception):
            await self._lags()

    async def _lags(self) -> dict[str, dict[str, int]]:
        """How far behind the head of what they read this process's followers and
        consumers are (events); also set as the lag gauge."""
        lags: dict[str, dict[str, int]] = {}
        heads: dict[str, int] = {}
        async with self.pool.acquire(timeout=2) as conn:
            for name, follower in self.watched.items():
                sql = follower.head_sql()
                if sql not in heads:
                    heads[sql] = int(await conn.fetchval(sql, timeout=2) or 0)
                head = heads[sql]
                lags[name] = {
                    "position": follower.position,
                    "head": head,
                    "lag": max(0, head - follower.position),
                }
        if self.runs_jobs and self._js is not None:
            infos = await asyncio.gather(
                *(
                    self._js.consumer_info(stream_name(c.source_service), c.name, timeout=1)
                    for c in self.consumers.values()
                ),
                return_exceptions=True,
            )
            for consumer, info in zip(self.consumers.values(), infos, strict=True):
                if not isinstance(info, BaseException):
                    lags[consumer.name] = {"lag": int(info.num_pending or 0)}
        for name, lag in lags.items():
            FOLLOWER_LAG.labels(self.service, name).set(lag["lag"])
        return lags

    async def close(self) -> None:
        self.stop.set()
        if self.tasks:
            _, pending = await asyncio.wait(self.tasks, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.drain()
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._pool.close(), 5)
