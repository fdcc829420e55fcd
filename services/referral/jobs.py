"""The periodic job that marks referrals overdue when the partner does not answer.

A partner has `referral_answer_working_days` working days after the sending to accept
or decline. Safe with several replicas: a run holds a PostgreSQL advisory lock (another
replica's run skips), and a referral is marked once (the mark is part of the aggregate;
saves are optimistic, the loser of a race reloads and finds it marked).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import zlib
from collections.abc import Callable, Sequence
from datetime import date, datetime

import asyncpg
from eventsourcing.persistence import IntegrityError
from starlette.concurrency import run_in_threadpool

from services.referral.application import ReferralApplication
from services.referral.domain import Referral
from services.referral.queries import awaiting_answer
from shared.jobs import every
from shared.settings import Settings

log = logging.getLogger(__name__)
JOB_ACTOR = "system:referral-overdue-job"


class OverdueJob:
    def __init__(
        self,
        app: ReferralApplication,
        pool: asyncpg.Pool,
        *,
        interval_seconds: float,
        working_days: int,
        holidays: Sequence[date] = (),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.app = app
        self.pool = pool
        self.interval_seconds = interval_seconds
        self.working_days = working_days
        self.holidays = tuple(holidays)
        self.clock = clock or app.clock
        self.lock_key = zlib.crc32(b"referral:overdue-job")

    async def run(self, stop: asyncio.Event) -> None:
        await every(stop, self.interval_seconds, self.run_once, "referral overdue job")

    async def run_once(self) -> list[uuid.UUID] | None:
        """One pass over the referrals awaiting an answer; those marked overdue now, or
        None if another replica's run holds the lock."""
        async with self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", self.lock_key):
                return None
            marked: list[uuid.UUID] = []
            for referral_id in await awaiting_answer(self.pool):
                if await run_in_threadpool(self._detect, referral_id):
                    marked.append(referral_id)
        if marked:
            log.info("referral overdue job marked %d referrals", len(marked))
        return marked

    def _detect(self, referral_id: uuid.UUID) -> bool:
        for _ in range(3):
            referral: object = self.app.repository.get(referral_id)
            assert isinstance(referral, Referral)
            now = self.clock()
            if not referral.detect_overdue(
                today=now.date(),
                working_days=self.working_days,
                holidays=self.holidays,
                actor=JOB_ACTOR,
                at=now,
            ):
                return False
            try:
                self.app.save(referral)
            except IntegrityError:
                continue  # changed meanwhile: look again
            return True
        return False


def overdue_job(app: ReferralApplication, pool: asyncpg.Pool, settings: Settings) -> OverdueJob:
    """The job as the service runs it (`jobs["overdue"]`), from the settings."""
    return OverdueJob(
        app,
        pool,
        interval_seconds=settings.referral_overdue_interval_seconds,
        working_days=settings.referral_answer_working_days,
        holidays=settings.referral_holidays,
    )
