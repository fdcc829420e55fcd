"""The periodic job that detects bottlenecks of time (overdue check-ins and actions).

Safe with several replicas: a run holds a PostgreSQL advisory lock for its duration
(another replica's run skips), and even two runs at once could not raise a bottleneck
twice: each has a key the follow-up remembers, and saves are optimistic (the loser of a
race reloads and finds the bottleneck already raised).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import zlib
from collections.abc import Callable
from datetime import datetime

import asyncpg
from eventsourcing.persistence import IntegrityError
from starlette.concurrency import run_in_threadpool

from services.followup.application import FollowUpApplication
from services.followup.domain import FollowUp
from shared.jobs import every
from shared.settings import Settings

log = logging.getLogger(__name__)
JOB_ACTOR = "system:overdue-job"


class OverdueJob:
    def __init__(
        self,
        app: FollowUpApplication,
        pool: asyncpg.Pool,
        *,
        interval_seconds: float,
        grace_days: int,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.app = app
        self.pool = pool
        self.interval_seconds = interval_seconds
        self.grace_days = grace_days
        self.clock = clock or app.clock
        self.lock_key = zlib.crc32(b"followup:overdue-job")

    async def run(self, stop: asyncio.Event) -> None:
        await every(stop, self.interval_seconds, self.run_once, "overdue job")

    async def run_once(self) -> list[str] | None:
        """One pass over the open follow-ups; the keys raised, or None if another
        replica's run holds the lock."""
        async with self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", self.lock_key):
                return None
            ids = [
                r["followup_id"]
                for r in await conn.fetch(
                    "SELECT followup_id FROM followup.followups_view WHERE status = 'open'"
                )
            ]
            raised: list[str] = []
            for followup_id in ids:
                raised += await run_in_threadpool(self._detect, followup_id)
        if raised:
            log.info("overdue job raised %d bottlenecks", len(raised))
        return raised

    def _detect(self, followup_id: uuid.UUID) -> list[str]:
        for _ in range(3):
            followup: object = self.app.repository.get(followup_id)
            assert isinstance(followup, FollowUp)
            now = self.clock()
            raised = followup.detect_overdue(
                today=now.date(), checkin_grace_days=self.grace_days, actor=JOB_ACTOR, at=now
            )
            if not raised:
                return []
            try:
                self.app.save(followup)
            except IntegrityError:
                continue  # changed meanwhile: look again
            return raised
        return []


def overdue_job(app: FollowUpApplication, pool: asyncpg.Pool, settings: Settings) -> OverdueJob:
    """The overdue job as the settings say (`followup_overdue_*`)."""
    return OverdueJob(
        app,
        pool,
        interval_seconds=settings.followup_overdue_interval_seconds,
        grace_days=settings.followup_overdue_grace_days,
    )
