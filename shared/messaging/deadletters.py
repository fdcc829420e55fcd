"""Dead letters: an event that keeps failing is set aside, recorded, and the reader goes on.

One event a projection cannot apply (text with a NUL, say) used to make its follower
retry the same batch forever, freezing the read model for every organisation. Now:

- A **log follower** (a projection) that fails on a batch applies it event by event; an
  event that fails `dead_letter_after_attempts` times (short backoff between) is
  recorded in `<schema>.dead_letters`, its position is stored, and the follower goes on.
- **Ordering.** A projection's row of an aggregate is built from that aggregate's events
  in order (versions; `... WHERE version < $2`). Applying a later event of the same
  aggregate past a dead-lettered one would leave the row in a state that never existed
  (or, once the earlier one is re-driven, be undone by the version guard). So later
  events of the same aggregate (`originator_id`) are not applied: they are *held* -
  recorded as dead letters too, `held_behind` the first one, without being tried - and a
  re-drive applies the first one and everything held behind it, in log order, in one
  transaction. Other aggregates go on: their rows never depend on another aggregate's
  events in these projections. Whether an aggregate is held is decided under a
  per-follower advisory lock that the re-drive takes too, so an event is either held
  (and re-driven with the rest) or applied after the re-drive, never in between.
- **The audit trail** links every stored event into a hash chain in log order; a link
  cannot be skipped and added later. It records the dead letter (so that it is seen:
  readyz, metric, one log line) and keeps retrying that event in place with a longer
  backoff, quietly; once it goes through, the follower marks the letter resolved itself.
- **The relay** is left out: what it does is publish, so almost all of its failures are
  the broker's (retried, logged once per outage), and skipping an event would lose a
  publication the other services rely on (nothing lost). A relay that does not move is
  seen through readyz's lag check.
- **NATS consumers** already take messages in any order (idempotent, keyed by event id),
  so no holding is needed: a message whose effect keeps failing (an exception other than
  `RetryLater`) is recorded with its payload after `dead_letter_after_attempts`
  deliveries and terminated. `RetryLater` is a legitimate wait (a missing predecessor, a
  conflict) and stays unbounded: what it waits for may come after a long outage of
  another service, and a limit would throw a valid event away.

Connection errors are not the event's fault: they never count as attempts. Each dead
letter is logged once (with its error) and counted in `waypoint_dead_letters_total`.
Re-driving a letter is `shared/messaging/redrive.py`.
"""

from __future__ import annotations

import logging
import uuid
import zlib
from collections.abc import Sequence
from typing import Any

import asyncpg
from prometheus_client import Counter, Gauge

from shared.errors import TRANSIENT

log = logging.getLogger(__name__)

DEAD_LETTERS = Counter(
    "waypoint_dead_letters",
    "Events set aside after repeated failures, by service and follower or consumer.",
    ["service", "follower"],
)
FOLLOWER_LAG = Gauge(
    "waypoint_follower_lag_events",
    "How many events a follower (or consumer) is behind the head of what it reads.",
    ["service", "follower"],
)


def schema_sql(schema: str) -> str:
    return f"""
CREATE SCHEMA IF NOT EXISTS "{schema}";
CREATE TABLE IF NOT EXISTS "{schema}".dead_letters (
    id bigserial PRIMARY KEY,
    service text NOT NULL,
    follower text NOT NULL,
    kind text NOT NULL,
    position bigint,
    event_id uuid,
    event_type text,
    aggregate_id text,
    held_behind bigint,
    error text NOT NULL,
    attempts int NOT NULL,
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    last_failed_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    resolved_by text,
    payload bytea
);
CREATE INDEX IF NOT EXISTS dead_letters_open
    ON "{schema}".dead_letters (follower, aggregate_id) WHERE resolved_at IS NULL;
"""


# Errors of the connection or the server's state, not of the event: retried, never
# counted (the same that a request answers with 503: see shared/errors.py).


def is_transient(error: BaseException) -> bool:
    return isinstance(error, TRANSIENT)


def describe(error: BaseException) -> str:
    """The error as stored and shown (bounded)."""
    text = f"{type(error).__name__}: {error}"
    return text[:2000]


COLUMNS = (
    "id, service, follower, kind, position, event_id, event_type, aggregate_id, held_behind, "
    "error, attempts, first_failed_at, last_failed_at, resolved_at, resolved_by"
)


def erasure_statement(schema: str) -> str:
    """What an erasure drops of a client's dead letters (a DELETE with `%(client_id)s`):
    those of the client and of every case the service's audit chain ties to it. A letter
    left behind could be re-driven into a read model the erasure has just emptied, and
    its error text or payload may quote the client."""
    return (
        f'DELETE FROM "{schema}".dead_letters WHERE aggregate_id = %(client_id)s::text '
        "OR aggregate_id IN ("
        f'SELECT originator_id::text FROM "{schema}".audit_chain WHERE client_id = %(client_id)s '
        f'UNION SELECT case_id::text FROM "{schema}".audit_chain '
        "WHERE client_id = %(client_id)s AND case_id IS NOT NULL)"
    )


class DeadLetters:
    """A service's `dead_letters` table (in its schema)."""

    def __init__(self, pool: asyncpg.Pool, schema: str, service: str) -> None:
        self.pool = pool
        self.schema = schema
        self.service = service
        self.table = f'"{schema}".dead_letters'

    async def ensure(self) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(7420003)")
            await conn.execute(schema_sql(self.schema))

    def lock_key(self, follower: str) -> int:
        return zlib.crc32(f"{self.schema}:{follower}:dead-letters".encode())

    async def lock(self, conn: asyncpg.Connection, follower: str) -> None:
        """Serialise holding decisions and re-drives of one follower (transaction-scoped)."""
        await conn.execute("SELECT pg_advisory_xact_lock($1)", self.lock_key(follower))

    async def record(
        self,
        conn: asyncpg.Connection,
        *,
        follower: str,
        kind: str,
        position: int | None,
        event_id: uuid.UUID | None,
        event_type: str | None,
        aggregate_id: str | None,
        error: str,
        attempts: int,
        held_behind: int | None = None,
        payload: bytes | None = None,
        first_failed_at: Any = None,
    ) -> int:
        letter_id: int = await conn.fetchval(
            f"INSERT INTO {self.table} (service, follower, kind, position, event_id, event_type, "
            "aggregate_id, held_behind, error, attempts, first_failed_at, payload) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,coalesce($11, now()),$12) RETURNING id",
            self.service,
            follower,
            kind,
            position,
            event_id,
            event_type,
            aggregate_id,
            held_behind,
            error,
            attempts,
            first_failed_at,
            payload,
        )
        DEAD_LETTERS.labels(self.service, follower).inc()
        return letter_id

    async def held(self, conn: asyncpg.Connection, follower: str) -> dict[str, int]:
        """The aggregates whose events this follower holds: aggregate id -> first letter."""
        rows = await conn.fetch(
            f"SELECT aggregate_id, min(id) AS first FROM {self.table} "
            "WHERE follower = $1 AND resolved_at IS NULL AND kind = 'follower' "
            "GROUP BY aggregate_id",
            follower,
        )
        return {r["aggregate_id"]: r["first"] for r in rows}

    async def is_open(self, conn: asyncpg.Connection, letter_id: int) -> bool:
        return bool(
            await conn.fetchval(
                f"SELECT resolved_at IS NULL FROM {self.table} WHERE id = $1", letter_id
            )
        )

    async def open_positions(self, conn: asyncpg.Connection, follower: str) -> list[int]:
        rows = await conn.fetch(
            f"SELECT position FROM {self.table} WHERE follower = $1 AND resolved_at IS NULL",
            follower,
        )
        return [r["position"] for r in rows]

    async def resolve(
        self, conn: asyncpg.Connection, ids: Sequence[int], by: str
    ) -> list[asyncpg.Record]:
        return list(
            await conn.fetch(
                f"UPDATE {self.table} SET resolved_at = now(), resolved_by = $2 "
                f"WHERE id = ANY($1::bigint[]) AND resolved_at IS NULL RETURNING {COLUMNS}",
                list(ids),
                by,
            )
        )

    async def resolve_up_to(self, conn: asyncpg.Connection, follower: str, position: int) -> int:
        """Letters of a follower that retries in place, once it has gone past them."""
        rows = await conn.fetch(
            f"UPDATE {self.table} SET resolved_at = now(), resolved_by = 'retry' "
            "WHERE follower = $1 AND resolved_at IS NULL AND position <= $2 RETURNING id",
            follower,
            position,
        )
        return len(rows)

    async def touch(self, conn: asyncpg.Connection, letter_id: int, attempts: int) -> None:
        await conn.execute(
            f"UPDATE {self.table} SET attempts = $2, last_failed_at = now() WHERE id = $1",
            letter_id,
            attempts,
        )

    async def unresolved_by_follower(
        self, conn: asyncpg.Connection, grace_seconds: float = 0.0
    ) -> dict[str, int]:
        """Unattended letters (waiting longer than the grace) by follower or consumer."""
        rows = await conn.fetch(
            f"SELECT follower, count(*) AS n FROM {self.table} WHERE resolved_at IS NULL "
            "AND first_failed_at <= now() - make_interval(secs => $1) GROUP BY follower",
            float(grace_seconds),
        )
        return {r["follower"]: int(r["n"]) for r in rows}

    def _visible(self, orgs: Sequence[str] | None, arg: int) -> str:
        """The condition on letters of aggregates owned by `orgs` (None: every letter)."""
        if orgs is None:
            return "true"
        return (
            f'aggregate_id IN (SELECT subject_id::text FROM "{self.schema}".audit_owners '
            f"WHERE organisation = ANY(${arg}::text[]))"
        )

    async def page(
        self, *, resolved: bool, limit: int, offset: int, orgs: Sequence[str] | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of letters (unresolved unless `resolved`) of aggregates owned by the
        organisations `orgs` (None: all of them), and how many there are."""
        where = f"WHERE {self._visible(orgs, 1)}" + ("" if resolved else " AND resolved_at IS NULL")
        args = [] if orgs is None else [list(orgs)]
        async with (
            self.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            total = await conn.fetchval(f"SELECT count(*) FROM {self.table} {where}", *args)
            rows = await conn.fetch(
                f"SELECT {COLUMNS} FROM {self.table} {where} ORDER BY id "
                f"LIMIT {int(limit)} OFFSET {int(offset)}",
                *args,
            )
        return [as_item(r) for r in rows], int(total)

    async def visible(self, letter_id: int, orgs: Sequence[str] | None) -> bool:
        """Whether the letter exists and concerns an aggregate owned by one of `orgs`."""
        args: list[Any] = [letter_id] + ([] if orgs is None else [list(orgs)])
        async with self.pool.acquire() as conn:
            found = await conn.fetchval(
                f"SELECT true FROM {self.table} WHERE id = $1 AND {self._visible(orgs, 2)}",
                *args,
            )
        return bool(found)

    async def get(self, conn: asyncpg.Connection, letter_id: int) -> asyncpg.Record | None:
        record: asyncpg.Record | None = await conn.fetchrow(
            f"SELECT {COLUMNS}, payload FROM {self.table} WHERE id = $1", letter_id
        )
        return record

    async def chain(self, conn: asyncpg.Connection, letter: asyncpg.Record) -> list[asyncpg.Record]:
        """What a re-drive of `letter` applies: every unresolved letter of its follower and
        aggregate (the first one and those held behind it), in log order, locked."""
        if letter["kind"] != "follower" or letter["aggregate_id"] is None:
            return [letter]
        return list(
            await conn.fetch(
                f"SELECT {COLUMNS}, payload FROM {self.table} WHERE follower = $1 "
                "AND aggregate_id = $2 AND resolved_at IS NULL AND kind = 'follower' "
                "ORDER BY position FOR UPDATE",
                letter["follower"],
                letter["aggregate_id"],
            )
        )


def as_item(row: asyncpg.Record) -> dict[str, Any]:
    return {k: row[k] for k in COLUMNS.split(", ")}
