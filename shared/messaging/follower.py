"""Followers of a service's own notification log: the relay and the projections.

A follower keeps its position in `<schema>.follower_positions`, holds a PostgreSQL
advisory lock so exactly one replica is active, wakes on the store's NOTIFY (and
on in-process commits), and hands each batch of notifications to `handle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from eventsourcing.persistence import Notification

from shared.eventstore import ServiceApplication

log = logging.getLogger(__name__)


class LogFollower(ABC):
    """Reads the notification log from a tracked position, one batch at a time."""

    name: str = "follower"
    # Seconds to wait after a wake-up before reading, so that a follower nobody waits
    # for (the audit trail) takes a busy log in fewer, larger batches. 0: at once.
    linger_seconds: float = 0.0

    def __init__(
        self,
        app: ServiceApplication,
        connect_kwargs: dict[str, Any],
        *,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
    ) -> None:
        self.app = app
        self.schema = app.name.lower()
        self.connect_kwargs = connect_kwargs
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.position = 0
        self.active = asyncio.Event()
        # Set while this follower knows the position: active, or standing by and listening.
        self.following = asyncio.Event()
        self.caught_up = asyncio.Event()
        self._wake = asyncio.Event()
        self._urgent = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: asyncpg.Connection | None = None
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    @property
    def lock_key(self) -> int:
        return zlib.crc32(f"{self.schema}:{self.name}".encode())

    def wake(self, *_: Any) -> None:
        """Thread-safe: called after a commit in this process."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def setup(self, conn: asyncpg.Connection) -> None:
        """Create what the follower needs (tables, streams); runs once it holds the lock."""
        return None  # an optional hook

    @abstractmethod
    async def handle(self, conn: asyncpg.Connection, batch: Sequence[Notification]) -> None:
        """Process a batch and store the new position on `conn` (one transaction)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; survives database and broker outages by retrying."""
        await self._keep_running(stop, self._run_once)

    async def follow(self, stop: asyncio.Event) -> None:
        """Never become active; only follow the active follower's progress (elsewhere),
        so that commands here can wait for their events to be handled."""
        await self._keep_running(stop, self._follow_once)

    async def _follow_once(self, stop: asyncio.Event) -> None:
        conn = await asyncpg.connect(**self.connect_kwargs)
        try:
            await conn.add_listener(self.progress_channel, self._progress)
            await self._load_position(conn)
            self.following.set()
            while not stop.is_set() and not conn.is_closed():
                await _sleep_or_stop(stop, self.poll_seconds * 4)
        finally:
            self.following.clear()
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    async def _keep_running(
        self, stop: asyncio.Event, once: Callable[[asyncio.Event], Awaitable[None]]
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.app.on_saved(self.wake)
        while not stop.is_set():
            try:
                await once(stop)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
                log.warning("%s %s: %s; retrying", self.schema, self.name, e)
            except Exception:
                log.exception("%s %s failed; retrying", self.schema, self.name)
            finally:
                self.active.clear()
            await _sleep_or_stop(stop, 1.0)

    async def _run_once(self, stop: asyncio.Event) -> None:
        conn = await asyncpg.connect(**self.connect_kwargs)
        self._conn = conn
        try:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.lock_key):
                # Another replica (or worker process) is active: stand by, following its
                # progress so that waiters here learn when it has handled their events.
                await conn.add_listener(self.progress_channel, self._progress)
                await self._load_position(conn)
                self.following.set()
                while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.lock_key):
                    if await _sleep_or_stop(stop, self.poll_seconds * 4):
                        return
                await conn.remove_listener(self.progress_channel, self._progress)
            async with conn.transaction():
                # Several followers (and replicas) create tables at start: one at a time.
                await conn.execute("SELECT pg_advisory_xact_lock(7420003)")
                await conn.execute(
                    f'CREATE TABLE IF NOT EXISTS "{self.schema}".follower_positions '
                    "(name text PRIMARY KEY, position bigint NOT NULL)"
                )
                await self.setup(conn)
            await self._load_position(conn)
            channel = f"{self.schema}_events"
            await conn.add_listener(channel, self.wake_local)
            self.active.set()
            self.following.set()
            while not stop.is_set():
                self._wake.clear()
                batch = await asyncio.to_thread(
                    self.app.recorder.select_notifications,
                    start=self.position + 1,
                    limit=self.batch_size,
                )
                if batch:
                    self.caught_up.clear()
                    await self.handle(conn, batch)
                    self.position = batch[-1].id
                    self._advanced()
                    if len(batch) == self.batch_size:
                        continue
                self.caught_up.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                if self.linger_seconds and not self._waiters:
                    # Cut short when somebody starts waiting for a position.
                    self._urgent.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._urgent.wait(), self.linger_seconds)
        finally:
            self._conn = None
            self.following.clear()
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    async def _load_position(self, conn: asyncpg.Connection) -> None:
        exists = await conn.fetchval(
            "SELECT to_regclass($1) IS NOT NULL", f'"{self.schema}".follower_positions'
        )
        stored = None
        if exists:
            stored = await conn.fetchval(
                f'SELECT position FROM "{self.schema}".follower_positions WHERE name = $1',
                self.name,
            )
        self.position = max(self.position, stored or 0)
        self._advanced()

    @property
    def progress_channel(self) -> str:
        return f"{self.schema}_{self.name}_progress"

    def _progress(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.position = max(self.position, int(payload))
        self._advanced()

    def wake_local(self, *_: Any) -> None:
        self._wake.set()

    async def save_position(self, conn: asyncpg.Connection, position: int) -> None:
        """Store the position and tell standby replicas (delivered at commit)."""
        # One round trip: the upsert, and the notification that goes out with its commit.
        await conn.execute(
            f'WITH saved AS (INSERT INTO "{self.schema}".follower_positions (name, position) '
            "VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position) "
            "SELECT pg_notify($3, $2::text)",
            self.name,
            position,
            self.progress_channel,
        )

    async def wait_until(self, position: int, timeout: float = 5.0) -> bool:
        """Wait until this follower has handled the log up to `position`."""
        if self.position >= position:
            return True
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((position, waiter))
        self._urgent.set()
        try:
            await asyncio.wait_for(waiter, timeout)
            return True
        except TimeoutError:
            return False

    def _advanced(self) -> None:
        still = []
        for position, waiter in self._waiters:
            if position <= self.position:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                still.append((position, waiter))
        self._waiters = still


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep; True if `stop` was set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()
