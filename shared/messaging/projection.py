"""A service's read models, kept from its own log: one table of `{EventClass: handler}`.

Every service's projection is this follower with its own table; a handler gets the
connection and the event as stored (`Stored`: its id, version, time and state, personal
fields still sealed). Events whose class (or a base class of it) has no handler only move
the position on. Handlers run in one transaction per batch, with the saved position, so
a batch is applied once whatever happens to the process.

A projection that shows personal fields in the clear (intake's client list) names the
event classes to open in `opened`: those are opened off the event loop (opening may read
the key vault, whose keys for a batch are fetched in one query) before the transaction,
and handed over as `Stored.event`.

Handlers write through `Writes`, which defers their statements to the end of the batch
and sends them as few `executemany` calls as the order allows: statements of one
aggregate keep their order, those of different aggregates are independent (a handler
writes only its own aggregate's rows; it may read other tables, e.g. a consumer's). A
handler that reads (`fetch…`) sees every write before it (the deferred ones go first).

`waypoint rebuild` (shared/messaging/reproject.py) runs the same handlers into a shadow
schema: `tables` names the tables a projection keeps (rebuilt and swapped in); the
others its schema_sql creates (a consumer's) are only read.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, cast
from uuid import UUID

import asyncpg
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic

from shared.messaging.follower import LogFollower
from shared.privacy.sealing import is_sealed


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
# A statement's text as run (the rebuild's shadow tables), or None: not run at all.
Rewrite = Callable[[str], str | None]


class Writes:
    """The connection as handlers see it: `execute` is deferred to `flush`, which sends
    the batch's statements in rounds (the n-th statement of every aggregate in round n),
    each round one `executemany` per distinct statement; reads flush first."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        rewrite: Rewrite | None = None,
        set_based: SetBased | None = None,
    ) -> None:
        self.conn = conn
        self.rewrite = rewrite
        self.set_based = set_based
        self.key: Any = None  # the aggregate of the event being handled
        self._pending: list[tuple[Any, str, tuple[Any, ...]]] = []
        self._texts: dict[str, str | None] = {}

    def _sql(self, sql: str) -> str | None:
        if self.rewrite is None:
            return sql
        try:
            return self._texts[sql]
        except KeyError:
            text = self._texts[sql] = self.rewrite(sql)
            return text

    async def execute(self, sql: str, *args: Any) -> str:
        text = self._sql(sql)
        if text is not None:
            self._pending.append((self.key, text, args))
        return ""

    async def executemany(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        for one in args:
            await self.execute(sql, *one)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        await self.flush()
        return await self.conn.fetch(self._read(sql), *args)  # type: ignore[no-any-return]

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        await self.flush()
        return await self.conn.fetchrow(self._read(sql), *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        await self.flush()
        return await self.conn.fetchval(self._read(sql), *args)

    def _read(self, sql: str) -> str:
        text = self._sql(sql)
        if text is None:
            raise ValueError(f"a read the rebuild cannot run: {sql[:80]}")
        return text

    async def flush(self) -> None:
        """Send the deferred statements (in the caller's transaction)."""
        if not self._pending:
            return
        set_based = self.set_based
        for statements in self.rounds():
            for sql, many in statements.items():
                if len(many) == 1:
                    await self.conn.execute(sql, *many[0])
                elif set_based is None or not await set_based.run(self.conn, sql, many):
                    await self.conn.executemany(sql, many)

    def rounds(self) -> list[dict[str, list[tuple[Any, ...]]]]:
        """The deferred statements, taken: round n holds the n-th statement of every
        aggregate, by statement (its argument rows in order)."""
        rounds: list[dict[str, list[tuple[Any, ...]]]] = []
        depth: dict[Any, int] = {}
        for key, sql, args in self._pending:
            n = depth.get(key, 0)
            depth[key] = n + 1
            if n == len(rounds):
                rounds.append({})
            rounds[n].setdefault(sql, []).append(args)
        self._pending.clear()
        return rounds


class SetBased:
    """One statement for many rows: an `UPDATE … WHERE …`, `INSERT … VALUES (…)` or
    `INSERT … SELECT … FROM … WHERE …` run for each of many argument rows becomes one
    statement over `unnest` of one array per parameter (their types as PostgreSQL infers
    them for the statement).

    Only for rows of a round of `Writes.flush`: one per aggregate, so no two of them update
    one row. Statements of another shape, or with an array parameter, are left to
    `executemany` (`run` answers False)."""

    min_rows = 8

    def __init__(self) -> None:
        self._plans: dict[str, str | None] = {}

    async def run(
        self, conn: asyncpg.Connection, sql: str, many: Sequence[tuple[Any, ...]]
    ) -> bool:
        if len(many) < self.min_rows:
            return False
        if sql not in self._plans:
            self._plans[sql] = await self._plan(conn, sql)
        text = self._plans[sql]
        if text is None:
            return False
        await conn.execute(text, *[list(column) for column in zip(*many, strict=True)])
        return True

    @staticmethod
    async def _plan(conn: asyncpg.Connection, sql: str) -> str | None:
        shape = _set_shape(sql)
        if shape is None:
            return None
        params = (await conn.prepare(sql)).get_parameters()
        if not params or any(p.kind != "scalar" for p in params):
            return None
        arrays = ", ".join(f'${i}::"{p.schema}"."{p.name}"[]' for i, p in enumerate(params, 1))
        names = ", ".join(f"p{i}" for i in range(1, len(params) + 1))
        source = f"unnest({arrays}) AS u({names})"

        def rows(part: str) -> str:
            return re.sub(r"\$(\d+)\b", r"u.p\1", part)

        kind, table, first, second = shape
        if kind == "update":
            return f"UPDATE {table} SET {rows(first)} FROM {source} WHERE {rows(second)}"
        if kind == "insert-select":
            return (
                f"INSERT INTO {table} {first} SELECT {rows(second[0])} "
                f"FROM {source}, {rows(second[1])}"
            )
        return f"INSERT INTO {table} {first} SELECT {rows(second[0])} FROM {source} {second[1]}"


def _set_shape(sql: str) -> tuple[str, str, str, Any] | None:
    """("update", table, sets, where), ("insert", table, "(columns)", (values, rest)) or
    ("insert-select", table, "(columns)", (values, from…)) of a statement `SetBased` can
    take; None for any other."""
    update = re.match(r"\s*UPDATE\s+([\w.\"]+)\s+SET\s+(.*)\Z", sql, re.S | re.I)
    if update is not None:
        parts = _split_top(update.group(2), "WHERE")
        if parts is None or _split_top(parts[1], "FROM") or _split_top(parts[1], "RETURNING"):
            return None
        if _split_top(parts[0], "FROM"):
            return None
        return "update", update.group(1), parts[0], parts[1]
    if re.search(r"\bDO\s+UPDATE\b", sql, re.I):
        return None  # two rows of one statement meeting one conflict would be an error
    selects = re.match(
        r"\s*INSERT\s+INTO\s+([\w.\"]+)\s*(\([^()]*\))\s*SELECT\s+(.*)\Z", sql, re.S | re.I
    )
    if selects is not None:
        # INSERT … SELECT <values> FROM <tables> WHERE …: the rows joined to the tables.
        parts = _split_top(selects.group(3), "FROM")
        if parts is None or "RETURNING" in parts[1].upper() or parts[1].startswith("("):
            return None
        return "insert-select", selects.group(1), selects.group(2), parts
    insert = re.match(
        r"\s*INSERT\s+INTO\s+([\w.\"]+)\s*(\([^()]*\))\s*VALUES\s*\((.*)\Z", sql, re.S | re.I
    )
    if insert is not None:
        rest = insert.group(3)
        depth = 0
        for at, char in enumerate(rest):
            if char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    tail = rest[at + 1 :]
                    if "RETURNING" in tail.upper() or tail.lstrip().startswith(","):
                        return None
                    return "insert", insert.group(1), insert.group(2), (rest[:at], tail)
                depth -= 1
    return None


def _split_top(text: str, word: str) -> tuple[str, str] | None:
    """`text` split at its first `word` outside parentheses (and quotes), else None."""
    depth, quoted = 0, False
    pattern = re.compile(rf"\b{word}\b", re.I)
    for at, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and pattern.match(text, at) and (at == 0 or not text[at - 1].isalnum()):
            return text[:at].rstrip(), text[at + len(word) :].lstrip()
    return None


def shadow_rewrite(schema: str, shadow: str, tables: Sequence[str]) -> Rewrite:
    """Handlers' SQL for a rebuild into `shadow`: the kept `tables` of `schema` there (the
    others, e.g. a consumer's, read where they are); a statement writing another table of
    `schema` is not run (what it keeps is not rebuilt)."""
    kept = re.compile(rf"\b{re.escape(schema)}\.({'|'.join(map(re.escape, tables))})\b")
    writes = re.compile(
        rf"^\s*(?:DELETE\s+FROM|UPDATE|INSERT\s+INTO)\s+{re.escape(schema)}\.(\w+)", re.I
    )

    def rewrite(sql: str) -> str | None:
        target = writes.match(sql)
        if target is not None and target.group(1) not in tables:
            return None
        return kept.sub(lambda m: f"{shadow}.{m.group(1)}", sql)

    return rewrite


class Projection(LogFollower):
    """The service's read models: `schema_sql` creates them, `handlers` keeps them."""

    name = "projection"
    schema_sql: ClassVar[str] = ""
    handlers: ClassVar[Mapping[type, Handler]] = {}
    opened: ClassVar[tuple[type, ...]] = ()
    tables: ClassVar[tuple[str, ...]] = ()
    """The tables of the service's schema that these handlers keep (`waypoint rebuild`
    builds them anew and swaps them in)."""
    erased_sql: ClassVar[tuple[str, ...] | None] = None
    """What erasing a client (`%(client_id)s`) drops from `tables`, for a rebuild; None:
    those of the service's `Erasure` that touch only `tables`."""
    # Batches at least this long are decoded off the event loop.
    decode_in_thread = 64

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
        """The batch decoded (synchronous: may read the key vault, once for the batch).
        Each state is decoded once: an opened event is made from it (its fields opened
        with the batch's keys), as the mapper would make it from the stored bytes."""
        decoded: list[tuple[Handler | None, Notification, dict[str, Any], bool]] = []
        kids: set[str] = set()
        handler_for = self.handler_for
        opened = self.opened
        decode = self.app.sealing.decode_state
        for n in batch:
            event_class = _resolve(n.topic)
            handler = handler_for(event_class)
            if handler is None:
                decoded.append((None, n, {}, False))
                continue
            state = decode(n)
            opens = bool(opened) and issubclass(event_class, opened)
            if opens:
                kids.update(_kids(state))
            decoded.append((handler, n, state, opens))
        if not kids:
            return [(handler, Stored(n, state)) for handler, n, state, _ in decoded]
        sealing = self.app.sealing
        ids = {kid: UUID(kid) for kid in kids}
        by_id = sealing.vault.keys_for(ids.values())
        keys = {kid: by_id.get(client) for kid, client in ids.items()}
        return [
            (handler, Stored(n, state, sealing.domain_event_of(n, state, keys) if opens else None))
            for handler, n, state, opens in decoded
        ]

    async def handle(self, conn: asyncpg.Connection, batch: Sequence[Notification]) -> None:
        stored = await self.decode(batch)
        async with conn.transaction():
            await self.apply(conn, stored)
            await self.save_position(conn, batch[-1].id)

    async def decode(self, batch: Sequence[Notification]) -> list[tuple[Handler | None, Stored]]:
        """The batch as handlers take it (off the event loop when it is long or opens)."""
        if self.opened or len(batch) >= self.decode_in_thread:
            return await asyncio.to_thread(self._stored, batch)
        return self._stored(batch)

    @staticmethod
    async def apply(
        conn: asyncpg.Connection,
        stored: Sequence[tuple[Handler | None, Stored]],
        rewrite: Rewrite | None = None,
        set_based: SetBased | None = None,
    ) -> None:
        """Run the handlers of a decoded batch on `conn` (in its transaction), batched."""
        writes = Writes(conn, rewrite, set_based)
        handled = cast(asyncpg.Connection, writes)
        for handler, event in stored:
            if handler is not None:
                key = event.notification.originator_id
                writes.key = key.int if isinstance(key, UUID) else key  # an int hashes fast
                await handler(handled, event)
        await writes.flush()


_TOPICS: dict[str, type] = {}


def _resolve(topic: str) -> type:
    try:
        return _TOPICS[topic]
    except KeyError:
        klass: type = resolve_topic(topic)
        _TOPICS[topic] = klass
        return klass


def _kids(state: Mapping[str, Any]) -> list[str]:
    """The keys (client ids, as stored) that the sealed fields of a stored state were
    sealed with."""
    return [v["kid"] for v in state.values() if is_sealed(v) and "kid" in v]
