"""The hash chain over a service's notification log, kept by the `AuditTrail` follower.

For each stored notification, in log order, a link is recorded in
`<schema>.audit_chain`: link = sha256(prev_hash || canonical bytes of the stored
notification) (see proof.py), with the case and client the event concerns so that a
case's history can be listed. Positions may have gaps (rolled-back transactions): the
chain follows the notifications that exist, and each link names its position and the
previous link's hash. Recorded reads of personal data (`DataAccess.Recorded`) are also
listed in `<schema>.access_log`. Whose the case and the client are (their organisation,
from the events that carry one: intake's `Case.Opened` and `Client.Registered`,
planning's `Plan.Created`, follow-up's `FollowUp.Opened`, referral's `Referral.Proposed`)
is kept in `<schema>.audit_owners`, for scoping the audit views. Links, access rows,
owners, due checkpoints and the follower's position commit in one transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.utils import get_topic
from nats.errors import Error as NatsError

from shared.audit.access import DataAccess
from shared.audit.checkpoints import Checkpointer
from shared.audit.proof import GENESIS, Checkpoint, link_hash, link_payload, state_digest
from shared.eventstore import ServiceApplication
from shared.messaging.follower import LogFollower

log = logging.getLogger(__name__)

ACCESS_TOPIC = get_topic(DataAccess.Recorded)

CHAIN_COLUMNS = (
    "position",
    "prev_hash",
    "hash",
    "originator_id",
    "originator_version",
    "topic",
    "occurred_at",
    "case_id",
    "client_id",
)
ACCESS_COLUMNS = (
    "access_id",
    "position",
    "client_id",
    "case_id",
    "referral_id",
    "actor",
    "role",
    "organisation",
    "partner_id",
    "purpose",
    "resource",
    "categories",
    "occurred_at",
    "audit_scope",
)


def schema_sql(schema: str) -> str:
    """The audit tables of one service (idempotent DDL)."""
    s = f'"{schema}"'
    return f"""
    CREATE TABLE IF NOT EXISTS {s}.audit_chain (
        position bigint PRIMARY KEY,
        prev_hash bytea NOT NULL,
        hash bytea NOT NULL,
        originator_id uuid NOT NULL,
        originator_version bigint NOT NULL,
        topic text NOT NULL,
        occurred_at timestamptz,
        case_id uuid NULL,
        client_id uuid NULL
    );
    CREATE INDEX IF NOT EXISTS audit_chain_case_idx
        ON {s}.audit_chain (case_id, position) WHERE case_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS audit_chain_client_idx
        ON {s}.audit_chain (client_id, position) WHERE client_id IS NOT NULL;
    CREATE TABLE IF NOT EXISTS {s}.access_log (
        access_id uuid PRIMARY KEY,
        position bigint NOT NULL,
        client_id uuid NOT NULL,
        case_id uuid NULL,
        referral_id uuid NULL,
        actor text NOT NULL,
        role text NOT NULL,
        organisation text NOT NULL,
        partner_id uuid NULL,
        purpose text NOT NULL,
        resource text NOT NULL,
        categories text[] NOT NULL,
        occurred_at timestamptz NOT NULL
    );
    CREATE INDEX IF NOT EXISTS access_log_client_idx
        ON {s}.access_log (client_id, occurred_at DESC, position DESC);
    -- The scope an audit read used (["*"] or organisations); NULL for other reads and
    -- for reads recorded before it was kept.
    ALTER TABLE {s}.access_log ADD COLUMN IF NOT EXISTS audit_scope text[] NULL;
    -- Which organisation a case or client (subject) belongs to.
    CREATE TABLE IF NOT EXISTS {s}.audit_owners (
        subject_id uuid NOT NULL,
        organisation text NOT NULL,
        PRIMARY KEY (subject_id, organisation)
    );
    CREATE INDEX IF NOT EXISTS audit_owners_org_idx ON {s}.audit_owners (organisation);
    -- One-time steps done on this chain (`owners`: owners backfilled from older links).
    CREATE TABLE IF NOT EXISTS {s}.audit_meta (key text PRIMARY KEY, done_at timestamptz NOT NULL);
    CREATE TABLE IF NOT EXISTS {s}.audit_checkpoints (
        position bigint PRIMARY KEY,
        hash bytea NOT NULL,
        signed_at timestamptz NOT NULL,
        payload text NOT NULL,
        signature bytea NOT NULL,
        published boolean NOT NULL DEFAULT false
    );
    """


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class Subjects:
    """Whose events these are: the `case_id` / `client_id` fields of an event, or its
    originator for aggregates whose id is the case (intake's Case) or the client."""

    def __init__(self, case_topics: Sequence[str] = (), client_topics: Sequence[str] = ()):
        self.case_topics = tuple(case_topics)
        self.client_topics = tuple(client_topics)

    def of(
        self, topic: str, originator_id: uuid.UUID, state: dict[str, Any]
    ) -> tuple[uuid.UUID | None, uuid.UUID | None]:
        case_id = _uuid(state.get("case_id"))
        client_id = _uuid(state.get("client_id"))
        if topic.startswith(self.case_topics):
            case_id = originator_id
        if topic.startswith(self.client_topics):
            client_id = originator_id
        return case_id, client_id


def link_record(
    n: Notification, state: dict[str, Any], prev: bytes, subjects: Subjects
) -> tuple[Any, ...]:
    """One row of audit_chain (in CHAIN_COLUMNS order) for a stored notification."""
    oid = _uuid(n.originator_id)
    assert oid is not None
    payload = link_payload(n.id, oid, n.originator_version, n.topic, state_digest(n.state))
    case_id, client_id = subjects.of(n.topic, oid, state)
    occurred = state.get("timestamp")
    return (
        n.id,
        prev,
        link_hash(prev, payload),
        oid,
        n.originator_version,
        n.topic,
        occurred if isinstance(occurred, datetime) else None,
        case_id,
        client_id,
    )


def access_record(n: Notification, state: dict[str, Any]) -> tuple[Any, ...]:
    """One row of access_log (in ACCESS_COLUMNS order) for a DataAccess.Recorded."""
    return (
        _uuid(n.originator_id),
        n.id,
        _uuid(state["client_id"]),
        _uuid(state.get("case_id")),
        _uuid(state.get("referral_id")),
        state["actor"],
        state["role"],
        state["organisation"],
        _uuid(state.get("partner_id")),
        state["purpose"],
        state["resource"],
        [str(c) for c in state.get("categories") or []],
        state["timestamp"],
        _scope(state.get("audit_scope")),
    )


def _scope(value: Any) -> list[str] | None:
    return [str(o) for o in value] if isinstance(value, list) else None


def owner_records(
    topic: str, state: dict[str, Any], link: tuple[Any, ...]
) -> list[tuple[uuid.UUID, str]]:
    """(subject, organisation) for the case and client of an event that names their
    organisation. A recorded read names the reader's organisation, not the subject's."""
    organisation = state.get("organisation")
    if topic == ACCESS_TOPIC or not isinstance(organisation, str):
        return []
    case_id, client_id = link[7], link[8]
    return [(s, organisation) for s in (case_id, client_id) if s is not None]


async def save_owners(
    conn: asyncpg.Connection, schema: str, owners: Iterable[tuple[uuid.UUID, str]]
) -> None:
    rows = list(owners)
    await conn.execute(
        f'INSERT INTO "{schema}".audit_owners (subject_id, organisation) '
        "SELECT * FROM unnest($1::uuid[], $2::text[]) ON CONFLICT DO NOTHING",
        [r[0] for r in rows],
        [r[1] for r in rows],
    )


class AuditTrail(LogFollower):
    """Extends the chain with every stored notification, and signs checkpoints."""

    name = "audit"
    # Nobody waits for the chain: under load it links larger batches, less often.
    linger_seconds = 0.2
    # A chain cannot skip a link: an event that keeps failing is recorded as a dead
    # letter (seen by readyz and the metric) and retried in place.
    poison = "stay"

    def __init__(
        self,
        app: ServiceApplication,
        connect_kwargs: dict[str, Any],
        checkpoints: Checkpointer,
        *,
        subjects: Subjects | None = None,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
    ) -> None:
        super().__init__(app, connect_kwargs, batch_size=batch_size, poll_seconds=poll_seconds)
        self.checkpoints = checkpoints
        self.subjects = subjects or Subjects()
        self.head_position = 0
        self.head_hash = GENESIS
        self.since_checkpoint = 0
        self._stream_ready = False
        self._unpublished = True  # look once at start for checkpoints left unpublished

    async def setup(self, conn: asyncpg.Connection) -> None:
        async with conn.transaction():
            await conn.execute(schema_sql(self.schema))
            # The first to mark the backfill owns it (another process's insert waits
            # for this transaction, then finds the mark).
            first = await conn.fetchval(
                f'INSERT INTO "{self.schema}".audit_meta (key, done_at) VALUES ($1, now()) '
                "ON CONFLICT DO NOTHING RETURNING key",
                "owners",
            )
            head = await conn.fetchrow(
                f'SELECT position, hash FROM "{self.schema}".audit_chain '
                "ORDER BY position DESC LIMIT 1"
            )
            if head is not None:
                self.head_position, self.head_hash = head["position"], bytes(head["hash"])
            else:
                self.head_position, self.head_hash = 0, GENESIS
            if first and self.head_position:
                # A chain from before owners were kept: whose its cases are, once, from
                # the events linked so far (in the same transaction as the mark).
                await self._backfill_owners(conn)
        await self._ensure_stream()
        self.since_checkpoint = await conn.fetchval(
            f'SELECT count(*) FROM "{self.schema}".audit_chain WHERE position > '
            f'(SELECT coalesce(max(position), 0) FROM "{self.schema}".audit_checkpoints)'
        )

    async def _backfill_owners(self, conn: asyncpg.Connection) -> None:
        schema, table = self.schema, self.app.recorder.events_table_name  # type: ignore[attr-defined]
        last = 0
        while True:
            rows = await conn.fetch(
                "SELECT notification_id, originator_id, originator_version, topic, state "
                f'FROM "{schema}"."{table}" WHERE notification_id > $1 AND notification_id <= $2 '
                "ORDER BY notification_id LIMIT 1000",
                last,
                self.head_position,
            )
            if not rows:
                return
            owners: set[tuple[uuid.UUID, str]] = set()
            for r in rows:
                oid, topic = r["originator_id"], r["topic"]
                stored = StoredEvent(oid, r["originator_version"], topic, bytes(r["state"]))
                try:
                    state = self.app.sealing.decode_state(stored)
                except (ValueError, KeyError, TypeError):
                    continue
                case_id, client_id = self.subjects.of(topic, oid, state)
                link = (None,) * 7 + (case_id, client_id)
                owners.update(owner_records(topic, state, link))
            if owners:
                await save_owners(conn, schema, owners)
            last = rows[-1]["notification_id"]

    async def _ensure_stream(self) -> None:
        # The chain goes on while NATS is away; checkpoints wait in the table meanwhile.
        try:
            await self.checkpoints.ensure_stream()
            self._stream_ready = True
        except (NatsError, TimeoutError, OSError) as e:
            log.warning("%s: audit stream not ready: %s", self.schema, e)

    async def handle(self, conn: asyncpg.Connection, batch: Sequence[Notification]) -> None:
        links: list[tuple[Any, ...]] = []
        accesses: list[tuple[Any, ...]] = []
        owners: set[tuple[uuid.UUID, str]] = set()
        due: list[Checkpoint] = []
        prev, since = self.head_hash, self.since_checkpoint
        for n in batch:
            if n.id <= self.head_position:
                continue  # linked already (the position was replayed)
            try:
                state = self.app.sealing.decode_state(n)
            except (ValueError, KeyError, TypeError) as e:
                # Linked all the same (the chain covers the stored bytes, whatever they
                # say); only whose it is stays unknown. A stuck chain would link nothing.
                log.warning("%s: undecodable event at %s linked as is: %s", self.schema, n.id, e)
                state = {}
            link = link_record(n, state, prev, self.subjects)
            links.append(link)
            prev = link[2]
            if n.topic == ACCESS_TOPIC and state:
                accesses.append(access_record(n, state))
            owners.update(owner_records(n.topic, state, link))
            since += 1
            if since >= self.checkpoints.every:
                due.append(self.checkpoints.sign(n.id, prev))
                since = 0
        async with conn.transaction():
            if links:
                await conn.copy_records_to_table(
                    "audit_chain", schema_name=self.schema, columns=CHAIN_COLUMNS, records=links
                )
            if accesses:
                await conn.copy_records_to_table(
                    "access_log", schema_name=self.schema, columns=ACCESS_COLUMNS, records=accesses
                )
            if owners:
                await save_owners(conn, self.schema, owners)
            for checkpoint in due:
                await self.checkpoints.record(conn, checkpoint)
            await self.save_position(conn, batch[-1].id)
        if links:
            self.head_position, self.head_hash = links[-1][0], prev
        self.since_checkpoint = since
        if due or self._unpublished:
            if not self._stream_ready:
                await self._ensure_stream()
            self._unpublished = not await self.checkpoints.publish_pending(conn)
