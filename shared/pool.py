"""Pooled asyncpg connections that never go back to the pool dead."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg

from shared.errors import TRANSIENT


@contextlib.asynccontextmanager
async def pooled(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection of `pool`. Should a connection fault pass through (its backend was
    terminated while it sat in the pool, say: "another operation is in progress"), the
    connection is closed rather than handed to the next caller, so that a retry gets a
    new one."""
    async with pool.acquire() as conn:
        try:
            yield conn
        except TRANSIENT:
            conn.terminate()
            raise
