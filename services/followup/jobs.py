"""Follow-up's periodic jobs: bottlenecks of time (overdue check-ins and actions), and
the `statistics` retention (the anonymised figures older than the period go, with a
`StatisticsPurge` receipt; see shared/privacy/retention.py).

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
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg
from eventsourcing.persistence import IntegrityError
from starlette.concurrency import run_in_threadpool

from services.followup.application import FollowUpApplication
from services.followup.domain import FollowUp, StatisticsPurge
from shared.jobs import every, pass_lock
from shared.privacy.retention import ACTOR as RETENTION_ACTOR
from shared.privacy.retention import RuleJob, policy_of
from shared.settings import Settings

log = logging.getLogger(__name__)
JOB_ACTOR = "system:overdue-job"

# What the overdue job found when it last looked at a follow-up: its version then, the
# grace days it looked with, and the first day on which time makes something of it overdue
# that is not raised yet (NULL: nothing, until it changes). A run loads only the open
# follow-ups that changed since, or whose day has come: not every open follow-up, every
# five minutes, however many the years have left open (43,600 at 10 million events).
OVERDUE_SQL = """
CREATE TABLE IF NOT EXISTS followup.overdue_looked (
    followup_id uuid PRIMARY KEY,
    version int NOT NULL,
    grace_days int NOT NULL,
    overdue_from date
);
"""
# The open follow-ups a run looks at ($1 the grace days, $2 today).
DUE_SQL = (
    "SELECT f.followup_id FROM followup.followups_view f "
    "LEFT JOIN followup.overdue_looked o USING (followup_id) "
    "WHERE f.status = 'open' AND (o.followup_id IS NULL OR o.version <> f.version "
    "OR o.grace_days <> $1 OR o.overdue_from <= $2)"
)
LOOKED_SQL = (
    "INSERT INTO followup.overdue_looked (followup_id, version, grace_days, overdue_from) "
    "SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::date[]) "
    "ON CONFLICT (followup_id) DO UPDATE SET version = excluded.version, "
    "grace_days = excluded.grace_days, overdue_from = excluded.overdue_from"
)
LOOKED_PART = 500
# Those no longer open (closed, erased) are forgotten.
FORGET_SQL = (
    "DELETE FROM followup.overdue_looked o WHERE NOT EXISTS (SELECT 1 FROM "
    "followup.followups_view f WHERE f.followup_id = o.followup_id AND f.status = 'open')"
)


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
        """One pass over the open follow-ups that changed since the last look, or whose
        overdue day has come; the keys raised, or None if another replica's run holds the
        lock."""
        today = self.clock().date()
        async with self.pool.acquire() as conn, pass_lock(conn, self.lock_key) as held:
            if not held:
                return None
            ids = [r["followup_id"] for r in await conn.fetch(DUE_SQL, self.grace_days, today)]
            raised: list[str] = []
            # What was looked at is kept a part at a time: a long first pass (every open
            # follow-up, after an upgrade) that is stopped halfway does not start over.
            for at in range(0, len(ids), LOOKED_PART):
                looked: list[tuple[uuid.UUID, int, date | None]] = []
                for followup_id in ids[at : at + LOOKED_PART]:
                    keys, version, overdue_from = await run_in_threadpool(self._detect, followup_id)
                    raised += keys
                    looked.append((followup_id, version, overdue_from))
                await conn.execute(
                    LOOKED_SQL,
                    [x[0] for x in looked],
                    [x[1] for x in looked],
                    [self.grace_days] * len(looked),
                    [x[2] for x in looked],
                )
            await conn.execute(FORGET_SQL)
        if raised:
            log.info("overdue job raised %d bottlenecks", len(raised))
        return raised

    def _detect(self, followup_id: uuid.UUID) -> tuple[list[str], int, date | None]:
        """The keys raised now, the follow-up's version after, and its next overdue day."""
        for _ in range(3):
            followup: object = self.app.repository.get(followup_id)
            assert isinstance(followup, FollowUp)
            now = self.clock()
            raised = followup.detect_overdue(
                today=now.date(), checkin_grace_days=self.grace_days, actor=JOB_ACTOR, at=now
            )
            if raised:
                try:
                    self.app.save(followup)
                except IntegrityError:
                    continue  # changed meanwhile: look again
            next_day = followup.overdue_from(checkin_grace_days=self.grace_days)
            return raised, followup.version, next_day
        # Changed three times while looked at: looked at again next run.
        return [], -1, None


def overdue_job(app: FollowUpApplication, pool: asyncpg.Pool, settings: Settings) -> OverdueJob:
    """The overdue job as the settings say (`followup_overdue_*`)."""
    return OverdueJob(
        app,
        pool,
        interval_seconds=settings.followup_overdue_interval_seconds,
        grace_days=settings.followup_overdue_grace_days,
    )


# -- the statistics retention ----------------------------------------------------------------------
@dataclass
class StatisticsRetentionReport:
    as_of: datetime
    cutoff: date
    rule: str
    applied: bool
    figures: int = 0
    bottlenecks: int = 0
    purge_id: uuid.UUID | None = None


class StatisticsRetentionJob(RuleJob[FollowUpApplication, StatisticsRetentionReport]):
    """Deletes the anonymised figures older than the `statistics` period, with a receipt."""

    lock_name = b"followup:statistics-retention-job"
    name = "statistics retention"

    async def run_once(self, *, apply: bool) -> StatisticsRetentionReport | None:
        """One pass: how many anonymised figures are older than the period, and (applied,
        when there are any) their purge recorded, which the projection carries out; None
        when another replica's run holds the lock."""
        now = self.clock()
        cutoff = self.rule.period.cutoff(now).date()
        report = StatisticsRetentionReport(now, cutoff, self.rule.text, apply)
        async with self.pool.acquire() as conn, pass_lock(conn, self.lock_key) as held:
            if not held:
                return None
            report.figures = await conn.fetchval(
                "SELECT count(*) FROM followup.statistics_archive WHERE figure_on < $1 "
                "AND ($2::text IS NULL OR organisation = $2)",
                cutoff,
                self.organisation,
            )
            report.bottlenecks = await conn.fetchval(
                "SELECT count(*) FROM followup.bottleneck_archive WHERE detected_on < $1 "
                "AND ($2::text IS NULL OR organisation = $2)",
                cutoff,
                self.organisation,
            )
            if apply and report.figures + report.bottlenecks:
                purge = StatisticsPurge.record(
                    purge_id=uuid.uuid4(),
                    organisation=self.organisation,
                    rule=self.rule.text,
                    cutoff=cutoff,
                    figures=report.figures,
                    bottlenecks=report.bottlenecks,
                    actor=RETENTION_ACTOR,
                    at=now,
                )
                await run_in_threadpool(self.app.save, purge)
                report.purge_id = purge.id
                log.info(
                    "statistics retention purged %d figures, %d bottlenecks",
                    report.figures,
                    report.bottlenecks,
                )
        return report


def statistics_retention_job(
    app: FollowUpApplication, pool: asyncpg.Pool, settings: Settings
) -> StatisticsRetentionJob:
    """The statistics retention job as the service runs it (`jobs["retention"]`)."""
    return StatisticsRetentionJob(
        app,
        pool,
        rule=policy_of(settings)["statistics"],
        interval_seconds=settings.retention_interval_seconds,
    )
