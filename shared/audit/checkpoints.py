"""Signed checkpoints of a service's hash chain.

Every N links (and on demand) the head of the chain is signed with the audit key
(Ed25519), stored in `<schema>.audit_checkpoints` and published to the JetStream
stream `GUIDANCE_AUDIT` (subject `guidance.audit.checkpoint.<service>`, `Nats-Msg-Id`
`<service>:<position>`). The stream is the copy an attacker with write access to the
database cannot rewrite: `verify` compares each checkpoint's signed hash with the hash
it recomputes at that position, so a rewrite of events together with every following
link is still caught. A checkpoint is published after its transaction commits; one
not yet published is published on the next batch (the message id de-duplicates).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from shared.audit.proof import Checkpoint, Signer, canonical_json

log = logging.getLogger(__name__)

STREAM = "GUIDANCE_AUDIT"
SUBJECT = "guidance.audit.checkpoint"


def subject_for(service: str) -> str:
    """One subject per service, so a service's checkpoints are read (or purged) alone."""
    return f"{SUBJECT}.{service}"


class Checkpointer:
    """Signs, stores, publishes and reads back one service's checkpoints."""

    def __init__(
        self,
        service: str,
        store: str,
        schema: str,
        signer: Signer,
        js: JetStreamContext | None,
        *,
        every: int = 1000,
        duplicate_window: float = 3600,
        replicas: int = 1,
    ) -> None:
        self.service = service
        # Which database the chain lives in: with the service, it names the chain, so
        # the checkpoints of another deployment on the same NATS are not taken for ours.
        self.store = store
        self.schema = schema
        self.signer = signer
        self.js = js
        self.every = every
        self.duplicate_window = duplicate_window
        self.replicas = replicas
        self.subject = subject_for(service)

    def sign(self, position: int, hash_: bytes) -> Checkpoint:
        return self.signer.sign(self.service, self.store, position, hash_, datetime.now(UTC))

    async def ensure_stream(self) -> None:
        """Create or update the audit stream (idempotent, at every start)."""
        if self.js is None:
            return
        config = StreamConfig(
            name=STREAM,
            subjects=["guidance.audit.>"],
            storage=StorageType.FILE,
            duplicate_window=self.duplicate_window,
            num_replicas=self.replicas,
        )
        try:
            await self.js.stream_info(STREAM)
        except NotFoundError:
            await self.js.add_stream(config)
        else:
            await self.js.update_stream(config)

    async def record(self, conn: asyncpg.Connection, checkpoint: Checkpoint) -> None:
        await conn.execute(
            f'INSERT INTO "{self.schema}".audit_checkpoints '
            "(position, hash, signed_at, payload, signature) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (position) DO NOTHING",
            checkpoint.position,
            checkpoint.hash,
            checkpoint.signed_at,
            canonical_json(checkpoint.payload()).decode(),
            checkpoint.signature,
        )

    async def sign_head(self, conn: asyncpg.Connection) -> Checkpoint | None:
        """Sign the chain's head now (unless it is signed already); None for an empty chain."""
        head = await conn.fetchrow(
            f'SELECT position, hash FROM "{self.schema}".audit_chain ORDER BY position DESC LIMIT 1'
        )
        if head is None:
            return None
        existing = await conn.fetchrow(
            f'SELECT payload, signature FROM "{self.schema}".audit_checkpoints WHERE position = $1',
            head["position"],
        )
        if existing is not None:
            checkpoint = _from_row(existing)
        else:
            checkpoint = self.sign(head["position"], bytes(head["hash"]))
            await self.record(conn, checkpoint)
        await self.publish_pending(conn)
        return checkpoint

    async def publish_pending(self, conn: asyncpg.Connection) -> bool:
        """Publish the stored checkpoints not yet acknowledged by the stream; True when
        none is left unpublished."""
        if self.js is None:
            return False
        rows = await conn.fetch(
            f'SELECT position, payload, signature FROM "{self.schema}".audit_checkpoints '
            "WHERE NOT published ORDER BY position"
        )
        if not rows:
            return True
        try:
            for row in rows:
                checkpoint = _from_row(row)
                await self.js.publish(
                    self.subject,
                    canonical_json(checkpoint.to_json()),
                    stream=STREAM,
                    headers={"Nats-Msg-Id": f"{self.service}:{checkpoint.position}"},
                    timeout=5,
                )
        except (NatsError, TimeoutError) as e:
            # They stay pending in the table; the next batch publishes them.
            log.warning("%s: audit checkpoints not published yet: %s", self.service, e)
            return False
        await conn.execute(
            f'UPDATE "{self.schema}".audit_checkpoints SET published = true '
            "WHERE position = ANY($1::bigint[])",
            [row["position"] for row in rows],
        )
        return True

    async def stored(self, conn: asyncpg.Connection) -> list[Checkpoint]:
        rows = await conn.fetch(
            f'SELECT payload, signature FROM "{self.schema}".audit_checkpoints ORDER BY position'
        )
        return [_from_row(row) for row in rows]

    async def published(self, timeout: float = 5.0) -> list[Checkpoint] | None:
        """This chain's checkpoints as the stream holds them; None if NATS cannot say."""
        if self.js is None:
            return None
        try:
            return await asyncio.wait_for(self._read_stream(), timeout)
        except NotFoundError:
            return []
        except (NatsError, TimeoutError) as e:
            log.warning("%s: audit stream unreadable: %s", self.service, e)
            return None

    async def _read_stream(self) -> list[Checkpoint]:
        assert self.js is not None
        info = await self.js.stream_info(STREAM, subjects_filter=self.subject)
        if not (info.state.subjects or {}).get(self.subject):
            return []
        name = f"audit-read-{uuid.uuid4().hex[:12]}"
        await self.js.add_consumer(
            STREAM,
            config=ConsumerConfig(
                name=name,
                filter_subject=self.subject,
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.NONE,
                inactive_threshold=30,
                mem_storage=True,
            ),
        )
        found: list[Checkpoint] = []
        try:
            sub = await self.js.pull_subscribe_bind(durable=None, stream=STREAM, name=name)
            pending = 1
            while pending:
                for msg in await sub.fetch(batch=1000, timeout=2):
                    pending = msg.metadata.num_pending or 0
                    checkpoint = _parse(msg.data)
                    if checkpoint is not None and self._ours(checkpoint):
                        found.append(checkpoint)
            await sub.unsubscribe()
        finally:
            with contextlib.suppress(NatsError, TimeoutError):
                await self.js.delete_consumer(STREAM, name)
        return found

    def _ours(self, checkpoint: Checkpoint) -> bool:
        return checkpoint.service == self.service and checkpoint.store == self.store

    async def known(self, conn: asyncpg.Connection) -> tuple[list[Checkpoint], str]:
        """The checkpoints to verify against: the stream's, plus any stored but not yet
        published; only the stored ones (said so) when the stream cannot be read."""
        stored = await self.stored(conn)
        published = await self.published()
        if published is None:
            return stored, "database"
        by_position = {c.position: c for c in stored}
        by_position.update({c.position: c for c in published})
        return sorted(by_position.values(), key=lambda c: c.position), "nats"


def _from_row(row: Any) -> Checkpoint:
    return Checkpoint.from_json(
        {
            **json.loads(row["payload"]),
            "signature": base64.b64encode(bytes(row["signature"])).decode(),
        }
    )


def _parse(data: bytes) -> Checkpoint | None:
    try:
        return Checkpoint.from_json(json.loads(data))
    except (ValueError, KeyError, TypeError):
        log.warning("a malformed message on %s.*", SUBJECT)
        return None
