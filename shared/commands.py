"""Helpers for command endpoints: `If-Match`/`ETag`, and running a use case off the loop."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from fastapi import Response
from starlette.concurrency import run_in_threadpool

from shared.errors import InvalidInput
from shared.eventstore import ServiceApplication
from shared.messaging.follower import LogFollower

T = TypeVar("T")
_ETAG = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')


def expected_version(if_match: str | None) -> int | None:
    """The version an `If-Match` header asks for (`"3"`, `W/"3"` or `3`); None if absent."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match)
    if not match:
        raise InvalidInput(
            "If-Match must carry the ETag of the object (its version).",
            errors=[{"field": "If-Match", "message": "not a version ETag"}],
        )
    return int(match.group(1))


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


async def run_command(
    app: ServiceApplication, projection: LogFollower | None, fn: Callable[[], T]
) -> T:
    """Run a (synchronous) use case in the threadpool, then let the service's own read
    models catch up with it, so the caller reads its own writes in lists too."""

    def call() -> tuple[T, int]:
        result = fn()
        return result, app.last_position()

    result, position = await run_in_threadpool(call)
    if (
        app.settings.read_your_writes
        and projection is not None
        and projection.following.is_set()
        and position
    ):
        await projection.wait_until(position, timeout=2.0)
    return result
