"""Periodic jobs (overdue check-ins and referrals, retention): one loop for all of them.

A job's pass takes its own PostgreSQL advisory lock, so with several replicas one runs
it and the others skip; a failed pass is logged and the next one comes on time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

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
