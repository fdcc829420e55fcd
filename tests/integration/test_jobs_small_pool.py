"""The periodic jobs on a read pool of one connection (GUIDANCE_READ_POOL_SIZE=1, as a
replica with a tight connection budget runs): a pass must finish, not wait for a second
connection while it holds the only one (with its advisory lock) - which had left a
worker's referral consumers waiting for the pool for good in the cluster rehearsal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from services.intake.jobs import RetentionJob
from services.referral.jobs import OverdueJob
from shared.settings import Settings

PASS_SECONDS = 20.0


@pytest.fixture
async def pool_of_one(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(**settings.pg.asyncpg_kwargs(), min_size=0, max_size=1)
    yield pool
    await pool.close()


async def one_pass(run: Any) -> Any:
    """A pass (again while another pass of the service's own job holds the lock)."""
    for _ in range(50):
        done = await asyncio.wait_for(run(), PASS_SECONDS)
        if done is not None:
            return done
        await asyncio.sleep(0.1)
    raise AssertionError("the job's lock stayed taken")


async def test_referral_overdue_job_passes_on_a_pool_of_one(
    referral_app: Any, pool_of_one: asyncpg.Pool
) -> None:
    job = OverdueJob(
        referral_app.state.application,
        pool_of_one,
        interval_seconds=3600,
        working_days=5,
        holidays=[],
    )
    assert isinstance(await one_pass(job.run_once), list)


async def test_intake_retention_job_passes_on_a_pool_of_one(
    intake_app: Any, pool_of_one: asyncpg.Pool
) -> None:
    job = RetentionJob(intake_app.state.application, pool_of_one, years=7, interval_seconds=3600)
    report = await one_pass(lambda: job.run_once(apply=False))
    assert report.applied is False
