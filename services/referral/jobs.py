"""Referral's periodic jobs: overdue referrals, and the retention of packets.

The packet's retention (`referral_packet`, shared/privacy/retention.py): a referral that
ended (declined, closed or withdrawn) more than `retention_referral_packet_months` ago
gets `PacketRemoved`, unless a case of its client is under a legal hold (intake's holds,
kept in `referral.legal_holds`). The tombstone is the receipt (`GET /retention`).

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
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg
from eventsourcing.persistence import IntegrityError
from starlette.concurrency import run_in_threadpool

from services.referral.application import ReferralApplication
from services.referral.domain import Referral
from services.referral.queries import awaiting_answer
from shared.jobs import every, pass_lock
from shared.privacy.retention import ACTOR as RETENTION_ACTOR
from shared.privacy.retention import RuleJob, policy_of
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
        async with self.pool.acquire() as conn, pass_lock(conn, self.lock_key) as held:
            if not held:
                return None
            marked: list[uuid.UUID] = []
            # On the connection that holds the lock: a second one from the pool would wait
            # for ever when the pool has one (GUIDANCE_READ_POOL_SIZE=1).
            for referral_id in await awaiting_answer(conn):
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


# -- the retention of packets --------------------------------------------------------------------
# The referrals whose packet is still there, by when they ended: an index range of
# `referrals_view_ended` (the same expression), never the whole view sorted.
ENDED_SQL = """
SELECT referral_id, case_id, client_id, organisation, partner_id, status,
    (CASE WHEN status = 'declined' THEN answered_at
          WHEN status IN ('closed', 'withdrawn') THEN closed_at END) AS ended_at,
    EXISTS (SELECT 1 FROM referral.legal_holds h WHERE h.client_id = r.client_id) AS held
FROM referral.referrals_view r
WHERE packet_removed_at IS NULL AND ($2::text IS NULL OR organisation = $2)
    AND (CASE WHEN status = 'declined' THEN answered_at
              WHEN status IN ('closed', 'withdrawn') THEN closed_at END) < $1
ORDER BY (CASE WHEN status = 'declined' THEN answered_at
               WHEN status IN ('closed', 'withdrawn') THEN closed_at END), referral_id
"""


@dataclass
class PacketRetentionReport:
    as_of: datetime
    cutoff: datetime
    rule: str
    applied: bool
    expired: list[dict[str, Any]] = field(default_factory=list)
    removed: list[uuid.UUID] = field(default_factory=list)
    held: list[uuid.UUID] = field(default_factory=list)


class PacketRetentionJob(RuleJob[ReferralApplication, PacketRetentionReport]):
    """Removes the packets of referrals that ended more than the period ago."""

    lock_name = b"referral:retention-job"
    name = "referral packet retention"

    async def run_once(self, *, apply: bool) -> PacketRetentionReport | None:
        """One pass: the expired referrals, and (applied) their packets removed; None when
        another replica's run holds the lock."""
        now = self.clock()
        cutoff = self.rule.period.cutoff(now)
        report = PacketRetentionReport(now, cutoff, self.rule.text, apply)
        async with self.pool.acquire() as conn, pass_lock(conn, self.lock_key) as held:
            if not held:
                return None
            rows = await conn.fetch(ENDED_SQL, cutoff, self.organisation)
            report.expired = [
                {**dict(r), "referral_id": uuid.UUID(str(r["referral_id"]))} for r in rows
            ]
            for row in report.expired:
                referral_id = uuid.UUID(str(row["referral_id"]))
                if row["held"]:
                    report.held.append(referral_id)
                elif apply and await run_in_threadpool(self._remove, referral_id, cutoff, now):
                    report.removed.append(referral_id)
        if report.removed or report.held:
            log.info(
                "retention removed %d referral packets (%d held)",
                len(report.removed),
                len(report.held),
            )
        return report

    def _remove(self, referral_id: uuid.UUID, cutoff: datetime, now: datetime) -> bool:
        for _ in range(3):
            referral: object = self.app.repository.get(referral_id)
            assert isinstance(referral, Referral)
            if not referral.remove_packet(
                ended_before=cutoff, rule=self.rule.text, actor=RETENTION_ACTOR, at=now
            ):
                return False
            try:
                self.app.save(referral)
            except IntegrityError:
                continue  # changed meanwhile: look again
            return True
        return False


def retention_job(
    app: ReferralApplication, pool: asyncpg.Pool, settings: Settings
) -> PacketRetentionJob:
    """The packet retention job as the service runs it (`jobs["retention"]`)."""
    return PacketRetentionJob(
        app,
        pool,
        rule=policy_of(settings)["referral_packet"],
        interval_seconds=settings.retention_interval_seconds,
    )
