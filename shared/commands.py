"""Helpers for command endpoints: `If-Match`/`ETag`, and running a use case off the loop."""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from eventsourcing.domain import Aggregate
from fastapi import Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from shared.auth import Principal
from shared.errors import InvalidInput
from shared.eventstore import ServiceApplication
from shared.messaging.follower import LogFollower
from shared.schemas import IfMatch

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


# -- one command dependency for every command route --------------------------------------------
def _application(request: Request) -> ServiceApplication:
    app: ServiceApplication = request.app.state.application
    return app


async def application_of(request: Request) -> ServiceApplication:
    """The service's application (set by its lifespan, `shared/service.py`). A coroutine:
    FastAPI runs a plain function dependency in the threadpool, a hop per request."""
    return _application(request)


@dataclass
class Command(Generic[A]):
    """Everything one command on one aggregate needs, gathered by FastAPI: the aggregate
    (loaded for the caller from the path), who calls, `If-Match`, the application and its
    read-model follower, and the response (for the new `ETag`)."""

    who: Principal
    app: Any
    load: Callable[[], A]
    projection: LogFollower | None
    response: Response
    if_match: str | None

    async def run(self, command: Callable[[A, datetime], object]) -> A:
        """Run `command(aggregate, at)`; the aggregate as it is now."""
        _, aggregate = await self.result_of(command)
        return aggregate

    async def result_of(self, command: Callable[[A, datetime], R]) -> tuple[R, A]:
        """Run `command(aggregate, at)`; what it returned, and the aggregate as it is now."""
        return await change(
            self.app, self.projection, self.load, self.if_match, self.response, command
        )


def command_on(role: Any, path: str, load: Callable[[Any, uuid.UUID, Principal], A]) -> Any:
    """The FastAPI dependency of a command on one aggregate: `role` lets the caller in
    (`Counsellor`, `PartnerUser`, …), `path` names the path parameter holding its id, and
    `load(application, id, who)` finds it for the caller (raising `NotFound` for what the
    caller may not see). Name it once, as the type of a route's parameter:

        CaseCommand = Annotated[Command[Case], command_on(Counsellor, "case_id", load_case)]

        @router.post("/cases/{case_id}/accept")
        async def accept(body: AcceptIn, cmd: CaseCommand) -> CaseOut:
            return case_out(await cmd.run(lambda case, at: case.accept(...)))
    """

    async def gather(**given: Any) -> Command[A]:
        app = _application(given["request"])
        who: Principal = given["who"]
        key = given[path]
        return Command(
            who=who,
            app=app,
            load=lambda: load(app, key, who),
            projection=getattr(given["request"].app.state, "projection", None),
            response=given["response"],
            if_match=given["if_match"],
        )

    keyword = inspect.Parameter.KEYWORD_ONLY
    gather.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(path, keyword, annotation=uuid.UUID),
            inspect.Parameter("who", keyword, annotation=role),
            inspect.Parameter("request", keyword, annotation=Request),
            inspect.Parameter("response", keyword, annotation=Response),
            inspect.Parameter("if_match", keyword, annotation=IfMatch, default=None),
        ]
    )
    return Depends(gather)
