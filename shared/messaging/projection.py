"""A service's read models, kept from its own log: one table of `{EventClass: handler}`.

Every service's projection is this follower with its own table; a handler gets the
connection and the event as stored (`Stored`: its id, version, time and state, personal
fields still sealed). Events whose class (or a base class of it) has no handler only move
the position on. Handlers run in one transaction per batch, with the saved position, so
a batch is applied once whatever happens to the process.

A projection that shows personal fields in the clear (intake's client list) names the
event classes to open in `opened`: those are opened off the event loop (opening may read
the key vault) before the transaction, and handed over as `Stored.event`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

import asyncpg
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic

from shared.messaging.follower import LogFollower


@dataclass(frozen=True)
class Stored:
    """One event of the log as a projection sees it."""

    notification: Notification
    state: dict[str, Any]
    """The stored state: personal fields sealed (`{"$sealed": …}`) or `ERASED`."""
    event: Any = None
    """The domain event, personal fields opened: only for the classes in `opened`."""

    @property
    def id(self) -> UUID:
        """The aggregate's id."""
        return self.notification.originator_id  # type: ignore[return-value]

    @property
    def version(self) -> int:
        """The aggregate's version after this event."""
        return self.notification.originator_version

    @property
    def at(self) -> datetime:
        """When it happened."""
        at: datetime = self.state["timestamp"]
        return at

    def __getitem__(self, key: str) -> Any:
        return self.state[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.state.get(key, default)


Handler = Callable[[asyncpg.Connection, Stored], Awaitable[None]]


class Projection(LogFollower):
    """The service's read models: `schema_sql` creates them, `handlers` keeps them."""

    name = "projection"
    schema_sql: ClassVar[str] = ""
    handlers: ClassVar[Mapping[type, Handler]] = {}
    opened: ClassVar[tuple[type, ...]] = ()

    async def setup(self, conn: asyncpg.Connection) -> None:
        if self.schema_sql:
            await conn.execute(self.schema_sql)

    @classmethod
    def handler_for(cls, event_class: type) -> Handler | None:
        """The handler of the class, else of its nearest base class that has one."""
        for klass in event_class.__mro__:
            handler = cls.handlers.get(klass)
            if handler is not None:
                return handler
        return None

    def _stored(self, batch: Sequence[Notification]) -> list[tuple[Handler | None, Stored]]:
        out: list[tuple[Handler | None, Stored]] = []
        for n in batch:
            event_class = resolve_topic(n.topic)
            handler = self.handler_for(event_class)
            if handler is None:
                out.append((None, Stored(n, {})))
                continue
            state = self.app.sealing.decode_state(n)
            opened = (
                self.app.mapper.to_domain_event(n) if issubclass(event_class, self.opened) else None
            )
            out.append((handler, Stored(n, state, opened)))
        return out

    async def handle(self, conn: asyncpg.Connection, batch: Sequence[Notification]) -> None:
        if self.opened:
            stored = await asyncio.to_thread(self._stored, batch)
        else:
            stored = self._stored(batch)
        async with conn.transaction():
            for handler, event in stored:
                if handler is not None:
                    await handler(conn, event)
            await self.save_position(conn, batch[-1].id)
