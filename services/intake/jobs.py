"""Retention: clients whose guidance ended long enough ago are erased.

The policy per purpose:
- `guidance`: a client is erased `retention_years` after the last of their cases
  closed, and only when every case is closed. A case is closed when intake declined or
  referred it out, when follow-up closed its aftercare (`FollowUpClosed`; a later
  `AftercareRequested` reopens it), when its counsellor closed its file (`FileClosed`,
  from the case's `closed_at`), or when it was never decided and nothing happened
  to it for the whole retention period (an abandoned intake). A client without any case
  counts from their registration.
- `statistics`: a withdrawn statistics consent leaves the follow-up figures at once
  (the `followup-statistics` read model in services/followup/consumers.py); nothing to
  wait for here.
- `referral_packet`: referral's own job (services/referral/jobs.py) removes the packet
  of a referral ended `retention_referral_packet_months` ago; the packet is served only
  while the referral is open and the consent stands, its copies go with the erasure.

A run with an injectable clock lists exactly the expired clients; applied, it requests
their erasure as `system:retention` (a client under a legal hold is refused, and the
refusal recorded, like any erasure). The job runs periodically in the worker; the
command line runs it once (`waypoint privacy retention --dry-run | --apply`). What
follow-up says of a case's end is kept by the closures read model (`consumers.py`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from starlette.concurrency import run_in_threadpool

from services.intake.application import IntakeApplication
from services.intake.domain import IntakeError
from shared.jobs import every, pass_lock
from shared.settings import Settings

log = logging.getLogger(__name__)
ACTOR = "system:retention"

# -- the policy ---------------------------------------------------------------------------------
# Only the clients registered before the cutoff can have expired (their cases opened, and
# ended, after it): an index range (`clients_view_registered`, or `clients_view_org` for
# one organisation), each candidate's cases read by `cases_view_client`. In a store where
# retention runs, the clients registered that long ago and still there are few, so the
# query's cost does not grow with the history (no whole-view join and sort).
EXPIRED_SQL = """
SELECT cl.client_id, cl.organisation, cl.registered_at, cs.cases, cs.last_closed_at
FROM intake.clients_view cl
CROSS JOIN LATERAL (
    SELECT count(*) AS cases, count(closed_at) AS closed, max(closed_at) AS last_closed_at
    FROM (
        SELECT CASE
                WHEN v.status IN ('declined', 'referred_out') THEN v.updated_at
                WHEN k.closed_at IS NOT NULL THEN k.closed_at
                WHEN v.status = 'closed' AND v.closed_at IS NOT NULL THEN v.closed_at
                WHEN v.status = 'open' AND v.updated_at < $1 THEN v.updated_at
            END AS closed_at
        FROM intake.cases_view v LEFT JOIN intake.case_closures k USING (case_id)
        WHERE v.client_id = cl.client_id
    ) c
) cs
WHERE cl.registered_at < $1 AND ($2::text IS NULL OR cl.organisation = $2)
    AND cs.cases = cs.closed AND coalesce(cs.last_closed_at, cl.registered_at) < $1
ORDER BY coalesce(cs.last_closed_at, cl.registered_at), cl.client_id
"""


async def expired_clients(
    db: asyncpg.Pool | asyncpg.Connection, cutoff: datetime, organisation: str | None = None
) -> list[dict[str, Any]]:
    """The clients (of one organisation, or all) whose every case closed, or who never
    had one, before `cutoff`."""
    rows = await db.fetch(EXPIRED_SQL, cutoff, organisation)
    return [{**dict(r), "client_id": uuid.UUID(str(r["client_id"]))} for r in rows]


@dataclass
class RetentionReport:
    as_of: datetime
    cutoff: datetime
    applied: bool
    expired: list[dict[str, Any]] = field(default_factory=list)
    erased: list[uuid.UUID] = field(default_factory=list)
    held: list[uuid.UUID] = field(default_factory=list)
    failed: dict[uuid.UUID, str] = field(default_factory=dict)


class RetentionJob:
    def __init__(
        self,
        app: IntakeApplication,
        pool: asyncpg.Pool,
        *,
        years: int,
        interval_seconds: float,
        clock: Callable[[], datetime] | None = None,
        organisation: str | None = None,
    ) -> None:
        self.app = app
        self.organisation = organisation
        self.pool = pool
        self.years = years
        self.interval_seconds = interval_seconds
        self.clock = clock or app.clock
        self.lock_key = zlib.crc32(b"intake:retention-job")

    def cutoff(self, now: datetime) -> datetime:
        """`years` calendar years before `now` (29 February counts back to 28)."""
        try:
            return now.replace(year=now.year - self.years)
        except ValueError:
            return (now - timedelta(days=1)).replace(year=now.year - self.years)

    async def run(self, stop: asyncio.Event) -> None:
        # The first pass after one interval: the read models are being built at start.
        await every(
            stop,
            self.interval_seconds,
            lambda: self.run_once(apply=True),
            "retention job",
            first_at_once=False,
        )

    async def run_once(self, *, apply: bool) -> RetentionReport | None:
        """One pass: the expired clients, and (applied) their erasure requested; None when
        another replica's run holds the lock."""
        now = self.clock()
        report = RetentionReport(as_of=now, cutoff=self.cutoff(now), applied=apply)
        async with self.pool.acquire() as conn, pass_lock(conn, self.lock_key) as held:
            if not held:
                return None
            # On the connection that holds the lock: a second one from the pool would wait
            # for ever when the pool has one (GUIDANCE_READ_POOL_SIZE=1).
            report.expired = await expired_clients(conn, report.cutoff, self.organisation)
            if not apply:
                return report
            for row in report.expired:
                await self._erase(row, report)
        if report.erased or report.held:
            log.info("retention erased %d clients (%d held)", len(report.erased), len(report.held))
        return report

    async def _erase(self, row: dict[str, Any], report: RetentionReport) -> None:
        client_id = uuid.UUID(str(row["client_id"]))  # asyncpg's own UUID type: a real one
        last = row["last_closed_at"] or row["registered_at"]
        reason = (
            f"Retention: guidance ended {last.date().isoformat()}, more than "
            f"{self.years} years before {report.as_of.date().isoformat()}."
        )
        try:
            await run_in_threadpool(
                lambda: self.app.request_erasure(
                    client_id, organisation=row["organisation"], reason=reason, actor=ACTOR
                )
            )
        except IntakeError as e:
            if e.code == "legal-hold":
                report.held.append(client_id)
            else:
                report.failed[client_id] = e.message
            return
        report.erased.append(client_id)


def retention_job(app: IntakeApplication, pool: asyncpg.Pool, settings: Settings) -> RetentionJob:
    """The periodic retention job, as the settings say."""
    return RetentionJob(
        app,
        pool,
        years=settings.retention_years,
        interval_seconds=settings.retention_interval_seconds,
    )


JOBS = {"retention": retention_job}
