"""Periodic jobs (overdue check-ins and referrals, retention): one loop for all of them.

A job's pass takes its own PostgreSQL advisory lock (`pass_lock`), so with several
replicas one runs it and the others skip; a failed pass is logged and the next one comes
on time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg

log = logging.getLogger(__name__)


async def every(
    stop: asyncio.Event,
    seconds: float,
    once: Callable[[], Awaitable[Any]],
    what: str,
    *,
    first_at_once: bool = True,
) -> None:
    """Run `once` every `seconds` until `stop` (the first pass at once, or after one
    interval when the job needs read models that are built at start)."""
    wait = not first_at_once
    while True:
        if wait:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)
        wait = True
        if stop.is_set():
            return
        try:
            await once()
        except Exception:
            log.exception("%s failed; next run in %s s", what, seconds)


@contextlib.asynccontextmanager
async def pass_lock(conn: asyncpg.Connection, key: int) -> AsyncIterator[bool]:
    """Whether this pass holds the job's lock (False: another replica's pass does).

    The lock is the session's, not a transaction's: a pass may take long (it loads every
    open follow-up or referral), and a transaction held that long would keep its locks on
    the read models it read, stalling the schema statements of a replica starting
    meanwhile (and so its readiness). Use the same connection for the pass's reads: a
    second one from the pool would wait for ever when the pool has one."""
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
        yield False
        return
    try:
        yield True
    finally:
        # A pooled connection must go back without a session lock (the pool's reset does
        # not release one): should the unlock fail or be cancelled, the connection is
        # ended, and its session's lock with it.
        try:
            await conn.execute("SELECT pg_advisory_unlock($1)", key)
        except BaseException:
            conn.terminate()
            raise
