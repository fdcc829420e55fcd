"""Rebuild a service's read models from its event store, online (`waypoint rebuild`).

The live projection keeps serving (and following the log) while the new model is built
beside it, in a shadow schema (`<service>_rebuild`):

1. the shadow tables are created by the projection's own `schema_sql`, its schema
   qualifier rewritten (so indexes and constraints come with them); only the tables the
   projection keeps (`Projection.tables`) are rebuilt and swapped: the other tables of
   the schema (read models kept by consumers, archives) stay as they are, and the
   handlers read them where they are;
2. the log is applied from notification 1 in large batches (thousands of events per
   transaction, through the same handlers, their statements sent as `executemany`), the
   next batch read and decoded in a thread meanwhile; as a bulk load: the tables
   unlogged and without their secondary indexes, then logged (rewritten compact) and
   indexed, then caught up again;
3. once caught up, the rebuild takes the live projection's lease: it asks the active
   projection to hand it over (NOTIFY on its `yield_channel`; the projection finishes its
   batch, releases its advisory lock and stands by) and holds it while it applies the
   last events, so projection updates pause for a moment; reads never do;
4. every erased client (a destroyed key in the vault) is erased from the shadow tables,
   set-based (the projection's `erased_sql`, else the statements of the service's
   `Erasure` that touch only the rebuilt tables), so a rebuilt model never shows one;
5. in one transaction the old tables are dropped, the new ones moved into the service's
   schema (`ALTER TABLE … SET SCHEMA`), the projection's position set to where the
   rebuild stopped, and the shadow schema dropped; then the lease is released and the
   projection goes on from there.

A second rebuild of the same projection at the same time is refused (its own advisory
lock); a failure before the swap leaves the live model as it was (the shadow is dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from eventsourcing.persistence import Notification

from shared.eventstore import BatchTrackingRecorder
from shared.messaging.follower import follower_lock_key
from shared.messaging.projection import Handler, Projection, SetBased, Stored, shadow_rewrite

# (events done, position, head) after each batch.
Progress = Callable[[int, int, int], None]
Decoded = list[tuple[Handler | None, Stored]]


class RebuildRefused(Exception):
    """The rebuild cannot start or finish now (another rebuild runs; the lease is kept)."""


@dataclass(frozen=True)
class Rebuilt:
    schema: str
    projection: str
    tables: tuple[str, ...]
    events: int
    position: int
    seconds: float
    paused_seconds: float  # how long the live projection's updates were paused
    erased_clients: int
    read_seconds: float  # reading and decoding the log (in a thread, beside applying)
    apply_seconds: float  # running the handlers and their statements


def shadow_schema(schema: str) -> str:
    return f"{schema}_rebuild"


def shadow_ddl(schema_sql: str, schema: str, shadow: str) -> str:
    """The projection's DDL for the shadow schema: every `schema.` qualifier rewritten."""
    return re.sub(rf"\b{re.escape(schema)}\.(?=\w)", f"{shadow}.", schema_sql)


def erasure_sql(
    schema: str, projection: Projection | type[Projection], statements: Sequence[str], shadow: str
) -> tuple[list[str], list[str]]:
    """The erasure statements for the shadow tables, taking every erased client at once
    (`$1`, a uuid[]), and those of the service's `Erasure` left out (they touch tables
    that are not rebuilt)."""
    tables = projection.tables
    chosen = list(projection.erased_sql) if projection.erased_sql is not None else []
    skipped: list[str] = []
    if projection.erased_sql is None:
        for sql in statements:
            touched = set(re.findall(rf"\b{re.escape(schema)}\.(\w+)", sql))
            (chosen if touched and touched <= set(tables) else skipped).append(sql)
    rewrite = shadow_rewrite(schema, shadow, tables)
    out = []
    for sql in chosen:
        text = rewrite(sql)
        assert text is not None, sql
        out.append(text.replace("= %(client_id)s", "= ANY($1::uuid[])"))
    return out, skipped


async def rebuild_projection(
    projection: Projection,
    connect_kwargs: dict[str, Any],
    *,
    erasure: Sequence[str] = (),
    batch_size: int = 5000,
    wait_seconds: float = 30.0,
    progress: Progress | None = None,
) -> Rebuilt:
    """Rebuild `projection`'s tables from its log in a shadow schema and swap them in
    (see the module's docstring); `RebuildRefused` when it cannot."""
    schema, name, tables = projection.schema, projection.name, projection.tables
    if not tables:
        raise RebuildRefused(f"the {name} of {schema} names no tables to rebuild")
    shadow = shadow_schema(schema)
    rewrite = shadow_rewrite(schema, shadow, tables)
    started = time.perf_counter()
    conn = await asyncpg.connect(**connect_kwargs)
    guard = follower_lock_key(schema, f"{name}:rebuild")
    swapped = guarded = False
    try:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", guard):
            raise RebuildRefused(f"a rebuild of {schema}'s {name} is already running")
        guarded = True
        await conn.execute(f'DROP SCHEMA IF EXISTS "{shadow}" CASCADE')
        await conn.execute(f'CREATE SCHEMA "{shadow}"')
        await conn.execute(shadow_ddl(projection.schema_sql, schema, shadow))
        # Loaded as a bulk load is: unlogged, without its secondary indexes (made once
        # at the end), each batch committed without waiting for the disk.
        indexes = await _secondary_indexes(conn, shadow, tables)
        for index, _ in indexes:
            await conn.execute(f'DROP INDEX "{shadow}"."{index}"')
        for table in tables:
            await conn.execute(f'ALTER TABLE "{shadow}"."{table}" SET UNLOGGED')
        await conn.execute("SET synchronous_commit TO off")
        # The shadow tables grow from empty without statistics: every statement of the
        # handlers finds its rows by key, so the planner is kept to index lookups (a plan
        # made while a table was small would scan it whole, each time, as it grows).
        for setting in ("enable_seqscan", "enable_hashjoin", "enable_mergejoin"):
            await conn.execute(f"SET {setting} TO off")
        run = _Run(projection, conn, rewrite, batch_size, progress)
        # Online: the live projection serves and follows meanwhile.
        await _catch_up(conn, projection, run, batch_size)
        # Logged (the table rewritten: compact, whatever its rows' updates left behind),
        # its indexes made, then caught up again.
        for table in tables:
            await conn.execute(f'ALTER TABLE "{shadow}"."{table}" SET LOGGED')
        for _, definition in indexes:
            await conn.execute(definition)
        # Vacuumed as well as analysed: a table just written has no page marked all-visible,
        # so until autovacuum came by, every index-only scan of the lists' counts read the
        # table too (10,001 heap fetches for a capped count at 10 million events).
        for table in tables:
            await conn.execute(f'VACUUM (ANALYZE) "{shadow}"."{table}"')
        await conn.execute("RESET synchronous_commit")
        for setting in ("enable_seqscan", "enable_hashjoin", "enable_mergejoin"):
            await conn.execute(f"RESET {setting}")
        await _catch_up(conn, projection, run, batch_size)
        paused = time.perf_counter()
        await _take_lease(conn, projection, wait_seconds)
        try:
            head = await conn.fetchval(projection.head_sql()) or 0
            await run.apply_until(head)
            erased = await asyncio.to_thread(projection.app.sealing.vault.destroyed_clients)
            statements, _ = erasure_sql(schema, projection, erasure, shadow)
            async with conn.transaction():
                if erased:
                    for sql in statements:
                        await conn.execute(sql, erased)
            await _swap(conn, projection, shadow, run.position)
            swapped = True
            # What the schema's SQL keeps outside the tables (extended statistics, which
            # went with the shadow schema) made again on the tables now in place, as a
            # start of the service would: every statement is idempotent.
            await conn.execute(projection.schema_sql)
        finally:
            with contextlib.suppress(Exception):
                await conn.execute("SELECT pg_advisory_unlock($1)", projection.lock_key)
                await conn.execute("SELECT pg_notify($1, '')", projection.free_channel)
        return Rebuilt(
            schema=schema,
            projection=name,
            tables=tables,
            events=run.events,
            position=run.position,
            seconds=time.perf_counter() - started,
            paused_seconds=time.perf_counter() - paused,
            erased_clients=len(erased),
            read_seconds=run.read_seconds,
            apply_seconds=run.apply_seconds,
        )
    finally:
        if guarded and not swapped and not conn.is_closed():
            # Not the other rebuild's shadow (when refused as a second one).
            with contextlib.suppress(Exception):
                await conn.execute(f'DROP SCHEMA IF EXISTS "{shadow}" CASCADE')
        if guarded:
            with contextlib.suppress(Exception):
                await conn.execute("SELECT pg_advisory_unlock($1)", guard)
        await conn.close(timeout=5)


class _Run:
    """The shadow model being built: where it is, how many events it has applied."""

    def __init__(
        self,
        projection: Projection,
        conn: asyncpg.Connection,
        rewrite: Callable[[str], str | None],
        batch_size: int,
        progress: Progress | None,
    ) -> None:
        self.projection = projection
        self.conn = conn
        self.rewrite = rewrite
        self.batch_size = batch_size
        self.progress = progress
        self.position = 0
        self.events = 0
        self.set_based = SetBased()
        self.read_seconds = 0.0  # reading and decoding (in a thread, beside the applying)
        self.apply_seconds = 0.0

    def _read(self, start: int, stop: int) -> tuple[Decoded, int, int]:
        """A batch from `start` (not beyond `stop`), decoded: (decoded, last id, count)."""
        started = time.perf_counter()
        recorder = self.projection.app.recorder
        batch: Sequence[Notification] = (
            recorder.read_notifications(start, self.batch_size, stop)
            if isinstance(recorder, BatchTrackingRecorder)
            else recorder.select_notifications(start=start, limit=self.batch_size, stop=stop)
        )
        if not batch:
            return [], start - 1, 0
        decoded = self.projection._stored(batch)
        self.read_seconds += time.perf_counter() - started
        return decoded, batch[-1].id, len(batch)

    async def apply_until(self, head: int) -> None:
        """Apply the log up to `head`, batch by batch, reading the next one meanwhile."""
        if self.position >= head:
            return
        task = asyncio.create_task(asyncio.to_thread(self._read, self.position + 1, head))
        while True:
            decoded, last, count = await task
            if not count:
                self.position = head
                break
            if last < head:
                task = asyncio.create_task(asyncio.to_thread(self._read, last + 1, head))
            started = time.perf_counter()
            try:
                async with self.conn.transaction():
                    await Projection.apply(self.conn, decoded, self.rewrite, self.set_based)
            except (asyncpg.PostgresError, ValueError, KeyError, TypeError) as e:
                if isinstance(e, asyncpg.InterfaceError | asyncpg.PostgresConnectionError):
                    raise
                task.cancel()
                raise RebuildRefused(
                    f"the events {self.position + 1}-{last} of {self.projection.schema} failed "
                    f"in its {self.projection.name} ({type(e).__name__}: {e}); the live "
                    "tables are unchanged (the projection's dead letters say which event)"
                ) from e
            self.apply_seconds += time.perf_counter() - started
            self.position, self.events = last, self.events + count
            if self.progress is not None:
                self.progress(self.events, self.position, head)
            if last >= head:
                break


async def _swap(
    conn: asyncpg.Connection, projection: Projection, shadow: str, position: int
) -> None:
    """In one transaction: the old tables dropped, the new ones moved in, the position
    set. The old tables are locked first, all at once and without waiting (tried again
    every few milliseconds while reads hold them), so that the swap never waits holding
    one while a read holds another (a deadlock, whose victim could be the read); after
    ten seconds of busy tables, it waits its turn (30 s at most)."""
    schema, tables = projection.schema, projection.tables
    live = [
        f'"{schema}"."{t}"'
        for t in tables
        if await conn.fetchval("SELECT to_regclass($1)", f'"{schema}"."{t}"')
    ]
    loop = asyncio.get_running_loop()
    patient = loop.time() + 10.0
    while True:
        nowait = loop.time() < patient
        try:
            async with conn.transaction():
                await conn.execute("SET LOCAL lock_timeout = '30s'")
                if live:
                    await conn.execute(
                        f"LOCK TABLE {', '.join(live)} IN ACCESS EXCLUSIVE MODE"
                        + (" NOWAIT" if nowait else "")
                    )
                for table in tables:
                    await conn.execute(f'DROP TABLE IF EXISTS "{schema}"."{table}"')
                    await conn.execute(f'ALTER TABLE "{shadow}"."{table}" SET SCHEMA "{schema}"')
                await conn.execute(f'DROP SCHEMA "{shadow}" CASCADE')
                await conn.execute(
                    f'CREATE TABLE IF NOT EXISTS "{schema}".follower_positions '
                    "(name text PRIMARY KEY, position bigint NOT NULL)"
                )
                # Set, not `save_position` (which never goes back): this is the position
                # of the tables now in place.
                await conn.execute(
                    f'INSERT INTO "{schema}".follower_positions (name, position) '
                    "VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET position = $2",
                    projection.name,
                    position,
                )
                await conn.execute(
                    "SELECT pg_notify($1, $2)", projection.progress_channel, str(position)
                )
            return
        except asyncpg.LockNotAvailableError:
            if not nowait:
                raise
            await asyncio.sleep(0.005)


async def _catch_up(
    conn: asyncpg.Connection, projection: Projection, run: _Run, batch_size: int
) -> None:
    """Apply the log until no more than a batch is left (the log grows meanwhile)."""
    while True:
        head = await conn.fetchval(projection.head_sql()) or 0
        if head - run.position <= batch_size:
            return
        await run.apply_until(head)


async def _secondary_indexes(
    conn: asyncpg.Connection, schema: str, tables: Sequence[str]
) -> list[tuple[str, str]]:
    """The indexes of `tables` that no constraint needs: (name, definition)."""
    rows = await conn.fetch(
        "SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition "
        "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = $1 AND t.relname = ANY($2::text[]) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid) "
        "ORDER BY i.relname",
        schema,
        list(tables),
    )
    return [(r["name"], r["definition"]) for r in rows]


async def _take_lease(
    conn: asyncpg.Connection, projection: Projection, wait_seconds: float
) -> None:
    """Hold the live projection's lease: ask the active one to hand it over (it does after
    its current batch), and take it the moment it is free."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    asked = 0.0
    while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", projection.lock_key):
        now = loop.time()
        if now >= deadline:
            raise RebuildRefused(
                f"the {projection.name} of {projection.schema} did not hand its lease over "
                f"within {wait_seconds:g} s (a version without `waypoint rebuild` support "
                "running?): try again, or stop its processes for a moment"
            )
        if now - asked >= 1.0:
            await conn.execute("SELECT pg_notify($1, '')", projection.yield_channel)
            asked = now
        await asyncio.sleep(0.02)


def service_spec(service: str) -> Any:
    """The `ServiceSpec` of `service` (`services.<service>.main.SPEC`)."""
    import importlib

    return importlib.import_module(f"services.{service}.main").SPEC


def projections_of(service: str) -> dict[str, tuple[str, ...]]:
    """The projections of `service` that can be rebuilt: name -> the tables it keeps."""
    spec = service_spec(service)
    projection = spec.projection
    return {projection.name: tuple(projection.tables)}


async def rebuild_service(
    service: str,
    name: str,
    settings: Any,
    *,
    batch_size: int = 5000,
    wait_seconds: float = 30.0,
    progress: Progress | None = None,
) -> Rebuilt:
    """Rebuild `service`'s projection `name` (see `rebuild_projection`) with its own
    application (event store) and key vault."""
    from shared.runtime import key_vault

    spec = service_spec(service)
    if name not in projections_of(service):
        raise LookupError(name)
    vault = await asyncio.to_thread(key_vault, settings)
    application = await asyncio.to_thread(spec.application, settings, vault)
    try:
        projection = spec.projection(application, settings.pg.asyncpg_kwargs())
        return await rebuild_projection(
            projection,
            settings.pg.asyncpg_kwargs(),
            erasure=spec.erasure.statements,
            batch_size=batch_size,
            wait_seconds=wait_seconds,
            progress=progress,
        )
    finally:
        application.close()
