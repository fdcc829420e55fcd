"""What auditors read: a case's events with their links, its state as of a moment, and
the recorded reads of a client's personal data.

Every read is scoped: only cases and clients of the organisations in the reader's audit
scope (see `shared.auth.AuditScope`) are found; another organisation's reads exactly like
one this service does not know (None or empty; the API answers 404). Whose a case or
client is comes from `audit_owners` (see chain.py)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
from eventsourcing.persistence import StoredEvent
from fastapi.encoders import jsonable_encoder
from starlette.concurrency import run_in_threadpool

from shared.audit.chain import ACCESS_COLUMNS, ACCESS_TOPIC
from shared.auth import AuditScope
from shared.eventstore import ServiceApplication
from shared.privacy.sealing import event_id, is_sealed
from shared.runtime import snapshot

# Event fields shown apart from `data` (or not at all; `class_version` is the library's
# mark of an event class's schema version, not something that happened).
_ENVELOPE = (
    "originator_id",
    "originator_version",
    "timestamp",
    "originator_topic",
    "class_version",
)
UNREADABLE = "UNREADABLE"


def events_table(app: ServiceApplication) -> tuple[str, str]:
    """The schema and name of the application's events table (`<schema>.<name>_events`)."""
    recorder: Any = app.recorder
    return recorder.datastore.schema, recorder.events_table_name


async def in_scope(pool: asyncpg.Pool, schema: str, subject: uuid.UUID, scope: AuditScope) -> bool:
    """Whether the case or client belongs to an organisation in the scope."""
    if scope.everyone:
        return True
    found: bool = await pool.fetchval(
        f'SELECT EXISTS (SELECT 1 FROM "{schema}".audit_owners '
        "WHERE subject_id = $1 AND organisation = ANY($2::text[]))",
        subject,
        sorted(scope.orgs),
    )
    return found


async def case_events(
    pool: asyncpg.Pool,
    app: ServiceApplication,
    case_id: uuid.UUID,
    scope: AuditScope,
    *,
    with_state: bool = False,
) -> list[dict[str, Any]]:
    """The case's events in this service, in log order, each with its link (none when
    the case is outside the scope)."""
    schema, table = events_table(app)
    if not await in_scope(pool, schema, case_id, scope):
        return []
    rows = await pool.fetch(
        f"SELECT c.position, c.prev_hash, c.hash, c.occurred_at, c.client_id, "
        f"c.originator_id AS link_originator_id, e.originator_id, e.originator_version, "
        f'e.topic, e.state FROM "{schema}".audit_chain c '
        f'LEFT JOIN "{schema}"."{table}" e ON e.notification_id = c.position '
        "WHERE c.case_id = $1 ORDER BY c.position",
        case_id,
    )
    return await run_in_threadpool(_present_all, app, rows, with_state)


def _present_all(
    app: ServiceApplication, rows: Sequence[asyncpg.Record], with_state: bool
) -> list[dict[str, Any]]:
    return [_present(app, row, with_state) for row in rows]


def _present(app: ServiceApplication, row: asyncpg.Record, with_state: bool) -> dict[str, Any]:
    item = _event_item(app, row, with_state)
    encoded: dict[str, Any] = jsonable_encoder(item)
    return encoded


def _event_item(app: ServiceApplication, row: asyncpg.Record, with_state: bool) -> dict[str, Any]:
    stored = row["state"] is not None
    oid = row["originator_id"] or row["link_originator_id"]
    topic: str = row["topic"] or ""
    item: dict[str, Any] = {
        "position": row["position"],
        "event_id": event_id(oid, row["originator_version"] or 0) if stored else None,
        "type": topic.rsplit(":", 1)[-1],
        "occurred_at": row["occurred_at"],
        "actor": None,
        "data": None,
        "hash": bytes(row["hash"]).hex(),
        "prev_hash": bytes(row["prev_hash"]).hex(),
        "originator_id": oid,
        "originator_version": row["originator_version"],
        "topic": topic or None,
        "client_id": row["client_id"],
        "stored": stored,
    }
    if not stored:
        return item  # the link has no event: verify reports it
    state = bytes(row["state"])
    item["state_sha256"] = hashlib.sha256(state).hexdigest()
    if with_state:
        item["state"] = base64.b64encode(state).decode()
    try:
        decoded = app.sealing.decode_state(
            StoredEvent(oid, row["originator_version"], topic, state)
        )
    except ValueError:
        item["data"] = UNREADABLE
        return item
    eid = item["event_id"]
    data: dict[str, Any] = {}
    opened: list[str] = []
    for name, value in decoded.items():
        if name in _ENVELOPE:
            continue
        if is_sealed(value):
            try:
                value = app.sealing.open_field(value, eid, name)
            except ValueError:
                value = UNREADABLE
            else:
                opened.append(name)
        data[name] = value
    item["actor"] = data.pop("actor", None)
    item["data"] = data
    item["personal_fields"] = opened
    return item


async def case_state(
    pool: asyncpg.Pool,
    app: ServiceApplication,
    case_id: uuid.UUID,
    as_of: datetime,
    scope: AuditScope,
) -> list[dict[str, Any]] | None:
    """Each aggregate of the case as it stood at `as_of` (None: no event by then, or
    the case is outside the scope)."""
    schema, _ = events_table(app)
    if not await in_scope(pool, schema, case_id, scope):
        return None
    rows = await pool.fetch(
        f'SELECT originator_id, max(originator_version) AS version FROM "{schema}".audit_chain '
        "WHERE case_id = $1 AND occurred_at <= $2 AND topic <> $3 "
        "GROUP BY originator_id ORDER BY min(position)",
        case_id,
        as_of,
        ACCESS_TOPIC,
    )
    if not rows:
        return None
    return await run_in_threadpool(
        _rebuild, app, [(r["originator_id"], r["version"]) for r in rows]
    )


def _rebuild(
    app: ServiceApplication, versions: list[tuple[uuid.UUID, int]]
) -> list[dict[str, Any]]:
    out = []
    for aggregate_id, version in versions:
        aggregate: Any = app.repository.get(aggregate_id, version=version)
        fields = {k: v for k, v in vars(aggregate).items() if not k.startswith("_")}
        out.append(
            {
                "id": aggregate.id,
                "type": type(aggregate).__name__,
                "version": aggregate.version,
                "created_on": aggregate.created_on,
                "modified_on": aggregate.modified_on,
                "state": fields,
            }
        )
    encoded: list[dict[str, Any]] = jsonable_encoder(out)
    return encoded


async def case_first_event(
    pool: asyncpg.Pool, schema: str, case_id: uuid.UUID, scope: AuditScope
) -> datetime | None:
    if not await in_scope(pool, schema, case_id, scope):
        return None
    at: datetime | None = await pool.fetchval(
        f'SELECT min(occurred_at) FROM "{schema}".audit_chain WHERE case_id = $1', case_id
    )
    return at


async def access_log(
    pool: asyncpg.Pool,
    schema: str,
    scope: AuditScope,
    client_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int] | None:
    """Recorded reads (of one client's data, or all), newest first, and how many in all;
    only reads of clients in the scope (None: the client asked for is outside it)."""
    if client_id is not None and not await in_scope(pool, schema, client_id, scope):
        return None
    conditions: list[str] = []
    args: list[Any] = []
    if client_id is not None:
        args.append(client_id)
        conditions.append(f"client_id = ${len(args)}")
    if not scope.everyone:
        args.append(sorted(scope.orgs))
        conditions.append(
            f'client_id IN (SELECT subject_id FROM "{schema}".audit_owners '
            f"WHERE organisation = ANY(${len(args)}::text[]))"
        )
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    n = len(args)
    async with snapshot(pool) as conn:
        total = await conn.fetchval(f'SELECT count(*) FROM "{schema}".access_log {where}', *args)
        rows = await conn.fetch(
            f'SELECT {", ".join(ACCESS_COLUMNS)} FROM "{schema}".access_log {where} '
            f"ORDER BY occurred_at DESC, position DESC LIMIT ${n + 1} OFFSET ${n + 2}",
            *args,
            limit,
            offset,
        )
    items: list[dict[str, Any]] = jsonable_encoder([dict(r) for r in rows])
    return items, int(total)
