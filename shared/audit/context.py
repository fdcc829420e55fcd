"""A service's audit trail as its composition root builds it, and what the API needs of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg
from starlette.concurrency import run_in_threadpool

from shared.audit.access import record_read as access_read
from shared.audit.chain import AuditTrail, Subjects, schema_sql
from shared.audit.checkpoints import Checkpointer
from shared.audit.proof import Signer
from shared.audit.queries import events_table
from shared.auth import Principal
from shared.eventstore import ServiceApplication
from shared.runtime import Runtime
from shared.settings import Settings


@dataclass
class Audit:
    """Set as `app.state.audit` by each service; the audit router reads it."""

    service: str
    app: ServiceApplication
    trail: AuditTrail
    checkpoints: Checkpointer
    runtime: Runtime
    settings: Settings

    @property
    def pool(self) -> asyncpg.Pool:
        return self.runtime.pool

    @property
    def schema(self) -> str:
        return events_table(self.app)[0]

    async def caught_up(self, timeout: float = 2.0) -> bool:
        """Wait (briefly) until the chain covers everything stored so far."""
        schema, table = events_table(self.app)
        head = await self.pool.fetchval(f'SELECT max(notification_id) FROM "{schema}"."{table}"')
        return head is None or await self.trail.wait_until(head, timeout)

    async def record_read(
        self,
        who: Principal,
        *,
        client_id: uuid.UUID,
        case_id: uuid.UUID,
        resource: str,
        categories: list[str],
    ) -> None:
        """An auditor's read of personal data is itself recorded (purpose `audit`), with
        the audit scope the reader used."""
        await run_in_threadpool(
            lambda: access_read(
                self.app,
                who,
                client_id=client_id,
                case_id=case_id,
                purpose="audit",
                resource=resource,
                categories=categories,
                audit_scope=who.audit_scope.recorded(),
            )
        )


async def start_audit(
    runtime: Runtime,
    app: ServiceApplication,
    service: str,
    settings: Settings,
    *,
    subjects: Subjects | None = None,
) -> Audit:
    """Create the audit tables and the AuditTrail follower (start it with the others)."""
    schema = events_table(app)[0]
    await runtime.ensure_tables(schema_sql(schema))
    checkpoints = Checkpointer(
        service,
        settings.pg.dbname,
        schema,
        Signer(settings.audit_signing_seed),
        runtime.js,
        every=settings.audit_checkpoint_every,
        duplicate_window=settings.stream_duplicate_window_seconds,
        replicas=settings.stream_replicas,
    )
    trail = AuditTrail(
        app,
        settings.pg.asyncpg_kwargs(),
        checkpoints,
        subjects=subjects,
        batch_size=settings.relay_batch_size,
        poll_seconds=settings.relay_poll_seconds,
    )
    return Audit(service, app, trail, checkpoints, runtime, settings)
