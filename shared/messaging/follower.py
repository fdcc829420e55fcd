"""Followers of a service's own notification log: the relay and the projections.

A follower keeps its position in `<schema>.follower_positions`, holds a PostgreSQL
advisory lock so exactly one replica is active, wakes on the store's NOTIFY (and
on in-process commits), and hands each batch of notifications to `handle`. An event
that keeps failing is set aside as a dead letter (see `shared/messaging/deadletters.py`),
so that one event never stalls a follower for good.
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
from prometheus_client import Gauge

from shared.eventstore import ServiceApplication
from shared.messaging.deadletters import DeadLetters, describe, is_transient
from shared.privacy.sealing import event_id

log = logging.getLogger(__name__)

FOLLOWER_ACTIVE = Gauge(
    "waypoint_follower_active",
    "1 while this process's follower holds its lock and runs (one replica at a time: the "
    "relay's lease), 0 while it stands by or is down.",
    ["service", "follower"],
)


class Stopping(Exception):
    """Stopped while retrying an event: leave it (and its batch) for the next start."""


class LogFollower(ABC):
    """Reads the notification log from a tracked position, one batch at a time."""

    name: str = "follower"
    # Seconds to wait after a wake-up before reading, so that a follower nobody waits
    # for (the audit trail) takes a busy log in fewer, larger batches. 0: at once.
    linger_seconds: float = 0.0
    # An event that keeps failing (see shared/messaging/deadletters.py): "park" records
    # it as a dead letter, holds its aggregate's later events and goes on (projections);
    # "stay" records it but retries it in place (a total order: the audit chain);
    # "retry" retries the batch as it is (the relay: its failures are the broker's).
    poison: str = "park"
    # Backoff between the attempts at one event ("stay": up to its last value, 30 s).
    retry_backoff: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4, 0.8)

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
        self.dead_letters: DeadLetters | None = None
        self.dead_letter_after = 5
        # Aggregates whose events are held behind a dead letter: id -> first letter.
        self._held: dict[str, int] = {}
        self._open_in_place = False
        self._stop: asyncio.Event | None = None
        # Set when asked to hand its lease over (`waypoint rebuild`: NOTIFY on `yield_channel`).
        self._yield = asyncio.Event()
        self._free = asyncio.Event()
        self._handed_over = False
        self._outage: str | None = None
        # How often a standby replica tries for the lock (None: every `poll_seconds * 4`);
        # a stand-in (a worker's relay) tries less often, so that a replica of the role
        # whose work it is takes the lock first when the holder goes.
        self.standby_poll_seconds: float | None = None

    def attach(self, dead_letters: DeadLetters, *, attempts: int) -> None:
        """Record events that fail `attempts` times in `dead_letters` (see `poison`)."""
        self.dead_letters = dead_letters
        self.dead_letter_after = attempts

    @property
    def lock_key(self) -> int:
        return follower_lock_key(self.schema, self.name)

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
                await sleep_or_stop(stop, self.poll_seconds * 4)
        finally:
            self.following.clear()
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    async def _keep_running(
        self, stop: asyncio.Event, once: Callable[[asyncio.Event], Awaitable[None]]
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = stop
        self.app.on_saved(self.wake)
        while not stop.is_set():
            try:
                await once(stop)
            except Stopping:
                pass
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
                # An outage: one warning when it starts, not one a second.
                self._failed(f"{type(e).__name__}: {e}", None)
            except Exception as e:
                self._failed(f"{type(e).__name__}: {e}", None if is_transient(e) else e)
            finally:
                self.active.clear()
                FOLLOWER_ACTIVE.labels(self.schema, self.name).set(0)
            # Having handed the lease over on request: stand by at once.
            await sleep_or_stop(stop, 0.0 if self._handed_over else 1.0)

    def _failed(self, what: str, error: Exception | None) -> None:
        """Log a failure once while it lasts (the same error again: quietly)."""
        if self._outage == what:
            log.debug("%s %s: %s; retrying", self.schema, self.name, what)
        elif error is None:
            log.warning(
                "%s %s: %s; retrying (quietly until it recovers)", self.schema, self.name, what
            )
        else:
            log.error("%s %s failed; retrying", self.schema, self.name, exc_info=error)
        self._outage = what

    def _recovered(self) -> None:
        if self._outage is not None:
            log.info("%s %s: going again", self.schema, self.name)
            self._outage = None

    async def _run_once(self, stop: asyncio.Event) -> None:
        conn = await asyncpg.connect(**self.connect_kwargs)
        self._conn = conn
        try:
            # Having just handed the lease over, this follower waits before trying again.
            handed, self._handed_over = self._handed_over, False
            if handed or not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.lock_key):
                # Another replica (or worker process) is active: stand by, following its
                # progress so that waiters here learn when it has handled their events.
                await conn.add_listener(self.progress_channel, self._progress)
                await conn.add_listener(self.free_channel, self._free_heard)
                await self._load_position(conn)
                self.following.set()
                standby = self.standby_poll_seconds or self.poll_seconds * 4
                while True:
                    self._free.clear()
                    if not handed and await conn.fetchval(
                        "SELECT pg_try_advisory_lock($1)", self.lock_key
                    ):
                        break
                    handed = False
                    # Tried again at once when the lease is said to be free (`waypoint
                    # rebuild` hands it back so), else every `standby` seconds.
                    if await self._free_or_stop(stop, standby):
                        return
                await conn.remove_listener(self.free_channel, self._free_heard)
                await conn.remove_listener(self.progress_channel, self._progress)
            async with conn.transaction():
                # Several followers (and replicas) create tables at start: one at a time.
                await conn.execute("SELECT pg_advisory_xact_lock(7420003)")
                await conn.execute(
                    f'CREATE TABLE IF NOT EXISTS "{self.schema}".follower_positions '
                    "(name text PRIMARY KEY, position bigint NOT NULL)"
                )
                await self.setup(conn)
            # Active now: the stored position is the truth (`waypoint streams rebuild` may
            # have set the relay's back while this process stood by, knowing a later one).
            self.position = 0
            await self._load_position(conn)
            if self.dead_letters is not None and self.poison == "park":
                self._held = await self.dead_letters.held(conn, self.name)
            elif self.dead_letters is not None and self.poison == "stay":
                self._open_in_place = bool(await self.dead_letters.open_positions(conn, self.name))
            channel = f"{self.schema}_events"
            await conn.add_listener(channel, self.wake_local)
            self._yield.clear()
            await conn.add_listener(self.yield_channel, self._yield_asked)
            self._recovered()
            self.active.set()
            FOLLOWER_ACTIVE.labels(self.schema, self.name).set(1)
            self.following.set()
            while not stop.is_set():
                if self._yield.is_set():
                    # Hand the lease over (the connection closes, the lock goes with it);
                    # standing by, this follower takes it again when it is free.
                    log.info("%s %s: handing the lease over on request", self.schema, self.name)
                    self._handed_over = True
                    return
                self._wake.clear()
                batch = await asyncio.to_thread(
                    self.app.recorder.select_notifications,
                    start=self.position + 1,
                    limit=self.batch_size,
                )
                if batch:
                    self.caught_up.clear()
                    await self._handle_guarded(conn, batch)
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

    async def _handle_guarded(
        self, conn: asyncpg.Connection, batch: Sequence[Notification]
    ) -> None:
        """`handle` the batch; should an event in it keep failing, set it aside."""
        store = self.dead_letters
        if store is None or self.poison == "retry":
            await self.handle(conn, batch)
            return
        if not (self._held and any(str(n.originator_id) in self._held for n in batch)):
            try:
                await self.handle(conn, batch)
            except Exception as e:
                if is_transient(e):
                    raise
                log.info(
                    "%s %s: batch of %d failed (%s); event by event",
                    self.schema,
                    self.name,
                    len(batch),
                    describe(e),
                )
            else:
                if self._open_in_place:
                    await self._resolve_in_place(conn, batch[-1].id)
                return
        else:
            # Somebody may have re-driven them meanwhile (perhaps in another process).
            self._held = await store.held(conn, self.name)
        for n in batch:
            await self._handle_one(conn, store, n)

    async def _handle_one(
        self, conn: asyncpg.Connection, store: DeadLetters, n: Notification
    ) -> None:
        aggregate = str(n.originator_id)
        if aggregate in self._held and await self._hold(conn, store, n, aggregate):
            return
        attempts = 0
        letter: int | None = None
        while True:
            attempts += 1
            try:
                await self.handle(conn, [n])
            except Exception as e:
                if is_transient(e):
                    raise
                error = describe(e)
                failure: Exception = e
            else:
                if letter is not None or self._open_in_place:
                    await self._resolve_in_place(conn, n.id)
                return
            if attempts >= self.dead_letter_after and letter is None:
                if self.poison == "park":
                    await self._park(conn, store, n, error, attempts)
                    log.error(
                        "%s %s: event %s at %d dead-lettered after %d attempts "
                        "(its aggregate's later events are held)",
                        self.schema,
                        self.name,
                        n.topic,
                        n.id,
                        attempts,
                        exc_info=failure,
                    )
                    return
                letter = await self._record(conn, store, n, error, attempts)
                self._open_in_place = True
                log.error(
                    "%s %s: event %s at %d failed %d times (dead letter %d); retrying it "
                    "in place, quietly",
                    self.schema,
                    self.name,
                    n.topic,
                    n.id,
                    attempts,
                    letter,
                    exc_info=failure,
                )
            elif letter is not None and attempts % 10 == 0:
                await store.touch(conn, letter, attempts)
            backoff = self.retry_backoff[min(attempts - 1, len(self.retry_backoff) - 1)]
            if letter is not None:
                backoff = min(30.0, backoff * 2 ** max(0, attempts - self.dead_letter_after))
            if self._stop is not None and await sleep_or_stop(self._stop, backoff):
                raise Stopping

    async def _park(
        self,
        conn: asyncpg.Connection,
        store: DeadLetters,
        n: Notification,
        error: str,
        attempts: int,
    ) -> None:
        async with conn.transaction():
            letter = await self._record(conn, store, n, error, attempts)
            await self.save_position(conn, n.id)
        self._held[str(n.originator_id)] = letter

    async def _record(
        self,
        conn: asyncpg.Connection,
        store: DeadLetters,
        n: Notification,
        error: str,
        attempts: int,
    ) -> int:
        """Record `n` as a dead letter of this follower; the letter's id."""
        return await store.record(
            conn,
            follower=self.name,
            kind="follower",
            position=n.id,
            event_id=event_id(n.originator_id, n.originator_version),
            event_type=n.topic,
            aggregate_id=str(n.originator_id),
            error=error,
            attempts=attempts,
        )

    async def _hold(
        self, conn: asyncpg.Connection, store: DeadLetters, n: Notification, aggregate: str
    ) -> bool:
        """Record `n` as held behind its aggregate's dead letter; False when that was
        re-driven meanwhile (then `n` is applied as usual, after what the re-drive did)."""
        async with conn.transaction():
            await store.lock(conn, self.name)
            first = self._held[aggregate]
            if not await store.is_open(conn, first):
                self._held.pop(aggregate, None)
                return False
            await store.record(
                conn,
                follower=self.name,
                kind="follower",
                position=n.id,
                event_id=event_id(n.originator_id, n.originator_version),
                event_type=n.topic,
                aggregate_id=aggregate,
                error=f"held behind dead letter {first}",
                attempts=0,
                held_behind=first,
            )
            await self.save_position(conn, n.id)
        log.warning(
            "%s %s: event %s at %d held behind dead letter %d",
            self.schema,
            self.name,
            n.topic,
            n.id,
            first,
        )
        return True

    async def _resolve_in_place(self, conn: asyncpg.Connection, position: int) -> None:
        assert self.dead_letters is not None
        if await self.dead_letters.resolve_up_to(conn, self.name, position):
            log.info("%s %s: dead letters up to %d went through", self.schema, self.name, position)
        self._open_in_place = bool(await self.dead_letters.open_positions(conn, self.name))

    async def redrive(self, conn: asyncpg.Connection, positions: Sequence[int]) -> None:
        """Apply the events at `positions` again, in order, through `handle` (in the
        caller's transaction; the stored position never goes back)."""
        notifications = []
        for position in positions:
            found = await asyncio.to_thread(
                self.app.recorder.select_notifications, start=position, limit=1
            )
            if not found or found[0].id != position:
                raise LookupError(f"no event at position {position}")
            notifications.append(found[0])
        for n in notifications:
            await self.handle(conn, [n])

    def head_sql(self) -> str:
        """The statement that reads the head of the log this follower reads."""
        recorder: Any = self.app.recorder
        schema, table = recorder.datastore.schema, recorder.events_table_name
        return f'SELECT max(notification_id) FROM "{schema}"."{table}"'

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

    @property
    def yield_channel(self) -> str:
        """NOTIFY on it to ask the active follower to hand its lease over for a while."""
        return f"{self.schema}_{self.name}_yield"

    @property
    def free_channel(self) -> str:
        """NOTIFY on it when the lease was handed back: standby followers try for it."""
        return f"{self.schema}_{self.name}_free"

    def _free_heard(self, *_: Any) -> None:
        self._free.set()

    async def _free_or_stop(self, stop: asyncio.Event, seconds: float) -> bool:
        """Wait until the lease is said to be free, `stop` is set or `seconds` pass; True
        if stopped."""
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._free.wait())]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        return stop.is_set()

    def _yield_asked(self, *_: Any) -> None:
        self._yield.set()
        self._wake.set()

    async def save_position(self, conn: asyncpg.Connection, position: int) -> None:
        """Store the position and tell standby replicas (delivered at commit).

        Never backwards: a re-drive applies an old event through `handle` again."""
        # One round trip: the upsert, and the notification that goes out with its commit.
        await conn.execute(
            f'WITH saved AS (INSERT INTO "{self.schema}".follower_positions (name, position) '
            "VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET position = "
            "GREATEST(follower_positions.position, EXCLUDED.position)) "
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


def follower_lock_key(schema: str, name: str) -> int:
    """The advisory lock (the lease) that the one active `name` follower of `schema` holds."""
    return zlib.crc32(f"{schema}:{name}".encode())


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep; True if `stop` was set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()
