"""Helpers for command endpoints: `If-Match`/`ETag`, and running a use case off the loop."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

from eventsourcing.domain import Aggregate
from fastapi import Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from shared.errors import InvalidInput
from shared.eventstore import ServiceApplication
from shared.messaging.follower import LogFollower

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)
R = TypeVar("R")
# At most 18 digits: any version fits a bigint (4,300 digits took int() down with a 500).
_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')


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


async def own_projection(request: Request) -> LogFollower | None:
    """The service's own read-model follower (None before start-up)."""
    return getattr(request.app.state, "projection", None)


Projection = Annotated[LogFollower | None, Depends(own_projection)]


async def change(
    app: ServiceApplication,
    projection: LogFollower | None,
    load: Callable[[], A],
    if_match: str | None,
    response: Response,
    command: Callable[[A, datetime], R],
) -> tuple[R, A]:
    """One command from HTTP: `If-Match` checked, run off the loop, read-your-writes,
    the new version as `ETag`; the command's result and the aggregate."""
    expected = expected_version(if_match)
    result, aggregate = await run_command(
        app, projection, lambda: app.change(load, expected, command)
    )
    set_etag(response, aggregate.version)
    return result, aggregate
